//! Request counters.
//!
//! Tests and benchmarks assert how many calls a scan made: in total, per endpoint, per principal
//! and per client asking for tokens, and how many were throttled or hit an injected fault.
//! Requests to the emulator's own `/_emulator/` admin endpoints are not counted, so reading the
//! counters does not change them.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// A snapshot of the counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// Every request (admin endpoints excepted).
    pub total: u64,
    /// Per `"<METHOD> <path>"`, the path as received, without the query.
    pub by_endpoint: BTreeMap<String, u64>,
    /// ARM requests per principal: the `oid` of a token this emulator issued (counted even when
    /// the request is then refused, e.g. for an expired token, missing permission or
    /// throttling; not when an injected fault answered, as that happens before authentication).
    pub by_principal: BTreeMap<String, u64>,
    /// Token requests per `client_id` sent, successful or not.
    pub token_requests_by_client: BTreeMap<String, u64>,
    /// 429 responses sent: ARM and provider throttling, and injected faults with status 429.
    #[serde(default)]
    pub throttled: u64,
    /// 429 responses per principal (`oid`), where the request carried a token this emulator
    /// issued.
    #[serde(default)]
    pub throttled_by_principal: BTreeMap<String, u64>,
    /// Requests that got an injected fault (an error status, latency, or both).
    #[serde(default)]
    pub faults_injected: u64,
}

impl Counters {
    /// Requests to one endpoint, e.g. `counters.endpoint("GET /subscriptions/...")`.
    pub fn endpoint(&self, key: &str) -> u64 {
        self.by_endpoint.get(key).copied().unwrap_or(0)
    }

    /// ARM requests made with tokens of one principal.
    pub fn principal(&self, object_id: &str) -> u64 {
        self.by_principal.get(object_id).copied().unwrap_or(0)
    }

    /// Token requests naming one client id.
    pub fn token_requests(&self, client_id: &str) -> u64 {
        self.token_requests_by_client
            .get(client_id)
            .copied()
            .unwrap_or(0)
    }

    /// 429s sent to one principal.
    pub fn throttled_principal(&self, object_id: &str) -> u64 {
        self.throttled_by_principal
            .get(object_id)
            .copied()
            .unwrap_or(0)
    }
}

/// The live counters, shared by all request handlers.
#[derive(Debug, Default)]
pub(crate) struct CounterStore {
    inner: Mutex<Counters>,
}

impl CounterStore {
    fn update(&self, change: impl FnOnce(&mut Counters)) {
        // A panic while holding the lock cannot leave the counters half-updated in a way that
        // matters, so a poisoned lock is simply reused.
        let mut counters = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        change(&mut counters);
    }

    pub(crate) fn record_request(&self, method: &str, path: &str) {
        self.update(|c| {
            c.total += 1;
            *c.by_endpoint.entry(format!("{method} {path}")).or_default() += 1;
        });
    }

    pub(crate) fn record_principal(&self, object_id: &str) {
        self.update(|c| *c.by_principal.entry(object_id.to_owned()).or_default() += 1);
    }

    pub(crate) fn record_token_request(&self, client_id: &str) {
        self.update(|c| {
            *c.token_requests_by_client
                .entry(client_id.to_owned())
                .or_default() += 1
        });
    }

    /// A 429 sent, to `principal` if the request carried one of the emulator's tokens.
    pub(crate) fn record_throttled(&self, principal: Option<&str>) {
        self.update(|c| {
            c.throttled += 1;
            if let Some(principal) = principal {
                *c.throttled_by_principal
                    .entry(principal.to_owned())
                    .or_default() += 1;
            }
        });
    }

    pub(crate) fn record_fault(&self) {
        self.update(|c| c.faults_injected += 1);
    }

    pub(crate) fn snapshot(&self) -> Counters {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(crate) fn reset(&self) {
        self.update(|c| *c = Counters::default());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_resets() {
        let store = CounterStore::default();
        store.record_request("GET", "/subscriptions/x");
        store.record_request("GET", "/subscriptions/x");
        store.record_principal("oid");
        store.record_token_request("app");
        store.record_throttled(Some("oid"));
        store.record_throttled(None);
        store.record_fault();
        let c = store.snapshot();
        assert_eq!((c.throttled, c.throttled_principal("oid")), (2, 1));
        assert_eq!(c.faults_injected, 1);
        assert_eq!(c.total, 2);
        assert_eq!(c.endpoint("GET /subscriptions/x"), 2);
        assert_eq!(c.principal("oid"), 1);
        assert_eq!(c.token_requests("app"), 1);
        store.reset();
        assert_eq!(store.snapshot(), Counters::default());
    }

    #[test]
    fn reads_counters_without_the_newer_fields() {
        let old = r#"{"total": 3, "by_endpoint": {}, "by_principal": {}, "token_requests_by_client": {}}"#;
        let counters: Counters = serde_json::from_str(old).expect("parses");
        assert_eq!(counters.total, 3);
        assert_eq!((counters.throttled, counters.faults_injected), (0, 0));
    }
}
