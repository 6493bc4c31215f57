//! Validation while Azure throttles: the API answers within validation's short time budget
//! that Azure is throttling (the connection stays pending and is validated again), instead of
//! holding the request through minutes of Retry-After waits.

use e2e::{Fleet, FleetOptions, demo_scenario_json, demo_with_unique_secret};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validation_under_throttling_answers_that_azure_is_throttling() {
    let (scenario, secret) = demo_with_unique_secret();
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
    let demo = demo_scenario_json();
    let sub = demo["subscriptions"][0]["id"].as_str().expect("sub");
    // Every read of the subscription is throttled for a minute at a time.
    fleet
        .emulator
        .add_fault(
            azure_emulator::Fault::status(format!("/subscriptions/{sub}"), 429)
                .with_retry_after(60),
        )
        .expect("fault");
    let (id, scan) = fleet.create_demo_connection(&secret).await.expect("create");
    assert!(
        scan.is_none(),
        "a connection that is not validated is not scanned"
    );
    let (code, connection) = fleet
        .call(reqwest::Method::GET, &format!("/v1/connections/{id}"), None)
        .await
        .expect("get");
    assert_eq!(code, 200, "{connection}");
    let status = &connection["status"];
    assert_eq!(status["state"], "pending", "{status}");
    let summary = status["diagnosis"]["summary"].as_str().unwrap_or_default();
    assert!(summary.starts_with("Azure is throttling"), "{summary}");
    assert_eq!(
        status["diagnosis"]["remediation"], "Nothing to do: validation is retried.",
        "{status}"
    );
    fleet.shutdown().await.expect("shutdown");
}
