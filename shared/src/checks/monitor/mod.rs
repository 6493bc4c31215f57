//! Monitor: the subscription's activity log (where it is exported, which categories, the
//! storage account keeping it), activity-log alerts for the operations CIS names, and Log
//! Analytics workspaces.
//!
//! The activity log's diagnostic settings are a subscription-scope list with no GA api-version
//! (2021-05-01-preview is pinned, as for resource diagnostic settings); activity-log alerts
//! (2020-10-01) have location `Global`. Both, and the storage accounts the log may be written
//! to, are read whatever the region selection: an activity-log finding is subscription-wide.
//! Workspaces are regional resources and follow the selection.

mod activity_log;
mod alerts;
#[cfg(test)]
mod tests;
mod workspaces;

use serde_json::{Value, json};

use self::activity_log::*;
use self::alerts::*;
use self::workspaces::*;
use super::{Collection, ServiceDef};

pub const ACTIVITY_LOG_SETTINGS: &str = "monitor.activity_log_settings";
pub const ACTIVITY_LOG_ALERTS: &str = "monitor.activity_log_alerts";
pub const WORKSPACES: &str = "monitor.workspaces";
pub const STORAGE_ACCOUNTS: &str = "monitor.storage_accounts";

pub const SERVICE: ServiceDef = ServiceDef {
    id: "monitor",
    name: "Monitor",
    collections: &[
        Collection::list(
            ACTIVITY_LOG_SETTINGS,
            "Microsoft.Insights/diagnosticSettings",
            "2021-05-01-preview",
            "Microsoft.Insights/diagnosticSettings/read",
        )
        .global(),
        Collection::list(
            ACTIVITY_LOG_ALERTS,
            "Microsoft.Insights/activityLogAlerts",
            "2020-10-01",
            "Microsoft.Insights/activityLogAlerts/read",
        )
        .global(),
        Collection::list(
            WORKSPACES,
            "Microsoft.OperationalInsights/workspaces",
            "2023-09-01",
            "Microsoft.OperationalInsights/workspaces/read",
        ),
        // Joined by id to the activity log's storage destinations, wherever they are.
        Collection::list(
            STORAGE_ACCOUNTS,
            "Microsoft.Storage/storageAccounts",
            "2025-01-01",
            "Microsoft.Storage/storageAccounts/read",
        )
        .global(),
    ],
    checks: &[
        ACTIVITY_LOG_EXPORTED,
        ACTIVITY_LOG_CATEGORIES,
        ACTIVITY_LOG_STORAGE_SECURED,
        ACTIVITY_LOG_ALERTS_CHECK,
        LAW_PUBLIC_ACCESS_DISABLED,
        LAW_RETENTION,
    ],
    none_in_scope: "No Log Analytics workspaces in the selected regions",
};

/// The subscription itself as the resource of a subscription-wide finding.
pub(super) fn subscription(subscription_id: &str) -> Value {
    json!({
        "id": format!("/subscriptions/{subscription_id}"),
        "name": subscription_id,
        "type": "Microsoft.Resources/subscriptions",
    })
}
