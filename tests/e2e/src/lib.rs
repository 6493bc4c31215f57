//! The end-to-end harness: a whole fleet in one process, against the real local RabbitMQ and
//! Redis and an in-process Azure emulator.
//!
//! Each [`Fleet`] gets its own queue-name and Redis-key prefix, so tests run in parallel without
//! sharing state, and [`Fleet::shutdown`] deletes its queues, exchanges and keys. The scheduler
//! and workers run through their library entry points (`scheduler::run`, `worker::run`), the
//! same code the binaries run. Logs of the whole process are captured so tests can search them.

pub mod own_redis;
pub mod worlds;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use anyhow::{Context, bail};
use azure_emulator::{EmulatorHandle, EmulatorOptions, Scenario};
use lapin::options::{ExchangeDeleteOptions, QueueDeleteOptions};
use serde_json::{Value, json};
use shared::broker::Topology;
use shared::config::{
    AzureArgs, BrokerArgs, LogArgs, LogFormat, RedisArgs, SecretArgs, SensitiveUrl, SigningArgs,
};
use shared::crypto::KeyRing;
use shared::signing::SigningKeys;
use shared::store::Store;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub const AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
pub const REDIS_URL: &str = "redis://127.0.0.1:6379/";

/// The demo scenario shipped with the emulator.
pub fn demo_scenario_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../emulator/scenarios/demo.json")
}

/// The demo scenario as JSON, its fragments (`demo.d/`) merged in (with its `demo` and
/// `expectations` blocks).
pub fn demo_scenario_json() -> Value {
    azure_emulator::fragments::load_with_fragments(&demo_scenario_path())
        .expect("demo scenario readable")
}

/// Everything the process logged since it started (all tests of this binary).
pub fn captured_logs() -> String {
    let logs = log_buffer().lock().map(|b| b.clone()).unwrap_or_default();
    String::from_utf8_lossy(&logs).into_owned()
}

fn log_buffer() -> &'static Arc<Mutex<Vec<u8>>> {
    static BUFFER: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    BUFFER.get_or_init(Arc::default)
}

#[derive(Clone)]
struct CaptureWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for CaptureWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut b) = self.0.lock() {
            b.extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn span_exporter() -> &'static opentelemetry_sdk::trace::InMemorySpanExporter {
    static EXPORTER: OnceLock<opentelemetry_sdk::trace::InMemorySpanExporter> = OnceLock::new();
    EXPORTER.get_or_init(opentelemetry_sdk::trace::InMemorySpanExporter::default)
}

/// Every span the process finished since it started (all tests of this binary).
pub fn finished_spans() -> Vec<opentelemetry_sdk::trace::SpanData> {
    span_exporter().get_finished_spans().unwrap_or_default()
}

/// Installs log and span capture (debug level for the fleet's own crates) once per test binary.
pub fn init_logging() {
    static INIT: OnceLock<()> = OnceLock::new();
    INIT.get_or_init(|| {
        let writer = CaptureWriter(log_buffer().clone());
        let filter = tracing_subscriber::EnvFilter::new(
            "info,shared=debug,worker=debug,scheduler=debug,azure_core=debug,azure_identity=debug,lapin=warn,azure_emulator=warn",
        );
        let exporter = span_exporter().clone();
        let guard = shared::telemetry::init_with(
            "e2e",
            LogFormat::Json,
            move || writer.clone(),
            filter,
            move |builder| builder.with_simple_exporter(exporter),
        );
        std::mem::forget(guard);
    });
}

