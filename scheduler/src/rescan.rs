//! Rescan requests: anyone with broker access (the API, the CLI, `rabbitmqadmin`) publishes a
//! `rescan-request`; this consumer turns it into on-demand jobs. The request id becomes the scan
//! id, so a request delivered twice enqueues the same scan (and is skipped once handled).

use std::sync::Arc;
use std::time::Duration;

use lapin::message::Delivery;
use shared::broker::hold::{MAX_HOLD, retry_in_place};
use shared::broker::{Broker, ConsumerSpec, ack, dead_letter, requeue, serve_queue};
use shared::messages::{RescanRequest, Trigger, decode};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use uuid::Uuid;

use crate::lifecycle::Control;
use crate::scans::{EnqueueError, enqueue_scan, resolve_services};

pub async fn run(broker: Arc<Broker>, control: Control, shutdown: CancellationToken) {
    let queue = broker.topology().rescans().name;
    let spec = ConsumerSpec {
        queue: queue.clone(),
        prefetch: 8,
        tag: "scheduler-rescan".into(),
        priority: None,
    };
    serve_queue(broker, spec, shutdown, move |delivery| {
        let (control, queue) = (control.clone(), queue.clone());
        async move { handle(&control, &queue, &delivery).await }
    })
    .await;
}

async fn handle(control: &Control, queue: &str, delivery: &Delivery) {
    let publisher = &control.publisher;
    let count = |outcome: &str| {
        control
            .metrics
            .rescan_requests
            .with_label_values(&[outcome])
            .inc();
    };
    let request: RescanRequest = match decode(&delivery.data) {
        Ok(r) => r,
        Err(e) => {
            let reason = format!("undecodable rescan request: {e}");
            dead_letter(publisher, queue, delivery, &reason).await;
            count("refused");
            return;
        }
    };
    let span = tracing::info_span!(
        "rescan_request",
        connection_id = %request.connection_id,
        request_id = ?request.request_id,
    );
    shared::telemetry::follow_trace_context(&span, delivery.properties.headers().as_ref());
    async {
        // Store outages and a concurrent copy's lease are waited out in place: requeueing
        // would spend the request's delivery attempts (see `broker::hold`).
        let held = retry_in_place(
            "rescan request",
            MAX_HOLD,
            |e: &Outcome| matches!(e, Outcome::Retry(_)),
            || process(control, &request),
        )
        .await;
        let outcome = held.into_result();
        match outcome {
            Ok(Handled::Enqueued) => {
                ack(delivery).await;
                count("enqueued");
            }
            Ok(Handled::Duplicate) => {
                ack(delivery).await;
                count("duplicate");
            }
            Err(Outcome::Refused(reason)) => {
                dead_letter(publisher, queue, delivery, &reason).await;
                count("refused");
            }
            Err(Outcome::Retry(reason)) => {
                tracing::warn!(%reason, "rescan not enqueued for too long; returning the request");
                requeue(delivery).await;
                count("requeued");
            }
        }
    }
    .instrument(span)
    .await;
}

enum Handled {
    Enqueued,
    Duplicate,
}

enum Outcome {
    Refused(String),
    Retry(String),
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Refused(reason) => write!(f, "refused: {reason}"),
            Outcome::Retry(reason) => write!(f, "not yet: {reason}"),
        }
    }
}

async fn process(control: &Control, request: &RescanRequest) -> Result<Handled, Outcome> {
    let store = &control.store;
    let retry = |e: &dyn std::fmt::Display| Outcome::Retry(e.to_string());
    let record = store
        .connection(request.connection_id)
        .await
        .map_err(|e| retry(&e))?
        .filter(|r| {
            request
                .organization_id
                .as_deref()
                .is_none_or(|org| org == r.organization_id)
        })
        .ok_or_else(|| {
            Outcome::Refused(format!("connection {} not found", request.connection_id))
        })?;
    let services = resolve_services(request.services.as_deref())
        .map_err(|e| Outcome::Refused(e.to_string()))?;
    let scan_id = request.request_id.unwrap_or_else(Uuid::new_v4);
    if request.request_id.is_some() {
        // A duplicate only when every job was published; a record without the mark is an
        // enqueue that was interrupted, and this delivery finishes it.
        if store
            .is_enqueued(record.id, scan_id)
            .await
            .map_err(|e| retry(&e))?
        {
            tracing::info!(%scan_id, "rescan request already handled");
            return Ok(Handled::Duplicate);
        }
        // Two copies of one request handled at once: one publishes, the other comes back
        // when the lease holder has finished (and is then a duplicate).
        if !store
            .claim_enqueue(record.id, scan_id, ENQUEUE_LEASE)
            .await
            .map_err(|e| retry(&e))?
        {
            return Err(Outcome::Retry(format!(
                "another delivery of request {scan_id} is enqueuing it"
            )));
        }
    }
    let outcome = enqueue_claimed(control, request, &record, scan_id, &services).await;
    if request.request_id.is_some()
        && let Err(e) = store.release_enqueue(record.id, scan_id).await
    {
        // The lease expires by itself.
        tracing::warn!(error = %e, "could not release the enqueue lease");
    }
    outcome
}

/// How long one delivery may hold the right to enqueue a request's scan: far above the time
/// publishing a scan's jobs takes, short enough that a redelivery after a crash is not delayed
/// much.
const ENQUEUE_LEASE: Duration = Duration::from_secs(30);

async fn enqueue_claimed(
    control: &Control,
    request: &RescanRequest,
    record: &shared::store::ConnectionRecord,
    scan_id: Uuid,
    services: &[&'static str],
) -> Result<Handled, Outcome> {
    let store = &control.store;
    let retry = |e: &dyn std::fmt::Display| Outcome::Retry(e.to_string());
    let state = store
        .status(record, chrono::Utc::now())
        .await
        .map_err(|e| retry(&e))?
        .state;
    if !state.is_healthy() {
        return Err(Outcome::Refused(format!(
            "connection {} is {}; fix and validate it before scanning",
            record.id,
            state.as_str()
        )));
    }
    match enqueue_scan(
        store,
        &control.publisher,
        record,
        scan_id,
        services,
        Trigger::OnDemand,
    )
    .await
    {
        Ok(()) => {
            control
                .metrics
                .scans_enqueued
                .with_label_values(&["on_demand"])
                .inc();
            tracing::info!(
                connection_id = %record.id,
                %scan_id,
                requested_by = request.requested_by.as_deref().unwrap_or("unknown"),
                "rescan enqueued"
            );
            Ok(Handled::Enqueued)
        }
        Err(e @ EnqueueError::ChecksNotSelected) => Err(Outcome::Refused(e.to_string())),
        Err(EnqueueError::Store(shared::store::StoreError::Gone { .. })) => Err(Outcome::Refused(
            format!("connection {} was deleted", record.id),
        )),
        Err(e @ EnqueueError::UnknownServices(_)) => Err(Outcome::Refused(e.to_string())),
        Err(e) => Err(retry(&e)),
    }
}
