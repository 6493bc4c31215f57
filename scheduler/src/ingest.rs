//! The results ingester: consumes scan results and writes them to Redis (latest per check,
//! change history, status counters, scan progress). Ingestion is idempotent, so redelivered
//! results change nothing; a result that does not parse is dead-lettered with the reason; a
//! Redis outage returns the result to the queue to try again.
//!
//! Results are not trusted because they arrived on the results queue (issue 9). A result is
//! ingested only when its signature verifies under the fleet's result keys
//! ([`shared::signing`]), it is not dated in the future (beyond [`MAX_CLOCK_SKEW`]), its service
//! is in the catalogue and every check id is one of that service's, its connection exists and
//! belongs to the organization it names, and the scheduler enqueued that scan for that service.
//! Anything else is dead-lettered with the reason and changes nothing.

use std::sync::Arc;

use lapin::message::Delivery;
use shared::broker::hold::{MAX_HOLD, retry_in_place};
use shared::broker::{
    Broker, ConsumerSpec, Publisher, ack, dead_letter, requeue, serve_queue, signature_of,
};
use shared::messages::{ScanResult, decode};
use shared::signing::SigningKeys;
use shared::store::{IngestOutcome, Staged, StagedJob, Store, StoreError};

use crate::metrics::SchedulerMetrics;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// How far in the future a result's timestamps may lie (workers' clocks drift a little).
pub const MAX_CLOCK_SKEW: chrono::Duration = chrono::Duration::minutes(5);

pub async fn run(
    broker: Arc<Broker>,
    publisher: Publisher,
    store: Store,
    metrics: Arc<SchedulerMetrics>,
    keys: SigningKeys,
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
        let (publisher, store, queue, metrics, keys) = (
            publisher.clone(),
            store.clone(),
            queue.clone(),
            metrics.clone(),
            keys.clone(),
        );
        async move { handle(&publisher, &store, &metrics, &keys, &queue, &delivery).await }
    })
    .await;
}

async fn handle(
    publisher: &Publisher,
    store: &Store,
    metrics: &SchedulerMetrics,
    keys: &SigningKeys,
    queue: &str,
    delivery: &Delivery,
) {
    let count = |outcome: &str| metrics.results_ingested.with_label_values(&[outcome]).inc();
    if let Err(e) = keys.verify(&delivery.data, signature_of(delivery).as_deref()) {
        dead_letter(
            publisher,
            queue,
            delivery,
            &format!("unauthenticated result: {e}"),
        )
        .await;
        count("refused");
        return;
    }
    // Asset batches share the results queue and its signing; they are told apart by type.
    if is_asset_batch(delivery) {
        crate::ingest_assets::handle(publisher, store, metrics, queue, delivery).await;
        return;
    }
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
        let checked =
            retry_in_place("result check", MAX_HOLD, StoreError::is_unavailable, || {
                check(store, &result)
            })
            .await
    .into_result();
        match checked {
            Ok(None) => {}
            Ok(Some(reason)) => {
                dead_letter(
                    publisher,
                    queue,
                    delivery,
                    &format!("refused result: {reason}"),
                )
                .await;
                count("refused");
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, "store unavailable for too long; returning the result");
                requeue(delivery).await;
                count("requeued");
                return;
            }
        }
        // A piece of a bigger result waits in staging for the others; the last one in brings
        // the job to ingestion, one check at a time (see `shared::fragments`).
        let staged_job = result.fragment.map(|_| (result.connection_id, result.job_id));
        let ingestible = match result.fragment {
            None => Ingestible::Whole(Box::new(result)),
            Some(fragment) => match stage(store, &result, fragment).await {
                Ok(Piece::Complete(staged)) => Ingestible::Staged(staged),
                Ok(Piece::Waiting) => {
                    tracing::debug!(?fragment, "result piece staged");
                    ack(delivery).await;
                    count("staged");
                    return;
                }
                Ok(Piece::AlreadyIngested) => {
                    tracing::info!("piece of a result already ingested; nothing changed");
                    ack(delivery).await;
                    count("duplicate");
                    return;
                }
                Ok(Piece::Refused(reason)) => {
                    dead_letter(
                        publisher,
                        queue,
                        delivery,
                        &format!("refused result piece: {reason}"),
                    )
                    .await;
                    count("refused");
                    return;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "store unavailable for too long; returning the result");
                    requeue(delivery).await;
                    count("requeued");
                    return;
                }
            },
        };
        let settle = Settle {
            publisher,
            metrics,
            queue,
            delivery,
        };
        ingest_and_ack(store, &settle, ingestible, staged_job).await;
    }
    .instrument(span)
    .await;
}

/// What settling a result's delivery needs.
#[derive(Clone, Copy)]
struct Settle<'a> {
    publisher: &'a Publisher,
    metrics: &'a SchedulerMetrics,
    queue: &'a str,
    delivery: &'a Delivery,
}

/// A result ready to ingest: one message's, or a job's staged pieces once all are in.
enum Ingestible {
    Whole(Box<ScanResult>),
    Staged(StagedJob),
}