/// A test-owned fleet: emulator, scheduler, workers, with unique names.
pub struct Fleet {
    pub prefix: String,
    pub emulator: EmulatorHandle,
    pub api: SocketAddr,
    pub operator_token: String,
    pub keys: KeyRing,
    /// The key ring as configured (`test:<base64>`), for key-rotation tests.
    pub key_spec: String,
    /// The fleet's result-signing keys (`FLEET_RESULT_KEYS`).
    pub result_keys: SigningKeys,
    /// The result-signing keys as configured (`FLEET_RESULT_KEYS`), for fleets run as processes.
    pub result_key_spec: String,
    pub store: Store,
    pub topology: Topology,
    /// The emulator's CA certificate (`FLEET_EXTRA_CA_FILE`).
    pub ca_file: PathBuf,
    shutdown: CancellationToken,
    tasks: tokio::task::JoinSet<anyhow::Result<()>>,
    http: reqwest::Client,
    /// Addresses of the workers' metrics and health endpoints.
    pub worker_metrics: Vec<SocketAddr>,
    redis_args: RedisArgs,
    /// Workers' `FLEET_PART_READS` and `FLEET_MESSAGE_BYTES`.
    pub part_reads: usize,
    pub message_bytes: usize,
    pub part_seconds: Option<u64>,
}

/// The name the emulator's cloud is registered under in the test fleets.
pub const EMULATOR_CLOUD: &str = "emulator";

/// `FLEET_CLOUDS` registering the emulator at `base_url`: a cloud on loopback, which the operator
/// allows explicitly.
pub fn clouds_json(base_url: &str) -> String {
    json!({
        EMULATOR_CLOUD: {
            "authority_host": base_url,
            "resource_manager": base_url,
            // It serves Microsoft Graph v1.0 on the same host, for the Entra ID checks.
            "graph": base_url,
            // The emulator stands in for the public cloud's Resource Manager, so its tokens carry
            // that audience (a registered cloud chooses its own, as Azure Stack Hub does).
            "arm_audience": "https://management.azure.com/",
            // ... and it throttles like the public cloud.
            "throttle_model": "token_bucket",
            "allow_private_addresses": true,
        }
    })
    .to_string()
}

/// How to start a fleet.
#[derive(Debug, Clone)]
pub struct FleetOptions {
    pub workers: usize,
    pub worker_concurrency: usize,
    pub scan_on_create: bool,
    /// Start the scheduler (API, planner, ingester, rescan consumer).
    pub scheduler: bool,
    pub plan_interval_secs: f64,
    /// Another Redis (URL, or comma-separated cluster nodes) and whether it is a cluster.
    pub redis: Option<(String, bool)>,
    /// The scheduler's clock (tests move an adjustable one forward to pass expiries).
    pub clock: shared::clock::Clock,
    /// Workers split a service above this many per-resource reads.
    pub part_reads: usize,
    /// Workers' result message bound.
    pub message_bytes: usize,
    /// Workers' `FLEET_PART_SECONDS`.
    pub part_seconds: Option<u64>,
}

impl Default for FleetOptions {
    fn default() -> Self {
        Self {
            workers: 2,
            worker_concurrency: 2,
            scan_on_create: true,
            scheduler: true,
            plan_interval_secs: 0.5,
            redis: None,
            clock: shared::clock::Clock::system(),
            part_reads: 500,
            message_bytes: shared::messages::DEFAULT_MESSAGE_BYTES,
            part_seconds: None,
        }
    }
}

