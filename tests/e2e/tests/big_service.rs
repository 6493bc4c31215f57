//! A service too big for one job: the storage scan of a subscription with hundreds of accounts
//! is split into part jobs that run on any worker, its result travels in messages under a byte
//! bound, and the ingester combines the pieces into exactly what one job would have produced.
//! Part jobs carry Azure data, so an unsigned one is refused.

use std::collections::BTreeMap;
use std::time::Duration;

use e2e::{Fleet, FleetOptions};
use serde_json::{Value, json};
use shared::broker::routing;
use shared::broker::topology::DEAD_LETTER_REASON_HEADER;
use uuid::Uuid;

const TENANT: &str = "11111111-1111-1111-1111-111111111111";
const SUB: &str = "00000000-0000-0000-0000-0000000000c1";
const CLIENT: &str = "aaaaaaaa-0000-0000-0000-0000000000c1";
const OID: &str = "bbbbbbbb-0000-0000-0000-0000000000c1";
const SECRET: &str = "big~secret";
const ACCOUNTS: usize = 300;

/// `ACCOUNTS` storage accounts in two regions; every fifth allows TLS 1.0, every seventh has a
/// permissive file service, every eleventh is a BlobStorage account (no file service).
fn world(arm_latency_ms: u64) -> Value {
    let resources: Vec<Value> = (0..ACCOUNTS)
        .flat_map(|i| {
            let id = format!(
                "/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/sa{i:05}"
            );
            let kind = if i % 11 == 0 { "BlobStorage" } else { "StorageV2" };
            let tls = if i % 5 == 0 { "TLS1_0" } else { "TLS1_2" };
            let region = if i % 2 == 0 { "eastus" } else { "westeurope" };
            let mut out = vec![json!({
                "id": id, "name": format!("sa{i:05}"), "type": "Microsoft.Storage/storageAccounts",
                "location": region, "kind": kind,
                "properties": {"minimumTlsVersion": tls, "supportsHttpsTrafficOnly": true,
                               "allowBlobPublicAccess": false}
            })];
            if kind == "StorageV2" {
                let smb = if i % 7 == 0 { "SMB2.1;SMB3.0;SMB3.1.1" } else { "SMB3.1.1" };
                out.push(json!({
                    "id": format!("{id}/fileServices/default"), "name": "default",
                    "type": "Microsoft.Storage/storageAccounts/fileServices",
                    "properties": {
                        "shareDeleteRetentionPolicy": {"enabled": true, "days": 7},
                        "protocolSettings": {"smb": {"versions": smb, "channelEncryption": "AES-256-GCM"}}
                    }
                }));
            }
            out
        })
        .collect();
    json!({
        "arm_latency_ms": arm_latency_ms,
        "tenants": [{"id": TENANT, "applications": [
            {"client_id": CLIENT, "object_id": OID, "secrets": [{"value": SECRET}]}]}],
        "subscriptions": [{"id": SUB, "tenant_id": TENANT, "page_size": 100,
            "access": [{"object_id": OID, "role": "Reader", "actions": ["*/read"]}],
            "resources": resources}]
    })
}

/// Connects the world's subscription; returns the connection's id.
async fn create_connection(fleet: &Fleet) -> Uuid {
    let who = e2e::worlds::Principal {
        tenant: TENANT,
        subscription: SUB,
        client: CLIENT,
        object_id: OID,
        secret: SECRET,
    };
    fleet.connect("big-org", &who).await.expect("create")
}

/// A fleet of `workers` in-process workers that split the storage scan into parts of 40 reads,
/// and the world's connection (not scanned yet).
async fn split_fleet(workers: usize) -> (Fleet, Uuid) {
    let scenario = azure_emulator::Scenario::from_json(&world(0).to_string()).expect("scenario");
    let fleet = Fleet::start(
        scenario,
        FleetOptions {
            workers,
            scan_on_create: false,
            part_reads: 40,
            ..FleetOptions::default()
        },
    )
    .await
    .expect("fleet");
    let id = create_connection(&fleet).await;
    (fleet, id)
}

