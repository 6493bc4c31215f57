//! The asset job (issue 15): read the subscription's resource groups and resources page by page
//! through the connection's ARM session (so the fleet-wide read budget applies) and publish them
//! as signed `asset-batch` messages on the results routing key, one page (or part of one) at a
//! time, so that no more than a page and one batch are held in memory whatever the
//! subscription's size. The last batch says how many batches there were and whether every read
//! succeeded; the ingester marks assets removed only after a complete read.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use lapin::message::Delivery;
use serde_json::Value;
use shared::assets::{AssetBatch, AssetData, MAX_BATCH_ASSETS, from_arm, validate_asset};
use shared::azure::ArmSession;
use shared::broker::{Publisher, ack, dead_letter, requeue, routing};
use shared::checks::region::RegionFilter;
use shared::messages::ScanJob;

use crate::scan::{JobError, ScanContext, principal_of};

/// API version of `Microsoft.Resources` lists.
const RESOURCES_API: &str = "2021-04-01";
/// Most pages followed per list (10,000 x 1,000 items).
const MAX_PAGES: usize = 10_000;
/// A batch is sent once its assets' JSON reaches this many bytes (under the ingester's bound).
const BATCH_BYTES: usize = 2 * 1024 * 1024;

/// Why an asset job stopped before its last batch was published.
#[derive(Debug, thiserror::Error)]
enum AssetError {
    #[error(transparent)]
    Job(#[from] JobError),
    #[error("asset batch not published: {0}")]
    Publish(#[from] shared::broker::BrokerError),
}

/// Runs one asset job and acks, requeues or dead-letters its delivery.
pub async fn handle(
    publisher: &Publisher,
    ctx: &ScanContext,
    queue: &str,
    delivery: &Delivery,
    job: &ScanJob,
    timeout: Duration,
) {
    let seq = Arc::new(AtomicU32::new(0));
    let outcome = match tokio::time::timeout(timeout, run(publisher, ctx, job, seq.clone())).await {
        Ok(outcome) => outcome,
        Err(_) => {
            // Batches already published stay; the last one says the read was incomplete, so
            // nothing is marked removed and the scan completes.
            let mut out = Outbox::new(publisher, ctx, job, seq);
            out.finish(Some(format!(
                "time bound exceeded (the job did not finish within {} s)",
                timeout.as_secs()
            )))
            .await
        }
    };
    match outcome {
        Ok(()) => ack(delivery).await,
        Err(AssetError::Job(JobError::ConnectionGone(id))) => {
            tracing::info!(connection_id = %id, "connection deleted; dropping its asset job");
            ack(delivery).await;
        }
        Err(AssetError::Job(JobError::Unprocessable(reason))) => {
            dead_letter(publisher, queue, delivery, &reason).await
        }
        Err(e) => {
            tracing::warn!(error = %e, "asset job not finished; returning it");
            requeue(delivery).await;
        }
    }
}

/// Batches on their way out. Batch numbers are taken before publishing, so a job cut off by its
/// time bound never reuses one that may have been published.
struct Outbox<'a> {
    publisher: &'a Publisher,
    ctx: &'a ScanContext,
    job: &'a ScanJob,
    seq: Arc<AtomicU32>,
    assets: Vec<AssetData>,
    bytes: usize,
}

impl<'a> Outbox<'a> {
    fn new(
        publisher: &'a Publisher,
        ctx: &'a ScanContext,
        job: &'a ScanJob,
        seq: Arc<AtomicU32>,
    ) -> Self {
        Self {
            publisher,
            ctx,
            job,
            seq,
            assets: Vec::new(),
            bytes: 0,
        }
    }

    async fn push(&mut self, asset: AssetData) -> Result<(), AssetError> {
        self.bytes += serde_json::to_vec(&asset).map_or(0, |v| v.len());
        self.assets.push(asset);
        if self.assets.len() >= MAX_BATCH_ASSETS || self.bytes >= BATCH_BYTES {
            self.send(None).await?;
        }
        Ok(())
    }

