//! One scan job from message to result: load the connection, open its secret in memory, collect
//! the service's data with the connection's principal, evaluate every check, and build the
//! result message. Nothing here touches the broker; `consume` decides what to ack.

use std::time::Instant;

use chrono::Utc;
use shared::azure::{ArmClient, Principal};
use shared::checks::{self, EvalContext, ListOutcome, region::RegionFilter};
use shared::crypto::KeyRing;
use shared::messages::{
    ArmUsage, CheckResult, ConnectionError, Fragment, MAX_PARTS, MESSAGE_VERSION, Message, ScanJob,
    ScanResult,
};
use shared::store::{ConnectionRecord, Store, StoreError};

use crate::collect::{
    Collected, PageSink, collect_children, collect_roots, needed_collections, stream_list,
};
use crate::parts::{
    self,
    stream::{PartOut, StreamError, StreamSplit, Streamed},
};

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
    /// A part job could not be published (the broker); try again later.
    #[error("{0}")]
    Publish(shared::broker::BrokerError),
    /// The job's result is in already (staged or ingested): running it would change nothing.
    #[error("the job's result is in already")]
    AlreadyDone,
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
    /// Per-resource reads above which a job is split into parts.
    pub part_reads: usize,
    /// Byte bound of result messages and part jobs.
    pub message_bytes: usize,
    /// How long a part reads before it hands the rest of its items to a continuation.
    pub part_time: std::time::Duration,
}

/// Rounds of parallel child reads a part does between two looks at the clock.
const PART_BATCH_ROUNDS: usize = 4;

/// What a job produced: its result (for a split job, its piece of it), and the part jobs to
/// publish before it.
#[derive(Debug)]
pub struct JobOutput {
    pub result: ScanResult,
    pub part_jobs: Vec<ScanJob>,
}

