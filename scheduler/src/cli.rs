//! The command line: `scheduler serve` runs the control plane; every other subcommand is a
//! client of the HTTP API, printing readable tables (or JSON with `--json`).
//!
//! Client secrets are never taken as a command-line argument (they would show in `ps` and shell
//! history): they come from an environment variable or standard input.

use std::collections::BTreeMap;
use std::io::Read;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use serde_json::{Value, json};
use shared::store::StoredCheckResult;
use uuid::Uuid;

use crate::SchedulerConfig;

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
    /// Bearer token for the API.
    #[arg(long, global = true, env = "FLEET_API_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the control plane: HTTP API, weekly planner, rescan consumer, results ingester.
    Serve(Box<SchedulerConfig>),
    /// Manage connections.
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
}

#[derive(Debug, Subcommand)]
pub enum ConnectionsCommand {
    /// Create a connection (the integration form).
    Add(Box<AddConnection>),
    /// List an organization's connections.
    List {
        #[arg(long)]
        organization: String,
        #[arg(long)]
        json: bool,
    },
    /// Show a connection and its status.
    Show {
        id: Uuid,
        #[arg(long)]
        json: bool,
    },
    /// Delete a connection and its results.
    Delete { id: Uuid },
}

#[derive(Debug, Args)]
pub struct AddConnection {
    #[arg(long)]
    pub organization: String,
    #[arg(long)]
    pub name: String,
    #[arg(long, default_value = "")]
    pub credential_name: String,
    #[arg(long)]
    pub tenant_id: String,
    #[arg(long)]
    pub client_id: String,
    #[arg(long)]
    pub subscription_id: String,
    /// Name of the environment variable holding the client secret.
    #[arg(long, conflicts_with = "client_secret_stdin")]
    pub client_secret_env: Option<String>,
    /// Read the client secret from standard input.
    #[arg(long)]
    pub client_secret_stdin: bool,
    /// Regions to monitor (comma-separated); default all.
    #[arg(long, value_delimiter = ',')]
    pub regions: Vec<String>,
    /// Cloud as JSON, e.g. `{"kind":"china"}` or a custom cloud's endpoints; default public.
    #[arg(long)]
    pub cloud_json: Option<String>,
    /// Wait for the first scan and print its results.
    #[arg(long)]
    pub wait: bool,
    #[arg(long, default_value_t = 600)]
    pub timeout: u64,
    #[arg(long)]
    pub json: bool,
}

/// A small client of the HTTP API.
struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Client {
    fn new(api: &ApiArgs) -> anyhow::Result<Self> {
        let token = api
            .token
            .clone()
            .context("an API token is needed: --token or FLEET_API_TOKEN")?;
        Ok(Self {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()?,
            base: api.api_url.trim_end_matches('/').to_string(),
            token,
        })
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("cannot reach the API at {}", self.base))?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if !status.is_success() {
            bail!("API answered {status}: {text}");
        }
        if text.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).context("API answered something that is not JSON")
    }

    async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.call(reqwest::Method::GET, path, None).await
    }

    /// Polls a scan until it has completed.
    async fn wait_for_scan(&self, id: Uuid, scan_id: Uuid, timeout: u64) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout);
        loop {
            if let Ok(progress) = self
                .get(&format!("/v1/connections/{id}/scans/{scan_id}"))
                .await
                && progress.get("completed_at").is_some_and(|v| !v.is_null())
            {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                bail!("scan {scan_id} did not complete within {timeout} s");
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

/// Runs a client subcommand.
pub async fn run_client(command: Command, api: &ApiArgs) -> anyhow::Result<()> {
    let client = Client::new(api)?;
    match command {
        Command::Serve(_) => unreachable!("serve is not a client command"),
        Command::Connections(ConnectionsCommand::Add(add)) => {
            let secret = read_secret(&add)?;
            let cloud: Option<Value> = add
                .cloud_json
                .as_deref()
                .map(serde_json::from_str)
                .transpose()
                .context("--cloud-json is not valid JSON")?;
            let mut body = json!({
                "organization_id": add.organization,
                "name": add.name,
                "credential_name": add.credential_name,
                "tenant_id": add.tenant_id,
                "client_id": add.client_id,
                "subscription_id": add.subscription_id,
                "client_secret": secret,
                "regions": add.regions,
            });
            if let Some(cloud) = cloud {
                body["cloud"] = cloud;
            }
            let created = client
                .call(reqwest::Method::POST, "/v1/connections", Some(body))
                .await?;
            let id = uuid_at(&created, "/connection/id")?;
            if add.json && !add.wait {
                println!("{}", serde_json::to_string_pretty(&created)?);
                return Ok(());
            }
            println!("connection {id} created");
            if let Some(trimmed) = created["trimmed_fields"]
                .as_array()
                .filter(|t| !t.is_empty())
            {
                println!(
                    "note: removed leading/trailing spaces from {}",
                    join(trimmed)
                );
            }
            if add.wait {
                let scan_id = uuid_at(&created, "/scan_id")
                    .context("no first scan was enqueued (compliance checks not selected?)")?;
                println!("waiting for the first scan {scan_id} ...");
                client.wait_for_scan(id, scan_id, add.timeout).await?;
                print_results(&client, id, add.json).await?;
            }
            Ok(())
        }
        Command::Connections(ConnectionsCommand::List { organization, json }) => {
            let list = client
                .get(&format!("/v1/connections?organization_id={organization}"))
                .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                let rows = list
                    .as_array()
                    .map(|items| {
                        items
                            .iter()
                            .map(|c| {
                                vec![
                                    text(&c["id"]),
                                    text(&c["name"]),
                                    text(&c["subscription_id"]),
                                    text(&c["status"]["state"]),
                                    text(&c["status"]["next_scan_at"]),
                                ]
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                print_table(&["ID", "NAME", "SUBSCRIPTION", "STATE", "NEXT SCAN"], rows);
            }
            Ok(())
        }
        Command::Connections(ConnectionsCommand::Show { id, json }) => {
            let c = client.get(&format!("/v1/connections/{id}")).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&c)?);
            } else {
                for (label, pointer) in [
                    ("id", "/id"),
                    ("name", "/name"),
                    ("organization", "/organization_id"),
                    ("subscription", "/subscription_id"),
                    ("tenant", "/tenant_id"),
                    ("client id", "/client_id"),
                    ("regions", "/regions"),
                    ("state", "/status/state"),
                    ("last completed scan", "/status/last_completed_scan_at"),
                    ("next scan", "/status/next_scan_at"),
                    ("results", "/status/counts"),
                ] {
                    println!(
                        "{label:>20}: {}",
                        text(c.pointer(pointer).unwrap_or(&Value::Null))
                    );
                }
            }
            Ok(())
        }
        Command::Connections(ConnectionsCommand::Delete { id }) => {
            client
                .call(
                    reqwest::Method::DELETE,
                    &format!("/v1/connections/{id}"),
                    None,
                )
                .await?;
            println!("connection {id} deleted");
            Ok(())
        }
        Command::Rescan {
            id,
            services,
            wait,
            timeout,
            json,
        } => {
            let accepted = client
                .call(
                    reqwest::Method::POST,
                    &format!("/v1/connections/{id}/rescan"),
                    Some(json!({ "services": services })),
                )
                .await?;
            let scan_id = uuid_at(&accepted, "/scan_id")?;
            if !wait {
                if json {
                    println!("{}", serde_json::to_string_pretty(&accepted)?);
                } else {
                    println!("rescan {scan_id} requested");
                }
                return Ok(());
            }
            client.wait_for_scan(id, scan_id, timeout).await?;
            print_results(&client, id, json).await
        }
        Command::Results {
            id,
            wait_scan,
            timeout,
            json,
        } => {
            if let Some(scan_id) = wait_scan {
                client.wait_for_scan(id, scan_id, timeout).await?;
            }
            print_results(&client, id, json).await
        }
    }
}

fn read_secret(add: &AddConnection) -> anyhow::Result<String> {
    if let Some(var) = &add.client_secret_env {
        return std::env::var(var)
            .with_context(|| format!("environment variable {var} is not set"));
    }
    if add.client_secret_stdin {
        let mut secret = String::new();
        std::io::stdin().read_to_string(&mut secret)?;
        return Ok(secret.trim_end_matches(['\n', '\r']).to_string());
    }
    bail!("give the client secret with --client-secret-env VAR or --client-secret-stdin")
}

async fn print_results(client: &Client, id: Uuid, json: bool) -> anyhow::Result<()> {
    let raw = client.get(&format!("/v1/connections/{id}/results")).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&raw)?);
        return Ok(());
    }
    let results: Vec<StoredCheckResult> =
        serde_json::from_value(raw).context("unexpected results shape")?;
    print!("{}", results_table(&results));
    Ok(())
}

