//! What operators see: one trace across the queue (API rescan -> rescan consumer -> job ->
//! worker -> an ARM-call span per request -> result -> ingest), and Prometheus metrics on both
//! binaries that move as a scan happens, with health probes.

use std::time::Duration;

use e2e::{Fleet, FleetOptions, demo_with_unique_secret, finished_spans};
use opentelemetry::Value as OtelValue;
use opentelemetry::trace::TraceId;

/// Sum of the samples of `name` whose labels contain every `label="value"` in `labels`.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit_once(' '))
        .filter(|(series, _)| {
            let (metric, rest) = series.split_once('{').unwrap_or((series, ""));
            metric == name
                && labels
                    .iter()
                    .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")))
        })
        .filter_map(|(_, v)| v.parse::<f64>().ok())
        .sum()
}

fn attribute(span: &opentelemetry_sdk::trace::SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| match &kv.value {
            OtelValue::String(s) => s.to_string(),
            other => other.to_string(),
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_trace_spans_api_scheduler_worker_and_ingest_and_metrics_move() {
    let (scenario, secret) = demo_with_unique_secret();
    let fleet = Fleet::start(scenario, FleetOptions::default())
        .await
        .expect("fleet");
    let (id, first) = fleet.create_demo_connection(&secret).await.expect("create");
    fleet
        .wait_for_scan(id, first.expect("first"), Duration::from_secs(120))
        .await
        .expect("first scan");

    let before = fleet.emulator.counters();
    let scan = fleet.rescan(id, Some(&["nsg"])).await.expect("rescan");
    fleet
        .wait_for_scan(id, scan, Duration::from_secs(120))
        .await
        .expect("rescan completes");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let nsg_requests: u64 = fleet
        .emulator
        .counters()
        .by_endpoint
        .iter()
        .filter(|(k, _)| k.contains("Microsoft.Network"))
        .map(|(k, v)| v - before.by_endpoint.get(k).copied().unwrap_or(0))
        .sum();
    assert_eq!(nsg_requests, 8);

    // The trace: it starts at the API request that asked for the rescan.
    let spans = finished_spans();
    let root = spans
        .iter()
        .find(|s| {
            s.name == "http_request"
                && attribute(s, "http.route").as_deref() == Some("/v1/connections/{id}/rescan")
        })
        .expect("a span for the rescan API call");
    let trace: TraceId = root.span_context.trace_id();
    let in_trace: Vec<_> = spans
        .iter()
        .filter(|s| s.span_context.trace_id() == trace)
        .collect();
    let names: Vec<&str> = in_trace.iter().map(|s| s.name.as_ref()).collect();
    for expected in [
        "http_request",
        "rescan_request",
        "enqueue_scan",
        "scan_job",
        "ingest_result",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from the trace: {names:?}"
        );
    }
    let arm: Vec<_> = in_trace.iter().filter(|s| s.name == "arm_call").collect();
    assert_eq!(
        arm.len() as u64,
        nsg_requests,
        "one ARM-call span per request"
    );
    for span in &arm {
        let template = attribute(span, "url.template").expect("path template");
        assert!(
            template.starts_with("/subscriptions/{subscriptionId}"),
            "{template}"
        );
        assert!(!template.contains(id.to_string().as_str()));
        assert!(
            attribute(span, "http.response.status_code").is_some(),
            "{template}: no status"
        );
        assert!(
            attribute(span, "retries").is_some() && attribute(span, "limiter_wait_ms").is_some()
        );
    }
    // No secret in any span attribute.
    for span in &spans {
        for kv in &span.attributes {
            assert!(
                !kv.value.to_string().contains(&secret),
                "secret in span {}",
                span.name
            );
        }
    }

    // Metrics: the workers'.
    let http = reqwest::Client::new();
    let mut worker_text = String::new();
    for addr in &fleet.worker_metrics {
        let base = format!("http://{addr}");
        assert_eq!(
            http.get(format!("{base}/healthz"))
                .send()
                .await
                .expect("healthz")
                .status(),
            200
        );
        assert_eq!(
            http.get(format!("{base}/readyz"))
                .send()
                .await
                .expect("readyz")
                .status(),
            200
        );
        worker_text.push_str(
            &http
                .get(format!("{base}/metrics"))
                .send()
                .await
                .expect("metrics")
                .text()
                .await
                .expect("text"),
        );
    }
    let w = |name: &str, labels: &[(&str, &str)]| sample(&worker_text, name, labels);
    let services = shared::checks::catalogue().len() as f64;
    assert_eq!(
        w("fleet_jobs_completed_total", &[("outcome", "succeeded")]),
        services + 1.0,
        "a first-scan job per service + 1 rescan job"
    );
    assert_eq!(
        w(
            "fleet_jobs_consumed_total",
            &[("service", "nsg"), ("queue", "ondemand")]
        ),
        2.0
    );
    assert_eq!(
        w(
            "fleet_job_duration_seconds_count",
            &[("service", "storage")]
        ),
        1.0
    );
    assert_eq!(w("fleet_jobs_in_flight", &[]), 0.0);
    // First scan 12 requests, rescan 8; the flow-log lists (2 per NSG scan) are refused.
    // Network and edge services: 48 in the first scan, one of them the 404 of an Event Hubs
    // namespace without a network rule set.
    // The exact counts per service are the fleet scan test's; here they only have to move.
    assert!(w("fleet_arm_requests_total", &[("status_class", "2xx")]) >= 16.0 + 47.0 + 41.0);
    assert!(
        w("fleet_arm_requests_total", &[("status_class", "4xx")]) >= 4.0 + 1.0 + 1.0,
        "the flow-log 403s of two nsg scans, the absent Event Hubs rule set, one absent authsettingsV2"
    );
    assert!(w("fleet_token_requests_total", &[]) >= 1.0);
    assert!(w("fleet_token_cache_hits_total", &[]) >= 1.0);
    assert_eq!(
        w(
            "fleet_check_results_total",
            &[("check", "storage.min_tls_12"), ("status", "failed")]
        ),
        1.0
    );
    assert_eq!(
        w(
            "fleet_check_results_total",
            &[
                ("check", "nsg.flow_logs_retention"),
                ("status", "failed_access_denied")
            ]
        ),
        2.0
    );

    // The scheduler's.
    let text = http
        .get(fleet.api_url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    let s = |name: &str, labels: &[(&str, &str)]| sample(&text, name, labels);
    assert_eq!(
        s("fleet_results_ingested_total", &[("outcome", "applied")]),
        shared::checks::catalogue().len() as f64 + 1.0
    );
    assert_eq!(
        s("fleet_scans_enqueued_total", &[("trigger", "on_demand")]),
        2.0
    );
    assert_eq!(s("fleet_scans_completed_total", &[]), 2.0);
    // The first scan is requested through the rescan queue too.
    assert_eq!(
        s("fleet_rescan_requests_total", &[("outcome", "enqueued")]),
        2.0
    );
    assert_eq!(s("fleet_validations_total", &[("state", "connected")]), 1.0);
    assert!(
        s("fleet_arm_requests_total", &[("status_class", "2xx")]) >= 3.0,
        "validation's ARM calls"
    );
    assert_eq!(
        s(
            "fleet_api_requests_total",
            &[
                ("route", "/v1/connections/{id}/rescan"),
                ("status_class", "2xx")
            ]
        ),
        1.0
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let text = http
            .get(fleet.api_url("/metrics"))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text");
        if sample(&text, "fleet_connections", &[("state", "active")]) == 1.0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the census never counted the active connection"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        http.get(fleet.api_url("/readyz"))
            .send()
            .await
            .expect("readyz")
            .status(),
        200
    );
    fleet.shutdown().await.expect("cleanup");
}
