//! A rescan request is enqueued exactly once, whatever happens around it: an enqueue that was
//! interrupted after the scan was recorded is finished by the redelivered request (not taken
//! for a duplicate), and two copies of one request handled at the same moment publish one set
//! of jobs. No workers run, so the jobs stay countable in their queue.

use std::time::Duration;

use e2e::{Fleet, FleetOptions, demo_with_unique_secret, wait_until};
use shared::broker::routing;
use shared::messages::{RescanRequest, Trigger};
use uuid::Uuid;

/// The value of `fleet_rescan_requests_total{outcome="..."}` on the scheduler's `/metrics`.
async fn rescans_with_outcome(fleet: &Fleet, outcome: &str) -> u64 {
    let Ok(response) = reqwest::get(fleet.api_url("/metrics")).await else {
        return 0;
    };
    let text = response.text().await.unwrap_or_default();
    let wanted = format!("fleet_rescan_requests_total{{outcome=\"{outcome}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&wanted))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map_or(0, |v| v as u64)
}

fn request(connection: Uuid, request_id: Uuid, services: &[&str]) -> Vec<u8> {
    let mut request = RescanRequest::new(
        connection,
        Some(services.iter().map(|s| s.to_string()).collect()),
    );
    request.request_id = Some(request_id);
    serde_json::to_vec(&request).expect("JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rescan_request_enqueues_its_jobs_exactly_once() {
    let (scenario, secret) = demo_with_unique_secret();
    let options = FleetOptions {
        workers: 0,
        scan_on_create: false,
        ..FleetOptions::default()
    };
    let fleet = Fleet::start(scenario, options).await.expect("fleet");
    let (id, _) = fleet.create_demo_connection(&secret).await.expect("create");
    let jobs = fleet.topology.jobs_ondemand().name;

    // A scheduler died after recording scan `interrupted` and before publishing its jobs; the
    // broker redelivers the request.
    let interrupted = Uuid::new_v4();
    fleet
        .store
        .start_scan(id, interrupted, &["storage"], Trigger::OnDemand)
        .await
        .expect("scan recorded");
    fleet
        .publish_raw(routing::RESCAN, &request(id, interrupted, &["storage"]))
        .await
        .expect("publish");
    wait_until(
        "the interrupted enqueue is finished",
        Duration::from_secs(120),
        || async {
            fleet
                .store
                .is_enqueued(id, interrupted)
                .await
                .unwrap_or(false)
        },
    )
    .await;
    assert_eq!(fleet.ready_messages(&jobs).await.expect("depth"), 1);

    // Copies of one request published back to back, handled concurrently (prefetch 8).
    let pairs = 4;
    for _ in 0..pairs {
        let request_id = Uuid::new_v4();
        let body = request(id, request_id, &["storage", "nsg"]);
        fleet
            .publish_raw(routing::RESCAN, &body)
            .await
            .expect("publish");
        fleet
            .publish_raw(routing::RESCAN, &body)
            .await
            .expect("publish");
    }
    wait_until(
        "every copy is handled",
        Duration::from_secs(120),
        || async { rescans_with_outcome(&fleet, "duplicate").await >= pairs },
    )
    .await;
    assert_eq!(rescans_with_outcome(&fleet, "enqueued").await, 1 + pairs);
    assert_eq!(rescans_with_outcome(&fleet, "duplicate").await, pairs);
    assert_eq!(
        fleet.ready_messages(&jobs).await.expect("depth"),
        1 + 2 * pairs as u32,
        "one job per service of each request, whatever the copies"
    );
    fleet.shutdown().await.expect("cleanup");
}
