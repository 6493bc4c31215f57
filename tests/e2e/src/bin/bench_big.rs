//! Benchmark: a storage-heavy subscription scanned at the Storage provider's pace, in parts, by
//! scheduler and worker processes whose memory is measured. Not a test: it prints figures.
//!
//! One subscription with N storage accounts in one region (every account has a file service, so
//! the scan needs N file-service reads plus the list pages). The fleet's limiter applies Azure's
//! real budgets and the emulator enforces them too (every 429 is counted): the Storage provider
//! allows 800 reads per 5 minutes (bucket 800, refilled at 2.67/s), so no client can finish
//! faster than `max(0, N - 800) / 2.67` seconds. The scheduler and the workers are the release
//! `scheduler` and `worker` binaries, started as processes so that each one's peak resident
//! memory (VmHWM) is its own; the emulator runs in this process.
//!
//! Run: `cargo build --release -p scheduler -p worker && cargo run --release -p e2e --bin bench_big -- <accounts> [workers] [regions]`
//! (RabbitMQ and Redis must be running: `tests/services.sh`). 2,000 accounts take about 8
//! minutes, 10,000 about an hour: that is Azure's pace, which is the point.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use e2e::own_redis::free_port;
use e2e::worlds::{Principal, StorageWorld};
use e2e::{Fleet, FleetOptions};

const WHO: Principal = Principal {
    tenant: "11111111-1111-1111-1111-111111111111",
    subscription: "00000000-0000-0000-0000-0000000000d1",
    client: "aaaaaaaa-0000-0000-0000-0000000000d1",
    object_id: "bbbbbbbb-0000-0000-0000-0000000000d1",
    secret: "bench~big~secret",
};

const REGIONS: [&str; 16] = [
    "eastus",
    "westeurope",
    "southeastasia",
    "westus2",
    "northeurope",
    "japaneast",
    "australiaeast",
    "uksouth",
    "canadacentral",
    "centralus",
    "francecentral",
    "koreacentral",
    "brazilsouth",
    "swedencentral",
    "eastus2",
    "southcentralus",
];

/// A release `scheduler` or `worker` process serving `fleet`.
fn spawn(
    fleet: &Fleet,
    binary: &Path,
    args: &[&str],
    env: &[(&str, String)],
) -> anyhow::Result<Child> {
    let child = Command::new(binary)
        .args(args)
        .envs(fleet.process_env())
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("{} runs", binary.display()))?;
    Ok(child)
}

/// Peak resident set of a process, KiB (`VmHWM`).
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let accounts: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(2_000);
    let workers: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(2);
    // More regions make ARM's bucket the bound (each region's Storage budget keeps up), for a
    // quicker look at the workers' memory with every part reading at once.
    let regions: usize = args
        .get(3)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1)
        .clamp(1, REGIONS.len());
    let bin_dir = std::env::current_exe()?
        .parent()
        .context("no folder")?
        .to_path_buf();
    for binary in ["scheduler", "worker"] {
        anyhow::ensure!(
            bin_dir.join(binary).exists(),
            "build it first: cargo build --release -p scheduler -p worker"
        );
    }
    let world = StorageWorld {
        page_size: 1000,
        ..StorageWorld::spread(accounts, &REGIONS[..regions], 0)
    };
    let scenario = azure_emulator::Scenario::from_json(&world.scenario(&WHO).to_string())?;
    let mut fleet = Fleet::start(
        scenario,
        FleetOptions {
            workers: 0,
            scheduler: false,
            scan_on_create: false,
            ..FleetOptions::default()
        },
    )
    .await?;
    let port = free_port()?;
    fleet.api = SocketAddr::from(([127, 0, 0, 1], port));
    let scheduler = spawn(
        &fleet,
        &bin_dir.join("scheduler"),
        &["serve"],
        &[
            ("FLEET_API_LISTEN", fleet.api.to_string()),
            ("FLEET_SCAN_ON_CREATE", "false".into()),
        ],
    )?;
    let mut children = vec![scheduler];
    for i in 0..workers {
        children.push(spawn(
            &fleet,
            &bin_dir.join("worker"),
            &[],
            &[
                ("FLEET_WORKER_NAME", format!("{}big-{i}", fleet.prefix)),
                ("FLEET_METRICS_LISTEN", "127.0.0.1:0".into()),
                ("FLEET_WORKER_CONCURRENCY", "4".into()),
            ],
        )?);
    }
    e2e::wait_until("the scheduler is ready", Duration::from_secs(60), || {
        let url = fleet.api_url("/readyz");
        async move {
            reqwest::get(url)
                .await
                .is_ok_and(|r| r.status().is_success())
        }
    })
    .await;
    let id = fleet.connect("bench-big", &WHO).await?;
    fleet.emulator.reset_counters();
    let started = Instant::now();
    let scan = fleet.rescan(id, Some(&["storage"])).await?;
    fleet
        .wait_for_scan(id, scan, Duration::from_secs(3 * 3600))
        .await?;
    let wall = started.elapsed();
    let latest = fleet.store.latest_results(id).await?;
    let findings: usize = latest.iter().map(|r| r.result.findings.len()).sum();
    let tls = latest
        .iter()
        .find(|r| r.result.check_id == "storage.min_tls_12")
        .map(|r| r.result.findings.len())
        .unwrap_or(0);
    let peaks: Vec<String> = children
        .iter()
        .map(|c| peak_rss_kib(c.id()).map_or("?".into(), |k| format!("{:.0}", k as f64 / 1024.0)))
        .collect();
    let floor = world.floor();
    let counters = fleet.emulator.counters();
    let metrics = reqwest::get(fleet.api_url("/metrics"))
        .await?
        .text()
        .await?;
    let staged = metrics
        .lines()
        .find_map(|l| l.strip_prefix("fleet_results_ingested_total{outcome=\"staged\"}"))
        .map(|v| v.trim().to_string())
        .unwrap_or_else(|| "0".into());
    println!(
        "accounts {accounts} in {regions} region(s), workers {workers}: wall {:.0} s, floor \
         {floor:.0} s, wall/floor {:.2}; {} requests to Azure, {} answered 429; {} checks, \
         {findings} findings ({tls} on min TLS); \
         {staged} result pieces staged before the last; peak RSS: scheduler {} MiB, workers {} MiB",
        wall.as_secs_f64(),
        wall.as_secs_f64() / floor.max(1.0),
        counters.total,
        counters.throttled,
        latest.len(),
        peaks[0],
        peaks[1..].join(" / ")
    );
    for mut child in children {
        let _ = child.kill();
        let _ = child.wait();
    }
    fleet.shutdown().await?;
    Ok(())
}
