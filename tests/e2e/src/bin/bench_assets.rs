//! Benchmark: asset import's inventory write (issue 15). Not a test: it prints figures.
//!
//! It ingests the asset batches of one connection with N assets (500 per batch, as workers
//! send them; 8 batches in flight, as the ingester's prefetch allows) three times: a first
//! import, the same inventory again (nothing changed: only last-seen marks may be written),
//! and one where 1% of the assets were retagged and 1% removed. For each it prints the ingest
//! time, the Redis bytes of the inventory per asset (`MEMORY USAGE` of its keys) and the
//! history entries the round added.
//!
//! Run: `cargo run --release -p e2e --bin bench_assets [-- <assets>]` (default 50,000; Redis
//! must be running: `tests/services.sh`).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use futures_util::StreamExt;
use shared::assets::{AssetBatch, AssetData, MAX_BATCH_ASSETS};
use shared::messages::Trigger;
use shared::store::{Keys, Store};
use uuid::Uuid;

const SUB: &str = "00000000-0000-0000-0000-0000000000b1";
const IN_FLIGHT: usize = 8;

/// A resource as a real subscription has them: a few tags, a SKU, a kind, Azure's times.
fn asset(i: usize, round: u8) -> AssetData {
    let group = format!("rg-{:03}", i % 200);
    let name = format!("st{i:06}");
    let mut tags = BTreeMap::from([
        ("env".to_string(), "prod".to_string()),
        ("costcenter".to_string(), format!("cc-{}", i % 50)),
        ("owner".to_string(), format!("team-{}", i % 30)),
    ]);
    if round == 2 && i % 100 == 1 {
        tags.insert("owner".into(), "team-new".into());
    }
    AssetData {
        id: format!(
            "/subscriptions/{SUB}/resourceGroups/{group}/providers/Microsoft.Storage/storageAccounts/{name}"
        ),
        name,
        resource_type: "Microsoft.Storage/storageAccounts".into(),
        resource_group: Some(group),
        location: Some(["eastus", "westeurope", "northeurope"][i % 3].into()),
        tags,
        sku: Some(serde_json::json!({"name": "Standard_LRS", "tier": "Standard"})),
        kind: Some("StorageV2".into()),
        managed_by: None,
        created_time: Utc.timestamp_opt(1_700_000_000 + i as i64, 0).single(),
        changed_time: Utc.timestamp_opt(1_710_000_000 + i as i64, 0).single(),
    }
}

/// One import of `n` assets (round 2 leaves out 1% of them); returns the elapsed time.
async fn import(store: &Store, connection: Uuid, n: usize, round: u8) -> anyhow::Result<Duration> {
    let scan = Uuid::new_v4();
    store
        .start_scan(
            connection,
            scan,
            &[shared::assets::ASSET_SERVICE],
            Trigger::Scheduled,
        )
        .await?;
    let assets: Vec<AssetData> = (0..n)
        .filter(|i| round != 2 || i % 100 != 2)
        .map(|i| asset(i, round))
        .collect();
    let chunks: Vec<Vec<AssetData>> = assets.chunks(MAX_BATCH_ASSETS).map(<[_]>::to_vec).collect();
    let total = chunks.len() as u32;
    let batches: Vec<AssetBatch> = chunks
        .into_iter()
        .enumerate()
        .map(|(seq, assets)| {
            let mut batch = AssetBatch::new(
                Uuid::new_v5(&scan, b"assets"),
                scan,
                "bench",
                connection,
                Trigger::Scheduled,
                seq as u32,
                "bench",
                assets,
            );
            if seq as u32 + 1 == total {
                batch.total_batches = Some(total);
                batch.complete = true;
            }
            batch
        })
        .collect();
    let started = Instant::now();
    let outcomes: Vec<_> = futures_util::stream::iter(batches.iter())
        .map(|b| store.ingest_assets(b))
        .buffer_unordered(IN_FLIGHT)
        .collect()
        .await;
    for outcome in outcomes {
        outcome?;
    }
    let elapsed = started.elapsed();
    let progress = store
        .scan_progress(connection, scan)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no progress"))?;
    anyhow::ensure!(
        progress.completed_at.is_some(),
        "the import did not complete its scan"
    );
    Ok(elapsed)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let n: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(50_000);
    let prefix = format!("bench-assets-{}:", Uuid::new_v4().simple());
    let store = Store::connect(
        &e2e::REDIS_URL.parse().map_err(anyhow::Error::msg)?,
        &prefix,
    )
    .await?;
    let keys = Keys::new(&prefix);
    let connection = Uuid::new_v4();
    let mut conn = store.redis();
    // The ingest script needs the connection to exist; its record's content is not read.
    let _: () = redis::cmd("SET")
        .arg(keys.record(connection))
        .arg("{}")
        .query_async(&mut conn)
        .await?;
    println!("{n} assets, batches of {MAX_BATCH_ASSETS}, {IN_FLIGHT} batches in flight");
    println!(
        "round                          ingest s   assets/s   Redis bytes/asset  history entries added"
    );
    let mut history = 0;
    for (label, round) in [
        ("first import", 0u8),
        ("same inventory again", 1),
        ("1% retagged, 1% removed", 2),
    ] {
        let elapsed = import(&store, connection, n, round).await?;
        let bytes = store.inventory_bytes(connection).await? as f64 / n as f64;
        let now = store.asset_changes(connection).await?.len();
        println!(
            "{label:<29}  {:>8.2}  {:>9.0}  {bytes:>18.0}  {:>21}",
            elapsed.as_secs_f64(),
            n as f64 / elapsed.as_secs_f64(),
            now - history
        );
        history = now;
    }
    // Clean up.
    let found: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut conn)
        .await?;
    for chunk in found.chunks(1000) {
        let _: () = redis::cmd("DEL").arg(chunk).query_async(&mut conn).await?;
    }
    Ok(())
}
