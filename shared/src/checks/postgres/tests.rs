//! Tests of the PostgreSQL checks over fixtures shaped like the ARM list responses.
use serde_json::{Value, json};

use super::*;
use crate::checks::testing::{self, items, names};
use crate::checks::{CheckStatus, ChildOutcome, Dataset, FetchError, ListOutcome};
use crate::messages::{CheckResult, FindingStatus};

fn servers() -> Vec<Value> {
    items(include_str!("fixtures/servers.json"))
}

fn id(name: &str) -> String {
    format!(
        "/subscriptions/ffffffff-ffff-ffff-ffff-ffffffffffff/resourceGroups/testrg/providers/\
         Microsoft.DBforPostgreSQL/flexibleServers/{name}"
    )
}

/// pgprivate: every parameter compliant, private access. pgpublic: weak parameters (some
/// missing), both offending firewall rules.
fn dataset() -> Dataset {
    let good = items(include_str!("fixtures/configurations.json"));
    let weak: Vec<Value> = good
        .iter()
        .filter(|c| c["name"] != "log_disconnections")
        .map(|c| {
            let mut c = c.clone();
            let name = c["name"].as_str().unwrap_or_default().to_string();
            c["properties"]["value"] = match name.as_str() {
                "logfiles.retention_days" => json!("3"),
                "log_checkpoints" => json!("on"),
                _ => json!("off"),
            };
            c
        })
        .collect();
    let mut ds = Dataset::default();
    ds.insert_list(SERVERS, ListOutcome::Items(servers()));
    ds.insert_list(
        SINGLE_SERVERS,
        ListOutcome::Items(items(include_str!("fixtures/single_servers.json"))),
    );
    ds.insert_child(CONFIGURATIONS, &id("pgprivate"), ChildOutcome::Items(good));
    ds.insert_child(CONFIGURATIONS, &id("pgpublic"), ChildOutcome::Items(weak));
    ds.insert_child(
        FIREWALL_RULES,
        &id("pgpublic"),
        ChildOutcome::Items(items(include_str!("fixtures/firewall_rules.json"))),
    );
    ds
}

fn run(check: &str, ds: &Dataset) -> CheckResult {
    testing::run(&SERVICE, check, ds)
}

#[test]
fn parameters_pass_on_compliant_values_and_fail_on_weak_or_missing_ones() {
    let ds = dataset();
    for check in [
        "postgres.require_secure_transport",
        "postgres.session_logging",
        "postgres.connection_throttling",
        "postgres.log_retention",
    ] {
        let r = run(check, &ds);
        assert_eq!(r.status, CheckStatus::Failed, "{check}");
        assert_eq!(names(&r, FindingStatus::Passed), ["pgprivate"], "{check}");
        assert_eq!(names(&r, FindingStatus::Failed), ["pgpublic"], "{check}");
    }
    let r = run("postgres.session_logging", &ds);
    let weak = r.findings.iter().find(|f| f.resource_name == "pgpublic");
    let weak = weak.expect("pgpublic");
    assert!(
        weak.message.contains("log_connections is \"off\""),
        "{}",
        weak.message
    );
    assert!(
        weak.message.contains("log_disconnections is not set"),
        "{}",
        weak.message
    );
    assert!(
        !weak.message.contains("log_checkpoints"),
        "{}",
        weak.message
    );
    let missing = weak
        .evidence
        .iter()
        .find(|e| e.property == "configurations/log_disconnections: properties.value");
    assert_eq!(missing.map(|e| &e.value), Some(&Value::Null));
    let r = run("postgres.log_retention", &ds);
    let weak = r.findings.iter().find(|f| f.resource_name == "pgpublic");
    assert_eq!(weak.expect("pgpublic").evidence[0].value, json!("3"));
}

