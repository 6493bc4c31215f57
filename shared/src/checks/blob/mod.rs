//! Blob Service: each storage account's blob service (soft delete, versioning), its containers
//! (anonymous access) and the blob service's diagnostic settings (request logging).
//!
//! The blob service, its containers and its diagnostic settings are children of each in-scope
//! storage account, read at Storage api-version 2025-01-01 (diagnostic settings at
//! 2021-05-01-preview). FileStorage accounts have no blob service and are skipped; containers
//! are listed only for accounts that allow anonymous blob access at all (when the account
//! disallows it, no container can be public whatever its own setting says). Classic Storage
//! Analytics logging is data-plane; the ARM route to request logs is the blob service's
//! diagnostic settings.

mod containers;
mod settings;
#[cfg(test)]
mod tests;

use serde_json::Value;

use self::containers::{CONTAINER_PRIVATE, LOGGING};
use self::settings::*;
use super::{Collection, ServiceDef, props};

pub const ACCOUNTS: &str = "blob.accounts";
pub const SERVICES: &str = "blob.services";
pub const CONTAINERS: &str = "blob.containers";
pub const DIAGNOSTICS: &str = "blob.diagnostics";

const API_VERSION: &str = "2025-01-01";

pub const ACCOUNT_READ: &str = "Microsoft.Storage/storageAccounts/read";
pub const SERVICE_READ: &str = "Microsoft.Storage/storageAccounts/blobServices/read";
pub const CONTAINER_READ: &str = "Microsoft.Storage/storageAccounts/blobServices/containers/read";

/// The account property that turns anonymous access off for every container.
pub const ALLOW_PUBLIC: &str = "properties.allowBlobPublicAccess";

pub const SERVICE: ServiceDef = ServiceDef {
    id: "blob",
    name: "Blob Service",
    collections: &[
        Collection::list(
            ACCOUNTS,
            "Microsoft.Storage/storageAccounts",
            API_VERSION,
            ACCOUNT_READ,
        ),
        Collection::child(
            SERVICES,
            ACCOUNTS,
            "/blobServices/default",
            API_VERSION,
            SERVICE_READ,
        )
        .only_for(has_blob_service),
        Collection::child_list(
            CONTAINERS,
            ACCOUNTS,
            "/blobServices/default/containers",
            API_VERSION,
            CONTAINER_READ,
        )
        .only_for(may_have_public_containers),
        Collection::diagnostic_settings(DIAGNOSTICS, SERVICES),
    ],
    checks: &[
        SOFT_DELETE,
        CONTAINER_SOFT_DELETE,
        VERSIONING,
        CONTAINER_PRIVATE,
        LOGGING,
    ],
    none_in_scope: "No storage accounts with a blob service in the selected regions",
};

/// FileStorage (premium file share) accounts have no blob service.
pub fn has_blob_service(account: &Value) -> bool {
    !props::prop_str(account, "kind").is_some_and(|k| k.eq_ignore_ascii_case("FileStorage"))
}

/// Containers can be public only in accounts with a blob service that do not disallow
/// anonymous access (`allowBlobPublicAccess` not `false`).
pub fn may_have_public_containers(account: &Value) -> bool {
    has_blob_service(account) && props::prop_bool(account, ALLOW_PUBLIC) != Some(false)
}
