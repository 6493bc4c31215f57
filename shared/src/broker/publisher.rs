//! Publishing with publisher confirms (DESIGN.md contract 3).
//!
//! A publish returns only once the broker has confirmed it (for quorum queues: a quorum of
//! replicas has the message). A nack, an unroutable message (published `mandatory`), a closed
//! channel or a lost connection are retried on a fresh channel with backoff; a caller that gets
//! an error knows the message is not on the broker and must not ack what it was working on.

use std::sync::Arc;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Confirmation};
use tokio::sync::Mutex;
use uuid::Uuid;

use super::connection::{Broker, BrokerError};
use crate::messages::{Message, encode};

/// A confirmed publisher on the fleet exchange.
#[derive(Debug, Clone)]
pub struct Publisher {
    broker: Arc<Broker>,
    channel: Arc<Mutex<Option<Channel>>>,
}

/// An outgoing message: body, AMQP properties and headers.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub exchange: String,
    pub routing_key: String,
    pub body: Vec<u8>,
    pub properties: BasicProperties,
}

impl Publisher {
    pub fn new(broker: Arc<Broker>) -> Self {
        Self {
            broker,
            channel: Arc::default(),
        }
    }

    pub fn broker(&self) -> &Arc<Broker> {
        &self.broker
    }

    /// Publishes a fleet message on the fleet exchange, with its schema as the AMQP `type`, a
    /// `message_id`, persistence, and the current trace context in the headers.
    pub async fn publish<M: Message>(
        &self,
        routing_key: &str,
        message: &M,
        message_id: Uuid,
    ) -> Result<(), BrokerError> {
        let mut headers = FieldTable::default();
        crate::telemetry::inject_trace_context(&mut headers);
        let properties = BasicProperties::default()
            .with_content_type("application/json".into())
            .with_type(M::SCHEMA.into())
            .with_message_id(message_id.to_string().into())
            .with_delivery_mode(2)
            .with_timestamp(chrono::Utc::now().timestamp().max(0) as u64)
            .with_headers(headers);
        self.publish_raw(Outgoing {
            exchange: self.broker.topology().exchange(),
            routing_key: routing_key.to_string(),
            body: encode(message)?,
            properties,
        })
        .await
    }

    /// [`Publisher::publish`] for a caller who is waiting on it (an API request): refused at
    /// once with [`BrokerError::Blocked`] while the broker blocks this connection (a resource
    /// alarm), and given up as soon as the connection becomes blocked, rather than waited
    /// through the confirm timeouts and retries. A message given up on may still have reached
    /// the broker (the publish that gets a connection blocked is read).
    pub async fn publish_unless_blocked<M: Message>(
        &self,
        routing_key: &str,
        message: &M,
        message_id: Uuid,
    ) -> Result<(), BrokerError> {
        if self.broker.is_blocked().await {
            return Err(BrokerError::Blocked);
        }
        let publish = self.publish(routing_key, message, message_id);
        tokio::pin!(publish);
        loop {
            tokio::select! {
                result = &mut publish => return result,
                () = tokio::time::sleep(BLOCKED_POLL) => {
                    if self.broker.is_blocked().await {
                        return Err(BrokerError::Blocked);
                    }
                }
            }
        }
    }

    /// [`Publisher::publish`], signed: the body's HMAC under the fleet's result keys travels in
    /// the `x-fleet-signature` header (see [`crate::signing`]).
    pub async fn publish_signed<M: Message>(
        &self,
        routing_key: &str,
        message: &M,
        message_id: Uuid,
        keys: &crate::signing::SigningKeys,
    ) -> Result<(), BrokerError> {
        let body = encode(message)?;
        let mut headers = FieldTable::default();
        crate::telemetry::inject_trace_context(&mut headers);
        headers.insert(
            crate::signing::SIGNATURE_HEADER.into(),
            AMQPValue::LongString(keys.sign(&body).into()),
        );
        let properties = BasicProperties::default()
            .with_content_type("application/json".into())
            .with_type(M::SCHEMA.into())
            .with_message_id(message_id.to_string().into())
            .with_delivery_mode(2)
            .with_timestamp(chrono::Utc::now().timestamp().max(0) as u64)
            .with_headers(headers);
        self.publish_raw(Outgoing {
            exchange: self.broker.topology().exchange(),
            routing_key: routing_key.to_string(),
            body,
            properties,
        })
        .await
    }

