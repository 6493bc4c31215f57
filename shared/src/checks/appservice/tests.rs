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
        (FTP_POLICIES, include_str!("fixtures/ftp_policies.json")),
        (SCM_POLICIES, include_str!("fixtures/scm_policies.json")),
    ] {
        for (parent, child) in [PORTAL, INGEST].into_iter().zip(items(text)) {
            ds.insert_child(key, parent, ChildOutcome::Object(child));
        }
    }
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
            status_of(&result, "app-portal"),
            FindingStatus::Passed,
            "{id}"
        );
        assert_eq!(
            status_of(&result, "func-ingest"),
            FindingStatus::Failed,
            "{id}"
        );
    }
    let tls = run("appservice.min_tls_12", &ds);
    let ingest = tls
        .findings
        .iter()
        .find(|f| f.resource_name == "func-ingest")
        .expect("finding");
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
    assert_eq!(status_of(&result, "app-portal"), FindingStatus::Passed);
    assert_eq!(status_of(&result, "func-ingest"), FindingStatus::Failed);
    // Only SCM on: still a failure, naming SCM.
    ds.insert_child(
        SCM_POLICIES,
        PORTAL,
        ChildOutcome::Object(json!({"properties": {"allow": true}})),
    );
    let result = run("appservice.basic_auth_disabled", &ds);
    let portal = result
        .findings
        .iter()
        .find(|f| f.resource_name == "app-portal")
        .expect("finding");
    assert_eq!(portal.status, FindingStatus::Failed);
    assert!(portal.message.ends_with("for SCM"), "{}", portal.message);
    // An absent policy (404) is unknown: fails.
    ds.insert_child(SCM_POLICIES, PORTAL, ChildOutcome::Absent);
    let result = run("appservice.basic_auth_disabled", &ds);
    assert_eq!(status_of(&result, "app-portal"), FindingStatus::Failed);
    // An unreadable policy is reported as such for that site only.
    ds.insert_child(
        FTP_POLICIES,
        PORTAL,
        ChildOutcome::Failed(FetchError::AccessDenied {
            action: "Microsoft.Web/sites/basicPublishingCredentialsPolicies/read".into(),
            message: "denied".into(),
        }),
    );
    let result = run("appservice.basic_auth_disabled", &ds);
    assert_eq!(
        status_of(&result, "app-portal"),
        FindingStatus::AccessDenied
    );
    assert_eq!(status_of(&result, "func-ingest"), FindingStatus::Failed);
}

#[test]
fn an_absent_config_child_fails_and_a_denied_site_list_denies_every_check() {
    let mut ds = dataset();
    ds.insert_child(AUTH_SETTINGS, PORTAL, ChildOutcome::Absent);
    assert_eq!(
        status_of(&run("appservice.auth_enabled", &ds), "app-portal"),
        FindingStatus::Failed
    );

    let denied = FetchError::AccessDenied {
        action: "Microsoft.Web/sites/read".into(),
        message: "denied".into(),
    };
    let mut ds = Dataset::default();
    ds.insert_list(SITES, ListOutcome::Failed(denied.clone()));
    for key in [SITE_CONFIGS, AUTH_SETTINGS, FTP_POLICIES, SCM_POLICIES] {
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
