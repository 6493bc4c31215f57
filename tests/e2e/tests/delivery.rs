//! At-least-once with exactly-once effect: a job delivered twice yields one history entry; a
//! malformed job lands in the dead-letter queue with its reason and the worker keeps serving;
//! a rescan request published by a plain AMQP client (as `rabbitmqadmin` would) is served.

use std::time::Duration;

use e2e::{Fleet, FleetOptions, demo_with_unique_secret, wait_until};
use lapin::types::AMQPValue;
use shared::broker::routing;
use shared::broker::topology::DEAD_LETTER_REASON_HEADER;
use shared::messages::{ScanJob, Trigger};
use uuid::Uuid;

async fn fleet_without_first_scans() -> (Fleet, String) {
    let (scenario, secret) = demo_with_unique_secret();
    let options = FleetOptions {
        scan_on_create: false,
        ..FleetOptions::default()
    };
    (
        Fleet::start(scenario, options).await.expect("fleet"),
        secret,
    )
}

fn header(message: &lapin::message::BasicGetMessage, name: &str) -> Option<String> {
    let headers = message.properties.headers().clone()?;
    headers
        .inner()
        .iter()
        .find(|(k, _)| k.as_str() == name)
        .and_then(|(_, v)| match v {
            AMQPValue::LongString(s) => Some(s.to_string()),
            _ => None,
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_job_delivered_twice_yields_one_history_entry() {
    let (fleet, secret) = fleet_without_first_scans().await;
    let (id, first) = fleet.create_demo_connection(&secret).await.expect("create");
    assert!(first.is_none(), "scan_on_create is off");

    let record = fleet
        .store
        .connection(id)
        .await
        .expect("get")
        .expect("exists");
    let scan = Uuid::new_v4();
    fleet
        .store
        .start_scan(id, scan, &["storage"], Trigger::OnDemand)
        .await
        .expect("progress");
    let job = ScanJob::new(
        scan,
        &record.organization_id,
        id,
        "storage",
        Trigger::OnDemand,
    );
    let body = serde_json::to_vec(&job).expect("json");
    // The same job twice, as a redelivery after a lost ack would look.
    for _ in 0..2 {
        fleet
            .publish_raw(routing::JOB_ONDEMAND, &body)
            .await
            .expect("publish");
    }

    // Both deliveries are worked: the emulator sees two storage account listings.
    let list = format!(
        "GET /subscriptions/{}/providers/Microsoft.Storage/storageAccounts",
        record.subscription_id
    );
    wait_until(
        "both deliveries worked",
        Duration::from_secs(120),
        || async {
            fleet
                .emulator
                .counters()
                .by_endpoint
                .get(&list)
                .copied()
                .unwrap_or(0)
                >= 2
        },
    )
    .await;
    fleet
        .wait_for_scan(id, scan, Duration::from_secs(120))
        .await
        .expect("scan");
    // Let the second result reach the ingester too, then check nothing was added twice.
    wait_until(
        "both results consumed",
        Duration::from_secs(120),
        || async {
            fleet
                .ready_messages(&fleet.topology.results().name)
                .await
                .expect("depth")
                == 0
        },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(fleet.store.scan_summaries_len(id).await.expect("xlen"), 1);
    for check in shared::checks::service("storage").expect("storage").checks {
        let entries = fleet
            .store
            .history_len(id, check.meta.id)
            .await
            .expect("xlen");
        assert_eq!(entries, 1, "{}", check.meta.id);
    }
    fleet.shutdown().await.expect("cleanup");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_malformed_job_is_dead_lettered_with_its_reason_and_the_worker_goes_on() {
    let (fleet, secret) = fleet_without_first_scans().await;
    let (id, _) = fleet.create_demo_connection(&secret).await.expect("create");

    let wrong_shape = br#"{"schema":"scan-job","version":1,"job_id":42}"#;
    fleet
        .publish_raw(routing::JOB_ONDEMAND, wrong_shape)
        .await
        .expect("publish");
    fleet
        .publish_raw(routing::JOB_SCHEDULED, b"\x00\x01 not json")
        .await
        .expect("publish");
    for queue in [
        fleet.topology.jobs_ondemand(),
        fleet.topology.jobs_scheduled(),
    ] {
        let dead = queue.dead_letter_queue();
        let message = fleet
            .take_message(&dead, Duration::from_secs(120))
            .await
            .expect("get")
            .unwrap_or_else(|| panic!("nothing in {dead}"));
        let reason = header(&message, DEAD_LETTER_REASON_HEADER).expect("a reason header");
        assert!(reason.contains("undecodable job"), "{reason}");
    }

    // The workers still serve: a rescan of one service through the API completes.
    let scan = fleet.rescan(id, Some(&["nsg"])).await.expect("rescan");
    fleet
        .wait_for_scan(id, scan, Duration::from_secs(120))
        .await
        .expect("scan");
    let progress = fleet
        .store
        .scan_progress(id, scan)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(progress.services_total, 1, "only the asked service");
    fleet.shutdown().await.expect("cleanup");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn any_amqp_client_can_request_a_rescan() {
    let (fleet, secret) = fleet_without_first_scans().await;
    let (id, _) = fleet.create_demo_connection(&secret).await.expect("create");
    let request_id = Uuid::new_v4();
    // What the README tells operators to publish, plus a field from a newer minor version.
    let body = format!(
        r#"{{"schema":"rescan-request","version":1,"connection_id":"{id}","services":["storage"],"request_id":"{request_id}","requested_by":"ops","added_later":true}}"#
    );
    fleet
        .publish_raw(routing::RESCAN, body.as_bytes())
        .await
        .expect("publish");
    fleet
        .wait_for_scan(id, request_id, Duration::from_secs(120))
        .await
        .expect("the request id is the scan id");
    let latest = fleet.store.latest_results(id).await.expect("results");
    let storage_checks = shared::checks::service("storage")
        .expect("svc")
        .checks
        .len();
    assert_eq!(latest.len(), storage_checks);
    assert!(latest.iter().all(|r| r.service == "storage"));

    // A request for an unknown connection is refused into the dead-letter queue, not retried.
    let ghost = format!(
        r#"{{"schema":"rescan-request","version":1,"connection_id":"{}"}}"#,
        Uuid::new_v4()
    );
    fleet
        .publish_raw(routing::RESCAN, ghost.as_bytes())
        .await
        .expect("publish");
    let dead = fleet.topology.rescans().dead_letter_queue();
    let message = fleet
        .take_message(&dead, Duration::from_secs(120))
        .await
        .expect("get")
        .expect("unknown connection request dead-lettered");
    let reason = header(&message, DEAD_LETTER_REASON_HEADER).expect("reason");
    assert!(reason.contains("not found"), "{reason}");
    fleet.shutdown().await.expect("cleanup");
}

/// A message that keeps failing reaches the delivery limit and the broker moves it to the
/// dead-letter queue (at-least-once dead-lettering: the queues are declared with
/// `x-dead-letter-strategy=at-least-once`, which RabbitMQ honours only with reject-publish).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_past_the_delivery_limit_is_dead_lettered_by_the_broker() {
    use lapin::options::{BasicGetOptions, BasicNackOptions};
    let (scenario, _) = demo_with_unique_secret();
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
    let queue = fleet.topology.jobs_scheduled();
    fleet
        .publish_raw(routing::JOB_SCHEDULED, b"{\"poison\":true}")
        .await
        .expect("publish");
    let (conn, channel) = fleet.amqp().await.expect("amqp");
    let limit = shared::broker::topology::DELIVERY_LIMIT;
    let mut deliveries = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while deliveries <= limit {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {deliveries} deliveries"
        );
        if let Some(message) = channel
            .basic_get(
                queue.name.as_str().into(),
                BasicGetOptions { no_ack: false },
            )
            .await
            .expect("get")
        {
            deliveries += 1;
            message
                .delivery
                .nack(BasicNackOptions {
                    requeue: true,
                    ..Default::default()
                })
                .await
                .expect("nack");
        } else {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let _ = conn.close(200, "done".into()).await;
    let dead = fleet
        .take_message(&queue.dead_letter_queue(), Duration::from_secs(120))
        .await
        .expect("get")
        .expect("dead-lettered by the broker");
    assert_eq!(dead.delivery.data, b"{\"poison\":true}");
    assert_eq!(fleet.ready_messages(&queue.name).await.expect("count"), 0);
    fleet.shutdown().await.expect("cleanup");
}
