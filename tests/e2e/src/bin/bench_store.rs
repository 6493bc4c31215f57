//! Benchmark: the Redis store under the ingest load of many connections, and what they cost
//! in memory. Not a test: it prints figures.
//!
//! It ingests one full scan (every service, the demo's results: 17 checks with findings) for K
//! connections, then the same scan again (nothing changed), then a scan where one check
//! changed, and prints ingest throughput (results per second, with N in parallel), Redis
//! memory per connection, and history entries added by each round, so the claim "history grows
//! with what changes, not with time" is measured, not assumed.
//!
//! Run: `cargo run --release -p e2e --bin bench_store [-- <connections> <parallel>]`
//! (Redis must be running: `tests/services.sh`).

use std::time::{Duration, Instant};

use chrono::Utc;
use futures_util::StreamExt;
use shared::checks::CheckStatus;
use shared::messages::{
    ArmUsage, CheckResult, Evidence, Finding, FindingStatus, MESSAGE_VERSION, Message, ScanResult,
    Trigger,
};
use shared::store::Store;
use uuid::Uuid;

/// A result shaped like a real one: every check of a service, five findings each.
fn result(connection: Uuid, scan: Uuid, service: &str, variant: u8) -> ScanResult {
    let service_def = shared::checks::service(service).expect("service");
    let checks = service_def
        .checks
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let failing = i % 3 == 0 || (variant == 1 && i == 1);
            CheckResult {
                check_id: c.meta.id.to_string(),
                status: if failing {
                    CheckStatus::Failed
                } else {
                    CheckStatus::Passed
                },
                reason: "bench".into(),
                missing_permission: None,
                findings: (0..5)
                    .map(|r| Finding {
                        resource_id: format!(
                            "/subscriptions/s/resourceGroups/rg/providers/X/y/res{r}"
                        ),
                        resource_name: format!("res{r}"),
                        resource_type: "X/y".into(),
                        location: Some("eastus".into()),
                        status: if failing && r == 0 {
                            FindingStatus::Failed
                        } else {
                            FindingStatus::Passed
                        },
                        evidence: vec![Evidence {
                            property: "properties.minimumTlsVersion".into(),
                            value: serde_json::json!(if failing && r == 0 {
                                "TLS1_0"
                            } else {
                                "TLS1_2"
                            }),
                            expected: "TLS1_2 or TLS1_3".into(),
                        }],
                        message: "bench finding".into(),
                    })
                    .collect(),
            }
        })
        .collect();
    ScanResult {
        schema: ScanResult::SCHEMA.into(),
        version: MESSAGE_VERSION,
        job_id: Uuid::new_v4(),
        scan_id: scan,
        organization_id: "bench".into(),
        connection_id: connection,
        service: service.into(),
        trigger: Trigger::Scheduled,
        started_at: Utc::now(),
        finished_at: Utc::now(),
        worker: "bench".into(),
        arm: ArmUsage::default(),
        checks,
        connection_error: None,
        fragment: None,
    }
}

async fn used_memory(store: &Store) -> anyhow::Result<i64> {
    let mut conn = store.redis();
    let info: String = redis::cmd("INFO")
        .arg("memory")
        .query_async(&mut conn)
        .await?;
    Ok(info
        .lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0))
}

async fn history_entries(store: &Store, connections: &[Uuid]) -> anyhow::Result<usize> {
    let mut total = 0;
    for id in connections {
        for service in shared::checks::catalogue() {
            for check in service.checks {
                total += store.history_len(*id, check.meta.id).await?;
            }
        }
    }
    Ok(total)
}

/// A connection record as the API would store it (the secret is never opened here).
fn record(id: Uuid) -> anyhow::Result<shared::store::ConnectionRecord> {
    let now = chrono::Utc::now();
    Ok(serde_json::from_value(serde_json::json!({
        "id": id, "organization_id": "bench", "name": "bench", "credential_name": "bench",
        "tenant_id": Uuid::new_v4().to_string(), "client_id": Uuid::new_v4().to_string(),
        "subscription_id": Uuid::new_v4().to_string(), "sealed_secret": "x",
        "secret_version": "1", "regions": [], "capabilities": {},
        "cloud": {"kind": "public"}, "created_at": now, "updated_at": now,
    }))?)
}

/// Ingests one scan of every connection; returns (results, elapsed).
async fn round(
    store: &Store,
    connections: &[Uuid],
    parallel: usize,
    variant: u8,
) -> anyhow::Result<(usize, Duration)> {
    // Each connection's scan is started first, as the scheduler does: ingest refuses results of
    // scans it did not enqueue.
    let services: Vec<&str> = shared::checks::catalogue().iter().map(|s| s.id).collect();
    let mut results: Vec<ScanResult> = Vec::new();
    for id in connections {
        let scan = Uuid::new_v4();
        store
            .start_scan(*id, scan, &services, shared::messages::Trigger::Scheduled)
            .await?;
        results.extend(services.iter().map(|s| result(*id, scan, s, variant)));
    }
    let n = results.len();
    let started = Instant::now();
    let outcomes: Vec<_> = futures_util::stream::iter(results.iter().map(|r| store.ingest(r)))
        .buffer_unordered(parallel)
        .collect()
        .await;
    for o in outcomes {
        let outcome = o?;
        anyhow::ensure!(
            matches!(outcome, shared::store::IngestOutcome::Applied { .. }),
            "a result was not applied: {outcome:?}"
        );
    }
    Ok((n, started.elapsed()))
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let connections: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(2000);
    let parallel: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(32);
    let prefix = format!("bench-store-{}:", Uuid::new_v4().simple());
    let store = Store::connect(
        &e2e::REDIS_URL.parse().map_err(anyhow::Error::msg)?,
        &prefix,
    )
    .await?;
    let ids: Vec<Uuid> = (0..connections).map(|_| Uuid::new_v4()).collect();
    for id in &ids {
        store.create_connection(&record(*id)?).await?;
    }
    let checks: usize = shared::checks::catalogue()
        .iter()
        .map(|s| s.checks.len())
        .sum();
    println!(
        "{connections} connections x {} services ({checks} checks, 5 findings each), {parallel} results ingested in parallel",
        shared::checks::catalogue().len()
    );
    println!(
        "round                      results  results/s  memory/connection  history entries added"
    );
    let before = used_memory(&store).await?;
    let mut history = 0;
    for (label, variant) in [
        ("first scan", 0),
        ("same results again", 0),
        ("one check changed", 1),
    ] {
        let (n, elapsed) = round(&store, &ids, parallel, variant).await?;
        let memory = (used_memory(&store).await? - before) as f64 / connections as f64;
        let now = history_entries(&store, &ids).await?;
        println!(
            "{label:<25}  {n:>7}  {:>9.0}  {:>14.1} KiB  {:>21}",
            n as f64 / elapsed.as_secs_f64(),
            memory / 1024.0,
            now - history
        );
        history = now;
    }
    if std::env::var_os("BENCH_KEEP").is_some() {
        println!("kept keys under {prefix}");
        return Ok(());
    }
    // Clean up.
    let mut conn = store.redis();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut conn)
        .await?;
    for chunk in keys.chunks(1000) {
        let _: () = redis::cmd("DEL").arg(chunk).query_async(&mut conn).await?;
    }
    Ok(())
}
