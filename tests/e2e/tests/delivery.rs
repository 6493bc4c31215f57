//! At-least-once with exactly-once effect: a job delivered twice yields one history entry; a
//! malformed job lands in the dead-letter queue with its reason and the worker keeps serving;
//! a rescan request published by a plain AMQP client (as `rabbitmqadmin` would) is served.

use std::time::Duration;

use e2e::{Fleet, FleetOptions, demo_with_unique_secret};
use lapin::options::{BasicGetOptions, BasicPublishOptions};
use lapin::{BasicProperties, types::AMQPValue};
use shared::broker::routing;
use shared::broker::topology::DEAD_LETTER_REASON_HEADER;
use shared::messages::{ScanJob, Trigger};
use uuid::Uuid;

fn no_first_scan() -> FleetOptions {
    FleetOptions {
        scan_on_create: false,
        ..FleetOptions::default()
    }
}

async fn publish_raw(fleet: &Fleet, routing_key: &str, body: &[u8]) {
    let (conn, channel) = fleet.amqp().await.expect("amqp");
    channel
        .confirm_select(Default::default())
        .await
        .expect("confirms");
    let confirm = channel
        .basic_publish(
            fleet.topology.exchange().as_str().into(),
            routing_key.into(),
            BasicPublishOptions::default(),
            body,
            BasicProperties::default().with_content_type("application/json".into()),
        )
        .await
        .expect("publish")
        .await
        .expect("confirm");
    assert!(confirm.is_ack());
    let _ = conn.close(200, "done".into()).await;
}

async fn wait_until<F, Fut>(what: &str, timeout: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_job_delivered_twice_yields_one_history_entry() {
    let (scenario, secret) = demo_with_unique_secret();
    let fleet = Fleet::start(scenario, no_first_scan())
        .await
        .expect("fleet");
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
    publish_raw(&fleet, routing::JOB_ONDEMAND, &body).await;
    publish_raw(&fleet, routing::JOB_ONDEMAND, &body).await;

    // Both deliveries are worked: the emulator sees two storage account listings.
    let list = format!(
        "GET /subscriptions/{}/providers/Microsoft.Storage/storageAccounts",
        record.subscription_id
    );
    wait_until(
        "both deliveries worked",
        Duration::from_secs(30),
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
        .wait_for_scan(id, scan, Duration::from_secs(30))
        .await
        .expect("scan");
    // Let the second result reach the ingester too, then check nothing was added twice.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(fleet.store.scan_summaries_len(id).await.expect("xlen"), 1);
    for check in shared::checks::service("storage").expect("storage").checks {
        assert_eq!(
            fleet
                .store
                .history_len(id, check.meta.id)
                .await
                .expect("xlen"),
            1,
            "{}",
            check.meta.id
        );
    }
    fleet.shutdown().await.expect("cleanup");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_malformed_job_is_dead_lettered_with_its_reason_and_the_worker_goes_on() {
    let (scenario, secret) = demo_with_unique_secret();
    let fleet = Fleet::start(scenario, no_first_scan())
        .await
        .expect("fleet");
    let (id, _) = fleet.create_demo_connection(&secret).await.expect("create");

    publish_raw(
        &fleet,
        routing::JOB_ONDEMAND,
        b"{\"schema\":\"scan-job\",\"version\":1,\"job_id\":42}",
    )
    .await;
    publish_raw(&fleet, routing::JOB_SCHEDULED, b"\x00\x01 not json at all").await;

    let (conn, channel) = fleet.amqp().await.expect("amqp");
    for queue in [
        fleet.topology.jobs_ondemand(),
        fleet.topology.jobs_scheduled(),
    ] {
        let dead = queue.dead_letter_queue();
        let mut message = None;
        for _ in 0..100 {
            message = channel
                .basic_get(dead.as_str().into(), BasicGetOptions { no_ack: true })
                .await
                .expect("get");
            if message.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let message = message.unwrap_or_else(|| panic!("nothing in {dead}"));
        let headers = message.properties.headers().clone().expect("headers");
        let reason = headers
            .inner()
            .iter()
            .find(|(k, _)| k.as_str() == DEAD_LETTER_REASON_HEADER)
            .map(|(_, v)| v.clone());
        let Some(AMQPValue::LongString(reason)) = reason else {
            panic!("no reason header in {headers:?}");
        };
        let reason = reason.to_string();
        assert!(reason.contains("undecodable job"), "{reason}");
    }
    let _ = conn.close(200, "done".into()).await;

    // The workers still serve: a rescan through the API completes.
    let (code, accepted) = fleet
        .call(
            reqwest::Method::POST,
            &format!("/v1/connections/{id}/rescan"),
            Some(serde_json::json!({"services": ["nsg"]})),
        )
        .await
        .expect("rescan");
    assert_eq!(code, 202, "{accepted}");
    let scan = Uuid::parse_str(accepted["scan_id"].as_str().expect("scan id")).expect("uuid");
    fleet
        .wait_for_scan(id, scan, Duration::from_secs(30))
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
    let (scenario, secret) = demo_with_unique_secret();
    let fleet = Fleet::start(scenario, no_first_scan())
        .await
        .expect("fleet");
    let (id, _) = fleet.create_demo_connection(&secret).await.expect("create");
    let request_id = Uuid::new_v4();
    // Exactly what the README tells operators to publish, with a field from a newer version.
    let body = format!(
        r#"{{"schema":"rescan-request","version":1,"connection_id":"{id}","services":["storage"],"request_id":"{request_id}","requested_by":"ops","added_later":true}}"#
    );
    publish_raw(&fleet, routing::RESCAN, body.as_bytes()).await;
    fleet
        .wait_for_scan(id, request_id, Duration::from_secs(30))
        .await
        .expect("the request id is the scan id");
    let latest = fleet.store.latest_results(id).await.expect("results");
    assert_eq!(
        latest.len(),
        shared::checks::service("storage")
            .expect("svc")
            .checks
            .len()
    );
    assert!(latest.iter().all(|r| r.service == "storage"));

    // A request for an unknown connection is refused into the dead-letter queue, not retried.
    let ghost = format!(
        r#"{{"schema":"rescan-request","version":1,"connection_id":"{}"}}"#,
        Uuid::new_v4()
    );
    publish_raw(&fleet, routing::RESCAN, ghost.as_bytes()).await;
    let (conn, channel) = fleet.amqp().await.expect("amqp");
    let dead = fleet.topology.rescans().dead_letter_queue();
    let mut found = false;
    for _ in 0..100 {
        if channel
            .basic_get(dead.as_str().into(), BasicGetOptions { no_ack: true })
            .await
            .expect("get")
            .is_some()
        {
            found = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(found, "unknown connection request dead-lettered");
    let _ = conn.close(200, "done".into()).await;
    fleet.shutdown().await.expect("cleanup");
}
