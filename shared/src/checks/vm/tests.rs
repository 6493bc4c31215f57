//! Tests of the VM checks' custom logic (NIC join, extension allow-list) and of an unmanaged-disk
//! VM going through every check, over fixtures shaped like the ARM list responses.

use chrono::Utc;
use serde_json::{Value, json};

use super::*;
use crate::checks::{
    CheckStatus, ChildOutcome, Dataset, EvalContext, FetchError, ListOutcome, run_check,
};
use crate::messages::{CheckResult, FindingStatus};

fn items(text: &str) -> Vec<Value> {
    let body: Value = serde_json::from_str(text).expect("fixture is JSON");
    body["value"].as_array().expect("value[]").clone()
}

fn machines() -> Vec<Value> {
    items(include_str!("fixtures/machines.json"))
}

fn id_of(name: &str) -> String {
    machines()
        .iter()
        .find(|m| m["name"] == name)
        .and_then(|m| m["id"].as_str())
        .expect("fixture VM")
        .to_string()
}

fn dataset() -> Dataset {
    let mut ds = Dataset::default();
    ds.insert_list(MACHINES, ListOutcome::Items(machines()));
    ds.insert_list(
        NICS,
        ListOutcome::Items(items(include_str!("fixtures/nics.json"))),
    );
    ds.insert_list(
        DISKS,
        ListOutcome::Items(items(include_str!("fixtures/disks.json"))),
    );
    let extensions = items(include_str!("fixtures/extensions.json"));
    ds.insert_child(
        EXTENSIONS,
        &id_of("vm-web-01"),
        ChildOutcome::Items(vec![extensions[0].clone()]),
    );
    ds.insert_child(
        EXTENSIONS,
        &id_of("vm-legacy"),
        ChildOutcome::Items(vec![extensions[1].clone()]),
    );
    ds.insert_child(
        EXTENSIONS,
        &id_of("vm-win-01"),
        ChildOutcome::Items(Vec::new()),
    );
    ds
}

fn run(id: &str, ds: &Dataset) -> CheckResult {
    let check = SERVICE.check(id).expect("check exists");
    run_check(&SERVICE, check, &EvalContext::new(ds, Utc::now(), "s"))
}

fn status_of(result: &CheckResult, name: &str) -> FindingStatus {
    result
        .findings
        .iter()
        .find(|f| f.resource_name == name)
        .map(|f| f.status)
        .unwrap_or_else(|| panic!("no finding for {name} in {}", result.check_id))
}

#[test]
fn public_ips_are_found_through_the_nic_join_ignoring_id_case() {
    let result = run("vm.no_public_ip", &dataset());
    assert_eq!(result.status, CheckStatus::Failed);
    assert_eq!(status_of(&result, "vm-web-01"), FindingStatus::Passed);
    // The VM names its NIC in upper case and the NIC names the VM in upper case.
    assert_eq!(status_of(&result, "vm-legacy"), FindingStatus::Failed);
    let legacy = result
        .findings
        .iter()
        .find(|f| f.resource_name == "vm-legacy")
        .expect("legacy");
    assert_eq!(
        legacy.evidence[0].value[0]["publicIPAddress"],
        json!(
            "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-legacy/providers/Microsoft.Network/publicIPAddresses/vm-legacy-ip"
        )
    );
    // vm-win-01 names a NIC that is not in the list: unknown, not a pass.
    assert_eq!(status_of(&result, "vm-win-01"), FindingStatus::Error);
}

#[test]
fn a_nic_list_that_was_denied_makes_only_the_join_check_access_denied() {
    let mut ds = dataset();
    ds.insert_list(
        NICS,
        ListOutcome::Failed(FetchError::AccessDenied {
            action: "Microsoft.Network/networkInterfaces/read".into(),
            message: "denied".into(),
        }),
    );
    let result = run("vm.no_public_ip", &ds);
    assert_eq!(result.status, CheckStatus::FailedAccessDenied);
    assert_eq!(
        result.missing_permission.as_deref(),
        Some("Microsoft.Network/networkInterfaces/read")
    );
    assert_eq!(run("vm.managed_disks", &ds).status, CheckStatus::Failed);
}

#[test]
fn extensions_outside_the_allow_list_fail_and_none_passes() {
    let result = run("vm.approved_extensions", &dataset());
    assert_eq!(result.status, CheckStatus::Failed);
    assert_eq!(status_of(&result, "vm-web-01"), FindingStatus::Passed);
    assert_eq!(
        status_of(&result, "vm-win-01"),
        FindingStatus::Passed,
        "empty list"
    );
    let legacy = result
        .findings
        .iter()
        .find(|f| f.resource_name == "vm-legacy")
        .expect("legacy");
    assert_eq!(legacy.status, FindingStatus::Failed);
    assert_eq!(legacy.evidence[0].value[0]["type"], json!("CustomScript"));
    assert!(legacy.message.contains("CustomScript"));
    assert!(extensions::is_approved(
        &json!({"properties": {"publisher": "microsoft.azure.monitor", "type": "azuremonitorlinuxagent"}})
    ));
    assert!(!extensions::is_approved(
        &json!({"properties": {"publisher": "Microsoft.Azure.Monitor"}})
    ));
}

#[test]
fn unreadable_extensions_are_reported_per_vm() {
    let mut ds = dataset();
    ds.insert_child(
        EXTENSIONS,
        &id_of("vm-web-01"),
        ChildOutcome::Failed(FetchError::AccessDenied {
            action: "Microsoft.Compute/virtualMachines/extensions/read".into(),
            message: "denied".into(),
        }),
    );
    let result = run("vm.approved_extensions", &ds);
    assert_eq!(status_of(&result, "vm-web-01"), FindingStatus::AccessDenied);
    assert_eq!(status_of(&result, "vm-legacy"), FindingStatus::Failed);
}

#[test]
fn an_unmanaged_vhd_vm_is_a_finding_in_every_check_never_a_crash() {
    let ds = dataset();
    let managed = run("vm.managed_disks", &ds);
    assert_eq!(status_of(&managed, "vm-legacy"), FindingStatus::Failed);
    assert!(
        managed
            .findings
            .iter()
            .any(|f| f.message.contains("retired"))
    );
    assert_eq!(status_of(&managed, "vm-web-01"), FindingStatus::Passed);
    for check in SERVICE.checks {
        let result = run(check.meta.id, &ds);
        assert_ne!(
            result.status,
            CheckStatus::NotApplicable,
            "{}",
            check.meta.id
        );
    }
    let linux = run("vm.linux_password_auth_disabled", &ds);
    assert_eq!(linux.findings.len(), 2, "Windows VMs are out of scope");
    assert_eq!(status_of(&linux, "vm-legacy"), FindingStatus::Failed);
    let trusted = run("vm.trusted_launch", &ds);
    assert_eq!(
        status_of(&trusted, "vm-win-01"),
        FindingStatus::Failed,
        "Secure Boot off"
    );
    assert_eq!(
        status_of(&trusted, "vm-legacy"),
        FindingStatus::Failed,
        "no security profile"
    );
    assert_eq!(run("vm.disk_cmk", &ds).findings.len(), 2);
}
