//! Tests of the Defender plan table and the Servers components over fixtures shaped like the
//! 2024-01-01 pricings list and the 2022-05-01 settings list.

use serde_json::{Value, json};

use super::plans::{ENDPOINT_SETTING, SERVER_COMPONENTS};
use super::*;
use crate::checks::testing::{list_items as items, names_with};
use crate::checks::{CheckStatus, Dataset, EvalContext, FetchError, ListOutcome, run_check};
use crate::messages::{CheckResult, FindingStatus};

const SUB: &str = "20ff7fc3-e762-44dd-bd96-b71116dcdc23";

fn pricings() -> Vec<Value> {
    items(include_str!("fixtures/pricings.json"))
}

fn settings() -> Vec<Value> {
    items(include_str!("fixtures/settings.json"))
}

fn dataset(pricings: Vec<Value>, settings: Vec<Value>) -> Dataset {
    let mut ds = Dataset::default();
    ds.insert_list(PRICINGS, ListOutcome::Items(pricings));
    ds.insert_list(SETTINGS, ListOutcome::Items(settings));
    ds
}

fn run(id: &str, ds: &Dataset) -> CheckResult {
    let check = SERVICE.check(id).expect("check exists");
    run_check(
        &SERVICE,
        check,
        &EvalContext::new(ds, chrono::Utc::now(), SUB),
    )
}

fn named(result: &CheckResult, status: FindingStatus) -> Vec<&str> {
    let mut names = names_with(result, status);
    names.sort_unstable();
    names
}

/// Sets a pricing's tier (`None` removes the property).
fn with_tier(mut list: Vec<Value>, name: &str, tier: Option<&str>) -> Vec<Value> {
    for p in &mut list {
        if p["name"] == name {
            match tier {
                Some(t) => p["properties"]["pricingTier"] = json!(t),
                None => {
                    if let Some(props) = p["properties"].as_object_mut() {
                        props.remove("pricingTier");
                    }
                }
            }
        }
    }
    list
}

#[test]
fn the_plan_table_gives_one_finding_per_plan_with_the_tier_as_evidence() {
    let ds = dataset(pricings(), settings());
    let servers = run("defender.plan_servers", &ds);
    assert_eq!(servers.status, CheckStatus::Passed);
    assert_eq!(servers.findings[0].resource_name, "VirtualMachines");
    assert_eq!(servers.findings[0].evidence[0].value, json!("Standard"));
    assert!(servers.findings[0].message.contains("sub-plan P2"));

    let sql = run("defender.plan_sql", &ds);
    assert_eq!(sql.status, CheckStatus::Failed);
    assert_eq!(named(&sql, FindingStatus::Passed), ["SqlServers"]);
    assert_eq!(
        named(&sql, FindingStatus::Failed),
        ["SqlServerVirtualMachines"]
    );

    assert_eq!(
        run("defender.plan_storage", &ds).status,
        CheckStatus::Passed
    );
}

#[test]
fn a_plan_missing_from_the_list_or_without_a_tier_fails_with_null_evidence() {
    let ds = dataset(pricings(), settings());
    // CosmosDbs is not in the fixture at all.
    let oss = run("defender.plan_oss_db_cosmos", &ds);
    assert_eq!(
        named(&oss, FindingStatus::Failed),
        ["CosmosDbs", "OpenSourceRelationalDatabases"]
    );
    let cosmos = oss
        .findings
        .iter()
        .find(|f| f.resource_name == "CosmosDbs")
        .expect("finding for the missing plan");
    assert_eq!(
        cosmos.resource_id,
        format!("/subscriptions/{SUB}/providers/Microsoft.Security/pricings/CosmosDbs")
    );
    assert_eq!(cosmos.evidence[0].value, Value::Null);
    // Api has no pricingTier in the fixture.
    let other = run("defender.plan_other", &ds);
    assert_eq!(named(&other, FindingStatus::Failed), ["Api", "AppServices"]);
    assert_eq!(
        named(&other, FindingStatus::Passed),
        ["Arm", "CloudPosture", "KeyVaults"]
    );
    let all_on = ["AppServices", "Api"]
        .iter()
        .fold(pricings(), |list, name| {
            with_tier(list, name, Some("standard"))
        });
    let other = run("defender.plan_other", &dataset(all_on, settings()));
    assert_eq!(
        other.status,
        CheckStatus::Passed,
        "tiers compare ignoring case"
    );
    let free = with_tier(pricings(), "StorageAccounts", None);
    assert_eq!(
        run("defender.plan_storage", &dataset(free, settings())).status,
        CheckStatus::Failed
    );
}

