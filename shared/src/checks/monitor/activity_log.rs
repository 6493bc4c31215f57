//! The activity log's export: a diagnostic setting on the subscription, the categories it
//! captures (reusing [`diagnostics::uncovered`]), and the storage account it writes to.

use serde_json::{Value, json};

use super::{ACTIVITY_LOG_SETTINGS, STORAGE_ACCOUNTS, subscription};
use crate::checks::diagnostics::{has_destination, uncovered};
use crate::checks::{Check, CheckMeta, EvalContext, Severity, props};
use crate::messages::{Finding, FindingStatus};

/// The categories CIS requires the activity log export to capture.
pub(super) const REQUIRED_CATEGORIES: [&str; 4] = ["Administrative", "Alert", "Policy", "Security"];

const SETTING_REMEDIATION: &str = "Portal: Monitor > Activity log > Export Activity Logs > the \
    subscription > Add diagnostic setting: select the categories Administrative, Alert, Policy \
    and Security (or all), a destination (Log Analytics workspace and/or storage account); Save. \
    CLI: `az monitor diagnostic-settings subscription create --name activity-log --location \
    <region> --workspace <workspace-id> --logs \
    '[{\"category\":\"Administrative\",\"enabled\":true},{\"category\":\"Alert\",\"enabled\":true},\
    {\"category\":\"Policy\",\"enabled\":true},{\"category\":\"Security\",\"enabled\":true}]'`.";

fn setting_summary(settings: &[Value]) -> Value {
    Value::Array(
        settings
            .iter()
            .map(|s| {
                json!({
                    "name": props::resource_name(s),
                    "has_destination": has_destination(s),
                    "storageAccountId": props::prop(s, "properties.storageAccountId").cloned().unwrap_or(Value::Null),
                    "workspaceId": props::prop(s, "properties.workspaceId").cloned().unwrap_or(Value::Null),
                })
            })
            .collect(),
    )
}

/// Passes when the subscription has at least one activity-log diagnostic setting with a
/// destination (workspace, storage account, event hub or partner solution). One finding about
/// the subscription.
///
/// Absent fails: no setting (an empty list) means the activity log is kept only 90 days by the
/// platform and exported nowhere; a setting without any destination exports nothing.
pub const ACTIVITY_LOG_EXPORTED: Check = Check::custom(
    CheckMeta {
        id: "monitor.activity_log_exported",
        title: "Subscription activity log has a diagnostic setting",
        severity: Severity::High,
        description: "The activity log records every control-plane operation (who created, \
            changed or deleted what). Azure keeps it for 90 days only; exporting it to a \
            workspace or storage account keeps the audit trail an investigation needs.",
        remediation: SETTING_REMEDIATION,
    },
    &[ACTIVITY_LOG_SETTINGS],
    activity_log_exported,
);

fn activity_log_exported(ctx: &EvalContext<'_>) -> Vec<Finding> {
    let settings = ctx.items(ACTIVITY_LOG_SETTINGS);
    let exported: Vec<&str> = settings
        .iter()
        .filter(|s| has_destination(s))
        .map(props::resource_name)
        .collect();
    let sub = subscription(ctx.subscription_id);
    vec![props::verdict(
        &sub,
        !exported.is_empty(),
        vec![props::evidence_value(
            "activityLog.diagnosticSettings",
            setting_summary(settings),
            "at least one setting with a destination",
        )],
        format!("The activity log is exported by {}", exported.join(", ")),
        if settings.is_empty() {
            "The activity log has no diagnostic setting: it is exported nowhere".to_string()
        } else {
            "No activity-log diagnostic setting has a destination".to_string()
        },
    )]
}

/// Passes when the categories `Administrative`, `Alert`, `Policy` and `Security` are each
/// enabled (`logs[].enabled == true`) in some activity-log setting that has a destination. One
/// finding about the subscription; the evidence lists the categories not captured.
///
/// Absent fails: a category not listed in `logs[]` is not exported; no setting fails every
/// category. (Subscription settings have no category groups.)
pub const ACTIVITY_LOG_CATEGORIES: Check = Check::custom(
    CheckMeta {
        id: "monitor.activity_log_categories",
        title: "Setting captures Administrative, Alert, Policy, Security",
        severity: Severity::Medium,
        description: "Each activity-log category holds a different part of the trail: \
            Administrative (every write, delete and action), Security (Defender alerts), Alert \
            (fired alerts) and Policy (policy effects). An export missing one loses that part of \
            the history.",
        remediation: SETTING_REMEDIATION,
    },
    &[ACTIVITY_LOG_SETTINGS],
    activity_log_categories,
);

