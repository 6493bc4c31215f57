//! RabbitMQ: the topology, a self-healing connection, confirmed publishing and resilient
//! consuming with explicit dead-lettering. Both binaries use only this module to talk to the
//! broker, so the at-least-once rules (DESIGN.md contract 3) live in one place.

pub mod connection;
pub mod consumer;
pub mod hold;
pub mod publisher;
pub mod topology;

pub use connection::{Broker, BrokerError};
pub use consumer::{
    ConsumerSpec, Subscription, ack, dead_letter, requeue, serve_queue, signature_of,
    spawn_consumer,
};
pub use publisher::{Outgoing, Publisher};
pub use topology::{Topology, routing};
