//! Tests of the MySQL checks over fixtures shaped like the ARM list responses.
use serde_json::{Value, json};

use super::*;
use crate::checks::testing::{self, items, names};
use crate::checks::{CheckStatus, ChildOutcome, Dataset, FetchError, ListOutcome};
use crate::messages::{CheckResult, FindingStatus};

fn id(name: &str) -> String {
    format!(
        "/subscriptions/ffffffff-ffff-ffff-ffff-ffffffffffff/resourceGroups/testrg/providers/\
         Microsoft.DBforMySQL/flexibleServers/{name}"
    )
}

fn configurations(values: &[(&str, &str)]) -> Vec<Value> {
    let mut list = items(include_str!("fixtures/configurations.json"));
    for c in &mut list {
        if let Some((_, v)) = values.iter().find(|(n, _)| c["name"] == *n) {
            c["properties"]["value"] = json!(v);
        }
    }
    list
}

/// mysqlprivate: compliant parameters, private access. mysqlpublic: weak parameters and a
/// rule open to the internet.
fn dataset() -> Dataset {
    let weak = configurations(&[
        ("require_secure_transport", "OFF"),
        ("tls_version", "TLSv1.1,TLSv1.2"),
        ("audit_log_enabled", "OFF"),
        ("audit_log_events", "DDL,DML_SELECT"),
    ]);
    let mut ds = Dataset::default();
    ds.insert_list(
        SERVERS,
        ListOutcome::Items(items(include_str!("fixtures/servers.json"))),
    );
    ds.insert_list(
        SINGLE_SERVERS,
        ListOutcome::Items(items(include_str!("fixtures/single_servers.json"))),
    );
    ds.insert_child(
        CONFIGURATIONS,
        &id("mysqlprivate"),
        ChildOutcome::Items(configurations(&[])),
    );
    ds.insert_child(
        CONFIGURATIONS,
        &id("mysqlpublic"),
        ChildOutcome::Items(weak),
    );
    ds.insert_child(
        FIREWALL_RULES,
        &id("mysqlpublic"),
        ChildOutcome::Items(items(include_str!("fixtures/firewall_rules.json"))),
    );
    ds
}

fn run(check: &str, ds: &Dataset) -> CheckResult {
    testing::run(&SERVICE, check, ds)
}

#[test]
fn every_server_check_passes_the_compliant_server_and_fails_the_weak_one() {
    let ds = dataset();
    for check in SERVICE
        .checks
        .iter()
        .filter(|c| c.reads().contains(&SERVERS))
    {
        let r = run(check.meta.id, &ds);
        assert_eq!(r.status, CheckStatus::Failed, "{}", check.meta.id);
        assert_eq!(
            names(&r, FindingStatus::Passed),
            ["mysqlprivate"],
            "{}",
            check.meta.id
        );
        assert_eq!(
            names(&r, FindingStatus::Failed),
            ["mysqlpublic"],
            "{}",
            check.meta.id
        );
        let failed = r
            .findings
            .iter()
            .find(|f| f.status == FindingStatus::Failed);
        assert!(!failed.expect("failed").evidence.is_empty());
    }
}

#[test]
fn tls_version_and_audit_events_are_lists() {
    for (value, passes) in [
        ("TLSv1.2", true),
        ("TLSv1.3", true),
        ("tlsv1.2, TLSv1.3", true),
        ("TLSv1,TLSv1.1,TLSv1.2", false),
        ("", false),
    ] {
        let mut ds = dataset();
        ds.insert_child(
            CONFIGURATIONS,
            &id("mysqlpublic"),
            ChildOutcome::Items(configurations(&[("tls_version", value)])),
        );
        let r = run("mysql.tls_version", &ds);
        assert_eq!(r.status == CheckStatus::Passed, passes, "{value:?}");
    }
    for (value, passes) in [
        ("CONNECTION", true),
        ("ADMIN,CONNECTION_V2", true),
        ("DDL,DML", false),
        ("CONNECTIONS", false),
    ] {
        let mut ds = dataset();
        ds.insert_child(
            CONFIGURATIONS,
            &id("mysqlpublic"),
            ChildOutcome::Items(configurations(&[("audit_log_events", value)])),
        );
        let r = run("mysql.audit_log_connection", &ds);
        assert_eq!(r.status == CheckStatus::Passed, passes, "{value:?}");
    }
    // A parameter missing from the list fails with null evidence.
    let mut ds = dataset();
    ds.insert_child(
        CONFIGURATIONS,
        &id("mysqlpublic"),
        ChildOutcome::Items(vec![]),
    );
    let r = run("mysql.audit_log_enabled", &ds);
    let f = r.findings.iter().find(|f| f.resource_name == "mysqlpublic");
    let f = f.expect("mysqlpublic");
    assert_eq!(f.status, FindingStatus::Failed);
    assert_eq!(f.evidence[0].value, Value::Null);
}

#[test]
fn the_public_server_names_its_open_rule_and_denial_names_the_action() {
    let ds = dataset();
    let r = run("mysql.public_access_restricted", &ds);
    let f = r.findings.iter().find(|f| f.resource_name == "mysqlpublic");
    assert!(f.expect("mysqlpublic").message.ends_with(": rule1"));
    let mut ds = dataset();
    ds.insert_child(
        FIREWALL_RULES,
        &id("mysqlpublic"),
        ChildOutcome::Failed(FetchError::AccessDenied {
            action: FIREWALL_READ.into(),
            message: String::new(),
        }),
    );
    let r = run("mysql.public_access_restricted", &ds);
    assert_eq!(r.status, CheckStatus::FailedAccessDenied);
    assert_eq!(r.missing_permission.as_deref(), Some(FIREWALL_READ));
}

#[test]
fn single_servers_are_findings() {
    let r = run("mysql.single_server_present", &dataset());
    assert_eq!(r.status, CheckStatus::Failed);
    assert_eq!(names(&r, FindingStatus::Failed), ["mysqllegacy"]);
    let mut ds = dataset();
    ds.insert_list(SINGLE_SERVERS, ListOutcome::Items(vec![]));
    assert_eq!(
        run("mysql.single_server_present", &ds).status,
        CheckStatus::Passed
    );
}
