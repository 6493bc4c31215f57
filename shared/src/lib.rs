//! Building blocks shared by the scheduler and the workers.
//!
//! - [`assets`]: the asset inventory's records and the `asset-batch` message;
//! - [`messages`]: the versioned JSON contracts on the queues;
//! - [`checks`]: the check catalogue (metadata, collections, evaluations);
//! - [`clock`]: the control plane's time, injectable for tests;
//! - [`config`]: settings common to both binaries;
//! - [`crypto`]: encryption of client secrets at rest;
//! - [`azure`]: clouds, tokens, the ARM client and its error taxonomy;
//! - [`broker`]: RabbitMQ topology, confirmed publishing, resilient consuming;
//! - [`store`]: the Redis repositories;
//! - [`telemetry`]: logs and traces.

pub mod assets;
pub mod azure;
pub mod broker;
pub mod checks;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod fragments;
pub mod json_size;
pub mod messages;
pub mod metrics;
pub mod signals;
pub mod signing;
pub mod store;
pub mod telemetry;