fn activity_log_categories(ctx: &EvalContext<'_>) -> Vec<Finding> {
    let settings = ctx.items(ACTIVITY_LOG_SETTINGS);
    let missing = uncovered(settings, &REQUIRED_CATEGORIES, &[]);
    let sub = subscription(ctx.subscription_id);
    vec![props::verdict(
        &sub,
        missing.is_empty(),
        vec![props::evidence_value(
            "activityLog.categoriesNotExported",
            json!(missing),
            "none (Administrative, Alert, Policy and Security all exported)",
        )],
        "The activity log's Administrative, Alert, Policy and Security categories are exported",
        format!(
            "Activity-log categories not exported: {}",
            missing.join(", ")
        ),
    )]
}

/// Reads each activity-log setting's `properties.storageAccountId` and that account in the
/// subscription's storage list. Passes for an account with `properties.allowBlobPublicAccess ==
/// false` and `properties.encryption.keySource == "Microsoft.Keyvault"` (customer-managed key).
///
/// Absent: `allowBlobPublicAccess` missing fails (older accounts defaulted to allowing it) and
/// `keySource` missing fails (the default is Microsoft-managed keys). An account that is not in
/// this subscription's list (another subscription) cannot be read and is not applicable, saying
/// so; no setting writing to a storage account is not applicable.
pub const ACTIVITY_LOG_STORAGE_SECURED: Check = Check::custom(
    CheckMeta {
        id: "monitor.activity_log_storage_secured",
        title: "Log storage account private and CMK-encrypted",
        severity: Severity::Medium,
        description: "The storage account holding the exported activity log is the audit \
            trail's last copy. Public blob access would expose it, and a customer-managed key \
            lets the organisation control and revoke access to it.",
        remediation: "Portal: the storage account > Settings > Configuration > Allow Blob \
            anonymous access = Disabled; Security + networking > Encryption > Customer-managed \
            keys. CLI: `az storage account update --name <account> --resource-group <rg> \
            --allow-blob-public-access false --encryption-key-source Microsoft.Keyvault \
            --encryption-key-vault <vault-uri> --encryption-key-name <key>`.",
    },
    &[ACTIVITY_LOG_SETTINGS, STORAGE_ACCOUNTS],
    activity_log_storage_secured,
)
.none_in_scope("No activity-log diagnostic setting writes to a storage account");

fn activity_log_storage_secured(ctx: &EvalContext<'_>) -> Vec<Finding> {
    let mut seen: Vec<String> = Vec::new();
    let mut findings = Vec::new();
    for setting in ctx.items(ACTIVITY_LOG_SETTINGS) {
        let Some(account_id) = props::prop_str(setting, "properties.storageAccountId")
            .filter(|id| !id.trim().is_empty())
        else {
            continue;
        };
        let key = props::normalize_id(account_id);
        if seen.contains(&key) {
            continue;
        }
        seen.push(key);
        let Some(account) = ctx.lookup(STORAGE_ACCOUNTS, account_id) else {
            let stand_in = json!({
                "id": account_id,
                "name": account_id.rsplit('/').next().unwrap_or(account_id),
                "type": "Microsoft.Storage/storageAccounts",
            });
            findings.push(props::finding(
                &stand_in,
                FindingStatus::NotApplicable,
                Vec::new(),
                format!(
                    "The activity log's storage account is not in this subscription and cannot \
                     be checked (setting {})",
                    props::resource_name(setting)
                ),
            ));
            continue;
        };
        let private = props::prop_bool(account, "properties.allowBlobPublicAccess") == Some(false);
        let cmk = props::prop_str(account, "properties.encryption.keySource")
            .is_some_and(|k| k.eq_ignore_ascii_case("Microsoft.Keyvault"));
        let mut problems = Vec::new();
        if !private {
            problems.push("anonymous blob access is not disallowed");
        }
        if !cmk {
            problems.push("it is not encrypted with a customer-managed key");
        }
        findings.push(props::verdict(
            account,
            problems.is_empty(),
            vec![
                props::evidence(account, "properties.allowBlobPublicAccess", "false"),
                props::evidence(
                    account,
                    "properties.encryption.keySource",
                    "Microsoft.Keyvault",
                ),
            ],
            "The activity log's storage account is private and encrypted with a customer-managed key",
            format!("The activity log's storage account is exposed: {}", problems.join("; ")),
        ));
    }
    findings
}
