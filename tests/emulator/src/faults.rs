//! Injected faults: errors and delays that Azure's front doors produce on their own (a 503 from
//! a busy gateway, a 504 from a slow provider, a token endpoint that is briefly unavailable).
//!
//! The product must retry them, back off, and give up in time; a fault lets a test make the
//! emulator misbehave on chosen requests, a given number of times. Faults act at the gateway,
//! before authentication, so they cost no throttling tokens. They come from the scenario's
//! `faults` and can be added and cleared while the emulator runs.

use std::sync::Mutex;
use std::time::Duration;

use anyhow::bail;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One injected fault.
///
/// ```json
/// {"path_contains": "/storageAccounts", "status": 503, "times": 2, "latency_ms": 0,
///  "body": {"error": {"code": "Busy", "message": "..."}}, "retry_after": 3}
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fault {
    /// A case-insensitive substring of the request path (without the query) that selects the
    /// requests; empty selects all (the emulator's own `/_emulator/` endpoints excepted).
    pub path_contains: String,
    /// The status to answer with; absent for a fault that only adds latency.
    #[serde(default)]
    pub status: Option<u16>,
    /// How many matching requests get the fault; absent for all of them.
    #[serde(default)]
    pub times: Option<u64>,
    /// Delay before answering, in milliseconds.
    #[serde(default)]
    pub latency_ms: u64,
    /// The response body; absent for the body the real service sends with `status`.
    #[serde(default)]
    pub body: Option<Value>,
    /// Seconds to send in `Retry-After` (in the scenario's `throttling.retry_after` style).
    #[serde(default)]
    pub retry_after: Option<u64>,
    /// Pads the body (an empty collection page) to this many bytes, streamed in chunks without
    /// a `Content-Length`: a huge response, for clients' size caps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pad_bytes: Option<u64>,
}

impl Fault {
    /// Answers matching requests with `status` (and the service's usual body for it).
    pub fn status(path_contains: impl Into<String>, status: u16) -> Fault {
        Fault {
            path_contains: path_contains.into(),
            status: Some(status),
            times: None,
            latency_ms: 0,
            body: None,
            retry_after: None,
            pad_bytes: None,
        }
    }

    /// Delays matching requests, which are then answered normally.
    pub fn latency(path_contains: impl Into<String>, latency: Duration) -> Fault {
        Fault {
            status: None,
            latency_ms: u64::try_from(latency.as_millis()).unwrap_or(u64::MAX),
            ..Fault::status(path_contains, 0)
        }
    }

    /// Only the next `times` matching requests get the fault.
    pub fn times(mut self, times: u64) -> Fault {
        self.times = Some(times);
        self
    }

    /// Answers with this body instead of the service's usual one.
    pub fn with_body(mut self, body: Value) -> Fault {
        self.body = Some(body);
        self
    }

    /// Sends `Retry-After` with this many seconds.
    pub fn with_retry_after(mut self, seconds: u64) -> Fault {
        self.retry_after = Some(seconds);
        self
    }

    /// Checks what serde cannot.
    pub fn validate(&self) -> anyhow::Result<()> {
        if let Some(status) = self.status
            && !(200..=599).contains(&status)
        {
            bail!(
                "fault on {:?}: status {status} is not 200-599",
                self.path_contains
            );
        }
        if self.status.is_none() && self.latency_ms == 0 {
            bail!(
                "fault on {:?}: needs a status or latency_ms",
                self.path_contains
            );
        }
        if self.times == Some(0) {
            bail!(
                "fault on {:?}: times must be at least 1 (leave it out for every request)",
                self.path_contains
            );
        }
        Ok(())
    }

    pub(crate) fn latency_duration(&self) -> Duration {
        Duration::from_millis(self.latency_ms)
    }

    fn matches(&self, path: &str) -> bool {
        path.to_lowercase()
            .contains(&self.path_contains.to_lowercase())
    }
}

/// The faults in force, in the order they were added; the first that matches a request wins.
#[derive(Debug, Default)]
pub(crate) struct FaultStore {
    /// Each fault with `times` counting down what is left.
    active: Mutex<Vec<Fault>>,
}

impl FaultStore {
    pub(crate) fn new(faults: Vec<Fault>) -> FaultStore {
        FaultStore {
            active: Mutex::new(faults),
        }
    }

    fn with_active<T>(&self, f: impl FnOnce(&mut Vec<Fault>) -> T) -> T {
        // A list of plain values: a panic elsewhere cannot leave it inconsistent.
        let mut active = self.active.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut active)
    }

    pub(crate) fn add(&self, fault: Fault) {
        self.with_active(|active| active.push(fault));
    }

    pub(crate) fn clear(&self) {
        self.with_active(Vec::clear);
    }

    /// The faults in force, `times` being what is left of each.
    pub(crate) fn snapshot(&self) -> Vec<Fault> {
        self.with_active(|active| active.clone())
    }

    /// The fault a request to `path` gets, if any, using up one of its `times`.
    pub(crate) fn take(&self, path: &str) -> Option<Fault> {
        self.with_active(|active| {
            let index = active.iter().position(|fault| fault.matches(path))?;
            let fault = active.get_mut(index)?;
            let taken = fault.clone();
            match &mut fault.times {
                Some(1) => {
                    active.remove(index);
                }
                Some(left) => *left -= 1,
                None => {}
            }
            Some(taken)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_match_case_insensitively_and_run_out() {
        let store = FaultStore::new(vec![
            Fault::status("/STORAGEACCOUNTS", 503).times(2),
            Fault::latency("", Duration::from_millis(5)),
        ]);
        let path = "/subscriptions/s/providers/Microsoft.Storage/storageAccounts";
        assert_eq!(store.take(path).and_then(|f| f.status), Some(503));
        assert_eq!(store.snapshot()[0].times, Some(1));
        assert_eq!(store.take(path).and_then(|f| f.status), Some(503));
        // Used up: the catch-all latency fault is next, forever.
        for _ in 0..3 {
            let fault = store.take(path).expect("latency fault");
            assert_eq!(fault.status, None);
            assert_eq!(fault.latency_duration(), Duration::from_millis(5));
        }
        store.clear();
        assert!(store.take(path).is_none());
    }

    #[test]
    fn validation() {
        assert!(Fault::status("x", 503).validate().is_ok());
        assert!(Fault::status("x", 99).validate().is_err());
        assert!(Fault::status("x", 503).times(0).validate().is_err());
        assert!(Fault::latency("x", Duration::ZERO).validate().is_err());
        let parsed: Fault =
            serde_json::from_str(r#"{"path_contains": "/token", "status": 503, "retry_after": 2}"#)
                .expect("parses");
        assert_eq!(parsed, Fault::status("/token", 503).with_retry_after(2));
    }
}
