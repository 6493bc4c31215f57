//! `scheduler`: the control-plane binary. `scheduler serve` runs the fleet's control plane; the
//! other subcommands are a command-line client of its HTTP API (`scheduler --help`).

use clap::Parser;
use scheduler::cli::{Cli, Command};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(config) => {
            let _telemetry = shared::telemetry::init("scheduler", config.log.log_format);
            let shutdown = tokio_util::sync::CancellationToken::new();
            shared::signals::cancel_on_signal(shutdown.clone());
            scheduler::run(*config, shutdown, None).await
        }
        admin @ (Command::DeadLetters(_) | Command::Secrets(_) | Command::Catalogue { .. }) => {
            scheduler::cli::run_admin(admin).await
        }
        client => scheduler::cli::run_client(client, &cli.api).await,
    }
}
