//! App Service: web and function apps (`Microsoft.Web/sites`, 2024-04-01; `kind` tells them
//! apart, and every check applies to both).
//!
//! Why it is read this way: the site list's `siteConfig` is not usable (its TLS, FTP and
//! debugging fields come back empty or default), so each app's configuration is read from
//! `GET {site}/config/web`; authentication from `GET {site}/config/authsettingsV2`; both
//! basic-auth publishing policies (FTP and SCM) from one `GET
//! {site}/basicPublishingCredentialsPolicies` list. These are GET forms a Reader may call; the
//! POST `config/*/list` actions are never used. Each child is fetched once per in-scope app.
//!
//! Absent properties: each check states what a missing property means, quoting the Web spec.

mod basic_auth;
mod settings;
#[cfg(test)]
mod tests;

use self::basic_auth::BASIC_AUTH_DISABLED;
use self::settings::*;
use super::{Check, Collection, ServiceDef};

pub const SITES: &str = "appservice.sites";
pub const SITE_CONFIGS: &str = "appservice.site_configs";
pub const AUTH_SETTINGS: &str = "appservice.auth_settings";
pub const PUBLISHING_POLICIES: &str = "appservice.publishing_policies";

const API_VERSION: &str = "2024-04-01";
const CONFIG_READ: &str = "Microsoft.Web/sites/config/read";
const POLICY_READ: &str = "Microsoft.Web/sites/basicPublishingCredentialsPolicies/read";

pub const SERVICE: ServiceDef = ServiceDef {
    id: "appservice",
    name: "App Service",
    collections: &[
        Collection::list(
            SITES,
            "Microsoft.Web/sites",
            API_VERSION,
            "Microsoft.Web/sites/read",
        ),
        Collection::child(SITE_CONFIGS, SITES, "/config/web", API_VERSION, CONFIG_READ),
        Collection::child(
            AUTH_SETTINGS,
            SITES,
            "/config/authsettingsV2",
            API_VERSION,
            CONFIG_READ,
        ),
        Collection::child_list(
            PUBLISHING_POLICIES,
            SITES,
            "/basicPublishingCredentialsPolicies",
            API_VERSION,
            POLICY_READ,
        ),
    ],
    checks: CHECKS,
    none_in_scope: "No web or function apps in the selected regions",
};

const CHECKS: &[Check] = &[
    HTTPS_ONLY,
    MIN_TLS_12,
    FTP_DISABLED,
    BASIC_AUTH_DISABLED,
    REMOTE_DEBUGGING_OFF,
    AUTH_ENABLED,
    PUBLIC_ACCESS_DISABLED,
];
