//! Container Apps: ingress and secret settings from the subscription's container-app list,
//! built-in authentication from each app's `authConfigs` child list, and the managed
//! environments' network mode from the environment list (`Microsoft.App`, 2025-01-01).
//!
//! The app list carries `configuration.ingress` and the secret references (names, Key Vault
//! URLs; never values), so only authentication needs a per-app call, and only for apps with
//! ingress: an app without HTTP ingress cannot use built-in authentication, so it is neither
//! fetched nor evaluated.
//!
//! Absent properties: each check states what a missing property means, quoting the App spec.

mod settings;
#[cfg(test)]
mod tests;

use serde_json::Value;

use self::settings::*;
use super::{Check, Collection, Expect, ServiceDef, When};

pub const APPS: &str = "containerapps.apps";
pub const AUTH_CONFIGS: &str = "containerapps.auth_configs";
pub const ENVIRONMENTS: &str = "containerapps.environments";

const API_VERSION: &str = "2025-01-01";

pub const SERVICE: ServiceDef = ServiceDef {
    id: "containerapps",
    name: "Container Apps",
    collections: &[
        Collection::list(
            APPS,
            "Microsoft.App/containerApps",
            API_VERSION,
            "Microsoft.App/containerApps/read",
        ),
        Collection::child_list(
            AUTH_CONFIGS,
            APPS,
            "/authConfigs",
            API_VERSION,
            "Microsoft.App/containerApps/authConfigs/read",
        )
        .only_for(has_ingress),
        Collection::list(
            ENVIRONMENTS,
            "Microsoft.App/managedEnvironments",
            API_VERSION,
            "Microsoft.App/managedEnvironments/read",
        ),
    ],
    checks: CHECKS,
    none_in_scope: "No container apps in the selected regions",
};

const CHECKS: &[Check] = &[
    HTTPS_ONLY,
    EXTERNAL_INGRESS_RESTRICTED,
    SECRETS_IN_KEYVAULT,
    AUTH_ENABLED,
    ENV_INTERNAL,
];

const INGRESS: &str = "properties.configuration.ingress";

/// Apps with HTTP ingress: the only ones with an endpoint to protect.
const WITH_INGRESS: Option<When> = Some(When {
    path: INGRESS,
    expect: Expect::NonEmpty,
});

/// Only apps with ingress can have built-in authentication; others are not asked (saves a call
/// per background app).
fn has_ingress(app: &Value) -> bool {
    super::props::prop(app, INGRESS).is_some_and(|i| Expect::NonEmpty.matches(i))
}
