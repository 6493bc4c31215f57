//! Service Bus: namespace settings from the subscription's namespace list
//! (`Microsoft.ServiceBus/namespaces` 2024-01-01), plus each namespace's network rule set
//! (`{namespace}/networkRuleSets/default`), which the list does not include.
//!
//! Absent properties: each check says what a missing property means, from `namespaces.json` and
//! `networkrulesets.json` of the 2024-01-01 spec.

mod settings;

use self::settings::*;
use super::{Check, Collection, ServiceDef};

pub const NAMESPACES: &str = "servicebus.namespaces";
pub const RULE_SETS: &str = "servicebus.network_rule_sets";

const API_VERSION: &str = "2024-01-01";

pub const SERVICE: ServiceDef = ServiceDef {
    id: "servicebus",
    name: "Service Bus",
    collections: &[
        Collection::list(
            NAMESPACES,
            "Microsoft.ServiceBus/namespaces",
            API_VERSION,
            "Microsoft.ServiceBus/namespaces/read",
        ),
        Collection::child(
            RULE_SETS,
            NAMESPACES,
            "/networkRuleSets/default",
            API_VERSION,
            "Microsoft.ServiceBus/namespaces/networkRuleSets/read",
        )
        .only_for(is_premium),
    ],
    checks: CHECKS,
    none_in_scope: "No Service Bus namespaces in the selected regions",
};

/// Only Premium namespaces have network rules worth reading.
fn is_premium(namespace: &serde_json::Value) -> bool {
    settings::PREMIUM.expect.matches(
        super::props::prop(namespace, settings::PREMIUM.path).unwrap_or(&serde_json::Value::Null),
    )
}

const CHECKS: &[Check] = &[
    NETWORK_RESTRICTED,
    LOCAL_AUTH_DISABLED,
    MIN_TLS_12,
    PRIVATE_ENDPOINT,
];
