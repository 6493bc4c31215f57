//! Prometheus metrics: a registry per process, metrics as plain fields (no global state, so
//! several fleets in one test process do not mix their counts).
//!
//! [`Metrics`] is the base every binary has: its registry and the Azure access metrics (ARM
//! requests by status class, 429s, retries, limiter waits, token requests and cache hits),
//! which the ARM client updates. The worker and the scheduler add their own on the same
//! registry. Every metric's name starts with `fleet_`; [`Metrics::names`] lists them so that
//! dashboards can be checked against what the code exports.

use std::sync::Arc;

use prometheus::core::Collector;
use prometheus::{
    Counter, Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

/// A registry and the names of what it holds.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    names: Arc<std::sync::Mutex<Vec<String>>>,
    pub azure: Arc<AzureMetrics>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let names = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut metrics = Self {
            registry,
            names,
            azure: Arc::new(AzureMetrics::unregistered()),
        };
        let azure = AzureMetrics::register(&mut metrics);
        metrics.azure = Arc::new(azure);
        metrics
    }

    /// Registers a collector, remembering its metric names.
    pub fn register<C: Collector + Clone + 'static>(&self, collector: C) -> C {
        if let Ok(mut names) = self.names.lock() {
            names.extend(collector.desc().iter().map(|d| d.fq_name.clone()));
        }
        if let Err(e) = self.registry.register(Box::new(collector.clone())) {
            tracing::warn!(error = %e, "metric registered twice");
        }
        collector
    }

    pub fn counter(&self, name: &str, help: &str) -> IntCounter {
        self.register(IntCounter::new(name, help).unwrap_or_else(|_| fallback_counter()))
    }

    pub fn seconds_counter(&self, name: &str, help: &str) -> Counter {
        self.register(Counter::new(name, help).unwrap_or_else(|_| fallback_seconds()))
    }

    pub fn counter_vec(&self, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
        self.register(
            IntCounterVec::new(Opts::new(name, help), labels)
                .unwrap_or_else(|_| fallback_counter_vec(labels)),
        )
    }

    pub fn gauge(&self, name: &str, help: &str) -> IntGauge {
        self.register(IntGauge::new(name, help).unwrap_or_else(|_| fallback_gauge()))
    }

    pub fn gauge_vec(&self, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
        self.register(
            IntGaugeVec::new(Opts::new(name, help), labels)
                .unwrap_or_else(|_| fallback_gauge_vec(labels)),
        )
    }

    pub fn histogram(&self, name: &str, help: &str, buckets: Vec<f64>) -> Histogram {
        self.register(
            Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets))
                .unwrap_or_else(|_| fallback_histogram()),
        )
    }

    pub fn histogram_vec(
        &self,
        name: &str,
        help: &str,
        labels: &[&str],
        buckets: Vec<f64>,
    ) -> HistogramVec {
        self.register(
            HistogramVec::new(HistogramOpts::new(name, help).buckets(buckets), labels)
                .unwrap_or_else(|_| fallback_histogram_vec(labels)),
        )
    }

    /// The Prometheus text exposition of everything registered.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut buffer) {
            tracing::warn!(error = %e, "cannot encode metrics");
        }
        String::from_utf8(buffer).unwrap_or_default()
    }

    /// Names of every registered metric family (histograms without their suffixes).
    pub fn names(&self) -> Vec<String> {
        self.names.lock().map(|n| n.clone()).unwrap_or_default()
    }
}

/// Azure access: what the ARM client and the token provider do.
#[derive(Debug, Clone)]
pub struct AzureMetrics {
    /// ARM requests by status class (`2xx`, `4xx`, `5xx`, `429`, `error` for no answer).
    pub arm_requests: IntCounterVec,
    pub arm_request_duration: Histogram,
    pub arm_throttled: IntCounter,
    pub arm_retries: IntCounter,
    /// Seconds spent waiting for the fleet-wide read budget.
    pub limiter_wait: Counter,
    pub token_requests: IntCounter,
    pub token_cache_hits: IntCounter,
    pub token_failures: IntCounterVec,
}

