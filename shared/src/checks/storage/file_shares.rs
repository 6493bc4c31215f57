//! `storage.file_shares_hardened`: three settings of each account's file service (a child
//! resource), two of them `;`-separated lists, so it is a custom evaluator.

use serde_json::Value;

use super::{ACCOUNTS, FILE_SERVICES, each_account};
use crate::checks::{Check, CheckMeta, ChildOutcome, EvalContext, Severity, props};
use crate::messages::{Evidence, Finding, FindingStatus};

/// Reads the account's `fileServices/default`. Passes when, on that object,
/// `properties.shareDeleteRetentionPolicy.enabled` is `true`,
/// `properties.protocolSettings.smb.versions` lists only `SMB3.1.1` and
/// `properties.protocolSettings.smb.channelEncryption` lists only `AES-256-GCM` (both are
/// `;`-separated lists, compared case-insensitively).
///
/// Absent fails for all three. `DeleteRetentionPolicy.enabled` has no documented default
/// ("Indicates whether DeleteRetentionPolicy is enabled"), and the SMB settings are "SMB protocol
/// versions supported by server" / "SMB channel encryption supported by server": when unset, the
/// server offers every valid value (SMB2.1, SMB3.0, SMB3.1.1; AES-128-CCM, AES-128-GCM,
/// AES-256-GCM). Accounts whose kind has no file service (BlobStorage, BlockBlobStorage), or
/// whose file service does not exist, are not applicable.
pub const FILE_SHARES_HARDENED: Check = Check::custom(
    CheckMeta {
        id: "storage.file_shares_hardened",
        title: "File shares: soft delete, SMB 3.1.1, AES-256-GCM",
        severity: Severity::Medium,
        description: "Without share soft delete a deleted file share, and all its data, is gone \
            at once. Older SMB dialects and weaker channel ciphers let clients negotiate \
            connections with less protection than SMB 3.1.1 with AES-256-GCM encryption.",
        remediation: "Portal: Storage account > Data management > Data protection > Enable soft \
            delete for file shares; Storage account > Data storage > File shares > File share \
            settings > Security = Maximum security (or Custom: SMB 3.1.1 only, AES-256-GCM \
            only). CLI: `az storage account file-service-properties update --account-name \
            <account> --resource-group <rg> --enable-delete-retention true \
            --delete-retention-days 7 --versions SMB3.1.1 --channel-encryption AES-256-GCM`.",
    },
    &[ACCOUNTS, FILE_SERVICES],
    file_shares_hardened,
);

pub(super) const SHARE_SOFT_DELETE: &str = "properties.shareDeleteRetentionPolicy.enabled";
pub(super) const SMB_VERSIONS: &str = "properties.protocolSettings.smb.versions";
pub(super) const SMB_CHANNEL_ENCRYPTION: &str = "properties.protocolSettings.smb.channelEncryption";

fn file_shares_hardened(ctx: &EvalContext<'_>) -> Vec<Finding> {
    each_account(ctx, |account| {
        match ctx.child(FILE_SERVICES, props::resource_id(account)) {
            Some(ChildOutcome::Object(service)) => file_service_verdict(account, service),
            Some(ChildOutcome::Failed(err)) => props::unreadable(account, "the file service", err),
            Some(ChildOutcome::Items(_)) => props::finding(
                account,
                FindingStatus::Error,
                Vec::new(),
                "The file service answered with a list instead of one object",
            ),
            Some(ChildOutcome::Absent) | None => props::finding(
                account,
                FindingStatus::NotApplicable,
                vec![props::evidence(
                    account,
                    "kind",
                    "a kind with a file service (Storage, StorageV2, FileStorage)",
                )],
                "The account has no file service",
            ),
        }
    })
}

fn file_service_verdict(account: &Value, service: &Value) -> Finding {
    let checks = [
        (
            SHARE_SOFT_DELETE,
            "true",
            is_true(props::prop(service, SHARE_SOFT_DELETE)),
            "share soft delete is not enabled",
        ),
        (
            SMB_VERSIONS,
            "only SMB3.1.1",
            lists_only(service, SMB_VERSIONS, "SMB3.1.1"),
            "SMB versions other than 3.1.1 are allowed",
        ),
        (
            SMB_CHANNEL_ENCRYPTION,
            "only AES-256-GCM",
            lists_only(service, SMB_CHANNEL_ENCRYPTION, "AES-256-GCM"),
            "SMB channel ciphers other than AES-256-GCM are allowed",
        ),
    ];
    let evidence = checks
        .iter()
        .map(|(path, expected, ..)| file_service_evidence(service, path, expected))
        .collect();
    let problems: Vec<&str> = checks
        .iter()
        .filter(|(_, _, passes, _)| !passes)
        .map(|(.., problem)| *problem)
        .collect();
    props::verdict(
        account,
        problems.is_empty(),
        evidence,
        "File shares have soft delete, SMB 3.1.1 only and AES-256-GCM only",
        format!("File shares are not hardened: {}", problems.join("; ")),
    )
}

/// Evidence about the account's file service; the property is named from the account
/// (`fileServices/default.properties...`) because the finding is about the account.
fn file_service_evidence(service: &Value, path: &str, expected: &str) -> Evidence {
    props::evidence_value(
        format!("fileServices/default.{path}"),
        props::prop(service, path).cloned().unwrap_or(Value::Null),
        expected,
    )
}

/// Whether a `;`-separated setting (`"SMB3.0;SMB3.1.1"`) is present and lists only `wanted`.
fn lists_only(resource: &Value, path: &str, wanted: &str) -> bool {
    let Some(list) = props::prop_str(resource, path) else {
        return false;
    };
    let mut entries = list
        .split(';')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .peekable();
    entries.peek().is_some() && entries.all(|e| e.eq_ignore_ascii_case(wanted))
}

fn is_true(value: Option<&Value>) -> bool {
    value.and_then(Value::as_bool) == Some(true)
}
