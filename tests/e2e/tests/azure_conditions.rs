//! Scans under hard Azure conditions still evaluate every check: throttling with 429s, server
//! errors, and an expired secret (which moves the connection to "client secret expired" and
//! keeps its history).

use std::time::Duration;

use e2e::{
    Fleet, FleetOptions, compare_with_expectations, demo_scenario_json, demo_with_unique_secret,
};
use shared::checks::CheckStatus;
use shared::store::ConnectionState;

fn scenario_with(
    mut raw: serde_json::Value,
    key: &str,
    value: serde_json::Value,
) -> azure_emulator::Scenario {
    raw[key] = value;
    azure_emulator::Scenario::from_json(&raw.to_string()).expect("scenario")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_scan_that_meets_429s_and_5xx_finishes_with_every_check_evaluated() {
    let (scenario, secret) = demo_with_unique_secret();
    let raw = serde_json::to_value(&scenario).expect("json");
    // A bucket of 10 reads refilled at 20/s (Azure's is 250 at 25/s) for the ~200 reads of the
    // 30 services' demo scan, and flaky gateways.
    let raw = {
        let mut r = raw;
        r["faults"] = serde_json::json!([
            {"path_contains": "networkSecurityGroups", "status": 503, "times": 1},
            {"path_contains": "fileServices", "status": 500, "times": 1},
            {"path_contains": "virtualNetworks", "status": 429, "times": 2, "retry_after": 1}
        ]);
        r
    };
    let scenario = scenario_with(
        raw,
        "throttling",
        serde_json::json!({"enabled": true, "bucket": 10, "refill_per_second": 20.0}),
    );
    let fleet = Fleet::start(scenario, FleetOptions::default())
        .await
        .expect("fleet");
    let (id, scan) = fleet.create_demo_connection(&secret).await.expect("create");
    fleet
        .wait_for_scan(id, scan.expect("first scan"), Duration::from_secs(90))
        .await
        .expect("scan completes");
    let counters = fleet.emulator.counters();
    assert!(counters.throttled > 0, "the scan met throttling");
    assert!(
        counters.faults_injected >= 4,
        "the scan met server errors and 429s"
    );
    let latest = fleet.store.latest_results(id).await.expect("results");
    let errors: Vec<String> = latest
        .iter()
        .filter(|r| r.result.status == CheckStatus::Error)
        .map(|r| format!("{}: {}", r.result.check_id, r.result.reason))
        .collect();
    assert!(errors.is_empty(), "no check ended in Error: {errors:#?}");
    let mismatches = compare_with_expectations(&latest, &demo_scenario_json()["expectations"]);
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    fleet.shutdown().await.expect("cleanup");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_expired_secret_moves_the_connection_to_client_secret_expired() {
    let (scenario, secret) = demo_with_unique_secret();
    let mut raw = serde_json::to_value(&scenario).expect("json");
    // The secret expires soon: the first scan (every service of the catalogue) works, a later
    // one does not. The margin grows with the catalogue, so it is not a few seconds.
    let expires_at = chrono::Utc::now() + chrono::Duration::seconds(15);
    raw["tenants"][0]["applications"][0]["secrets"][0]["expires_at"] =
        serde_json::json!(expires_at.to_rfc3339());
    // Tokens live 1 s, so the worker must ask Entra again for the later scan.
    raw["token_lifetime_seconds"] = serde_json::json!(1);
    let scenario = azure_emulator::Scenario::from_json(&raw.to_string()).expect("scenario");
    // The first scan reads one service, so that it ends well within the secret's 3 seconds
    // however many services the catalogue has.
    let options = FleetOptions {
        scan_on_create: false,
        ..FleetOptions::default()
    };
    let fleet = Fleet::start(scenario, options).await.expect("fleet");
    let (id, _) = fleet.create_demo_connection(&secret).await.expect("create");
    let first = fleet.rescan(id, Some(&["storage"])).await.expect("first");
    fleet
        .wait_for_scan(id, first, Duration::from_secs(120))
        .await
        .expect("first scan");
    e2e::wait_until(
        "the secret has expired",
        Duration::from_secs(120),
        // Past every token issued before the expiry too (1 s lifetimes, whole seconds in `exp`):
        // a job that still holds one would pass the sign-in and fail later, on another reason.
        || async { chrono::Utc::now() > expires_at + chrono::Duration::seconds(3) },
    )
    .await;

    let scan = fleet.rescan(id, None).await.expect("rescan");
    fleet
        .wait_for_scan(id, scan, Duration::from_secs(120))
        .await
        .expect("second scan");
    let record = fleet
        .store
        .connection(id)
        .await
        .expect("get")
        .expect("exists");
    let status = fleet
        .store
        .status(&record, chrono::Utc::now())
        .await
        .expect("status");
    assert_eq!(status.state, ConnectionState::ClientSecretExpired);
    let diagnosis = status.diagnosis.expect("diagnosis");
    // A registered (non-built-in) cloud's own words are never shown; the class is.
    assert!(
        diagnosis.summary.contains("expired_secret"),
        "{diagnosis:?}"
    );
    assert!(
        diagnosis.remediation.contains("new secret"),
        "{diagnosis:?}"
    );
    assert!(diagnosis.details.contains_key("trace_id"));
    // Every check says why it could not run; the history of the first scan is kept.
    let latest = fleet.store.latest_results(id).await.expect("results");
    assert!(latest.iter().all(|r| r.result.status == CheckStatus::Error));
    let other: Vec<String> = latest
        .iter()
        .filter(|r| !r.result.reason.contains("client secret has expired"))
        .map(|r| format!("{}: {}", r.result.check_id, r.result.reason))
        .collect();
    assert!(other.is_empty(), "{other:#?}");
    let history = fleet
        .store
        .history(id, "storage.min_tls_12", 10)
        .await
        .expect("history");
    assert_eq!(history.len(), 2, "the failed result and the first scan's");
    assert_eq!(history[1].status, Some(CheckStatus::Failed));
    fleet.shutdown().await.expect("cleanup");
}
