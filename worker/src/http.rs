//! The worker's small HTTP server for operators: `/healthz` (alive), `/readyz` (broker and
//! Redis reachable), `/metrics` (Prometheus).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use shared::broker::Broker;
use shared::store::Store;
use tokio_util::sync::CancellationToken;

use crate::metrics::WorkerMetrics;

#[derive(Clone)]
struct Probe {
    broker: Arc<Broker>,
    store: Store,
    metrics: Arc<WorkerMetrics>,
}

/// Serves until `shutdown`; returns the bound address through `on_listen`.
pub async fn serve(
    listen: SocketAddr,
    broker: Arc<Broker>,
    store: Store,
    metrics: Arc<WorkerMetrics>,
    shutdown: CancellationToken,
    on_listen: Option<tokio::sync::oneshot::Sender<SocketAddr>>,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, "metrics and health endpoints listening");
    if let Some(tx) = on_listen {
        let _ = tx.send(addr);
    }
    let app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route(
            "/metrics",
            get(|State(p): State<Probe>| async move {
                let blocked = p.broker.is_blocked().await;
                p.metrics.broker_blocked.set(i64::from(blocked));
                p.metrics.base.render()
            }),
        )
        .with_state(Probe {
            broker,
            store,
            metrics,
        });
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await?;
    Ok(())
}

async fn ready(State(p): State<Probe>) -> (StatusCode, &'static str) {
    let blocked = p.broker.is_blocked().await;
    p.metrics.broker_blocked.set(i64::from(blocked));
    match (p.store.ping().await.is_ok(), p.broker.is_connected().await) {
        (false, _) => (StatusCode::SERVICE_UNAVAILABLE, "redis unavailable"),
        (_, false) => (StatusCode::SERVICE_UNAVAILABLE, "broker unavailable"),
        _ if blocked => (
            StatusCode::SERVICE_UNAVAILABLE,
            "broker blocked (memory or disk alarm)",
        ),
        (true, true) => (StatusCode::OK, "ready"),
    }
}
