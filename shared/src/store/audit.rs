//! The audit trail: an append-only stream per organization of who did what to which connection
//! (created, updated, secret rotated, validated, deleted, rescan requested). Nothing in the
//! product edits or deletes it, and deleting a connection leaves its entries in place.

use chrono::{DateTime, Utc};
use redis::AsyncCommands;
use redis::streams::StreamRangeReply;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Store, StoreError};

/// One entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditEvent {
    /// Stream id (ordering); empty before it is stored.
    #[serde(default)]
    pub id: String,
    pub at: DateTime<Utc>,
    /// Who: `operator`, or `token:<name>` of an organization token.
    pub actor: String,
    /// What: `connection.created`, `connection.secret_rotated`, ...
    pub action: String,
    pub connection_id: Option<Uuid>,
    /// Free details (never a secret).
    #[serde(default)]
    pub details: serde_json::Value,
}

impl Store {
    pub async fn append_audit(
        &self,
        organization_id: &str,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let _: String = conn
            .xadd(
                self.keys.audit(organization_id),
                "*",
                &[("event", serde_json::to_string(event)?)],
            )
            .await?;
        Ok(())
    }

    /// An organization's trail, oldest first.
    pub async fn audit_trail(
        &self,
        organization_id: &str,
        limit: usize,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let mut conn = self.conn.clone();
        let reply: StreamRangeReply = conn
            .xrange_count(self.keys.audit(organization_id), "-", "+", limit)
            .await?;
        Ok(reply
            .ids
            .into_iter()
            .filter_map(|entry| {
                let json: String = entry.get("event")?;
                let mut event: AuditEvent = serde_json::from_str(&json).ok()?;
                event.id = entry.id;
                Some(event)
            })
            .collect())
    }
}
