//! What ingestion keeps, against the real local Redis: idempotency keys and job summaries are
//! bounded by the idempotency window, not the 400-day history retention, while a redelivery
//! within the window is still a duplicate; and a late result of a deleted connection writes
//! nothing, not even the state a sign-in failure would set (issue 16 items 5 and 6).

use chrono::Utc;
use redis::AsyncCommands;
use shared::checks::CheckStatus;
use shared::messages::{CheckResult, ConnectionError, ScanResult, Trigger};
use shared::store::{IDEMPOTENCY_WINDOW, IngestOutcome};
use uuid::Uuid;

mod store_support;
use store_support::{cleanup, record, scan_result, store};

fn result(connection: Uuid, scan: Uuid) -> ScanResult {
    let check = CheckResult {
        check_id: "storage.min_tls_12".into(),
        status: CheckStatus::Passed,
        reason: "r".into(),
        missing_permission: None,
        findings: vec![],
    };
    scan_result(connection, scan, Uuid::new_v4(), vec![check])
}

#[tokio::test]
async fn idempotency_keys_and_job_summaries_are_bounded_by_the_window() {
    let (store, prefix) = store().await;
    let id = Uuid::new_v4();
    store.create_connection(&record(id)).await.expect("create");
    let scan = Uuid::new_v4();
    store
        .start_scan(id, scan, &["storage"], Trigger::Scheduled)
        .await
        .expect("start");
    // Records as a year of weekly scans leaves them: one older than the window (but well
    // within the history retention), one a day old.
    let window_ms = i64::try_from(IDEMPOTENCY_WINDOW.as_millis()).expect("ms");
    let now_ms = Utc::now().timestamp_millis();
    let old_ms = now_ms - window_ms - 7 * 24 * 3600 * 1000;
    let day_ms = now_ms - 24 * 3600 * 1000;
    let mut conn = store.redis();
    let jobs = store.keys().ingested_jobs(id);
    let scans = store.keys().scans(id);
    let _: () = conn.zadd(&jobs, "old-job", old_ms).await.expect("zadd");
    let _: () = conn.zadd(&jobs, "recent-job", day_ms).await.expect("zadd");
    let _: String = redis::cmd("XADD")
        .arg(&scans)
        .arg(format!("{old_ms}-0"))
        .arg("job_id")
        .arg("old-job")
        .query_async(&mut conn)
        .await
        .expect("xadd");
    let _: String = redis::cmd("XADD")
        .arg(&scans)
        .arg(format!("{day_ms}-0"))
        .arg("job_id")
        .arg("recent-job")
        .query_async(&mut conn)
        .await
        .expect("xadd");

    let first = result(id, scan);
    assert!(matches!(
        store.ingest(&first).await.expect("ingest"),
        IngestOutcome::Applied { .. }
    ));

    let old: Option<f64> = conn.zscore(&jobs, "old-job").await.expect("zscore");
    assert_eq!(
        old, None,
        "an idempotency key older than the window is dropped"
    );
    let recent: Option<f64> = conn.zscore(&jobs, "recent-job").await.expect("zscore");
    assert_eq!(recent, Some(day_ms as f64));
    let members: Vec<String> = conn.zrange(&jobs, 0, -1).await.expect("zrange");
    assert_eq!(members.len(), 2, "{members:?}");
    // Summaries: the old one is trimmed; the day-old one and today's are kept.
    assert_eq!(store.scan_summaries_len(id).await.expect("xlen"), 2);
    // A redelivery within the window is still a duplicate.
    assert_eq!(
        store.ingest(&first).await.expect("ingest"),
        IngestOutcome::Duplicate
    );
    assert_eq!(store.scan_summaries_len(id).await.expect("xlen"), 2);
    cleanup(&store, &prefix).await;
}

