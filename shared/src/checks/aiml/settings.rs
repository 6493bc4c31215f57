//! The Machine Learning workspace and OpenAI account checks: declarative checks (see
//! `checks::rule`, `checks::diagnostics`), the account ones limited to kinds OpenAI and
//! AIServices.

use super::{ACCOUNT_LOGS, ACCOUNTS, WORKSPACES};
use crate::checks::{
    Check, CheckMeta, Example, Expect, LogRule, Missing, Rule, Severity, Target, When,
};

/// Cognitive Services accounts in scope: Azure OpenAI and Azure AI services (which include
/// OpenAI models).
pub(super) const OPENAI: When = When {
    path: "kind",
    expect: Expect::OneOf(&["OpenAI", "AIServices"]),
};

const NO_OPENAI: &str = "No Azure OpenAI or AI services accounts in the selected regions";
const NO_WORKSPACES: &str = "No Machine Learning workspaces in the selected regions";

/// Passes when `properties.publicNetworkAccess` is `Disabled`.
///
/// Absent fails. Spec: "Whether requests from Public Network are allowed.", no default
/// documented; a workspace created without it is reachable publicly.
pub const ML_WORKSPACE_PUBLIC_ACCESS_DISABLED: Check = Check::rule(
    CheckMeta {
        id: "aiml.ml_workspace_public_access_disabled",
        title: "ML workspace is not reachable from the internet",
        severity: Severity::High,
        description: "A workspace with public network access exposes its APIs, studio, \
            datastores' credentials and models to any network. Disabling public access limits \
            it to private endpoints in your virtual networks.",
        remediation: "Portal: Machine Learning workspace > Settings > Networking > Public \
            access > Public network access = Disabled. CLI: `az ml workspace update --name \
            <ws> --resource-group <rg> --public-network-access Disabled`.",
    },
    Rule {
        target: Target::Items(WORKSPACES),
        path: "properties.publicNetworkAccess",
        expect: Expect::Equals("Disabled"),
        missing: Missing::Fails,
        when: None,
        pass: "Public network access is disabled",
        fail: "Public network access is not disabled",
        pass_examples: &[Example::Str("Disabled")],
        fail_examples: &[Example::Str("Enabled"), Example::Absent],
    },
)
.none_in_scope(NO_WORKSPACES);

/// Passes when `properties.encryption.status` is `Enabled`.
///
/// Absent fails: without an `encryption` block ("The encryption settings of Azure ML
/// workspace.") the workspace uses Microsoft-managed keys.
pub const ML_WORKSPACE_CMK: Check = Check::rule(
    CheckMeta {
        id: "aiml.ml_workspace_cmk",
        title: "ML workspace encrypted with a customer-managed key",
        severity: Severity::Medium,
        description: "By default workspace metadata and data are encrypted with keys Microsoft \
            manages. A customer-managed key lets you control, rotate and revoke it; it can only \
            be set when the workspace is created.",
        remediation: "Portal: Create a Machine Learning workspace > Encryption > Encryption type \
            = Customer-managed keys > select the key vault and key (existing workspaces must be \
            recreated). CLI: `az ml workspace create --name <ws> --resource-group <rg> \
            --customer-managed-key <key-uri>`.",
    },
    Rule {
        target: Target::Items(WORKSPACES),
        path: "properties.encryption.status",
        expect: Expect::Equals("Enabled"),
        missing: Missing::Fails,
        when: None,
        pass: "The workspace is encrypted with a customer-managed key",
        fail: "The workspace is encrypted with Microsoft-managed keys only",
        pass_examples: &[Example::Str("Enabled")],
        fail_examples: &[Example::Str("Disabled"), Example::Absent],
    },
)
.none_in_scope(NO_WORKSPACES);

