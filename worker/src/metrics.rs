//! The worker's metrics: jobs by service and outcome, their duration, jobs in flight, and the
//! results its checks produced; plus the Azure access metrics every binary has.

use prometheus::{HistogramVec, IntCounterVec, IntGauge};
use shared::metrics::Metrics;

#[derive(Debug, Clone)]
pub struct WorkerMetrics {
    pub base: Metrics,
    /// Jobs taken from a queue (`ondemand` or `scheduled`), by service.
    pub jobs_consumed: IntCounterVec,
    /// Jobs finished, by service and outcome: `succeeded` (result published), `unauthenticated`
    /// (result published, the principal could not sign in), `dead_lettered`, `requeued`,
    /// `dropped` (connection deleted).
    pub jobs_completed: IntCounterVec,
    pub job_duration: HistogramVec,
    pub jobs_in_flight: IntGauge,
    /// 1 while the broker blocks this worker's publishes (memory or disk alarm).
    pub broker_blocked: IntGauge,
    /// Check results produced, by check and status.
    pub check_results: IntCounterVec,
}

impl Default for WorkerMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl WorkerMetrics {
    pub fn new() -> Self {
        let base = Metrics::new();
        Self {
            jobs_consumed: base.counter_vec(
                "fleet_jobs_consumed_total",
                "Scan jobs taken from a queue",
                &["service", "queue"],
            ),
            jobs_completed: base.counter_vec(
                "fleet_jobs_completed_total",
                "Scan jobs finished, by outcome",
                &["service", "outcome"],
            ),
            job_duration: base.histogram_vec(
                "fleet_job_duration_seconds",
                "Duration of one scan job, from taking it to acking it",
                &["service"],
                vec![
                    0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0,
                ],
            ),
            jobs_in_flight: base.gauge("fleet_jobs_in_flight", "Scan jobs running now"),
            broker_blocked: base.gauge(
                "fleet_broker_blocked",
                "1 while the broker blocks this process's publishes (resource alarm)",
            ),
            check_results: base.counter_vec(
                "fleet_check_results_total",
                "Check results produced, by check and status",
                &["check", "status"],
            ),
            base,
        }
    }
}

/// Every metric name the worker exports (dashboards are checked against it).
pub fn exported_names() -> Vec<String> {
    WorkerMetrics::new().base.names()
}
