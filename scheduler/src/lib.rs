//! The scheduler: the fleet's control plane. It owns connections (HTTP API), plans the weekly
//! scans, turns rescan requests into jobs, and ingests results into Redis. Several replicas may
//! run at once; nothing is scheduled or ingested twice.
//!
//! - [`api`]: the HTTP API;
//! - [`admin`]: dead-letter replay and secret re-sealing for operators;
//! - [`lifecycle`]: create, update, validate, delete a connection (API and planner share it);
//! - [`validate`]: sign in, read the subscription, read the principal's permissions;
//! - [`planner`]: weekly slots and the claim that keeps replicas from double-enqueuing;
//! - [`rescan`]: rescan requests from any AMQP client;
//! - [`ingest`]: results into status and history;
//! - [`exceptions`]: disabled checks and exempted resources, applied when results are read;
//! - [`scans`]: how a scan becomes jobs (shared by the three above);
//! - [`metrics`]: Prometheus metrics and the connection census;
//! - [`cli`]: the command-line client.
//!
//! [`run`] is the library entry point the binary and the end-to-end tests share.

pub mod admin;
pub mod api;
pub mod cli;
pub mod exceptions;
pub mod ingest;
pub mod ingest_assets;
pub mod lifecycle;
pub mod metrics;
pub mod planner;
pub mod rescan;
pub mod scans;
pub mod validate;

use std::net::SocketAddr;
use std::time::Duration;

use shared::azure::limiter::ReadLimiter;
use shared::azure::{ArmClient, RetrySettings, TokenProvider, http::build_client};
use shared::broker::{Broker, Publisher, Topology};
use shared::config::{AzureArgs, BrokerArgs, LogArgs, RedisArgs, SecretArgs, SigningArgs};
use shared::store::Store;
use tokio_util::sync::CancellationToken;

/// `scheduler serve` settings (flags or `FLEET_*` environment variables).
#[derive(Clone, clap::Args)]
pub struct SchedulerConfig {
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
    /// Address of the HTTP API.
    #[arg(long, env = "FLEET_API_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// The operator's API bearer token: from the environment (`FLEET_OPERATOR_TOKEN`) only,
    /// never a flag (command lines are visible to every local user).
    #[arg(skip = std::env::var("FLEET_OPERATOR_TOKEN").unwrap_or_default())]
    pub operator_token: String,
    /// Seconds between planning passes.
    #[arg(long, env = "FLEET_PLAN_INTERVAL_SECS", default_value_t = 30.0)]
    pub plan_interval_secs: f64,
    /// Results ingested in parallel (prefetch of the results queue).
    #[arg(long, env = "FLEET_INGEST_PREFETCH", default_value_t = 32)]
    pub ingest_prefetch: u16,
    /// Seconds between counts of connections by state (for metrics).
    #[arg(long, env = "FLEET_CENSUS_INTERVAL_SECS", default_value_t = 60.0)]
    pub census_interval_secs: f64,
    /// Days of check history kept (entries older than this are trimmed as new ones arrive).
    #[arg(long, env = "FLEET_HISTORY_RETENTION_DAYS", default_value_t = 400)]
    pub history_retention_days: u32,
    /// Scan a connection right after it is created.
    #[arg(long, env = "FLEET_SCAN_ON_CREATE", default_value_t = true, action = clap::ArgAction::Set)]
    pub scan_on_create: bool,
    /// The clock exceptions and the audit trail go by (the system's; tests move it forward).
    #[arg(skip)]
    pub clock: shared::clock::Clock,
}

/// Redacting: the operator token never prints (the key rings redact themselves).
impl std::fmt::Debug for SchedulerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchedulerConfig")
            .field("broker", &self.broker)
            .field("redis", &self.redis)
            .field("secrets", &self.secrets)
            .field("azure", &self.azure)
            .field("log", &self.log)
            .field("signing", &self.signing)
            .field("listen", &self.listen)
            .field("operator_token", &"<redacted>")
            .field("plan_interval_secs", &self.plan_interval_secs)
            .field("ingest_prefetch", &self.ingest_prefetch)
            .field("census_interval_secs", &self.census_interval_secs)
            .field("history_retention_days", &self.history_retention_days)
            .field("scan_on_create", &self.scan_on_create)
            .finish()
    }
}