#[test]
fn retired_plans_still_on_surface_as_failures() {
    let on = with_tier(pricings(), "Containers", Some("Standard"));
    let result = run("defender.plan_containers", &dataset(on.clone(), settings()));
    assert_eq!(result.status, CheckStatus::Failed);
    assert_eq!(named(&result, FindingStatus::Passed), ["Containers"]);
    let retired = &result
        .findings
        .iter()
        .find(|f| f.resource_name == "KubernetesService")
        .expect("retired plan finding");
    assert_eq!(retired.status, FindingStatus::Failed);
    assert!(
        retired.message.contains("replaced by Containers"),
        "{}",
        retired.message
    );
    // The retired plan off: only the required plan decides.
    let off = with_tier(on, "KubernetesService", Some("Free"));
    let result = run("defender.plan_containers", &dataset(off, settings()));
    assert_eq!(result.status, CheckStatus::Passed);
    assert_eq!(result.findings.len(), 1);
    // A required plan marked deprecated fails, naming its replacement.
    let mut deprecated = pricings();
    for p in &mut deprecated {
        if p["name"] == "StorageAccounts" {
            p["properties"]["deprecated"] = json!(true);
            p["properties"]["replacedBy"] = json!(["StorageAccountsV3"]);
        }
    }
    let result = run("defender.plan_storage", &dataset(deprecated, settings()));
    assert_eq!(result.status, CheckStatus::Failed);
    assert!(result.findings[0].message.contains("StorageAccountsV3"));
}

#[test]
fn servers_components_need_every_extension_and_the_endpoint_setting() {
    // The fixture has FileIntegrityMonitoring off.
    let result = run(
        "defender.servers_components",
        &dataset(pricings(), settings()),
    );
    assert_eq!(result.status, CheckStatus::Failed);
    let finding = &result.findings[0];
    assert_eq!(finding.resource_name, "VirtualMachines");
    assert!(finding.message.contains("FileIntegrityMonitoring"));
    assert!(!finding.message.contains("AgentlessVmScanning"));

    let mut fixed = pricings();
    for p in &mut fixed {
        if p["name"] == "VirtualMachines" {
            p["properties"]["extensions"] = json!(
                SERVER_COMPONENTS
                    .iter()
                    .map(|(name, _)| json!({"name": name, "isEnabled": "True"}))
                    .collect::<Vec<_>>()
            );
        }
    }
    let ds = dataset(fixed.clone(), settings());
    assert_eq!(
        run("defender.servers_components", &ds).status,
        CheckStatus::Passed
    );
    // WDATP off, or not returned at all, fails.
    let mut wdatp_off = settings();
    wdatp_off
        .iter_mut()
        .filter(|s| s["name"] == ENDPOINT_SETTING)
        .for_each(|s| s["properties"]["enabled"] = json!(false));
    let result = run(
        "defender.servers_components",
        &dataset(fixed.clone(), wdatp_off),
    );
    assert!(result.findings[0].message.contains("WDATP"));
    let result = run("defender.servers_components", &dataset(fixed, Vec::new()));
    assert_eq!(result.status, CheckStatus::Failed);
    // Extensions absent (a Free plan lists none): fails on each component.
    let result = run(
        "defender.servers_components",
        &dataset(Vec::new(), settings()),
    );
    assert_eq!(result.status, CheckStatus::Failed);
    assert!(result.findings[0].message.contains("plan is off"));
}

#[test]
fn a_refused_or_unregistered_pricings_list_decides_every_plan_check() {
    let mut ds = Dataset::default();
    ds.insert_list(
        PRICINGS,
        ListOutcome::Failed(FetchError::AccessDenied {
            action: "Microsoft.Security/pricings/read".into(),
            message: String::new(),
        }),
    );
    ds.insert_list(SETTINGS, ListOutcome::Items(settings()));
    for check in SERVICE.checks {
        let result = run(check.meta.id, &ds);
        assert_eq!(result.status, CheckStatus::FailedAccessDenied);
        assert_eq!(
            result.missing_permission.as_deref(),
            Some("Microsoft.Security/pricings/read")
        );
    }
    let mut ds = Dataset::default();
    ds.insert_list(
        PRICINGS,
        ListOutcome::Failed(FetchError::NotApplicable {
            reason: "Microsoft.Security is not registered".into(),
        }),
    );
    assert_eq!(
        run("defender.plan_servers", &ds).status,
        CheckStatus::NotApplicable
    );
}

#[test]
fn plans_and_settings_are_never_region_filtered() {
    assert!(SERVICE.collections.iter().all(|c| !c.regional));
}
