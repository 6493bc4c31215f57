//! Tests of the SQL Server checks over fixtures shaped like the ARM list responses (the
//! declarative checks' examples also run in the catalogue's generic test).
use serde_json::{Value, json};

use super::*;
use crate::checks::testing::{self, items, names};
use crate::checks::{CheckStatus, ChildOutcome, Dataset, FetchError, ListOutcome};
use crate::messages::{CheckResult, FindingStatus};

const GOOD: &str = "sqlcrudtest-4645";
const WEAK: &str = "sqlcrudtest-6661";

fn id(name: &str) -> String {
    format!(
        "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/sqlcrudtest-7398/\
         providers/Microsoft.Sql/servers/{name}"
    )
}

/// Each child fixture's items, keyed to the server their id lies under.
fn dataset() -> Dataset {
    let mut ds = Dataset::default();
    ds.insert_list(
        SERVERS,
        ListOutcome::Items(items(include_str!("fixtures/servers.json"))),
    );
    for (key, text) in [
        (AUDITING, include_str!("fixtures/auditing.json")),
        (
            ENCRYPTION_PROTECTOR,
            include_str!("fixtures/encryption_protector.json"),
        ),
        (
            THREAT_PROTECTION,
            include_str!("fixtures/threat_protection.json"),
        ),
    ] {
        for item in items(text) {
            let server = if item["id"].as_str().unwrap_or_default().contains(GOOD) {
                GOOD
            } else {
                WEAK
            };
            ds.insert_child(key, &id(server), ChildOutcome::Object(item));
        }
    }
    ds.insert_child(FIREWALL_RULES, &id(GOOD), ChildOutcome::Items(vec![]));
    ds.insert_child(
        FIREWALL_RULES,
        &id(WEAK),
        ChildOutcome::Items(items(include_str!("fixtures/firewall_rules.json"))),
    );
    ds
}

fn run(check: &str, ds: &Dataset) -> CheckResult {
    testing::run(&SERVICE, check, ds)
}

#[test]
fn the_hardened_server_passes_and_the_default_one_fails_every_check() {
    let ds = dataset();
    for check in SERVICE.checks {
        let r = run(check.meta.id, &ds);
        assert_eq!(
            names(&r, FindingStatus::Passed),
            [GOOD],
            "{}",
            check.meta.id
        );
        if check.meta.id == "sqlserver.audit_retention" {
            assert_eq!(names(&r, FindingStatus::NotApplicable), [WEAK]);
            assert_eq!(r.status, CheckStatus::Passed);
        } else {
            assert_eq!(
                names(&r, FindingStatus::Failed),
                [WEAK],
                "{}",
                check.meta.id
            );
        }
    }
    let r = run("sqlserver.no_any_ip_firewall", &ds);
    let weak = r.findings.iter().find(|f| f.resource_name == WEAK);
    let evidence = &weak.expect("weak").evidence[0];
    assert_eq!(evidence.property, "sqlserver.firewall_rules");
    assert_eq!(evidence.value.as_array().map(Vec::len), Some(2));
}

fn with_retention(state: &str, retention: Option<Value>) -> Dataset {
    let mut ds = dataset();
    let mut policy = json!({"id": "x", "name": "default", "properties": {"state": state}});
    if let Some(days) = retention {
        policy["properties"]["retentionDays"] = days;
    }
    ds.insert_child(AUDITING, &id(GOOD), ChildOutcome::Object(policy));
    ds
}

#[test]
fn audit_retention_zero_is_unlimited_and_short_retention_fails() {
    for (days, passes) in [
        (Some(json!(0)), true),
        (None, true),
        (Some(json!(90)), true),
        (Some(json!(365)), true),
        (Some(json!(89)), false),
        (Some(json!(30)), false),
        (Some(json!("ninety")), false),
    ] {
        let r = run(
            "sqlserver.audit_retention",
            &with_retention("Enabled", days.clone()),
        );
        let good = r.findings.iter().find(|f| f.resource_name == GOOD);
        let status = good.expect("finding").status;
        let wanted = if passes {
            FindingStatus::Passed
        } else {
            FindingStatus::Failed
        };
        assert_eq!(status, wanted, "{days:?}");
    }
    let r = run(
        "sqlserver.audit_retention",
        &with_retention("Disabled", Some(json!(5))),
    );
    assert_eq!(r.status, CheckStatus::NotApplicable);
    // No auditing policy at all (404): auditing is off, so retention does not apply.
    let mut ds = dataset();
    ds.insert_child(AUDITING, &id(GOOD), ChildOutcome::Absent);
    assert_eq!(
        run("sqlserver.auditing_enabled", &ds).status,
        CheckStatus::Failed
    );
    let r = run("sqlserver.audit_retention", &ds);
    assert_eq!(names(&r, FindingStatus::NotApplicable), [GOOD, WEAK]);
}

#[test]
fn a_denied_server_list_fails_every_check_and_a_denied_child_only_its_own() {
    let mut ds = Dataset::default();
    ds.insert_list(
        SERVERS,
        ListOutcome::Failed(FetchError::AccessDenied {
            action: SERVER_READ.into(),
            message: "AuthorizationFailed".into(),
        }),
    );
    for check in SERVICE.checks {
        let r = run(check.meta.id, &ds);
        assert_eq!(
            r.status,
            CheckStatus::FailedAccessDenied,
            "{}",
            check.meta.id
        );
        assert_eq!(r.missing_permission.as_deref(), Some(SERVER_READ));
    }
    let mut ds = dataset();
    let denied = ChildOutcome::Failed(FetchError::AccessDenied {
        action: THREAT_PROTECTION_READ.into(),
        message: String::new(),
    });
    ds.insert_child(THREAT_PROTECTION, &id(GOOD), denied.clone());
    ds.insert_child(THREAT_PROTECTION, &id(WEAK), denied);
    let r = run("sqlserver.defender_enabled", &ds);
    assert_eq!(r.status, CheckStatus::FailedAccessDenied);
    assert_eq!(
        r.missing_permission.as_deref(),
        Some(THREAT_PROTECTION_READ)
    );
    assert_eq!(run("sqlserver.tde_cmk", &ds).status, CheckStatus::Failed);
}