#[tokio::test]
async fn a_late_result_of_a_deleted_connection_writes_nothing() {
    let (store, prefix) = store().await;
    let id = Uuid::new_v4();
    let record = record(id);
    store.create_connection(&record).await.expect("create");
    let scan = Uuid::new_v4();
    store
        .start_scan(id, scan, &["storage"], Trigger::Scheduled)
        .await
        .expect("start");
    store.delete_connection(&record).await.expect("delete");

    // A plain result, and one whose job could not sign in (which sets the connection's state).
    let plain = result(id, scan);
    let mut failed = result(id, scan);
    failed.checks[0].status = CheckStatus::Error;
    failed.connection_error = Some(
        serde_json::from_value::<ConnectionError>(serde_json::json!({
            "diagnosis": "wrong_secret", "message": "the secret is wrong",
            "remediation": "replace it",
        }))
        .expect("connection error"),
    );
    for late in [&plain, &failed] {
        assert_eq!(
            store.ingest(late).await.expect("ingest"),
            IngestOutcome::Refused("the connection does not exist")
        );
    }
    // An enqueue that read the connection before the delete: its scan is not recorded, and
    // the mark that its jobs were published writes nothing.
    let racing = Uuid::new_v4();
    assert!(matches!(
        store
            .start_scan(id, racing, &["storage"], Trigger::Scheduled)
            .await,
        Err(shared::store::StoreError::Gone { .. })
    ));
    store.mark_enqueued(id, scan).await.expect("mark");
    store.mark_enqueued(id, racing).await.expect("mark");
    let mut conn = store.redis();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*{id}*"))
        .query_async(&mut conn)
        .await
        .expect("keys");
    assert_eq!(
        keys,
        Vec::<String>::new(),
        "a deleted connection's keys came back"
    );
    assert!(store.latest_results(id).await.expect("latest").is_empty());
    cleanup(&store, &prefix).await;
}

/// A transient Error keeps the last good evaluation (status, reason, findings, when), through
/// several Errors in a row, and a new evaluation replaces it; a sign-in failure keeps nothing.
#[tokio::test]
async fn a_transient_error_keeps_the_last_good_verdict() {
    let (store, prefix) = store().await;
    let id = Uuid::new_v4();
    store.create_connection(&record(id)).await.expect("create");
    let ingest = |status: CheckStatus, reason: &str, sign_in: bool| {
        let store = store.clone();
        let reason = reason.to_string();
        async move {
            let scan = Uuid::new_v4();
            store
                .start_scan(id, scan, &["storage"], Trigger::Scheduled)
                .await
                .expect("start");
            let mut r = result(id, scan);
            r.checks[0].status = status;
            r.checks[0].reason = reason;
            if sign_in {
                r.connection_error = Some(ConnectionError {
                    diagnosis: shared::azure::TokenDiagnosis::ExpiredSecret,
                    message: "expired".into(),
                    remediation: "rotate".into(),
                    trace_id: None,
                    correlation_id: None,
                });
            }
            assert!(matches!(
                store.ingest(&r).await.expect("ingest"),
                IngestOutcome::Applied { .. }
            ));
            let latest = store.latest_results(id).await.expect("latest");
            (scan, latest.into_iter().next().expect("one check"))
        }
    };
    let (good_scan, good) = ingest(CheckStatus::Failed, "1 of 1 resources fail", false).await;
    assert!(good.last_good.is_none());
    let (_, error) = ingest(CheckStatus::Error, "Azure is throttling", false).await;
    assert_eq!(error.result.status, CheckStatus::Error);
    let kept = error.last_good.expect("the last good verdict is kept");
    assert_eq!(kept.status, CheckStatus::Failed);
    assert_eq!(kept.reason, "1 of 1 resources fail");
    assert_eq!(kept.scan_id, good_scan);
    assert_eq!(kept.findings, good.result.findings);
    assert_eq!(kept.finished_at, good.finished_at);
    // A second Error in a row still shows the verdict from before the first.
    let (_, again) = ingest(CheckStatus::Error, "Azure is throttling", false).await;
    assert_eq!(again.last_good.expect("kept").scan_id, good_scan);
    // A new evaluation replaces it.
    let (_, passed) = ingest(CheckStatus::Passed, "All 1 resources in scope pass", false).await;
    assert!(passed.last_good.is_none());
    // A sign-in failure is news of its own: nothing is carried.
    let (_, signed_out) = ingest(CheckStatus::Error, "Could not sign in", true).await;
    assert!(signed_out.last_good.is_none());
    cleanup(&store, &prefix).await;
}
