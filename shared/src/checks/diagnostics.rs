//! Diagnostic settings: "are this resource's logs exported?", one evaluator for every service.
//!
//! Many services have a check of the form "resource X sends log categories C to a destination".
//! The data is always the same extension resource, `{id}/providers/Microsoft.Insights/
//! diagnosticSettings` (a [`Collection::diagnostic_settings`](super::Collection) child list), and
//! the logic too, so it is declarative: a [`LogRule`] names the parent collection, its settings
//! collection, the categories required and the category groups that also enable them (Azure
//! lets a setting enable `audit` or `allLogs` instead of naming categories).
//!
//! A category is covered when some setting has a destination (Log Analytics workspace, storage
//! account, event hub or partner solution) and a `logs[]` entry that is enabled and names the
//! category (case-insensitively) or one of the groups. A setting with no destination exports
//! nothing and covers nothing.

use serde_json::Value;

use super::dataset::{ChildOutcome, EvalContext};
use super::props;
use super::rule::When;
use crate::messages::{Evidence, Finding};

/// The destinations a diagnostic setting can send to.
const DESTINATIONS: [&str; 4] = [
    "properties.workspaceId",
    "properties.storageAccountId",
    "properties.eventHubAuthorizationRuleId",
    "properties.marketplacePartnerId",
];

/// A declarative "logs are exported" check (see the module doc).
#[derive(Debug, Clone, Copy)]
pub struct LogRule {
    /// The resources whose logs must be exported.
    pub parent: &'static str,
    /// Their diagnostic settings (a `Collection::diagnostic_settings` over `parent`).
    pub settings: &'static str,
    /// Every one of these log categories must be covered, e.g. `["Audit"]`.
    pub categories: &'static [&'static str],
    /// Category groups that cover every required category, e.g. `["audit", "allLogs"]`.
    pub groups: &'static [&'static str],
    /// Only parents meeting this are evaluated.
    pub when: Option<When>,
}

impl LogRule {
    pub fn reads(&self) -> Vec<&'static str> {
        vec![self.parent, self.settings]
    }

    /// One finding per in-scope parent.
    pub fn evaluate(&self, ctx: &EvalContext<'_>) -> Vec<Finding> {
        ctx.all_items(self.parent)
            .into_iter()
            .filter(|item| {
                self.when.is_none_or(|w| {
                    props::prop(item, w.path)
                        .filter(|v| !v.is_null())
                        .is_some_and(|v| w.expect.matches(v))
                })
            })
            .filter_map(
                |item| match ctx.child(self.settings, props::resource_id(item))? {
                    ChildOutcome::Items(settings) => Some(self.verdict(item, settings)),
                    ChildOutcome::Object(setting) => {
                        Some(self.verdict(item, std::slice::from_ref(setting)))
                    }
                    ChildOutcome::Absent => Some(self.verdict(item, &[])),
                    ChildOutcome::Failed(err) => {
                        Some(props::unreadable(item, "its diagnostic settings", err))
                    }
                },
            )
            .collect()
    }

    fn verdict(&self, resource: &Value, settings: &[Value]) -> Finding {
        let missing = uncovered(settings, self.categories, self.groups);
        let expected = format!(
            "a diagnostic setting with a destination enabling {} (or category group {})",
            self.categories.join(", "),
            self.groups.join(" or ")
        );
        let evidence = vec![Evidence {
            property: "diagnosticSettings".to_string(),
            value: Value::Array(settings.iter().map(summary).collect()),
            expected,
        }];
        props::verdict(
            resource,
            missing.is_empty(),
            evidence,
            format!("Logs {} are exported", self.categories.join(", ")),
            if settings.is_empty() {
                "No diagnostic setting exports its logs".to_string()
            } else {
                format!("Log categories not exported: {}", missing.join(", "))
            },
        )
    }
}

/// The required categories that no setting with a destination enables (directly or through a
/// group). Also used for subscription-scope settings (the activity log).
pub fn uncovered(
    settings: &[Value],
    categories: &[&'static str],
    groups: &[&str],
) -> Vec<&'static str> {
    categories
        .iter()
        .copied()
        .filter(|category| {
            !settings.iter().any(|s| {
                has_destination(s) && enabled_logs(s).any(|log| covers(log, category, groups))
            })
        })
        .collect()
}

/// Whether a setting sends to any destination (a setting without one exports nothing).
pub(crate) fn has_destination(setting: &Value) -> bool {
    DESTINATIONS
        .iter()
        .any(|path| props::prop_str(setting, path).is_some_and(|v| !v.trim().is_empty()))
}

