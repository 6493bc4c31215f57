//! The weekly planner: connections get slots spread over the week, the next scan time is
//! visible, and two scheduler replicas planning at the same moment enqueue each due scan once.

use std::time::Duration;

use chrono::Utc;
use e2e::{Fleet, FleetOptions, demo_with_unique_secret, wait_until};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_never_enqueue_the_same_scan_twice() {
    let (scenario, secret) = demo_with_unique_secret();
    // No workers: jobs stay in the queue where the test counts them. The fleet's own scheduler
    // plans too, so three planners race.
    let fleet = Fleet::start(
        scenario,
        FleetOptions {
            workers: 0,
            scan_on_create: false,
            plan_interval_secs: 0.05,
            ..FleetOptions::default()
        },
    )
    .await
    .expect("fleet");
    // Several connections of several organizations, all due now.
    let mut ids = Vec::new();
    for i in 0..6 {
        let demo = e2e::demo_scenario_json();
        let body = serde_json::json!({
            "organization_id": format!("org-{i}"),
            "name": format!("Connection {i}"),
            "tenant_id": demo["subscriptions"][0]["tenant_id"],
            "client_id": demo["tenants"][0]["applications"][0]["client_id"],
            "subscription_id": demo["subscriptions"][0]["id"],
            "client_secret": secret,
            "cloud": fleet.cloud_json(),
        });
        let (code, created) = fleet
            .call(reqwest::Method::POST, "/v1/connections", Some(body))
            .await
            .expect("create");
        assert_eq!(code, 201, "{created}");
        let id =
            uuid::Uuid::parse_str(created["connection"]["id"].as_str().expect("id")).expect("uuid");
        // Its next scan is visible and within the coming week.
        let next = created["connection"]["status"]["next_scan_at"]
            .as_str()
            .expect("next scan");
        let next = chrono::DateTime::parse_from_rfc3339(next).expect("time");
        assert!(next > Utc::now() && next < Utc::now() + chrono::Duration::days(7));
        ids.push(id);
    }
    for id in &ids {
        fleet
            .store
            .schedule_at(*id, Utc::now() - chrono::Duration::seconds(1))
            .await
            .expect("due");
    }

    // Two more replicas, planning in a tight loop at the same time.
    let replicas = [
        fleet.control().await.expect("replica"),
        fleet.control().await.expect("replica"),
    ];
    let mut handles = Vec::new();
    for control in replicas {
        handles.push(tokio::spawn(async move {
            let mut enqueued = 0;
            for _ in 0..20 {
                enqueued += scheduler::planner::plan_once(&control).await.expect("plan");
            }
            enqueued
        }));
    }
    for h in handles {
        h.await.expect("join");
    }
    // Exactly one scheduled scan per connection: one job per service each.
    let services = shared::checks::catalogue().len() as u32;
    wait_until("every job queued", Duration::from_secs(120), || async {
        fleet
            .ready_messages(&fleet.topology.jobs_scheduled().name)
            .await
            .unwrap_or(0)
            >= ids.len() as u32 * services
    })
    .await;
    let queued = fleet
        .ready_messages(&fleet.topology.jobs_scheduled().name)
        .await
        .expect("depth");
    assert_eq!(queued, ids.len() as u32 * services);

    // And each connection moved on to next week's slot.
    for id in &ids {
        let record = fleet
            .store
            .connection(*id)
            .await
            .expect("get")
            .expect("exists");
        let status = fleet
            .store
            .status(&record, Utc::now())
            .await
            .expect("status");
        let next = status.next_scan_at.expect("next");
        assert!(next > Utc::now(), "{id} rescheduled");
        assert_eq!(next, shared::store::next_slot_after(*id, Utc::now()));
    }
    fleet.shutdown().await.expect("cleanup");
}
