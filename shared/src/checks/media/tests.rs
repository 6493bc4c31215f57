//! Tests of `media.account_present`: every account is a finding quoting the retirement.

use chrono::Utc;
use serde_json::Value;

use super::{ACCOUNTS, SERVICE};
use crate::checks::rule_examples::fixture;
use crate::checks::{CheckStatus, Dataset, EvalContext, ListOutcome, run_check};

fn accounts() -> Vec<Value> {
    fixture(&SERVICE, ACCOUNTS)
}

fn result(items: Vec<Value>) -> crate::messages::CheckResult {
    let mut ds = Dataset::default();
    ds.insert_list(ACCOUNTS, ListOutcome::Items(items));
    let ctx = EvalContext::new(&ds, Utc::now(), "subid");
    let check = SERVICE.check("media.account_present").expect("check");
    run_check(&SERVICE, check, &ctx)
}

#[test]
fn every_account_fails_with_the_retirement_reason() {
    let r = result(accounts());
    assert_eq!(r.status, CheckStatus::Failed);
    assert_eq!(r.findings.len(), 2);
    for f in &r.findings {
        assert!(
            f.message.contains("retired on 30 June 2024"),
            "{}",
            f.message
        );
        assert_eq!(f.evidence[0].value, "Microsoft.Media/mediaservices");
    }
}

#[test]
fn no_account_is_not_applicable() {
    let r = result(Vec::new());
    assert_eq!(r.status, CheckStatus::NotApplicable);
    assert_eq!(
        r.reason,
        "No Media Services accounts in the selected regions"
    );
}
