//! CLI for exceptions and the audit trail: disable a check (or exempt resources) with a
//! justification, list (including "every disabled check in force on date D, with its
//! justification and who approved it"), show, change, re-enable; export the audit trail for a
//! period as CSV or JSON, and verify its hash chain.

use clap::{Args, Subcommand, ValueEnum};
use serde_json::{Value, json};
use uuid::Uuid;

use super::client::Client;
use super::output::{print_json, print_table, rows, text};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
    Csv,
}

#[derive(Debug, Subcommand)]
pub enum ExceptionsCommand {
    /// Disable a check (or exempt named resources of it) with a justification.
    Add {
        #[arg(long)]
        organization: String,
        /// The connection; omit for every connection of the organization.
        #[arg(long)]
        connection: Option<Uuid>,
        #[arg(long)]
        check: String,
        /// ARM id of a resource to exempt (repeat for several); none = the whole check.
        #[arg(long = "resource")]
        resources: Vec<String>,
        /// business_justification, operational, governance_policy, risk_accepted,
        /// compensating_control or other.
        #[arg(long)]
        category: String,
        #[arg(long)]
        justification: String,
        /// The person on whose behalf you act.
        #[arg(long = "as")]
        acting_person: String,
        #[arg(long)]
        ticket: Option<String>,
        /// RFC 3339 time at which it ends by itself.
        #[arg(long)]
        expires_at: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// List exceptions (in force now by default).
    List {
        #[arg(long)]
        organization: String,
        #[arg(long)]
        connection: Option<Uuid>,
        #[arg(long)]
        check: Option<String>,
        #[arg(long)]
        category: Option<String>,
        /// In force now and expiring before this RFC 3339 time.
        #[arg(long)]
        expiring_before: Option<String>,
        /// In force on this date (2026-12-01) or at this RFC 3339 time, with the terms then.
        #[arg(long)]
        in_force_on: Option<String>,
        /// in_force, ended or all.
        #[arg(long)]
        state: Option<String>,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// One exception with every version of its terms.
    Show {
        #[arg(long)]
        organization: String,
        id: Uuid,
    },
    /// Change the justification or the expiry.
    Update {
        #[arg(long)]
        organization: String,
        id: Uuid,
        #[arg(long)]
        justification: Option<String>,
        #[arg(long)]
        expires_at: Option<String>,
        #[arg(long)]
        remove_expiry: bool,
        #[arg(long = "as")]
        acting_person: String,
    },
    /// Re-enable the check: end the exception now.
    Reenable {
        #[arg(long)]
        organization: String,
        id: Uuid,
        #[arg(long = "as")]
        acting_person: String,
    },
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub action: Option<AuditAction>,
    /// Show the organization's trail.
    #[arg(long)]
    pub organization: Option<String>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum AuditAction {
    /// Prove the hash chain is whole (exit status 1 if not).
    Verify {
        #[arg(long)]
        organization: String,
        #[arg(long)]
        json: bool,
    },
    /// Export the trail for a period.
    Export {
        #[arg(long)]
        organization: String,
        /// From this RFC 3339 time (inclusive).
        #[arg(long)]
        from: Option<String>,
        /// Until this RFC 3339 time (exclusive).
        #[arg(long)]
        to: Option<String>,
        /// Only actions starting with this, e.g. `exception.`.
        #[arg(long)]
        action: Option<String>,
        #[arg(long, value_enum, default_value_t = Format::Csv)]
        format: Format,
    },
}

fn query(pairs: &[(&str, Option<String>)]) -> String {
    let parts: Vec<String> = pairs
        .iter()
        .filter_map(|(k, v)| {
            v.as_ref().map(|v| {
                format!(
                    "{k}={}",
                    url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>()
                )
            })
        })
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

fn exceptions_csv(list: &Value) -> String {
    let headers = [
        "id",
        "scope",
        "connection_id",
        "check_id",
        "resources",
        "category",
        "justification",
        "approved_by",
        "token",
        "token_id",
        "ticket",
        "created_at",
        "expires_at",
        "ended_at",
        "end_reason",
    ];
    let mut out = headers.join(",") + "\n";
    for row in rows(
        list,
        &[
            "/id",
            "/connection_id",
            "/connection_id",
            "/check_id",
            "/resources",
            "/category",
            "/justification_then",
            "/created_by/person",
            "/created_by/token",
            "/created_by/token_id",
            "/ticket",
            "/created_at",
            "/expires_at",
            "/ended_at",
            "/end_reason",
        ],
    ) {
        let mut row = row;
        row[1] = if row[1] == "-" {
            "organization"
        } else {
            "connection"
        }
        .to_string();
        let cells: Vec<String> = row
            .iter()
            .map(|c| crate::exceptions::cell(if c == "-" { "" } else { c }))
            .collect();
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

fn print_exception(e: &Value) -> anyhow::Result<()> {
    for (label, pointer) in [
        ("id", "/id"),
        ("organization", "/organization_id"),
        ("connection", "/connection_id"),
        ("check", "/check_id"),
        ("resources", "/resources"),
        ("category", "/category"),
        ("justification", "/justification"),
        ("ticket", "/ticket"),
        ("approved by", "/created_by/person"),
        ("token", "/created_by/token"),
        ("created", "/created_at"),
        ("expires", "/expires_at"),
        ("ended", "/ended_at"),
        ("ended because", "/end_reason"),
        ("ended by", "/ended_by/person"),
    ] {
        println!(
            "{label:<14} {}",
            text(e.pointer(pointer).unwrap_or(&Value::Null))
        );
    }
    let versions = rows(
        &e["revisions"],
        &["/at", "/by/person", "/expires_at", "/justification"],
    );
    if versions.len() > 1 {
        println!();
        print_table(&["CHANGED AT", "BY", "EXPIRES", "JUSTIFICATION"], versions);
    }
    Ok(())
}

pub async fn run(client: &Client, command: ExceptionsCommand) -> anyhow::Result<()> {
    match command {
        ExceptionsCommand::Add {
            organization,
            connection,
            check,
            resources,
            category,
            justification,
            acting_person,
            ticket,
            expires_at,
            json,
        } => {
            let mut body = json!({
                "check_id": check,
                "resources": resources,
                "category": category,
                "justification": justification,
                "acting_person": acting_person,
            });
            for (k, v) in [
                ("connection_id", connection.map(|c| c.to_string())),
                ("ticket", ticket),
                ("expires_at", expires_at),
            ] {
                if let Some(v) = v {
                    body[k] = Value::String(v);
                }
            }
            let created = client
                .call(
                    reqwest::Method::POST,
                    &format!("/v1/organizations/{organization}/exceptions"),
                    Some(body),
                )
                .await?;
            if json {
                print_json(&created)
            } else {
                println!("exception {} created", text(&created["id"]));
                print_exception(&created)
            }
        }
        ExceptionsCommand::List {
            organization,
            connection,
            check,
            category,
            expiring_before,
            in_force_on,
            state,
            format,
        } => {
            let q = query(&[
                ("connection_id", connection.map(|c| c.to_string())),
                ("check_id", check),
                ("category", category),
                ("expiring_before", expiring_before),
                ("in_force_on", in_force_on),
                ("state", state),
            ]);
            let list = client
                .get(&format!("/v1/organizations/{organization}/exceptions{q}"))
                .await?;
            match format {
                Format::Json => print_json(&list),
                Format::Csv => {
                    print!("{}", exceptions_csv(&list));
                    Ok(())
                }
                Format::Table => {
                    print_table(
                        &[
                            "ID",
                            "CONNECTION",
                            "CHECK",
                            "RESOURCES",
                            "CATEGORY",
                            "APPROVED BY",
                            "EXPIRES",
                            "JUSTIFICATION",
                        ],
                        rows(
                            &list,
                            &[
                                "/id",
                                "/connection_id",
                                "/check_id",
                                "/resources",
                                "/category",
                                "/created_by/person",
                                "/expires_at",
                                "/justification_then",
                            ],
                        ),
                    );
                    Ok(())
                }
            }
        }
        ExceptionsCommand::Show { organization, id } => {
            let e = client
                .get(&format!("/v1/organizations/{organization}/exceptions/{id}"))
                .await?;
            print_exception(&e)
        }
        ExceptionsCommand::Update {
            organization,
            id,
            justification,
            expires_at,
            remove_expiry,
            acting_person,
        } => {
            let mut body = json!({"acting_person": acting_person, "remove_expiry": remove_expiry});
            if let Some(j) = justification {
                body["justification"] = Value::String(j);
            }
            if let Some(e) = expires_at {
                body["expires_at"] = Value::String(e);
            }
            let e = client
                .call(
                    reqwest::Method::PATCH,
                    &format!("/v1/organizations/{organization}/exceptions/{id}"),
                    Some(body),
                )
                .await?;
            println!("exception {id} updated");
            print_exception(&e)
        }
        ExceptionsCommand::Reenable {
            organization,
            id,
            acting_person,
        } => {
            client
                .call(
                    reqwest::Method::POST,
                    &format!("/v1/organizations/{organization}/exceptions/{id}/reenable"),
                    Some(json!({"acting_person": acting_person})),
                )
                .await?;
            println!("exception {id} ended: the check is enabled again");
            Ok(())
        }
    }
}

pub async fn audit(client: &Client, args: AuditArgs) -> anyhow::Result<()> {
    match args.action {
        None => {
            let organization = args
                .organization
                .ok_or_else(|| anyhow::anyhow!("--organization is required"))?;
            let trail = client
                .get(&format!("/v1/organizations/{organization}/audit"))
                .await?;
            if args.json {
                return print_json(&trail);
            }
            let rows = rows(
                &trail,
                &["/at", "/actor", "/action", "/connection_id", "/details"],
            );
            print_table(&["AT", "ACTOR", "ACTION", "CONNECTION", "DETAILS"], rows);
            Ok(())
        }
        Some(AuditAction::Verify { organization, json }) => {
            let verdict = client
                .get(&format!("/v1/organizations/{organization}/audit/verify"))
                .await?;
            if json {
                print_json(&verdict)?;
            } else if verdict["valid"] == true {
                println!(
                    "audit trail of {organization} is whole: {} entries, head {}",
                    text(&verdict["entries"]),
                    text(&verdict["head"])
                );
            } else {
                println!("audit trail of {organization} is NOT whole:");
                for p in verdict["problems"].as_array().into_iter().flatten() {
                    println!("  {}", text(p));
                }
            }
            if verdict["valid"] != true {
                anyhow::bail!("audit verification failed");
            }
            Ok(())
        }
        Some(AuditAction::Export {
            organization,
            from,
            to,
            action,
            format,
        }) => {
            let q = query(&[("from", from), ("to", to), ("action", action)]);
            let events = client
                .get(&format!("/v1/organizations/{organization}/audit/export{q}"))
                .await?;
            match format {
                Format::Json => print_json(&events),
                Format::Csv => {
                    let events: Vec<shared::store::AuditEvent> = serde_json::from_value(events)?;
                    print!("{}", crate::exceptions::audit_csv(&events));
                    Ok(())
                }
                Format::Table => {
                    print_table(
                        &["SEQ", "AT", "ACTOR", "ACTION", "CONNECTION", "DETAILS"],
                        rows(
                            &events,
                            &[
                                "/seq",
                                "/at",
                                "/actor",
                                "/action",
                                "/connection_id",
                                "/details",
                            ],
                        ),
                    );
                    Ok(())
                }
            }
        }
    }
}
