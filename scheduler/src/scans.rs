//! Turning "scan this connection" into jobs on the queue. Used by the weekly planner, the rescan
//! consumer and connection creation, so every path enqueues the same way: record the scan's
//! progress first, then publish one confirmed job per (connection, service).

use shared::assets::ASSET_SERVICE;
use shared::broker::{Publisher, routing};
use shared::checks;
use shared::messages::{ScanJob, Trigger};
use shared::store::{ConnectionRecord, Store};
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum EnqueueError {
    #[error("unknown service(s): {0}")]
    UnknownServices(String),
    #[error("compliance checks are not selected for this connection")]
    ChecksNotSelected,
    #[error(transparent)]
    Store(#[from] shared::store::StoreError),
    #[error(transparent)]
    Broker(#[from] shared::broker::BrokerError),
}

/// Service ids to scan: the requested ones (validated) or every service.
pub fn resolve_services(requested: Option<&[String]>) -> Result<Vec<&'static str>, EnqueueError> {
    let all: Vec<&'static str> = checks::catalogue().iter().map(|s| s.id).collect();
    let Some(requested) = requested.filter(|r| !r.is_empty()) else {
        return Ok(all);
    };
    let unknown: Vec<&str> = requested
        .iter()
        .map(String::as_str)
        .filter(|r| checks::service(r).is_none())
        .collect();
    if !unknown.is_empty() {
        return Err(EnqueueError::UnknownServices(unknown.join(", ")));
    }
    Ok(all
        .into_iter()
        .filter(|s| requested.iter().any(|r| r == s))
        .collect())
}

/// Enqueues scan `scan_id` of `record` for `services`. Safe to repeat with the same scan id:
/// jobs get the same ids and ingestion keeps one result each.
#[tracing::instrument(
    name = "enqueue_scan",
    skip_all,
    fields(connection_id = %record.id, scan_id = %scan_id, trigger = ?trigger, services = services.len())
)]
pub async fn enqueue_scan(
    store: &Store,
    publisher: &Publisher,
    record: &ConnectionRecord,
    scan_id: Uuid,
    services: &[&str],
    trigger: Trigger,
) -> Result<(), EnqueueError> {
    if !record.capabilities.compliance_checks {
        return Err(EnqueueError::ChecksNotSelected);
    }
    // Asset import is one more job of every scan of a connection that selects it.
    let mut services = services.to_vec();
    if record.capabilities.asset_import && !services.contains(&ASSET_SERVICE) {
        services.push(ASSET_SERVICE);
    }
    let services = services.as_slice();
    store
        .start_scan(record.id, scan_id, services, trigger)
        .await?;
    let routing_key = routing::job(trigger);
    for service in services {
        let job = ScanJob::new(
            scan_id,
            &record.organization_id,
            record.id,
            service,
            trigger,
        );
        publisher.publish(routing_key, &job, job.job_id).await?;
    }
    // Only now is the scan handled: a redelivered request that finds this mark is a duplicate;
    // one that finds the record without it publishes the jobs (see `store::enqueue`).
    store.mark_enqueued(record.id, scan_id).await?;
    tracing::info!(
        connection_id = %record.id,
        scan_id = %scan_id,
        services = services.len(),
        ?trigger,
        "scan enqueued"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_default_to_all_and_unknown_ones_are_named() {
        assert_eq!(
            resolve_services(None).expect("all").len(),
            checks::catalogue().len()
        );
        assert_eq!(
            resolve_services(Some(&["storage".to_string()])).expect("one"),
            vec!["storage"]
        );
        let err = resolve_services(Some(&["storage".into(), "nope".into()])).unwrap_err();
        assert!(err.to_string().contains("nope"));
    }
}