#[test]
fn firewall_checks_skip_private_servers_and_name_offending_rules() {
    let ds = dataset();
    let r = run("postgres.allow_azure_services_off", &ds);
    assert_eq!(names(&r, FindingStatus::Passed), ["pgprivate"]);
    assert_eq!(names(&r, FindingStatus::Failed), ["pgpublic"]);
    let public = r.findings.iter().find(|f| f.resource_name == "pgpublic");
    let message = &public.expect("pgpublic").message;
    assert!(message.contains("AllowAllAzureServices"), "{message}");
    assert!(
        !message.contains("AllowAll,") && !message.contains("office"),
        "{message}"
    );
    let r = run("postgres.public_access_restricted", &ds);
    let public = r.findings.iter().find(|f| f.resource_name == "pgpublic");
    let message = &public.expect("pgpublic").message;
    assert!(message.ends_with(": AllowAll"), "{message}");

    // Without rules (404 or an empty list) a public server passes.
    let mut ds = dataset();
    ds.insert_child(FIREWALL_RULES, &id("pgpublic"), ChildOutcome::Absent);
    assert_eq!(
        run("postgres.public_access_restricted", &ds).status,
        CheckStatus::Passed
    );
    ds.insert_child(FIREWALL_RULES, &id("pgpublic"), ChildOutcome::Items(vec![]));
    assert_eq!(
        run("postgres.allow_azure_services_off", &ds).status,
        CheckStatus::Passed
    );
    // Only servers with public access have their rules read.
    let [private, public] = [&servers()[0], &servers()[1]];
    assert!(!has_public_access(private) && has_public_access(public));
}

#[test]
fn denied_rules_and_configurations_name_the_action() {
    let mut ds = dataset();
    let denied = |action: &str| {
        ChildOutcome::Failed(FetchError::AccessDenied {
            action: action.to_string(),
            message: "AuthorizationFailed".to_string(),
        })
    };
    ds.insert_child(FIREWALL_RULES, &id("pgpublic"), denied(FIREWALL_READ));
    let r = run("postgres.public_access_restricted", &ds);
    assert_eq!(r.status, CheckStatus::FailedAccessDenied);
    assert_eq!(r.missing_permission.as_deref(), Some(FIREWALL_READ));
    ds.insert_child(CONFIGURATIONS, &id("pgpublic"), denied(CONFIGURATION_READ));
    let r = run("postgres.require_secure_transport", &ds);
    assert_eq!(r.status, CheckStatus::FailedAccessDenied);
    assert_eq!(r.missing_permission.as_deref(), Some(CONFIGURATION_READ));
}

#[test]
fn single_servers_are_findings_and_none_passes() {
    let ds = dataset();
    let r = run("postgres.single_server_present", &ds);
    assert_eq!(r.status, CheckStatus::Failed);
    assert_eq!(names(&r, FindingStatus::Failed), ["pglegacy"]);
    let mut ds = Dataset::default();
    ds.insert_list(SINGLE_SERVERS, ListOutcome::Items(vec![]));
    let r = run("postgres.single_server_present", &ds);
    assert_eq!(r.status, CheckStatus::Passed);
    assert_eq!(names(&r, FindingStatus::Passed), ["sub-1"]);
    // Not registered: not applicable, whatever the flexible servers say.
    let mut ds = dataset();
    ds.insert_list(
        SINGLE_SERVERS,
        ListOutcome::Failed(FetchError::NotApplicable {
            reason: "Provider Microsoft.DBforPostgreSQL is not registered".into(),
        }),
    );
    assert_eq!(
        run("postgres.single_server_present", &ds).status,
        CheckStatus::NotApplicable
    );
}

#[test]
fn no_servers_is_not_applicable() {
    let mut ds = Dataset::default();
    ds.insert_list(SERVERS, ListOutcome::Items(vec![]));
    for check in SERVICE
        .checks
        .iter()
        .filter(|c| c.reads().contains(&SERVERS))
    {
        let r = run(check.meta.id, &ds);
        assert_eq!(r.status, CheckStatus::NotApplicable, "{}", check.meta.id);
        assert_eq!(r.reason, SERVICE.none_in_scope);
    }
}
