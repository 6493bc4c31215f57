//! Event Hubs: namespace settings from the subscription's namespace list
//! (`Microsoft.EventHub/namespaces` 2024-01-01), plus each namespace's network rule set
//! (`{namespace}/networkRuleSets/default`), which the list does not include.
//!
//! Absent properties: each check says what a missing property means, from `namespaces.json` and
//! `networkrulesets.json` of the 2024-01-01 spec.

mod settings;

use self::settings::*;
use super::{Check, Collection, ServiceDef};

pub const NAMESPACES: &str = "eventhub.namespaces";
pub const RULE_SETS: &str = "eventhub.network_rule_sets";

const API_VERSION: &str = "2024-01-01";

pub const SERVICE: ServiceDef = ServiceDef {
    id: "eventhub",
    name: "Event Hubs",
    collections: &[
        Collection::list(
            NAMESPACES,
            "Microsoft.EventHub/namespaces",
            API_VERSION,
            "Microsoft.EventHub/namespaces/read",
        ),
        Collection::child(
            RULE_SETS,
            NAMESPACES,
            "/networkRuleSets/default",
            API_VERSION,
            "Microsoft.EventHub/namespaces/networkRuleSets/read",
        ),
    ],
    checks: CHECKS,
    none_in_scope: "No Event Hubs namespaces in the selected regions",
};

const CHECKS: &[Check] = &[
    NETWORK_RESTRICTED,
    LOCAL_AUTH_DISABLED,
    MIN_TLS_12,
    PRIVATE_ENDPOINT,
];
