//! Tests of `bastion.host_exists` over fixtures shaped like the ARM list responses.

use chrono::Utc;
use serde_json::Value;

use super::{HOSTS, SERVICE, VIRTUAL_MACHINES};
use crate::checks::{Dataset, EvalContext, ListOutcome};
use crate::messages::FindingStatus;

fn fixture(key: &str) -> Vec<Value> {
    crate::checks::rule_examples::fixture(&SERVICE, key)
}

fn statuses(hosts: Vec<Value>, vms: Vec<Value>) -> Vec<(String, FindingStatus)> {
    let mut ds = Dataset::default();
    ds.insert_list(HOSTS, ListOutcome::Items(hosts));
    ds.insert_list(VIRTUAL_MACHINES, ListOutcome::Items(vms));
    let ctx = EvalContext::new(&ds, Utc::now(), "subid");
    let check = SERVICE.check("bastion.host_exists").expect("check");
    check
        .evaluate(&ctx)
        .into_iter()
        .map(|f| (f.resource_name, f.status))
        .collect()
}

#[test]
fn every_vm_passes_when_a_host_exists() {
    let got = statuses(fixture(HOSTS), fixture(VIRTUAL_MACHINES));
    assert_eq!(
        got,
        vec![
            ("vm-web".to_string(), FindingStatus::Passed),
            ("vm-db".to_string(), FindingStatus::Passed)
        ]
    );
}

#[test]
fn every_vm_fails_without_a_host() {
    let got = statuses(Vec::new(), fixture(VIRTUAL_MACHINES));
    assert!(got.iter().all(|(_, s)| *s == FindingStatus::Failed));
    assert_eq!(got.len(), 2);
}

#[test]
fn no_vms_is_not_applicable() {
    assert!(statuses(fixture(HOSTS), Vec::new()).is_empty());
}
