//! Benchmark: what the fleet loses when things fail. Not a test: it prints one row per fault.
//!
//! The fleet runs as real processes: the release `scheduler` and `worker` binaries found next to
//! this one (one scheduler, two workers), against the local RabbitMQ (queues under a prefix of
//! their own) and a `redis-server` this benchmark starts on a free port (append-only, as in
//! production), with the Azure emulator in-process serving the demo scenario. For each fault it
//! requests a few rescans of the demo connection, injects the fault while they run, and then
//! reads what happened from real state:
//!
//! - scans completed: the scans' progress records in Redis (`completed_at` set);
//! - jobs lost: services of the requested scans never ingested (still pending at the end);
//! - results ingested twice: job summaries in the connection's scan stream beyond one per
//!   (scan, service) (ingest appends one per applied job);
//! - dead letters: messages that arrived in any dead-letter queue of the fleet during the row;
//! - recovery: from the moment the fault ends to the last requested scan's completion;
//! - checks in Error: latest results whose status is Error after the row (Azure faults).
//!
//! Faults: Redis killed and restarted mid-scan, a worker SIGKILLed mid-job (and restarted), the
//! scheduler SIGKILLed right after a rescan's 202 (and restarted), Azure answering 503 to every
//! ARM read for a minute, and (only with `--with-broker-restart`, since it disturbs everyone
//! using the broker) RabbitMQ's app stopped and started mid-scan.
//!
//! Run: `cargo build --release -p scheduler -p worker -p e2e` and then
//! `target/release/bench_faults [--with-broker-restart]` (RabbitMQ and Redis must be running:
//! `tests/services.sh`; `redis-server` must be on the PATH).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use azure_emulator::Fault;
use e2e::own_redis::{OwnRedis, free_port};
use e2e::{AMQP_URL, Fleet, FleetOptions, demo_with_unique_secret};
use uuid::Uuid;

/// How long a row waits for its scans after the fault ended before counting what is lost.
const SETTLE: Duration = Duration::from_secs(300);

/// The fleet's processes and how to (re)start them.
struct Processes {
    bin_dir: PathBuf,
    log_dir: PathBuf,
    env: Vec<(String, String)>,
    api_port: u16,
    scheduler: Option<Child>,
    workers: Vec<Option<Child>>,
    starts: usize,
}

impl Processes {
    fn spawn(
        &mut self,
        binary: &str,
        args: &[&str],
        extra: &[(String, String)],
    ) -> anyhow::Result<Child> {
        self.starts += 1;
        let log =
            std::fs::File::create(self.log_dir.join(format!("{binary}-{}.log", self.starts)))?;
        Command::new(self.bin_dir.join(binary))
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .envs(extra.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("{} runs", self.bin_dir.join(binary).display()))
    }

    fn start_scheduler(&mut self) -> anyhow::Result<()> {
        let extra = [(
            "FLEET_API_LISTEN".to_string(),
            format!("127.0.0.1:{}", self.api_port),
        )];
        let child = self.spawn("scheduler", &["serve"], &extra)?;
        self.scheduler = Some(child);
        Ok(())
    }

    fn start_worker(&mut self, i: usize) -> anyhow::Result<()> {
        let extra = [
            ("FLEET_WORKER_NAME".to_string(), format!("bench-worker-{i}")),
            (
                "FLEET_METRICS_LISTEN".to_string(),
                "127.0.0.1:0".to_string(),
            ),
        ];
        let child = self.spawn("worker", &[], &extra)?;
        if self.workers.len() <= i {
            self.workers.resize_with(i + 1, || None);
        }
        self.workers[i] = Some(child);
        Ok(())
    }