/// A check's status, reason, and sorted (resource id, finding status).
type CheckOutcome = (String, String, Vec<(String, String)>);

/// What one storage scan gave: each check's (status, reason, sorted (resource id, finding
/// status)), the scheduler's metrics, and the regions of the Storage read budgets the fleet drew
/// from (read right after the scan, while the buckets' keys live).
struct Scanned {
    checks: BTreeMap<String, CheckOutcome>,
    metrics: String,
    storage_read_regions: Vec<String>,
}

/// Scans the storage service once with the given worker settings.
async fn scan_storage(
    part_reads: usize,
    message_bytes: usize,
    slow: Option<(u64, u64)>,
) -> Scanned {
    let (latency, part_seconds) = slow.map_or((0, None), |(l, s)| (l, Some(s)));
    let scenario =
        azure_emulator::Scenario::from_json(&world(latency).to_string()).expect("scenario");
    let fleet = Fleet::start(
        scenario,
        FleetOptions {
            workers: 2,
            worker_concurrency: 2,
            scan_on_create: false,
            part_reads,
            message_bytes,
            part_seconds,
            ..FleetOptions::default()
        },
    )
    .await
    .expect("fleet");
    let id = create_connection(&fleet).await;
    let scan = fleet.rescan(id, Some(&["storage"])).await.expect("rescan");
    fleet
        .wait_for_scan(id, scan, Duration::from_secs(240))
        .await
        .expect("the storage scan completes");
    let mut storage_read_regions: Vec<String> = e2e::dump_keys(
        &fleet.store,
        &format!("{}limit:storage-read:", fleet.prefix),
    )
    .await
    .expect("limiter keys")
    .into_iter()
    .filter_map(|(key, _)| key.rsplit(':').next().map(str::to_string))
    .collect();
    storage_read_regions.sort();
    let latest = fleet.store.latest_results(id).await.expect("results");
    let mut out = BTreeMap::new();
    for stored in latest {
        let r = stored.result;
        let mut findings: Vec<(String, String)> = r
            .findings
            .iter()
            .map(|f| (f.resource_id.clone(), format!("{:?}", f.status)))
            .collect();
        findings.sort();
        out.insert(
            r.check_id.clone(),
            (r.status.as_str().to_string(), r.reason.clone(), findings),
        );
    }
    let metrics = reqwest::get(fleet.api_url("/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    fleet.shutdown().await.expect("cleanup");
    Scanned {
        checks: out,
        metrics,
        storage_read_regions,
    }
}

fn ingested(metrics: &str, outcome: &str) -> f64 {
    let prefix = format!("fleet_results_ingested_total{{outcome=\"{outcome}\"}}");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_split_scan_in_bounded_messages_equals_one_whole_job() {
    // Whole: one job, one message (of about 1.4 MB: over the default bound, so allowed here).
    let whole = scan_storage(1_000_000, 8 * 1024 * 1024, None).await;
    assert_eq!(ingested(&whole.metrics, "staged"), 0.0);
    assert_eq!(ingested(&whole.metrics, "applied"), 1.0);
    let tls = &whole.checks["storage.min_tls_12"];
    assert_eq!(tls.0, "failed");
    assert_eq!(tls.2.len(), ACCOUNTS, "one finding per account");
    let regions = ["eastus", "westeurope"];
    assert_eq!(whole.storage_read_regions, regions);

    // Split: 300 accounts with one file-service read each, 40 reads per part → 8 parts and the
    // coordinator; results in messages of at most 48 KiB.
    let split = scan_storage(40, 48 * 1024, None).await;
    let staged = ingested(&split.metrics, "staged");
    assert!(
        staged >= 9.0,
        "expected pieces from 9 parts, some in several chunks: {staged} staged"
    );
    assert_eq!(
        ingested(&split.metrics, "applied"),
        1.0,
        "one combined result"
    );
    assert_eq!(
        split.checks.keys().collect::<Vec<_>>(),
        whole.checks.keys().collect::<Vec<_>>()
    );
    for (check, expected) in &whole.checks {
        assert_eq!(&split.checks[check], expected, "{check}");
    }
    // The parts ran in sessions that never listed the accounts, yet each file-service read drew
    // from its account's region's Storage budget, as Azure counts it (none from `any`).
    assert_eq!(split.storage_read_regions, regions);

    // Slow reads (150 ms each) and parts allowed 1 s of reading: parts hand the rest of their
    // slice to continuations, and the combined result is still the same.
    let continued = scan_storage(40, 48 * 1024, Some((150, 1))).await;
    assert!(
        e2e::captured_logs().contains("a continuation takes the rest"),
        "no part ran out of time"
    );
    for (check, expected) in &whole.checks {
        assert_eq!(&continued.checks[check], expected, "{check}");
    }
    assert_eq!(continued.storage_read_regions, regions);
}

/// File-service reads per account so far (account name -> reads).
fn file_service_reads(fleet: &Fleet) -> BTreeMap<String, u64> {
    fleet
        .emulator
        .counters()
        .by_endpoint
        .into_iter()
        .filter_map(|(endpoint, n)| {
            let account = endpoint
                .strip_suffix("/fileServices/default")?
                .rsplit('/')
                .next()?;
            Some((account.to_string(), n))
        })
        .collect()
}

/// A worker process SIGKILLed in the middle of a part: the broker hands that part to another
/// worker, which runs it again on its own. The coordinator's lists are not read again, no other
/// part's accounts are, and the combined result is whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_part_whose_worker_dies_is_retried_alone() {
    const PART_READS: usize = 40;
    let binary = e2e::workspace_binary("worker", "worker");
    // 100 ms per Azure read: a part of 40 reads, 4 at a time, takes about a second.
    let scenario = azure_emulator::Scenario::from_json(&world(100).to_string()).expect("scenario");
    let fleet = Fleet::start(
        scenario,
        FleetOptions {
            workers: 0,
            scan_on_create: false,
            part_reads: PART_READS,
            ..FleetOptions::default()
        },
    )
    .await
    .expect("fleet");
    let id = create_connection(&fleet).await;
    // One job at a time: the coordinator, then one part after another.
    let mut victim = std::process::Command::new(&binary)
        .envs(fleet.process_env())
        .env("FLEET_WORKER_NAME", format!("{}victim", fleet.prefix))
        .env("FLEET_METRICS_LISTEN", "127.0.0.1:0")
        .env("FLEET_WORKER_CONCURRENCY", "1")
        .env("FLEET_WORKER_CHILD_CONCURRENCY", "4")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the worker process starts");
    fleet.emulator.reset_counters();
    let scan = fleet.rescan(id, Some(&["storage"])).await.expect("rescan");
    // Past the first part and into the second.
    e2e::wait_until(
        "the victim is inside its second part",
        Duration::from_secs(120),
        || {
            let reads: u64 = file_service_reads(&fleet).values().sum();
            async move { reads >= PART_READS as u64 + 10 }
        },
    )
    .await;
    victim.kill().expect("SIGKILL");
    victim.wait().expect("reaped");
    let read_by_victim = file_service_reads(&fleet);

    let survivor_stop = tokio_util::sync::CancellationToken::new();
    let survivor = tokio::spawn(worker::run(
        fleet.worker_config("survivor", 2),
        survivor_stop.clone(),
        None,
    ));
    fleet
        .wait_for_scan(id, scan, Duration::from_secs(240))
        .await
        .expect("the scan completes without the victim");

    let counters = fleet.emulator.counters();
    let list = format!("GET /subscriptions/{SUB}/providers/Microsoft.Storage/storageAccounts");
    assert_eq!(
        counters.endpoint(&list),
        ACCOUNTS.div_ceil(100) as u64,
        "the coordinator's list pages are read once: it is not run again"
    );
    let reads = file_service_reads(&fleet);
    let with_file_service = (0..ACCOUNTS).filter(|i| i % 11 != 0).count();
    assert_eq!(reads.len(), with_file_service, "every file service is read");
    let twice: Vec<&String> = reads
        .iter()
        .filter(|(_, n)| **n == 2)
        .map(|(a, _)| a)
        .collect();
    assert!(
        reads.values().all(|n| *n <= 2),
        "no account is read three times: {reads:?}"
    );
    assert!(
        !twice.is_empty() && twice.len() <= PART_READS,
        "only the interrupted part is read again ({} accounts read twice)",
        twice.len()
    );
    for account in &twice {
        assert!(
            read_by_victim.contains_key(*account),
            "{account} was read twice but not by the victim"
        );
    }
    let latest = fleet.store.latest_results(id).await.expect("results");
    let storage = shared::checks::service("storage").expect("storage");
    assert_eq!(latest.len(), storage.checks.len());
    for stored in &latest {
        assert_ne!(
            stored.result.status,
            shared::checks::CheckStatus::Error,
            "{}: {}",
            stored.result.check_id,
            stored.result.reason
        );
    }
    let tls = latest
        .iter()
        .find(|r| r.result.check_id == "storage.min_tls_12")
        .expect("min TLS");
    assert_eq!(
        tls.result.findings.len(),
        ACCOUNTS,
        "one finding per account"
    );
    survivor_stop.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(60), survivor).await;
    fleet.shutdown().await.expect("cleanup");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unsigned_part_job_is_refused() {
    let scenario = azure_emulator::Scenario::from_json(&world(0).to_string()).expect("scenario");
    let fleet = Fleet::start(
        scenario,
        FleetOptions {
            scan_on_create: false,
            ..FleetOptions::default()
        },
    )
    .await
    .expect("fleet");
    let job = json!({
        "schema": "scan-job", "version": 1, "job_id": Uuid::new_v4(), "scan_id": Uuid::new_v4(),
        "organization_id": "big-org", "connection_id": Uuid::new_v4(), "service": "storage",
        "trigger": "on_demand", "requested_at": chrono::Utc::now(),
        "part": {"index": 1, "of": 2, "collection": "storage.accounts",
                 "items": [{"id": "/subscriptions/x/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/fake",
                            "name": "fake", "properties": {"minimumTlsVersion": "TLS1_2"}}]}
    });
    fleet
        .publish_raw(routing::JOB_ONDEMAND, job.to_string().as_bytes())
        .await
        .expect("publish");
    let dead = fleet.topology.jobs_ondemand().dead_letter_queue();
    let message = fleet
        .take_message(&dead, Duration::from_secs(120))
        .await
        .expect("get")
        .expect("the part job is dead-lettered");
    let reason = message
        .properties
        .headers()
        .as_ref()
        .and_then(|h| h.inner().get(DEAD_LETTER_REASON_HEADER))
        .and_then(|v| match v {
            lapin::types::AMQPValue::LongString(s) => Some(s.to_string()),
            _ => None,
        })
        .unwrap_or_default();
    assert!(reason.contains("unsigned part job"), "{reason}");
    fleet.shutdown().await.expect("cleanup");
}

/// The ingester stages pieces once each, refuses a piece that contradicts the others, and
/// ingests the combined result when the last piece arrives (pieces published by hand here, signed
/// with the fleet's keys as a worker would).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pieces_are_staged_once_and_combined_when_all_are_in() {
    use shared::checks::CheckStatus;
    use shared::messages::{ArmUsage, CheckResult, Fragment, ScanResult, Trigger};
    let (scenario, secret) = e2e::demo_with_unique_secret();
    let fleet = Fleet::start(
        scenario,
        FleetOptions {
            workers: 0,
            scan_on_create: false,
            ..FleetOptions::default()
        },
    )
    .await
    .expect("fleet");
    let (id, _) = fleet.create_demo_connection(&secret).await.expect("create");
    let scan = fleet.rescan(id, Some(&["storage"])).await.expect("rescan");
    let job_id = shared::messages::job_id_for(scan, "storage");
    let record = fleet
        .store
        .connection(id)
        .await
        .expect("get")
        .expect("exists");
    let piece = |part: u32, parts: u32, check: &str, status: CheckStatus| ScanResult {
        schema: "scan-result".into(),
        version: 1,
        job_id,
        scan_id: scan,
        organization_id: record.organization_id.clone(),
        connection_id: id,
        service: "storage".into(),
        trigger: Trigger::OnDemand,
        started_at: chrono::Utc::now(),
        finished_at: chrono::Utc::now(),
        worker: "test".into(),
        arm: ArmUsage::default(),
        checks: vec![CheckResult {
            check_id: check.into(),
            status,
            reason: format!("piece {part}"),
            missing_permission: None,
            findings: Vec::new(),
        }],
        connection_error: None,
        fragment: Some(Fragment::whole(part, parts)),
    };
    let publish = |result: ScanResult| {
        let body = serde_json::to_vec(&result).expect("json");
        let signature = fleet.result_keys.sign(&body);
        let fleet = &fleet;
        async move {
            fleet
                .publish_with_headers(
                    routing::RESULT,
                    &body,
                    &[(shared::signing::SIGNATURE_HEADER, &signature)],
                )
                .await
                .expect("publish")
        }
    };
    let metric = |outcome: &'static str| {
        let url = fleet.api_url("/metrics");
        async move {
            let text = reqwest::get(url)
                .await
                .expect("metrics")
                .text()
                .await
                .expect("text");
            ingested(&text, outcome)
        }
    };
    let first = piece(0, 2, "storage.min_tls_12", CheckStatus::Passed);
    publish(first.clone()).await;
    publish(first).await; // redelivered or published twice
    e2e::wait_until(
        "both copies are handled",
        Duration::from_secs(120),
        || async { metric("staged").await >= 2.0 },
    )
    .await;
    // A piece that says the job has three parts contradicts the staged ones.
    publish(piece(
        1,
        3,
        "storage.secure_transfer_required",
        CheckStatus::Failed,
    ))
    .await;
    let dead = fleet.topology.results().dead_letter_queue();
    let message = fleet
        .take_message(&dead, Duration::from_secs(120))
        .await
        .expect("get")
        .expect("the contradicting piece is dead-lettered");
    assert!(String::from_utf8_lossy(&message.data).contains("\"parts\":3"));
    assert!(
        fleet
            .store
            .latest_results(id)
            .await
            .expect("latest")
            .is_empty()
    );

    publish(piece(
        1,
        2,
        "storage.secure_transfer_required",
        CheckStatus::Failed,
    ))
    .await;
    fleet
        .wait_for_scan(id, scan, Duration::from_secs(120))
        .await
        .expect("the last piece completes the scan");
    let latest = fleet.store.latest_results(id).await.expect("latest");
    let mut got: Vec<(String, String)> = latest
        .iter()
        .map(|s| {
            (
                s.result.check_id.clone(),
                s.result.status.as_str().to_string(),
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            ("storage.min_tls_12".to_string(), "passed".to_string()),
            (
                "storage.secure_transfer_required".to_string(),
                "failed".to_string()
            ),
        ]
    );
    assert_eq!(metric("applied").await, 1.0);
    // A late copy of a piece after the job was ingested changes nothing.
    publish(piece(0, 2, "storage.min_tls_12", CheckStatus::Failed)).await;
    e2e::wait_until(
        "the late piece is handled",
        Duration::from_secs(120),
        || async { metric("duplicate").await >= 1.0 },
    )
    .await;
    let again = fleet.store.latest_results(id).await.expect("latest");
    assert_eq!(again.len(), 2);
    assert!(again.iter().any(
        |s| s.result.check_id == "storage.min_tls_12" && s.result.status == CheckStatus::Passed
    ));
    fleet.shutdown().await.expect("cleanup");
}

/// The coordinator hands slices to part jobs while it reads the list, so a list that fails on a
/// later page finds parts already out. Its checks must end on the list's failure, not on the
/// findings of the accounts that happened to come first, and the scan must not wait for parts
/// that were never made.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_list_that_fails_after_its_parts_went_out_fails_their_checks() {
    use azure_emulator::Fault;
    let (fleet, id) = split_fleet(2).await;
    // Pages 1 and 2 (200 accounts: five parts of 40) are served; page 3 is refused.
    let list = format!("/subscriptions/{SUB}/providers/Microsoft.Storage/storageAccounts");
    fleet
        .emulator
        .add_fault(Fault::latency(list.as_str(), Duration::from_millis(1)).times(2))
        .expect("fault");
    fleet
        .emulator
        .add_fault(Fault::status(list.as_str(), 403))
        .expect("fault");
    fleet.emulator.reset_counters();
    let scan = fleet.rescan(id, Some(&["storage"])).await.expect("rescan");
    fleet
        .wait_for_scan(id, scan, Duration::from_secs(240))
        .await
        .expect("the scan completes");
    let reads = file_service_reads(&fleet);
    let first_pages = (0..200).filter(|i| i % 11 != 0).count();
    assert_eq!(
        reads.len(),
        first_pages,
        "the parts made from the first two pages ran"
    );
    let latest = fleet.store.latest_results(id).await.expect("results");
    let storage = shared::checks::service("storage").expect("storage");
    assert_eq!(latest.len(), storage.checks.len());
    for stored in &latest {
        assert_eq!(
            stored.result.status,
            shared::checks::CheckStatus::FailedAccessDenied,
            "{}: {}",
            stored.result.check_id,
            stored.result.reason
        );
        assert!(stored.result.findings.len() <= 1, "no per-account findings");
    }
    fleet.shutdown().await.expect("cleanup");
}

