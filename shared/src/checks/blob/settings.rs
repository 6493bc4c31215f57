//! The blob service settings: declarative checks over each account's `blobServices/default`
//! (see `checks::rule`). Findings are about the storage account.

use super::{ACCOUNTS, SERVICES};
use crate::checks::{Check, CheckMeta, Example, Expect, Missing, Rule, Severity, Target};

/// Passes when, in the account's `blobServices/default`, `properties.deleteRetentionPolicy`
/// has `enabled` `true` and `days` of at least 7.
///
/// Absent fails. Spec (`DeleteRetentionPolicy`): "Indicates whether DeleteRetentionPolicy is
/// enabled" (no default; a blob service created without it keeps no deleted blobs).
pub const SOFT_DELETE: Check = Check::rule(
    CheckMeta {
        id: "blob.soft_delete",
        title: "Blob soft delete ≥ 7 days",
        severity: Severity::Medium,
        description: "Without blob soft delete, a blob deleted or overwritten by mistake, by a \
            compromised client or by ransomware is gone at once. Keeping deleted blobs at \
            least 7 days leaves time to notice and restore them.",
        remediation: "Portal: Storage account > Data management > Data protection > Enable soft \
            delete for blobs, Keep deleted blobs for 7 days or more > Save. CLI: `az storage \
            account blob-service-properties update --account-name <account> --resource-group \
            <rg> --enable-delete-retention true --delete-retention-days 7`.",
    },
    Rule {
        target: Target::Child {
            parent: ACCOUNTS,
            child: SERVICES,
        },
        path: "properties.deleteRetentionPolicy",
        expect: Expect::AllOf(&[("enabled", Expect::True), ("days", Expect::AtLeast(7))]),
        missing: Missing::Fails,
        when: None,
        pass: "Deleted blobs are kept at least 7 days",
        fail: "Deleted blobs are not kept at least 7 days",
        pass_examples: &[Example::Json(r#"{"enabled": true, "days": 7}"#)],
        fail_examples: &[
            Example::Json(r#"{"enabled": true, "days": 3}"#),
            Example::Json(r#"{"enabled": false, "days": 30}"#),
            Example::Json(r#"{"enabled": false}"#),
            Example::Absent,
        ],
    },
);

/// Passes when, in the account's `blobServices/default`,
/// `properties.containerDeleteRetentionPolicy.enabled` is `true`.
///
/// Absent fails: no default is documented ("The blob service properties for container soft
/// delete").
pub const CONTAINER_SOFT_DELETE: Check = Check::rule(
    CheckMeta {
        id: "blob.container_soft_delete",
        title: "Container soft delete on",
        severity: Severity::Medium,
        description: "Deleting a container deletes every blob in it, and blob soft delete does \
            not bring them back. Container soft delete keeps deleted containers restorable for \
            the retention period.",
        remediation: "Portal: Storage account > Data management > Data protection > Enable soft \
            delete for containers (7 days or more) > Save. CLI: `az storage account \
            blob-service-properties update --account-name <account> --resource-group <rg> \
            --enable-container-delete-retention true --container-delete-retention-days 7`.",
    },
    Rule {
        target: Target::Child {
            parent: ACCOUNTS,
            child: SERVICES,
        },
        path: "properties.containerDeleteRetentionPolicy.enabled",
        expect: Expect::True,
        missing: Missing::Fails,
        when: None,
        pass: "Deleted containers can be restored",
        fail: "Deleted containers cannot be restored",
        pass_examples: &[Example::Bool(true)],
        fail_examples: &[Example::Bool(false), Example::Absent],
    },
);

/// Passes when, in the account's `blobServices/default`, `properties.isVersioningEnabled` is
/// `true`.
///
/// Absent fails. Spec: "Versioning is enabled if set to true." (off unless set).
pub const VERSIONING: Check = Check::rule(
    CheckMeta {
        id: "blob.versioning",
        title: "Blob versioning on",
        severity: Severity::Low,
        description: "Versioning keeps every previous version of a blob when it is overwritten \
            or deleted, so data altered by mistake or by an attacker can be restored.",
        remediation: "Portal: Storage account > Data management > Data protection > Enable \
            versioning for blobs > Save. CLI: `az storage account blob-service-properties \
            update --account-name <account> --resource-group <rg> --enable-versioning true`.",
    },
    Rule {
        target: Target::Child {
            parent: ACCOUNTS,
            child: SERVICES,
        },
        path: "properties.isVersioningEnabled",
        expect: Expect::True,
        missing: Missing::Fails,
        when: None,
        pass: "Blob versioning is on",
        fail: "Blob versioning is off",
        pass_examples: &[Example::Bool(true)],
        fail_examples: &[Example::Bool(false), Example::Absent],
    },
);
