//! App Configuration: store settings from the subscription's configuration store list
//! (`Microsoft.AppConfiguration/configurationStores` 2024-05-01), all in the list response.
//!
//! The Free SKU has no purge protection, private endpoints or customer-managed keys; those
//! checks evaluate the other SKUs only. Absent properties: each check says what a missing
//! property means, from `appconfiguration.json`.

mod settings;

use self::settings::*;
use super::{Check, Collection, ServiceDef};

pub const STORES: &str = "appconfig.stores";

pub const SERVICE: ServiceDef = ServiceDef {
    id: "appconfig",
    name: "App Configuration",
    collections: &[Collection::list(
        STORES,
        "Microsoft.AppConfiguration/configurationStores",
        "2024-05-01",
        "Microsoft.AppConfiguration/configurationStores/read",
    )],
    checks: CHECKS,
    none_in_scope: "No App Configuration stores in the selected regions",
};

const CHECKS: &[Check] = &[
    PUBLIC_ACCESS_DISABLED,
    LOCAL_AUTH_DISABLED,
    PURGE_PROTECTION,
    PRIVATE_ENDPOINT,
    CMK,
];
