//! Tests of the Container Apps collection filter (auth configs only for apps with ingress) and
//! of the ingress-dependent checks leaving background apps out.

use chrono::Utc;
use serde_json::{Value, json};

use super::*;
use crate::checks::{CheckStatus, ChildOutcome, Dataset, EvalContext, ListOutcome, run_check};
use crate::messages::CheckResult;

fn apps() -> Vec<Value> {
    let body: Value =
        serde_json::from_str(include_str!("fixtures/apps.json")).expect("fixture is JSON");
    body["value"].as_array().expect("value[]").clone()
}

fn run(id: &str, ds: &Dataset) -> CheckResult {
    let check = SERVICE.check(id).expect("check exists");
    run_check(&SERVICE, check, &EvalContext::new(ds, Utc::now(), "s"))
}

fn names(result: &CheckResult) -> Vec<&str> {
    result
        .findings
        .iter()
        .map(|f| f.resource_name.as_str())
        .collect()
}

#[test]
fn auth_configs_are_fetched_only_for_apps_with_ingress() {
    let collection = SERVICE.collection(AUTH_CONFIGS).expect("collection");
    let applies = collection.applies_to.expect("a filter");
    let wanted: Vec<bool> = apps().iter().map(applies).collect();
    assert_eq!(wanted, [true, true, false], "ca-worker has no ingress");
    assert!(!applies(
        &json!({"properties": {"configuration": {"ingress": null}}})
    ));
    assert!(!applies(
        &json!({"properties": {"configuration": {"ingress": {}}}})
    ));
}

#[test]
fn apps_without_ingress_are_out_of_scope_of_the_ingress_checks() {
    let apps = apps();
    let mut ds = Dataset::default();
    ds.insert_list(APPS, ListOutcome::Items(apps.clone()));
    ds.insert_list(ENVIRONMENTS, ListOutcome::Items(Vec::new()));
    let orders = apps[0]["id"].as_str().expect("id");
    let public = apps[1]["id"].as_str().expect("id");
    let configs: Value =
        serde_json::from_str(include_str!("fixtures/auth_configs.json")).expect("JSON");
    ds.insert_child(
        AUTH_CONFIGS,
        orders,
        ChildOutcome::Items(configs["value"].as_array().cloned().unwrap_or_default()),
    );
    ds.insert_child(AUTH_CONFIGS, public, ChildOutcome::Items(Vec::new()));

    for id in [
        "containerapps.https_only",
        "containerapps.external_ingress_restricted",
        "containerapps.auth_enabled",
    ] {
        let result = run(id, &ds);
        assert_eq!(names(&result), ["ca-orders", "ca-public-api"], "{id}");
        assert_eq!(result.status, CheckStatus::Failed, "{id}");
    }
    // Secrets apply to every app; an empty secret list passes.
    let secrets = run("containerapps.secrets_in_keyvault", &ds);
    assert_eq!(names(&secrets).len(), 3);
    // No environment in scope: the environment check says so, not the app reason.
    let env = run("containerapps.env_internal", &ds);
    assert_eq!(env.status, CheckStatus::NotApplicable);
    assert_eq!(
        env.reason,
        "No Container Apps environments in the selected regions"
    );
}
