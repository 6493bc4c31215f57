//! The two blob checks with logic: anonymous access (account setting joined with each
//! container's) and request logging (diagnostic settings of the account's blob service, a
//! grandchild of the account, reported on the account).

use serde_json::{Value, json};

use super::{ACCOUNTS, ALLOW_PUBLIC, CONTAINERS, DIAGNOSTICS, SERVICES, has_blob_service};
use crate::checks::diagnostics::uncovered;
use crate::checks::{Check, CheckMeta, ChildOutcome, EvalContext, Severity, props};
use crate::messages::{Finding, FindingStatus};

pub(super) const PUBLIC_ACCESS: &str = "properties.publicAccess";

/// Passes when the account has `properties.allowBlobPublicAccess` `false` (no container can be
/// public), or every container of `blobServices/default/containers` has
/// `properties.publicAccess` `None`.
///
/// A container without `publicAccess` passes: the spec's values are "None", "Container" and
/// "Blob", and a container created without the setting is private. FileStorage accounts have no
/// blob service and are not evaluated.
pub const CONTAINER_PRIVATE: Check = Check::custom(
    CheckMeta {
        id: "blob.container_private",
        title: "No container allows anonymous reads",
        severity: Severity::High,
        description: "A container with public access level Blob or Container lets anyone with \
            the URL read its blobs (and, with Container, list them) without any credential. \
            Data placed there is effectively published.",
        remediation: "Portal: Storage account > Data storage > Containers > the container > \
            Change access level = Private (no anonymous access); or disallow anonymous access \
            for the whole account: Settings > Configuration > Allow Blob anonymous access = \
            Disabled. CLI: `az storage container set-permission --account-name <account> \
            --name <container> --public-access off --auth-mode login`, or `az storage account \
            update --name <account> --resource-group <rg> --allow-blob-public-access false`.",
    },
    &[ACCOUNTS, CONTAINERS],
    container_private,
);

fn container_private(ctx: &EvalContext<'_>) -> Vec<Finding> {
    ctx.all_items(ACCOUNTS)
        .into_iter()
        .filter(|account| has_blob_service(account))
        .map(|account| {
            let allowed = props::evidence(account, ALLOW_PUBLIC, "false, or no public container");
            if props::prop_bool(account, ALLOW_PUBLIC) == Some(false) {
                return props::finding(
                    account,
                    FindingStatus::Passed,
                    vec![allowed],
                    "The account disallows anonymous access to every container",
                );
            }
            let containers: &[Value] = match ctx.child(CONTAINERS, props::resource_id(account)) {
                Some(ChildOutcome::Items(items)) => items,
                Some(ChildOutcome::Failed(err)) => {
                    return props::unreadable(account, "its blob containers", err);
                }
                _ => &[],
            };
            let public: Vec<Value> = containers
                .iter()
                .filter(|c| {
                    props::prop_str(c, PUBLIC_ACCESS).is_some_and(|a| !a.eq_ignore_ascii_case("None"))
                })
                .map(|c| {
                    json!({
                        "name": props::resource_name(c),
                        "publicAccess": props::prop(c, PUBLIC_ACCESS).cloned().unwrap_or(Value::Null),
                    })
                })
                .collect();
            let names: Vec<&str> = public.iter().filter_map(|c| c["name"].as_str()).collect();
            let message = format!("Containers allow anonymous reads: {}", names.join(", "));
            let evidence = vec![
                allowed,
                props::evidence_value(
                    "blobServices/default/containers: properties.publicAccess",
                    Value::Array(public.clone()),
                    "None for every container",
                ),
            ];
            props::verdict(
                account,
                public.is_empty(),
                evidence,
                "No container allows anonymous reads",
                message,
            )
        })
        .collect()
}

/// The log categories a blob request log needs.
pub(super) const CATEGORIES: [&str; 3] = ["StorageRead", "StorageWrite", "StorageDelete"];

/// Passes when a diagnostic setting of the account's `blobServices/default` with a destination
/// enables `StorageRead`, `StorageWrite` and `StorageDelete` (by name, or through the
/// `allLogs` category group); see `checks::diagnostics`.
///
/// No setting (an empty list, or none readable because the blob service does not exist) fails.
/// Reported on the storage account, not on its blob service (always named `default`).
pub const LOGGING: Check = Check::custom(
    CheckMeta {
        id: "blob.logging",
        title: "Read/write/delete requests logged",
        severity: Severity::Medium,
        description: "Without request logs for the blob service there is no record of who read, \
            wrote or deleted which blob, so data theft or tampering cannot be traced.",
        remediation: "Portal: Storage account > Monitoring > Diagnostic settings > blob > Add \
            diagnostic setting: tick StorageRead, StorageWrite and StorageDelete (or allLogs), \
            choose a destination > Save. CLI: `az monitor diagnostic-settings create --name \
            blob-logs --resource <account-id>/blobServices/default --workspace <workspace-id> \
            --logs '[{\"categoryGroup\":\"allLogs\",\"enabled\":true}]'`.",
    },
    &[ACCOUNTS, SERVICES, DIAGNOSTICS],
    logging,
);

fn logging(ctx: &EvalContext<'_>) -> Vec<Finding> {
    let expected = format!(
        "a diagnostic setting with a destination enabling {} (or category group allLogs)",
        CATEGORIES.join(", ")
    );
    ctx.all_items(ACCOUNTS)
        .into_iter()
        .filter_map(|account| {
            let service = match ctx.child(SERVICES, props::resource_id(account))? {
                ChildOutcome::Object(service) => service,
                ChildOutcome::Failed(err) => {
                    return Some(props::unreadable(account, "its blob service", err));
                }
                ChildOutcome::Items(_) | ChildOutcome::Absent => &Value::Null,
            };
            let settings: &[Value] = match ctx.child(DIAGNOSTICS, props::resource_id(service)) {
                Some(ChildOutcome::Items(items)) => items,
                Some(ChildOutcome::Failed(err)) => {
                    return Some(props::unreadable(
                        account,
                        "the diagnostic settings of its blob service",
                        err,
                    ));
                }
                _ => &[],
            };
            let missing = uncovered(settings, &CATEGORIES, &["allLogs"]);
            let names: Vec<Value> = settings
                .iter()
                .map(|s| props::prop(s, "name").cloned().unwrap_or(Value::Null))
                .collect();
            let evidence = vec![props::evidence_value(
                "blobServices/default: diagnosticSettings",
                json!({ "settings": names, "not_exported": missing }),
                &expected,
            )];
            Some(props::verdict(
                account,
                missing.is_empty(),
                evidence,
                "Blob read, write and delete requests are logged",
                if settings.is_empty() {
                    "No diagnostic setting exports the blob service's logs".to_string()
                } else {
                    format!("Blob request logs not exported: {}", missing.join(", "))
                },
            ))
        })
        .collect()
}