fn enabled_logs(setting: &Value) -> impl Iterator<Item = &Value> {
    props::prop(setting, "properties.logs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|log| props::prop_bool(log, "enabled") == Some(true))
}

fn covers(log: &Value, category: &str, groups: &[&str]) -> bool {
    let named = |key: &str| props::prop_str(log, key);
    named("category").is_some_and(|c| c.eq_ignore_ascii_case(category))
        || named("categoryGroup").is_some_and(|g| groups.iter().any(|w| g.eq_ignore_ascii_case(w)))
}

/// What the evidence shows of a setting: its name, destinations and enabled log entries.
fn summary(setting: &Value) -> Value {
    let logs: Vec<Value> = enabled_logs(setting)
        .map(|log| {
            props::prop(log, "category")
                .or_else(|| props::prop(log, "categoryGroup"))
                .cloned()
                .unwrap_or(Value::Null)
        })
        .collect();
    serde_json::json!({
        "name": props::prop(setting, "name").cloned().unwrap_or(Value::Null),
        "has_destination": has_destination(setting),
        "enabled_logs": logs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::{Dataset, ListOutcome};
    use crate::messages::FindingStatus;
    use serde_json::json;

    const RULE: LogRule = LogRule {
        parent: "x.accounts",
        settings: "x.diagnostics",
        categories: &["Audit", "RequestResponse"],
        groups: &["allLogs"],
        when: None,
    };

    fn setting(destination: bool, logs: Value) -> Value {
        let mut properties = json!({ "logs": logs, "metrics": [] });
        if destination {
            properties["workspaceId"] = json!(
                "/subscriptions/s/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/w"
            );
        }
        json!({ "id": "/subscriptions/s/.../diagnosticSettings/d", "name": "d", "properties": properties })
    }

    fn status_for(settings: ChildOutcome) -> FindingStatus {
        let id = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.X/accounts/a";
        let mut ds = Dataset::default();
        ds.insert_list(
            "x.accounts",
            ListOutcome::Items(vec![json!({ "id": id, "name": "a" })]),
        );
        ds.insert_child("x.diagnostics", id, settings);
        let ctx = EvalContext::new(&ds, chrono::Utc::now(), "s");
        let findings = RULE.evaluate(&ctx);
        assert_eq!(findings.len(), 1);
        findings[0].status
    }

    #[test]
    fn categories_are_covered_by_name_or_group_with_a_destination() {
        let by_name = setting(
            true,
            json!([{ "category": "audit", "enabled": true }, { "category": "RequestResponse", "enabled": true }]),
        );
        assert_eq!(
            status_for(ChildOutcome::Items(vec![by_name])),
            FindingStatus::Passed
        );
        let by_group = setting(
            true,
            json!([{ "categoryGroup": "allLogs", "enabled": true }]),
        );
        assert_eq!(
            status_for(ChildOutcome::Items(vec![by_group])),
            FindingStatus::Passed
        );
        let split = vec![
            setting(true, json!([{ "category": "Audit", "enabled": true }])),
            setting(
                true,
                json!([{ "category": "RequestResponse", "enabled": true }]),
            ),
        ];
        assert_eq!(
            status_for(ChildOutcome::Items(split)),
            FindingStatus::Passed
        );
    }

    #[test]
    fn disabled_logs_missing_destinations_and_no_settings_fail() {
        let disabled = setting(
            true,
            json!([{ "category": "Audit", "enabled": false }, { "category": "RequestResponse", "enabled": true }]),
        );
        assert_eq!(
            status_for(ChildOutcome::Items(vec![disabled])),
            FindingStatus::Failed
        );
        let nowhere = setting(
            false,
            json!([{ "categoryGroup": "allLogs", "enabled": true }]),
        );
        assert_eq!(
            status_for(ChildOutcome::Items(vec![nowhere])),
            FindingStatus::Failed
        );
        assert_eq!(
            status_for(ChildOutcome::Items(vec![])),
            FindingStatus::Failed
        );
        assert_eq!(status_for(ChildOutcome::Absent), FindingStatus::Failed);
        let denied = ChildOutcome::Failed(crate::checks::FetchError::AccessDenied {
            action: "Microsoft.Insights/diagnosticSettings/read".into(),
            message: String::new(),
        });
        assert_eq!(status_for(denied), FindingStatus::AccessDenied);
    }

    #[test]
    fn uncovered_names_what_is_missing() {
        let s = [setting(
            true,
            json!([{ "category": "Audit", "enabled": true }]),
        )];
        assert_eq!(
            uncovered(&s, &["Audit", "RequestResponse"], &["audit"]),
            ["RequestResponse"]
        );
    }
}
