//! Runbook operations: replaying dead-lettered jobs once the cause is fixed, and re-sealing
//! every stored client secret with a new key so the old key can be retired.

use std::time::Duration;

use e2e::{Fleet, FleetOptions, demo_with_unique_secret};
use lapin::BasicProperties;
use lapin::options::BasicPublishOptions;
use secrecy::ExposeSecret;
use shared::crypto::{KeyRing, sealed_with};
use shared::messages::{ScanJob, Trigger};
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dead_lettered_jobs_can_be_listed_and_replayed() {
    let (scenario, secret) = demo_with_unique_secret();
    let fleet = Fleet::start(
        scenario,
        FleetOptions {
            scan_on_create: false,
            ..FleetOptions::default()
        },
    )
    .await
    .expect("fleet");
    let (id, _) = fleet.create_demo_connection(&secret).await.expect("create");
    let record = fleet
        .store
        .connection(id)
        .await
        .expect("get")
        .expect("exists");
    // A job the broker dead-lettered (say, after its delivery limit during an outage).
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
    let queue = fleet.topology.jobs_ondemand();
    let (conn, channel) = fleet.amqp().await.expect("amqp");
    channel
        .confirm_select(Default::default())
        .await
        .expect("confirms");
    let mut headers = lapin::types::FieldTable::default();
    headers.insert(
        shared::broker::topology::DEAD_LETTER_REASON_HEADER.into(),
        lapin::types::AMQPValue::LongString("result not published: broker down".into()),
    );
    channel
        .basic_publish(
            fleet.topology.dead_letter_exchange().as_str().into(),
            queue.name.as_str().into(),
            BasicPublishOptions::default(),
            &serde_json::to_vec(&job).expect("json"),
            BasicProperties::default()
                .with_message_id(job.job_id.to_string().into())
                .with_type("scan-job".into())
                .with_headers(headers),
        )
        .await
        .expect("publish")
        .await
        .expect("confirm");
    let _ = conn.close(200, "done".into()).await;

    let broker = shared::broker::Broker::connect(
        e2e::AMQP_URL.parse().expect("url"),
        fleet.topology.clone(),
        "ops",
    )
    .await
    .expect("broker");
    let letters = scheduler::admin::list_dead_letters(&broker, &queue.name, 10)
        .await
        .expect("list");
    assert_eq!(letters.len(), 1);
    assert_eq!(
        letters[0].message_id.as_deref(),
        Some(job.job_id.to_string().as_str())
    );
    assert!(letters[0].reason.contains("broker down"));
    // Listing leaves them in place.
    assert_eq!(
        fleet
            .ready_messages(&queue.dead_letter_queue())
            .await
            .expect("depth"),
        1
    );

    let replayed = scheduler::admin::replay_dead_letters(&broker, &queue.name, usize::MAX)
        .await
        .expect("replay");
    assert_eq!(replayed, 1);
    fleet
        .wait_for_scan(id, scan, Duration::from_secs(120))
        .await
        .expect("the replayed job ran");
    assert_eq!(
        fleet
            .ready_messages(&queue.dead_letter_queue())
            .await
            .expect("depth"),
        0
    );
    assert!(
        scheduler::admin::list_dead_letters(&broker, "not-a-queue", 1)
            .await
            .is_err()
    );
    broker.close().await;
    fleet.shutdown().await.expect("cleanup");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rotating_the_encryption_key_reseals_every_secret() {
    let (scenario, secret) = demo_with_unique_secret();
    let fleet = Fleet::start(
        scenario,
        FleetOptions {
            scan_on_create: false,
            workers: 0,
            ..FleetOptions::default()
        },
    )
    .await
    .expect("fleet");
    let (id, _) = fleet.create_demo_connection(&secret).await.expect("create");
    let old = fleet
        .store
        .connection(id)
        .await
        .expect("get")
        .expect("exists")
        .sealed_secret;
    assert_eq!(sealed_with(&old), Some("test"));

    // The operator prepends a new key (the old one still opens), then reseals.
    let new_key = KeyRing::generate_key("k2");
    let ring =
        KeyRing::parse(&format!("{new_key},test:{}", old_key_material(&fleet))).expect("ring");
    let (resealed, current) = scheduler::admin::reseal_secrets(&fleet.store, &ring)
        .await
        .expect("reseal");
    assert_eq!((resealed, current), (1, 0));
    let record = fleet
        .store
        .connection(id)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(sealed_with(&record.sealed_secret), Some("k2"));
    // The old key can go: the new key alone opens the secret.
    let only_new = KeyRing::parse(&new_key).expect("ring");
    let opened = only_new
        .open(&record.sealed_secret, &id.to_string())
        .expect("opens");
    assert_eq!(opened.expose_secret(), secret);
    // Running it again changes nothing.
    assert_eq!(
        scheduler::admin::reseal_secrets(&fleet.store, &ring)
            .await
            .expect("again"),
        (0, 1)
    );
    fleet.shutdown().await.expect("cleanup");
}

/// The fleet's test key in `id:base64` form (the harness generated it).
fn old_key_material(fleet: &Fleet) -> String {
    fleet
        .key_spec
        .split_once(':')
        .map(|(_, k)| k.to_string())
        .expect("key spec")
}