/// The results as a table: service, check, result, failing resources; then totals.
pub fn results_table(results: &[StoredCheckResult]) -> String {
    let mut sorted: Vec<&StoredCheckResult> = results.iter().collect();
    sorted.sort_by(|a, b| (&a.service, &a.result.check_id).cmp(&(&b.service, &b.result.check_id)));
    let rows = sorted
        .iter()
        .map(|r| {
            let failing: Vec<&str> = r
                .result
                .findings
                .iter()
                .filter(|f| f.status == shared::messages::FindingStatus::Failed)
                .map(|f| f.resource_name.as_str())
                .collect();
            let detail = if !failing.is_empty() {
                failing.join(", ")
            } else if let Some(permission) = &r.result.missing_permission {
                format!("missing {permission}")
            } else if r.result.status == shared::checks::CheckStatus::Error
                || r.result.status == shared::checks::CheckStatus::NotApplicable
            {
                r.result.reason.clone()
            } else {
                String::new()
            };
            vec![
                r.service.clone(),
                r.result.check_id.clone(),
                r.result.status.to_string(),
                detail,
            ]
        })
        .collect();
    let mut out = table(&["SERVICE", "CHECK", "RESULT", "FAILING RESOURCES"], rows);
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for r in results {
        *counts.entry(r.result.status.to_string()).or_default() += 1;
    }
    let totals: Vec<String> = counts.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    out.push_str(&format!(
        "\n{} checks. {}\n",
        results.len(),
        totals.join(", ")
    ));
    out
}

fn print_table(headers: &[&str], rows: Vec<Vec<String>>) {
    print!("{}", table(headers, rows));
}

/// Left-aligned columns; the last column is not padded.
fn table(headers: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<String>| {
        let last = cells.len().saturating_sub(1);
        let mut s = String::new();
        for (i, cell) in cells.into_iter().enumerate() {
            if i == last {
                s.push_str(&cell);
            } else {
                s.push_str(&format!("{cell:<width$}  ", width = widths[i]));
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(headers.iter().map(|h| h.to_string()).collect());
    for row in rows {
        out.push_str(&line(row));
    }
    out
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => "-".to_string(),
        Value::String(s) => s.clone(),
        Value::Array(items) => join(items),
        other => other.to_string(),
    }
}

fn join(items: &[Value]) -> String {
    items.iter().map(text).collect::<Vec<_>>().join(", ")
}

fn uuid_at(v: &Value, pointer: &str) -> anyhow::Result<Uuid> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .and_then(|s| Uuid::parse_str(s).ok())
        .with_context(|| format!("API response has no {pointer}"))
}