    /// SIGKILL (no graceful stop).
    fn kill(child: &mut Option<Child>) {
        if let Some(mut c) = child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Processes {
    fn drop(&mut self) {
        for child in self
            .workers
            .iter_mut()
            .chain(std::iter::once(&mut self.scheduler))
        {
            if let Some(c) = child.as_mut() {
                // SIGTERM first, for a clean stop; SIGKILL if it does not stop.
                let _ = Command::new("kill").arg(c.id().to_string()).status();
            }
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        for child in self
            .workers
            .iter_mut()
            .chain(std::iter::once(&mut self.scheduler))
        {
            if let Some(c) = child.as_mut() {
                while Instant::now() < deadline && matches!(c.try_wait(), Ok(None)) {
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
            Processes::kill(child);
        }
    }
}

/// One row of the table.
struct Row {
    fault: &'static str,
    requested: usize,
    completed: usize,
    lost: usize,
    twice: usize,
    dead: u32,
    recovery: Option<Duration>,
    errors: usize,
}

struct Bench {
    fleet: Fleet,
    redis: OwnRedis,
    procs: Processes,
    connection: Uuid,
}

impl Bench {
    /// Messages in every dead-letter queue of the fleet.
    async fn dead_letters(&self) -> u32 {
        let mut total = 0;
        for queue in self.fleet.topology.queues() {
            total += self
                .fleet
                .ready_messages(&queue.dead_letter_queue())
                .await
                .unwrap_or(0);
        }
        total
    }

    /// Requests a rescan through the API, retrying while the API or its broker is away.
    async fn rescan(&self) -> anyhow::Result<Uuid> {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            match self.fleet.rescan(self.connection, None).await {
                Ok(scan) => return Ok(scan),
                Err(e) if Instant::now() > deadline => return Err(e),
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    }

    async fn wait_ready(&self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Ok(r) = reqwest::get(self.fleet.api_url("/readyz")).await
                && r.status().is_success()
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("the scheduler never became ready");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn wait_for_reads(&self, more_than: u64) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(120);
        while self.fleet.emulator.counters().total <= more_than {
            if Instant::now() > deadline {
                bail!("the scans never started reading ARM");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }

    /// Waits (up to [`SETTLE`]) for every scan to complete; returns when the last one did.
    async fn settle(&self, scans: &[Uuid]) -> Option<Instant> {
        let deadline = Instant::now() + SETTLE;
        loop {
            let mut done = 0;
            for scan in scans {
                if let Ok(Some(p)) = self.fleet.store.scan_progress(self.connection, *scan).await
                    && p.completed_at.is_some()
                {
                    done += 1;
                }
            }
            if done == scans.len() {
                return Some(Instant::now());
            }
            if Instant::now() > deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Job summaries per (scan, service) in the connection's scan stream.
    async fn ingests(&self, scans: &[Uuid]) -> anyhow::Result<HashMap<(String, String), usize>> {
        let mut conn = self.fleet.store.redis();
        let key = format!("{}{{conn:{}}}:scans", self.fleet.prefix, self.connection);
        let entries: Vec<(String, HashMap<String, String>)> = redis::cmd("XRANGE")
            .arg(&key)
            .arg("-")
            .arg("+")
            .query_async(&mut conn)
            .await?;
        let wanted: Vec<String> = scans.iter().map(Uuid::to_string).collect();
        let mut counts = HashMap::new();
        for (_, fields) in entries {
            let (Some(scan), Some(service)) = (fields.get("scan_id"), fields.get("service")) else {
                continue;
            };
            if wanted.contains(scan) {
                *counts.entry((scan.clone(), service.clone())).or_insert(0) += 1;
            }
        }
        Ok(counts)
    }

    async fn measure(
        &self,
        fault: &'static str,
        scans: &[Uuid],
        fault_ended: Instant,
        dead_before: u32,
    ) -> anyhow::Result<Row> {
        let finished = self.settle(scans).await;
        // Let late or redelivered copies reach the ingester before counting duplicates.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let mut completed = 0;
        let mut lost = 0;
        for scan in scans {
            match self
                .fleet
                .store
                .scan_progress(self.connection, *scan)
                .await?
            {
                Some(p) if p.completed_at.is_some() => completed += 1,
                Some(p) => lost += p.pending.len(),
                None => lost += shared::checks::catalogue().len(),
            }
        }
        let twice = self
            .ingests(scans)
            .await?
            .values()
            .map(|n| n.saturating_sub(1))
            .sum();
        let errors = self
            .fleet
            .store
            .latest_results(self.connection)
            .await?
            .iter()
            .filter(|r| r.result.status == shared::checks::CheckStatus::Error)
            .count();
        Ok(Row {
            fault,
            requested: scans.len(),
            completed,
            lost,
            twice,
            dead: self.dead_letters().await.saturating_sub(dead_before),
            recovery: finished.map(|f| f.saturating_duration_since(fault_ended)),
            errors,
        })
    }

    async fn redis_restart(&mut self) -> anyhow::Result<Row> {
        let dead = self.dead_letters().await;
        let reads = self.fleet.emulator.counters().total;
        let scans = self.request(3).await?;
        self.wait_for_reads(reads + 20).await?;
        self.redis.down();
        tokio::time::sleep(Duration::from_secs(5)).await;
        self.redis.up()?;
        let ended = Instant::now();
        self.measure("Redis restarted mid-scan (down 5 s)", &scans, ended, dead)
            .await
    }

    async fn broker_restart(&mut self) -> anyhow::Result<Row> {
        let dead = self.dead_letters().await;
        let reads = self.fleet.emulator.counters().total;
        let scans = self.request(3).await?;
        self.wait_for_reads(reads + 20).await?;
        rabbitmqctl(&["stop_app"])?;
        tokio::time::sleep(Duration::from_secs(5)).await;
        rabbitmqctl(&["start_app"])?;
        rabbitmqctl(&["await_startup"])?;
        let ended = Instant::now();
        self.measure(
            "broker restarted mid-scan (stop_app 5 s)",
            &scans,
            ended,
            dead,
        )
        .await
    }

    async fn worker_kill(&mut self) -> anyhow::Result<Row> {
        let dead = self.dead_letters().await;
        let reads = self.fleet.emulator.counters().total;
        let scans = self.request(3).await?;
        self.wait_for_reads(reads + 20).await?;
        Processes::kill(&mut self.procs.workers[0]);
        self.procs.start_worker(0)?;
        let ended = Instant::now();
        self.measure("worker SIGKILLed mid-job", &scans, ended, dead)
            .await
    }

    async fn scheduler_kill(&mut self) -> anyhow::Result<Row> {
        let dead = self.dead_letters().await;
        let mut scans = Vec::new();
        let mut ended = Instant::now();
        for _ in 0..5 {
            self.wait_ready().await?;
            scans.push(self.rescan().await?);
            // Right after the 202: the request is on the durable rescan queue, its enqueue
            // may be under way.
            Processes::kill(&mut self.procs.scheduler);
            self.procs.start_scheduler()?;
            ended = Instant::now();
        }
        self.measure(
            "scheduler SIGKILLed after a rescan's 202 (x5)",
            &scans,
            ended,
            dead,
        )
        .await
    }

    async fn azure_unavailable(&mut self) -> anyhow::Result<Row> {
        let dead = self.dead_letters().await;
        self.fleet
            .emulator
            .add_fault(Fault::status("/subscriptions/", 503))?;
        let scans = self.request(2).await?;
        tokio::time::sleep(Duration::from_secs(60)).await;
        self.fleet.emulator.clear_faults();
        let ended = Instant::now();
        self.measure("Azure answers 503 for 60 s", &scans, ended, dead)
            .await
    }

    async fn request(&self, n: usize) -> anyhow::Result<Vec<Uuid>> {
        let mut scans = Vec::new();
        for _ in 0..n {
            scans.push(self.rescan().await?);
        }
        Ok(scans)
    }
}

fn rabbitmqctl(args: &[&str]) -> anyhow::Result<()> {
    let status = Command::new("rabbitmqctl").args(args).status()?;
    if !status.success() {
        bail!("rabbitmqctl {args:?} failed");
    }
    Ok(())
}

fn print(rows: &[Row]) {
    println!(
        "| fault | scans completed / requested | jobs lost | results ingested twice | dead letters | recovery time | checks in Error after |"
    );
    println!("|---|---|---|---|---|---|---|");
    for r in rows {
        let recovery = r
            .recovery
            .map(|d| format!("{:.1} s", d.as_secs_f64()))
            .unwrap_or_else(|| format!("not within {} s", SETTLE.as_secs()));
        println!(
            "| {} | {} / {} | {} | {} | {} | {} | {} |",
            r.fault, r.completed, r.requested, r.lost, r.twice, r.dead, recovery, r.errors
        );
    }
}

fn bin_dir() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let dir = exe.parent().context("no folder")?.to_path_buf();
    for binary in ["scheduler", "worker"] {
        if !dir.join(binary).exists() {
            bail!(
                "{} not found: build it first (cargo build --release -p scheduler -p worker -p e2e)",
                dir.join(binary).display()
            );
        }
    }
    Ok(dir)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 4)]
async fn main() -> anyhow::Result<()> {
    let with_broker_restart = std::env::args().any(|a| a == "--with-broker-restart");
    let bin_dir = bin_dir()?;
    let redis = OwnRedis::start()?;
    let (scenario, secret) = demo_with_unique_secret();
    let mut fleet = Fleet::start(
        scenario,
        FleetOptions {
            workers: 0,
            scheduler: false,
            redis: Some((redis.url(), false)),
            ..FleetOptions::default()
        },
    )
    .await?;
    // Slow enough ARM answers that each fault lands while jobs are collecting.
    fleet.emulator.set_latency(Duration::from_millis(50));
    let api_port = free_port()?;
    fleet.api = std::net::SocketAddr::from(([127, 0, 0, 1], api_port));
    let log_dir = std::env::temp_dir().join(format!("{}faults-logs", fleet.prefix));
    std::fs::create_dir_all(&log_dir)?;
    let env = vec![
        ("FLEET_AMQP_URL", AMQP_URL.to_string()),
        ("FLEET_QUEUE_PREFIX", fleet.prefix.clone()),
        ("FLEET_REDIS_URL", redis.url()),
        ("FLEET_KEY_PREFIX", fleet.prefix.clone()),
        ("FLEET_SECRET_KEYS", fleet.key_spec.clone()),
        ("FLEET_RESULT_KEYS", fleet.result_key_spec.clone()),
        ("FLEET_EXTRA_CA_FILE", path_str(&fleet.ca_file)),
        ("FLEET_CLOUDS", fleet.clouds_json()),
        ("FLEET_OPERATOR_TOKEN", fleet.operator_token.clone()),
        ("FLEET_PLAN_INTERVAL_SECS", "1".to_string()),
        ("FLEET_LOG_FORMAT", "json".to_string()),
        ("FLEET_WORKER_CONCURRENCY", "2".to_string()),
        ("FLEET_JOB_TIMEOUT_SECS", "600".to_string()),
        ("FLEET_SHUTDOWN_GRACE_SECS", "10".to_string()),
        ("RUST_LOG", "info".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let mut procs = Processes {
        bin_dir,
        log_dir: log_dir.clone(),
        env,
        api_port,
        scheduler: None,
        workers: Vec::new(),
        starts: 0,
    };
    procs.start_scheduler()?;
    for i in 0..2 {
        procs.start_worker(i)?;
    }
    let mut bench = Bench {
        fleet,
        redis,
        procs,
        connection: Uuid::nil(),
    };
    bench.wait_ready().await?;
    let (connection, first) = bench.fleet.create_demo_connection(&secret).await?;
    bench.connection = connection;
    if let Some(first) = first {
        bench
            .fleet
            .wait_for_scan(connection, first, Duration::from_secs(300))
            .await?;
    }
    eprintln!("fleet up (logs in {}); injecting faults", log_dir.display());

    let mut rows = Vec::new();
    rows.push(bench.redis_restart().await?);
    rows.push(bench.worker_kill().await?);
    rows.push(bench.scheduler_kill().await?);
    if with_broker_restart {
        rows.push(bench.broker_restart().await?);
    }
    // Last: a minute of 503s may leave the connection in a state that refuses rescans.
    rows.push(bench.azure_unavailable().await?);
    print(&rows);
    if !with_broker_restart {
        println!(
            "(broker restart not run: pass --with-broker-restart; it disturbs every user of the broker)"
        );
    }

    let Bench {
        fleet,
        redis,
        procs,
        ..
    } = bench;
    drop(procs);
    fleet.shutdown().await?;
    drop(redis);
    Ok(())
}

fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}