impl AzureMetrics {
    fn register(m: &mut Metrics) -> Self {
        Self {
            arm_requests: m.counter_vec(
                "fleet_arm_requests_total",
                "Requests to Azure Resource Manager, by status class",
                &["status_class"],
            ),
            arm_request_duration: m.histogram(
                "fleet_arm_request_duration_seconds",
                "Duration of one ARM request",
                vec![0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0],
            ),
            arm_throttled: m.counter(
                "fleet_arm_throttled_total",
                "ARM requests answered 429 Too Many Requests",
            ),
            arm_retries: m.counter(
                "fleet_arm_retries_total",
                "ARM requests retried (429, 5xx, network, expired token)",
            ),
            limiter_wait: m.seconds_counter(
                "fleet_limiter_wait_seconds_total",
                "Time spent waiting for the fleet-wide ARM read budget",
            ),
            token_requests: m.counter(
                "fleet_token_requests_total",
                "Token requests sent to Entra ID",
            ),
            token_cache_hits: m.counter(
                "fleet_token_cache_hits_total",
                "Tokens served from the credential cache",
            ),
            token_failures: m.counter_vec(
                "fleet_token_failures_total",
                "Failed token requests, by diagnosis",
                &["diagnosis"],
            ),
        }
    }

    /// Metrics not attached to any registry (for code paths built without one).
    pub fn unregistered() -> Self {
        Self {
            arm_requests: fallback_counter_vec(&["status_class"]),
            arm_request_duration: fallback_histogram(),
            arm_throttled: fallback_counter(),
            arm_retries: fallback_counter(),
            limiter_wait: fallback_seconds(),
            token_requests: fallback_counter(),
            token_cache_hits: fallback_counter(),
            token_failures: fallback_counter_vec(&["diagnosis"]),
        }
    }
}

/// The status class label of an HTTP status.
pub fn status_class(status: u16) -> &'static str {
    match status {
        429 => "429",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

// Metric constructors only fail on invalid names or label sets, which are constants here; a
// fallback keeps the process running (and the unit test below proves the real ones build).
fn fallback_counter() -> IntCounter {
    IntCounter::new("fleet_invalid_metric", "invalid").unwrap_or_else(|_| unreachable_metric())
}
fn fallback_seconds() -> Counter {
    Counter::new("fleet_invalid_metric", "invalid").unwrap_or_else(|_| unreachable_metric())
}
fn fallback_counter_vec(labels: &[&str]) -> IntCounterVec {
    IntCounterVec::new(Opts::new("fleet_invalid_metric", "invalid"), labels)
        .unwrap_or_else(|_| unreachable_metric())
}
fn fallback_gauge() -> IntGauge {
    IntGauge::new("fleet_invalid_metric", "invalid").unwrap_or_else(|_| unreachable_metric())
}
fn fallback_gauge_vec(labels: &[&str]) -> IntGaugeVec {
    IntGaugeVec::new(Opts::new("fleet_invalid_metric", "invalid"), labels)
        .unwrap_or_else(|_| unreachable_metric())
}
fn fallback_histogram() -> Histogram {
    Histogram::with_opts(HistogramOpts::new("fleet_invalid_metric", "invalid"))
        .unwrap_or_else(|_| unreachable_metric())
}
fn fallback_histogram_vec(labels: &[&str]) -> HistogramVec {
    HistogramVec::new(
        HistogramOpts::new("fleet_invalid_metric", "invalid"),
        labels,
    )
    .unwrap_or_else(|_| unreachable_metric())
}
fn unreachable_metric<T>() -> T {
    panic!("a constant metric definition is invalid")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn azure_metrics_register_and_render() {
        let m = Metrics::new();
        m.azure.arm_requests.with_label_values(&["2xx"]).inc();
        m.azure.arm_throttled.inc();
        let text = m.render();
        assert!(
            text.contains("fleet_arm_requests_total{status_class=\"2xx\"} 1"),
            "{text}"
        );
        assert!(text.contains("fleet_arm_throttled_total 1"));
        let names = m.names();
        assert!(names.contains(&"fleet_token_requests_total".to_string()));
        assert!(!names.iter().any(|n| n == "fleet_invalid_metric"));
        assert!(names.iter().all(|n| n.starts_with("fleet_")));
    }
}
