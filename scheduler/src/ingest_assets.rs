//! Ingestion of `asset-batch` messages (issue 15). They arrive on the results queue, signed like
//! scan results; [`crate::ingest`] verifies the signature and hands them here by message type.
//! A batch is written only when it parses, is within the bounds of [`shared::assets`], names an
//! existing connection of the organization it claims, and belongs to a scan that enqueued an
//! asset job; anything else is dead-lettered with the reason and changes nothing. Redis outages
//! are waited out holding the delivery, as for results.

use lapin::message::Delivery;
use shared::assets::{ASSET_SERVICE, AssetBatch};
use shared::broker::hold::{MAX_HOLD, retry_in_place};
use shared::broker::{Publisher, ack, dead_letter, requeue};
use shared::messages::decode;
use shared::store::{IngestOutcome, Store, StoreError};

use crate::metrics::SchedulerMetrics;

pub async fn handle(
    publisher: &Publisher,
    store: &Store,
    metrics: &SchedulerMetrics,
    queue: &str,
    delivery: &Delivery,
) {
    let count = |outcome: &str| metrics.results_ingested.with_label_values(&[outcome]).inc();
    if delivery.data.len() > shared::assets::MAX_BATCH_BYTES {
        dead_letter(
            publisher,
            queue,
            delivery,
            "refused asset batch: message too large",
        )
        .await;
        count("refused");
        return;
    }
    let batch: AssetBatch = match decode(&delivery.data) {
        Ok(b) => b,
        Err(e) => {
            let reason = format!("undecodable asset batch: {e}");
            dead_letter(publisher, queue, delivery, &reason).await;
            count("dead_lettered");
            return;
        }
    };
    let checked = retry_in_place(
        "asset batch check",
        MAX_HOLD,
        StoreError::is_unavailable,
        || check(store, &batch),
    )
    .await
    .into_result();
    match checked {
        Ok(None) => {}
        Ok(Some(reason)) => {
            let reason = format!("refused asset batch: {reason}");
            dead_letter(publisher, queue, delivery, &reason).await;
            count("refused");
            return;
        }
        Err(e) => {
            tracing::warn!(error = %e, "store unavailable for too long; returning the asset batch");
            requeue(delivery).await;
            count("requeued");
            return;
        }
    }
    let held = retry_in_place(
        "asset batch ingestion",
        MAX_HOLD,
        StoreError::is_unavailable,
        || store.ingest_assets(&batch),
    )
    .await;
    let ingested = held.into_result();
    match ingested {
        Ok(IngestOutcome::Refused(reason)) => {
            let reason = format!("refused asset batch: {reason}");
            dead_letter(publisher, queue, delivery, &reason).await;
            count("refused");
        }
        Ok(IngestOutcome::Duplicate) => {
            ack(delivery).await;
            count("duplicate");
        }
        Ok(IngestOutcome::Applied { scan_completed }) => {
            tracing::info!(
                connection_id = %batch.connection_id,
                scan_id = %batch.scan_id,
                seq = batch.seq,
                assets = batch.assets.len(),
                last = batch.total_batches.is_some(),
                scan_completed,
                "asset batch ingested"
            );
            ack(delivery).await;
            count("applied");
            if scan_completed {
                metrics.scans_completed.inc();
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "store unavailable for too long; returning the asset batch");
            requeue(delivery).await;
            count("requeued");
        }
    }
}

/// Why `batch` is not one the fleet produced for an asset job it enqueued, if it is not.
async fn check(store: &Store, batch: &AssetBatch) -> Result<Option<String>, StoreError> {
    let Some(record) = store.connection(batch.connection_id).await? else {
        return Ok(Some("the connection does not exist".into()));
    };
    if record.organization_id != batch.organization_id {
        return Ok(Some(
            "the connection belongs to another organization".into(),
        ));
    }
    if let Err(reason) = batch.validate(&record.subscription_id) {
        return Ok(Some(reason));
    }
    if !store
        .scan_names_service(batch.connection_id, batch.scan_id, ASSET_SERVICE)
        .await?
    {
        return Ok(Some("no asset job was enqueued in this scan".into()));
    }
    Ok(None)
}
