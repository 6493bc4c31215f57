//! The weekly planner: every `interval`, claim the connections whose slot has come and enqueue
//! their scheduled scan. Several scheduler replicas may run it at once: the claim is an atomic
//! compare-and-set in Redis (see `shared::store::schedule`), so each scan is enqueued once; a
//! replica that dies mid-way leaves a short lease that another replica picks up.

use std::time::Duration;

use chrono::Utc;
use shared::messages::Trigger;
use shared::store::next_slot_after;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::lifecycle::Control;
use crate::scans::{enqueue_scan, resolve_services};

/// How long a claimed scan may take to enqueue before another replica may retry it.
const CLAIM_LEASE: chrono::Duration = chrono::Duration::minutes(5);
/// Connections claimed per pass.
const BATCH: usize = 200;

/// The scan id of a connection's scheduled slot: the same slot always gives the same scan.
pub fn scheduled_scan_id(connection_id: Uuid, slot: i64) -> Uuid {
    Uuid::new_v5(&connection_id, format!("scheduled:{slot}").as_bytes())
}

pub async fn run(control: Control, interval: Duration, shutdown: CancellationToken) {
    tracing::info!(interval_s = interval.as_secs_f64(), "planner started");
    loop {
        match plan_once(&control).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(scans = n, "scheduled scans enqueued"),
            Err(e) => tracing::warn!(error = %e, "planning pass failed; retrying next pass"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(interval) => {}
        }
    }
}

/// One pass; returns how many scans this replica enqueued. A connection in a failure state is
/// validated again instead of scanned blindly; if it works again, it is scanned.
pub async fn plan_once(control: &Control) -> anyhow::Result<usize> {
    let store = &control.store;
    let now = Utc::now();
    let mut enqueued = 0;
    for (id, score) in store.due_connections(now, BATCH).await? {
        let Some(claim) = store.claim_due(id, score, now + CLAIM_LEASE).await? else {
            continue; // another replica got it
        };
        let Some(record) = store.connection(id).await? else {
            tracing::info!(connection_id = %id, "scheduled connection no longer exists");
            store
                .complete_claim(claim, now + chrono::Duration::days(3650))
                .await?;
            continue;
        };
        let mut healthy = store.status(&record, now).await?.state.is_healthy();
        if !healthy {
            healthy = control
                .revalidate(&record, "planner")
                .await?
                .state
                .is_healthy();
        }
        if healthy && record.capabilities.compliance_checks {
            let scan_id = scheduled_scan_id(id, claim.slot);
            let services = resolve_services(None)?;
            match enqueue_scan(
                store,
                &control.publisher,
                &record,
                scan_id,
                &services,
                Trigger::Scheduled,
            )
            .await
            {
                Ok(()) => {}
                // Deleted since it was read: its schedule went with it.
                Err(crate::scans::EnqueueError::Store(shared::store::StoreError::Gone {
                    ..
                })) => {
                    tracing::info!(connection_id = %id, "connection deleted; not scanned");
                    continue;
                }
                Err(e) => return Err(e.into()),
            }
            control
                .metrics
                .scans_enqueued
                .with_label_values(&["scheduled"])
                .inc();
            enqueued += 1;
        }
        store
            .complete_claim(claim, next_slot_after(id, now))
            .await?;
    }
    Ok(enqueued)
}
