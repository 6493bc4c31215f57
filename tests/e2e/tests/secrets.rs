//! No client secret in clear anywhere it could leak: not in any queue message (a tap queue sees
//! every message on the fleet exchange), not in any log line (the whole process's logs, at
//! debug level, are captured), not in any Redis value, not in any API response.

use std::time::Duration;

use base64::Engine;
use e2e::{Fleet, FleetOptions, captured_logs, demo_with_unique_secret, dump_keys};
use lapin::options::{BasicGetOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::FieldTable;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_client_secret_appears_nowhere_in_clear() {
    let (scenario, secret) = demo_with_unique_secret();
    let fleet = Fleet::start(scenario, FleetOptions::default())
        .await
        .expect("fleet");

    // A tap on the fleet exchange sees every job, result and rescan message.
    let (conn, channel) = fleet.amqp().await.expect("amqp");
    let tap = format!("{}tap", fleet.prefix);
    channel
        .queue_declare(
            tap.as_str().into(),
            QueueDeclareOptions {
                exclusive: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .expect("tap");
    channel
        .queue_bind(
            tap.as_str().into(),
            fleet.topology.exchange().as_str().into(),
            "#".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("bind");

    let (id, scan) = fleet
        .create_demo_connection(&format!("  {secret} "))
        .await
        .expect("create");
    fleet
        .wait_for_scan(id, scan.expect("first scan"), Duration::from_secs(120))
        .await
        .expect("scan");
    let (_, rescan) = fleet
        .call(
            reqwest::Method::POST,
            &format!("/v1/connections/{id}/rescan"),
            None,
        )
        .await
        .expect("rescan");

    let encodings = [
        secret.clone(),
        base64::engine::general_purpose::STANDARD.encode(&secret),
        url_encode(&secret),
    ];
    let leaks = |place: &str, text: &str| {
        for e in &encodings {
            assert!(!text.contains(e.as_str()), "client secret found in {place}");
        }
    };

    let mut messages = 0;
    while let Some(m) = channel
        .basic_get(tap.as_str().into(), BasicGetOptions { no_ack: true })
        .await
        .expect("get")
    {
        messages += 1;
        leaks(
            "a queue message body",
            &String::from_utf8_lossy(&m.delivery.data),
        );
        leaks(
            "queue message headers",
            &format!("{:?}", m.delivery.properties),
        );
    }
    assert!(
        messages >= 5,
        "the tap saw jobs, results and a rescan ({messages})"
    );
    let _ = conn.close(200, "done".into()).await;

    let keys = dump_keys(&fleet.store, &fleet.prefix).await.expect("dump");
    assert!(
        keys.len() > 10,
        "the store holds the connection, results and history"
    );
    for (key, value) in &keys {
        leaks(&format!("Redis key {key}"), value);
    }
    // The sealed secret is there, and it is not the secret.
    let record = fleet
        .store
        .connection(id)
        .await
        .expect("get")
        .expect("exists");
    assert!(record.sealed_secret.starts_with("v1.test."));

    for path in [
        format!("/v1/connections/{id}"),
        format!("/v1/connections/{id}/results"),
        format!("/v1/connections?organization_id={}", record.organization_id),
    ] {
        let (_, body) = fleet
            .call(reqwest::Method::GET, &path, None)
            .await
            .expect("api");
        leaks(&format!("API response of {path}"), &body.to_string());
    }
    leaks("the rescan response", &rescan.to_string());

    let logs = captured_logs();
    assert!(logs.contains("job done"), "logs were captured");
    leaks("the logs", &logs);
    fleet.shutdown().await.expect("cleanup");
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
