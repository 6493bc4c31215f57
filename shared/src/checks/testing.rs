//! Helpers for the services' tests: fixture items, running one check over a dataset, and the
//! names of the resources per finding status, so each `tests.rs` states only its cases.

use serde_json::Value;

use super::{EvalContext, ListOutcome, ServiceDef, run_check};
use crate::checks::Dataset;
use crate::messages::{CheckResult, FindingStatus};

/// The items of a fixture holding an ARM list body `{"value": [...]}`.
pub fn items(text: &str) -> Vec<Value> {
    let body: Value = serde_json::from_str(text).expect("fixture is JSON");
    body["value"].as_array().expect("value[]").clone()
}

/// Runs check `id` of `service` over `dataset` (subscription `sub-1`, now).
pub fn run(service: &ServiceDef, id: &str, dataset: &Dataset) -> CheckResult {
    let check = service.check(id).expect("check exists");
    let ctx = EvalContext::new(dataset, chrono::Utc::now(), "sub-1");
    run_check(service, check, &ctx)
}

/// The names of the resources whose finding has `status`, sorted.
pub fn names(result: &CheckResult, status: FindingStatus) -> Vec<&str> {
    let mut v: Vec<&str> = result
        .findings
        .iter()
        .filter(|f| f.status == status)
        .map(|f| f.resource_name.as_str())
        .collect();
    v.sort_unstable();
    v
}

/// The items of a fixture list body `{"value": [...]}`.
pub fn list_items(text: &str) -> Vec<Value> {
    let body: Value = serde_json::from_str(text).expect("fixture is JSON");
    body["value"].as_array().expect("a list body").clone()
}

/// Runs check `id` of `service` over the given lists (collection key, items).
pub fn run_over(
    service: &ServiceDef,
    id: &str,
    lists: &[(&str, Vec<Value>)],
    subscription_id: &str,
) -> CheckResult {
    let mut dataset = Dataset::default();
    for (key, items) in lists {
        dataset.insert_list(key, ListOutcome::Items(items.clone()));
    }
    let check = service.check(id).expect("check exists");
    run_check(
        service,
        check,
        &EvalContext::new(&dataset, chrono::Utc::now(), subscription_id),
    )
}

/// The names of the resources whose findings have `status`, in finding order.
pub fn names_with(result: &CheckResult, status: FindingStatus) -> Vec<&str> {
    result
        .findings
        .iter()
        .filter(|f| f.status == status)
        .map(|f| f.resource_name.as_str())
        .collect()
}
