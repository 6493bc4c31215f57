//! Consuming a queue through broker restarts, with manual acks and explicit dead-lettering.
//!
//! [`spawn_consumer`] runs a task that (re)opens a channel, sets the prefetch, consumes, and
//! forwards deliveries to the caller through a small channel. When the broker goes away it
//! reconnects and consumes again; deliveries from the old channel can no longer be acked, so the
//! broker redelivers them, which idempotent handlers absorb. On shutdown it cancels the consumer
//! (no new deliveries) and the caller returns anything it has not started with [`requeue`].

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::connection::Broker;
use super::publisher::{Outgoing, Publisher, with_header};
use super::topology::{DEAD_LETTER_QUEUE_HEADER, DEAD_LETTER_REASON_HEADER};

/// What to consume and how.
#[derive(Debug, Clone)]
pub struct ConsumerSpec {
    pub queue: String,
    /// Unacked deliveries the broker may hand this consumer at once.
    pub prefetch: u16,
    /// Consumer tag prefix; a random suffix keeps tags unique.
    pub tag: String,
    /// RabbitMQ consumer priority (`x-priority`), if any.
    pub priority: Option<i32>,
}

/// A running consumer: its deliveries, and the means to end it cleanly.
#[derive(Debug)]
pub struct Subscription {
    /// Deliveries, until the consumer is cancelled (then `recv` returns `None`).
    pub deliveries: mpsc::Receiver<Delivery>,
    release: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Subscription {
    /// Ends the subscription once its deliveries are all acked or returned: the channel they
    /// arrived on is closed only now, so acks of work finished after `shutdown` still land.
    pub async fn finish(self) {
        self.release.cancel();
        drop(self.deliveries);
        if tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .is_err()
        {
            tracing::warn!("consumer did not stop in time");
        }
    }
}

/// Starts consuming; deliveries arrive until `shutdown` fires, which cancels the consumer at the
/// broker (no new deliveries) but keeps its channel open until [`Subscription::finish`].
pub fn spawn_consumer(
    broker: Arc<Broker>,
    spec: ConsumerSpec,
    shutdown: CancellationToken,
) -> Subscription {
    let (tx, rx) = mpsc::channel(usize::from(spec.prefetch.max(1)));
    let release = CancellationToken::new();
    let released = release.clone();
    let task = tokio::spawn(async move {
        let mut failures: u32 = 0;
        let mut open_channel = None;
        while !shutdown.is_cancelled() {
            match consume_once(&broker, &spec, &tx, &shutdown).await {
                Ok(channel) => {
                    open_channel = Some(channel);
                    break;
                }
                Err(e) => {
                    failures = failures.saturating_add(1);
                    tracing::warn!(queue = %spec.queue, error = %e, "consumer interrupted; reconnecting");
                }
            }
            let wait = Duration::from_millis(200 * u64::from(failures.min(25)));
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(wait) => {}
            }
        }
        // No more deliveries: the receiver sees the end once it has drained what arrived.
        drop(tx);
        released.cancelled().await;
        if let Some(channel) = open_channel
            && channel.status().connected()
        {
            let _ = channel.close(200, "consumer finished".into()).await;
        }
        tracing::debug!(queue = %spec.queue, "consumer stopped");
    });
    Subscription {
        deliveries: rx,
        release,
        task,
    }
}

/// Consumes until `shutdown` (returns the still-open channel, consumer cancelled) or until
/// the channel or connection fails (returns the error).
async fn consume_once(
    broker: &Broker,
    spec: &ConsumerSpec,
    tx: &mpsc::Sender<Delivery>,
    shutdown: &CancellationToken,
) -> Result<lapin::Channel, String> {
    let channel = broker.channel().await.map_err(|e| e.to_string())?;
    channel
        .basic_qos(spec.prefetch, BasicQosOptions { global: false })
        .await
        .map_err(|e| e.to_string())?;
    let mut args = FieldTable::default();
    if let Some(p) = spec.priority {
        args.insert("x-priority".into(), AMQPValue::LongInt(p));
    }
    let tag = format!("{}-{}", spec.tag, uuid::Uuid::new_v4().simple());
    let mut consumer = channel
        .basic_consume(
            spec.queue.as_str().into(),
            tag.as_str().into(),
            BasicConsumeOptions::default(),
            args,
        )
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!(queue = %spec.queue, prefetch = spec.prefetch, "consuming");
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => {
                let _ = channel.basic_cancel(tag.as_str().into(), BasicCancelOptions::default()).await;
                return Ok(channel);
            }
            next = consumer.next() => match next {
                Some(Ok(delivery)) => {
                    if tx.send(delivery).await.is_err() {
                        let _ = channel.basic_cancel(tag.as_str().into(), BasicCancelOptions::default()).await;
                        return Ok(channel);
                    }
                }
                Some(Err(e)) => return Err(e.to_string()),
                None => return Err("consumer stream ended".to_string()),
            }
        }
    }
}

