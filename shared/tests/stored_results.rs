//! A store written by an earlier build, against the real local Redis: its latest results had
//! no offsets (see the store's `stored_body.rs`) and its fingerprints were of the earlier kind.
//! The first result after the upgrade is compared with what is stored (an unchanged result is
//! not a history entry), and a transient Error keeps the last good evaluation read from the
//! earlier text.

use redis::AsyncCommands;
use shared::checks::CheckStatus;
use shared::messages::{CheckResult, Evidence, Finding, FindingStatus, Trigger};
use shared::store::{IngestOutcome, Store, legacy_fingerprint};
use uuid::Uuid;

mod store_support;
use store_support::{cleanup, record, scan_result, store};

const CHECK: &str = "storage.min_tls_12";

fn failed_check() -> CheckResult {
    CheckResult {
        check_id: CHECK.into(),
        status: CheckStatus::Failed,
        reason: "1 of 2 resources fail".into(),
        missing_permission: None,
        findings: ["TLS1_0", "TLS1_2"]
            .iter()
            .enumerate()
            .map(|(i, tls)| Finding {
                resource_id: format!("/subscriptions/s/providers/Microsoft.Storage/sa{i}"),
                resource_name: format!("sa{i}"),
                resource_type: "Microsoft.Storage/storageAccounts".into(),
                location: Some("eastus".into()),
                status: if i == 0 {
                    FindingStatus::Failed
                } else {
                    FindingStatus::Passed
                },
                evidence: vec![Evidence {
                    property: "properties.minimumTlsVersion".into(),
                    value: serde_json::json!(tls),
                    expected: "TLS1_2".into(),
                }],
                message: "m".into(),
            })
            .collect(),
    }
}

/// Ingests `check` as the result of a new scan of `id`.
async fn ingest(store: &Store, id: Uuid, check: CheckResult) -> Uuid {
    let scan = Uuid::new_v4();
    store
        .start_scan(id, scan, &["storage"], Trigger::Scheduled)
        .await
        .expect("start");
    let result = scan_result(id, scan, Uuid::new_v4(), vec![check]);
    assert!(matches!(
        store.ingest(&result).await.expect("ingest"),
        IngestOutcome::Applied { .. }
    ));
    scan
}

/// Rewrites the check's stored result as an earlier build wrote it: the text serialized whole,
/// and a fingerprint entry of three fields with the earlier kind of fingerprint.
async fn as_earlier_build(store: &Store, id: Uuid, check: &CheckResult) {
    let mut conn = store.redis();
    let latest = store.latest_results(id).await.expect("latest");
    let stored = latest.first().expect("stored");
    let fingerprints = store.keys().fingerprints(id);
    let entry: String = conn.hget(&fingerprints, CHECK).await.expect("entry");
    assert_eq!(entry.split('|').count(), 7, "written with offsets: {entry}");
    let ms = entry.split('|').next().expect("ms");
    let legacy = format!(
        "{ms}|{}|{}",
        check.status.as_str(),
        legacy_fingerprint(check)
    );
    let text = serde_json::to_string(stored).expect("json");
    let _: () = conn
        .hset(store.keys().latest(id), CHECK, text)
        .await
        .expect("latest");
    let _: () = conn.hset(&fingerprints, CHECK, legacy).await.expect("fp");
}

#[tokio::test]
async fn a_store_written_by_an_earlier_build_is_read_across_the_upgrade() {
    let (store, prefix) = store().await;
    let id = Uuid::new_v4();
    store.create_connection(&record(id)).await.expect("create");
    let check = failed_check();
    ingest(&store, id, check.clone()).await;
    assert_eq!(store.history_len(id, CHECK).await.expect("history"), 1);

    // The same evaluation after the upgrade is not a change.
    as_earlier_build(&store, id, &check).await;
    let same_scan = ingest(&store, id, check.clone()).await;
    assert_eq!(store.history_len(id, CHECK).await.expect("history"), 1);
    // A different one is.
    as_earlier_build(&store, id, &check).await;
    let mut changed = check.clone();
    changed.findings[1].evidence[0].value = serde_json::json!("TLS1_1");
    changed.findings[1].status = FindingStatus::Failed;
    ingest(&store, id, changed.clone()).await;
    assert_eq!(store.history_len(id, CHECK).await.expect("history"), 2);

    // A transient Error keeps the last good evaluation of a text without offsets.
    as_earlier_build(&store, id, &changed).await;
    let before = store.latest_results(id).await.expect("latest");
    let error = CheckResult {
        status: CheckStatus::Error,
        reason: "Azure is throttling".into(),
        findings: Vec::new(),
        ..check.clone()
    };
    ingest(&store, id, error.clone()).await;
    let after = store.latest_results(id).await.expect("latest");
    let kept = after[0].last_good.clone().expect("kept");
    assert_eq!(kept.status, CheckStatus::Failed);
    assert_eq!(kept.findings, changed.findings);
    assert_eq!(kept.scan_id, before[0].scan_id);
    assert_ne!(kept.scan_id, same_scan);
    // And an Error after that Error (now stored with offsets) still keeps it.
    ingest(&store, id, error).await;
    let again = store.latest_results(id).await.expect("latest");
    assert_eq!(again[0].last_good.as_ref(), Some(&kept));
    cleanup(&store, &prefix).await;
}

/// Offsets that do not fit the stored text (a value changed behind the store's back) keep no
/// last good evaluation rather than a broken text, and the result is still stored.
#[tokio::test]
async fn offsets_that_do_not_fit_the_stored_text_keep_nothing() {
    let (store, prefix) = store().await;
    let id = Uuid::new_v4();
    store.create_connection(&record(id)).await.expect("create");
    let check = failed_check();
    let error = CheckResult {
        status: CheckStatus::Error,
        reason: "Azure is throttling".into(),
        findings: Vec::new(),
        ..check.clone()
    };
    let fingerprints = store.keys().fingerprints(id);
    for bad in ["9999|9|99999|0", "x|y|z|w", "1|500|2|0"] {
        ingest(&store, id, check.clone()).await;
        let mut conn = store.redis();
        let entry: String = conn.hget(&fingerprints, CHECK).await.expect("entry");
        let head: Vec<&str> = entry.split('|').take(3).collect();
        let broken = format!("{}|{bad}", head.join("|"));
        let _: () = conn.hset(&fingerprints, CHECK, broken).await.expect("fp");
        ingest(&store, id, error.clone()).await;
        let latest = store.latest_results(id).await.expect("still readable");
        assert_eq!(latest[0].result.status, CheckStatus::Error, "{bad}");
        assert_eq!(latest[0].last_good, None, "{bad}");
    }
    cleanup(&store, &prefix).await;
}
