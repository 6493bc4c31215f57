//! The command line: `scheduler serve` runs the control plane; every other subcommand is a
//! client of the HTTP API for operators and customers, printing readable tables (or JSON with
//! `--json`).
//!
//! Client secrets are never taken as a command-line argument (they would show in `ps` and shell
//! history): they come from an environment variable or standard input.

mod assets;
mod client;
mod connections;
mod exceptions;
mod output;

use clap::{Args, Parser, Subcommand};
use uuid::Uuid;

pub use assets::AssetsCommand;
pub use connections::ConnectionsCommand;
pub use exceptions::{AuditAction, AuditArgs, ExceptionsCommand};
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
#[derive(Clone, Args)]
pub struct ApiArgs {
    /// Base URL of the scheduler's HTTP API.
    #[arg(
        long,
        global = true,
        env = "FLEET_API_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub api_url: String,
    /// Bearer token for the API (an operator or organization token): from the environment
    /// (`FLEET_API_TOKEN`) only, never a flag (command lines are visible to every local user).
    #[arg(skip = std::env::var("FLEET_API_TOKEN").ok().filter(|t| !t.trim().is_empty()))]
    pub token: Option<String>,
}

impl std::fmt::Debug for ApiArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiArgs")
            .field("api_url", &self.api_url)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
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
    /// A connection's asset inventory: list (with filters), show one asset, export.
    #[command(subcommand)]
    Assets(AssetsCommand),
    /// Organization API tokens (operators).
    #[command(subcommand)]
    Tokens(TokensCommand),
    /// Disabled checks and exempted resources, with their justifications.
    #[command(subcommand)]
    Exceptions(ExceptionsCommand),
    /// An organization's audit trail (`--organization`), its export, and its verification.
    Audit(AuditArgs),
    /// Print every service and check (id, title, severity, frameworks, permissions,
    /// collections) from this build's catalogue; needs no API, broker or store.
    Catalogue {
        #[arg(long)]
        json: bool,
    },
    /// Inspect or replay dead-lettered messages (talks to RabbitMQ directly).
    DeadLetters(Box<DeadLettersArgs>),
    /// Stored client secrets (talks to Redis directly).
    Secrets(Box<SecretsArgs>),
}

#[derive(Debug, Args)]
pub struct DeadLettersArgs {
    #[command(subcommand)]
    pub action: DeadLettersAction,
    #[command(flatten)]
    pub broker: shared::config::BrokerArgs,
}

#[derive(Debug, Subcommand)]
pub enum DeadLettersAction {
    /// Show the dead-lettered messages of a queue and why (they stay where they are).
    List {
        /// The queue whose dead letters to show, e.g. `scan.jobs.ondemand`.
        #[arg(long)]
        queue: String,
        #[arg(long, default_value_t = 100)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Move dead-lettered messages back to their queue (after fixing the cause).
    Replay {
        #[arg(long)]
        queue: String,
        #[arg(long, default_value_t = usize::MAX)]
        limit: usize,
    },
}

#[derive(Debug, Args)]
pub struct SecretsArgs {
    #[command(subcommand)]
    pub action: SecretsAction,
    #[command(flatten)]
    pub redis: shared::config::RedisArgs,
    #[command(flatten)]
    pub secrets: shared::config::SecretArgs,
}

#[derive(Debug, Subcommand)]
pub enum SecretsAction {
    /// Re-encrypt every stored client secret with the first key of FLEET_SECRET_KEYS (after
    /// prepending a new key), so the old key can be removed.
    Reseal,
}

/// Runs an operator subcommand that talks to the broker or the store directly.
pub async fn run_admin(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Catalogue { json } => output::print_catalogue(json),
        Command::DeadLetters(args) => {
            let broker = shared::broker::Broker::connect(
                args.broker.amqp_url.clone(),
                shared::broker::Topology::new(&args.broker.queue_prefix),
                "scheduler-cli",
            )
            .await?;
            match args.action {
                DeadLettersAction::List { queue, limit, json } => {
                    let letters = crate::admin::list_dead_letters(&broker, &queue, limit).await?;
                    if json {
                        println!("{}", serde_json::to_string_pretty(&letters)?);
                    } else {
                        let rows = letters
                            .iter()
                            .map(|l| {
                                vec![
                                    l.message_id.clone().unwrap_or_else(|| "-".into()),
                                    l.kind.clone().unwrap_or_else(|| "-".into()),
                                    l.bytes.to_string(),
                                    l.reason.clone(),
                                ]
                            })
                            .collect();
                        output::print_table(&["MESSAGE ID", "TYPE", "BYTES", "REASON"], rows);
                    }
                }
                DeadLettersAction::Replay { queue, limit } => {
                    let n = crate::admin::replay_dead_letters(&broker, &queue, limit).await?;
                    println!("{n} message(s) moved back to {queue}");
                }
            }
            broker.close().await;
            Ok(())
        }
        Command::Secrets(args) => match args.action {
            SecretsAction::Reseal => {
                let store = shared::store::Store::connect_with(
                    &args.redis.redis_url,
                    args.redis.redis_cluster,
                    &args.redis.key_prefix,
                )
                .await?;
                let (resealed, current) =
                    crate::admin::reseal_secrets(&store, &args.secrets.secret_keys).await?;
                println!(
                    "{resealed} secret(s) re-sealed with key {}; {current} already were",
                    args.secrets.secret_keys.active_key_id()
                );
                Ok(())
            }
        },
        _ => anyhow::bail!("not an operator command"),
    }
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
        Command::Serve(_)
        | Command::DeadLetters(_)
        | Command::Secrets(_)
        | Command::Catalogue { .. } => {
            anyhow::bail!("not a client command")
        }
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
        Command::Assets(c) => assets::run(&client, c).await,
        Command::Tokens(t) => output::tokens(&client, t).await,
        Command::Exceptions(c) => exceptions::run(&client, c).await,
        Command::Audit(args) => exceptions::audit(&client, args).await,
    }
}
