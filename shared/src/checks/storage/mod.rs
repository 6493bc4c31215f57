//! Storage Accounts: account-level settings from the subscription's storage account list, plus
//! the file service of each account for the file-share hardening check.
//!
//! Absent properties: every check states what a missing property means, from the property's
//! description in the Storage resource provider spec (`Microsoft.Storage/stable/2025-01-01`,
//! `storage.json` / `file.json` / `common.json`). Where the documented default is insecure, is
//! only promised for new accounts or newer API versions, or is not documented at all, an absent
//! property fails and the evidence shows `null`: setting the property explicitly is cheap and
//! makes the account's posture unambiguous.

mod file_shares;
mod key_rotation;
mod settings;
#[cfg(test)]
mod tests;

use serde_json::Value;

use self::file_shares::FILE_SHARES_HARDENED;
use self::key_rotation::KEY_ROTATION;
use self::settings::*;
use super::{Check, Collection, EvalContext, ServiceDef};
use crate::messages::Finding;

pub const ACCOUNTS: &str = "storage.accounts";
pub const FILE_SERVICES: &str = "storage.file_services";

const API_VERSION: &str = "2025-01-01";

const ACCOUNT_READ: &str = "Microsoft.Storage/storageAccounts/read";
const FILE_SERVICE_READ: &str = "Microsoft.Storage/storageAccounts/fileServices/read";

pub const SERVICE: ServiceDef = ServiceDef {
    id: "storage",
    name: "Storage Accounts",
    collections: &[
        Collection::list(
            ACCOUNTS,
            "Microsoft.Storage/storageAccounts",
            API_VERSION,
            ACCOUNT_READ,
        ),
        Collection::child(
            FILE_SERVICES,
            ACCOUNTS,
            "/fileServices/default",
            API_VERSION,
            FILE_SERVICE_READ,
        )
        .only_for(has_file_service),
    ],
    checks: CHECKS,
    none_in_scope: "No storage accounts in the selected regions",
};

/// Only general-purpose and FileStorage accounts have a file service; BlobStorage and
/// BlockBlobStorage accounts do not, and asking for it would be a wasted call.
fn has_file_service(account: &serde_json::Value) -> bool {
    !matches!(
        super::props::prop_str(account, "kind"),
        Some("BlobStorage") | Some("BlockBlobStorage")
    )
}

const CHECKS: &[Check] = &[
    SECURE_TRANSFER_REQUIRED,
    MIN_TLS_12,
    BLOB_ANONYMOUS_ACCESS_DISABLED,
    DEFAULT_NETWORK_DENY,
    PUBLIC_NETWORK_DISABLED,
    SHARED_KEY_DISABLED,
    CROSS_TENANT_REPLICATION_OFF,
    KEY_ROTATION,
    FILE_SHARES_HARDENED,
];

/// One finding per in-scope storage account.
pub(super) fn each_account<'a>(
    ctx: &EvalContext<'a>,
    evaluate: impl Fn(&'a Value) -> Finding,
) -> Vec<Finding> {
    ctx.items(ACCOUNTS).iter().map(evaluate).collect()
}
