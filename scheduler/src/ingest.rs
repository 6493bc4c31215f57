//! The results ingester: consumes scan results and writes them to Redis (latest per check,
//! change history, status counters, scan progress). Ingestion is idempotent, so redelivered
//! results change nothing; a result that does not parse is dead-lettered with the reason; a
//! Redis outage returns the result to the queue to try again.

use std::sync::Arc;

use lapin::message::Delivery;
use shared::broker::hold::{Held, MAX_HOLD, retry_in_place};
use shared::broker::{Broker, ConsumerSpec, Publisher, ack, dead_letter, requeue, serve_queue};
use shared::messages::{ScanResult, decode};
use shared::store::{IngestOutcome, Store, StoreError};

use crate::metrics::SchedulerMetrics;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

pub async fn run(
    broker: Arc<Broker>,
    publisher: Publisher,
    store: Store,
    metrics: Arc<SchedulerMetrics>,
    prefetch: u16,
    shutdown: CancellationToken,
) {
    let queue = broker.topology().results().name;
    let spec = ConsumerSpec {
        queue: queue.clone(),
        prefetch,
        tag: "scheduler-ingest".into(),
        priority: None,
    };
    serve_queue(broker, spec, shutdown, move |delivery| {
        let (publisher, store, queue, metrics) = (
            publisher.clone(),
            store.clone(),
            queue.clone(),
            metrics.clone(),
        );
        async move { handle(&publisher, &store, &metrics, &queue, &delivery).await }
    })
    .await;
}

async fn handle(
    publisher: &Publisher,
    store: &Store,
    metrics: &SchedulerMetrics,
    queue: &str,
    delivery: &Delivery,
) {
    let count = |outcome: &str| metrics.results_ingested.with_label_values(&[outcome]).inc();
    let result: ScanResult = match decode(&delivery.data) {
        Ok(r) => r,
        Err(e) => {
            dead_letter(
                publisher,
                queue,
                delivery,
                &format!("undecodable result: {e}"),
            )
            .await;
            count("dead_lettered");
            return;
        }
    };
    let span = tracing::info_span!(
        "ingest_result",
        job_id = %result.job_id,
        scan_id = %result.scan_id,
        connection_id = %result.connection_id,
        service = %result.service,
    );
    shared::telemetry::follow_trace_context(&span, delivery.properties.headers().as_ref());
    async {
        // A store outage is waited out holding the delivery: requeueing would spend the
        // result's delivery attempts and dead-letter it (see `broker::hold`).
        let held = retry_in_place(
            "result ingestion",
            MAX_HOLD,
            StoreError::is_unavailable,
            || store.ingest(&result),
        )
        .await;
        let ingested = match held {
            Held::Done(outcome) => outcome,
            Held::GaveUp(e) => Err(e),
        };
        match ingested {
            Ok(IngestOutcome::Duplicate) => {
                tracing::info!("result already ingested; nothing changed");
                ack(delivery).await;
                count("duplicate");
            }
            Ok(IngestOutcome::Applied { scan_completed }) => {
                tracing::info!(
                    checks = result.checks.len(),
                    scan_completed,
                    "result ingested"
                );
                ack(delivery).await;
                count("applied");
                if scan_completed {
                    metrics.scans_completed.inc();
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "store unavailable for too long; returning the result");
                requeue(delivery).await;
                count("requeued");
            }
        }
    }
    .instrument(span)
    .await;
}
