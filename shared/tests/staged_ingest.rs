//! A job's result that arrives in pieces is ingested one check at a time from staging, against
//! the real local Redis: the stored latest results, history and counters are exactly those of
//! the same result ingested whole, and two ingesters finishing one job at once apply it once.

use chrono::Utc;
use shared::checks::CheckStatus;
use shared::messages::{CheckResult, Evidence, Finding, FindingStatus, Trigger};
use shared::store::{IngestOutcome, Staged, StagedJob, Store};
use uuid::Uuid;

mod store_support;
use store_support::{cleanup, record, scan_result as result, store};

fn finding(i: usize, failed: bool) -> Finding {
    Finding {
        resource_id: format!(
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/sa{i:05}"
        ),
        resource_name: format!("sa{i:05}"),
        resource_type: "Microsoft.Storage/storageAccounts".into(),
        location: Some("eastus".into()),
        status: if failed {
            FindingStatus::Failed
        } else {
            FindingStatus::Passed
        },
        evidence: vec![Evidence {
            property: "properties.minimumTlsVersion".into(),
            value: serde_json::json!(if failed { "TLS1_0" } else { "TLS1_2" }),
            expected: "TLS1_2 or TLS1_3".into(),
        }],
        message: "m".into(),
    }
}

/// Two storage checks over `accounts` accounts (every seventh fails the first), and a third
/// without findings.
fn checks(accounts: std::ops::Range<usize>) -> Vec<CheckResult> {
    let tls: Vec<Finding> = accounts.clone().map(|i| finding(i, i % 7 == 0)).collect();
    let https: Vec<Finding> = accounts.map(|i| finding(i, false)).collect();
    vec![
        CheckResult {
            check_id: "storage.min_tls_12".into(),
            status: if tls.iter().any(|f| f.status == FindingStatus::Failed) {
                CheckStatus::Failed
            } else {
                CheckStatus::Passed
            },
            reason: "r".into(),
            missing_permission: None,
            findings: tls,
        },
        CheckResult {
            check_id: "storage.secure_transfer_required".into(),
            status: CheckStatus::Passed,
            reason: "r".into(),
            missing_permission: None,
            findings: https,
        },
    ]
}

/// A connection with a scan of storage enqueued; returns (connection, scan).
async fn connection(store: &Store) -> (Uuid, Uuid) {
    let id = Uuid::new_v4();
    store.create_connection(&record(id)).await.expect("create");
    let scan = Uuid::new_v4();
    store
        .start_scan(id, scan, &["storage"], Trigger::Scheduled)
        .await
        .expect("start");
    (id, scan)
}

/// Stages the pieces of a job of two parts (accounts 0..300 and 300..600), cut into chunks of
/// 16 KiB, in a scrambled order; returns the staged job once the last is in.
async fn stage_two_parts(store: &Store, id: Uuid, scan: Uuid, job: Uuid) -> StagedJob {
    let mut pieces = Vec::new();
    for (part, accounts) in [(0u32, 0..300), (1, 300..600)] {
        let mut piece = result(id, scan, job, checks(accounts));
        piece.fragment = Some(shared::messages::Fragment::whole(part, 2));
        pieces.extend(shared::fragments::chunk(piece, part, 2, 16 * 1024));
    }
    assert!(pieces.len() > 4, "{} pieces", pieces.len());
    pieces.reverse();
    let last = pieces.len() - 1;
    for (i, piece) in pieces.iter().enumerate() {
        let fragment = piece.fragment.expect("fragment");
        let staged = store.stage_fragment(piece, fragment).await.expect("stage");
        match (i == last, staged) {
            (false, Staged::Waiting) | (true, Staged::Complete) => {}
            (_, other) => panic!("piece {i}: {other:?}"),
        }
    }
    store.staged_job(id, job).await.expect("staged job")
}

