//! Operator tasks that work on the broker and the store directly (not through the API):
//! inspecting and replaying dead-lettered messages, and re-sealing stored client secrets with
//! the key ring's first key after a key rotation (deploy/README.md has the runbook).

use lapin::BasicProperties;
use lapin::options::{BasicAckOptions, BasicGetOptions, BasicNackOptions};
use lapin::types::{AMQPValue, FieldTable};
use shared::broker::topology::{DEAD_LETTER_QUEUE_HEADER, DEAD_LETTER_REASON_HEADER};
use shared::broker::{Broker, Outgoing, Publisher};
use shared::crypto::{KeyRing, sealed_with};
use shared::store::Store;

/// One dead-lettered message, as the operator sees it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DeadLetter {
    pub message_id: Option<String>,
    pub kind: Option<String>,
    /// Our reason, or the broker's (`x-death`: rejected, delivery_limit, expired...).
    pub reason: String,
    pub bytes: usize,
}

fn header<'a>(headers: &'a FieldTable, key: &str) -> Option<&'a AMQPValue> {
    headers
        .inner()
        .iter()
        .find(|(k, _)| k.as_str() == key)
        .map(|(_, v)| v)
}

fn text(value: &AMQPValue) -> Option<String> {
    match value {
        AMQPValue::LongString(s) => Some(s.to_string()),
        AMQPValue::ShortString(s) => Some(s.to_string()),
        _ => None,
    }
}

fn describe(properties: &BasicProperties, bytes: usize) -> DeadLetter {
    let headers = properties.headers().clone().unwrap_or_default();
    let reason = header(&headers, DEAD_LETTER_REASON_HEADER)
        .and_then(text)
        .or_else(|| {
            // The broker's own dead-lettering: x-death[0].reason.
            let AMQPValue::FieldArray(deaths) = header(&headers, "x-death")? else {
                return None;
            };
            let AMQPValue::FieldTable(first) = deaths.as_slice().first()? else {
                return None;
            };
            header(first, "reason")
                .and_then(text)
                .map(|r| format!("broker: {r}"))
        })
        .unwrap_or_else(|| "unknown".to_string());
    DeadLetter {
        message_id: properties.message_id().as_ref().map(|m| m.to_string()),
        kind: properties.kind().as_ref().map(|k| k.to_string()),
        reason,
        bytes,
    }
}

/// The dead-letter queue of `queue` (a queue name with its prefix, e.g. `scan.jobs.ondemand`).
fn dead_queue_of(broker: &Broker, queue: &str) -> anyhow::Result<(String, &'static str)> {
    let spec = broker
        .topology()
        .queues()
        .into_iter()
        .find(|q| q.name == queue)
        .ok_or_else(|| {
            let names: Vec<String> = broker
                .topology()
                .queues()
                .into_iter()
                .map(|q| q.name)
                .collect();
            anyhow::anyhow!(
                "{queue} is not a fleet queue (one of: {})",
                names.join(", ")
            )
        })?;
    Ok((spec.dead_letter_queue(), spec.routing_key))
}

/// Up to `limit` messages of `queue`'s dead-letter queue, left in place.
pub async fn list_dead_letters(
    broker: &Broker,
    queue: &str,
    limit: usize,
) -> anyhow::Result<Vec<DeadLetter>> {
    let (dead, _) = dead_queue_of(broker, queue)?;
    let channel = broker.channel().await?;
    let mut seen = Vec::new();
    let mut held = Vec::new();
    while seen.len() < limit {
        let Some(message) = channel
            .basic_get(dead.as_str().into(), BasicGetOptions { no_ack: false })
            .await?
        else {
            break;
        };
        seen.push(describe(
            &message.delivery.properties,
            message.delivery.data.len(),
        ));
        held.push(message);
    }
    // Put them all back (closing the channel would too; this is explicit).
    for message in held {
        message
            .delivery
            .nack(BasicNackOptions {
                requeue: true,
                ..Default::default()
            })
            .await?;
    }
    let _ = channel.close(200, "listed".into()).await;
    Ok(seen)
}

/// Moves up to `limit` messages from `queue`'s dead-letter queue back to `queue`, without the
/// dead-letter headers, each confirmed before it leaves the dead-letter queue.
pub async fn replay_dead_letters(
    broker: &std::sync::Arc<Broker>,
    queue: &str,
    limit: usize,
) -> anyhow::Result<usize> {
    let (dead, routing_key) = dead_queue_of(broker, queue)?;
    let publisher = Publisher::new(broker.clone());
    let channel = broker.channel().await?;
    let mut replayed = 0;
    while replayed < limit {
        let Some(message) = channel
            .basic_get(dead.as_str().into(), BasicGetOptions { no_ack: false })
            .await?
        else {
            break;
        };
        let delivery = message.delivery;
        let mut headers = delivery.properties.headers().clone().unwrap_or_default();
        let mut cleaned = FieldTable::default();
        for (k, v) in headers.inner() {
            let key = k.as_str();
            if key != DEAD_LETTER_REASON_HEADER
                && key != DEAD_LETTER_QUEUE_HEADER
                && !key.starts_with("x-death")
                && !key.starts_with("x-first-death")
                && !key.starts_with("x-last-death")
            {
                cleaned.insert(k.clone(), v.clone());
            }
        }
        headers = cleaned;
        let outgoing = Outgoing {
            exchange: broker.topology().exchange(),
            routing_key: routing_key.to_string(),
            body: delivery.data.clone(),
            properties: delivery.properties.clone().with_headers(headers),
        };
        if let Err(e) = publisher.publish_raw(outgoing).await {
            let _ = delivery
                .nack(BasicNackOptions {
                    requeue: true,
                    ..Default::default()
                })
                .await;
            return Err(e.into());
        }
        delivery.ack(BasicAckOptions::default()).await?;
        replayed += 1;
    }
    let _ = channel.close(200, "replayed".into()).await;
    Ok(replayed)
}

/// Re-seals every stored client secret with the ring's first key. Returns (re-sealed, already
/// current). A secret that opens with no key of the ring stops the run with its connection id.
pub async fn reseal_secrets(store: &Store, ring: &KeyRing) -> anyhow::Result<(usize, usize)> {
    let (mut resealed, mut current) = (0, 0);
    for org in store.organizations().await? {
        for mut record in store.connections_of(&org).await? {
            if sealed_with(&record.sealed_secret) == Some(ring.active_key_id()) {
                current += 1;
                continue;
            }
            let context = record.id.to_string();
            let secret = ring
                .open(&record.sealed_secret, &context)
                .map_err(|e| anyhow::anyhow!("connection {}: {e}", record.id))?;
            record.sealed_secret = ring.seal(&secret, &context)?;
            store.update_connection(&record).await?;
            resealed += 1;
        }
    }
    Ok((resealed, current))
}
