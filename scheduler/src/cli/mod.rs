//! The command line: `scheduler serve` runs the control plane; every other subcommand is a
//! client of the HTTP API for operators and customers, printing readable tables (or JSON with
//! `--json`).
//!
//! Client secrets are never taken as a command-line argument (they would show in `ps` and shell
//! history): they come from an environment variable or standard input.

mod client;
mod connections;
mod output;

use clap::{Args, Parser, Subcommand};
use uuid::Uuid;

pub use connections::ConnectionsCommand;
pub use output::results_table;

use crate::SchedulerConfig;
use client::Client;

#[derive(Debug, Parser)]
#[command(
    name = "scheduler",
    version,
    about = "Azure compliance scan fleet: control plane and CLI"
)]
pub struct Cli {
    #[command(flatten)]
    pub api: ApiArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Where the API is and how to authenticate (client subcommands).
#[derive(Debug, Clone, Args)]
pub struct ApiArgs {
    /// Base URL of the scheduler's HTTP API.
    #[arg(
        long,
        global = true,
        env = "FLEET_API_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub api_url: String,
    /// Bearer token for the API (an operator or organization token).
    #[arg(long, global = true, env = "FLEET_API_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the control plane: HTTP API, weekly planner, rescan consumer, results ingester.
    Serve(Box<SchedulerConfig>),
    /// Manage connections: add, list, show, update, delete, validate.
    #[command(subcommand)]
    Connections(ConnectionsCommand),
    /// Ask for a rescan of a connection (all services, or some).
    Rescan {
        id: Uuid,
        /// Service id to scan (repeat for several); default all.
        #[arg(long = "service")]
        services: Vec<String>,
        /// Wait until the scan has completed, then print the results.
        #[arg(long)]
        wait: bool,
        /// Seconds to wait at most.
        #[arg(long, default_value_t = 600)]
        timeout: u64,
        #[arg(long)]
        json: bool,
    },
    /// Show the latest result of every check of a connection.
    Results {
        id: Uuid,
        /// Wait for this scan to complete first.
        #[arg(long)]
        wait_scan: Option<Uuid>,
        #[arg(long, default_value_t = 600)]
        timeout: u64,
        #[arg(long)]
        json: bool,
    },
    /// When a connection is scanned next.
    NextScan {
        id: Uuid,
        #[arg(long)]
        json: bool,
    },
    /// Organization API tokens (operators).
    #[command(subcommand)]
    Tokens(TokensCommand),
    /// An organization's audit trail.
    Audit {
        #[arg(long)]
        organization: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// Create a token scoped to one organization; it is printed once.
    Create {
        #[arg(long)]
        organization: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// List an organization's tokens (not the tokens themselves).
    List {
        #[arg(long)]
        organization: String,
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token.
    Revoke {
        #[arg(long)]
        organization: String,
        id: Uuid,
    },
}

/// Runs a client subcommand.
pub async fn run_client(command: Command, api: &ApiArgs) -> anyhow::Result<()> {
    let client = Client::new(api)?;
    match command {
        Command::Serve(_) => anyhow::bail!("serve is not a client command"),
        Command::Connections(c) => connections::run(&client, c).await,
        Command::Rescan {
            id,
            services,
            wait,
            timeout,
            json,
        } => connections::rescan(&client, id, services, wait, timeout, json).await,
        Command::Results {
            id,
            wait_scan,
            timeout,
            json,
        } => {
            if let Some(scan_id) = wait_scan {
                client.wait_for_scan(id, scan_id, timeout).await?;
            }
            output::print_results(&client, id, json).await
        }
        Command::NextScan { id, json } => {
            let next = client
                .get(&format!("/v1/connections/{id}/next-scan"))
                .await?;
            if json {
                output::print_json(&next)
            } else {
                println!(
                    "next scan: {}\nweekly slot: {}",
                    output::text(&next["next_scan_at"]),
                    output::text(&next["weekly_slot"])
                );
                Ok(())
            }
        }
        Command::Tokens(t) => output::tokens(&client, t).await,
        Command::Audit { organization, json } => {
            let trail = client
                .get(&format!("/v1/organizations/{organization}/audit"))
                .await?;
            if json {
                return output::print_json(&trail);
            }
            let rows = output::rows(
                &trail,
                &["/at", "/actor", "/action", "/connection_id", "/details"],
            );
            output::print_table(&["AT", "ACTOR", "ACTION", "CONNECTION", "DETAILS"], rows);
            Ok(())
        }
    }
}
