//! Event Grid: the settings of custom topics and domains, from two subscription lists
//! (`Microsoft.EventGrid` 2025-02-15; both resource types carry the same properties).
//!
//! Every check reads the same property of topics and of domains, so each is one declarative
//! [`Rule`] applied to both lists by [`both`]; the rules' examples are tested in `tests.rs`.
//! Event Grid namespaces (MQTT and pull delivery) are not read: they have no `disableLocalAuth`
//! and the catalogue's checks are stated for topics and domains. System topics have no public
//! endpoint of their own. Absent properties: each rule says what a missing property means, from
//! `EventGrid.json`.

mod settings;
#[cfg(test)]
mod tests;

use self::settings::*;
use super::{Check, Collection, EvalContext, Rule, ServiceDef, Target};
use crate::messages::Finding;

pub const TOPICS: &str = "eventgrid.topics";
pub const DOMAINS: &str = "eventgrid.domains";

const API_VERSION: &str = "2025-02-15";

pub const SERVICE: ServiceDef = ServiceDef {
    id: "eventgrid",
    name: "Event Grid",
    collections: &[
        Collection::list(
            TOPICS,
            "Microsoft.EventGrid/topics",
            API_VERSION,
            "Microsoft.EventGrid/topics/read",
        ),
        Collection::list(
            DOMAINS,
            "Microsoft.EventGrid/domains",
            API_VERSION,
            "Microsoft.EventGrid/domains/read",
        ),
    ],
    checks: CHECKS,
    none_in_scope: "No Event Grid topics or domains in the selected regions",
};

const CHECKS: &[Check] = &[
    PUBLIC_ACCESS_DISABLED,
    LOCAL_AUTH_DISABLED,
    MIN_TLS_12,
    PRIVATE_ENDPOINT,
];

/// What every Event Grid check reads.
const READS: &[&str] = &[TOPICS, DOMAINS];

/// The findings of `rule` (whatever its target) over every topic, then every domain.
fn both(rule: &Rule, ctx: &EvalContext<'_>) -> Vec<Finding> {
    READS
        .iter()
        .flat_map(|key| {
            Rule {
                target: Target::Items(key),
                ..*rule
            }
            .evaluate(ctx)
        })
        .collect()
}
