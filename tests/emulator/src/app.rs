//! The HTTP application: shared state, routes, request counting, and the admin endpoints.
//!
//! One server answers for both Entra ID (`/{tenant}/oauth2/v2.0/token`) and ARM (everything
//! else), as the product only needs to be pointed at one base URL for each. The emulator's own
//! controls live under `/_emulator/`, a prefix no Azure endpoint uses.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::counters::{CounterStore, Counters};
use crate::jwt::Signer;
use crate::world::World;
use crate::{arm, entra};

/// Prefix of the emulator's own endpoints; requests to them are not counted.
pub(crate) const ADMIN_PREFIX: &str = "/_emulator/";

/// What every handler shares.
pub(crate) struct AppState {
    pub(crate) world: World,
    pub(crate) signer: Signer,
    pub(crate) counters: CounterStore,
    /// `https://localhost:<port>`, for links when a request names no host.
    pub(crate) base_url: String,
}

pub(crate) fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(entra::token))
        .route("/_emulator/requests", get(requests))
        .route("/_emulator/reset", post(reset))
        .fallback(arm::handle)
        .layer(middleware::from_fn_with_state(state.clone(), count))
        .with_state(state)
}

async fn count(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if !path.starts_with(ADMIN_PREFIX) {
        state
            .counters
            .record_request(request.method().as_str(), path);
    }
    tracing::debug!(method = %request.method(), path, "request");
    next.run(request).await
}

async fn requests(State(state): State<Arc<AppState>>) -> Json<Counters> {
    Json(state.counters.snapshot())
}

async fn reset(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    state.counters.reset();
    StatusCode::NO_CONTENT
}