impl Fleet {
    pub async fn start(scenario: Scenario, options: FleetOptions) -> anyhow::Result<Self> {
        init_logging();
        let prefix = format!("t{}.", &Uuid::new_v4().simple().to_string()[..10]);
        let emulator = azure_emulator::start(scenario, EmulatorOptions::default()).await?;
        let ca_file = std::env::temp_dir().join(format!("{prefix}emulator-ca.pem"));
        std::fs::write(&ca_file, emulator.ca_pem())?;
        let key_spec = KeyRing::generate_key("test");
        let keys = KeyRing::parse(&key_spec)?;
        let result_key_spec = SigningKeys::generate("fleet");
        let result_keys = SigningKeys::parse(&result_key_spec)?;
        let operator_token = format!("op-{}", Uuid::new_v4().simple());
        let (redis_url, redis_cluster) = options
            .redis
            .clone()
            .unwrap_or_else(|| (REDIS_URL.to_string(), false));
        let store = Store::connect_with(&url(&redis_url), redis_cluster, &prefix).await?;
        let shutdown = CancellationToken::new();
        let mut tasks = tokio::task::JoinSet::new();

        let broker = BrokerArgs {
            amqp_url: url(AMQP_URL),
            queue_prefix: prefix.clone(),
        };
        let redis = RedisArgs {
            redis_url: url(&redis_url),
            redis_cluster,
            key_prefix: prefix.clone(),
        };
        let secrets = SecretArgs {
            secret_keys: keys.clone(),
        };
        let log = LogArgs {
            log_format: LogFormat::Json,
        };

        let mut api = SocketAddr::from(([127, 0, 0, 1], 0));
        if options.scheduler {
            let config = scheduler::SchedulerConfig {
                broker: broker.clone(),
                redis: redis.clone(),
                secrets: secrets.clone(),
                azure: AzureArgs {
                    extra_ca_file: Some(ca_file.to_string_lossy().into_owned()),
                    azure_request_timeout_secs: 20,
                    azure_max_body_bytes: shared::azure::http::DEFAULT_MAX_BODY_BYTES,
                    clouds: Some(clouds_json(&emulator.base_url())),
                    clouds_file: None,
                },
                log: log.clone(),
                signing: SigningArgs {
                    result_keys: result_keys.clone(),
                },
                listen: SocketAddr::from(([127, 0, 0, 1], 0)),
                operator_token: operator_token.clone(),
                plan_interval_secs: options.plan_interval_secs,
                census_interval_secs: 0.2,
                history_retention_days: 400,
                ingest_prefetch: 16,
                scan_on_create: options.scan_on_create,
                clock: options.clock.clone(),
            };
            let (tx, rx) = tokio::sync::oneshot::channel();
            tasks.spawn(scheduler::run(config, shutdown.clone(), Some(tx)));
            api = tokio::time::timeout(Duration::from_secs(30), rx)
                .await
                .context("scheduler did not start listening")??;
        }
        let mut fleet = Self {
            topology: Topology::new(&prefix),
            prefix,
            emulator,
            api,
            operator_token,
            keys,
            key_spec,
            result_keys,
            result_key_spec,
            store,
            ca_file,
            shutdown,
            tasks,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()?,
            worker_metrics: Vec::new(),
            redis_args: redis.clone(),
            part_reads: options.part_reads,
            message_bytes: options.message_bytes,
            part_seconds: options.part_seconds,
        };
        for i in 0..options.workers {
            let config = fleet.worker_config(&format!("worker-{i}"), options.worker_concurrency);
            let token = fleet.shutdown.clone();
            let (tx, rx) = tokio::sync::oneshot::channel();
            fleet.tasks.spawn(worker::run(config, token, Some(tx)));
            let addr = tokio::time::timeout(Duration::from_secs(30), rx)
                .await
                .context("worker did not start")??;
            fleet.worker_metrics.push(addr);
        }
        Ok(fleet)
    }

