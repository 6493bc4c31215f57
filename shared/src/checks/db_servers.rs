//! Shared logic of the open-source database servers (PostgreSQL and MySQL flexible servers):
//! server parameters read from one `configurations` list per server, and firewall rules.
//!
//! Both services read a server parameter the same way (the item of the server's
//! `configurations` list whose `name` is the parameter, its `properties.value` tested) and judge
//! firewall rules the same way (a rule matters only while public network access is not
//! disabled), so the two evaluators live here once instead of in each service folder.
//! Findings are about the server, and their evidence names the parameter
//! (`configurations/<name>: properties.value`) or the rules seen.

use std::net::Ipv4Addr;

use serde_json::{Value, json};

use super::dataset::{ChildOutcome, EvalContext};
use super::props;
use crate::messages::{Evidence, Finding, FindingStatus};

/// A server parameter and the values that pass.
#[derive(Debug, Clone, Copy)]
pub struct Param {
    /// The parameter's name, e.g. `require_secure_transport`.
    pub name: &'static str,
    /// The expectation in words, shown as the evidence's `expected`.
    pub expected: &'static str,
    /// Whether a value (as the server reports it, a string) passes.
    pub passes: fn(&str) -> bool,
}

/// `value` equals `wanted`, ignoring ASCII case and surrounding spaces (servers report `ON`,
/// `on` or `On` depending on the engine).
pub fn is(value: &str, wanted: &str) -> bool {
    value.trim().eq_ignore_ascii_case(wanted)
}

/// The entries of a comma-separated parameter value (`TLSv1.2,TLSv1.3`), trimmed, non-empty.
pub fn list_entries(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|e| !e.is_empty())
}

/// One finding per in-scope server of `servers`: passes when every parameter of `params` is
/// present in the server's `configurations` list and passes. A parameter missing from the list
/// fails (the evidence shows `null`); an unreadable list makes the finding access denied or an
/// error.
pub fn parameter_findings(
    ctx: &EvalContext<'_>,
    servers: &str,
    configurations: &str,
    params: &[Param],
    pass_message: &str,
) -> Vec<Finding> {
    ctx.all_items(servers)
        .into_iter()
        .filter_map(|server| {
            let list: &[Value] = match ctx.child(configurations, props::resource_id(server))? {
                ChildOutcome::Items(items) => items,
                ChildOutcome::Object(_) | ChildOutcome::Absent => &[],
                ChildOutcome::Failed(err) => {
                    return Some(props::unreadable(server, "its server parameters", err));
                }
            };
            let mut evidence = Vec::new();
            let mut problems = Vec::new();
            for param in params {
                let value = list
                    .iter()
                    .find(|c| props::prop_str(c, "name").is_some_and(|n| is(n, param.name)))
                    .and_then(|c| props::prop(c, "properties.value"))
                    .filter(|v| !v.is_null());
                let shown = value.and_then(Value::as_str);
                if !shown.is_some_and(param.passes) {
                    problems.push(match value {
                        Some(v) => format!("{} is {v}", param.name),
                        None => format!("{} is not set", param.name),
                    });
                }
                evidence.push(Evidence {
                    property: format!("configurations/{}: properties.value", param.name),
                    value: value.cloned().unwrap_or(Value::Null),
                    expected: param.expected.to_string(),
                });
            }
            Some(props::verdict(
                server,
                problems.is_empty(),
                evidence,
                pass_message,
                format!("Server parameters fail: {}", problems.join("; ")),
            ))
        })
        .collect()
}

/// Whether a firewall rule's range covers every IPv4 address (`0.0.0.0`-`255.255.255.255`).
pub fn spans_all_ipv4(rule: &Value) -> bool {
    let ip =
        |path: &str| props::prop_str(rule, path).and_then(|s| s.trim().parse::<Ipv4Addr>().ok());
    ip("properties.startIpAddress") == Some(Ipv4Addr::UNSPECIFIED)
        && ip("properties.endIpAddress") == Some(Ipv4Addr::BROADCAST)
}

/// Whether a firewall rule is the "Allow public access from any Azure service" rule
/// (`0.0.0.0`-`0.0.0.0`).
pub fn is_allow_azure_services(rule: &Value) -> bool {
    let ip =
        |path: &str| props::prop_str(rule, path).and_then(|s| s.trim().parse::<Ipv4Addr>().ok());
    ip("properties.startIpAddress") == Some(Ipv4Addr::UNSPECIFIED)
        && ip("properties.endIpAddress") == Some(Ipv4Addr::UNSPECIFIED)
}

