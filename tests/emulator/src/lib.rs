//! An Azure emulator for tests: Entra ID's token endpoint, Azure Resource Manager and Microsoft
//! Graph v1.0 (under `/v1.0/`) over https, speaking their real wire formats, with the world
//! described by a [`Scenario`].
//!
//! Like Azurite for storage, it lets the product run unchanged against something other than
//! Azure: the only difference the product can see is the endpoints (and the CA to trust).
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let scenario = azure_emulator::Scenario::from_file("tests/emulator/scenarios/unit.json")?;
//! let emulator = azure_emulator::start(scenario, Default::default()).await?;
//! println!("{} trusts {} bytes of CA", emulator.base_url(), emulator.ca_pem().len());
//! emulator.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! Beyond the happy path it reproduces what the product must survive: ARM throttling with
//! Azure's token buckets and `Retry-After` headers, resource-provider limits, tokens ARM
//! considers expired, unregistered providers, injected gateway faults and latency, paging
//! quirks, and Entra's Conditional Access and national-cloud refusals.

mod admin;
mod app;
mod arm;
mod authz;
mod counters;
mod entra;
mod faults;
pub mod fragments;
mod graph;
mod jwt;
mod relative_time;
mod resource_path;
mod scenario;
mod throttle;
mod tls;
mod world;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum_server::tls_rustls::RustlsConfig;
use tokio::task::JoinHandle;

pub use counters::Counters;
pub use faults::Fault;
pub use scenario::{
    Access, Application, ClientSecret, GraphData, GraphPermission, GraphThrottling, Paging,
    Scenario, Subscription, Tenant,
};
pub use throttle::{ProviderLimit, ProviderOperation, RetryAfterStyle, Throttling};

/// How long shutdown waits for requests in flight.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// Where and how to serve.
#[derive(Debug, Clone)]
pub struct EmulatorOptions {
    /// The address to listen on; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Extra names for the server certificate besides `localhost` and `127.0.0.1` (the host
    /// name clients use, e.g. `azure-emulator` in a compose network).
    pub tls_names: Vec<String>,
}

impl Default for EmulatorOptions {
    fn default() -> Self {
        EmulatorOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            tls_names: Vec::new(),
        }
    }
}

/// Starts serving `scenario` on the current Tokio runtime. The server is listening when this
/// returns.
pub async fn start(scenario: Scenario, options: EmulatorOptions) -> anyhow::Result<EmulatorHandle> {
    let world = world::World::new(scenario).context("invalid scenario")?;
    let tls = tls::generate(&options.tls_names).context("generating certificates")?;
    let config = RustlsConfig::from_pem(tls.chain_pem.into_bytes(), tls.key_pem.into_bytes())
        .await
        .context("configuring TLS")?;

    let listener = std::net::TcpListener::bind(options.listen)
        .with_context(|| format!("listening on {}", options.listen))?;
    let local_addr = listener.local_addr().context("reading the bound address")?;
    let base_url = format!("https://localhost:{}", local_addr.port());

    let state = Arc::new(app::AppState::new(world, base_url.clone()));
    let server_handle = axum_server::Handle::new();
    let server = axum_server::from_tcp_rustls(listener, config)
        .context("serving the listener")?
        .handle(server_handle.clone());
    let app = app::router(state.clone());
    let task = tokio::spawn(async move {
        if let Err(error) = server.serve(app.into_make_service()).await {
            tracing::error!(%error, "the emulator's server stopped");
        }
    });
    tracing::info!(%base_url, %local_addr, "Azure emulator listening");

    Ok(EmulatorHandle {
        base_url,
        local_addr,
        ca_pem: tls.ca_pem,
        state,
        server: server_handle,
        task: Some(task),
    })
}

/// A running emulator. Dropping it stops the server; [`EmulatorHandle::shutdown`] also waits
/// for it to finish.
pub struct EmulatorHandle {
    base_url: String,
    local_addr: SocketAddr,
    ca_pem: String,
    state: Arc<app::AppState>,
    server: axum_server::Handle<SocketAddr>,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for EmulatorHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmulatorHandle")
            .field("base_url", &self.base_url)
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

impl EmulatorHandle {
    /// Replaces the scenario the emulator serves (e.g. resources added, removed or retagged
    /// between two scans). Faults, throttling and counters are kept.
    pub fn replace_scenario(&self, scenario: Scenario) -> anyhow::Result<()> {
        let world = world::World::new(scenario).context("invalid scenario")?;
        self.state.replace_world(world);
        Ok(())
    }

    /// `https://localhost:<port>`, without a trailing slash: the authority host for Entra ID
    /// and the ARM endpoint alike.
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// The address the server is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The PEM of the CA that signed the server certificate.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// A snapshot of the request counters.
    pub fn counters(&self) -> Counters {
        self.state.counters.snapshot()
    }

    pub fn reset_counters(&self) {
        self.state.counters.reset();
    }

    /// Makes ARM answer 401 `ExpiredAuthenticationToken` to every token issued so far, whatever
    /// its `exp` (as when ARM's clock runs ahead of the client's); tokens issued afterwards work.
    pub fn expire_tokens(&self) {
        self.state.signer.retire_key();
    }

    /// Puts a fault in force, after those already there (the first matching fault wins).
    pub fn add_fault(&self, fault: Fault) -> anyhow::Result<()> {
        fault.validate()?;
        self.state.faults.add(fault);
        Ok(())
    }

    /// Removes every fault, including the scenario's.
    pub fn clear_faults(&self) {
        self.state.faults.clear();
    }

    /// The faults in force, each `times` being what is left of it.
    pub fn faults(&self) -> Vec<Fault> {
        self.state.faults.snapshot()
    }

    /// Changes the delay added to every ARM response (the scenario's `arm_latency_ms`).
    pub fn set_latency(&self, latency: Duration) {
        self.state.set_arm_latency(latency);
    }

    /// Stops accepting requests, lets those in flight finish (for a short grace period), and
    /// waits for the server to stop.
    pub async fn shutdown(mut self) {
        self.server.graceful_shutdown(Some(SHUTDOWN_GRACE));
        if let Some(task) = self.task.take()
            && let Err(error) = task.await
        {
            tracing::warn!(%error, "the emulator's server task failed");
        }
    }
}

impl Drop for EmulatorHandle {
    fn drop(&mut self) {
        if self.task.is_some() {
            self.server.shutdown();
        }
    }
}