    /// Settings of a worker of this fleet (tests start extra workers with their own stop).
    pub fn worker_config(&self, name: &str, concurrency: usize) -> worker::WorkerConfig {
        worker::WorkerConfig {
            broker: BrokerArgs {
                amqp_url: url(AMQP_URL),
                queue_prefix: self.prefix.clone(),
            },
            redis: self.redis_args.clone(),
            secrets: SecretArgs {
                secret_keys: self.keys.clone(),
            },
            azure: AzureArgs {
                extra_ca_file: Some(self.ca_file.to_string_lossy().into_owned()),
                azure_request_timeout_secs: 20,
                azure_max_body_bytes: shared::azure::http::DEFAULT_MAX_BODY_BYTES,
                clouds: Some(self.clouds_json()),
                clouds_file: None,
            },
            log: LogArgs {
                log_format: LogFormat::Json,
            },
            signing: SigningArgs {
                result_keys: self.result_keys.clone(),
            },
            concurrency,
            child_concurrency: 4,
            part_reads: self.part_reads,
            message_bytes: self.message_bytes,
            part_seconds: self.part_seconds,
            job_timeout_secs: 120,
            shutdown_grace_secs: 20,
            worker_name: Some(format!("{}{name}", self.prefix)),
            metrics_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        }
    }
    /// The environment a `worker` or `scheduler` process of this fleet runs with: its queues,
    /// Redis and key prefix, keys, the emulator's cloud and CA, and this fleet's part and message
    /// bounds. Tests and benchmarks that need a process of their own (to SIGKILL it, or to
    /// measure its memory) add its name, metrics address and concurrency.
    pub fn process_env(&self) -> Vec<(String, String)> {
        let mut env = vec![
            ("FLEET_AMQP_URL", AMQP_URL.to_string()),
            ("FLEET_QUEUE_PREFIX", self.prefix.clone()),
            (
                "FLEET_REDIS_URL",
                self.redis_args.redis_url.expose().to_string(),
            ),
            (
                "FLEET_REDIS_CLUSTER",
                self.redis_args.redis_cluster.to_string(),
            ),
            ("FLEET_KEY_PREFIX", self.redis_args.key_prefix.clone()),
            ("FLEET_SECRET_KEYS", self.key_spec.clone()),
            ("FLEET_RESULT_KEYS", self.result_key_spec.clone()),
            (
                "FLEET_EXTRA_CA_FILE",
                self.ca_file.to_string_lossy().into_owned(),
            ),
            ("FLEET_CLOUDS", self.clouds_json()),
            ("FLEET_OPERATOR_TOKEN", self.operator_token.clone()),
            ("FLEET_PART_READS", self.part_reads.to_string()),
            ("FLEET_MESSAGE_BYTES", self.message_bytes.to_string()),
        ];
        if let Some(seconds) = self.part_seconds {
            env.push(("FLEET_PART_SECONDS", seconds.to_string()));
        }
        env.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    }

    /// Connects `who`'s subscription for `organization` through the API (no scan unless the
    /// fleet scans on create); returns the connection's id.
    pub async fn connect(
        &self,
        organization: &str,
        who: &worlds::Principal,
    ) -> anyhow::Result<Uuid> {
        let body = json!({
            "organization_id": organization, "name": organization,
            "tenant_id": who.tenant, "client_id": who.client, "subscription_id": who.subscription,
            "client_secret": who.secret, "cloud": self.cloud_json(),
        });
        let (code, created) = self
            .call(reqwest::Method::POST, "/v1/connections", Some(body))
            .await?;
        anyhow::ensure!(code == 201, "create: {created}");
        created["connection"]["id"]
            .as_str()
            .and_then(|s| Uuid::parse_str(s).ok())
            .context("the created connection has no id")
    }

    /// A control plane of this fleet (as another scheduler replica would have).
    pub async fn control(&self) -> anyhow::Result<scheduler::lifecycle::Control> {
        let store = Store::connect_with(
            &self.redis_args.redis_url,
            self.redis_args.redis_cluster,
            &self.prefix,
        )
        .await?;
        let broker =
            shared::broker::Broker::connect(url(AMQP_URL), self.topology.clone(), "replica")
                .await?;
        let http = shared::azure::http::build_client(
            Some(&self.ca_file.to_string_lossy()),
            Duration::from_secs(20),
        )?;
        let arm = shared::azure::ArmClient::new(
            http.clone(),
            shared::azure::TokenProvider::new(http),
            shared::azure::RetrySettings::default(),
        )
        .with_clouds(shared::azure::cloud::CloudRegistry::parse(
            &self.clouds_json(),
        )?);
        Ok(scheduler::lifecycle::Control {
            metrics: std::sync::Arc::new(scheduler::metrics::SchedulerMetrics::new()),
            store,
            publisher: shared::broker::Publisher::new(broker),
            arm,
            keys: self.keys.clone(),
            scan_on_create: false,
            clock: shared::clock::Clock::system(),
        })
    }

    /// The emulator's registered cloud, as a connection's `cloud` field.
    pub fn cloud_json(&self) -> Value {
        json!({"kind": "registered", "name": EMULATOR_CLOUD})
    }

