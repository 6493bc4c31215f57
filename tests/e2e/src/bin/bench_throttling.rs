//! Benchmark: how close the fleet gets to Azure's read budgets, and whether more workers mean
//! more throttling. Not a test: it prints figures.
//!
//! `arm` (the default): an emulated subscription needs C reads in total (K connections to it,
//! all with one service principal, each scanning A storage accounts and their file services).
//! With ARM's default bucket (250 reads, refilled at 25/s) no client can finish faster than
//! `max(0, C - 250) / 25` seconds. For 1, 2 and 4 workers the fleet scans everything once and
//! this prints the wall time against that bound, the 429s Azure sent, and the token requests.
//!
//! `storage`: storage-heavy subscriptions, where the emulator enforces the Storage provider's
//! budgets as Azure does (800 reads and 100 lists per 5 minutes, per subscription and region)
//! besides ARM's: 2,000 accounts in three regions with 500 NSGs (storage and nsg scanned), and
//! 4,000 accounts in one region. Each case prints every budget that applies, the floor it sets
//! (`max(0, reads - bucket) / refill`), and the wall time against the highest floor, with the
//! share of requests answered 429.
//!
//! Run: `cargo run --release -p e2e --bin bench_throttling [-- arm <accounts per connection> <connections>]`
//! or `[-- storage [three-regions|one-region]]` (RabbitMQ and Redis must be running:
//! `tests/services.sh`). The storage cases take Azure's time: about 75 s and 20 minutes.

use std::time::{Duration, Instant};

use e2e::worlds::{Principal, StorageWorld};
use e2e::{Fleet, FleetOptions};
use serde_json::{Value, json};
use uuid::Uuid;

const TENANT: &str = "11111111-1111-1111-1111-111111111111";
const SUB: &str = "00000000-0000-0000-0000-0000000000b1";
const CLIENT: &str = "aaaaaaaa-0000-0000-0000-0000000000b1";
const OID: &str = "bbbbbbbb-0000-0000-0000-0000000000b1";
const SECRET: &str = "bench~secret";
const PAGE: usize = 100;

fn world(accounts: usize) -> Value {
    let resources: Vec<Value> = (0..accounts)
        .flat_map(|i| {
            let id = format!(
                "/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/sa{i:05}"
            );
            [
                json!({"id": id, "name": format!("sa{i:05}"), "type": "Microsoft.Storage/storageAccounts",
                       "location": "eastus", "kind": "StorageV2", "properties": {"minimumTlsVersion": "TLS1_2"}}),
                json!({"id": format!("{id}/fileServices/default"), "name": "default",
                       "type": "Microsoft.Storage/storageAccounts/fileServices", "properties": {}}),
            ]
        })
        .collect();
    json!({
        "tenants": [{"id": TENANT, "applications": [
            {"client_id": CLIENT, "object_id": OID, "secrets": [{"value": SECRET}]}]}],
        "subscriptions": [{"id": SUB, "tenant_id": TENANT, "page_size": PAGE,
            "access": [{"object_id": OID, "role": "Reader", "actions": ["*/read"]}],
            "resources": resources}]
    })
}

struct Run {
    workers: usize,
    reads: u64,
    wall: Duration,
    throttled: u64,
    tokens: u64,
}

async fn run(workers: usize, accounts: usize, connections: usize) -> anyhow::Result<Run> {
    let scenario = azure_emulator::Scenario::from_json(&world(accounts).to_string())?;
    let fleet = Fleet::start(
        scenario,
        FleetOptions {
            workers,
            worker_concurrency: 2,
            scan_on_create: false,
            ..FleetOptions::default()
        },
    )
    .await?;
    let mut ids = Vec::new();
    for i in 0..connections {
        let body = json!({
            "organization_id": format!("bench-{i}"), "name": format!("bench {i}"),
            "tenant_id": TENANT, "client_id": CLIENT, "subscription_id": SUB,
            "client_secret": SECRET, "cloud": fleet.cloud_json(),
        });
        let (code, created) = fleet
            .call(reqwest::Method::POST, "/v1/connections", Some(body))
            .await?;
        anyhow::ensure!(code == 201, "create: {created}");
        ids.push(Uuid::parse_str(
            created["connection"]["id"].as_str().unwrap_or_default(),
        )?);
    }
    fleet.emulator.reset_counters();
    let started = Instant::now();
    let mut scans = Vec::new();
    for id in &ids {
        scans.push((*id, fleet.rescan(*id, Some(&["storage"])).await?));
    }
    for (id, scan) in scans {
        fleet
            .wait_for_scan(id, scan, Duration::from_secs(600))
            .await?;
    }
    let wall = started.elapsed();
    if std::env::var_os("BENCH_DETAILS").is_some() {
        for id in &ids {
            for r in fleet.store.latest_results(*id).await?.iter().take(1) {
                eprintln!(
                    "connection {id}: job {} finished {}",
                    r.job_id, r.finished_at
                );
            }
        }
        let logs = e2e::captured_logs();
        for line in logs
            .lines()
            .filter(|l| l.contains("job done") || l.contains("retrying"))
        {
            eprintln!("{line}");
        }
    }
    let counters = fleet.emulator.counters();
    let reads = counters
        .by_endpoint
        .iter()
        .filter(|(k, _)| k.starts_with("GET /subscriptions"))
        .map(|(_, v)| *v)
        .sum::<u64>()
        - counters.throttled;
    let result = Run {
        workers,
        reads,
        wall,
        throttled: counters.throttled,
        tokens: counters.token_requests_by_client.values().sum(),
    };
    fleet.shutdown().await?;
    Ok(result)
}

