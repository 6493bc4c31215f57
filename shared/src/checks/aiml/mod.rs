//! AI & ML: Azure Machine Learning workspaces (`Microsoft.MachineLearningServices/workspaces`
//! 2024-10-01) and Azure OpenAI / Azure AI services accounts (`Microsoft.CognitiveServices/
//! accounts` 2024-10-01, kinds `OpenAI` and `AIServices` only, by a `when` filter: the same
//! list holds every other Cognitive Services kind), with the diagnostic settings of those
//! accounts only.
//!
//! Absent properties: each check says what a missing property means, from
//! `machineLearningServices.json` / `cognitiveservices.json`.

mod settings;

use serde_json::Value;

use self::settings::*;
use super::{Check, Collection, ServiceDef};

pub const WORKSPACES: &str = "aiml.workspaces";
pub const ACCOUNTS: &str = "aiml.accounts";
pub const ACCOUNT_LOGS: &str = "aiml.account_diagnostics";

pub const SERVICE: ServiceDef = ServiceDef {
    id: "aiml",
    name: "AI & ML",
    collections: &[
        Collection::list(
            WORKSPACES,
            "Microsoft.MachineLearningServices/workspaces",
            "2024-10-01",
            "Microsoft.MachineLearningServices/workspaces/read",
        ),
        Collection::list(
            ACCOUNTS,
            "Microsoft.CognitiveServices/accounts",
            "2024-10-01",
            "Microsoft.CognitiveServices/accounts/read",
        ),
        Collection::diagnostic_settings(ACCOUNT_LOGS, ACCOUNTS).only_for(is_openai),
    ],
    checks: CHECKS,
    none_in_scope: "No Machine Learning workspaces or OpenAI accounts in the selected regions",
};

/// Whether a Cognitive Services account is in scope: kind `OpenAI` or `AIServices`.
fn is_openai(account: &Value) -> bool {
    super::props::prop(account, OPENAI.path).is_some_and(|kind| OPENAI.expect.matches(kind))
}

const CHECKS: &[Check] = &[
    ML_WORKSPACE_PUBLIC_ACCESS_DISABLED,
    ML_WORKSPACE_CMK,
    OPENAI_PUBLIC_ACCESS_DISABLED,
    OPENAI_LOCAL_AUTH_DISABLED,
    OPENAI_DIAGNOSTIC_LOGS,
];
