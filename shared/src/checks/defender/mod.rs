//! Defender for Cloud: the subscription's Defender plans (pricings) and the Defender for
//! Endpoint integration setting.
//!
//! One call returns every plan: `GET /subscriptions/{s}/providers/Microsoft.Security/pricings`
//! at 2024-01-01 (the first GA version with `extensions`, `deprecated` and `replacedBy`), so
//! the six plan checks are one evaluator ([`plans`]) over a table of plan names. Pricings and
//! settings are subscription-wide objects: never region-filtered, and each finding is about the
//! pricing (or setting) object itself. A plan Azure does not list fails (it is not on), and a
//! retired plan still on surfaces as a failure naming its replacement.

mod plans;
#[cfg(test)]
mod tests;

use self::plans::*;
use super::{Collection, ServiceDef};

pub const PRICINGS: &str = "defender.pricings";
pub const SETTINGS: &str = "defender.settings";

pub const SERVICE: ServiceDef = ServiceDef {
    id: "defender",
    name: "Defender",
    collections: &[
        Collection::list(
            PRICINGS,
            "Microsoft.Security/pricings",
            "2024-01-01",
            "Microsoft.Security/pricings/read",
        )
        .global(),
        Collection::list(
            SETTINGS,
            "Microsoft.Security/settings",
            "2022-05-01",
            "Microsoft.Security/settings/read",
        )
        .global(),
    ],
    checks: &[
        PLAN_SERVERS,
        PLAN_STORAGE,
        PLAN_SQL,
        PLAN_OSS_DB_COSMOS,
        PLAN_CONTAINERS,
        PLAN_OTHER,
        SERVERS_COMPONENTS,
    ],
    none_in_scope: "Defender for Cloud returned no plans for the subscription",
};