    /// The operator's cloud registry of this fleet (`FLEET_CLOUDS`).
    pub fn clouds_json(&self) -> String {
        clouds_json(&self.emulator.base_url())
    }

    pub fn api_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.api)
    }

    /// An authenticated API call; returns (status, JSON body or Null).
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<(u16, Value)> {
        let mut request = self
            .http
            .request(method, self.api_url(path))
            .bearer_auth(&self.operator_token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let text = response.text().await?;
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Ok((status, value))
    }

    /// Creates the demo connection through the API; returns (connection id, first scan id).
    pub async fn create_demo_connection(
        &self,
        secret: &str,
    ) -> anyhow::Result<(Uuid, Option<Uuid>)> {
        let demo = demo_scenario_json();
        let sub = &demo["subscriptions"][0];
        let app = &demo["tenants"][0]["applications"][0];
        let body = json!({
            "organization_id": demo["demo"]["organization_id"],
            "name": demo["demo"]["connection_name"],
            "credential_name": demo["demo"]["credential_name"],
            "tenant_id": sub["tenant_id"],
            "client_id": app["client_id"],
            "subscription_id": sub["id"],
            "connection_identifier": sub["id"],
            "client_secret": secret,
            "regions": demo["demo"]["regions"],
            "cloud": self.cloud_json(),
        });
        let (status, created) = self
            .call(reqwest::Method::POST, "/v1/connections", Some(body))
            .await?;
        if status != 201 {
            bail!("create connection answered {status}: {created}");
        }
        let id = created["connection"]["id"]
            .as_str()
            .and_then(|s| Uuid::parse_str(s).ok())
            .context("no connection id")?;
        let scan = created["scan_id"]
            .as_str()
            .and_then(|s| Uuid::parse_str(s).ok());
        Ok((id, scan))
    }

    /// Waits until a scan has completed (every service ingested).
    pub async fn wait_for_scan(
        &self,
        connection: Uuid,
        scan: Uuid,
        timeout: Duration,
    ) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(progress) = self.store.scan_progress(connection, scan).await?
                && progress.completed_at.is_some()
            {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                bail!("scan {scan} did not complete in {timeout:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// An AMQP channel for tests that publish or read queues directly.
    pub async fn amqp(&self) -> anyhow::Result<(lapin::Connection, lapin::Channel)> {
        let conn =
            lapin::Connection::connect(AMQP_URL, lapin::ConnectionProperties::default()).await?;
        let channel = conn.create_channel().await?;
        Ok((conn, channel))
    }

    /// Publishes raw bytes on the fleet exchange, as any AMQP client could, and waits for the
    /// broker's confirm.
    pub async fn publish_raw(&self, routing_key: &str, body: &[u8]) -> anyhow::Result<()> {
        self.publish_with_headers(routing_key, body, &[]).await
    }

    /// [`Fleet::publish_raw`] with AMQP headers (a result's `x-fleet-signature`).
    pub async fn publish_with_headers(
        &self,
        routing_key: &str,
        body: &[u8],
        headers: &[(&str, &str)],
    ) -> anyhow::Result<()> {
        let mut table = lapin::types::FieldTable::default();
        for (name, value) in headers {
            table.insert(
                (*name).into(),
                lapin::types::AMQPValue::LongString((*value).into()),
            );
        }
        let (conn, channel) = self.amqp().await?;
        channel.confirm_select(Default::default()).await?;
        let confirm = channel
            .basic_publish(
                self.topology.exchange().as_str().into(),
                routing_key.into(),
                lapin::options::BasicPublishOptions::default(),
                body,
                lapin::BasicProperties::default()
                    .with_content_type("application/json".into())
                    .with_headers(table),
            )
            .await?
            .await?;
        let _ = conn.close(200, "done".into()).await;
        if !confirm.is_ack() {
            bail!("publish to {routing_key} not confirmed");
        }
        Ok(())
    }

    /// Takes one message from `queue`, waiting up to `timeout` for one to arrive.
    pub async fn take_message(
        &self,
        queue: &str,
        timeout: Duration,
    ) -> anyhow::Result<Option<lapin::message::BasicGetMessage>> {
        let (conn, channel) = self.amqp().await?;
        let deadline = tokio::time::Instant::now() + timeout;
        let message = loop {
            let got = channel
                .basic_get(
                    queue.into(),
                    lapin::options::BasicGetOptions { no_ack: true },
                )
                .await?;
            if got.is_some() || tokio::time::Instant::now() > deadline {
                break got;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let _ = conn.close(200, "done".into()).await;
        Ok(message)
    }

    /// Messages ready in `queue`.
    pub async fn ready_messages(&self, queue: &str) -> anyhow::Result<u32> {
        let (conn, channel) = self.amqp().await?;
        let state = channel
            .queue_declare(
                queue.into(),
                lapin::options::QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                lapin::types::FieldTable::default(),
            )
            .await?;
        let _ = conn.close(200, "done".into()).await;
        Ok(state.message_count())
    }

    /// Posts a rescan through the API; returns its scan id.
    pub async fn rescan(
        &self,
        connection: Uuid,
        services: Option<&[&str]>,
    ) -> anyhow::Result<Uuid> {
        let body = services.map(|s| json!({ "services": s }));
        let (code, accepted) = self
            .call(
                reqwest::Method::POST,
                &format!("/v1/connections/{connection}/rescan"),
                body,
            )
            .await?;
        if code != 202 {
            bail!("rescan answered {code}: {accepted}");
        }
        accepted["scan_id"]
            .as_str()
            .and_then(|s| Uuid::parse_str(s).ok())
            .context("no scan id")
    }

    /// Stops the fleet and deletes everything it created on the broker and in Redis.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        let stop = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(result) = self.tasks.join_next().await {
                if let Ok(Err(e)) = result {
                    eprintln!("fleet task ended with error: {e:#}");
                }
            }
        })
        .await;
        if stop.is_err() {
            self.tasks.shutdown().await;
        }
        let (conn, channel) = self.amqp().await?;
        for queue in self.topology.queues() {
            for name in [queue.dead_letter_queue(), queue.name.clone()] {
                channel
                    .queue_delete(name.as_str().into(), QueueDeleteOptions::default())
                    .await?;
            }
        }
        for exchange in [
            self.topology.exchange(),
            self.topology.dead_letter_exchange(),
        ] {
            channel
                .exchange_delete(exchange.as_str().into(), ExchangeDeleteOptions::default())
                .await?;
        }
        let _ = conn.close(200, "done".into()).await;
        if !self.store.is_cluster() {
            delete_keys(&self.store, &self.prefix).await?;
        }
        let _ = std::fs::remove_file(&self.ca_file);
        self.emulator.shutdown().await;
        Ok(())
    }
}