const STORAGE_WHO: Principal = Principal {
    tenant: "11111111-1111-1111-1111-111111111111",
    subscription: "00000000-0000-0000-0000-0000000000b2",
    client: "aaaaaaaa-0000-0000-0000-0000000000b2",
    object_id: "bbbbbbbb-0000-0000-0000-0000000000b2",
    secret: "bench~storage~secret",
};

/// One storage-heavy case: the fleet (2 workers) scans `services` of the world's subscription
/// once; prints the budgets, their floors, and the wall time against the highest.
async fn storage_case(name: &str, world: &StorageWorld, services: &[&str]) -> anyhow::Result<()> {
    let scenario = azure_emulator::Scenario::from_json(&world.scenario(&STORAGE_WHO).to_string())?;
    let fleet = Fleet::start(
        scenario,
        FleetOptions {
            workers: 2,
            worker_concurrency: 2,
            scan_on_create: false,
            ..FleetOptions::default()
        },
    )
    .await?;
    let id = fleet.connect("bench-storage", &STORAGE_WHO).await?;
    let floors = world.floors();
    let floor = world.floor();
    // A scan that gave up would finish early; give it three times the floor and ten minutes.
    let patience = Duration::from_secs_f64(3.0 * floor + 600.0);
    fleet.emulator.reset_counters();
    let started = Instant::now();
    let scan = fleet.rescan(id, Some(services)).await?;
    fleet.wait_for_scan(id, scan, patience).await?;
    let wall = started.elapsed().as_secs_f64();
    let counters = fleet.emulator.counters();
    let latest = fleet.store.latest_results(id).await?;
    let errors = latest
        .iter()
        .filter(|r| r.result.status == shared::checks::CheckStatus::Error)
        .count();
    let findings: usize = latest.iter().map(|r| r.result.findings.len()).sum();
    fleet.shutdown().await?;

    println!(
        "\n{name}: {} storage accounts, {} NSGs; services {}",
        world.accounts(),
        world.nsgs,
        services.join(", ")
    );
    println!("  {:<42} {:>6} {:>10}", "budget", "reads", "floor (s)");
    for (budget, reads, seconds) in &floors {
        println!("  {budget:<42} {reads:>6} {seconds:>10.1}");
    }
    let requests = counters.total.max(1);
    println!(
        "  wall {wall:.1} s, floor {floor:.1} s, wall/floor {:.3}; {} requests, {} answered 429 \
         ({:.2}%); {} checks ({errors} in Error), {findings} findings",
        wall / floor.max(1.0),
        counters.total,
        counters.throttled,
        100.0 * counters.throttled as f64 / requests as f64,
        latest.len(),
    );
    Ok(())
}

async fn storage_cases(which: Option<&str>) -> anyhow::Result<()> {
    if which.is_none_or(|w| w == "three-regions") {
        let world = StorageWorld::spread(2000, &["eastus", "westeurope", "southeastasia"], 500);
        storage_case("three regions", &world, &["storage", "nsg"]).await?;
    }
    if which.is_none_or(|w| w == "one-region") {
        let world = StorageWorld::spread(4000, &["eastus"], 0);
        storage_case("one region", &world, &["storage"]).await?;
    }
    Ok(())
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let numbers = match args.first().map(String::as_str) {
        Some("storage") => return storage_cases(args.get(1).map(String::as_str)).await,
        Some("arm") => &args[1..],
        _ => &args[..],
    };
    let accounts: usize = numbers
        .first()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(190);
    let connections: usize = numbers.get(1).map(|a| a.parse()).transpose()?.unwrap_or(4);
    let needed = (connections * (accounts.div_ceil(PAGE) + accounts)) as f64;
    let bound = ((needed - 250.0).max(0.0)) / 25.0;
    println!(
        "{connections} connections x {accounts} storage accounts, one principal: C = {needed} reads; bound max(0, C - 250) / 25 = {bound:.1} s"
    );
    println!("workers  reads  wall (s)  wall/bound  429s  token requests");
    for workers in [1, 2, 4] {
        let r = run(workers, accounts, connections).await?;
        println!(
            "{:>7}  {:>5}  {:>8.1}  {:>10.2}  {:>4}  {:>14}",
            r.workers,
            r.reads,
            r.wall.as_secs_f64(),
            if bound > 0.0 {
                r.wall.as_secs_f64() / bound
            } else {
                f64::NAN
            },
            r.throttled,
            r.tokens
        );
    }
    Ok(())
}
