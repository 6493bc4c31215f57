//! A RabbitMQ connection that comes back by itself.
//!
//! Every user asks [`Broker::channel`] for a channel; when the connection is gone (broker
//! restart, network cut) the next call reconnects with backoff and declares the topology again
//! before handing out channels. Publishers and consumers built on it retry through that path, so
//! both binaries carry on after a broker restart without anyone restarting them. We manage
//! reconnection ourselves instead of lapin's auto-recovery so that the behaviour (what is
//! redeclared, what is retried) is ours to see and test.

use std::sync::Arc;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use lapin::{Channel, Connection, ConnectionProperties};
use tokio::sync::Mutex;

use super::topology::Topology;
use crate::config::SensitiveUrl;

#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("RabbitMQ at {url}: {source}")]
    Amqp {
        url: String,
        #[source]
        source: lapin::Error,
    },
    #[error("publish to {routing_key} was not confirmed: {reason}")]
    NotConfirmed { routing_key: String, reason: String },
    #[error("cannot encode message: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("the broker is blocking publishes (a memory or disk alarm)")]
    Blocked,
}

/// A shared, self-healing connection plus the topology it declares.
#[derive(Debug)]
pub struct Broker {
    url: SensitiveUrl,
    topology: Topology,
    name: String,
    connection: Mutex<Option<Connection>>,
}

impl Broker {
    /// Connects (retrying for a while, as the broker may still be starting) and declares the
    /// topology.
    pub async fn connect(
        url: SensitiveUrl,
        topology: Topology,
        name: &str,
    ) -> Result<Arc<Self>, BrokerError> {
        let broker = Arc::new(Self {
            url,
            topology,
            name: name.to_string(),
            connection: Mutex::new(None),
        });
        let channel = broker.channel().await?;
        let _ = channel.close(200, "topology declared".into()).await;
        Ok(broker)
    }

    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// Whether the connection is currently up (for readiness probes).
    pub async fn is_connected(&self) -> bool {
        self.connection
            .lock()
            .await
            .as_ref()
            .is_some_and(|c| c.status().connected())
    }

    /// Whether the broker has blocked this connection's publishes (a memory or disk alarm).
    /// Publishes then wait, so readiness and metrics report it rather than letting it look like
    /// a hang.
    pub async fn is_blocked(&self) -> bool {
        self.connection
            .lock()
            .await
            .as_ref()
            .is_some_and(|c| c.status().blocked())
    }

    /// A fresh channel on a live connection, reconnecting first if needed.
    pub async fn channel(&self) -> Result<Channel, BrokerError> {
        let mut guard = self.connection.lock().await;
        if let Some(conn) = guard.as_ref().filter(|c| c.status().connected()) {
            match conn.create_channel().await {
                Ok(channel) => return Ok(channel),
                Err(e) => tracing::warn!(error = %e, "cannot open a channel; reconnecting"),
            }
        }
        let conn = self.open().await?;
        let channel = conn.create_channel().await.map_err(|e| self.err(e))?;
        self.topology
            .declare(&channel)
            .await
            .map_err(|e| self.err(e))?;
        *guard = Some(conn);
        Ok(channel)
    }

    /// Closes the connection (on shutdown).
    pub async fn close(&self) {
        if let Some(conn) = self.connection.lock().await.take() {
            let _ = conn.close(200, "shutdown".into()).await;
        }
    }

    async fn open(&self) -> Result<Connection, BrokerError> {
        let props = ConnectionProperties::default().with_connection_name(self.name.as_str().into());
        let attempt = || async {
            Connection::connect(self.url.expose(), props.clone())
                .await
                .map_err(|e| self.err(e))
        };
        let conn = attempt
            .retry(
                ExponentialBuilder::default()
                    .with_min_delay(Duration::from_millis(200))
                    .with_max_delay(Duration::from_secs(5))
                    .with_max_times(20)
                    .with_jitter(),
            )
            .sleep(tokio::time::sleep)
            .notify(|e, wait| {
                tracing::warn!(error = %e, wait_ms = wait.as_millis() as u64, "RabbitMQ unreachable, retrying");
            })
            .await?;
        tracing::info!(broker = %self.url, "connected to RabbitMQ");
        Ok(conn)
    }

    fn err(&self, source: lapin::Error) -> BrokerError {
        BrokerError::Amqp {
            url: self.url.redacted(),
            source,
        }
    }
}
