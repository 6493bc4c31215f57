//! The Redis store: connections (secrets sealed), status, latest results, change history, scan
//! progress and the weekly schedule.
//!
//! One [`Store`] per process wraps a `ConnectionManager` (a multiplexed connection that
//! reconnects by itself; a command that fails while it reconnects returns an error, which callers
//! treat as retryable). Submodules group the operations by what they are about.

mod audit;
mod connections;
mod keys;
mod results;
mod schedule;
mod tokens;

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

pub use audit::AuditEvent;
pub use connections::{
    AccessReport, Capabilities, ConnectionRecord, ConnectionState, ConnectionStatus, Diagnosis,
    ServiceAccess,
};
pub use keys::Keys;
pub use results::{HistoryEntry, IngestOutcome, ScanProgress, StoredCheckResult, fingerprint};
pub use schedule::{Claim, WEEK_SECS, next_slot_after, slot_offset};
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
    conn: ConnectionManager,
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
    pub async fn connect(url: &SensitiveUrl, prefix: &str) -> Result<Self, StoreError> {
        let client = redis::Client::open(url.expose())?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(5)))
            .set_response_timeout(Some(Duration::from_secs(10)))
            .set_number_of_retries(6)
            .set_max_delay(Duration::from_secs(2));
        let conn = ConnectionManager::new_with_config(client, config).await?;
        Ok(Self {
            conn,
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

    /// A connection for commands not wrapped here (tests, health checks).
    pub fn redis(&self) -> ConnectionManager {
        self.conn.clone()
    }

    /// Round-trip to Redis (readiness).
    pub async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        redis::cmd("PING").query_async::<String>(&mut conn).await?;
        Ok(())
    }
}