/// A binary of this workspace (`scheduler`, `worker`), built in the debug profile if needed, for
/// tests that run the real program as a process.
pub fn workspace_binary(package: &str, binary: &str) -> PathBuf {
    static BUILD: Mutex<()> = Mutex::new(());
    let _one_build_at_a_time = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let status = std::process::Command::new(env!("CARGO"))
        .args(["build", "--quiet", "-p", package, "--bin", binary])
        .current_dir(&root)
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building the {binary} binary");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    target.join("debug").join(binary)
}

/// Every key under `prefix`, with its value rendered as text (for secret searches).
pub async fn dump_keys(store: &Store, prefix: &str) -> anyhow::Result<Vec<(String, String)>> {
    let mut conn = store.redis();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut conn)
        .await?;
    let mut out = Vec::new();
    for key in keys {
        let kind: String = redis::cmd("TYPE").arg(&key).query_async(&mut conn).await?;
        let rendered = match kind.as_str() {
            "string" => {
                redis::cmd("GET")
                    .arg(&key)
                    .query_async::<String>(&mut conn)
                    .await?
            }
            "hash" => format!(
                "{:?}",
                redis::cmd("HGETALL")
                    .arg(&key)
                    .query_async::<Vec<String>>(&mut conn)
                    .await?
            ),
            "set" => format!(
                "{:?}",
                redis::cmd("SMEMBERS")
                    .arg(&key)
                    .query_async::<Vec<String>>(&mut conn)
                    .await?
            ),
            "zset" => format!(
                "{:?}",
                redis::cmd("ZRANGE")
                    .arg(&key)
                    .arg(0)
                    .arg(-1)
                    .query_async::<Vec<String>>(&mut conn)
                    .await?
            ),
            "stream" => format!(
                "{:?}",
                redis::cmd("XRANGE")
                    .arg(&key)
                    .arg("-")
                    .arg("+")
                    .query_async::<redis::Value>(&mut conn)
                    .await?
            ),
            other => format!("<{other}>"),
        };
        out.push((key, rendered));
    }
    Ok(out)
}

