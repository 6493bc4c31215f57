//! The HTTP application: shared state, routes and request counting.
//!
//! One server answers for Entra ID (`/{tenant}/oauth2/v2.0/token`), Microsoft Graph (`/v1.0/...`)
//! and ARM (everything else), as the product only needs to be pointed at one base URL for each. The emulator's own
//! controls live under `/_emulator/` (see `admin`), a prefix no Azure endpoint uses.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{any, get, post, put};

use crate::counters::CounterStore;
use crate::faults::FaultStore;
use crate::jwt::Signer;
use crate::throttle::Throttle;
use crate::world::World;
use crate::{admin, arm, entra, graph};

/// Prefix of the emulator's own endpoints; requests to them are not counted.
pub(crate) const ADMIN_PREFIX: &str = "/_emulator/";

/// What every handler shares.
pub(crate) struct AppState {
    /// Replaceable between scans (tests change the scenario: [`AppState::replace_world`]).
    world: std::sync::RwLock<Arc<World>>,
    pub(crate) signer: Signer,
    pub(crate) counters: CounterStore,
    /// `https://localhost:<port>`, for links when a request names no host.
    pub(crate) base_url: String,
    pub(crate) faults: FaultStore,
    pub(crate) throttle: Throttle,
    /// Added to every ARM response; starts as the scenario's `arm_latency_ms`.
    arm_latency_ms: AtomicU64,
}

impl AppState {
    pub(crate) fn new(world: World, base_url: String) -> AppState {
        let faults = FaultStore::new(world.faults.clone());
        let throttle = Throttle::new(world.throttling.clone(), world.provider_limits.clone());
        let latency = u64::try_from(world.arm_latency.as_millis()).unwrap_or(u64::MAX);
        AppState {
            world: std::sync::RwLock::new(Arc::new(world)),
            signer: Signer::random(),
            counters: CounterStore::default(),
            base_url,
            faults,
            throttle,
            arm_latency_ms: AtomicU64::new(latency),
        }
    }

    /// The scenario in force.
    pub(crate) fn world(&self) -> Arc<World> {
        match self.world.read() {
            Ok(world) => world.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Serves another scenario's tenants and subscriptions from now on (faults, throttling and
    /// counters stay as they are).
    pub(crate) fn replace_world(&self, world: World) {
        let world = Arc::new(world);
        match self.world.write() {
            Ok(mut slot) => *slot = world,
            Err(poisoned) => *poisoned.into_inner() = world,
        }
    }

    pub(crate) fn arm_latency(&self) -> Duration {
        Duration::from_millis(self.arm_latency_ms.load(Ordering::Relaxed))
    }

    pub(crate) fn set_arm_latency(&self, latency: Duration) {
        let millis = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX);
        self.arm_latency_ms.store(millis, Ordering::Relaxed);
    }
}

pub(crate) fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(entra::token))
        .route("/_emulator/requests", get(admin::requests))
        .route("/_emulator/reset", post(admin::reset))
        .route("/_emulator/tokens/expire", post(admin::expire_tokens))
        .route(
            "/_emulator/faults",
            get(admin::faults)
                .post(admin::add_fault)
                .delete(admin::clear_faults),
        )
        .route("/_emulator/latency", put(admin::set_latency))
        .route("/v1.0/{*path}", any(graph::handle))
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
