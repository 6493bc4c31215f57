//! Access denial on one resource provider stays local: a principal whose custom role is
//! `*/read` without `Microsoft.Sql/*` gets "Failed - Access Denied" naming the missing action on
//! every SQL Server and SQL Databases check, and the same verdicts as the demo on every other
//! check (checks the demo's own role denies are now readable, so they end Passed or Failed).

use std::time::Duration;

use e2e::{
    Fleet, FleetOptions, compare_with_expectations, demo_scenario_json, demo_with_unique_secret,
};
use serde_json::{Map, Value, json};
use shared::checks::CheckStatus;

const SQL_SERVICES: [&str; 2] = ["sqlserver", "sqldb"];
const SQL_SERVER_READ: &str = "Microsoft.Sql/servers/read";

fn is_sql(check_id: &str) -> bool {
    SQL_SERVICES
        .iter()
        .any(|s| check_id.starts_with(&format!("{s}.")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_role_without_microsoft_sql_denies_only_the_sql_checks() {
    let (scenario, secret) = demo_with_unique_secret();
    let mut raw = serde_json::to_value(&scenario).expect("json");
    let principal = raw["subscriptions"][0]["access"][0]["object_id"].clone();
    raw["subscriptions"][0]["access"] = json!([{
        "object_id": principal,
        "role": "Contoso Scanner (custom role: Reader without SQL)",
        "actions": ["*/read"],
        "not_actions": ["Microsoft.Sql/*"]
    }]);
    let scenario = azure_emulator::Scenario::from_json(&raw.to_string()).expect("scenario");
    let fleet = Fleet::start(scenario, FleetOptions::default())
        .await
        .expect("fleet");
    let (id, scan) = fleet.create_demo_connection(&secret).await.expect("create");
    fleet
        .wait_for_scan(id, scan.expect("first scan"), Duration::from_secs(120))
        .await
        .expect("scan completes");
    let latest = fleet.store.latest_results(id).await.expect("results");
    let demo = demo_scenario_json();
    let expectations = demo["expectations"].as_object().expect("expectations");

    // Every SQL Server and SQL Databases check: denied, naming the action, no findings.
    let sql_checks: Vec<&str> = shared::checks::catalogue()
        .iter()
        .filter(|s| SQL_SERVICES.contains(&s.id))
        .flat_map(|s| s.checks.iter().map(|c| c.meta.id))
        .collect();
    assert_eq!(
        sql_checks.len(),
        12,
        "8 SQL Server + 4 SQL Databases checks"
    );
    for check_id in &sql_checks {
        let r = latest
            .iter()
            .find(|r| r.result.check_id == *check_id)
            .unwrap_or_else(|| panic!("{check_id}: no result"));
        assert_eq!(
            r.result.status,
            CheckStatus::FailedAccessDenied,
            "{check_id}"
        );
        assert_eq!(
            r.result.missing_permission.as_deref(),
            Some(SQL_SERVER_READ),
            "{check_id}"
        );
        assert!(
            r.result.reason.contains(SQL_SERVER_READ),
            "{check_id}: {}",
            r.result.reason
        );
        assert!(r.result.findings.is_empty(), "{check_id}");
    }

    // Every other check: the demo's verdicts, resource by resource; what the demo's role
    // denied (it excludes flow logs) is readable here and ends Passed or Failed.
    let mut same: Map<String, Value> = Map::new();
    for (check_id, expected) in expectations {
        if is_sql(check_id) {
            continue;
        }
        if expected["status"] == "failed_access_denied" {
            let r = latest.iter().find(|r| &r.result.check_id == check_id);
            let status = r.map(|r| r.result.status);
            assert!(
                matches!(status, Some(CheckStatus::Passed | CheckStatus::Failed)),
                "{check_id}: {status:?}"
            );
        } else if check_id != "entra.no_custom_owner_roles" {
            // (That one reads the role definitions, which this test replaces.)
            same.insert(check_id.clone(), expected.clone());
        }
    }
    assert!(
        same.contains_key("postgres.require_secure_transport") && same.contains_key("blob.logging")
    );
    let mismatches = compare_with_expectations(&latest, &Value::Object(same));
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    for r in latest.iter().filter(|r| !is_sql(&r.result.check_id)) {
        assert_ne!(
            r.result.missing_permission.as_deref(),
            Some(SQL_SERVER_READ),
            "{}",
            r.result.check_id
        );
    }
    fleet.shutdown().await.expect("cleanup");
}