async fn delete_keys(store: &Store, prefix: &str) -> anyhow::Result<()> {
    let mut conn = store.redis();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut conn)
        .await?;
    if !keys.is_empty() {
        let _: () = redis::cmd("DEL").arg(keys).query_async(&mut conn).await?;
    }
    Ok(())
}

fn url(s: &str) -> SensitiveUrl {
    s.parse().expect("static URL parses")
}

/// The demo scenario with its secret replaced (so each test has a secret of its own to search
/// for), and the secret.
pub fn demo_with_unique_secret() -> (Scenario, String) {
    let secret = format!("Sec~{}.{}", Uuid::new_v4().simple(), "Zq7_w");
    let mut demo = demo_scenario_json();
    demo["tenants"][0]["applications"][0]["secrets"][0]["value"] = Value::String(secret.clone());
    let scenario =
        Scenario::from_json(&demo.to_string()).expect("demo scenario loads in the emulator");
    (scenario, secret)
}

/// Polls `check` every 100 ms until it holds; panics after `timeout` naming `what`.
pub async fn wait_until<F, Fut>(what: &str, timeout: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Compares latest results with a scenario's `expectations` (check id -> status and the names
/// of the resources per finding status); returns one line per difference.
pub fn compare_with_expectations(
    latest: &[shared::store::StoredCheckResult],
    expectations: &Value,
) -> Vec<String> {
    use shared::messages::FindingStatus;
    let names = |r: &shared::store::StoredCheckResult, status: FindingStatus| {
        let mut v: Vec<String> = r
            .result
            .findings
            .iter()
            .filter(|f| f.status == status)
            .map(|f| f.resource_name.clone())
            .collect();
        v.sort();
        v
    };
    let mut mismatches = Vec::new();
    let Some(expectations) = expectations.as_object() else {
        return vec!["no expectations".to_string()];
    };
    for (check_id, e) in expectations {
        let Some(r) = latest.iter().find(|r| &r.result.check_id == check_id) else {
            mismatches.push(format!("{check_id}: no result"));
            continue;
        };
        let status = serde_json::to_value(r.result.status).unwrap_or_default();
        if status != e["status"] {
            mismatches.push(format!(
                "{check_id}: status {status} != {} ({})",
                e["status"], r.result.reason
            ));
        }
        for (key, fs) in [
            ("failed", FindingStatus::Failed),
            ("passed", FindingStatus::Passed),
            ("not_applicable", FindingStatus::NotApplicable),
            ("access_denied", FindingStatus::AccessDenied),
        ] {
            let mut want: Vec<String> = e[key]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            want.sort();
            let got = names(r, fs);
            if got != want {
                mismatches.push(format!("{check_id}: {key} {got:?} != {want:?}"));
            }
        }
        if let Some(missing) = e.get("missing_permission") {
            let got = serde_json::to_value(&r.result.missing_permission).unwrap_or_default();
            if &got != missing {
                mismatches.push(format!("{check_id}: missing permission {got} != {missing}"));
            }
        }
        for f in r
            .result
            .findings
            .iter()
            .filter(|f| f.status == FindingStatus::Failed)
        {
            if f.evidence.is_empty() {
                mismatches.push(format!(
                    "{check_id}: {} failed without evidence",
                    f.resource_name
                ));
            }
        }
    }
    mismatches
}
