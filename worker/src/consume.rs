//! The job loop: consume on-demand and scheduled jobs, run up to `concurrency` at once, publish
//! each result with a confirm, and only then ack the job.
//!
//! On-demand jobs come first: both queues are consumed with prefetch = concurrency, and when a
//! slot frees up a waiting on-demand job is always taken before a scheduled one (quorum queues
//! on RabbitMQ 3.10 have no message priorities, so priority is the worker's choice). On shutdown
//! the loop stops taking jobs, returns the ones it holds but has not started, and gives running
//! jobs a grace period; jobs still running then are abandoned and the broker redelivers them.

use std::sync::Arc;
use std::time::Duration;

use lapin::message::Delivery;
use shared::broker::{
    Broker, ConsumerSpec, Publisher, ack, dead_letter,
    hold::{MAX_HOLD, retry_in_place},
    requeue, routing, signature_of, spawn_consumer,
};
use shared::messages::{ScanJob, decode};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::parts::stream::PublishedParts;
use crate::scan::{JobError, JobOutput, ScanContext, execute, time_bound_result};

/// Loop settings.
#[derive(Debug, Clone, Copy)]
pub struct LoopSettings {
    pub concurrency: usize,
    /// Upper bound of one job, well under RabbitMQ's consumer timeout (30 min by default).
    pub job_timeout: Duration,
    /// How long running jobs may finish after shutdown is asked.
    pub shutdown_grace: Duration,
}