/// (check id, status, sorted (resource, finding status)) of every latest result.
async fn latest(store: &Store, id: Uuid) -> Vec<(String, CheckStatus, Vec<(String, String)>)> {
    let mut out: Vec<_> = store
        .latest_results(id)
        .await
        .expect("latest")
        .into_iter()
        .map(|s| {
            let mut findings: Vec<(String, String)> = s
                .result
                .findings
                .iter()
                .map(|f| (f.resource_id.clone(), format!("{:?}", f.status)))
                .collect();
            findings.sort();
            (s.result.check_id, s.result.status, findings)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[tokio::test]
async fn a_staged_job_is_stored_as_the_same_result_ingested_whole() {
    let (store, prefix) = store().await;
    // The same result, whole on one connection and in pieces on another.
    let (whole_id, whole_scan) = connection(&store).await;
    let outcome = store
        .ingest(&result(
            whole_id,
            whole_scan,
            Uuid::new_v4(),
            checks(0..600),
        ))
        .await
        .expect("ingest");
    assert!(matches!(outcome, IngestOutcome::Applied { .. }));

    let (id, scan) = connection(&store).await;
    let job = Uuid::new_v4();
    let staged = stage_two_parts(&store, id, scan, job).await;
    let outcome = store.ingest_staged(&staged).await.expect("ingest staged");
    assert_eq!(
        outcome,
        IngestOutcome::Applied {
            scan_completed: true
        }
    );
    let expected = latest(&store, whole_id).await;
    assert_eq!(expected[0].2.len(), 600);
    assert_eq!(latest(&store, id).await, expected);
    let counts = |id| {
        let store = store.clone();
        async move {
            store
                .status(&record(id), Utc::now())
                .await
                .expect("status")
                .counts
        }
    };
    assert_eq!(counts(id).await, counts(whole_id).await);
    assert_eq!(
        store
            .history(id, "storage.min_tls_12", 10)
            .await
            .expect("history")
            .len(),
        1
    );
    assert!(store.job_ingested(id, job).await.expect("ingested"));
    let mut conn = store.redis();
    let staging: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*staging*"))
        .query_async(&mut conn)
        .await
        .expect("keys");
    assert!(
        staging.is_empty(),
        "the staged pieces are dropped: {staging:?}"
    );
    // Again (a redelivered last piece): nothing changes.
    assert_eq!(
        store.ingest_staged(&staged).await.expect("again"),
        IngestOutcome::Duplicate
    );
    cleanup(&store, &prefix).await;
}

#[tokio::test]
async fn two_ingesters_finishing_one_job_apply_it_once() {
    let (store, prefix) = store().await;
    for _ in 0..5 {
        let (id, scan) = connection(&store).await;
        let job = Uuid::new_v4();
        let staged = stage_two_parts(&store, id, scan, job).await;
        let again = store.staged_job(id, job).await.expect("staged");
        let (a, b) = tokio::join!(store.ingest_staged(&staged), store.ingest_staged(&again));
        let mut outcomes = vec![a.expect("a"), b.expect("b")];
        outcomes.sort_by_key(|o| format!("{o:?}"));
        assert_eq!(
            outcomes,
            vec![
                IngestOutcome::Applied {
                    scan_completed: true
                },
                IngestOutcome::Duplicate
            ]
        );
        let status = store.status(&record(id), Utc::now()).await.expect("status");
        assert_eq!(
            status.counts.values().sum::<u64>(),
            2,
            "{:?}",
            status.counts
        );
        assert_eq!(
            store
                .history(id, "storage.min_tls_12", 10)
                .await
                .expect("history")
                .len(),
            1
        );
    }
    cleanup(&store, &prefix).await;
}

#[tokio::test]
async fn a_streamed_split_waits_for_the_parts_its_coordinator_says_it_used() {
    use shared::messages::{Fragment, MAX_PARTS};
    let (store, prefix) = store().await;
    let (id, scan) = connection(&store).await;
    // Parts numbered against MAX_PARTS, the coordinator (part 0) last, then first.
    for coordinator_first in [false, true] {
        let job = Uuid::new_v4();
        let piece = |part: u32, accounts: std::ops::Range<usize>| {
            let mut piece = result(id, scan, job, checks(accounts));
            piece.fragment = Some(Fragment {
                parts_used: (part == 0).then_some(3),
                ..Fragment::whole(part, MAX_PARTS)
            });
            piece
        };
        let mut order = vec![piece(1, 0..10), piece(2, 10..20), piece(0, 0..0)];
        if coordinator_first {
            order.rotate_right(1);
        }
        let mut outcomes = Vec::new();
        for p in &order {
            let fragment = p.fragment.expect("fragment");
            outcomes.push(store.stage_fragment(p, fragment).await.expect("stage"));
        }
        assert!(
            matches!(
                outcomes.as_slice(),
                [Staged::Waiting, Staged::Waiting, Staged::Complete]
            ),
            "coordinator first: {coordinator_first}: {outcomes:?}"
        );
        let staged = store.staged_job(id, job).await.expect("staged");
        assert_eq!(staged.envelopes.len(), 3);
    }
    cleanup(&store, &prefix).await;
}

#[tokio::test]
async fn a_job_staged_across_an_upgrade_keeps_the_older_pieces_checks() {
    use shared::messages::Fragment;
    let (store, prefix) = store().await;
    let (id, scan) = connection(&store).await;
    let job = Uuid::new_v4();
    // Part 0 staged by the previous build: the whole piece, checks inside, in one field.
    let mut old = result(id, scan, job, checks(0..10));
    old.fragment = Some(Fragment::whole(0, 2));
    let key = format!("{prefix}{{conn:{id}}}:staging:{job}");
    let _: () = redis::cmd("HSET")
        .arg(&key)
        .arg("p:0:0")
        .arg(serde_json::to_string(&old).expect("json"))
        .arg("parts")
        .arg(2)
        .arg("n:0")
        .arg(1)
        .query_async(&mut store.redis())
        .await
        .expect("hset");
    // Part 1 staged by this build completes the job.
    let mut new = result(id, scan, job, checks(10..20));
    new.fragment = Some(Fragment::whole(1, 2));
    let staged = store
        .stage_fragment(&new, Fragment::whole(1, 2))
        .await
        .expect("stage");
    assert!(matches!(staged, Staged::Complete), "{staged:?}");
    let staged = store.staged_job(id, job).await.expect("staged");
    assert!(matches!(
        store.ingest_staged(&staged).await.expect("ingest"),
        IngestOutcome::Applied { .. }
    ));
    let latest = latest(&store, id).await;
    assert_eq!(latest.len(), 2);
    for (check, _, findings) in &latest {
        assert_eq!(findings.len(), 20, "{check}: both parts' findings");
    }
    cleanup(&store, &prefix).await;
}

/// A split job whose parts failed on Azure (a transient Error deciding the check) keeps the
/// whole last good evaluation, every one of its findings, though the ingester never read the
/// stored result: the ingestion script slices it out of the stored text.
#[tokio::test]
async fn a_split_jobs_transient_error_keeps_the_whole_last_good_evaluation() {
    use shared::messages::Fragment;
    let (store, prefix) = store().await;
    let (id, scan) = connection(&store).await;
    let good_job = Uuid::new_v4();
    let staged = stage_two_parts(&store, id, scan, good_job).await;
    store.ingest_staged(&staged).await.expect("ingest good");
    let good = store.latest_results(id).await.expect("latest");
    let good = good
        .into_iter()
        .find(|r| r.result.check_id == "storage.min_tls_12")
        .expect("tls check");
    assert_eq!(good.result.findings.len(), 600);

    for round in 0..2 {
        // Twice: an Error after an Error still keeps the verdict from before the first.
        let scan = Uuid::new_v4();
        store
            .start_scan(id, scan, &["storage"], Trigger::Scheduled)
            .await
            .expect("start");
        let job = Uuid::new_v4();
        let error = CheckResult {
            check_id: "storage.min_tls_12".into(),
            status: CheckStatus::Error,
            reason: "Azure answered 503 after retries".into(),
            missing_permission: None,
            findings: Vec::new(),
        };
        for part in 0..2 {
            let mut piece = result(id, scan, job, vec![error.clone()]);
            piece.fragment = Some(Fragment::whole(part, 2));
            store
                .stage_fragment(&piece, Fragment::whole(part, 2))
                .await
                .expect("stage");
        }
        let staged = store.staged_job(id, job).await.expect("staged");
        assert!(matches!(
            store.ingest_staged(&staged).await.expect("ingest error"),
            IngestOutcome::Applied { .. }
        ));
        let latest = store.latest_results(id).await.expect("latest");
        let now = latest
            .iter()
            .find(|r| r.result.check_id == "storage.min_tls_12")
            .expect("tls check");
        assert_eq!(now.result.status, CheckStatus::Error, "round {round}");
        assert!(now.result.findings.is_empty());
        let kept = now.last_good.clone().expect("the last good evaluation");
        assert_eq!(kept.status, good.result.status);
        assert_eq!(kept.reason, good.result.reason);
        assert_eq!(kept.findings, good.result.findings, "round {round}");
        assert_eq!(kept.scan_id, good.scan_id);
        assert_eq!(kept.finished_at, good.finished_at);
    }
    cleanup(&store, &prefix).await;
}

/// A part's result is "in" once every chunk of it is staged, or once the job is ingested: a
/// redelivered part (or one a re-run coordinator published again) then needs no Azure read.
#[tokio::test]
async fn a_parts_result_is_in_once_every_chunk_is_staged() {
    use shared::messages::Fragment;
    let (store, prefix) = store().await;
    let (id, scan) = connection(&store).await;
    let job = Uuid::new_v4();
    let mut piece = result(id, scan, job, checks(0..300));
    piece.fragment = Some(Fragment::whole(1, 2));
    let chunks = shared::fragments::chunk(piece, 1, 2, 16 * 1024);
    assert!(chunks.len() > 2, "{} chunks", chunks.len());
    for (i, chunk) in chunks.iter().enumerate() {
        assert!(
            !store.part_result_in(id, job, 1).await.expect("in"),
            "{i} of {} chunks staged",
            chunks.len()
        );
        let fragment = chunk.fragment.expect("fragment");
        store.stage_fragment(chunk, fragment).await.expect("stage");
    }
    assert!(store.part_result_in(id, job, 1).await.expect("in"));
    assert!(!store.part_result_in(id, job, 0).await.expect("in"));
    // A chunk count changed behind the store's back to something huge is not walked: "run it".
    let key = format!("{prefix}{{conn:{id}}}:staging:{job}");
    let _: () = redis::cmd("HSET")
        .arg(&key)
        .arg("n:5")
        .arg(1_000_000_000u64)
        .query_async(&mut store.redis())
        .await
        .expect("hset");
    assert!(!store.part_result_in(id, job, 5).await.expect("in"));
    let mut coordinator = result(id, scan, job, checks(300..310));
    coordinator.fragment = Some(Fragment::whole(0, 2));
    let staged = store
        .stage_fragment(&coordinator, Fragment::whole(0, 2))
        .await
        .expect("stage");
    assert!(matches!(staged, Staged::Complete), "{staged:?}");
    let staged = store.staged_job(id, job).await.expect("staged");
    store.ingest_staged(&staged).await.expect("ingest");
    // Staging is gone; the job is ingested: every part's result is in.
    for part in [0, 1, 7] {
        assert!(store.part_result_in(id, job, part).await.expect("in"));
    }
    assert!(
        !store
            .part_result_in(id, Uuid::new_v4(), 0)
            .await
            .expect("in")
    );
    cleanup(&store, &prefix).await;
}
