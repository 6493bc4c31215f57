//! Tests of the Entra ID evaluators over fixtures shaped like the Microsoft Graph v1.0 docs'
//! responses (a `GraphGet` object is kept as a one-item list, as the collector does) and the
//! ARM role definitions list; the authorization-policy checks are declarative (the generic
//! examples test runs them).

use serde_json::{Value, json};

use super::identity::AZURE_MANAGEMENT_APP;
use super::*;
use crate::checks::testing::{list_items as list, names_with, run_over};
use crate::checks::{CheckStatus, Dataset, EvalContext, FetchError, ListOutcome, run_check};
use crate::messages::{CheckResult, FindingStatus};

const SUB: &str = "20ff7fc3-e762-44dd-bd96-b71116dcdc23";

fn body(text: &str) -> Value {
    serde_json::from_str(text).expect("fixture is JSON")
}

fn defaults(enabled: bool) -> Vec<Value> {
    let mut object = body(include_str!("fixtures/security_defaults.json"));
    object["isEnabled"] = json!(enabled);
    vec![object]
}

fn policies() -> Vec<Value> {
    list(include_str!("fixtures/conditional_access.json"))
}

fn run(id: &str, lists: &[(&str, Vec<Value>)]) -> CheckResult {
    run_over(&SERVICE, id, lists, SUB)
}

#[test]
fn mfa_is_enforced_by_security_defaults_or_an_all_users_ca_policy() {
    let id = "entra.mfa_enforced_tenant_wide";
    // Security defaults off, but the fixture's first policy requires MFA for all users.
    let result = run(
        id,
        &[
            (SECURITY_DEFAULTS, defaults(false)),
            (CONDITIONAL_ACCESS, policies()),
        ],
    );
    assert_eq!(result.status, CheckStatus::Passed, "{}", result.reason);
    assert_eq!(result.findings[0].resource_name, "tenant");
    assert_eq!(
        result.findings[0].evidence[1].value,
        json!(["Require MFA for all users"])
    );
    // Only report-only and block policies left: fails.
    let weak: Vec<Value> = policies().into_iter().skip(1).collect();
    let result = run(
        id,
        &[
            (SECURITY_DEFAULTS, defaults(false)),
            (CONDITIONAL_ACCESS, weak.clone()),
        ],
    );
    assert_eq!(result.status, CheckStatus::Failed);
    // Security defaults on pass with no policy at all.
    let result = run(
        id,
        &[
            (SECURITY_DEFAULTS, defaults(true)),
            (CONDITIONAL_ACCESS, Vec::new()),
        ],
    );
    assert_eq!(result.status, CheckStatus::Passed);
    // isEnabled absent and no policy: fails.
    let mut absent = defaults(false);
    if let Some(o) = absent[0].as_object_mut() {
        o.remove("isEnabled");
    }
    let result = run(
        id,
        &[(SECURITY_DEFAULTS, absent), (CONDITIONAL_ACCESS, weak)],
    );
    assert_eq!(result.status, CheckStatus::Failed);
    assert_eq!(result.findings[0].evidence[0].value, Value::Null);
    // An authentication strength counts as an MFA grant.
    let mut strength = policies();
    strength[0]["grantControls"]["builtInControls"] = json!([]);
    strength[0]["grantControls"]["authenticationStrength"] = json!({"id": "00000000-0000-0000-0000-000000000002", "displayName": "Multifactor authentication"});
    let result = run(
        id,
        &[
            (SECURITY_DEFAULTS, defaults(false)),
            (CONDITIONAL_ACCESS, strength),
        ],
    );
    assert_eq!(result.status, CheckStatus::Passed);
}

#[test]
fn azure_management_needs_an_enabled_policy_targeting_it_with_mfa() {
    let id = "entra.ca_mfa_azure_management";
    // The fixture's "All" applications policy covers Azure management.
    let result = run(id, &[(CONDITIONAL_ACCESS, policies())]);
    assert_eq!(result.status, CheckStatus::Passed);
    // Report-only does not count; switching it on does.
    let mut only_azure: Vec<Value> = policies().into_iter().skip(1).collect();
    assert_eq!(
        run(id, &[(CONDITIONAL_ACCESS, only_azure.clone())]).status,
        CheckStatus::Failed
    );
    only_azure[0]["state"] = json!("enabled");
    let result = run(id, &[(CONDITIONAL_ACCESS, only_azure.clone())]);
    assert_eq!(result.status, CheckStatus::Passed);
    // Some users only: fails.
    let mut admins_only = only_azure.clone();
    admins_only[0]["conditions"]["users"]["includeUsers"] = json!([]);
    admins_only[0]["conditions"]["users"]["includeRoles"] =
        json!(["62e90394-69f5-4237-9190-012177145e10"]);
    assert_eq!(
        run(id, &[(CONDITIONAL_ACCESS, admins_only)]).status,
        CheckStatus::Failed
    );
    // Another application only: fails; no policies: fails.
    only_azure[0]["conditions"]["applications"]["includeApplications"] =
        json!(["00000003-0000-0ff1-ce00-000000000000"]);
    assert_ne!(AZURE_MANAGEMENT_APP, "00000003-0000-0ff1-ce00-000000000000");
    assert_eq!(
        run(id, &[(CONDITIONAL_ACCESS, only_azure)]).status,
        CheckStatus::Failed
    );
    let none = run(id, &[(CONDITIONAL_ACCESS, Vec::new())]);
    assert_eq!(none.status, CheckStatus::Failed);
    assert!(none.findings[0].message.contains("0 policies read"));
}

