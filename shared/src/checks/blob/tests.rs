//! Tests of the blob checks over fixtures shaped like the ARM responses.
use serde_json::json;

use super::*;
use crate::checks::testing::{self, items, names};
use crate::checks::{CheckStatus, ChildOutcome, Dataset, FetchError, ListOutcome};
use crate::messages::{CheckResult, FindingStatus};

fn id(name: &str) -> String {
    format!(
        "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/res4410/providers/\
         Microsoft.Storage/storageAccounts/{name}"
    )
}

/// What the collector fetches: sto8607 (hardened, anonymous access disallowed: no container
/// list), sto1125 (weak, one public container, no diagnostic setting), stofiles (FileStorage:
/// nothing).
fn dataset() -> Dataset {
    let accounts = items(include_str!("fixtures/accounts.json"));
    assert!(!has_blob_service(&accounts[2]));
    assert!(!may_have_public_containers(&accounts[0]) && may_have_public_containers(&accounts[1]));
    let mut ds = Dataset::default();
    ds.insert_list(ACCOUNTS, ListOutcome::Items(accounts));
    let services = items(include_str!("fixtures/services.json"));
    for (service, name) in services.into_iter().zip(["sto8607", "sto1125"]) {
        ds.insert_child(SERVICES, &id(name), ChildOutcome::Object(service));
    }
    ds.insert_child(
        CONTAINERS,
        &id("sto1125"),
        ChildOutcome::Items(items(include_str!("fixtures/containers.json"))),
    );
    let diagnostics = items(include_str!("fixtures/diagnostics.json"));
    ds.insert_child(
        DIAGNOSTICS,
        &format!("{}/blobServices/default", id("sto8607")),
        ChildOutcome::Items(diagnostics),
    );
    ds.insert_child(
        DIAGNOSTICS,
        &format!("{}/blobServices/default", id("sto1125")),
        ChildOutcome::Items(vec![]),
    );
    ds
}

fn run(check: &str, ds: &Dataset) -> CheckResult {
    testing::run(&SERVICE, check, ds)
}

#[test]
fn every_check_passes_the_hardened_account_and_fails_the_weak_one() {
    let ds = dataset();
    for check in SERVICE.checks {
        let r = run(check.meta.id, &ds);
        assert_eq!(r.status, CheckStatus::Failed, "{}", check.meta.id);
        assert_eq!(
            names(&r, FindingStatus::Passed),
            ["sto8607"],
            "{}",
            check.meta.id
        );
        assert_eq!(
            names(&r, FindingStatus::Failed),
            ["sto1125"],
            "{}",
            check.meta.id
        );
        for f in &r.findings {
            assert_eq!(f.resource_type, "Microsoft.Storage/storageAccounts");
        }
    }
    let r = run("blob.container_private", &ds);
    let weak = r.findings.iter().find(|f| f.resource_name == "sto1125");
    let weak = weak.expect("sto1125");
    assert!(
        weak.message.ends_with(": container1644"),
        "{}",
        weak.message
    );
    assert_eq!(
        weak.evidence[1].value,
        json!([{"name": "container1644", "publicAccess": "Container"}])
    );
}

#[test]
fn containers_without_public_access_pass_and_denied_lists_name_the_action() {
    let mut ds = dataset();
    let mut list = items(include_str!("fixtures/containers.json"));
    if let Some(props) = list[0]["properties"].as_object_mut() {
        props.remove("publicAccess");
    }
    ds.insert_child(CONTAINERS, &id("sto1125"), ChildOutcome::Items(list));
    assert_eq!(
        run("blob.container_private", &ds).status,
        CheckStatus::Passed
    );
    ds.insert_child(CONTAINERS, &id("sto1125"), ChildOutcome::Items(vec![]));
    assert_eq!(
        run("blob.container_private", &ds).status,
        CheckStatus::Passed
    );
    ds.insert_child(
        CONTAINERS,
        &id("sto1125"),
        ChildOutcome::Failed(FetchError::AccessDenied {
            action: CONTAINER_READ.into(),
            message: String::new(),
        }),
    );
    let r = run("blob.container_private", &ds);
    assert_eq!(r.status, CheckStatus::FailedAccessDenied);
    assert_eq!(r.missing_permission.as_deref(), Some(CONTAINER_READ));
}

#[test]
fn logging_accepts_the_all_logs_group_and_fails_without_a_blob_service() {
    let mut ds = dataset();
    let setting = json!({
        "name": "all",
        "properties": {
            "storageAccountId": id("stlogs"),
            "logs": [{"categoryGroup": "allLogs", "enabled": true}]
        }
    });
    ds.insert_child(
        DIAGNOSTICS,
        &format!("{}/blobServices/default", id("sto1125")),
        ChildOutcome::Items(vec![setting]),
    );
    assert_eq!(run("blob.logging", &ds).status, CheckStatus::Passed);
    // Only reads enabled: write and delete are named.
    let partial = json!({
        "name": "reads",
        "properties": {
            "workspaceId": "/subscriptions/s/resourceGroups/r/providers/Microsoft.OperationalInsights/workspaces/w",
            "logs": [{"category": "StorageRead", "enabled": true}, {"category": "StorageWrite", "enabled": false}]
        }
    });
    ds.insert_child(
        DIAGNOSTICS,
        &format!("{}/blobServices/default", id("sto1125")),
        ChildOutcome::Items(vec![partial]),
    );
    let r = run("blob.logging", &ds);
    let weak = r.findings.iter().find(|f| f.resource_name == "sto1125");
    let message = &weak.expect("sto1125").message;
    assert!(
        message.ends_with("StorageWrite, StorageDelete"),
        "{message}"
    );
    // A blob service that does not exist (404) has no settings.
    ds.insert_child(SERVICES, &id("sto1125"), ChildOutcome::Absent);
    let r = run("blob.logging", &ds);
    assert_eq!(names(&r, FindingStatus::Failed), ["sto1125"]);
    assert_eq!(run("blob.soft_delete", &ds).status, CheckStatus::Failed);
}
