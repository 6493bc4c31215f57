//! The `azure-emulator` binary: serves a scenario file until SIGINT or SIGTERM.
//!
//! For tests and demos outside the Rust test process (the README demo, compose files). Once
//! listening it prints one JSON line on stdout with the base URL and the CA file, so a script can
//! wait for that line and read where to connect; logs go to stderr.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use azure_emulator::{EmulatorOptions, Scenario};
use clap::Parser;

/// A stand-in for Entra ID and Azure Resource Manager, driven by a JSON scenario file.
#[derive(Debug, Parser)]
#[command(name = "azure-emulator", version)]
struct Args {
    /// The scenario file to serve.
    #[arg(long)]
    scenario: PathBuf,
    /// The address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Where to write the CA certificate (PEM) that clients must trust.
    #[arg(long)]
    ca_out: Option<PathBuf>,
    /// Another name for the server certificate (repeat; e.g. the host name in a container
    /// network). `localhost` and `127.0.0.1` are always included.
    #[arg(long = "tls-name")]
    tls_names: Vec<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();

    let scenario = Scenario::from_file(&args.scenario)?;
    let emulator = azure_emulator::start(
        scenario,
        EmulatorOptions {
            tls_names: args.tls_names,
            listen: args.listen,
        },
    )
    .await?;
    if let Some(path) = &args.ca_out {
        std::fs::write(path, emulator.ca_pem())
            .with_context(|| format!("writing the CA certificate to {}", path.display()))?;
    }

    let ready = serde_json::json!({
        "base_url": emulator.base_url(),
        "ca_file": args.ca_out.as_ref().map(|path| path.display().to_string()),
    });
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{ready}").context("writing the ready line")?;
    stdout.flush().context("flushing the ready line")?;
    drop(stdout);

    wait_for_stop_signal().await?;
    tracing::info!("stopping");
    emulator.shutdown().await;
    Ok(())
}

#[cfg(unix)]
async fn wait_for_stop_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("listening for SIGINT")?;
    tokio::select! {
        _ = terminate.recv() => {}
        _ = interrupt.recv() => {}
    }
    Ok(())
}

#[cfg(not(unix))]
async fn wait_for_stop_signal() -> anyhow::Result<()> {
    tokio::signal::ctrl_c()
        .await
        .context("listening for Ctrl-C")
}
