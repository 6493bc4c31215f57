//! The Redis store: connections (secrets sealed), status, latest results, change history, scan
//! progress, the weekly schedule, exceptions and the audit trail.
//!
//! One [`Store`] per process wraps a `ConnectionManager` (a multiplexed connection that
//! reconnects by itself; a command that fails while it reconnects returns an error, which callers
//! treat as retryable). Submodules group the operations by what they are about.

mod assets;
mod audit;
mod connections;
mod enqueue;
mod exceptions;
mod fingerprint;
mod keys;
mod redis_conn;
mod results;
mod schedule;
mod staged_results;
mod staging;
mod stored_body;
mod tokens;

use std::time::Duration;

pub use assets::{Asset, AssetChange, asset_tags_match};
pub use audit::{AuditEvent, AuditVerification, GENESIS_HASH, link_hash};
pub use connections::{
    AccessReport, Capabilities, ConnectionRecord, ConnectionState, ConnectionStatus, Diagnosis,
    GraphAccess, GraphPermissionGrant, ServiceAccess,
};
pub use exceptions::{
    AppliedException, Approver, EndReason, Exception, ExceptionCategory, ExceptionChange,
    ExceptionTerms, ExemptedFinding, FindingCounts, ServedCheckResult, apply_exceptions, describe,
};
pub use fingerprint::{fingerprint, legacy_fingerprint};
pub use keys::Keys;
pub use redis_conn::RedisConn;
pub use results::{
    HistoryEntry, IDEMPOTENCY_WINDOW, IngestOutcome, LastGood, ScanProgress, StoredCheckResult,
};
pub use schedule::{Claim, WEEK_SECS, next_slot_after, slot_offset};
pub use staging::{STAGING_TTL, Staged, StagedJob};
pub use tokens::{ApiToken, token_digest};

use crate::config::SensitiveUrl;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("Redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("unexpected Redis reply: {0}")]
    Reply(#[from] redis::ParsingError),
    #[error("stored value at {key} is not valid: {reason}")]
    Corrupt { key: String, reason: String },
    #[error("cannot encode a value: {0}")]
    Encode(#[from] serde_json::Error),
    /// The organization already has a connection for this subscription.
    #[error("this organization already has a connection for this subscription ({existing})")]
    DuplicateSubscription { existing: String },
    /// The record was deleted meanwhile (an update after a delete must not bring it back).
    #[error("{key} no longer exists")]
    Gone { key: String },
}

impl StoreError {
    /// Whether the store could not be reached (a restart, a failover, the network), as opposed
    /// to a value it holds or was given being wrong: worth retrying the same operation.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Redis(_))
    }
}

/// How long history and ingestion records are kept.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    pub history: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            history: Duration::from_secs(400 * 24 * 3600),
        }
    }
}

/// Handle to the store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    conn: RedisConn,
    keys: Keys,
    retention: Retention,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("prefix", &self.keys.prefix())
            .finish()
    }
}

impl Store {
    /// Connects to Redis: `url` is one URL, or comma-separated cluster seed nodes.
    pub async fn connect(url: &SensitiveUrl, prefix: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, false, prefix).await
    }

    /// Connects, using the cluster client when `cluster` is set or several nodes are given.
    pub async fn connect_with(
        url: &SensitiveUrl,
        cluster: bool,
        prefix: &str,
    ) -> Result<Self, StoreError> {
        let urls: Vec<&str> = url
            .expose()
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .collect();
        Ok(Self {
            conn: RedisConn::connect(&urls, cluster).await?,
            keys: Keys::new(prefix),
            retention: Retention::default(),
        })
    }

    pub fn with_retention(mut self, retention: Retention) -> Self {
        self.retention = retention;
        self
    }

    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// A connection for commands not wrapped here (limiter, tests, health checks).
    pub fn redis(&self) -> RedisConn {
        self.conn.clone()
    }

    /// Round-trip to Redis (readiness).
    pub async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        redis::cmd("PING").query_async::<String>(&mut conn).await?;
        Ok(())
    }

    pub fn is_cluster(&self) -> bool {
        self.conn.is_cluster()
    }

    /// Runs independent commands (keys in any slots) in as few round trips as the deployment
    /// allows: one pipeline on a single server; concurrent commands on a cluster, where a
    /// pipeline must stay within one slot. Replies come back in order.
    pub(crate) async fn batch(
        &self,
        cmds: Vec<redis::Cmd>,
    ) -> Result<Vec<redis::Value>, StoreError> {
        if cmds.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.conn.clone();
        if !conn.is_cluster() {
            let mut pipe = redis::pipe();
            for cmd in cmds {
                pipe.add_command(cmd);
            }
            return Ok(pipe.query_async(&mut conn).await?);
        }
        use futures_util::StreamExt;
        let replies: Vec<redis::RedisResult<redis::Value>> =
            futures_util::stream::iter(cmds.into_iter().map(|cmd| {
                let mut conn = conn.clone();
                async move { cmd.query_async::<redis::Value>(&mut conn).await }
            }))
            .buffered(64)
            .collect()
            .await;
        Ok(replies.into_iter().collect::<Result<Vec<_>, _>>()?)
    }
}