/// Runs until `shutdown` fires and in-flight jobs are done (or the grace period is over).
pub async fn run(
    broker: Arc<Broker>,
    publisher: Publisher,
    ctx: Arc<ScanContext>,
    settings: LoopSettings,
    shutdown: CancellationToken,
) {
    let topology = broker.topology().clone();
    let ondemand_queue = topology.jobs_ondemand().name;
    let scheduled_queue = topology.jobs_scheduled().name;
    let prefetch = u16::try_from(settings.concurrency)
        .unwrap_or(u16::MAX)
        .max(1);
    let stop_consuming = shutdown.child_token();
    let mut ondemand = spawn_consumer(
        broker.clone(),
        ConsumerSpec {
            queue: ondemand_queue.clone(),
            prefetch,
            tag: "worker-ondemand".into(),
            priority: Some(10),
        },
        stop_consuming.clone(),
    );
    let mut scheduled = spawn_consumer(
        broker.clone(),
        ConsumerSpec {
            queue: scheduled_queue.clone(),
            prefetch,
            tag: "worker-scheduled".into(),
            priority: Some(0),
        },
        stop_consuming.clone(),
    );
    let slots = Arc::new(Semaphore::new(settings.concurrency.max(1)));
    let mut running = JoinSet::new();

    loop {
        let permit = tokio::select! {
            _ = shutdown.cancelled() => break,
            permit = slots.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let (delivery, queue) = tokio::select! {
            biased;
            _ = shutdown.cancelled() => break,
            Some(d) = ondemand.deliveries.recv() => (d, ondemand_queue.clone()),
            Some(d) = scheduled.deliveries.recv() => (d, scheduled_queue.clone()),
            else => break,
        };
        let (publisher, ctx) = (publisher.clone(), ctx.clone());
        running.spawn(async move {
            handle(&publisher, &ctx, &queue, delivery, settings.job_timeout).await;
            drop(permit);
        });
        while running.try_join_next().is_some() {}
    }

    while running.try_join_next().is_some() {}
    tracing::info!(in_flight = running.len(), "stopping: no new jobs taken");
    stop_consuming.cancel();
    return_unstarted(&mut ondemand.deliveries).await;
    return_unstarted(&mut scheduled.deliveries).await;
    let drained = tokio::time::timeout(settings.shutdown_grace, async {
        while running.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            abandoned = running.len(),
            "grace period over; abandoning running jobs (the broker redelivers them)"
        );
        running.shutdown().await;
    }
    // Every delivery is acked or returned: the consumers' channels may close now.
    ondemand.finish().await;
    scheduled.finish().await;
    publisher.close().await;
}

/// Publishes a job's part jobs (signed: they carry Azure data), then its result in messages
/// under the bound, each confirmed. Returns how many result messages went out.
async fn publish_output(
    publisher: &Publisher,
    ctx: &ScanContext,
    job: &ScanJob,
    output: JobOutput,
) -> Result<usize, shared::broker::BrokerError> {
    let route = routing::job(job.trigger);
    for part in &output.part_jobs {
        publisher
            .publish_signed(route, part, part.job_id, &ctx.result_keys)
            .await?;
    }
    let (part, parts) = output.result.fragment.map_or((0, 1), |f| (f.part, f.parts));
    let pieces = shared::fragments::chunk(output.result, part, parts, ctx.message_bytes);
    let count = pieces.len();
    for piece in &pieces {
        publisher
            .publish_signed(routing::RESULT, piece, piece.job_id, &ctx.result_keys)
            .await?;
    }
    Ok(count)
}

/// Returns to the broker what arrived but was not started (the consumer is already cancelled,
/// so this ends once the buffer is empty).
async fn return_unstarted(rx: &mut mpsc::Receiver<Delivery>) {
    while let Ok(Some(delivery)) = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await {
        requeue(&delivery).await;
    }
}

/// One delivery: decode, run, publish the result, ack. Never panics on input.
async fn handle(
    publisher: &Publisher,
    ctx: &ScanContext,
    queue: &str,
    delivery: Delivery,
    timeout: Duration,
) {
    let metrics = ctx.metrics.clone();
    let queue_kind = if queue.ends_with("ondemand") {
        "ondemand"
    } else {
        "scheduled"
    };
    let mut job: ScanJob = match decode(&delivery.data) {
        Ok(job) => job,
        Err(e) => {
            metrics
                .jobs_consumed
                .with_label_values(&["unknown", queue_kind])
                .inc();
            metrics
                .jobs_completed
                .with_label_values(&["unknown", "dead_lettered"])
                .inc();
            let reason = format!("undecodable job: {e}");
            dead_letter(publisher, queue, &delivery, &reason).await;
            return;
        }
    };
    // Part jobs carry Azure data: only those the fleet's workers signed are run.
    if job.part.is_some()
        && let Err(e) = ctx
            .result_keys
            .verify(&delivery.data, signature_of(&delivery).as_deref())
    {
        metrics
            .jobs_completed
            .with_label_values(&["unknown", "dead_lettered"])
            .inc();
        dead_letter(
            publisher,
            queue,
            &delivery,
            &format!("unsigned part job: {e}"),
        )
        .await;
        return;
    }
    if job.service == shared::assets::ASSET_SERVICE {
        crate::assets::handle(publisher, ctx, queue, &delivery, &job, timeout).await;
        return;
    }
    // Each try decodes the job afresh and takes its slice; this copy keeps its place only.
    if let Some(part) = job.part.as_mut() {
        part.items = Vec::new();
    }
    // Label values only from the catalogue: a job for an unknown service mints no new series.
    let service_label = if shared::checks::service(&job.service).is_some() {
        job.service.as_str()
    } else {
        "unknown"
    };
    metrics
        .jobs_consumed
        .with_label_values(&[service_label, queue_kind])
        .inc();
    metrics.jobs_in_flight.inc();
    let started = std::time::Instant::now();
    let completed = |outcome: &str| {
        metrics
            .jobs_completed
            .with_label_values(&[service_label, outcome])
            .inc();
        metrics
            .job_duration
            .with_label_values(&[service_label])
            .observe(started.elapsed().as_secs_f64());
    };
    let span = tracing::info_span!(
        "scan_job",
        job_id = %job.job_id,
        scan_id = %job.scan_id,
        connection_id = %job.connection_id,
        service = %job.service,
        trigger = ?job.trigger,
        redelivered = delivery.redelivered,
    );
    shared::telemetry::follow_trace_context(&span, delivery.properties.headers().as_ref());
    async {
        // Each try gets the whole time bound; a store outage holds the delivery (retrying in
        // place) instead of spending its delivery attempts (see `broker::hold`).
        let held = retry_in_place(
            "scan job",
            MAX_HOLD,
            |e: &JobError| matches!(e, JobError::Store(_)),
            || async {
                let started_at = chrono::Utc::now();
                // Limiter waits end a little before the bound, so that a throttled job still
                // has time to finish its result with the checks it could not read in Error.
                let deadline = tokio::time::Instant::now() + timeout - timeout / 20;
                let parts_out = PublishedParts {
                    publisher,
                    keys: &ctx.result_keys,
                };
                // Decoded again for each try: the job moves into it (a part's slice is the
                // bulk of its memory), and `job` keeps only what the outcome needs.
                let attempt: ScanJob = decode(&delivery.data)
                    .map_err(|e| JobError::Unprocessable(format!("undecodable job: {e}")))?;
                match tokio::time::timeout(timeout, execute(ctx, attempt, deadline, &parts_out))
                    .await
                {
                    Ok(outcome) => outcome,
                    Err(_) => {
                        // A whole result: the pieces of any parts already streamed out are
                        // then late pieces of an ingested job, and change nothing.
                        tracing::warn!(bound_s = timeout.as_secs(), "job reached its time bound");
                        time_bound_result(ctx, &job, started_at, timeout)
                            .map(|result| JobOutput {
                                result,
                                part_jobs: Vec::new(),
                            })
                            .ok_or_else(|| {
                                JobError::Unprocessable(format!(
                                    "job exceeded its time bound of {} s",
                                    timeout.as_secs()
                                ))
                            })
                    }
                }
            },
        )
        .await;
        let outcome = held.into_result();
        match outcome {
            Ok(output) => {
                let result = &output.result;
                for check in &result.checks {
                    metrics
                        .check_results
                        .with_label_values(&[&check.check_id, check.status.as_str()])
                        .inc();
                }
                let failed = result
                    .checks
                    .iter()
                    .filter(|c| c.status == shared::checks::CheckStatus::Failed)
                    .count();
                let (checks, requests, parts) = (
                    result.checks.len(),
                    result.arm.requests,
                    output.part_jobs.len(),
                );
                let unauthenticated = result.connection_error.is_some();
                match publish_output(publisher, ctx, &job, output).await {
                    Ok(messages) => {
                        ack(&delivery).await;
                        completed(if unauthenticated {
                            "unauthenticated"
                        } else {
                            "succeeded"
                        });
                        tracing::info!(
                            checks,
                            failed,
                            arm_requests = requests,
                            part_jobs = parts,
                            result_messages = messages,
                            "job done"
                        );
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "result not published; returning the job");
                        requeue(&delivery).await;
                        completed("requeued");
                    }
                }
            }
            Err(JobError::AlreadyDone) => {
                tracing::info!("the job's result is in already; nothing to run");
                ack(&delivery).await;
                completed("already_done");
            }
            Err(JobError::ConnectionGone(id)) => {
                tracing::info!(connection_id = %id, "connection deleted; dropping its job");
                ack(&delivery).await;
                completed("dropped");
            }
            Err(JobError::Unprocessable(reason)) => {
                dead_letter(publisher, queue, &delivery, &reason).await;
                completed("dead_lettered");
            }
            Err(e @ JobError::Publish(_)) => {
                tracing::error!(error = %e, "part job not published; returning the job");
                requeue(&delivery).await;
                completed("requeued");
            }
            Err(e @ JobError::Store(_)) => {
                tracing::warn!(error = %e, "store unavailable for too long; returning the job");
                requeue(&delivery).await;
                completed("requeued");
            }
        }
    }
    .instrument(span)
    .await;
    metrics.jobs_in_flight.dec();
}
