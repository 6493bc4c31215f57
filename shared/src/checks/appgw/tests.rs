//! Tests of `appgw.waf_enabled`: the gateway -> WAF policy join over the fixtures.

use chrono::Utc;
use serde_json::{Value, json};

use super::{GATEWAYS, SERVICE, WAF_POLICIES};
use crate::checks::rule_examples::fixture;
use crate::checks::{Dataset, EvalContext, ListOutcome};
use crate::messages::FindingStatus;

fn verdicts(gateways: Vec<Value>, policies: Vec<Value>) -> Vec<(String, FindingStatus)> {
    let mut ds = Dataset::default();
    ds.insert_list(GATEWAYS, ListOutcome::Items(gateways));
    ds.insert_list(WAF_POLICIES, ListOutcome::Items(policies));
    let ctx = EvalContext::new(&ds, Utc::now(), "subid");
    let check = SERVICE.check("appgw.waf_enabled").expect("check");
    check
        .evaluate(&ctx)
        .into_iter()
        .map(|f| (f.resource_name, f.status))
        .collect()
}

fn gateways() -> Vec<Value> {
    fixture(&SERVICE, GATEWAYS)
}

fn policies() -> Vec<Value> {
    fixture(&SERVICE, WAF_POLICIES)
}

#[test]
fn waf_tier_with_an_enabled_policy_or_the_built_in_waf_passes() {
    use FindingStatus::{Failed, Passed};
    assert_eq!(
        verdicts(gateways(), policies()),
        vec![
            ("agw-web".to_string(), Passed),
            ("agw-legacy".to_string(), Passed),
            ("agw-internal".to_string(), Failed),
        ]
    );
}

#[test]
fn a_linked_policy_that_is_disabled_fails_and_ids_join_ignoring_case() {
    let mut gws = gateways();
    gws.truncate(1);
    let mut pols = policies();
    pols[0]["properties"]["policySettings"]["state"] = json!("Disabled");
    assert_eq!(
        verdicts(gws.clone(), pols),
        vec![("agw-web".to_string(), FindingStatus::Failed)]
    );
    // A policy outside the selected regions is not read: the attachment counts.
    assert_eq!(
        verdicts(gws, Vec::new()),
        vec![("agw-web".to_string(), FindingStatus::Passed)]
    );
}

#[test]
fn a_waf_tier_without_policy_or_built_in_waf_fails() {
    let mut gw = gateways().remove(1);
    gw["properties"]["webApplicationFirewallConfiguration"]["enabled"] = json!(false);
    assert_eq!(
        verdicts(vec![gw.clone()], policies()),
        vec![("agw-legacy".to_string(), FindingStatus::Failed)]
    );
    if let Some(p) = gw["properties"].as_object_mut() {
        p.remove("webApplicationFirewallConfiguration");
    }
    assert_eq!(
        verdicts(vec![gw], policies()),
        vec![("agw-legacy".to_string(), FindingStatus::Failed)]
    );
}
