//! Front Door (Standard and Premium): profiles (`Microsoft.Cdn/profiles` 2024-09-01, global),
//! their endpoints, custom domains and security policies (child lists, read only for Front Door
//! profiles: the same list holds classic CDN profiles), their diagnostic settings, and the
//! Front Door WAF policies (`Microsoft.Network/FrontDoorWebApplicationFirewallPolicies`
//! 2024-02-01, global).
//!
//! A domain is protected when a security policy of type `WebApplicationFirewall` associates it
//! (`parameters.associations[].domains[].id`, ids compared case-insensitively). Classic Front
//! Door (`Microsoft.Network/frontDoors`) is not read. Absent properties: each check says what a
//! missing property means, from `cdn.json` / `afdx.json` and `webapplicationfirewall.json`.

mod settings;
#[cfg(test)]
mod tests;
mod waf_attached;

use serde_json::Value;

use self::settings::*;
use self::waf_attached::WAF_ATTACHED;
use super::{Check, Collection, ServiceDef};

pub const PROFILES: &str = "frontdoor.profiles";
pub const ENDPOINTS: &str = "frontdoor.endpoints";
pub const CUSTOM_DOMAINS: &str = "frontdoor.custom_domains";
pub const SECURITY_POLICIES: &str = "frontdoor.security_policies";
pub const WAF_POLICIES: &str = "frontdoor.waf_policies";
pub const PROFILE_LOGS: &str = "frontdoor.diagnostics";

const CDN_API_VERSION: &str = "2024-09-01";

pub const SERVICE: ServiceDef = ServiceDef {
    id: "frontdoor",
    name: "Front Door",
    collections: &[
        Collection::list(
            PROFILES,
            "Microsoft.Cdn/profiles",
            CDN_API_VERSION,
            "Microsoft.Cdn/profiles/read",
        )
        .global(),
        Collection::child_list(
            ENDPOINTS,
            PROFILES,
            "/afdEndpoints",
            CDN_API_VERSION,
            "Microsoft.Cdn/profiles/afdEndpoints/read",
        )
        .only_for(is_front_door),
        Collection::child_list(
            CUSTOM_DOMAINS,
            PROFILES,
            "/customDomains",
            CDN_API_VERSION,
            "Microsoft.Cdn/profiles/customDomains/read",
        )
        .only_for(is_front_door),
        Collection::child_list(
            SECURITY_POLICIES,
            PROFILES,
            "/securityPolicies",
            CDN_API_VERSION,
            "Microsoft.Cdn/profiles/securityPolicies/read",
        )
        .only_for(is_front_door),
        Collection::list(
            WAF_POLICIES,
            "Microsoft.Network/FrontDoorWebApplicationFirewallPolicies",
            "2024-02-01",
            "Microsoft.Network/frontDoorWebApplicationFirewallPolicies/read",
        )
        .global(),
        Collection::diagnostic_settings(PROFILE_LOGS, PROFILES).only_for(is_front_door),
    ],
    checks: CHECKS,
    none_in_scope: "No Front Door Standard or Premium profiles",
};

/// Whether a `Microsoft.Cdn/profiles` item is a Front Door Standard or Premium profile.
fn is_front_door(profile: &Value) -> bool {
    super::props::prop(profile, FRONT_DOOR.path).is_some_and(|sku| FRONT_DOOR.expect.matches(sku))
}

const CHECKS: &[Check] = &[
    WAF_ATTACHED,
    WAF_PREVENTION_MODE,
    WAF_MANAGED_RULES,
    CUSTOM_DOMAIN_TLS12,
    ACCESS_LOGS,
];