/// Consumes `spec.queue` until `shutdown`, running `handle` on up to `spec.prefetch` deliveries
/// at once. The handler acks, requeues or dead-letters each delivery itself. Returns when the
/// consumer has stopped and every started handler has finished.
pub async fn serve_queue<H, Fut>(
    broker: Arc<Broker>,
    spec: ConsumerSpec,
    shutdown: CancellationToken,
    handle: H,
) where
    H: Fn(Delivery) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let parallel = usize::from(spec.prefetch.max(1));
    let mut subscription = spawn_consumer(broker, spec, shutdown);
    let mut running = tokio::task::JoinSet::new();
    while let Some(delivery) = subscription.deliveries.recv().await {
        while running.len() >= parallel {
            running.join_next().await;
        }
        running.spawn(handle(delivery));
        while running.try_join_next().is_some() {}
    }
    while running.join_next().await.is_some() {}
    subscription.finish().await;
}

/// Acknowledges a delivery. A failure means the channel is gone and the broker will redeliver;
/// it is logged, not fatal.
pub async fn ack(delivery: &Delivery) {
    if let Err(e) = delivery.ack(BasicAckOptions::default()).await {
        tracing::warn!(error = %e, "ack failed; the broker will redeliver");
    }
}

/// Returns a delivery to its queue (work not done; it counts toward the delivery limit).
pub async fn requeue(delivery: &Delivery) {
    let options = BasicNackOptions {
        requeue: true,
        ..Default::default()
    };
    if let Err(e) = delivery.nack(options).await {
        tracing::warn!(error = %e, "nack failed; the broker will redeliver");
    }
}

/// Moves a delivery to its queue's dead-letter queue with `reason` in a header, then acks it.
/// If that publish fails, the delivery is rejected instead, so the broker dead-letters it
/// (without our reason, which is still in the log).
pub async fn dead_letter(publisher: &Publisher, queue: &str, delivery: &Delivery, reason: &str) {
    tracing::warn!(queue, reason, "dead-lettering a message");
    let properties = with_header(
        with_header(
            delivery.properties.clone(),
            DEAD_LETTER_REASON_HEADER,
            reason,
        ),
        DEAD_LETTER_QUEUE_HEADER,
        queue,
    );
    let outgoing = Outgoing {
        exchange: publisher.broker().topology().dead_letter_exchange(),
        routing_key: queue.to_string(),
        body: delivery.data.clone(),
        properties,
    };
    match publisher.publish_raw(outgoing).await {
        Ok(()) => ack(delivery).await,
        Err(e) => {
            tracing::error!(error = %e, "cannot publish to the dead-letter exchange; rejecting");
            let options = BasicNackOptions {
                requeue: false,
                ..Default::default()
            };
            if let Err(e) = delivery.nack(options).await {
                tracing::warn!(error = %e, "reject failed; the broker will redeliver");
            }
        }
    }
}

/// The `x-fleet-signature` header of a delivery, if it has one (see [`crate::signing`]).
pub fn signature_of(delivery: &Delivery) -> Option<String> {
    let headers = delivery.properties.headers().as_ref()?;
    match headers.inner().get(crate::signing::SIGNATURE_HEADER)? {
        lapin::types::AMQPValue::LongString(s) => Some(s.to_string()),
        lapin::types::AMQPValue::ShortString(s) => Some(s.to_string()),
        _ => None,
    }
}
