//! Benchmark: Redis bytes per connection after a year of weekly scans (issue 16 item 6). Not a
//! test: it prints figures.
//!
//! One connection, the 30 services with their real check counts (`shared::checks` catalogue),
//! 52 weekly scans where 5% of the check results change each week (a changed finding), then
//! `MEMORY USAGE` summed over the connection's keys. The year passes in seconds, so nothing is
//! trimmed by age: the figure is an upper bound (the idempotency keys and job summaries of a
//! real year are trimmed to the last 14 days; history is kept 400 days, longer than the year).
//!
//! Run: `nice cargo run --release -p e2e --bin bench_store_year` (Redis must be running).

use chrono::Utc;
use shared::checks::CheckStatus;
use shared::messages::{
    ArmUsage, CheckResult, Evidence, Finding, FindingStatus, MESSAGE_VERSION, Message, ScanResult,
    Trigger,
};
use shared::store::{ConnectionRecord, Store};
use uuid::Uuid;

const WEEKS: usize = 52;
/// One check result in 20 changes each week.
const CHANGE_ONE_IN: usize = 20;

fn check(id: &str, version: usize) -> CheckResult {
    CheckResult {
        check_id: id.to_string(),
        status: if version.is_multiple_of(2) {
            CheckStatus::Passed
        } else {
            CheckStatus::Failed
        },
        reason: "bench".into(),
        missing_permission: None,
        findings: (0..5)
            .map(|r| Finding {
                resource_id: format!("/subscriptions/s/resourceGroups/rg/providers/X/y/res{r}"),
                resource_name: format!("res{r}"),
                resource_type: "X/y".into(),
                location: Some("eastus".into()),
                status: FindingStatus::Passed,
                evidence: vec![Evidence {
                    property: "properties.minimumTlsVersion".into(),
                    value: serde_json::json!(format!("v{version}")),
                    expected: "TLS1_2 or TLS1_3".into(),
                }],
                message: "bench finding".into(),
            })
            .collect(),
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let prefix = format!("bench-year-{}:", Uuid::new_v4().simple());
    let store = Store::connect(
        &e2e::REDIS_URL.parse().map_err(anyhow::Error::msg)?,
        &prefix,
    )
    .await?;
    let id = Uuid::new_v4();
    let record: ConnectionRecord = serde_json::from_value(serde_json::json!({
        "id": id, "organization_id": "bench", "name": "n", "credential_name": "c",
        "tenant_id": "t", "client_id": "c", "subscription_id": Uuid::new_v4().to_string(),
        "sealed_secret": "x", "secret_version": "1", "regions": [], "capabilities": {},
        "cloud": {"kind": "public"}, "created_at": Utc::now(), "updated_at": Utc::now(),
    }))?;
    store.create_connection(&record).await?;
    let catalogue = shared::checks::catalogue();
    let services: Vec<&str> = catalogue.iter().map(|s| s.id).collect();
    let checks: usize = catalogue.iter().map(|s| s.checks.len()).sum();
    let mut versions = vec![0usize; checks];
    let mut changed = 0;
    for week in 0..WEEKS {
        if week > 0 {
            for (i, v) in versions.iter_mut().enumerate() {
                if (i * 7 + week).is_multiple_of(CHANGE_ONE_IN) {
                    *v += 1;
                    changed += 1;
                }
            }
        }
        let scan = Uuid::new_v4();
        store
            .start_scan(id, scan, &services, Trigger::Scheduled)
            .await?;
        let mut index = 0;
        for service in catalogue {
            let results = service
                .checks
                .iter()
                .map(|c| {
                    index += 1;
                    check(c.meta.id, versions[index - 1])
                })
                .collect();
            store
                .ingest(&ScanResult {
                    schema: ScanResult::SCHEMA.into(),
                    version: MESSAGE_VERSION,
                    job_id: Uuid::new_v4(),
                    scan_id: scan,
                    organization_id: "bench".into(),
                    connection_id: id,
                    service: service.id.into(),
                    trigger: Trigger::Scheduled,
                    started_at: Utc::now(),
                    finished_at: Utc::now(),
                    worker: "bench".into(),
                    arm: ArmUsage::default(),
                    checks: results,
                    connection_error: None,
                    fragment: None,
                })
                .await?;
        }
    }
    let mut conn = store.redis();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut conn)
        .await?;
    let mut total = 0i64;
    // Per kind of key; a scan's progress record (named by its scan id) lives 14 days.
    let mut kinds = std::collections::BTreeMap::<String, (usize, i64)>::new();
    for key in &keys {
        let bytes: Option<i64> = redis::cmd("MEMORY")
            .arg("USAGE")
            .arg(key)
            .arg("SAMPLES")
            .arg(0)
            .query_async(&mut conn)
            .await?;
        let bytes = bytes.unwrap_or(0);
        total += bytes;
        let short = key.rsplit(':').next().unwrap_or(key);
        let kind = if Uuid::parse_str(short).is_ok() {
            "scan progress (14-day TTL)".to_string()
        } else {
            short.to_string()
        };
        let entry = kinds.entry(kind).or_default();
        entry.0 += 1;
        entry.1 += bytes;
    }
    println!("{:<28} {:>5} {:>9}", "key", "count", "bytes");
    for (kind, (count, bytes)) in &kinds {
        println!("{kind:<28} {count:>5} {bytes:>9}");
    }
    println!(
        "{} services, {checks} checks, {WEEKS} weekly scans, {changed} results changed: {:.1} KiB per connection",
        services.len(),
        total as f64 / 1024.0
    );
    for chunk in keys.chunks(1000) {
        let _: () = redis::cmd("DEL").arg(chunk).query_async(&mut conn).await?;
    }
    Ok(())
}