/// A part job whose result is in already (a redelivered part, or one a coordinator re-run
/// after its worker died published again) is acked without a single Azure request.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_part_whose_result_is_in_is_not_run_again() {
    let (fleet, id) = split_fleet(1).await;
    let scan = fleet.rescan(id, Some(&["storage"])).await.expect("rescan");
    fleet
        .wait_for_scan(id, scan, Duration::from_secs(240))
        .await
        .expect("the storage scan completes");
    fleet.emulator.reset_counters();
    let account = format!(
        "/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/sa00001"
    );
    let part = json!({
        "schema": "scan-job", "version": 1,
        "job_id": shared::messages::job_id_for(scan, "storage"), "scan_id": scan,
        "organization_id": "big-org", "connection_id": id, "service": "storage",
        "trigger": "on_demand", "requested_at": chrono::Utc::now(),
        "part": {"index": 1, "of": 9, "collection": "storage.accounts",
                 "items": [{"id": account, "name": "sa00001", "location": "westeurope",
                            "type": "Microsoft.Storage/storageAccounts", "kind": "StorageV2",
                            "properties": {"minimumTlsVersion": "TLS1_2"}}]}
    });
    let body = part.to_string();
    let signature = fleet.result_keys.sign(body.as_bytes());
    fleet
        .publish_with_headers(
            routing::JOB_ONDEMAND,
            body.as_bytes(),
            &[(shared::signing::SIGNATURE_HEADER, &signature)],
        )
        .await
        .expect("publish");
    let metrics = format!("http://{}/metrics", fleet.worker_metrics[0]);
    e2e::wait_until(
        "the worker acks the part as done already",
        Duration::from_secs(120),
        || {
            let metrics = metrics.clone();
            async move {
                let text = reqwest::get(metrics)
                    .await
                    .expect("metrics")
                    .text()
                    .await
                    .expect("text");
                text.lines().any(|l| {
                    l.starts_with("fleet_jobs_completed_total{")
                        && l.contains("outcome=\"already_done\"")
                        && l.trim_end().ends_with(" 1")
                })
            }
        },
    )
    .await;
    let requests: u64 = fleet.emulator.counters().by_endpoint.values().sum();
    assert_eq!(
        requests, 0,
        "no Azure request for a part whose result is in"
    );
    fleet.shutdown().await.expect("cleanup");
}
