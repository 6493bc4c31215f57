//! `scheduler assets list/show/export`: a connection's asset inventory (issue 15) on the command
//! line, through the same API routes and filters as the HTTP clients.

use clap::{Args, Subcommand};
use serde_json::Value;
use uuid::Uuid;

use super::client::Client;
use super::output::{print_json, print_table, text};

#[derive(Debug, Subcommand)]
pub enum AssetsCommand {
    /// List a connection's assets (every page), filtered.
    List {
        id: Uuid,
        #[command(flatten)]
        filters: AssetFilters,
        #[arg(long)]
        json: bool,
    },
    /// One asset: its fields, its changes, and the latest findings about it.
    Show {
        id: Uuid,
        /// The asset's ARM id.
        #[arg(long = "asset")]
        asset: String,
        #[arg(long)]
        json: bool,
    },
    /// Print the filtered inventory as CSV (default) or a JSON array.
    Export {
        id: Uuid,
        #[command(flatten)]
        filters: AssetFilters,
        /// `csv` or `json`.
        #[arg(long, default_value = "csv")]
        format: String,
    },
}

/// The inventory's filters (all optional; all given must hold).
#[derive(Debug, Args)]
pub struct AssetFilters {
    /// Resource type, e.g. `Microsoft.Storage/storageAccounts`.
    #[arg(long = "type")]
    pub resource_type: Option<String>,
    #[arg(long)]
    pub region: Option<String>,
    #[arg(long)]
    pub resource_group: Option<String>,
    /// `name` or `name=value`.
    #[arg(long)]
    pub tag: Option<String>,
    #[arg(long)]
    pub owner: Option<String>,
    /// `true`: only removed assets; `false`: only present ones.
    #[arg(long)]
    pub removed: Option<bool>,
    /// `true`: only assets failing a check in the latest results; `false`: only the others.
    #[arg(long)]
    pub failing: Option<bool>,
}

impl AssetFilters {
    /// The filters as query parameters (`&name=value...`), encoded.
    fn query(&self) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        let pairs = [
            ("type", self.resource_type.clone()),
            ("region", self.region.clone()),
            ("resource_group", self.resource_group.clone()),
            ("tag", self.tag.clone()),
            ("owner", self.owner.clone()),
            ("removed", self.removed.map(|b| b.to_string())),
            ("failing", self.failing.map(|b| b.to_string())),
        ];
        for (name, value) in pairs {
            if let Some(v) = value {
                q.append_pair(name, &v);
            }
        }
        q.finish()
    }
}

fn encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

pub async fn run(client: &Client, command: AssetsCommand) -> anyhow::Result<()> {
    match command {
        AssetsCommand::List { id, filters, json } => {
            let mut assets = Vec::new();
            let mut cursor: Option<String> = None;
            loop {
                let mut path =
                    format!("/v1/connections/{id}/assets?limit=1000&{}", filters.query());
                if let Some(c) = &cursor {
                    path.push_str(&format!("&cursor={}", encode(c)));
                }
                let page = client.get(&path).await?;
                assets.extend(page["assets"].as_array().into_iter().flatten().cloned());
                match page["next_cursor"].as_str() {
                    Some(c) if cursor.as_deref() != Some(c) => cursor = Some(c.to_string()),
                    _ => break,
                }
            }
            if json {
                return print_json(&Value::Array(assets));
            }
            let rows = assets
                .iter()
                .map(|a| {
                    vec![
                        text(&a["id"]),
                        text(&a["type"]),
                        text(&a["location"]),
                        text(&a["owner"]),
                        if a["removed_at"].is_string() {
                            format!("removed {}", text(&a["removed_at"]))
                        } else {
                            "present".into()
                        },
                    ]
                })
                .collect();
            print_table(&["ID", "TYPE", "REGION", "OWNER", "STATE"], rows);
            Ok(())
        }
        AssetsCommand::Show { id, asset, json } => {
            let detail = client
                .get(&format!("/v1/connections/{id}/asset?id={}", encode(&asset)))
                .await?;
            if json {
                return print_json(&detail);
            }
            let a = &detail["asset"];
            for (label, field) in [
                ("id", "id"),
                ("name", "name"),
                ("type", "type"),
                ("resource group", "resource_group"),
                ("region", "location"),
                ("kind", "kind"),
                ("managed by", "managed_by"),
                ("created", "created_time"),
                ("changed", "changed_time"),
                ("owner", "owner"),
                ("first seen", "first_seen"),
                ("last seen", "last_seen"),
                ("removed", "removed_at"),
            ] {
                println!("{label}: {}", text(&a[field]));
            }
            println!("sku: {}", a["sku"]);
            println!("tags: {}", a["tags"]);
            println!("\nhistory:");
            let history = detail["history"]
                .as_array()
                .map(|h| {
                    h.iter()
                        .map(|c| vec![text(&c["at"]), text(&c["changes"])])
                        .collect()
                })
                .unwrap_or_default();
            print_table(&["AT", "CHANGES"], history);
            println!("\nfindings:");
            let findings = detail["findings"]
                .as_array()
                .map(|f| {
                    f.iter()
                        .map(|f| {
                            vec![
                                text(&f["check_id"]),
                                text(&f["status"]),
                                text(&f["message"]),
                            ]
                        })
                        .collect()
                })
                .unwrap_or_default();
            print_table(&["CHECK", "STATUS", "MESSAGE"], findings);
            Ok(())
        }
        AssetsCommand::Export {
            id,
            filters,
            format,
        } => {
            if format != "csv" && format != "json" {
                anyhow::bail!("--format: csv or json");
            }
            let body = client
                .get_text(&format!(
                    "/v1/connections/{id}/assets/export?format={format}&{}",
                    filters.query()
                ))
                .await?;
            print!("{body}");
            Ok(())
        }
    }
}
