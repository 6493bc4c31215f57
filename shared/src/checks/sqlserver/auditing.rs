//! `sqlserver.audit_retention`: the retention only matters while auditing is on, and 0 means
//! unlimited, so it is a custom evaluator over the server's auditing policy.

use serde_json::Value;

use super::{AUDITING, SERVERS};
use crate::checks::{Check, CheckMeta, ChildOutcome, EvalContext, Severity, props};
use crate::messages::{Finding, FindingStatus};

/// Minimum audit retention in days; 0 means unlimited.
pub(super) const MIN_RETENTION_DAYS: i64 = 90;
pub(super) const RETENTION: &str = "properties.retentionDays";
const STATE: &str = "properties.state";

/// Reads the server's `auditingSettings/default`. Passes when `properties.retentionDays` is 0
/// (unlimited: "Specifies the number of days to keep in the audit logs in the storage
/// account", and 0 keeps them forever) or at least 90. Servers whose auditing is not enabled
/// are not applicable (`sqlserver.auditing_enabled` fails them).
///
/// Absent `retentionDays` passes: the storage destination then deletes nothing, as with 0
/// (ARM omits the value when no retention was ever set). A retention that is not an integer
/// fails.
pub const AUDIT_RETENTION: Check = Check::custom(
    CheckMeta {
        id: "sqlserver.audit_retention",
        title: "Audit retention ≥ 90 days or unlimited",
        severity: Severity::Medium,
        description: "Audit records deleted after a few days cannot help an investigation that \
            starts weeks after an intrusion. Keeping them at least 90 days (or without limit, \
            retention 0) keeps the trail available.",
        remediation: "Portal: SQL server > Security > Auditing > Storage > Advanced properties > \
            Retention (Days) = 90 or more, or 0 for unlimited > Save. CLI: `az sql server \
            audit-policy update --resource-group <rg> --name <server> --retention-days 90`.",
    },
    &[SERVERS, AUDITING],
    audit_retention,
);

fn audit_retention(ctx: &EvalContext<'_>) -> Vec<Finding> {
    let expected = format!("0 (unlimited) or at least {MIN_RETENTION_DAYS}");
    ctx.all_items(SERVERS)
        .into_iter()
        .filter_map(|server| {
            let policy = match ctx.child(AUDITING, props::resource_id(server))? {
                ChildOutcome::Object(policy) => policy,
                ChildOutcome::Failed(err) => {
                    return Some(props::unreadable(server, "its auditing policy", err));
                }
                ChildOutcome::Items(_) | ChildOutcome::Absent => &Value::Null,
            };
            let state = props::evidence_value(
                format!("auditingSettings/default: {STATE}"),
                props::prop(policy, STATE).cloned().unwrap_or(Value::Null),
                "Enabled",
            );
            let retention = props::evidence_value(
                format!("auditingSettings/default: {RETENTION}"),
                props::prop(policy, RETENTION)
                    .cloned()
                    .unwrap_or(Value::Null),
                &expected,
            );
            let enabled =
                props::prop_str(policy, STATE).is_some_and(|s| s.eq_ignore_ascii_case("Enabled"));
            if !enabled {
                return Some(props::finding(
                    server,
                    FindingStatus::NotApplicable,
                    vec![state],
                    "Auditing is not enabled, so no audit records are kept",
                ));
            }
            let days = props::prop(policy, RETENTION).filter(|v| !v.is_null());
            let (passes, words) = match days.map(Value::as_i64) {
                None => (true, "no retention limit".to_string()),
                Some(Some(0)) => (true, "unlimited retention (0)".to_string()),
                Some(Some(d)) => (d >= MIN_RETENTION_DAYS, format!("{d}-day retention")),
                Some(None) => (false, "a retention that is not a number".to_string()),
            };
            Some(props::verdict(
                server,
                passes,
                vec![state, retention],
                format!("Audit records are kept with {words}"),
                format!("Audit records are kept with {words}, less than {MIN_RETENTION_DAYS} days"),
            ))
        })
        .collect()
}
