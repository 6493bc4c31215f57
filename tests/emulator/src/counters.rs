//! Request counters.
//!
//! Tests and benchmarks assert how many calls a scan made: in total, per endpoint, per principal
//! and per client asking for tokens. Requests to the emulator's own `/_emulator/` admin
//! endpoints are not counted, so reading the counters does not change them.

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
    /// the request is then refused, e.g. for an expired token or missing permission).
    pub by_principal: BTreeMap<String, u64>,
    /// Token requests per `client_id` sent, successful or not.
    pub token_requests_by_client: BTreeMap<String, u64>,
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
        let c = store.snapshot();
        assert_eq!(c.total, 2);
        assert_eq!(c.endpoint("GET /subscriptions/x"), 2);
        assert_eq!(c.principal("oid"), 1);
        assert_eq!(c.token_requests("app"), 1);
        store.reset();
        assert_eq!(store.snapshot(), Counters::default());
    }
}