/// Ingests `ingestible` (holding the delivery through a store outage) and settles the delivery
/// that brought it.
async fn ingest_and_ack(
    store: &Store,
    settle: &Settle<'_>,
    ingestible: Ingestible,
    staged_job: Option<(uuid::Uuid, uuid::Uuid)>,
) {
    let Settle {
        publisher,
        metrics,
        queue,
        delivery,
    } = *settle;
    let count = |outcome: &str| metrics.results_ingested.with_label_values(&[outcome]).inc();
    let checks = match &ingestible {
        Ingestible::Whole(result) => result.checks.len(),
        Ingestible::Staged(staged) => staged.check_ids().count(),
    };
    let held = retry_in_place(
        "result ingestion",
        MAX_HOLD,
        StoreError::is_unavailable,
        || async {
            match &ingestible {
                Ingestible::Whole(result) => store.ingest(result).await,
                Ingestible::Staged(staged) => store.ingest_staged(staged).await,
            }
        },
    )
    .await;
    match held.into_result() {
        Ok(IngestOutcome::Refused(reason)) => {
            dead_letter(
                publisher,
                queue,
                delivery,
                &format!("refused result: {reason}"),
            )
            .await;
            count("refused");
        }
        Ok(IngestOutcome::Duplicate) => {
            drop_staged(store, staged_job).await;
            tracing::info!("result already ingested; nothing changed");
            ack(delivery).await;
            count("duplicate");
        }
        Ok(IngestOutcome::Applied { scan_completed }) => {
            // (a staged job's last script dropped its staging already)
            tracing::info!(checks, scan_completed, "result ingested");
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

/// What a result piece amounts to once staged.
enum Piece {
    Waiting,
    Complete(StagedJob),
    AlreadyIngested,
    Refused(String),
}

/// Stages one piece (holding the delivery through a store outage) and, when it was the last,
/// reads where every piece of the job is.
async fn stage(
    store: &Store,
    result: &ScanResult,
    fragment: shared::messages::Fragment,
) -> Result<Piece, StoreError> {
    let held = retry_in_place(
        "result piece",
        MAX_HOLD,
        StoreError::is_unavailable,
        || async {
            if store
                .job_ingested(result.connection_id, result.job_id)
                .await?
            {
                return Ok(None);
            }
            match store.stage_fragment(result, fragment).await? {
                Staged::Complete => store
                    .staged_job(result.connection_id, result.job_id)
                    .await
                    .map(|staged| Some(Ok(staged))),
                other => Ok(Some(Err(other))),
            }
        },
    )
    .await;
    let staged = held.into_result()?;
    Ok(match staged {
        None => Piece::AlreadyIngested,
        Some(Err(Staged::Waiting)) => Piece::Waiting,
        Some(Err(Staged::Refused(reason))) => Piece::Refused(reason),
        Some(Err(Staged::Complete)) => Piece::Refused("no pieces to combine".into()),
        Some(Ok(staged)) => {
            if let Some(odd) = staged.envelopes.iter().find(|p| {
                p.scan_id != result.scan_id
                    || p.service != result.service
                    || p.organization_id != result.organization_id
                    || p.trigger != result.trigger
            }) {
                return Ok(Piece::Refused(format!(
                    "the pieces of job {} name different scans or services ({} vs {})",
                    result.job_id,
                    short(&odd.service),
                    short(&result.service)
                )));
            }
            if staged.envelopes.is_empty() {
                return Ok(Piece::Refused("no pieces to combine".into()));
            }
            Piece::Complete(staged)
        }
    })
}

/// Drops a combined job's staged pieces; a failure only leaves them to expire.
async fn drop_staged(store: &Store, job: Option<(uuid::Uuid, uuid::Uuid)>) {
    if let Some((connection, job_id)) = job
        && let Err(e) = store.drop_staged(connection, job_id).await
    {
        tracing::warn!(error = %e, "staged pieces not dropped; they expire by themselves");
    }
}

/// Whether a (verified) message is an `asset-batch`: by its AMQP type, or else its `schema`.
fn is_asset_batch(delivery: &Delivery) -> bool {
    use shared::messages::Message;
    if let Some(kind) = delivery.properties.kind() {
        return kind.as_str() == shared::assets::AssetBatch::SCHEMA;
    }
    #[derive(serde::Deserialize)]
    struct Kind {
        schema: Option<String>,
    }
    serde_json::from_slice::<Kind>(&delivery.data)
        .ok()
        .and_then(|k| k.schema)
        .is_some_and(|s| s == shared::assets::AssetBatch::SCHEMA)
}

/// Why `result` is not one the fleet produced for a job it enqueued, if it is not. The store
/// checks the connection and scan again atomically when it ingests (deletion races).
async fn check(store: &Store, result: &ScanResult) -> Result<Option<String>, StoreError> {
    let latest = chrono::Utc::now() + MAX_CLOCK_SKEW;
    if result.finished_at > latest || result.started_at > latest {
        return Ok(Some(format!(
            "dated in the future (finished_at {})",
            result.finished_at.to_rfc3339()
        )));
    }
    let Some(service) = shared::checks::service(&result.service) else {
        return Ok(Some(format!(
            "unknown service {:?}",
            short(&result.service)
        )));
    };
    if let Some(unknown) = result.checks.iter().find(|c| {
        !service
            .checks
            .iter()
            .any(|known| known.meta.id == c.check_id)
    }) {
        return Ok(Some(format!(
            "check {:?} is not a check of service {}",
            short(&unknown.check_id),
            service.id
        )));
    }
    let Some(record) = store.connection(result.connection_id).await? else {
        return Ok(Some("the connection does not exist".into()));
    };
    if record.organization_id != result.organization_id {
        return Ok(Some(
            "the connection belongs to another organization".into(),
        ));
    }
    if !store
        .scan_names_service(result.connection_id, result.scan_id, &result.service)
        .await?
    {
        return Ok(Some(
            "no scan of this connection was enqueued for this service".into(),
        ));
    }
    Ok(None)
}

/// At most 80 characters of an untrusted value, for a dead-letter reason.
fn short(value: &str) -> String {
    value.chars().take(80).collect()
}
