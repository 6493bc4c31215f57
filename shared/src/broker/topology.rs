//! The RabbitMQ topology, declared idempotently by whichever binary starts first.
//!
//! ```text
//!  exchange <p>fleet (topic) ── scan.job.ondemand  ──▶ <p>scan.jobs.ondemand   (quorum)
//!                             ── scan.job.scheduled ──▶ <p>scan.jobs.scheduled  (quorum, TTL 6 d)
//!                             ── scan.result        ──▶ <p>scan.results         (quorum)
//!                             ── scan.rescan        ──▶ <p>scan.rescan          (quorum)
//!  exchange <p>fleet.dlx (direct) ── <queue name> ──▶ <queue name>.dead          (quorum)
//! ```
//! Every work queue has a delivery limit and dead-letters to its own `.dead` queue, so a message
//! that crashes consumers stops after [`DELIVERY_LIMIT`] deliveries, and a message a consumer
//! refuses lands there with its reason. Publishing through a topic exchange (not the default
//! exchange) lets operators and tests bind a tap queue that sees every message.
//!
//! The queue arguments are part of the contract: a queue redeclared with other arguments makes
//! the broker close the channel (406 PRECONDITION_FAILED). `deploy/rabbitmq/definitions.json`
//! declares the same queues with the same arguments (a test keeps them equal).

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, ExchangeKind};

/// Deliveries of one message before the broker dead-letters it (quorum queues count them).
pub const DELIVERY_LIMIT: i64 = 5;
/// Weekly jobs older than this are dead-lettered instead of run next to the new week's jobs.
pub const SCHEDULED_JOB_TTL_MS: i64 = 6 * 24 * 3600 * 1000;

/// Routing keys on the fleet exchange.
pub mod routing {
    pub const JOB_ONDEMAND: &str = "scan.job.ondemand";
    pub const JOB_SCHEDULED: &str = "scan.job.scheduled";
    pub const RESULT: &str = "scan.result";
    pub const RESCAN: &str = "scan.rescan";

    /// Where a scan job of `trigger` goes (on-demand jobs have a queue of their own, consumed
    /// first).
    pub fn job(trigger: crate::messages::Trigger) -> &'static str {
        match trigger {
            crate::messages::Trigger::OnDemand => JOB_ONDEMAND,
            crate::messages::Trigger::Scheduled => JOB_SCHEDULED,
        }
    }
}

/// Header set on messages the fleet dead-letters itself: why.
pub const DEAD_LETTER_REASON_HEADER: &str = "x-fleet-dead-letter-reason";
/// Header set on messages the fleet dead-letters itself: from which queue.
pub const DEAD_LETTER_QUEUE_HEADER: &str = "x-fleet-original-queue";

/// One work queue and how it is wired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSpec {
    pub name: String,
    pub routing_key: &'static str,
    pub message_ttl_ms: Option<i64>,
}

impl QueueSpec {
    pub fn dead_letter_queue(&self) -> String {
        format!("{}.dead", self.name)
    }

    /// The arguments the queue is declared with (the contract above).
    pub fn arguments(&self, dlx: &str) -> FieldTable {
        let mut args = FieldTable::default();
        args.insert(
            "x-queue-type".into(),
            AMQPValue::LongString("quorum".into()),
        );
        args.insert(
            "x-delivery-limit".into(),
            AMQPValue::LongLongInt(DELIVERY_LIMIT),
        );
        args.insert(
            "x-dead-letter-exchange".into(),
            AMQPValue::LongString(dlx.into()),
        );
        args.insert(
            "x-dead-letter-routing-key".into(),
            AMQPValue::LongString(self.name.as_str().into()),
        );
        // Dead-lettering by the broker (delivery limit, TTL) is at-most-once by default: it
        // republishes without confirms. At-least-once needs the reject-publish overflow mode.
        args.insert(
            "x-dead-letter-strategy".into(),
            AMQPValue::LongString("at-least-once".into()),
        );
        args.insert(
            "x-overflow".into(),
            AMQPValue::LongString("reject-publish".into()),
        );
        if let Some(ttl) = self.message_ttl_ms {
            args.insert("x-message-ttl".into(), AMQPValue::LongLongInt(ttl));
        }
        args
    }
}

/// Names of everything, under an optional prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    prefix: String,
}

impl Topology {
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_string(),
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn exchange(&self) -> String {
        format!("{}fleet", self.prefix)
    }

    pub fn dead_letter_exchange(&self) -> String {
        format!("{}fleet.dlx", self.prefix)
    }

    pub fn jobs_ondemand(&self) -> QueueSpec {
        self.queue("scan.jobs.ondemand", routing::JOB_ONDEMAND, None)
    }

    pub fn jobs_scheduled(&self) -> QueueSpec {
        self.queue(
            "scan.jobs.scheduled",
            routing::JOB_SCHEDULED,
            Some(SCHEDULED_JOB_TTL_MS),
        )
    }

    pub fn results(&self) -> QueueSpec {
        self.queue("scan.results", routing::RESULT, None)
    }

    pub fn rescans(&self) -> QueueSpec {
        self.queue("scan.rescan", routing::RESCAN, None)
    }

    pub fn queues(&self) -> [QueueSpec; 4] {
        [
            self.jobs_ondemand(),
            self.jobs_scheduled(),
            self.results(),
            self.rescans(),
        ]
    }

    /// The queue a message with `routing_key` lands in.
    pub fn queue_for(&self, routing_key: &str) -> Option<QueueSpec> {
        self.queues()
            .into_iter()
            .find(|q| q.routing_key == routing_key)
    }

