//! Activity-log alerts for the operations CIS names: one evaluator over a data table
//! ([`OPERATIONS`]), one finding per operation.

use serde_json::{Value, json};

use super::ACTIVITY_LOG_ALERTS;
use crate::checks::{Check, CheckMeta, EvalContext, Severity, props};
use crate::messages::{Finding, FindingStatus};

/// What an alert must match: an administrative operation, or an event category.
#[derive(Debug, Clone, Copy)]
pub(super) enum Watched {
    /// `condition.allOf[]` has `field == "operationName"` equal to this.
    Operation(&'static str),
    /// `condition.allOf[]` has `field == "category"` equal to this.
    Category(&'static str),
}

/// The CIS Foundations 6.0.0 alerts (6.1.2.1 to 6.1.2.11), in control order.
pub(super) const OPERATIONS: [Watched; 11] = [
    Watched::Operation("Microsoft.Authorization/policyAssignments/write"),
    Watched::Operation("Microsoft.Authorization/policyAssignments/delete"),
    Watched::Operation("Microsoft.Network/networkSecurityGroups/write"),
    Watched::Operation("Microsoft.Network/networkSecurityGroups/delete"),
    Watched::Operation("Microsoft.Security/securitySolutions/write"),
    Watched::Operation("Microsoft.Security/securitySolutions/delete"),
    Watched::Operation("Microsoft.Sql/servers/firewallRules/write"),
    Watched::Operation("Microsoft.Sql/servers/firewallRules/delete"),
    Watched::Operation("Microsoft.Network/publicIPAddresses/write"),
    Watched::Operation("Microsoft.Network/publicIPAddresses/delete"),
    Watched::Category("ServiceHealth"),
];

impl Watched {
    fn field(self) -> &'static str {
        match self {
            Watched::Operation(_) => "operationName",
            Watched::Category(_) => "category",
        }
    }

    pub(super) fn value(self) -> &'static str {
        match self {
            Watched::Operation(v) | Watched::Category(v) => v,
        }
    }
}

/// One finding per operation of [`OPERATIONS`], about the operation (resource name = the
/// operation, e.g. `Microsoft.Network/networkSecurityGroups/write`, or `ServiceHealth`). It
/// passes when an activity-log alert covers it: `properties.enabled` is not `false`,
/// `properties.scopes` contains the subscription (`/subscriptions/{s}`, with or without the
/// leading slash, any casing), and a `properties.condition.allOf[]` entry (or an `anyOf[]` leaf
/// inside one) has that `field` and `equals` the value, ignoring case.
///
/// Absent: `enabled` missing means enabled (spec default `true`: "Indicates whether this
/// Activity Log Alert rule is enabled"); no alert at all (an empty list) fails every operation.
/// An alert scoped to a resource group only does not cover the subscription.
pub const ACTIVITY_LOG_ALERTS_CHECK: Check = Check::custom(
    CheckMeta {
        id: "monitor.activity_log_alerts",
        title: "Alerts exist for the 11 CIS operations",
        severity: Severity::Medium,
        description: "Changes to policy assignments, network security groups, security \
            solutions, SQL firewall rules and public IP addresses can open the environment to \
            attack or hide it from controls, and Service Health events announce outages and \
            security advisories. An activity-log alert on each makes sure someone is told when \
            it happens.",
        remediation: "Portal: Monitor > Alerts > Create > Alert rule: Scope = the subscription, \
            Condition = Activity log signal for the operation named in the finding (or Service \
            Health), an action group; Create. CLI: `az monitor activity-log alert create \
            --name <name> --resource-group <rg> --scope /subscriptions/<sub> --condition \
            category=Administrative and operationName=<operation> --action-group <group-id>` \
            (for Service Health: `--condition category=ServiceHealth`).",
    },
    &[ACTIVITY_LOG_ALERTS],
    activity_log_alerts,
);

fn covers_subscription(alert: &Value, subscription_id: &str) -> bool {
    let wanted = format!("subscriptions/{subscription_id}").to_ascii_lowercase();
    props::prop(alert, "properties.scopes")
        .and_then(Value::as_array)
        .is_some_and(|scopes| {
            scopes
                .iter()
                .filter_map(Value::as_str)
                .any(|scope| props::normalize_id(scope).trim_start_matches('/') == wanted)
        })
}

fn leaf_matches(leaf: &Value, watched: Watched) -> bool {
    let field =
        props::prop_str(leaf, "field").is_some_and(|f| f.eq_ignore_ascii_case(watched.field()));
    let equals =
        props::prop_str(leaf, "equals").is_some_and(|v| v.eq_ignore_ascii_case(watched.value()));
    (field && equals)
        || props::prop(leaf, "anyOf")
            .and_then(Value::as_array)
            .is_some_and(|leaves| leaves.iter().any(|l| leaf_matches(l, watched)))
}

pub(super) fn alert_covers(alert: &Value, watched: Watched, subscription_id: &str) -> bool {
    props::prop_bool(alert, "properties.enabled") != Some(false)
        && covers_subscription(alert, subscription_id)
        && props::prop(alert, "properties.condition.allOf")
            .and_then(Value::as_array)
            .is_some_and(|conditions| conditions.iter().any(|c| leaf_matches(c, watched)))
}

fn activity_log_alerts(ctx: &EvalContext<'_>) -> Vec<Finding> {
    let alerts = ctx.items(ACTIVITY_LOG_ALERTS);
    OPERATIONS
        .iter()
        .map(|watched| {
            let covering: Vec<&str> = alerts
                .iter()
                .filter(|a| alert_covers(a, *watched, ctx.subscription_id))
                .map(props::resource_name)
                .collect();
            let resource = json!({
                "id": format!("/subscriptions/{}", ctx.subscription_id),
                "name": watched.value(),
                "type": "Microsoft.Insights/activityLogAlerts",
            });
            let expected = format!(
                "an enabled alert on the subscription with {} = {}",
                watched.field(),
                watched.value()
            );
            let evidence = vec![props::evidence_value(
                format!("activityLogAlerts[{}={}]", watched.field(), watched.value()),
                json!(covering),
                &expected,
            )];
            if covering.is_empty() {
                props::finding(
                    &resource,
                    FindingStatus::Failed,
                    evidence,
                    format!(
                        "No enabled activity-log alert on the subscription for {}",
                        watched.value()
                    ),
                )
            } else {
                props::finding(
                    &resource,
                    FindingStatus::Passed,
                    evidence,
                    format!("Alerted by {}", covering.join(", ")),
                )
            }
        })
        .collect()
}
