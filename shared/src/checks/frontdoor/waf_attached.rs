//! `frontdoor.waf_attached`: a join of each profile's domains (endpoints and custom domains) to
//! the domains its WAF security policies associate, so it is a custom evaluator.

use std::collections::HashSet;

use serde_json::Value;

use super::settings::FRONT_DOOR;
use super::{CUSTOM_DOMAINS, ENDPOINTS, PROFILES, SECURITY_POLICIES};
use crate::checks::{Check, CheckMeta, ChildOutcome, EvalContext, Expect, Severity, props};
use crate::messages::Finding;

const POLICY_TYPE: &str = "properties.parameters.type";
const ASSOCIATIONS: &str = "properties.parameters.associations";

/// One finding per domain of each Front Door profile: every `afdEndpoints` item (its
/// `*.azurefd.net` host) and every custom domain. A domain passes when a security policy of
/// the profile with `parameters.type` `WebApplicationFirewall` lists its id in
/// `parameters.associations[].domains[].id`; otherwise it fails, quoting the WAF security
/// policies that exist. A profile whose children could not be read gives unreadable findings.
pub const WAF_ATTACHED: Check = Check::custom(
    CheckMeta {
        id: "frontdoor.waf_attached",
        title: "Every domain is covered by a WAF security policy",
        severity: Severity::High,
        description: "Front Door applies a WAF policy only to the domains a security policy \
            associates with it. A domain left out, often one added after the policy, serves \
            traffic to the origin with no WAF inspection at all.",
        remediation: "Portal: Front Door profile > Settings > Security policies > <policy> > \
            Edit > add the domain (or + Add a security policy for it). CLI: `az afd \
            security-policy update --security-policy-name <policy> --profile-name <profile> \
            --resource-group <rg> --domains <domain-id> <other-domain-ids> --waf-policy \
            <waf-policy-id>`.",
    },
    &[PROFILES, ENDPOINTS, CUSTOM_DOMAINS, SECURITY_POLICIES],
    waf_attached,
)
.none_in_scope("No domains on Front Door Standard or Premium profiles");

fn waf_attached(ctx: &EvalContext<'_>) -> Vec<Finding> {
    ctx.items(PROFILES)
        .iter()
        .filter(|p| props::prop(p, FRONT_DOOR.path).is_some_and(|s| FRONT_DOOR.expect.matches(s)))
        .flat_map(|profile| profile_findings(ctx, profile))
        .collect()
}

fn children<'a>(
    ctx: &EvalContext<'a>,
    key: &str,
    profile: &Value,
) -> Result<&'a [Value], &'a crate::checks::FetchError> {
    match ctx.child(key, props::resource_id(profile)) {
        Some(ChildOutcome::Items(items)) => Ok(items),
        Some(ChildOutcome::Failed(err)) => Err(err),
        _ => Ok(&[]),
    }
}

fn profile_findings(ctx: &EvalContext<'_>, profile: &Value) -> Vec<Finding> {
    let domains: Vec<&Value> = match (
        children(ctx, ENDPOINTS, profile),
        children(ctx, CUSTOM_DOMAINS, profile),
    ) {
        (Ok(endpoints), Ok(custom)) => endpoints.iter().chain(custom).collect(),
        (Err(err), _) | (_, Err(err)) => {
            return vec![props::unreadable(profile, "its domains", err)];
        }
    };
    let policies = match children(ctx, SECURITY_POLICIES, profile) {
        Ok(policies) => policies,
        Err(err) => {
            return domains
                .iter()
                .map(|d| props::unreadable(d, "the profile's security policies", err))
                .collect();
        }
    };
    let waf_policies: Vec<&Value> = policies
        .iter()
        .filter(|p| {
            props::prop(p, POLICY_TYPE)
                .is_some_and(|t| Expect::Equals("WebApplicationFirewall").matches(t))
        })
        .collect();
    let covered: HashSet<String> = waf_policies
        .iter()
        .filter_map(|p| props::prop(p, ASSOCIATIONS).and_then(Value::as_array))
        .flatten()
        .filter_map(|a| props::prop(a, "domains").and_then(Value::as_array))
        .flatten()
        .map(|d| props::normalize_id(props::resource_id(d)))
        .collect();
    let names: Vec<Value> = waf_policies
        .iter()
        .map(|p| Value::String(props::resource_name(p).to_string()))
        .collect();
    domains
        .into_iter()
        .map(|domain| {
            let id = props::normalize_id(props::resource_id(domain));
            let evidence = vec![props::evidence_value(
                "securityPolicies (WebApplicationFirewall)",
                Value::Array(names.clone()),
                "a WAF security policy associating this domain",
            )];
            props::verdict(
                domain,
                covered.contains(&id),
                evidence,
                "A WAF security policy covers the domain",
                "No WAF security policy covers the domain: its traffic is not inspected",
            )
        })
        .collect()
}