#[test]
fn each_user_row_is_judged_and_admins_are_named_first() {
    let id = "entra.users_mfa_registered";
    let rows = list(include_str!("fixtures/registration_details.json"));
    let result = run(id, &[(REGISTRATION_DETAILS, rows.clone())]);
    assert_eq!(result.status, CheckStatus::Failed);
    let by_name = |name: &str| {
        result
            .findings
            .iter()
            .find(|f| f.resource_name == name)
            .expect("finding per user")
    };
    assert_eq!(by_name("tmorgan@contoso.com").status, FindingStatus::Passed);
    let admin = by_name("admin@contoso.com");
    assert_eq!(admin.status, FindingStatus::Failed);
    assert!(admin.message.contains("Administrator"));
    assert_eq!(admin.evidence[1].value, json!(true));
    assert_eq!(by_name("aliceb@contoso.com").status, FindingStatus::Failed);
    // A row without the flag fails; an empty report is not applicable.
    let mut unknown = rows[..1].to_vec();
    if let Some(o) = unknown[0].as_object_mut() {
        o.remove("isMfaRegistered");
    }
    assert_eq!(
        run(id, &[(REGISTRATION_DETAILS, unknown)]).status,
        CheckStatus::Failed
    );
    let empty = run(id, &[(REGISTRATION_DETAILS, Vec::new())]);
    assert_eq!(empty.status, CheckStatus::NotApplicable);
}

#[test]
fn global_admins_are_counted_as_users_between_two_and_four() {
    let id = "entra.global_admin_count";
    let members = list(include_str!("fixtures/global_admins.json"));
    // Two users and a service principal, which is not counted.
    let result = run(id, &[(GLOBAL_ADMINS, members.clone())]);
    assert_eq!(result.status, CheckStatus::Passed, "{}", result.reason);
    assert_eq!(
        result.findings[0].evidence[0].value,
        json!(["admin@contoso.com", "breakglass@contoso.onmicrosoft.com"])
    );
    let one = run(id, &[(GLOBAL_ADMINS, members[..1].to_vec())]);
    assert_eq!(one.status, CheckStatus::Failed);
    assert!(one.findings[0].message.contains("fewer than 2"));
    assert_eq!(
        run(id, &[(GLOBAL_ADMINS, Vec::new())]).status,
        CheckStatus::Failed
    );
    let many: Vec<Value> = (0..5)
        .map(|i| json!({"@odata.type": "#microsoft.graph.user", "id": format!("u{i}"), "userPrincipalName": format!("ga{i}@contoso.com")}))
        .collect();
    let result = run(id, &[(GLOBAL_ADMINS, many)]);
    assert_eq!(result.status, CheckStatus::Failed);
    assert!(result.findings[0].message.contains("more than 4"));
}

#[test]
fn custom_roles_with_every_action_at_subscription_or_root_fail() {
    let id = "entra.no_custom_owner_roles";
    let roles = list(include_str!("fixtures/custom_roles.json"));
    let result = run(id, &[(CUSTOM_ROLES, roles.clone())]);
    assert_eq!(result.status, CheckStatus::Failed);
    let names = |status| names_with(&result, status);
    // `*` assignable to a resource group only is not subscription-wide.
    assert_eq!(names(FindingStatus::Failed), ["Legacy Subscription Admin"]);
    assert_eq!(
        names(FindingStatus::Passed),
        ["Virtual Machine Operator", "Sandbox Owner"]
    );
    let mut root = roles[2].clone();
    root["properties"]["assignableScopes"] = json!(["/"]);
    assert_eq!(
        run(id, &[(CUSTOM_ROLES, vec![root])]).status,
        CheckStatus::Failed
    );
    let none = run(id, &[(CUSTOM_ROLES, Vec::new())]);
    assert_eq!(none.status, CheckStatus::NotApplicable);
}

#[test]
fn without_graph_permissions_every_graph_check_names_the_permission() {
    let mut ds = Dataset::default();
    for c in SERVICE.collections {
        let outcome = if c.source.is_graph() {
            ListOutcome::Failed(FetchError::AccessDenied {
                action: c.permission.to_string(),
                message: "Insufficient privileges to complete the operation.".into(),
            })
        } else {
            ListOutcome::Items(list(include_str!("fixtures/custom_roles.json")))
        };
        ds.insert_list(c.key, outcome);
    }
    let ctx = EvalContext::new(&ds, chrono::Utc::now(), SUB);
    for check in SERVICE.checks {
        let result = run_check(&SERVICE, check, &ctx);
        let graph = SERVICE
            .permissions_of(check)
            .iter()
            .any(|p| p.contains(".Read."));
        if graph {
            assert_eq!(
                result.status,
                CheckStatus::FailedAccessDenied,
                "{}",
                check.meta.id
            );
            let wanted = SERVICE.permissions_of(check)[0];
            assert_eq!(result.missing_permission.as_deref(), Some(wanted));
            assert!(result.reason.contains(wanted));
        } else {
            assert_eq!(result.status, CheckStatus::Failed, "{}", check.meta.id);
        }
    }
    let permissions: Vec<&str> = SERVICE
        .checks
        .iter()
        .flat_map(|c| SERVICE.permissions_of(c))
        .collect();
    for p in [POLICY_READ_ALL, AUDIT_LOG_READ_ALL, DIRECTORY_READ_ALL] {
        assert!(permissions.contains(&p), "{p}");
    }
}

#[test]
fn tenant_wide_data_is_never_region_filtered() {
    assert!(SERVICE.collections.iter().all(|c| !c.regional));
}
