//! Application Gateway: the subscription's gateways and their Web Application Firewall policies
//! (`Microsoft.Network/applicationGateways` and `ApplicationGatewayWebApplicationFirewallPolicies`,
//! 2024-05-01), two lists joined on the gateway's `properties.firewallPolicy.id`.
//!
//! The WAF policy checks evaluate every policy in scope (a policy is what carries mode, body
//! inspection and rule sets, and may serve several gateways or listeners). Absent properties:
//! each check says what a missing property means, from `applicationGateway.json` and
//! `webapplicationfirewall.json`.

mod settings;
#[cfg(test)]
mod tests;
mod waf;

use self::settings::*;
use self::waf::WAF_ENABLED;
use super::{Check, Collection, ServiceDef};

pub const GATEWAYS: &str = "appgw.gateways";
pub const WAF_POLICIES: &str = "appgw.waf_policies";

const API_VERSION: &str = "2024-05-01";

pub const SERVICE: ServiceDef = ServiceDef {
    id: "appgw",
    name: "Application Gateway",
    collections: &[
        Collection::list(
            GATEWAYS,
            "Microsoft.Network/applicationGateways",
            API_VERSION,
            "Microsoft.Network/applicationGateways/read",
        ),
        Collection::list(
            WAF_POLICIES,
            "Microsoft.Network/ApplicationGatewayWebApplicationFirewallPolicies",
            API_VERSION,
            "Microsoft.Network/ApplicationGatewayWebApplicationFirewallPolicies/read",
        ),
    ],
    checks: CHECKS,
    none_in_scope: "No application gateways in the selected regions",
};

const CHECKS: &[Check] = &[
    WAF_ENABLED,
    MIN_TLS_12,
    WAF_PREVENTION_MODE,
    WAF_REQUEST_BODY_CHECK,
    WAF_BOT_PROTECTION,
];
