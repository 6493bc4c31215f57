//! The audit trail's hash chain against the real local Redis: many writers (two store handles,
//! as two scheduler replicas would have) appending at once never fork it, and removing an entry
//! directly in Redis, even the last one, is found by verification.

use chrono::Utc;
use redis::AsyncCommands;
use shared::store::{AuditEvent, Store};

async fn store(prefix: &str) -> Store {
    Store::connect(&"redis://127.0.0.1:6379/".parse().expect("url"), prefix)
        .await
        .expect("redis")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_appends_keep_one_chain_and_removals_are_found() {
    let prefix = format!("t{}.", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    let (a, b) = (store(&prefix).await, store(&prefix).await);
    let mut tasks = Vec::new();
    for i in 0..40 {
        let s = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            let event = AuditEvent::new(
                Utc::now(),
                "operator:test",
                "test.appended",
                None,
                serde_json::json!({ "n": i }),
            );
            s.append_audit("acme", &event).await
        }));
    }
    for t in tasks {
        t.await.expect("task").expect("append");
    }
    let trail = a.audit_all("acme").await.expect("trail");
    let seqs: Vec<u64> = trail.iter().filter_map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=40).collect::<Vec<_>>());
    let verdict = a.verify_audit("acme").await.expect("verify");
    assert!(verdict.valid, "{verdict:?}");
    assert_eq!(verdict.entries, 40);

    // Removing the last entry breaks the link to the recorded head.
    let key = a.keys().audit("acme");
    let mut conn = a.redis();
    let last = trail.last().expect("entries").id.clone();
    let _: i64 = conn.xdel(&key, &[&last]).await.expect("xdel");
    let verdict = a.verify_audit("acme").await.expect("verify");
    assert!(!verdict.valid);
    assert!(verdict.problems[0].contains("removed"), "{verdict:?}");

    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut conn)
        .await
        .expect("keys");
    let _: () = conn.del(keys).await.expect("cleanup");
}
