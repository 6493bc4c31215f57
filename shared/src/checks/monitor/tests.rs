//! Tests of the activity-log and alert evaluators over fixtures shaped like the subscription
//! diagnostic settings (2021-05-01-preview), activity-log alerts (2020-10-01) and storage
//! account lists (the workspace checks are declarative: the generic examples test runs them).

use serde_json::{Value, json};

use super::alerts::{OPERATIONS, alert_covers};
use super::*;
use crate::checks::CheckStatus;
use crate::checks::testing::{list_items as items, run_over};
use crate::messages::{CheckResult, FindingStatus};

const SUB: &str = "187f412d-1758-44d9-b052-169e2564721d";

fn settings() -> Vec<Value> {
    items(include_str!("fixtures/activity_log_settings.json"))
}

fn alerts() -> Vec<Value> {
    items(include_str!("fixtures/activity_log_alerts.json"))
}

fn accounts() -> Vec<Value> {
    items(include_str!("fixtures/storage_accounts.json"))
}

fn run(id: &str, lists: &[(&str, Vec<Value>)]) -> CheckResult {
    run_over(&SERVICE, id, lists, SUB)
}

#[test]
fn the_activity_log_export_is_one_finding_about_the_subscription() {
    let id = "monitor.activity_log_exported";
    let result = run(id, &[(ACTIVITY_LOG_SETTINGS, settings())]);
    assert_eq!(result.status, CheckStatus::Passed);
    assert_eq!(result.findings.len(), 1);
    assert_eq!(
        result.findings[0].resource_id,
        format!("/subscriptions/{SUB}")
    );
    assert_eq!(result.findings[0].resource_name, SUB);
    let none = run(id, &[(ACTIVITY_LOG_SETTINGS, Vec::new())]);
    assert_eq!(none.status, CheckStatus::Failed);
    assert!(none.findings[0].message.contains("no diagnostic setting"));
    let mut nowhere = settings();
    for s in &mut nowhere {
        s["properties"] = json!({"logs": [{"category": "Administrative", "enabled": true}]});
    }
    assert_eq!(
        run(id, &[(ACTIVITY_LOG_SETTINGS, nowhere)]).status,
        CheckStatus::Failed
    );
}

#[test]
fn categories_are_covered_across_settings_with_a_destination() {
    let id = "monitor.activity_log_categories";
    // Policy is disabled in both fixture settings.
    let result = run(id, &[(ACTIVITY_LOG_SETTINGS, settings())]);
    assert_eq!(result.status, CheckStatus::Failed);
    assert_eq!(result.findings[0].evidence[0].value, json!(["Policy"]));
    let mut fixed = settings();
    fixed[1]["properties"]["logs"][1]["enabled"] = json!(true);
    assert_eq!(
        run(id, &[(ACTIVITY_LOG_SETTINGS, fixed)]).status,
        CheckStatus::Passed
    );
    let none = run(id, &[(ACTIVITY_LOG_SETTINGS, Vec::new())]);
    assert_eq!(
        none.findings[0].evidence[0].value,
        json!(["Administrative", "Alert", "Policy", "Security"])
    );
}

#[test]
fn the_log_storage_account_is_joined_by_id_and_judged() {
    let id = "monitor.activity_log_storage_secured";
    let result = run(
        id,
        &[
            (ACTIVITY_LOG_SETTINGS, settings()),
            (STORAGE_ACCOUNTS, accounts()),
        ],
    );
    assert_eq!(result.status, CheckStatus::Passed);
    assert_eq!(result.findings.len(), 1);
    assert_eq!(result.findings[0].resource_name, "stactivityarchive");

    let mut exposed = accounts();
    exposed[0]["properties"]["allowBlobPublicAccess"] = json!(true);
    if let Some(e) = exposed[0]["properties"]["encryption"].as_object_mut() {
        e.remove("keySource");
    }
    let result = run(
        id,
        &[
            (ACTIVITY_LOG_SETTINGS, settings()),
            (STORAGE_ACCOUNTS, exposed),
        ],
    );
    assert_eq!(result.status, CheckStatus::Failed);
    assert_eq!(result.findings[0].evidence[1].value, Value::Null);
    assert!(result.findings[0].message.contains("customer-managed key"));

    // An account of another subscription cannot be read: not applicable, said so.
    let result = run(
        id,
        &[
            (ACTIVITY_LOG_SETTINGS, settings()),
            (STORAGE_ACCOUNTS, Vec::new()),
        ],
    );
    assert_eq!(result.status, CheckStatus::NotApplicable);
    assert_eq!(result.findings[0].status, FindingStatus::NotApplicable);
    // No setting writes to storage: nothing in scope.
    let result = run(
        id,
        &[
            (ACTIVITY_LOG_SETTINGS, Vec::new()),
            (STORAGE_ACCOUNTS, accounts()),
        ],
    );
    assert_eq!(
        result.reason,
        "No activity-log diagnostic setting writes to a storage account"
    );
}

#[test]
fn alerts_are_judged_per_operation_from_the_table() {
    let result = run(
        "monitor.activity_log_alerts",
        &[(ACTIVITY_LOG_ALERTS, alerts())],
    );
    assert_eq!(result.status, CheckStatus::Failed);
    assert_eq!(result.findings.len(), OPERATIONS.len());
    let passed: Vec<&str> = result
        .findings
        .iter()
        .filter(|f| f.status == FindingStatus::Passed)
        .map(|f| f.resource_name.as_str())
        .collect();
    // Scope without a leading slash and lower-case operation names count; a disabled alert,
    // an alert on a resource group only, and missing operations do not; anyOf leaves count.
    assert_eq!(
        passed,
        [
            "Microsoft.Authorization/policyAssignments/write",
            "Microsoft.Network/networkSecurityGroups/write",
            "Microsoft.Network/publicIPAddresses/write",
            "Microsoft.Network/publicIPAddresses/delete",
            "ServiceHealth",
        ]
    );
    let none = run(
        "monitor.activity_log_alerts",
        &[(ACTIVITY_LOG_ALERTS, Vec::new())],
    );
    assert!(
        none.findings
            .iter()
            .all(|f| f.status == FindingStatus::Failed)
    );
    // `enabled` absent means enabled.
    let mut alert = alerts()[0].clone();
    if let Some(p) = alert["properties"].as_object_mut() {
        p.remove("enabled");
    }
    assert!(alert_covers(&alert, OPERATIONS[0], SUB));
    assert!(!alert_covers(&alert, OPERATIONS[0], "another-subscription"));
}

#[test]
fn only_workspaces_follow_the_region_selection() {
    let regional: Vec<&str> = SERVICE
        .collections
        .iter()
        .filter(|c| c.regional)
        .map(|c| c.key)
        .collect();
    assert_eq!(regional, [WORKSPACES]);
}