/// Runs a job to its result. ARM reads whose limiter wait would pass `deadline` (the job's time
/// bound) fail as throttled, so their checks end in Error saying Azure is throttling. The part
/// jobs of a list split while it is read go to `parts_out` as they are cut; any other part jobs
/// come back in the output.
pub async fn execute<P: PartOut>(
    ctx: &ScanContext,
    mut job: ScanJob,
    deadline: tokio::time::Instant,
    parts_out: &P,
) -> Result<JobOutput, JobError> {
    let started_at = Utc::now();
    let service = checks::service(&job.service)
        .ok_or_else(|| JobError::Unprocessable(format!("unknown service {:?}", job.service)))?;
    // A part job carries Azure data: check it before anything else. Its slice moves into the
    // dataset.
    let part_dataset = match job.part.as_mut() {
        Some(part) => Some(parts::part_dataset(service, part).map_err(JobError::Unprocessable)?),
        None => None,
    };
    let job = &job;
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
    // A redelivered part, or one a re-run coordinator published again, whose result is in
    // already: no Azure read.
    let part = job.part.as_ref().map_or(0, |p| p.index);
    if ctx
        .store
        .part_result_in(job.connection_id, job.job_id, part)
        .await?
    {
        return Err(JobError::AlreadyDone);
    }
    let principal = principal_of(ctx, &record)?;
    // One token up front: if the principal cannot sign in, no collection can succeed, and the
    // connection's owner must hear why (expired secret, disabled app, ...).
    if let Err(e) = ctx.arm.tokens().arm_token(&principal).await {
        tracing::warn!(diagnosis = ?e.diagnosis, error = %e, "cannot get a token for the connection");
        return Ok(JobOutput {
            result: unauthenticated_result(ctx, job, service, started_at, &e),
            part_jobs: Vec::new(),
        });
    }
    let session = ctx
        .arm
        .session(principal)
        .map_err(|e| JobError::Unprocessable(e.to_string()))?
        .with_deadline(deadline);

    let collect_started = Instant::now();
    let regions = RegionFilter::new(&record.regions);
    let needed = needed_collections(service);
    let mut fragment = None;
    let mut continued_by = None;
    let mut part_jobs = Vec::new();
    let (mut collected, split_on) = match (&job.part, part_dataset) {
        (Some(part), Some(dataset)) => {
            fragment = Some(Fragment::whole(part.index, part.of));
            // The lists that taught the coordinator's session where each resource lives were
            // read by another worker: learn it from the slice, or every child read of this part
            // would draw from the provider's region-less bucket instead of its region's.
            session.remember_locations_of(dataset.items(&part.collection));
            for carried in &part.carried {
                session.remember_locations_of(&carried.items);
            }
            let collected = Collected {
                dataset,
                ..Collected::default()
            };
            (collected, Some(part.collection.as_str()))
        }
        _ => {
            // The list a split would cut is read last, page by page, once the lists its parts
            // carry are in.
            let streamed = checks::parts::stream_candidate(service, &needed);
            let others: Vec<_> = needed
                .iter()
                .copied()
                .filter(|c| streamed.is_none_or(|(s, _)| s.key != c.key))
                .collect();
            let mut collected =
                collect_roots(&session, &others, &record.subscription_id, &regions).await;
            let split = match streamed {
                Some(candidate) => {
                    read_streamed(
                        ctx,
                        &session,
                        job,
                        service,
                        candidate,
                        (&record.subscription_id, &regions),
                        &mut collected,
                        parts_out,
                    )
                    .await?
                }
                None => None,
            };
            match split {
                Some(StreamedSplit {
                    fragment: streamed_fragment,
                    split_on,
                }) => {
                    fragment = Some(streamed_fragment);
                    (collected, split_on)
                }
                None => {
                    let split =
                        checks::parts::plan(service, &needed, &collected.dataset, ctx.part_reads)
                            .and_then(|split| {
                                parts::part_jobs(
                                    job,
                                    service,
                                    &mut collected.dataset,
                                    &split,
                                    ctx.message_bytes,
                                )
                                .map(|jobs| (split, jobs))
                            });
                    match split {
                        Some((split, jobs)) => {
                            tracing::info!(
                                collection = split.collection,
                                parts = jobs.len(),
                                "job split into parts"
                            );
                            fragment = Some(Fragment::whole(
                                0,
                                u32::try_from(jobs.len() + 1).unwrap_or(u32::MAX),
                            ));
                            part_jobs = jobs;
                            (collected, Some(split.collection))
                        }
                        None => (collected, None),
                    }
                }
            }
        }
    };
    let is_part = job.part.is_some();
    let subtree = split_on
        .map(|root| checks::parts::subtree(service, root))
        .unwrap_or_default();
    let wanted = |key: &str| split_on.is_none() || subtree.contains(&key) == is_part;
    match (&job.part, split_on) {
        (Some(_), Some(root)) => {
            // A part reads its slice in batches and hands what it has no time for to a
            // continuation part, so its delivery is never held near the job bound however
            // slowly the provider's budget lets it read.
            // The slice stays in the dataset (the children are read for its items there) and is
            // never copied: it is the bulk of a part's memory.
            let total = collected.dataset.items(root).len();
            let may_continue = parts::may_continue(job);
            let mut done = 0;
            while done < total {
                if done > 0 && may_continue && collect_started.elapsed() >= ctx.part_time {
                    break;
                }
                let end = (done + ctx.child_concurrency.max(1) * PART_BATCH_ROUNDS).min(total);
                let roots: Vec<String> = collected.dataset.items(root)[done..end]
                    .iter()
                    .map(|i| checks::props::resource_id(i).to_ascii_lowercase())
                    .collect();
                collect_children(
                    &session,
                    service,
                    &needed,
                    &mut collected,
                    ctx.child_concurrency,
                    wanted,
                    |parent| parts::under_any(parent, &roots),
                )
                .await;
                done = end;
            }
            if done < total {
                let mut items = collected.dataset.take_items(root);
                let rest = items.split_off(done);
                tracing::info!(
                    done,
                    left = rest.len(),
                    "part out of time; a continuation takes the rest"
                );
                collected
                    .dataset
                    .insert_list(root, ListOutcome::Items(items));
                // (`may_continue` held, or the loop would not have stopped early)
                if let Some(next) = parts::continuation(job, rest) {
                    continued_by = next.part.as_ref().map(|p| p.index);
                    part_jobs.push(next);
                }
            }
        }
        _ => {
            collect_children(
                &session,
                service,
                &needed,
                &mut collected,
                ctx.child_concurrency,
                wanted,
                |_| true,
            )
            .await;
        }
    }
    let collect_ms = collect_started.elapsed().as_millis() as u64;

    let evaluate_started = Instant::now();
    let now = Utc::now();
    let eval = EvalContext::new(&collected.dataset, now, &record.subscription_id);
    let results: Vec<CheckResult> = parts::checks_of(service, split_on, is_part)
        .into_iter()
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
    let mut result = result_of(ctx, job, started_at, arm, results, None);
    result.fragment = fragment.map(|f| Fragment { continued_by, ..f });
    Ok(JobOutput { result, part_jobs })
}

/// A coordinating job whose list went to part jobs as it was read.
struct StreamedSplit {
    /// The coordinator's place among the pieces (it says how many parts there are).
    fragment: Fragment,
    /// The list the parts read; `None` when it failed after parts went out: then the
    /// coordinator evaluates every check itself, those of the parts in Error from the list's
    /// failure, which decides them when the pieces combine.
    split_on: Option<&'static str>,
}

