//! Tests of the App Service checks that read children: the two basic-auth policies, absent and
//! unreadable children, and a denied site list.

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

const PORTAL: &str = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-web/providers/Microsoft.Web/sites/app-portal";
const INGEST: &str = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-func/providers/Microsoft.Web/sites/func-ingest";

fn dataset() -> Dataset {
    let mut ds = Dataset::default();
    ds.insert_list(
        SITES,
        ListOutcome::Items(items(include_str!("fixtures/sites.json"))),
    );
    for (key, text) in [
        (SITE_CONFIGS, include_str!("fixtures/site_configs.json")),
        (AUTH_SETTINGS, include_str!("fixtures/auth_settings.json")),
    ] {
        for (parent, child) in [PORTAL, INGEST].into_iter().zip(items(text)) {
            ds.insert_child(key, parent, ChildOutcome::Object(child));
        }
    }
    let policies = items(include_str!("fixtures/publishing_policies.json"));
    ds.insert_child(
        PUBLISHING_POLICIES,
        PORTAL,
        ChildOutcome::Items(policies[..2].to_vec()),
    );
    ds.insert_child(
        PUBLISHING_POLICIES,
        INGEST,
        ChildOutcome::Items(policies[2..].to_vec()),
    );
    ds
}

fn run(id: &str, ds: &Dataset) -> CheckResult {
    let check = SERVICE.check(id).expect("check exists");
    run_check(&SERVICE, check, &EvalContext::new(ds, Utc::now(), "s"))
}

fn finding<'a>(result: &'a CheckResult, name: &str) -> &'a crate::messages::Finding {
    result
        .findings
        .iter()
        .find(|f| f.resource_name == name)
        .unwrap_or_else(|| panic!("no finding for {name}"))
}

#[test]
fn settings_are_read_from_config_web_not_the_lists_site_config() {
    let ds = dataset();
    for id in [
        "appservice.min_tls_12",
        "appservice.ftp_disabled",
        "appservice.remote_debugging_off",
        "appservice.auth_enabled",
    ] {
        let result = run(id, &ds);
        assert_eq!(result.status, CheckStatus::Failed, "{id}");
        assert_eq!(
            finding(&result, "app-portal").status,
            FindingStatus::Passed,
            "{id}"
        );
        assert_eq!(
            finding(&result, "func-ingest").status,
            FindingStatus::Failed,
            "{id}"
        );
    }
    let tls = run("appservice.min_tls_12", &ds);
    let ingest = finding(&tls, "func-ingest");
    assert_eq!(
        ingest.evidence[0].property,
        "appservice.site_configs: properties.minTlsVersion"
    );
    assert_eq!(ingest.evidence[0].value, json!("1.0"));
    assert_eq!(
        ingest.resource_type, "Microsoft.Web/sites",
        "the finding names the site"
    );
}

#[test]
fn basic_auth_needs_both_policies_off() {
    let mut ds = dataset();
    let result = run("appservice.basic_auth_disabled", &ds);
    assert_eq!(finding(&result, "app-portal").status, FindingStatus::Passed);
    assert_eq!(
        finding(&result, "func-ingest").status,
        FindingStatus::Failed
    );
    // Only SCM on (names compare ignoring case): still a failure, naming SCM.
    let scm_on = vec![
        json!({"name": "ftp", "properties": {"allow": false}}),
        json!({"name": "SCM", "properties": {"allow": true}}),
    ];
    ds.insert_child(PUBLISHING_POLICIES, PORTAL, ChildOutcome::Items(scm_on));
    let result = run("appservice.basic_auth_disabled", &ds);
    let portal = finding(&result, "app-portal");
    assert_eq!(portal.status, FindingStatus::Failed);
    assert!(portal.message.ends_with("for SCM"), "{}", portal.message);
    // A policy missing from the list, or an empty list, is unknown: fails.
    let ftp_only = vec![json!({"name": "ftp", "properties": {"allow": false}})];
    ds.insert_child(PUBLISHING_POLICIES, PORTAL, ChildOutcome::Items(ftp_only));
    let result = run("appservice.basic_auth_disabled", &ds);
    assert_eq!(finding(&result, "app-portal").status, FindingStatus::Failed);
    ds.insert_child(PUBLISHING_POLICIES, PORTAL, ChildOutcome::Items(Vec::new()));
    let result = run("appservice.basic_auth_disabled", &ds);
    assert!(
        finding(&result, "app-portal")
            .message
            .ends_with("for FTP and SCM")
    );
    // An unreadable list is reported as such for that site only.
    ds.insert_child(
        PUBLISHING_POLICIES,
        PORTAL,
        ChildOutcome::Failed(FetchError::AccessDenied {
            action: "Microsoft.Web/sites/basicPublishingCredentialsPolicies/read".into(),
            message: "denied".into(),
        }),
    );
    let result = run("appservice.basic_auth_disabled", &ds);
    assert_eq!(
        finding(&result, "app-portal").status,
        FindingStatus::AccessDenied
    );
    assert_eq!(
        finding(&result, "func-ingest").status,
        FindingStatus::Failed
    );
    assert_eq!(result.status, CheckStatus::Failed, "a proven failure wins");
}

#[test]
fn an_absent_config_child_fails_and_a_denied_site_list_denies_every_check() {
    let mut ds = dataset();
    ds.insert_child(AUTH_SETTINGS, PORTAL, ChildOutcome::Absent);
    let result = run("appservice.auth_enabled", &ds);
    assert_eq!(finding(&result, "app-portal").status, FindingStatus::Failed);

    let denied = FetchError::AccessDenied {
        action: "Microsoft.Web/sites/read".into(),
        message: "denied".into(),
    };
    let mut ds = Dataset::default();
    ds.insert_list(SITES, ListOutcome::Failed(denied.clone()));
    for key in [SITE_CONFIGS, AUTH_SETTINGS, PUBLISHING_POLICIES] {
        ds.insert_failure(key, denied.clone());
    }
    for check in SERVICE.checks {
        let result = run(check.meta.id, &ds);
        assert_eq!(
            result.status,
            CheckStatus::FailedAccessDenied,
            "{}",
            check.meta.id
        );
        assert_eq!(
            result.missing_permission.as_deref(),
            Some("Microsoft.Web/sites/read")
        );
    }
}
