//! The scan worker: stateless, scaled horizontally. It pulls scan jobs from RabbitMQ, gets a
//! token for the connection's service principal (cached across jobs), collects what the
//! service's checks need from Azure Resource Manager, evaluates the checks, publishes the result
//! with a publisher confirm, and only then acks the job.
//!
//! - [`consume`]: the job loop (priorities, concurrency, acks, graceful shutdown);
//! - [`scan`]: one job from message to result;
//! - [`collect`]: fetching a service's collections once each;
//! - [`parts`]: a service too big for one job, as bounded part jobs;
//! - [`http`] and [`metrics`]: health probes and Prometheus metrics.
//!
//! [`run`] is the library entry point the binary and the end-to-end tests share.

pub mod assets;
pub mod collect;
pub mod consume;
pub mod http;
pub mod metrics;
pub mod parts;
pub mod scan;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use shared::azure::limiter::ReadLimiter;
use shared::azure::{ArmClient, RetrySettings, TokenProvider, http::build_client};
use shared::broker::{Broker, Publisher, Topology};
use shared::config::{AzureArgs, BrokerArgs, LogArgs, RedisArgs, SecretArgs, SigningArgs};
use shared::store::Store;
use tokio_util::sync::CancellationToken;

/// Worker settings (flags or `FLEET_*` environment variables).
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "worker", version, about = "Azure compliance scan worker")]
pub struct WorkerConfig {
    #[command(flatten)]
    pub broker: BrokerArgs,
    #[command(flatten)]
    pub redis: RedisArgs,
    #[command(flatten)]
    pub secrets: SecretArgs,
    #[command(flatten)]
    pub azure: AzureArgs,
    #[command(flatten)]
    pub log: LogArgs,
    #[command(flatten)]
    pub signing: SigningArgs,
    /// Jobs run at once (also the prefetch of each job queue).
    #[arg(long, env = "FLEET_WORKER_CONCURRENCY", default_value_t = 4)]
    pub concurrency: usize,
    /// Parallel child reads (per-resource GETs) within one job.
    #[arg(long, env = "FLEET_WORKER_CHILD_CONCURRENCY", default_value_t = 8)]
    pub child_concurrency: usize,
    /// Per-resource reads above which a service's scan is split into parts that run on any
    /// worker (each part does at most about this many). It also bounds a worker's memory: a
    /// part holds its slice and what it read, and `FLEET_WORKER_CONCURRENCY` parts may run at
    /// once (500 keeps a worker of 4 under 64 MiB however big the subscription).
    #[arg(long, env = "FLEET_PART_READS", default_value_t = 500)]
    pub part_reads: usize,
    /// Byte bound of a result message and of a part job's data; bigger results travel in
    /// several messages.
    #[arg(long, env = "FLEET_MESSAGE_BYTES", default_value_t = shared::messages::DEFAULT_MESSAGE_BYTES)]
    pub message_bytes: usize,
    /// Seconds a part job reads before it hands the rest of its items to a continuation part
    /// (default: half the job bound).
    #[arg(long, env = "FLEET_PART_SECONDS")]
    pub part_seconds: Option<u64>,
    /// Upper bound of one job, seconds (keep it under RabbitMQ's consumer_timeout).
    #[arg(long, env = "FLEET_JOB_TIMEOUT_SECS", default_value_t = 1200)]
    pub job_timeout_secs: u64,
    /// Seconds running jobs may take to finish after SIGTERM.
    #[arg(long, env = "FLEET_SHUTDOWN_GRACE_SECS", default_value_t = 60)]
    pub shutdown_grace_secs: u64,
    /// Name shown in results and broker connections (default: host name and pid).
    #[arg(long, env = "FLEET_WORKER_NAME")]
    pub worker_name: Option<String>,
    /// Address of `/metrics`, `/healthz` and `/readyz`.
    #[arg(long, env = "FLEET_METRICS_LISTEN", default_value = "127.0.0.1:9090")]
    pub metrics_listen: SocketAddr,
}

/// Runs a worker until `shutdown` fires. `on_listen` receives the address of its metrics and
/// health endpoints (useful with port 0).
pub async fn run(
    config: WorkerConfig,
    shutdown: CancellationToken,
    on_listen: Option<tokio::sync::oneshot::Sender<SocketAddr>>,
) -> anyhow::Result<()> {
    let name = config.worker_name.clone().unwrap_or_else(default_name);
    let metrics = Arc::new(metrics::WorkerMetrics::new());
    let http = build_client(
        config.azure.extra_ca_file.as_deref(),
        config.azure.request_timeout(),
    )?;
    let store = Store::connect_with(
        &config.redis.redis_url,
        config.redis.redis_cluster,
        &config.redis.key_prefix,
    )
    .await?;
    let arm = ArmClient::new(
        http.clone(),
        TokenProvider::new(http).with_max_body(config.azure.azure_max_body_bytes),
        RetrySettings::default(),
    )
    .with_limiter(ReadLimiter::new(store.redis(), &config.redis.key_prefix))
    .with_max_body(config.azure.azure_max_body_bytes)
    .with_clouds(config.azure.cloud_registry().await?)
    .with_metrics(metrics.base.azure.clone());
    let broker = Broker::connect(
        config.broker.amqp_url.clone(),
        Topology::new(&config.broker.queue_prefix),
        &name,
    )
    .await?;
    let publisher = Publisher::new(broker.clone());
    let http_stop = shutdown.child_token();
    let http = tokio::spawn(http::serve(
        config.metrics_listen,
        broker.clone(),
        store.clone(),
        metrics.clone(),
        http_stop.clone(),
        on_listen,
    ));
    let ctx = Arc::new(scan::ScanContext {
        metrics: metrics.clone(),
        store,
        arm,
        keys: config.secrets.secret_keys.clone(),
        result_keys: config.signing.result_keys.clone(),
        worker_name: name.clone(),
        child_concurrency: config.child_concurrency,
        part_reads: config.part_reads.max(1),
        message_bytes: config.message_bytes.max(64 * 1024),
        part_time: Duration::from_secs(
            config
                .part_seconds
                .unwrap_or(config.job_timeout_secs / 2)
                .clamp(1, config.job_timeout_secs.max(1)),
        ),
    });
    tracing::info!(worker = %name, concurrency = config.concurrency, "worker started");
    consume::run(
        broker.clone(),
        publisher,
        ctx,
        consume::LoopSettings {
            concurrency: config.concurrency.max(1),
            job_timeout: Duration::from_secs(config.job_timeout_secs.max(1)),
            shutdown_grace: Duration::from_secs(config.shutdown_grace_secs),
        },
        shutdown,
    )
    .await;
    broker.close().await;
    http_stop.cancel();
    match http.await {
        Ok(Err(e)) => tracing::warn!(error = %e, "metrics endpoint failed"),
        Err(e) => tracing::warn!(error = %e, "metrics endpoint task failed"),
        Ok(Ok(())) => {}
    }
    tracing::info!(worker = %name, "worker stopped");
    Ok(())
}

fn default_name() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "worker".to_string());
    format!("{host}/{}", std::process::id())
}
