//! A Redis outage longer than a few delivery attempts loses nothing: the scheduler holds the
//! result it cannot ingest (retrying in place) instead of requeueing it until the broker
//! dead-letters it, and the scan completes once Redis is back. The test runs its own Redis
//! (with an append-only file, as production does) so stopping it disturbs no other test.

use std::time::Duration;

use e2e::own_redis::OwnRedis;
use e2e::{Fleet, FleetOptions, demo_with_unique_secret, wait_until};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_long_redis_outage_dead_letters_nothing_and_the_scan_completes() {
    let mut redis = OwnRedis::start().expect("own redis");
    let (scenario, secret) = demo_with_unique_secret();
    let mut raw = serde_json::to_value(&scenario).expect("json");
    // Slow ARM answers, so Redis can go down while the job is collecting.
    raw["arm_latency_ms"] = serde_json::json!(400);
    let scenario = azure_emulator::Scenario::from_json(&raw.to_string()).expect("scenario");
    let fleet = Fleet::start(
        scenario,
        FleetOptions {
            workers: 1,
            scan_on_create: false,
            redis: Some((redis.url(), false)),
            ..FleetOptions::default()
        },
    )
    .await
    .expect("fleet");
    let (id, _) = fleet.create_demo_connection(&secret).await.expect("create");
    let scan = fleet.rescan(id, Some(&["storage"])).await.expect("rescan");
    let calls_before = fleet.emulator.counters().total;
    wait_until(
        "the job collects from ARM",
        Duration::from_secs(120),
        || async { fleet.emulator.counters().total > calls_before },
    )
    .await;

    // Down for longer than the result's delivery attempts would last if each were spent on a
    // requeue a second apart (the delivery limit is 5).
    redis.down();
    let results = fleet.topology.results().name;
    wait_until(
        "the result waits for Redis",
        Duration::from_secs(120),
        || async {
            fleet.ready_messages(&results).await.unwrap_or(0) > 0
                || fleet.emulator.counters().total > calls_before + 3
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(10)).await;
    redis.up().expect("redis restarts");

    // The test's own store connection reconnects too: an error is "not yet".
    wait_until(
        "the scan completes after the outage",
        Duration::from_secs(120),
        || async {
            matches!(
                fleet.store.scan_progress(id, scan).await,
                Ok(Some(progress)) if progress.completed_at.is_some()
            )
        },
    )
    .await;
    let dead = fleet.topology.results().dead_letter_queue();
    assert_eq!(
        fleet.ready_messages(&dead).await.expect("depth"),
        0,
        "nothing dead-lettered"
    );
    let latest = fleet.store.latest_results(id).await.expect("results");
    assert_eq!(
        latest.len(),
        shared::checks::service("storage")
            .expect("storage")
            .checks
            .len()
    );
    fleet.shutdown().await.expect("cleanup");
}
