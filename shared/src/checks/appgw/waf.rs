//! `appgw.waf_enabled`: a join of each gateway to the WAF policy its `firewallPolicy.id` names
//! (ARM ids compare case-insensitively), so it is a custom evaluator.

use serde_json::Value;

use super::{GATEWAYS, WAF_POLICIES};
use crate::checks::{Check, CheckMeta, EvalContext, Expect, Severity, props};
use crate::messages::Finding;

const TIER: &str = "properties.sku.tier";
const POLICY_ID: &str = "properties.firewallPolicy.id";
const LEGACY_WAF: &str = "properties.webApplicationFirewallConfiguration.enabled";
const POLICY_STATE: &str = "properties.policySettings.state";
const WAF_TIERS: Expect = Expect::OneOf(&["WAF", "WAF_v2"]);

/// Passes when `properties.sku.tier` is `WAF` or `WAF_v2` and a WAF is attached: either
/// `properties.firewallPolicy.id` names a policy (which, when it is in the selected regions,
/// must have `policySettings.state` `Enabled`; a policy in another region is not read and the
/// attachment counts), or the legacy in-gateway `webApplicationFirewallConfiguration.enabled` is
/// `true`. An absent tier or attachment fails: a Standard gateway cannot run a WAF.
pub const WAF_ENABLED: Check = Check::custom(
    CheckMeta {
        id: "appgw.waf_enabled",
        title: "Gateway runs a WAF SKU with WAF attached",
        severity: Severity::High,
        description: "Without a Web Application Firewall, the gateway forwards SQL injection, \
            cross-site scripting and other OWASP attacks to the applications behind it. The WAF \
            tier with an enabled WAF policy inspects and blocks them at the edge.",
        remediation: "Portal: Application gateway > Settings > Configuration > Tier = WAF V2, \
            then Web application firewall > associate a WAF policy (enabled). CLI: `az network \
            application-gateway update --name <gw> --resource-group <rg> --sku WAF_v2 --set \
            firewallPolicy.id=<policy-id>` (create the policy with `az network \
            application-gateway waf-policy create`).",
    },
    &[GATEWAYS, WAF_POLICIES],
    waf_enabled,
);

fn waf_enabled(ctx: &EvalContext<'_>) -> Vec<Finding> {
    let policies = ctx.index_by_id(WAF_POLICIES);
    ctx.items(GATEWAYS)
        .iter()
        .map(|gateway| {
            let tier_ok = props::prop(gateway, TIER).is_some_and(|t| WAF_TIERS.matches(t));
            let policy_id = props::prop_str(gateway, POLICY_ID).filter(|id| !id.trim().is_empty());
            let policy = policy_id.and_then(|id| policies.get(&props::normalize_id(id)).copied());
            let policy_state = policy.map(|p| props::prop(p, POLICY_STATE).cloned());
            let policy_ok = match (policy_id, &policy_state) {
                (None, _) => false,
                (Some(_), None) => true,
                (Some(_), Some(state)) => state
                    .as_ref()
                    .is_some_and(|s| Expect::Equals("Enabled").matches(s)),
            };
            let legacy_ok = props::prop_bool(gateway, LEGACY_WAF) == Some(true);
            let mut evidence = vec![
                props::evidence(gateway, TIER, "WAF or WAF_v2"),
                props::evidence(gateway, POLICY_ID, "a WAF policy id"),
                props::evidence(gateway, LEGACY_WAF, "true (when no policy is attached)"),
            ];
            if let Some(state) = policy_state {
                evidence.push(props::evidence_value(
                    format!("{} (linked policy)", POLICY_STATE),
                    state.unwrap_or(Value::Null),
                    "Enabled",
                ));
            }
            let problem = if !tier_ok {
                "the gateway does not run the WAF tier"
            } else if policy_id.is_some() && !policy_ok {
                "the linked WAF policy is not enabled"
            } else if !policy_ok && !legacy_ok {
                "no WAF policy is attached and the built-in WAF is off"
            } else {
                ""
            };
            props::verdict(
                gateway,
                problem.is_empty(),
                evidence,
                "The gateway runs the WAF tier with a WAF attached",
                format!("No active Web Application Firewall: {problem}"),
            )
        })
        .collect()
}