    /// Publishes what is held; `last` = `Some(error)` for the job's last batch.
    async fn send(&mut self, last: Option<Option<String>>) -> Result<(), AssetError> {
        let seq = self.seq.fetch_add(1, Ordering::SeqCst);
        let mut batch = AssetBatch::new(
            self.job.job_id,
            self.job.scan_id,
            &self.job.organization_id,
            self.job.connection_id,
            self.job.trigger,
            seq,
            &self.ctx.worker_name,
            std::mem::take(&mut self.assets),
        );
        self.bytes = 0;
        if let Some(error) = last {
            batch.total_batches = Some(seq + 1);
            batch.complete = error.is_none();
            batch.error = error;
        }
        let message_id = uuid::Uuid::new_v5(&self.job.job_id, &seq.to_be_bytes());
        self.publisher
            .publish_signed(routing::RESULT, &batch, message_id, &self.ctx.result_keys)
            .await?;
        Ok(())
    }

    /// Sends the last batch (what is left, possibly nothing).
    async fn finish(&mut self, error: Option<String>) -> Result<(), AssetError> {
        self.send(Some(error)).await
    }
}

async fn run(
    publisher: &Publisher,
    ctx: &ScanContext,
    job: &ScanJob,
    seq: Arc<AtomicU32>,
) -> Result<(), AssetError> {
    let record = ctx
        .store
        .connection(job.connection_id)
        .await
        .map_err(JobError::from)?
        .ok_or(JobError::ConnectionGone(job.connection_id))?;
    if record.organization_id != job.organization_id {
        return Err(JobError::Unprocessable(format!(
            "job names organization {:?} but connection {} belongs to another",
            job.organization_id, job.connection_id
        ))
        .into());
    }
    let mut out = Outbox::new(publisher, ctx, job, seq);
    if !record.capabilities.asset_import {
        out.finish(Some("asset import is not selected".into()))
            .await?;
        return Ok(());
    }
    let principal = principal_of(ctx, &record)?;
    if let Err(e) = ctx.arm.tokens().arm_token(&principal).await {
        out.finish(Some(format!("cannot sign in: {e}"))).await?;
        return Ok(());
    }
    let session = ctx
        .arm
        .session(principal)
        .map_err(|e| JobError::Unprocessable(e.to_string()))?;
    let regions = RegionFilter::new(&record.regions);
    let sub = record.subscription_id.as_str();
    let lists = [
        session.url(
            &format!("subscriptions/{sub}/resourcegroups"),
            RESOURCES_API,
        ),
        session.url_with_query(
            &format!("subscriptions/{sub}/resources"),
            &[("$expand", "createdTime,changedTime")],
            RESOURCES_API,
        ),
    ];
    let mut skipped = 0u64;
    for url in lists {
        if let Some(error) = stream(&session, &url, &regions, sub, &mut out, &mut skipped).await? {
            out.finish(Some(error)).await?;
            return Ok(());
        }
    }
    out.finish(None).await?;
    tracing::info!(skipped, "asset job done");
    Ok(())
}

/// Follows one list page by page, pushing every in-scope asset; `Some` is why a read failed.
async fn stream(
    session: &ArmSession,
    url: &str,
    regions: &RegionFilter,
    subscription_id: &str,
    out: &mut Outbox<'_>,
    skipped: &mut u64,
) -> Result<Option<String>, AssetError> {
    let mut seen = HashSet::new();
    let mut next = Some(url.to_string());
    while let Some(page_url) = next.take() {
        if !seen.insert(page_url.clone()) || seen.len() > MAX_PAGES {
            return Ok(Some(
                "paging loop or too many pages in the resources list".into(),
            ));
        }
        let page = match session.get(&page_url).await {
            Ok(page) => page,
            Err(e) => return Ok(Some(e.to_string())),
        };
        let items = match page.get("value") {
            Some(Value::Array(items)) => items.as_slice(),
            Some(Value::Null) | None => &[],
            Some(_) => return Ok(Some("the resources list has a non-array `value`".into())),
        };
        for item in items {
            let Some(asset) = from_arm(item) else {
                *skipped += 1;
                continue;
            };
            if !regions.includes(asset.location.as_deref()) {
                continue;
            }
            if let Err(reason) = validate_asset(&asset, subscription_id) {
                tracing::warn!(%reason, "asset left out");
                *skipped += 1;
                continue;
            }
            out.push(asset).await?;
        }
        next = page
            .get("nextLink")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string);
    }
    Ok(None)
}