/// Passes when `properties.publicNetworkAccess` is `Disabled` or
/// `properties.networkAcls.defaultAction` is `Deny`.
///
/// Absent fails. Spec: publicNetworkAccess "Whether or not public endpoint access is allowed
/// for this account." and networkAcls "A collection of rules governing the accessibility from
/// specific network locations."; an account with neither accepts every network.
pub const OPENAI_PUBLIC_ACCESS_DISABLED: Check = Check::rule(
    CheckMeta {
        id: "aiml.openai_public_access_disabled",
        title: "OpenAI account not publicly reachable",
        severity: Severity::High,
        description: "An OpenAI account reachable from every network lets anyone holding a key \
            or token call its models and read its fine-tuning data and stored completions. \
            Disabling public access, or denying by default with listed networks, limits who \
            can reach it.",
        remediation: "Portal: Azure OpenAI (or AI services) resource > Resource Management > \
            Networking > Firewalls and virtual networks > Selected networks and private \
            endpoints (or Disabled). CLI: `az cognitiveservices account update --name \
            <account> --resource-group <rg> --custom-domain <name> --api-properties {} \
            --public-network-access Disabled` or `az cognitiveservices account network-rule \
            add ...` then `--default-action Deny`.",
    },
    Rule {
        target: Target::Items(ACCOUNTS),
        path: "properties",
        expect: Expect::AnyOf(&[
            ("publicNetworkAccess", Expect::Equals("Disabled")),
            ("networkAcls.defaultAction", Expect::Equals("Deny")),
        ]),
        missing: Missing::Fails,
        when: Some(OPENAI),
        pass: "The account is not reachable from every network",
        fail: "The account is reachable from every network",
        pass_examples: &[
            Example::Json(r#"{"publicNetworkAccess": "Disabled"}"#),
            Example::Json(
                r#"{"publicNetworkAccess": "Enabled", "networkAcls": {"defaultAction": "Deny", "ipRules": []}}"#,
            ),
        ],
        fail_examples: &[
            Example::Json(
                r#"{"publicNetworkAccess": "Enabled", "networkAcls": {"defaultAction": "Allow"}}"#,
            ),
            Example::Json(r#"{"publicNetworkAccess": "Enabled"}"#),
        ],
    },
)
.none_in_scope(NO_OPENAI);

/// Passes when `properties.disableLocalAuth` is `true`.
///
/// Absent fails: the spec documents no default ("disableLocalAuth"), and accounts accept API
/// keys unless it is set.
pub const OPENAI_LOCAL_AUTH_DISABLED: Check = Check::rule(
    CheckMeta {
        id: "aiml.openai_local_auth_disabled",
        title: "OpenAI API keys disabled (Entra ID only)",
        severity: Severity::High,
        description: "API keys are shared secrets that grant full use of every deployment \
            without identifying the caller, and are easily leaked in code. Disabling local \
            authentication makes every client use a Microsoft Entra ID identity.",
        remediation: "Portal: not exposed; use the CLI or a template. CLI: `az resource update \
            --ids <account-id> --set properties.disableLocalAuth=true` (Bicep/ARM: \
            `disableLocalAuth: true`).",
    },
    Rule {
        target: Target::Items(ACCOUNTS),
        path: "properties.disableLocalAuth",
        expect: Expect::True,
        missing: Missing::Fails,
        when: Some(OPENAI),
        pass: "Only Microsoft Entra ID authentication is accepted",
        fail: "API-key authentication is accepted",
        pass_examples: &[Example::Bool(true)],
        fail_examples: &[Example::Bool(false), Example::Absent],
    },
)
.none_in_scope(NO_OPENAI);

/// Passes when a diagnostic setting with a destination enables `Audit` (or the category group
/// `audit` or `allLogs`). No diagnostic setting fails.
pub const OPENAI_DIAGNOSTIC_LOGS: Check = Check::logs(
    CheckMeta {
        id: "aiml.openai_diagnostic_logs",
        title: "OpenAI audit/request logs exported",
        severity: Severity::Medium,
        description: "Audit logs record key listing, key regeneration and other management of \
            the account's credentials. Without a diagnostic setting exporting them, misuse of \
            the account cannot be investigated.",
        remediation: "Portal: Azure OpenAI resource > Monitoring > Diagnostic settings > Add \
            diagnostic setting > tick Audit Logs (or category group audit) and Request and \
            Response Logs > send to a Log Analytics workspace. CLI: `az monitor \
            diagnostic-settings create --name openai-audit --resource <account-id> --workspace \
            <workspace-id> --logs '[{\"categoryGroup\":\"audit\",\"enabled\":true}]'`.",
    },
    LogRule {
        parent: ACCOUNTS,
        settings: ACCOUNT_LOGS,
        categories: &["Audit"],
        groups: &["audit", "allLogs"],
        when: Some(OPENAI),
    },
)
.none_in_scope(NO_OPENAI);
