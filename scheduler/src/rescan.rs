//! Rescan requests: anyone with broker access (the API, the CLI, `rabbitmqadmin`) publishes a
//! `rescan-request`; this consumer turns it into on-demand jobs. The request id becomes the scan
//! id, so a request delivered twice enqueues the same scan (and is skipped once handled).

use std::sync::Arc;
use std::time::Duration;

use lapin::message::Delivery;
use shared::broker::{Broker, ConsumerSpec, Publisher, ack, dead_letter, requeue, serve_queue};
use shared::messages::{RescanRequest, Trigger, decode};
use shared::store::Store;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::scans::{EnqueueError, enqueue_scan, resolve_services};

pub async fn run(
    broker: Arc<Broker>,
    publisher: Publisher,
    store: Store,
    shutdown: CancellationToken,
) {
    let queue = broker.topology().rescans().name;
    let spec = ConsumerSpec {
        queue: queue.clone(),
        prefetch: 8,
        tag: "scheduler-rescan".into(),
        priority: None,
    };
    serve_queue(broker, spec, shutdown, move |delivery| {
        let (publisher, store, queue) = (publisher.clone(), store.clone(), queue.clone());
        async move { handle(&publisher, &store, &queue, &delivery).await }
    })
    .await;
}

async fn handle(publisher: &Publisher, store: &Store, queue: &str, delivery: &Delivery) {
    let request: RescanRequest = match decode(&delivery.data) {
        Ok(r) => r,
        Err(e) => {
            dead_letter(
                publisher,
                queue,
                delivery,
                &format!("undecodable rescan request: {e}"),
            )
            .await;
            return;
        }
    };
    match process(publisher, store, &request).await {
        Ok(()) => ack(delivery).await,
        Err(Outcome::Refused(reason)) => dead_letter(publisher, queue, delivery, &reason).await,
        Err(Outcome::Retry(reason)) => {
            tracing::warn!(%reason, "rescan not enqueued yet; returning the request");
            tokio::time::sleep(Duration::from_secs(1)).await;
            requeue(delivery).await;
        }
    }
}

enum Outcome {
    Refused(String),
    Retry(String),
}

async fn process(
    publisher: &Publisher,
    store: &Store,
    request: &RescanRequest,
) -> Result<(), Outcome> {
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
    if let Some(request_id) = request.request_id
        && store
            .scan_progress(record.id, scan_id)
            .await
            .map_err(|e| retry(&e))?
            .is_some()
    {
        tracing::info!(%request_id, "rescan request already handled");
        return Ok(());
    }
    match enqueue_scan(
        store,
        publisher,
        &record,
        scan_id,
        &services,
        Trigger::OnDemand,
    )
    .await
    {
        Ok(()) => {
            tracing::info!(
                connection_id = %record.id,
                %scan_id,
                requested_by = request.requested_by.as_deref().unwrap_or("unknown"),
                "rescan enqueued"
            );
            Ok(())
        }
        Err(e @ EnqueueError::ChecksNotSelected) => Err(Outcome::Refused(e.to_string())),
        Err(e @ EnqueueError::UnknownServices(_)) => Err(Outcome::Refused(e.to_string())),
        Err(e) => Err(retry(&e)),
    }
}
