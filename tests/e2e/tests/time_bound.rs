//! A job that reaches its time bound still answers: its checks end in Error ("time bound
//! exceeded"), the result is published and ingested, the job is acked, and the scan completes,
//! instead of the job being dead-lettered with no result and the scan never completing.

use std::time::Duration;

use e2e::{Fleet, FleetOptions, demo_with_unique_secret};
use shared::checks::CheckStatus;
use tokio_util::sync::CancellationToken;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_job_past_its_time_bound_ends_its_checks_in_error_and_its_scan_completes() {
    let (scenario, secret) = demo_with_unique_secret();
    let mut raw = serde_json::to_value(&scenario).expect("json");
    // Every ARM answer takes longer than the whole job may.
    raw["arm_latency_ms"] = serde_json::json!(2500);
    let scenario = azure_emulator::Scenario::from_json(&raw.to_string()).expect("scenario");
    let fleet = Fleet::start(
        scenario,
        FleetOptions {
            workers: 0,
            scan_on_create: false,
            ..FleetOptions::default()
        },
    )
    .await
    .expect("fleet");
    let mut config = fleet.worker_config("bounded", 1);
    config.job_timeout_secs = 1;
    let stop = CancellationToken::new();
    let worker = tokio::spawn(worker::run(config, stop.clone(), None));

    let (id, _) = fleet.create_demo_connection(&secret).await.expect("create");
    let scan = fleet.rescan(id, Some(&["storage"])).await.expect("rescan");
    fleet
        .wait_for_scan(id, scan, Duration::from_secs(120))
        .await
        .expect("the scan completes");
    let latest = fleet.store.latest_results(id).await.expect("results");
    let storage = shared::checks::service("storage").expect("storage");
    assert_eq!(latest.len(), storage.checks.len());
    for result in &latest {
        assert_eq!(
            result.result.status,
            CheckStatus::Error,
            "{}",
            result.result.check_id
        );
        assert!(
            result.result.reason.contains("time bound exceeded"),
            "{}",
            result.result.reason
        );
    }
    let dead = fleet.topology.jobs_ondemand().dead_letter_queue();
    assert_eq!(fleet.ready_messages(&dead).await.expect("depth"), 0);
    stop.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(120), worker).await;
    fleet.shutdown().await.expect("cleanup");
}
