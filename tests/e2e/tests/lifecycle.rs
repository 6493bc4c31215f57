//! Process lifecycle: a worker told to stop (SIGTERM) finishes the jobs it is running and takes
//! no new ones; after a broker restart, the scheduler and workers reconnect by themselves and
//! carry on; under a broker resource alarm they report it and the API refuses rather than
//! waits.

use std::time::Duration;

use e2e::{Fleet, FleetOptions, demo_with_unique_secret, wait_until};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stopping_worker_finishes_running_jobs_and_takes_no_new_ones() {
    let (scenario, secret) = demo_with_unique_secret();
    let mut raw = serde_json::to_value(&scenario).expect("json");
    raw["arm_latency_ms"] = serde_json::json!(400);
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
    let stop = CancellationToken::new();
    let worker = tokio::spawn(worker::run(
        fleet.worker_config("lone", 2),
        stop.clone(),
        None,
    ));

    let (id, _) = fleet.create_demo_connection(&secret).await.expect("create");
    // Two jobs, as many as the worker runs at once.
    let scan = fleet
        .rescan(id, Some(&["storage", "nsg"]))
        .await
        .expect("rescan");
    wait_until("both jobs published", Duration::from_secs(120), || async {
        fleet.store.is_enqueued(id, scan).await.unwrap_or(false)
    })
    .await;
    // Wait until the worker is inside both jobs (its ARM calls are under way), then stop it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while fleet.emulator.counters().total < 2 {
        assert!(tokio::time::Instant::now() < deadline, "jobs never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(120), worker)
        .await
        .expect("worker stops within its grace period")
        .expect("join")
        .expect("worker ran cleanly");
    // Both running jobs were finished and their results published.
    fleet
        .wait_for_scan(id, scan, Duration::from_secs(120))
        .await
        .expect("scan completed");

    // A job published after the stop stays in the queue for the next worker.
    fleet.rescan(id, None).await.expect("rescan");
    let queue = fleet.topology.jobs_ondemand().name;
    wait_until("rescan jobs queued", Duration::from_secs(120), || async {
        fleet.ready_messages(&queue).await.expect("depth") >= 2
    })
    .await;
    fleet.shutdown().await.expect("cleanup");
}

fn rabbitmqctl(args: &[&str]) {
    let status = std::process::Command::new("rabbitmqctl")
        .args(args)
        .status()
        .expect("rabbitmqctl runs");
    assert!(status.success(), "rabbitmqctl {args:?}");
}

/// A whole fleet with the demo connection, once its first scan is complete; the connection id.
async fn demo_fleet_after_its_first_scan() -> (Fleet, Uuid) {
    let (scenario, secret) = demo_with_unique_secret();
    let fleet = Fleet::start(scenario, FleetOptions::default())
        .await
        .expect("fleet");
    let (id, scan) = fleet.create_demo_connection(&secret).await.expect("create");
    fleet
        .wait_for_scan(id, scan.expect("first scan"), Duration::from_secs(120))
        .await
        .expect("first scan");
    (fleet, id)
}

/// Restarts the broker under the running fleet. It disturbs every other test using the broker,
/// so `tests/run.sh` runs it on its own, after the others.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "disruptive: restarts RabbitMQ; run alone (tests/run.sh does)"]
async fn the_fleet_carries_on_after_a_broker_restart() {
    let (fleet, id) = demo_fleet_after_its_first_scan().await;

    rabbitmqctl(&["stop_app"]);
    tokio::time::sleep(Duration::from_secs(2)).await;
    rabbitmqctl(&["start_app"]);
    rabbitmqctl(&["await_startup"]);

    // The API's publisher, the rescan consumer, the workers and the ingester all come back.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    let scan: Uuid = loop {
        let (code, body) = fleet
            .call(
                reqwest::Method::POST,
                &format!("/v1/connections/{id}/rescan"),
                None,
            )
            .await
            .expect("api");
        if code == 202 {
            break Uuid::parse_str(body["scan_id"].as_str().expect("scan id")).expect("uuid");
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "API never published again: {body}"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    fleet
        .wait_for_scan(id, scan, Duration::from_secs(90))
        .await
        .expect("a scan completes after the restart");
    fleet.shutdown().await.expect("cleanup");
}

/// A memory alarm on the broker for as long as it lives: the watermark is set near zero, and
/// put back as it was when dropped (also when the test fails).
struct MemoryAlarm {
    restore: Vec<String>,
}

impl MemoryAlarm {
    fn raise() -> Self {
        let output = std::process::Command::new("rabbitmqctl")
            .args(["eval", "vm_memory_monitor:get_vm_memory_high_watermark()."])
            .output()
            .expect("rabbitmqctl runs");
        let current = String::from_utf8_lossy(&output.stdout).trim().to_string();
        // A relative watermark prints as a number, an absolute one as `{absolute,Bytes}`.
        let restore = match current.parse::<f64>() {
            Ok(_) => vec![current],
            Err(_) => match current
                .trim_start_matches("{absolute,")
                .trim_end_matches('}')
                .parse::<u64>()
            {
                Ok(bytes) => vec!["absolute".to_string(), bytes.to_string()],
                Err(_) => vec!["0.4".to_string()],
            },
        };
        rabbitmqctl(&["set_vm_memory_high_watermark", "0.000001"]);
        MemoryAlarm { restore }
    }
}

impl Drop for MemoryAlarm {
    fn drop(&mut self) {
        let mut args = vec!["set_vm_memory_high_watermark"];
        args.extend(self.restore.iter().map(String::as_str));
        let _ = std::process::Command::new("rabbitmqctl")
            .args(&args)
            .status();
    }
}

async fn probe(url: String) -> (u16, String) {
    match reqwest::get(url).await {
        Ok(r) => {
            let status = r.status().as_u16();
            (status, r.text().await.unwrap_or_default())
        }
        Err(e) => (0, e.to_string()),
    }
}

/// Under a broker resource alarm the processes say so (readiness and `fleet_broker_blocked`)
/// and the API refuses a rescan at once with 503 instead of holding the caller; when the alarm
/// clears they are ready again and scans go on. It blocks every publisher on the broker, so
/// `tests/run.sh` runs it on its own, after the others.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "disruptive: raises a memory alarm on RabbitMQ; run alone (tests/run.sh does)"]
async fn a_blocked_broker_is_reported_and_refused_not_waited_on() {
    // Every process has published by now (requests, jobs, results), which is what the broker
    // blocks.
    let (fleet, id) = demo_fleet_after_its_first_scan().await;
    let scheduler_ready = fleet.api_url("/readyz");
    // A publisher of the test's own, to a queue of its own, that has published once.
    let broker = shared::broker::Broker::connect(
        e2e::AMQP_URL.parse().expect("url"),
        fleet.topology.clone(),
        "alarm-test",
    )
    .await
    .expect("broker");
    let (_conn, channel) = fleet.amqp().await.expect("amqp");
    let queue = format!("{}alarm-test", fleet.prefix);
    channel
        .queue_declare(
            queue.as_str().into(),
            lapin::options::QueueDeclareOptions::default(),
            lapin::types::FieldTable::default(),
        )
        .await
        .expect("queue");
    let publisher = shared::broker::Publisher::new(broker.clone());
    let outgoing = shared::broker::publisher::Outgoing {
        exchange: String::new(),
        routing_key: queue.clone(),
        body: b"{}".to_vec(),
        properties: lapin::BasicProperties::default(),
    };
    publisher.publish_once(&outgoing).await.expect("published");
    {
        let _alarm = MemoryAlarm::raise();
        // The broker blocks a connection when it next publishes (that publish may still go
        // through). From then on a publish is not waited on forever: the confirm that never
        // comes is a failed attempt.
        let _ = tokio::time::timeout(
            shared::broker::publisher::CONFIRM_TIMEOUT * 3,
            publisher.publish_once(&outgoing),
        )
        .await
        .expect("the attempt ends by itself");
        wait_until(
            "the test's connection is blocked",
            Duration::from_secs(60),
            || {
                let broker = broker.clone();
                async move { broker.is_blocked().await }
            },
        )
        .await;
        let attempt = tokio::time::timeout(
            shared::broker::publisher::CONFIRM_TIMEOUT * 3,
            publisher.publish_once(&outgoing),
        )
        .await
        .expect("the attempt ends by itself");
        let error = attempt.expect_err("a blocked publish is not confirmed");
        // (no confirm for a publish on the channel already open, or no channel: opening a new
        // one waits on the blocked connection too)
        assert!(
            error.to_string().contains("no confirm within")
                || error.to_string().contains("no channel within"),
            "{error}"
        );

        // The API: its first rescan under the alarm may get through, or be refused as soon as
        // the scheduler's connection is blocked; after that the scheduler is not ready and
        // refuses at once.
        let rescan_path = format!("/v1/connections/{id}/rescan");
        let rescan = || fleet.call(reqwest::Method::POST, &rescan_path, None);
        let (code, body) = rescan().await.expect("the API answers");
        assert!(code == 202 || code == 503, "{code} {body}");
        wait_until(
            "the scheduler is not ready: blocked",
            Duration::from_secs(60),
            || {
                let url = scheduler_ready.clone();
                async move {
                    let (status, body) = probe(url).await;
                    status == 503 && body.contains("blocked")
                }
            },
        )
        .await;
        let metrics = probe(fleet.api_url("/metrics")).await.1;
        assert!(
            metrics.lines().any(|l| l == "fleet_broker_blocked 1"),
            "the scheduler's gauge shows the block"
        );
        let (code, body) = rescan().await.expect("the API answers");
        assert_eq!(code, 503, "{body}");
        assert_eq!(body["error"], "unavailable");
        assert!(
            body["message"]
                .as_str()
                .unwrap_or_default()
                .contains("alarm"),
            "{body}"
        );
    }
    wait_until(
        "the scheduler is ready again",
        Duration::from_secs(60),
        || {
            let url = scheduler_ready.clone();
            async move { probe(url).await.0 == 200 }
        },
    )
    .await;
    let (code, body) = fleet
        .call(
            reqwest::Method::POST,
            &format!("/v1/connections/{id}/rescan"),
            None,
        )
        .await
        .expect("api");
    assert_eq!(code, 202, "{body}");
    let scan = Uuid::parse_str(body["scan_id"].as_str().expect("scan id")).expect("uuid");
    fleet
        .wait_for_scan(id, scan, Duration::from_secs(120))
        .await
        .expect("a scan completes after the alarm");
    publisher
        .publish_once(&outgoing)
        .await
        .expect("published again");
    publisher.close().await;
    channel
        .queue_delete(
            queue.as_str().into(),
            lapin::options::QueueDeleteOptions::default(),
        )
        .await
        .expect("queue deleted");
    fleet.shutdown().await.expect("cleanup");
}
