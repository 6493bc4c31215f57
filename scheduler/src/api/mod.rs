//! The HTTP API (axum, documented with utoipa): connections and their status, results and
//! history, rescans, exceptions (disabled checks), organizations' tokens and audit trail (export,
//! verification), and the check catalogue.
//!
//! Every route but the health probes, `/metrics` and `/openapi.json` needs a bearer token (see
//! [`auth`]).
//! Routes are versioned under `/v1`. A caller never sees another organization's data: such a
//! connection answers 404 exactly like a missing one. The OpenAPI document is generated from the
//! handlers' annotations, served at `/openapi.json`, and kept in `scheduler/openapi.json`.

mod assets;
pub mod auth;
pub mod catalogue;
mod connections;
pub mod error;
mod exceptions;
pub mod input;
mod organizations;

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use shared::broker::Broker;
use utoipa::Modify;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use connections::{ConnectionView, NextScan, RescanAccepted, Saved};
pub use organizations::CreatedToken;

use crate::lifecycle::Control;

/// What handlers share.
#[derive(Clone)]
pub struct ApiState {
    pub control: Control,
    pub broker: Arc<Broker>,
    pub operator_token_digest: [u8; 32],
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Azure compliance scan fleet",
        description = "Connections (Azure subscriptions reached with a service principal), their validation and status, compliance check results and history, rescans, and organizations' API tokens and audit trail.",
        license(name = "Apache-2.0")
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "connections", description = "The integration form and a connection's life"),
        (name = "results", description = "Latest results and history"),
        (name = "scans", description = "Rescans, scan progress, next scan"),
        (name = "organizations", description = "API tokens and the audit trail"),
        (name = "exceptions", description = "Disabled checks and exempted resources, with justifications"),
        (name = "catalogue", description = "Services and checks"),
        (name = "assets", description = "Asset inventory (asset import)"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The versioned API with its OpenAPI document.
fn documented() -> OpenApiRouter<ApiState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(catalogue::list))
        .routes(routes!(connections::create, connections::list))
        .routes(routes!(
            connections::show,
            connections::update,
            connections::delete
        ))
        .routes(routes!(connections::validate))
        .routes(routes!(connections::results))
        .routes(routes!(connections::history))
        .routes(routes!(connections::rescan))
        .routes(routes!(connections::scan_progress))
        .routes(routes!(connections::next_scan))
        .routes(routes!(assets::list))
        .routes(routes!(assets::show))
        .routes(routes!(assets::export))
        .routes(routes!(assets::set_owner_tag))
        .routes(routes!(
            organizations::create_token,
            organizations::list_tokens
        ))
        .routes(routes!(organizations::revoke_token))
        .routes(routes!(organizations::audit))
        .routes(routes!(exceptions::export))
        .routes(routes!(exceptions::verify))
        .routes(routes!(exceptions::create, exceptions::list))
        .routes(routes!(exceptions::show, exceptions::update))
        .routes(routes!(exceptions::reenable))
}

/// The OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    documented().into_openapi()
}

pub fn router(state: ApiState) -> Router {
    let (api, doc) = documented().split_for_parts();
    let doc = Arc::new(doc);
    let metrics = state.control.metrics.clone();
    api.route("/healthz", get(|| async { "ok" }))
        .route(
            "/metrics",
            get(|State(state): State<ApiState>| async move {
                let blocked = state.broker.is_blocked().await;
                state.control.metrics.broker_blocked.set(i64::from(blocked));
                state.control.metrics.base.render()
            }),
        )
        .route("/readyz", get(ready))
        .route(
            "/openapi.json",
            get(move || {
                let doc = doc.clone();
                async move { Json(doc.as_ref().clone()) }
            }),
        )
        .layer(axum::middleware::from_fn(time_limit))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(
            metrics,
            crate::metrics::count_requests,
        ))
        .with_state(state)
}

/// Largest request body accepted (a connection form is well under 4 KiB); larger is a 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Longest a request may take (validation against Azure included); longer is a 503.
pub const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

async fn time_limit(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    match tokio::time::timeout(REQUEST_TIMEOUT, next.run(request)).await {
        Ok(response) => response,
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({
                "error": "timeout",
                "message": format!("the request took longer than {} s", REQUEST_TIMEOUT.as_secs()),
            })),
        )
            .into_response(),
    }
}

/// Ready when Redis answers and the broker connection is up and not blocked: under a memory or
/// disk alarm the broker stops reading publishes, so rescans could not be requested.
async fn ready(State(state): State<ApiState>) -> (StatusCode, &'static str) {
    let redis = state.control.store.ping().await.is_ok();
    let broker = state.broker.is_connected().await;
    let blocked = state.broker.is_blocked().await;
    state.control.metrics.broker_blocked.set(i64::from(blocked));
    match (redis, broker) {
        (false, _) => (StatusCode::SERVICE_UNAVAILABLE, "redis unavailable"),
        (_, false) => (StatusCode::SERVICE_UNAVAILABLE, "broker unavailable"),
        _ if blocked => (
            StatusCode::SERVICE_UNAVAILABLE,
            "broker blocked (memory or disk alarm)",
        ),
        (true, true) => (StatusCode::OK, "ready"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn committed_openapi_matches_the_code() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi.json");
        let expected = super::openapi().to_pretty_json().expect("json") + "\n";
        if std::env::var_os("UPDATE_OPENAPI").is_some() {
            std::fs::write(&path, &expected).expect("write");
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert_eq!(
            committed, expected,
            "scheduler/openapi.json is out of date: run `UPDATE_OPENAPI=1 cargo test -p scheduler openapi`"
        );
    }
}