/// Reads `candidate` (a list and its child reads per item) into part jobs as it comes, once it
/// is big enough to split, or whole into `collected` when it never is. A part job that cannot
/// be published fails the job (it is returned to the queue, and the parts re-made).
#[allow(clippy::too_many_arguments)]
async fn read_streamed<P: PartOut>(
    ctx: &ScanContext,
    session: &shared::azure::ArmSession,
    job: &ScanJob,
    service: &'static checks::ServiceDef,
    (candidate, children): (&'static checks::Collection, usize),
    (subscription_id, regions): (&str, &RegionFilter),
    collected: &mut Collected,
    parts_out: &P,
) -> Result<Option<StreamedSplit>, JobError> {
    let streamed = |parts_used: u32, split_on: Option<&'static str>| StreamedSplit {
        fragment: Fragment {
            parts_used: Some(parts_used),
            ..Fragment::whole(0, MAX_PARTS)
        },
        split_on,
    };
    let unsplittable = |e: StreamError| checks::FetchError::Error {
        message: format!("Error: {} cannot be scanned in parts: {e}", candidate.key),
    };
    let Some(mut sink) = StreamSplit::new(
        job,
        service,
        (candidate.key, children),
        ctx.part_reads,
        ctx.message_bytes,
        &collected.dataset,
        parts_out,
    ) else {
        // Not splittable within the message bound: read whole, as an unsplit job would.
        let mut whole = Whole(Vec::new());
        let end = stream_list(
            session,
            candidate,
            subscription_id,
            regions,
            collected,
            &mut whole,
        )
        .await
        .unwrap_or_else(|never| match never {});
        session.remember_locations_of(&whole.0);
        collected.dataset.insert_list(
            candidate.key,
            match end {
                Ok(()) => ListOutcome::Items(whole.0),
                Err(e) => ListOutcome::Failed(e),
            },
        );
        return Ok(None);
    };
    let end = stream_list(
        session,
        candidate,
        subscription_id,
        regions,
        collected,
        &mut sink,
    )
    .await;
    let (failure, parts_used) = match end {
        Ok(Ok(())) => match sink.finish().await {
            Ok(Streamed::Whole(items)) => {
                session.remember_locations_of(&items);
                collected
                    .dataset
                    .insert_list(candidate.key, ListOutcome::Items(items));
                return Ok(None);
            }
            Ok(Streamed::Split { parts_used }) => {
                tracing::info!(
                    collection = candidate.key,
                    parts = parts_used - 1,
                    "job split into parts as its list was read"
                );
                collected
                    .dataset
                    .insert_list(candidate.key, ListOutcome::Items(Vec::new()));
                return Ok(Some(streamed(parts_used, Some(candidate.key))));
            }
            Err(StreamError::Publish(e)) => return Err(JobError::Publish(e)),
            Err(e) => (unsplittable(e), sink.parts_used()),
        },
        Ok(Err(failure)) if !sink.is_split() => {
            collected
                .dataset
                .insert_list(candidate.key, ListOutcome::Failed(failure));
            return Ok(None);
        }
        Ok(Err(failure)) => (failure, sink.parts_used()),
        Err(StreamError::Publish(e)) => return Err(JobError::Publish(e)),
        Err(e) => (unsplittable(e), sink.parts_used()),
    };
    tracing::warn!(
        collection = candidate.key,
        parts = parts_used - 1,
        reason = %failure.reason(),
        "the split list failed after parts went out; its checks end in Error"
    );
    collected
        .dataset
        .insert_list(candidate.key, ListOutcome::Failed(failure));
    Ok(Some(streamed(parts_used, None)))
}

/// A [`PageSink`] that keeps every page.
struct Whole(Vec<serde_json::Value>);

impl PageSink for Whole {
    type Error = std::convert::Infallible;

    async fn page(&mut self, items: Vec<serde_json::Value>) -> Result<(), Self::Error> {
        self.0.extend(items);
        Ok(())
    }
}

/// The checks `job` evaluates: all of its service's, or a part's share.
fn job_checks(service: &'static checks::ServiceDef, job: &ScanJob) -> Vec<&'static checks::Check> {
    match &job.part {
        Some(part) => parts::checks_of(service, Some(&part.collection), true),
        None => parts::checks_of(service, None, false),
    }
}

/// A part job's place among its job's pieces.
fn fragment_of(job: &ScanJob) -> Option<Fragment> {
    job.part.as_ref().map(|p| Fragment::whole(p.index, p.of))
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
        fragment: None,
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
    let results = job_checks(service, job)
        .into_iter()
        .map(|c| CheckResult {
            check_id: c.meta.id.to_string(),
            status: checks::CheckStatus::Error,
            reason: reason.clone(),
            missing_permission: None,
            findings: Vec::new(),
        })
        .collect();
    let mut result = result_of(ctx, job, started_at, ArmUsage::default(), results, None);
    result.fragment = fragment_of(job);
    Some(result)
}

/// Every check ends in Error with the sign-in diagnosis; the result names the connection error
/// unless it is a passing Entra outage.
fn unauthenticated_result(
    ctx: &ScanContext,
    job: &ScanJob,
    service: &'static checks::ServiceDef,
    started_at: chrono::DateTime<Utc>,
    error: &shared::azure::TokenError,
) -> ScanResult {
    let reason = format!(
        "Could not sign in to Azure as the connection's service principal: {}",
        error.diagnosis.remediation()
    );
    let results = job_checks(service, job)
        .into_iter()
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
    let mut result = result_of(
        ctx,
        job,
        started_at,
        ArmUsage::default(),
        results,
        connection_error,
    );
    result.fragment = fragment_of(job);
    result
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
