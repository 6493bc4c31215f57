//! Tests of `frontdoor.waf_attached`: profile domains joined to WAF security policies.

use chrono::Utc;
use serde_json::{Value, json};

use super::{CUSTOM_DOMAINS, ENDPOINTS, PROFILES, SECURITY_POLICIES, SERVICE};
use crate::checks::rule_examples::fixture;
use crate::checks::{ChildOutcome, Dataset, EvalContext, FetchError, ListOutcome};
use crate::messages::FindingStatus;

const PROFILE: &str =
    "/subscriptions/subid/resourceGroups/rg1/providers/Microsoft.Cdn/profiles/afd-contoso";

fn dataset(policies: ChildOutcome) -> Dataset {
    let mut ds = Dataset::default();
    ds.insert_list(PROFILES, ListOutcome::Items(fixture(&SERVICE, PROFILES)));
    ds.insert_child(
        ENDPOINTS,
        PROFILE,
        ChildOutcome::Items(fixture(&SERVICE, ENDPOINTS)),
    );
    ds.insert_child(
        CUSTOM_DOMAINS,
        PROFILE,
        ChildOutcome::Items(fixture(&SERVICE, CUSTOM_DOMAINS)),
    );
    ds.insert_child(SECURITY_POLICIES, PROFILE, policies);
    ds
}

fn verdicts(ds: &Dataset) -> Vec<(String, FindingStatus)> {
    let ctx = EvalContext::new(ds, Utc::now(), "subid");
    let check = SERVICE.check("frontdoor.waf_attached").expect("check");
    check
        .evaluate(&ctx)
        .into_iter()
        .map(|f| (f.resource_name, f.status))
        .collect()
}

fn policies() -> Vec<Value> {
    fixture(&SERVICE, SECURITY_POLICIES)
}

#[test]
fn domains_associated_with_a_waf_policy_pass_ignoring_id_case() {
    use FindingStatus::{Failed, Passed};
    assert_eq!(
        verdicts(&dataset(ChildOutcome::Items(policies()))),
        vec![
            ("ep-web".to_string(), Passed),
            ("www-contoso-com".to_string(), Passed),
            ("shop-contoso-com".to_string(), Failed),
        ],
        "the CDN profile is not a Front Door profile and gives no finding"
    );
}

#[test]
fn no_security_policy_or_a_non_waf_policy_covers_nothing() {
    let all_failed = |ds: &Dataset| {
        verdicts(ds)
            .iter()
            .all(|(_, s)| *s == FindingStatus::Failed)
    };
    assert!(all_failed(&dataset(ChildOutcome::Items(Vec::new()))));
    let mut other = policies();
    other[0]["properties"]["parameters"]["type"] = json!("WebApplicationFirewallLite");
    assert!(all_failed(&dataset(ChildOutcome::Items(other))));
}

#[test]
fn unreadable_security_policies_make_every_domain_access_denied() {
    let ds = dataset(ChildOutcome::Failed(FetchError::AccessDenied {
        action: "Microsoft.Cdn/profiles/securityPolicies/read".to_string(),
        message: "denied".to_string(),
    }));
    let got = verdicts(&ds);
    assert_eq!(got.len(), 3);
    assert!(got.iter().all(|(_, s)| *s == FindingStatus::AccessDenied));
}
