//! `scheduler connections ...` and `scheduler rescan`: the integration form on the command line.

use std::io::Read;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use serde_json::{Value, json};
use uuid::Uuid;

use super::client::Client;
use super::output::{self, print_json, print_table, text};

#[derive(Debug, Subcommand)]
pub enum ConnectionsCommand {
    /// Create a connection (the integration form); it is validated at once.
    Add(Box<AddConnection>),
    /// List an organization's connections.
    List {
        /// Required with an operator token.
        #[arg(long)]
        organization: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Show a connection: settings, state, diagnosis, access, next scan.
    Show {
        id: Uuid,
        #[arg(long)]
        json: bool,
    },
    /// Change settings or rotate the client secret; sign-in changes are validated at once.
    Update(Box<UpdateConnection>),
    /// Delete a connection and its results (the audit trail stays).
    Delete { id: Uuid },
    /// Validate a connection against Azure again.
    Validate {
        id: Uuid,
        #[arg(long)]
        json: bool,
    },
}

/// Where the client secret comes from.
#[derive(Debug, Args)]
pub struct SecretSource {
    /// Name of the environment variable holding the client secret.
    #[arg(long, conflicts_with = "client_secret_stdin")]
    pub client_secret_env: Option<String>,
    /// Read the client secret from standard input.
    #[arg(long)]
    pub client_secret_stdin: bool,
}

impl SecretSource {
    fn read(&self) -> anyhow::Result<Option<String>> {
        if let Some(var) = &self.client_secret_env {
            return std::env::var(var)
                .map(Some)
                .with_context(|| format!("environment variable {var} is not set"));
        }
        if self.client_secret_stdin {
            let mut secret = String::new();
            std::io::stdin().read_to_string(&mut secret)?;
            return Ok(Some(secret.trim_end_matches(['\n', '\r']).to_string()));
        }
        Ok(None)
    }
}

#[derive(Debug, Args)]
pub struct AddConnection {
    /// Required with an operator token.
    #[arg(long)]
    pub organization: Option<String>,
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
    #[command(flatten)]
    pub secret: SecretSource,
    /// Regions to monitor (comma-separated); default all.
    #[arg(long, value_delimiter = ',')]
    pub regions: Vec<String>,
    /// Cloud as JSON, e.g. `{"kind":"china"}` or a custom cloud's endpoints; default public.
    #[arg(long)]
    pub cloud_json: Option<String>,
    /// Also import assets (selected item).
    #[arg(long)]
    pub asset_import: bool,
    /// Wait for the first scan and print its results.
    #[arg(long)]
    pub wait: bool,
    #[arg(long, default_value_t = 600)]
    pub timeout: u64,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct UpdateConnection {
    pub id: Uuid,
    #[arg(long)]
    pub name: Option<String>,
    #[arg(long)]
    pub credential_name: Option<String>,
    #[arg(long)]
    pub tenant_id: Option<String>,
    #[arg(long)]
    pub client_id: Option<String>,
    /// The new client secret (rotation), from an environment variable or stdin.
    #[command(flatten)]
    pub secret: SecretSource,
    #[arg(long, value_delimiter = ',')]
    pub regions: Option<Vec<String>>,
    #[arg(long)]
    pub cloud_json: Option<String>,
    #[arg(long)]
    pub json: bool,
}

fn cloud(json: Option<&str>) -> anyhow::Result<Option<Value>> {
    json.map(serde_json::from_str)
        .transpose()
        .context("--cloud-json is not valid JSON")
}

pub async fn run(client: &Client, command: ConnectionsCommand) -> anyhow::Result<()> {
    match command {
        ConnectionsCommand::Add(add) => {
            let secret = add.secret.read()?.context(
                "give the client secret with --client-secret-env VAR or --client-secret-stdin",
            )?;
            let mut body = json!({
                "name": add.name,
                "credential_name": add.credential_name,
                "tenant_id": add.tenant_id,
                "client_id": add.client_id,
                "subscription_id": add.subscription_id,
                "client_secret": secret,
                "regions": add.regions,
                "selected_items": {"compliance_checks": true, "asset_import": add.asset_import},
            });
            if let Some(org) = &add.organization {
                body["organization_id"] = json!(org);
            }
            if let Some(c) = cloud(add.cloud_json.as_deref())? {
                body["cloud"] = c;
            }
            let saved = client
                .call(reqwest::Method::POST, "/v1/connections", Some(body))
                .await?;
            finish_save(client, &saved, "created", add.wait, add.timeout, add.json).await
        }
        ConnectionsCommand::Update(update) => {
            let mut body = serde_json::Map::new();
            for (key, value) in [
                ("name", update.name.as_ref().map(|v| json!(v))),
                (
                    "credential_name",
                    update.credential_name.as_ref().map(|v| json!(v)),
                ),
                ("tenant_id", update.tenant_id.as_ref().map(|v| json!(v))),
                ("client_id", update.client_id.as_ref().map(|v| json!(v))),
                ("client_secret", update.secret.read()?.map(|v| json!(v))),
                ("regions", update.regions.as_ref().map(|v| json!(v))),
                ("cloud", cloud(update.cloud_json.as_deref())?),
            ] {
                if let Some(value) = value {
                    body.insert(key.to_string(), value);
                }
            }
            if body.is_empty() {
                bail!("nothing to update: give at least one setting");
            }
            let saved = client
                .call(
                    reqwest::Method::PATCH,
                    &format!("/v1/connections/{}", update.id),
                    Some(Value::Object(body)),
                )
                .await?;
            finish_save(client, &saved, "updated", false, 0, update.json).await
        }
        ConnectionsCommand::List { organization, json } => {
            let path = match organization {
                Some(org) => format!("/v1/connections?organization_id={org}"),
                None => "/v1/connections".to_string(),
            };
            let list = client.get(&path).await?;
            if json {
                return print_json(&list);
            }
            let rows = output::rows(
                &list,
                &[
                    "/id",
                    "/name",
                    "/subscription_id",
                    "/status/state",
                    "/status/next_scan_at",
                ],
            );
            print_table(&["ID", "NAME", "SUBSCRIPTION", "STATE", "NEXT SCAN"], rows);
            Ok(())
        }
        ConnectionsCommand::Show { id, json } => {
            let c = client.get(&format!("/v1/connections/{id}")).await?;
            if json {
                print_json(&c)
            } else {
                output::print_connection(&c);
                Ok(())
            }
        }
        ConnectionsCommand::Delete { id } => {
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
        ConnectionsCommand::Validate { id, json } => {
            let c = client
                .call(
                    reqwest::Method::POST,
                    &format!("/v1/connections/{id}/validate"),
                    None,
                )
                .await?;
            if json {
                print_json(&c)
            } else {
                output::print_connection(&c);
                Ok(())
            }
        }
    }
}

/// Prints a create/update answer (and waits for its scan when asked).
async fn finish_save(
    client: &Client,
    saved: &Value,
    verb: &str,
    wait: bool,
    timeout: u64,
    json: bool,
) -> anyhow::Result<()> {
    if json && !wait {
        return print_json(saved);
    }
    let connection = &saved["connection"];
    println!("connection {} {verb}", text(&connection["id"]));
    if let Some(trimmed) = saved["trimmed_fields"].as_array().filter(|t| !t.is_empty()) {
        println!(
            "note: removed leading/trailing spaces from {}",
            output::join(trimmed)
        );
    }
    output::print_connection(connection);
    if !wait {
        return Ok(());
    }
    let id = Uuid::parse_str(connection["id"].as_str().unwrap_or_default())?;
    let Some(scan_id) = saved["scan_id"]
        .as_str()
        .and_then(|s| Uuid::parse_str(s).ok())
    else {
        bail!(
            "no scan was started: the connection is {}",
            text(&connection["status"]["state"])
        );
    };
    println!("\nwaiting for the first scan {scan_id} ...");
    client.wait_for_scan(id, scan_id, timeout).await?;
    output::print_results(client, id, json).await
}

/// `scheduler rescan`.
pub async fn rescan(
    client: &Client,
    id: Uuid,
    services: Vec<String>,
    wait: bool,
    timeout: u64,
    json: bool,
) -> anyhow::Result<()> {
    let accepted = client
        .call(
            reqwest::Method::POST,
            &format!("/v1/connections/{id}/rescan"),
            Some(json!({ "services": services })),
        )
        .await?;
    let scan_id = Uuid::parse_str(accepted["scan_id"].as_str().unwrap_or_default())
        .context("the API answered without a scan id")?;
    if !wait {
        return if json {
            print_json(&accepted)
        } else {
            println!("rescan {scan_id} requested");
            Ok(())
        };
    }
    client.wait_for_scan(id, scan_id, timeout).await?;
    output::print_results(client, id, json).await
}
