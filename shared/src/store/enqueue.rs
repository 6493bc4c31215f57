//! Enqueue bookkeeping for a scan: who may publish its jobs now, and whether every job was
//! published.
//!
//! A scan is recorded (its progress hash) before its jobs are published, so a process that dies
//! between the two leaves a record without jobs. A redelivered request must then publish them,
//! not take the record for proof that it was handled: only the `enqueued_at` mark, written after
//! the last job's publisher confirm, says that. Two deliveries of one request handled at the
//! same moment must not both publish: the first takes a short lease (`SET NX PX`) and the other
//! waits for the mark. A holder that dies loses its lease when it expires, and a redelivery
//! finishes the work (publishing the same job ids again is harmless: ingestion keeps one result
//! per job).

use std::time::Duration;

use chrono::Utc;
use redis::AsyncCommands;
use uuid::Uuid;

use super::{Store, StoreError};

/// Field of the scan's progress hash written once every job is published.
const ENQUEUED_AT: &str = "enqueued_at";

impl Store {
    fn enqueue_lease_key(&self, id: Uuid, scan_id: Uuid) -> String {
        format!("{}:enqueuing", self.keys.scan(id, scan_id))
    }

    /// Takes the right to publish scan `scan_id`'s jobs for `lease`. False when another
    /// delivery holds it.
    pub async fn claim_enqueue(
        &self,
        id: Uuid,
        scan_id: Uuid,
        lease: Duration,
    ) -> Result<bool, StoreError> {
        let mut conn = self.conn.clone();
        let taken: Option<String> = redis::cmd("SET")
            .arg(self.enqueue_lease_key(id, scan_id))
            .arg(Uuid::new_v4().to_string())
            .arg("NX")
            .arg("PX")
            .arg(lease.as_millis().max(1) as u64)
            .query_async(&mut conn)
            .await?;
        Ok(taken.is_some())
    }

    /// Gives the lease back (the jobs are published, or publishing failed and may be retried).
    pub async fn release_enqueue(&self, id: Uuid, scan_id: Uuid) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let _: () = conn.del(self.enqueue_lease_key(id, scan_id)).await?;
        Ok(())
    }

    /// Records that every job of the scan was published (after the last confirm), on the
    /// scan's record only: if the connection (and with it the record) was deleted meanwhile,
    /// nothing is written, so no key outlives the connection.
    pub async fn mark_enqueued(&self, id: Uuid, scan_id: Uuid) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let _: i64 = redis::Script::new(
            "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end \
             return redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])",
        )
        .key(self.keys.scan(id, scan_id))
        .arg(ENQUEUED_AT)
        .arg(Utc::now().to_rfc3339())
        .invoke_async(&mut conn)
        .await?;
        Ok(())
    }

    /// Whether every job of the scan was published.
    pub async fn is_enqueued(&self, id: Uuid, scan_id: Uuid) -> Result<bool, StoreError> {
        let mut conn = self.conn.clone();
        let exists: bool = conn
            .hexists(self.keys.scan(id, scan_id), ENQUEUED_AT)
            .await?;
        Ok(exists)
    }
}
