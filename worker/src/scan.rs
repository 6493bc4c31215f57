//! One scan job from message to result: load the connection, open its secret in memory, collect
//! the service's data with the connection's principal, evaluate every check, and build the
//! result message. Nothing here touches the broker; `consume` decides what to ack.

use std::time::Instant;

use chrono::Utc;
use shared::azure::{ArmClient, Principal};
use shared::checks::{self, EvalContext, region::RegionFilter};
use shared::crypto::KeyRing;
use shared::messages::{
    ArmUsage, CheckResult, ConnectionError, MESSAGE_VERSION, Message, ScanJob, ScanResult,
};
use shared::store::{ConnectionRecord, Store, StoreError};

use crate::collect::collect;

/// Why a job produced no result.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The connection was deleted after the job was queued: nothing to do.
    #[error("connection {0} no longer exists")]
    ConnectionGone(uuid::Uuid),
    /// The job can never succeed as it is; park it in the dead-letter queue.
    #[error("{0}")]
    Unprocessable(String),
    /// Infrastructure trouble (Redis); try again later.
    #[error("store unavailable: {0}")]
    Store(#[from] StoreError),
}

/// What a job needs from the process.
#[derive(Debug, Clone)]
pub struct ScanContext {
    pub metrics: std::sync::Arc<crate::metrics::WorkerMetrics>,
    pub store: Store,
    pub arm: ArmClient,
    pub keys: KeyRing,
    /// Signs every result (the ingester refuses unsigned ones).
    pub result_keys: shared::signing::SigningKeys,
    pub worker_name: String,
    pub child_concurrency: usize,
}

/// Runs a job to its result.
pub async fn execute(ctx: &ScanContext, job: &ScanJob) -> Result<ScanResult, JobError> {
    let started_at = Utc::now();
    let service = checks::service(&job.service)
        .ok_or_else(|| JobError::Unprocessable(format!("unknown service {:?}", job.service)))?;
    let record = ctx
        .store
        .connection(job.connection_id)
        .await?
        .ok_or(JobError::ConnectionGone(job.connection_id))?;
    if record.organization_id != job.organization_id {
        return Err(JobError::Unprocessable(format!(
            "job names organization {:?} but connection {} belongs to another",
            job.organization_id, job.connection_id
        )));
    }
    let principal = principal_of(ctx, &record)?;
    // One token up front: if the principal cannot sign in, no collection can succeed, and the
    // connection's owner must hear why (expired secret, disabled app, ...).
    if let Err(e) = ctx.arm.tokens().arm_token(&principal).await {
        tracing::warn!(diagnosis = ?e.diagnosis, error = %e, "cannot get a token for the connection");
        return Ok(unauthenticated_result(ctx, job, service, started_at, &e));
    }
    let session = ctx
        .arm
        .session(principal)
        .map_err(|e| JobError::Unprocessable(e.to_string()))?;

    let collect_started = Instant::now();
    let regions = RegionFilter::new(&record.regions);
    let collected = collect(
        &session,
        service,
        &record.subscription_id,
        &regions,
        ctx.child_concurrency,
    )
    .await;
    let collect_ms = collect_started.elapsed().as_millis() as u64;

    let evaluate_started = Instant::now();
    let now = Utc::now();
    let eval = EvalContext::new(&collected.dataset, now, &record.subscription_id);
    let results: Vec<CheckResult> = service
        .checks
        .iter()
        .map(|check| checks::run_check(service, check, &eval))
        .collect();
    let evaluate_ms = evaluate_started.elapsed().as_millis() as u64;

    let arm = ArmUsage {
        requests: collected.requests,
        throttled: collected.throttled,
        retries: collected.retries,
        limiter_wait_ms: collected.limiter_wait_ms,
        collect_ms,
        evaluate_ms,
        collections: collected.usage,
    };
    Ok(result_of(ctx, job, started_at, arm, results, None))
}

/// The result message of `job`.
fn result_of(
    ctx: &ScanContext,
    job: &ScanJob,
    started_at: chrono::DateTime<Utc>,
    arm: ArmUsage,
    checks: Vec<CheckResult>,
    connection_error: Option<ConnectionError>,
) -> ScanResult {
    ScanResult {
        schema: ScanResult::SCHEMA.to_string(),
        version: MESSAGE_VERSION,
        job_id: job.job_id,
        scan_id: job.scan_id,
        organization_id: job.organization_id.clone(),
        connection_id: job.connection_id,
        service: job.service.clone(),
        trigger: job.trigger,
        started_at,
        finished_at: Utc::now(),
        worker: ctx.worker_name.clone(),
        arm,
        checks,
        connection_error,
    }
}

/// The result of a job that reached its time bound: every check ends in Error ("time bound
/// exceeded"), so the scan completes and the next scan tries again, instead of the job being
/// dead-lettered with no result and its scan never completing. `None` for an unknown service
/// (such a job never ran).
pub fn time_bound_result(
    ctx: &ScanContext,
    job: &ScanJob,
    started_at: chrono::DateTime<Utc>,
    bound: std::time::Duration,
) -> Option<ScanResult> {
    let service = checks::service(&job.service)?;
    let reason = format!(
        "Error: time bound exceeded (the job did not finish within {} s); retried on the next scan",
        bound.as_secs()
    );
    let results = service
        .checks
        .iter()
        .map(|c| CheckResult {
            check_id: c.meta.id.to_string(),
            status: checks::CheckStatus::Error,
            reason: reason.clone(),
            missing_permission: None,
            findings: Vec::new(),
        })
        .collect();
    Some(result_of(
        ctx,
        job,
        started_at,
        ArmUsage::default(),
        results,
        None,
    ))
}

/// Every check ends in Error with the sign-in diagnosis; the result names the connection error
/// unless it is a passing Entra outage.
fn unauthenticated_result(
    ctx: &ScanContext,
    job: &ScanJob,
    service: &checks::ServiceDef,
    started_at: chrono::DateTime<Utc>,
    error: &shared::azure::TokenError,
) -> ScanResult {
    let reason = format!(
        "Could not sign in to Azure as the connection's service principal: {}",
        error.diagnosis.remediation()
    );
    let results = service
        .checks
        .iter()
        .map(|c| CheckResult {
            check_id: c.meta.id.to_string(),
            status: checks::CheckStatus::Error,
            reason: reason.clone(),
            missing_permission: None,
            findings: Vec::new(),
        })
        .collect();
    let connection_error =
        (!error.diagnosis.is_transient()).then(|| ConnectionError::from_token_error(error));
    result_of(
        ctx,
        job,
        started_at,
        ArmUsage::default(),
        results,
        connection_error,
    )
}

/// The connection's service principal, its secret opened in memory only.
pub(crate) fn principal_of(
    ctx: &ScanContext,
    record: &ConnectionRecord,
) -> Result<Principal, JobError> {
    let secret = ctx
        .keys
        .open(&record.sealed_secret, &record.id.to_string())
        .map_err(|e| {
            JobError::Unprocessable(format!(
                "client secret of connection {} cannot be opened: {e}",
                record.id
            ))
        })?;
    let endpoints = ctx.arm.clouds().resolve(&record.cloud).map_err(|e| {
        JobError::Unprocessable(format!(
            "cloud of connection {} is not available: {e}",
            record.id
        ))
    })?;
    Ok(Principal {
        endpoints,
        tenant_id: record.tenant_id.clone(),
        client_id: record.client_id.clone(),
        secret,
    })
}