    /// Publishes anything, confirmed, retrying on a fresh channel.
    pub async fn publish_raw(&self, outgoing: Outgoing) -> Result<(), BrokerError> {
        let attempt = || self.publish_once(&outgoing);
        attempt
            .retry(
                ExponentialBuilder::default()
                    .with_min_delay(Duration::from_millis(100))
                    .with_max_delay(Duration::from_secs(5))
                    .with_max_times(12)
                    .with_jitter(),
            )
            .sleep(tokio::time::sleep)
            .notify(|e, wait| {
                tracing::warn!(error = %e, routing_key = %outgoing.routing_key, wait_ms = wait.as_millis() as u64, "publish failed, retrying");
            })
            .await
    }

    /// One attempt: publishes and waits at most [`CONFIRM_TIMEOUT`] for the broker's confirm
    /// (a broker under a resource alarm never sends it). [`Publisher::publish_raw`] retries this.
    pub async fn publish_once(&self, outgoing: &Outgoing) -> Result<(), BrokerError> {
        // A broker under a resource alarm holds publishes without answering, and also a new
        // channel's opening; waiting forever would hold the job (or request) that is being
        // answered. Whatever does not come in time is a failed attempt, retried on a fresh
        // channel.
        let deadline = tokio::time::Instant::now() + CONFIRM_TIMEOUT;
        let timed_out = |what: &str| BrokerError::NotConfirmed {
            routing_key: outgoing.routing_key.clone(),
            reason: format!(
                "no {what} within {} s (is the broker blocked by a resource alarm?)",
                CONFIRM_TIMEOUT.as_secs()
            ),
        };
        let channel = match tokio::time::timeout_at(deadline, self.confirm_channel()).await {
            Ok(channel) => channel?,
            Err(_) => {
                self.reset().await;
                return Err(timed_out("channel"));
            }
        };
        let publish = async {
            let confirm = channel
                .basic_publish(
                    outgoing.exchange.as_str().into(),
                    outgoing.routing_key.as_str().into(),
                    BasicPublishOptions {
                        mandatory: true,
                        ..Default::default()
                    },
                    &outgoing.body,
                    outgoing.properties.clone(),
                )
                .await?
                .await?;
            Ok::<_, lapin::Error>(confirm)
        };
        let result = match tokio::time::timeout_at(deadline, publish).await {
            Ok(result) => result,
            Err(_) => {
                self.reset().await;
                return Err(timed_out("confirm"));
            }
        };
        let not_confirmed = |reason: String| BrokerError::NotConfirmed {
            routing_key: outgoing.routing_key.clone(),
            reason,
        };
        match result {
            Ok(Confirmation::Ack(None)) => Ok(()),
            Ok(Confirmation::Ack(Some(returned))) => Err(not_confirmed(format!(
                "unroutable (returned: {} {})",
                returned.reply_code, returned.reply_text
            ))),
            Ok(Confirmation::Nack(_)) => Err(not_confirmed("nacked by the broker".into())),
            Ok(Confirmation::NotRequested) => {
                self.reset().await;
                Err(not_confirmed("channel was not in confirm mode".into()))
            }
            Err(e) => {
                self.reset().await;
                Err(not_confirmed(e.to_string()))
            }
        }
    }

    async fn confirm_channel(&self) -> Result<Channel, BrokerError> {
        let mut guard = self.channel.lock().await;
        if let Some(ch) = guard.as_ref().filter(|c| c.status().connected()) {
            return Ok(ch.clone());
        }
        let ch = self.broker.channel().await?;
        ch.confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(|e| BrokerError::NotConfirmed {
                routing_key: String::new(),
                reason: format!("confirm_select: {e}"),
            })?;
        *guard = Some(ch.clone());
        Ok(ch)
    }

    /// Closes the publishing channel (before the connection closes, on shutdown).
    pub async fn close(&self) {
        if let Some(channel) = self.channel.lock().await.take()
            && channel.status().connected()
        {
            let _ = channel.close(200, "publisher finished".into()).await;
        }
    }

    async fn reset(&self) {
        *self.channel.lock().await = None;
    }
}

/// How long one publish waits for the broker's confirm before the attempt counts as failed.
pub const CONFIRM_TIMEOUT: Duration = Duration::from_secs(20);

/// How often [`Publisher::publish_unless_blocked`] looks whether the connection got blocked.
const BLOCKED_POLL: Duration = Duration::from_millis(200);

/// Adds a header (string value) to AMQP properties.
pub fn with_header(properties: BasicProperties, key: &str, value: &str) -> BasicProperties {
    let mut headers = properties.headers().clone().unwrap_or_default();
    headers.insert(key.into(), AMQPValue::LongString(value.into()));
    properties.with_headers(headers)
}
