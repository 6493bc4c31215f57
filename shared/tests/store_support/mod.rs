//! Test support for the store tests: a `Store` on the local Redis under a prefix of its own, a
//! connection record, and the clean-up of everything under that prefix.

#![allow(dead_code)]

use chrono::Utc;
use redis::AsyncCommands;
use shared::messages::{ArmUsage, CheckResult, MESSAGE_VERSION, Message, ScanResult, Trigger};
use shared::store::{ConnectionRecord, Store};
use uuid::Uuid;

/// A store under a fresh key prefix, and that prefix.
pub async fn store() -> (Store, String) {
    let prefix = format!("t{}.", &Uuid::new_v4().simple().to_string()[..10]);
    let store = Store::connect(&"redis://127.0.0.1:6379/".parse().expect("url"), &prefix)
        .await
        .expect("redis");
    (store, prefix)
}

/// A connection record of organization `acme`.
pub fn record(id: Uuid) -> ConnectionRecord {
    serde_json::from_value(serde_json::json!({
        "id": id, "organization_id": "acme", "name": "n", "credential_name": "c",
        "tenant_id": "t", "client_id": "c", "subscription_id": Uuid::new_v4().to_string(),
        "sealed_secret": "x", "secret_version": "1", "regions": [], "capabilities": {},
        "cloud": {"kind": "public"}, "created_at": Utc::now(), "updated_at": Utc::now(),
    }))
    .expect("record")
}

/// A scheduled storage job's result for connection `connection` of organization `acme`.
pub fn scan_result(
    connection: Uuid,
    scan: Uuid,
    job: Uuid,
    checks: Vec<CheckResult>,
) -> ScanResult {
    ScanResult {
        schema: ScanResult::SCHEMA.into(),
        version: MESSAGE_VERSION,
        job_id: job,
        scan_id: scan,
        organization_id: "acme".into(),
        connection_id: connection,
        service: "storage".into(),
        trigger: Trigger::Scheduled,
        started_at: Utc::now(),
        finished_at: Utc::now(),
        worker: "test".into(),
        arm: ArmUsage::default(),
        checks,
        connection_error: None,
        fragment: None,
    }
}

/// Deletes every key under `prefix`.
pub async fn cleanup(store: &Store, prefix: &str) {
    let mut conn = store.redis();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut conn)
        .await
        .expect("keys");
    if !keys.is_empty() {
        let _: () = conn.del(keys).await.expect("del");
    }
}
