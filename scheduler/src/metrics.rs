//! The scheduler's metrics: results ingested, scans enqueued and completed, rescan requests,
//! validations, connections by state (a periodic census), and API requests; plus the Azure
//! access metrics every binary has (validation calls ARM).

use std::time::Duration;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use chrono::Utc;
use prometheus::{IntCounter, IntCounterVec, IntGauge, IntGaugeVec};
use shared::metrics::{Metrics, status_class};
use shared::store::{ConnectionState, Store};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

#[derive(Debug, Clone)]
pub struct SchedulerMetrics {
    pub base: Metrics,
    /// Results consumed, by outcome: `applied`, `duplicate`, `dead_lettered`, `requeued`.
    pub results_ingested: IntCounterVec,
    /// Scans enqueued, by trigger: `scheduled`, `on_demand`.
    pub scans_enqueued: IntCounterVec,
    pub scans_completed: IntCounter,
    /// Rescan requests, by outcome: `enqueued`, `duplicate`, `refused`, `requeued`.
    pub rescan_requests: IntCounterVec,
    /// Validations, by the state they led to.
    pub validations: IntCounterVec,
    /// Connections by state (the latest census).
    pub connections: IntGaugeVec,
    pub connections_stale: IntGauge,
    pub api_requests: IntCounterVec,
    pub broker_blocked: IntGauge,
}

impl Default for SchedulerMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl SchedulerMetrics {
    pub fn new() -> Self {
        let base = Metrics::new();
        Self {
            results_ingested: base.counter_vec(
                "fleet_results_ingested_total",
                "Scan results consumed, by outcome",
                &["outcome"],
            ),
            scans_enqueued: base.counter_vec(
                "fleet_scans_enqueued_total",
                "Scans enqueued (one job per service each), by trigger",
                &["trigger"],
            ),
            scans_completed: base.counter(
                "fleet_scans_completed_total",
                "Scans whose every service result was ingested",
            ),
            rescan_requests: base.counter_vec(
                "fleet_rescan_requests_total",
                "Rescan requests consumed, by outcome",
                &["outcome"],
            ),
            validations: base.counter_vec(
                "fleet_validations_total",
                "Connection validations, by resulting state",
                &["state"],
            ),
            connections: base.gauge_vec(
                "fleet_connections",
                "Connections by state (periodic census; combine replicas with max)",
                &["state"],
            ),
            connections_stale: base.gauge(
                "fleet_connections_stale",
                "Connections without a completed scan for more than 7 days",
            ),
            api_requests: base.counter_vec(
                "fleet_api_requests_total",
                "HTTP API requests, by method, route and status class",
                &["method", "route", "status_class"],
            ),
            broker_blocked: base.gauge(
                "fleet_broker_blocked",
                "1 while the broker blocks this process's publishes (resource alarm)",
            ),
            base,
        }
    }
}

/// Every metric name the scheduler exports (dashboards are checked against it).
pub fn exported_names() -> Vec<String> {
    SchedulerMetrics::new().base.names()
}

const STATES: [ConnectionState; 12] = [
    ConnectionState::Pending,
    ConnectionState::Connected,
    ConnectionState::Active,
    ConnectionState::AuthenticationFailed,
    ConnectionState::ClientSecretExpired,
    ConnectionState::TenantNotFound,
    ConnectionState::ApplicationNotFound,
    ConnectionState::ApplicationDisabled,
    ConnectionState::SubscriptionNotFound,
    ConnectionState::SubscriptionDisabled,
    ConnectionState::PermissionErrors,
    ConnectionState::Stale,
];

/// Counts connections by state every `interval` (one pass over every organization).
pub async fn census(
    store: Store,
    metrics: std::sync::Arc<SchedulerMetrics>,
    interval: Duration,
    shutdown: CancellationToken,
) {
    loop {
        match count_states(&store).await {
            Ok(counts) => {
                for state in STATES {
                    let n = counts.get(state.as_str()).copied().unwrap_or(0);
                    metrics
                        .connections
                        .with_label_values(&[state.as_str()])
                        .set(n);
                }
                metrics
                    .connections_stale
                    .set(counts.get("stale").copied().unwrap_or(0));
            }
            Err(e) => tracing::warn!(error = %e, "connection census failed"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(interval) => {}
        }
    }
}

async fn count_states(
    store: &Store,
) -> Result<std::collections::HashMap<&'static str, i64>, shared::store::StoreError> {
    let mut counts = std::collections::HashMap::new();
    let now = Utc::now();
    for org in store.organizations().await? {
        let records = store.connections_of(&org).await?;
        // Pipelined per organization: a few round trips each, however many connections.
        for chunk in records.chunks(500) {
            for status in store.statuses(chunk, now).await? {
                *counts.entry(status.state.as_str()).or_insert(0) += 1;
            }
        }
    }
    Ok(counts)
}

/// Counts API requests by method, route template and status class.
pub async fn count_requests(
    State(metrics): State<std::sync::Arc<SchedulerMetrics>>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().as_str().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let span =
        tracing::info_span!("http_request", http.request.method = %method, http.route = %route);
    let response = next.run(request).instrument(span).await;
    metrics
        .api_requests
        .with_label_values(&[&method, &route, status_class(response.status().as_u16())])
        .inc();
    response
}
