//! How the CLI prints: aligned tables for people, JSON with `--json`.

use std::collections::BTreeMap;

use anyhow::Context;
use serde_json::Value;
use shared::store::StoredCheckResult;
use uuid::Uuid;

use super::TokensCommand;
use super::client::Client;

pub fn print_json(v: &Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

/// One row per array element, one cell per JSON pointer.
pub fn rows(list: &Value, pointers: &[&str]) -> Vec<Vec<String>> {
    list.as_array()
        .map(|items| {
            items
                .iter()
                .map(|item| {
                    pointers
                        .iter()
                        .map(|p| text(item.pointer(p).unwrap_or(&Value::Null)))
                        .collect()
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The offline catalogue: JSON as the API serves it, or one row per check.
pub fn print_catalogue(json: bool) -> anyhow::Result<()> {
    let services = crate::api::catalogue::services();
    if json {
        println!("{}", serde_json::to_string_pretty(&services)?);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = services
        .iter()
        .flat_map(|s| {
            s.checks.iter().map(|c| {
                vec![
                    s.id.to_string(),
                    c.id.to_string(),
                    format!("{:?}", c.severity).to_lowercase(),
                    c.title.to_string(),
                    c.frameworks
                        .iter()
                        .map(|f| format!("{} {} {}", cis_short(f.benchmark), f.version, f.control))
                        .collect::<Vec<_>>()
                        .join(", "),
                    c.permissions.join(", "),
                ]
            })
        })
        .collect();
    let checks = rows.len();
    print_table(
        &[
            "SERVICE",
            "CHECK",
            "SEVERITY",
            "TITLE",
            "FRAMEWORKS",
            "PERMISSIONS",
        ],
        rows,
    );
    println!("{} services, {checks} checks", services.len());
    Ok(())
}

/// "CIS Microsoft Azure Foundations Benchmark" -> "CIS Foundations", for table cells.
fn cis_short(benchmark: &str) -> String {
    benchmark
        .replace("Microsoft Azure ", "")
        .replace("Azure Kubernetes Service (AKS)", "AKS")
        .replace(" Benchmark", "")
}

/// A connection's settings, state, diagnosis and access, as labelled lines.
pub fn print_connection(c: &Value) {
    for (label, pointer) in [
        ("id", "/id"),
        ("name", "/name"),
        ("organization", "/organization_id"),
        ("subscription", "/subscription_id"),
        ("tenant", "/tenant_id"),
        ("client id", "/client_id"),
        ("regions", "/regions"),
        ("state", "/status/state"),
        ("problem", "/status/diagnosis/summary"),
        ("what to do", "/status/diagnosis/remediation"),
        ("validated", "/status/validated_at"),
        ("last completed scan", "/status/last_completed_scan_at"),
        ("next scan", "/status/next_scan_at"),
        ("results", "/status/counts"),
    ] {
        let value = c.pointer(pointer).unwrap_or(&Value::Null);
        if !value.is_null() || !matches!(label, "problem" | "what to do") {
            println!("{label:>24}: {}", text(value));
        }
    }
    if let Some(access) = c.pointer("/status/access") {
        println!("{:>24}: {}", "roles", text(&access["roles"]));
        for s in access["services"].as_array().into_iter().flatten() {
            let readable = s["readable"].as_bool().unwrap_or(false);
            let detail = if readable {
                "readable".to_string()
            } else {
                format!("cannot read: missing {}", text(&s["missing_actions"]))
            };
            println!("{:>24}: {detail}", text(&s["name"]));
        }
    }
}

pub async fn print_results(client: &Client, id: Uuid, json: bool) -> anyhow::Result<()> {
    let raw = client.get(&format!("/v1/connections/{id}/results")).await?;
    if json {
        return print_json(&raw);
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
            } else if let (shared::checks::CheckStatus::Error, Some(last)) =
                (r.result.status, &r.last_good)
            {
                format!(
                    "{} (last good: {} on {})",
                    r.result.reason,
                    last.status,
                    last.finished_at.format("%Y-%m-%d %H:%M UTC")
                )
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

pub async fn tokens(client: &Client, command: TokensCommand) -> anyhow::Result<()> {
    match command {
        TokensCommand::Create {
            organization,
            name,
            json,
        } => {
            let created = client
                .call(
                    reqwest::Method::POST,
                    &format!("/v1/organizations/{organization}/tokens"),
                    Some(serde_json::json!({ "name": name })),
                )
                .await?;
            if json {
                return print_json(&created);
            }
            println!(
                "token {} for {organization} (shown once, keep it safe):\n{}",
                text(&created["record"]["id"]),
                text(&created["token"])
            );
            Ok(())
        }
        TokensCommand::List { organization, json } => {
            let list = client
                .get(&format!("/v1/organizations/{organization}/tokens"))
                .await?;
            if json {
                return print_json(&list);
            }
            print_table(
                &["ID", "NAME", "CREATED"],
                rows(&list, &["/id", "/name", "/created_at"]),
            );
            Ok(())
        }
        TokensCommand::Revoke { organization, id } => {
            client
                .call(
                    reqwest::Method::DELETE,
                    &format!("/v1/organizations/{organization}/tokens/{id}"),
                    None,
                )
                .await?;
            println!("token {id} revoked");
            Ok(())
        }
    }
}

pub fn print_table(headers: &[&str], rows: Vec<Vec<String>>) {
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

pub fn text(v: &Value) -> String {
    match v {
        Value::Null => "-".to_string(),
        Value::String(s) => s.clone(),
        Value::Array(items) => join(items),
        other => other.to_string(),
    }
}

pub fn join(items: &[Value]) -> String {
    items.iter().map(text).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns() {
        let t = table(
            &["A", "B", "C"],
            vec![vec!["x".into(), "long value".into(), "end".into()]],
        );
        assert_eq!(t, "A  B           C\nx  long value  end\n");
    }
}
