//! The emulator's own control endpoints under `/_emulator/`, for tests outside the Rust process
//! (the binary, scripts) to do what [`crate::EmulatorHandle`] does in process: read and reset
//! counters, expire tokens, inject faults, and change the ARM latency.
//!
//! | Method and path | Body | Answer |
//! |---|---|---|
//! | `GET /_emulator/requests` | | 200, the [`crate::Counters`] |
//! | `POST /_emulator/reset` | | 204; counters back to zero |
//! | `POST /_emulator/tokens/expire` | | 204; tokens issued so far get 401 `ExpiredAuthenticationToken` |
//! | `GET /_emulator/faults` | | 200, the faults in force (`times` = what is left) |
//! | `POST /_emulator/faults` | one [`crate::Fault`] | 204, or 400 `{"error": "..."}` |
//! | `DELETE /_emulator/faults` | | 204 |
//! | `PUT /_emulator/latency` | `{"arm_latency_ms": 250}` | 204, or 400 |

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use crate::app::AppState;
use crate::counters::Counters;
use crate::faults::Fault;

pub(crate) async fn requests(State(state): State<Arc<AppState>>) -> Json<Counters> {
    Json(state.counters.snapshot())
}

pub(crate) async fn reset(State(state): State<Arc<AppState>>) -> StatusCode {
    state.counters.reset();
    StatusCode::NO_CONTENT
}

pub(crate) async fn expire_tokens(State(state): State<Arc<AppState>>) -> StatusCode {
    state.signer.retire_key();
    StatusCode::NO_CONTENT
}

pub(crate) async fn faults(State(state): State<Arc<AppState>>) -> Json<Vec<Fault>> {
    Json(state.faults.snapshot())
}

pub(crate) async fn add_fault(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    match parse_fault(&body) {
        Ok(fault) => {
            state.faults.add(fault);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(error) => bad_request(&format!("{error:#}")),
    }
}

/// A fault from JSON, with relative times resolved as in scenario files.
fn parse_fault(body: &[u8]) -> anyhow::Result<Fault> {
    let mut raw: serde_json::Value = serde_json::from_slice(body)?;
    crate::relative_time::resolve(&mut raw)?;
    let fault: Fault = serde_json::from_value(raw)?;
    fault.validate()?;
    Ok(fault)
}

pub(crate) async fn clear_faults(State(state): State<Arc<AppState>>) -> StatusCode {
    state.faults.clear();
    StatusCode::NO_CONTENT
}

#[derive(Debug, Deserialize)]
struct Latency {
    arm_latency_ms: u64,
}

pub(crate) async fn set_latency(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    match serde_json::from_slice::<Latency>(&body) {
        Ok(latency) => {
            state.set_arm_latency(Duration::from_millis(latency.arm_latency_ms));
            StatusCode::NO_CONTENT.into_response()
        }
        Err(error) => bad_request(&error.to_string()),
    }
}

fn bad_request(message: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": message }))).into_response()
}