/// Runs the API, planner, rescan consumer and ingester until `shutdown` fires. `on_listen`
/// receives the bound address (useful with port 0).
pub async fn run(
    config: SchedulerConfig,
    shutdown: CancellationToken,
    on_listen: Option<tokio::sync::oneshot::Sender<SocketAddr>>,
) -> anyhow::Result<()> {
    if config.operator_token.trim().len() < 16 {
        anyhow::bail!("the operator token must be at least 16 characters");
    }
    let metrics = std::sync::Arc::new(metrics::SchedulerMetrics::new());
    let store = Store::connect_with(
        &config.redis.redis_url,
        config.redis.redis_cluster,
        &config.redis.key_prefix,
    )
    .await?
    .with_retention(shared::store::Retention {
        history: Duration::from_secs(u64::from(config.history_retention_days.max(1)) * 24 * 3600),
    });
    let broker = Broker::connect(
        config.broker.amqp_url.clone(),
        Topology::new(&config.broker.queue_prefix),
        "scheduler",
    )
    .await?;
    let publisher = Publisher::new(broker.clone());
    let http = build_client(
        config.azure.extra_ca_file.as_deref(),
        config.azure.request_timeout(),
    )?;
    // Validation answers an HTTP request: a few quick retries, not a scan's patience.
    let validation_retries = RetrySettings {
        max_retries: 2,
        min_delay: Duration::from_millis(300),
        max_delay: Duration::from_secs(3),
        max_retry_after: Duration::from_secs(10),
    };
    let arm = ArmClient::new(
        http.clone(),
        TokenProvider::new(http).with_max_body(config.azure.azure_max_body_bytes),
        validation_retries,
    )
    .with_limiter(ReadLimiter::new(store.redis(), &config.redis.key_prefix))
    .with_max_body(config.azure.azure_max_body_bytes)
    .with_clouds(config.azure.cloud_registry().await?)
    .with_metrics(metrics.base.azure.clone());
    let control = lifecycle::Control {
        metrics: metrics.clone(),
        store: store.clone(),
        publisher: publisher.clone(),
        arm,
        keys: config.secrets.secret_keys.clone(),
        scan_on_create: config.scan_on_create,
        clock: config.clock.clone(),
    };

    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    let app = api::router(api::ApiState {
        control: control.clone(),
        broker: broker.clone(),
        operator_token_digest: api::auth::digest(config.operator_token.trim()),
    });
    tracing::info!(%addr, "HTTP API listening");
    if let Some(tx) = on_listen {
        let _ = tx.send(addr);
    }

    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(planner::run(
        control.clone(),
        Duration::from_secs_f64(config.plan_interval_secs.max(0.05)),
        shutdown.clone(),
    ));
    tasks.spawn(rescan::run(
        broker.clone(),
        control.clone(),
        shutdown.clone(),
    ));
    tasks.spawn(ingest::run(
        broker.clone(),
        publisher.clone(),
        store.clone(),
        metrics.clone(),
        config.signing.result_keys.clone(),
        config.ingest_prefetch.max(1),
        shutdown.clone(),
    ));
    tasks.spawn(exceptions::sweep(
        control.clone(),
        Duration::from_secs_f64(config.plan_interval_secs.max(0.05)),
        shutdown.clone(),
    ));
    tasks.spawn(metrics::census(
        store.clone(),
        metrics.clone(),
        Duration::from_secs_f64(config.census_interval_secs.max(0.05)),
        shutdown.clone(),
    ));
    let server_shutdown = shutdown.clone();
    tasks.spawn(async move {
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(server_shutdown.cancelled_owned())
            .await
        {
            tracing::error!(error = %e, "HTTP server failed");
        }
    });
    while tasks.join_next().await.is_some() {}
    publisher.close().await;
    broker.close().await;
    tracing::info!("scheduler stopped");
    Ok(())
}
