//! Tests of the Security Center checks over fixtures shaped like the security contacts list
//! (2023-12-01-preview), the policy assignments list (2024-04-01) and the assessments list
//! (2021-06-01).

use serde_json::{Value, json};

use super::contacts::{EMAILS_RULE, OWNERS_RULE};
use super::*;
use crate::checks::CheckStatus;
use crate::checks::rule_examples::check_rule;
use crate::checks::testing::{list_items as items, names_with, run_over};
use crate::messages::{CheckResult, FindingStatus};

const SUB: &str = "20ff7fc3-e762-44dd-bd96-b71116dcdc23";

fn contacts() -> Vec<Value> {
    items(include_str!("fixtures/contacts.json"))
}

fn run(id: &str, key: &str, list: Vec<Value>) -> CheckResult {
    run_over(&SERVICE, id, &[(key, list)], SUB)
}

fn contact_with(path: &[&str], value: Option<Value>) -> Vec<Value> {
    let mut list = contacts();
    let (last, parents) = path.split_last().expect("path");
    let mut target = &mut list[0];
    for key in parents {
        target = &mut target[*key];
    }
    match value {
        Some(v) => target[*last] = v,
        None => {
            if let Some(o) = target.as_object_mut() {
                o.remove(*last);
            }
        }
    }
    list
}

#[test]
fn the_contact_rules_meet_their_examples_on_the_fixture() {
    for (id, rule) in [
        ("securitycenter.contact_emails", EMAILS_RULE),
        ("securitycenter.notify_owners", OWNERS_RULE),
    ] {
        let problems = check_rule(&SERVICE, id, &rule);
        assert!(problems.is_empty(), "{problems:?}");
    }
}

#[test]
fn contact_checks_pass_on_the_fixture_and_fail_without_any_contact() {
    for id in [
        "securitycenter.contact_emails",
        "securitycenter.notify_owners",
        "securitycenter.alert_notifications",
    ] {
        let result = run(id, CONTACTS, contacts());
        assert_eq!(
            result.status,
            CheckStatus::Passed,
            "{id}: {}",
            result.reason
        );
        assert_eq!(result.findings[0].resource_name, "default");
        let none = run(id, CONTACTS, Vec::new());
        assert_eq!(none.status, CheckStatus::Failed, "{id}: no contact fails");
        assert_eq!(
            none.findings[0].resource_id,
            format!("/subscriptions/{SUB}/providers/Microsoft.Security/securityContacts/default")
        );
    }
    let result = run(
        "securitycenter.contact_emails",
        CONTACTS,
        contact_with(&["properties", "emails"], Some(json!(""))),
    );
    assert_eq!(result.status, CheckStatus::Failed);
    assert_eq!(result.findings[0].evidence[0].value, json!(""));
}

#[test]
fn alert_notifications_need_an_enabled_contact_and_an_alert_source_of_high_or_lower() {
    let id = "securitycenter.alert_notifications";
    let critical_only = contact_with(
        &["properties", "notificationsSources"],
        Some(json!([{"sourceType": "Alert", "minimalSeverity": "Critical"}])),
    );
    assert_eq!(run(id, CONTACTS, critical_only).status, CheckStatus::Failed);
    let high = contact_with(
        &["properties", "notificationsSources"],
        Some(json!([{"sourceType": "alert", "minimalSeverity": "high"}])),
    );
    assert_eq!(run(id, CONTACTS, high).status, CheckStatus::Passed);
    let empty = contact_with(&["properties", "notificationsSources"], Some(json!([])));
    assert_eq!(run(id, CONTACTS, empty).status, CheckStatus::Failed);
    let absent = contact_with(&["properties", "notificationsSources"], None);
    assert_eq!(run(id, CONTACTS, absent).status, CheckStatus::Failed);
    let disabled = contact_with(&["properties", "isEnabled"], Some(json!(false)));
    let result = run(id, CONTACTS, disabled);
    assert_eq!(result.status, CheckStatus::Failed);
    assert!(result.findings[0].message.contains("not enabled"));
}

#[test]
fn mcsb_must_be_assigned_enforced_and_without_disabled_effects() {
    let id = "securitycenter.mcsb_enforced";
    let fixture = items(include_str!("fixtures/policy_assignments.json"));
    // The fixture's assignment disables one effect.
    let result = run(id, POLICY_ASSIGNMENTS, fixture.clone());
    assert_eq!(result.status, CheckStatus::Failed);
    assert_eq!(
        result.findings.len(),
        1,
        "only the MCSB assignment is judged"
    );
    assert!(
        result.findings[0]
            .message
            .contains("diskEncryptionMonitoringEffect")
    );
    assert_eq!(
        result.findings[0].evidence[1].value,
        json!(["diskEncryptionMonitoringEffect"])
    );

    let mut fixed = fixture.clone();
    fixed[0]["properties"]["parameters"] = json!({});
    assert_eq!(
        run(id, POLICY_ASSIGNMENTS, fixed.clone()).status,
        CheckStatus::Passed
    );
    // enforcementMode absent is the default (Default); DoNotEnforce fails.
    if let Some(p) = fixed[0]["properties"].as_object_mut() {
        p.remove("enforcementMode");
    }
    assert_eq!(
        run(id, POLICY_ASSIGNMENTS, fixed.clone()).status,
        CheckStatus::Passed
    );
    fixed[0]["properties"]["enforcementMode"] = json!("DoNotEnforce");
    assert_eq!(
        run(id, POLICY_ASSIGNMENTS, fixed).status,
        CheckStatus::Failed
    );
    // Not assigned at all.
    let others: Vec<Value> = fixture.into_iter().skip(1).collect();
    let result = run(id, POLICY_ASSIGNMENTS, others);
    assert_eq!(result.status, CheckStatus::Failed);
    assert_eq!(result.findings[0].resource_name, "SecurityCenterBuiltIn");
}

#[test]
fn system_updates_gives_one_finding_per_assessed_machine() {
    let id = "securitycenter.system_updates";
    let result = run(
        id,
        ASSESSMENTS,
        items(include_str!("fixtures/assessments.json")),
    );
    assert_eq!(result.status, CheckStatus::Failed);
    let names = |status| names_with(&result, status);
    assert_eq!(names(FindingStatus::Passed), ["vm-web-01"]);
    assert_eq!(names(FindingStatus::Failed), ["vm-batch-02"]);
    assert_eq!(names(FindingStatus::NotApplicable), ["vm-off-03"]);
    assert_eq!(
        result.findings[0].resource_type,
        "Microsoft.Compute/virtualMachines"
    );
    // Only other assessments: nothing in scope.
    let other: Vec<Value> = items(include_str!("fixtures/assessments.json"))
        .into_iter()
        .skip(3)
        .collect();
    let result = run(id, ASSESSMENTS, other);
    assert_eq!(result.status, CheckStatus::NotApplicable);
    assert_eq!(result.reason, "No machine has a system-updates assessment");
}

#[test]
fn subscription_settings_are_never_region_filtered() {
    assert!(SERVICE.collections.iter().all(|c| !c.regional));
}
