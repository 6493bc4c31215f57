//! The HTTP API (axum): connections, their status and results, rescans, and the check
//! catalogue. Every route but the health probes needs a bearer token (see [`auth`]). Routes are
//! versioned under `/v1`; another organization's connection answers 404 exactly like a missing
//! one.

pub mod auth;
mod catalogue;
mod connections;
pub mod error;
pub mod input;

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use shared::broker::{Broker, Publisher};
use shared::crypto::KeyRing;
use shared::store::Store;

/// What handlers share.
#[derive(Clone)]
pub struct ApiState {
    pub store: Store,
    pub publisher: Publisher,
    pub broker: Arc<Broker>,
    pub keys: KeyRing,
    pub operator_token_digest: [u8; 32],
    /// Enqueue a first scan as soon as a connection is created.
    pub scan_on_create: bool,
}

pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/v1/checks", get(catalogue::list))
        .route(
            "/v1/connections",
            post(connections::create).get(connections::list),
        )
        .route(
            "/v1/connections/{id}",
            get(connections::show).delete(connections::delete),
        )
        .route("/v1/connections/{id}/results", get(connections::results))
        .route(
            "/v1/connections/{id}/checks/{check_id}/history",
            get(connections::history),
        )
        .route("/v1/connections/{id}/rescan", post(connections::rescan))
        .route(
            "/v1/connections/{id}/scans/{scan_id}",
            get(connections::scan_progress),
        )
        .with_state(state)
}

/// Ready when Redis answers and the broker connection is up.
async fn ready(State(state): State<ApiState>) -> (StatusCode, &'static str) {
    let redis = state.store.ping().await.is_ok();
    let broker = state.broker.is_connected().await;
    match (redis, broker) {
        (true, true) => (StatusCode::OK, "ready"),
        (false, _) => (StatusCode::SERVICE_UNAVAILABLE, "redis unavailable"),
        (_, false) => (StatusCode::SERVICE_UNAVAILABLE, "broker unavailable"),
    }
}