/// How a firewall check reads a server.
#[derive(Debug, Clone, Copy)]
pub struct FirewallRule {
    pub servers: &'static str,
    pub rules: &'static str,
    /// Path of the server's public network access setting (`Disabled` = firewall not in use).
    pub public_access_path: &'static str,
    /// A rule that makes the server fail.
    pub offending: fn(&Value) -> bool,
    /// What no rule may be, in words (evidence `expected`).
    pub expected: &'static str,
    pub pass: &'static str,
    pub fail: &'static str,
}

/// Whether the server's public network access is `Disabled` (its firewall rules are then not
/// in force; the collector does not read them).
pub fn public_access_disabled(server: &Value, path: &str) -> bool {
    props::prop_str(server, path).is_some_and(|v| is(v, "Disabled"))
}

/// One finding per in-scope server: passes when public network access is disabled or no
/// firewall rule is offending. A server whose rule list does not exist (404) has no rules.
pub fn firewall_findings(ctx: &EvalContext<'_>, check: &FirewallRule) -> Vec<Finding> {
    ctx.all_items(check.servers)
        .into_iter()
        .map(|server| {
            let access = props::evidence(server, check.public_access_path, "Disabled, or no offending rule");
            if public_access_disabled(server, check.public_access_path) {
                return props::finding(
                    server,
                    FindingStatus::Passed,
                    vec![access],
                    format!("{} (public network access is disabled)", check.pass),
                );
            }
            let rules: &[Value] = match ctx.child(check.rules, props::resource_id(server)) {
                Some(ChildOutcome::Items(items)) => items,
                Some(ChildOutcome::Failed(err)) => {
                    return props::unreadable(server, "its firewall rules", err);
                }
                Some(ChildOutcome::Object(_) | ChildOutcome::Absent) | None => &[],
            };
            let offending: Vec<Value> = rules
                .iter()
                .filter(|r| (check.offending)(r))
                .map(|r| {
                    json!({
                        "name": props::prop(r, "name").cloned().unwrap_or(Value::Null),
                        "startIpAddress": props::prop(r, "properties.startIpAddress").cloned().unwrap_or(Value::Null),
                        "endIpAddress": props::prop(r, "properties.endIpAddress").cloned().unwrap_or(Value::Null),
                    })
                })
                .collect();
            let names: Vec<String> = offending
                .iter()
                .filter_map(|r| r["name"].as_str().map(str::to_string))
                .collect();
            let evidence = vec![
                access,
                props::evidence_value("firewallRules", Value::Array(offending), check.expected),
            ];
            props::verdict(
                server,
                names.is_empty(),
                evidence,
                check.pass,
                format!("{}: {}", check.fail, names.join(", ")),
            )
        })
        .collect()
}

/// One finding per in-scope item of a retired offering's list: each one fails. With none in
/// scope, one passing finding about the subscription says so (the check is about absence).
pub fn retired_findings(
    ctx: &EvalContext<'_>,
    retired: &str,
    resource_type: &str,
    fail_message: &str,
    pass_message: &str,
) -> Vec<Finding> {
    let items = ctx.all_items(retired);
    let expected = format!("no {resource_type} resources (retired offering)");
    if items.is_empty() {
        let subscription = json!({
            "id": format!("/subscriptions/{}", ctx.subscription_id),
            "name": ctx.subscription_id,
            "type": "Microsoft.Resources/subscriptions",
        });
        let evidence = vec![props::evidence_value(resource_type, json!([]), &expected)];
        return vec![props::finding(
            &subscription,
            FindingStatus::Passed,
            evidence,
            pass_message,
        )];
    }
    items
        .into_iter()
        .map(|item| {
            let evidence = vec![props::evidence_value(
                "type",
                props::prop(item, "type").cloned().unwrap_or(Value::Null),
                &expected,
            )];
            props::finding(item, FindingStatus::Failed, evidence, fail_message)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(start: &str, end: &str) -> Value {
        json!({"name": "r", "properties": {"startIpAddress": start, "endIpAddress": end}})
    }

    #[test]
    fn firewall_ranges_are_compared_as_addresses() {
        assert!(spans_all_ipv4(&rule("0.0.0.0", "255.255.255.255")));
        assert!(!spans_all_ipv4(&rule("0.0.0.1", "255.255.255.255")));
        assert!(!spans_all_ipv4(&rule("0.0.0.0", "0.0.0.0")));
        assert!(is_allow_azure_services(&rule("0.0.0.0", "0.0.0.0")));
        assert!(!is_allow_azure_services(&rule(
            "0.0.0.0",
            "255.255.255.255"
        )));
        assert!(!is_allow_azure_services(&rule("garbage", "0.0.0.0")));
    }

    #[test]
    fn values_compare_ignoring_case_and_lists_split_on_commas() {
        assert!(is(" ON ", "on"));
        assert_eq!(
            list_entries("TLSv1.2, TLSv1.3,").collect::<Vec<_>>(),
            ["TLSv1.2", "TLSv1.3"]
        );
    }
}