    fn queue(&self, name: &str, routing_key: &'static str, ttl: Option<i64>) -> QueueSpec {
        QueueSpec {
            name: format!("{}{name}", self.prefix),
            routing_key,
            message_ttl_ms: ttl,
        }
    }

    /// Declares exchanges, queues, dead-letter queues and bindings. Idempotent.
    pub async fn declare(&self, channel: &Channel) -> lapin::Result<()> {
        let durable = ExchangeDeclareOptions {
            durable: true,
            ..Default::default()
        };
        let exchange = self.exchange();
        let dlx = self.dead_letter_exchange();
        channel
            .exchange_declare(
                exchange.as_str().into(),
                ExchangeKind::Topic,
                durable,
                FieldTable::default(),
            )
            .await?;
        channel
            .exchange_declare(
                dlx.as_str().into(),
                ExchangeKind::Direct,
                durable,
                FieldTable::default(),
            )
            .await?;
        for queue in self.queues() {
            let dead = queue.dead_letter_queue();
            let mut dead_args = FieldTable::default();
            dead_args.insert(
                "x-queue-type".into(),
                AMQPValue::LongString("quorum".into()),
            );
            channel
                .queue_declare(
                    dead.as_str().into(),
                    QueueDeclareOptions::durable(),
                    dead_args,
                )
                .await?;
            channel
                .queue_bind(
                    dead.as_str().into(),
                    dlx.as_str().into(),
                    queue.name.as_str().into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await?;
            channel
                .queue_declare(
                    queue.name.as_str().into(),
                    QueueDeclareOptions::durable(),
                    queue.arguments(&dlx),
                )
                .await?;
            channel
                .queue_bind(
                    queue.name.as_str().into(),
                    exchange.as_str().into(),
                    queue.routing_key.into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await?;
        }
        Ok(())
    }
}

impl Topology {
    /// The same topology as a RabbitMQ definitions document (`rabbitmqctl import_definitions`,
    /// or `definitions.local.path` at boot), for the default vhost.
    pub fn definitions(&self) -> serde_json::Value {
        use serde_json::json;
        let vhost = "/";
        let exchange = |name: String, kind: &str| {
            json!({"name": name, "vhost": vhost, "type": kind, "durable": true,
                   "auto_delete": false, "internal": false, "arguments": {}})
        };
        let binding = |source: String, destination: String, key: &str| {
            json!({"source": source, "vhost": vhost, "destination": destination,
                   "destination_type": "queue", "routing_key": key, "arguments": {}})
        };
        let dlx = self.dead_letter_exchange();
        let mut queues = Vec::new();
        let mut bindings = Vec::new();
        for q in self.queues() {
            let mut args = serde_json::Map::new();
            for (k, v) in q.arguments(&dlx).inner() {
                let value = match v {
                    AMQPValue::LongString(s) => json!(s.to_string()),
                    AMQPValue::LongLongInt(n) => json!(n),
                    other => json!(format!("{other:?}")),
                };
                args.insert(k.to_string(), value);
            }
            queues.push(json!({"name": q.name, "vhost": vhost, "durable": true,
                               "auto_delete": false, "arguments": args}));
            queues.push(
                json!({"name": q.dead_letter_queue(), "vhost": vhost, "durable": true,
                               "auto_delete": false, "arguments": {"x-queue-type": "quorum"}}),
            );
            bindings.push(binding(self.exchange(), q.name.clone(), q.routing_key));
            bindings.push(binding(dlx.clone(), q.dead_letter_queue(), &q.name));
        }
        json!({
            "vhosts": [{"name": vhost}],
            "exchanges": [exchange(self.exchange(), "topic"), exchange(dlx, "direct")],
            "queues": queues,
            "bindings": bindings,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deploy_definitions_match_the_code() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../deploy/rabbitmq/definitions.json");
        let expected =
            serde_json::to_string_pretty(&Topology::new("").definitions()).expect("json") + "\n";
        if std::env::var_os("UPDATE_DEFINITIONS").is_some() {
            std::fs::create_dir_all(path.parent().expect("dir")).expect("mkdir");
            std::fs::write(&path, &expected).expect("write");
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert_eq!(
            committed, expected,
            "deploy/rabbitmq/definitions.json is out of date: run `UPDATE_DEFINITIONS=1 cargo test -p shared topology`"
        );
    }

    #[test]
    fn names_carry_the_prefix() {
        let t = Topology::new("t1.");
        assert_eq!(t.exchange(), "t1.fleet");
        assert_eq!(t.jobs_ondemand().name, "t1.scan.jobs.ondemand");
        assert_eq!(t.results().dead_letter_queue(), "t1.scan.results.dead");
        assert_eq!(
            t.queue_for(routing::RESCAN).map(|q| q.name),
            Some("t1.scan.rescan".to_string())
        );
    }

    #[test]
    fn work_queues_are_quorum_with_limits_and_dead_letters() {
        let t = Topology::new("");
        let args = t.jobs_scheduled().arguments(&t.dead_letter_exchange());
        let inner = args.inner();
        assert_eq!(
            inner.get("x-queue-type"),
            Some(&AMQPValue::LongString("quorum".into()))
        );
        assert_eq!(
            inner.get("x-delivery-limit"),
            Some(&AMQPValue::LongLongInt(DELIVERY_LIMIT))
        );
        assert!(inner.contains_key("x-message-ttl"));
        assert_eq!(
            inner.get("x-dead-letter-strategy"),
            Some(&AMQPValue::LongString("at-least-once".into()))
        );
        assert_eq!(
            inner.get("x-overflow"),
            Some(&AMQPValue::LongString("reject-publish".into()))
        );
        assert!(
            !t.jobs_ondemand()
                .arguments("dlx")
                .inner()
                .contains_key("x-message-ttl")
        );
    }
}
