//! Storage Accounts: account-level settings from the subscription's storage account list, plus
//! the file service of each account for the file-share hardening check.
//!
//! Absent properties: every check states what a missing property means, from the property's
//! description in the Storage resource provider spec (`Microsoft.Storage/stable/2025-01-01`,
//! `storage.json` / `file.json` / `common.json`). Where the documented default is insecure, is
//! only promised for new accounts or newer API versions, or is not documented at all, an absent
//! property fails and the evidence shows `null`: setting the property explicitly is cheap and
//! makes the account's posture unambiguous.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::Value;

use super::dataset::{ChildOutcome, EvalContext};
use super::props;
use super::{Check, CheckMeta, Collection, ServiceDef, Severity, cis_foundations_6};
use crate::messages::{Evidence, Finding, FindingStatus};

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
};

/// Only general-purpose and FileStorage accounts have a file service; BlobStorage and
/// BlockBlobStorage accounts do not, and asking for it would be a wasted call.
fn has_file_service(account: &serde_json::Value) -> bool {
    !matches!(
        super::props::prop_str(account, "kind"),
        Some("BlobStorage") | Some("BlockBlobStorage")
    )
}

const NONE_IN_SCOPE: &str = "No storage accounts in the selected regions";

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

/// Passes when `properties.supportsHttpsTrafficOnly` is `true`.
///
/// Absent fails. Spec: "Allows https traffic only to storage service if sets to true. The default
/// value is true since API version 2019-04-01." That is a creation default that depends on the
/// API version the account was created with (older accounts defaulted to HTTP allowed), so a
/// missing value says nothing certain.
const SECURE_TRANSFER_REQUIRED: Check = Check {
    meta: CheckMeta {
        id: "storage.secure_transfer_required",
        title: "HTTPS-only transfer required",
        severity: Severity::High,
        description: "Without secure transfer the account accepts plain HTTP (and unencrypted SMB) \
            requests, so data and shared-access signatures can be read or altered in transit. \
            Requiring HTTPS rejects every unencrypted request.",
        remediation: "Portal: Storage account > Settings > Configuration > Secure transfer \
            required = Enabled. CLI: `az storage account update --name <account> \
            --resource-group <rg> --https-only true`.",
        frameworks: &[cis_foundations_6("9.3.4")],
        permissions: &[ACCOUNT_READ],
    },
    reads: &[ACCOUNTS],
    evaluate: secure_transfer_required,
    none_in_scope: NONE_IN_SCOPE,
};

fn secure_transfer_required(ctx: &EvalContext<'_>) -> Vec<Finding> {
    account_setting(
        ctx,
        "properties.supportsHttpsTrafficOnly",
        "true",
        is_true,
        "Only HTTPS requests are accepted",
        "Unencrypted HTTP requests are not rejected",
    )
}

/// Passes when `properties.minimumTlsVersion` is `TLS1_2` or `TLS1_3`.
///
/// Absent fails. Spec: "Set the minimum TLS version to be permitted on requests to storage. The
/// default interpretation is TLS 1.0 for this property."
const MIN_TLS_12: Check = Check {
    meta: CheckMeta {
        id: "storage.min_tls_12",
        title: "Minimum TLS 1.2",
        severity: Severity::High,
        description: "TLS 1.0 and 1.1 have known weaknesses and are deprecated. Accepting them \
            lets a client, or an attacker downgrading a connection, reach the account over a \
            weak protocol.",
        remediation: "Portal: Storage account > Settings > Configuration > Minimum TLS version = \
            Version 1.2. CLI: `az storage account update --name <account> --resource-group <rg> \
            --min-tls-version TLS1_2`.",
        frameworks: &[cis_foundations_6("9.3.6")],
        permissions: &[ACCOUNT_READ],
    },
    reads: &[ACCOUNTS],
    evaluate: min_tls_12,
    none_in_scope: NONE_IN_SCOPE,
};

fn min_tls_12(ctx: &EvalContext<'_>) -> Vec<Finding> {
    account_setting(
        ctx,
        "properties.minimumTlsVersion",
        "TLS1_2 or TLS1_3",
        |v| is_one_of(v, &["TLS1_2", "TLS1_3"]),
        "Requests need TLS 1.2 or later",
        "Requests over TLS older than 1.2 are accepted",
    )
}

/// Passes when `properties.allowBlobPublicAccess` is `false`.
///
/// Absent fails. The 2025-01-01 spec says "The default interpretation is false for this
/// property", but earlier API versions documented "The default interpretation is true", and
/// accounts that predate the change still report no value; the meaning of a missing value
/// depends on the account's history, so it is treated as unknown.
const BLOB_ANONYMOUS_ACCESS_DISABLED: Check = Check {
    meta: CheckMeta {
        id: "storage.blob_anonymous_access_disabled",
        title: "Anonymous blob access disallowed",
        severity: Severity::High,
        description: "When the account allows anonymous access, any container can be switched to \
            public and its blobs become readable by anyone with the URL, without credentials. \
            Disallowing it at the account level overrides every container setting.",
        remediation: "Portal: Storage account > Settings > Configuration > Allow Blob anonymous \
            access = Disabled. CLI: `az storage account update --name <account> \
            --resource-group <rg> --allow-blob-public-access false`.",
        frameworks: &[cis_foundations_6("9.3.8")],
        permissions: &[ACCOUNT_READ],
    },
    reads: &[ACCOUNTS],
    evaluate: blob_anonymous_access_disabled,
    none_in_scope: NONE_IN_SCOPE,
};

fn blob_anonymous_access_disabled(ctx: &EvalContext<'_>) -> Vec<Finding> {
    account_setting(
        ctx,
        "properties.allowBlobPublicAccess",
        "false",
        is_false,
        "Anonymous access to blobs is disallowed",
        "Anonymous access to blobs is not disallowed",
    )
}

/// Passes when `properties.networkAcls.defaultAction` is `Deny`.
///
/// Absent fails. Spec (`NetworkRuleSet.defaultAction`): `"default": "Allow"`, "Specifies the
/// default action of allow or deny when no other rules match."
const DEFAULT_NETWORK_DENY: Check = Check {
    meta: CheckMeta {
        id: "storage.default_network_deny",
        title: "Firewall default action is Deny",
        severity: Severity::High,
        description: "With the default action Allow, the storage firewall admits traffic from \
            every network and the IP and virtual-network rules restrict nothing. Denying by \
            default limits access to the networks listed explicitly.",
        remediation: "First allow the networks that need access (`az storage account network-rule \
            add ...`), then Portal: Storage account > Security + networking > Networking > \
            Public network access = Enabled from selected virtual networks and IP addresses (or \
            Disabled). CLI: `az storage account update --name <account> --resource-group <rg> \
            --default-action Deny`.",
        frameworks: &[cis_foundations_6("9.3.2.3")],
        permissions: &[ACCOUNT_READ],
    },
    reads: &[ACCOUNTS],
    evaluate: default_network_deny,
    none_in_scope: NONE_IN_SCOPE,
};

fn default_network_deny(ctx: &EvalContext<'_>) -> Vec<Finding> {
    account_setting(
        ctx,
        "properties.networkAcls.defaultAction",
        "Deny",
        |v| is_one_of(v, &["Deny"]),
        "The storage firewall denies networks not explicitly allowed",
        "The storage firewall allows all networks by default",
    )
}

/// Passes when `properties.publicNetworkAccess` is `Disabled`.
///
/// Absent fails: the spec documents no default ("Allow, disallow, or let Network Security
/// Perimeter configuration to evaluate public network access to Storage Account. Value is
/// optional ..."), and an account without the property is reachable through its public endpoint
/// subject only to its firewall. `SecuredByPerimeter` also fails: access then depends on a
/// perimeter configuration this check does not read.
const PUBLIC_NETWORK_DISABLED: Check = Check {
    meta: CheckMeta {
        id: "storage.public_network_disabled",
        title: "Public network access disabled",
        severity: Severity::Medium,
        description: "An account with public network access is reachable from the internet \
            through its public endpoint. Disabling it forces all traffic through private \
            endpoints, so data never leaves private networks.",
        remediation: "Create private endpoints for the clients first, then Portal: Storage \
            account > Security + networking > Networking > Public network access = Disabled. \
            CLI: `az storage account update --name <account> --resource-group <rg> \
            --public-network-access Disabled`.",
        frameworks: &[cis_foundations_6("9.3.2.2")],
        permissions: &[ACCOUNT_READ],
    },
    reads: &[ACCOUNTS],
    evaluate: public_network_disabled,
    none_in_scope: NONE_IN_SCOPE,
};

fn public_network_disabled(ctx: &EvalContext<'_>) -> Vec<Finding> {
    account_setting(
        ctx,
        "properties.publicNetworkAccess",
        "Disabled",
        |v| is_one_of(v, &["Disabled"]),
        "Public network access is disabled",
        "Public network access is not disabled",
    )
}

/// Passes when `properties.allowSharedKeyAccess` is `false`.
///
/// Absent fails. Spec: "The default value is null, which is equivalent to true."
const SHARED_KEY_DISABLED: Check = Check {
    meta: CheckMeta {
        id: "storage.shared_key_disabled",
        title: "Shared-key (account key) auth disabled",
        severity: Severity::Medium,
        description: "Account keys grant full access to all data, cannot be scoped and leave no \
            identity in the logs, and SAS tokens signed with them inherit the same weakness. \
            Disabling Shared Key forces Microsoft Entra ID authorization.",
        remediation: "Move clients to Microsoft Entra ID (RBAC) first, then Portal: Storage \
            account > Settings > Configuration > Allow storage account key access = Disabled. \
            CLI: `az storage account update --name <account> --resource-group <rg> \
            --allow-shared-key-access false`.",
        frameworks: &[cis_foundations_6("9.3.1.3")],
        permissions: &[ACCOUNT_READ],
    },
    reads: &[ACCOUNTS],
    evaluate: shared_key_disabled,
    none_in_scope: NONE_IN_SCOPE,
};

fn shared_key_disabled(ctx: &EvalContext<'_>) -> Vec<Finding> {
    account_setting(
        ctx,
        "properties.allowSharedKeyAccess",
        "false",
        is_false,
        "Shared Key authorization is disabled",
        "Shared Key authorization is allowed",
    )
}

/// Passes when `properties.allowCrossTenantReplication` is `false`.
///
/// Absent fails. Spec: "The default interpretation is false for new accounts to follow best
/// security practices by default." The default is only promised for new accounts (earlier API
/// versions documented true), so a missing value on an existing account is unknown.
const CROSS_TENANT_REPLICATION_OFF: Check = Check {
    meta: CheckMeta {
        id: "storage.cross_tenant_replication_off",
        title: "Cross-tenant object replication off",
        severity: Severity::Medium,
        description: "Cross-tenant object replication lets blobs be copied continuously to a \
            storage account in another Microsoft Entra tenant, outside this organization's \
            control. Disallowing it keeps replication inside the tenant.",
        remediation: "Portal: Storage account > Data management > Object replication > Advanced \
            settings > clear Allow cross-tenant replication. CLI: `az storage account update \
            --name <account> --resource-group <rg> --allow-cross-tenant-replication false`.",
        frameworks: &[cis_foundations_6("9.3.7")],
        permissions: &[ACCOUNT_READ],
    },
    reads: &[ACCOUNTS],
    evaluate: cross_tenant_replication_off,
    none_in_scope: NONE_IN_SCOPE,
};

fn cross_tenant_replication_off(ctx: &EvalContext<'_>) -> Vec<Finding> {
    account_setting(
        ctx,
        "properties.allowCrossTenantReplication",
        "false",
        is_false,
        "Cross-tenant object replication is disallowed",
        "Cross-tenant object replication is not disallowed",
    )
}

const MAX_KEY_AGE_DAYS: i64 = 90;
const KEY_PERIOD: &str = "properties.keyPolicy.keyExpirationPeriodInDays";
const KEY_TIMES: [(&str, &str); 2] = [
    ("key1", "properties.keyCreationTime.key1"),
    ("key2", "properties.keyCreationTime.key2"),
];

/// Passes when `properties.keyPolicy.keyExpirationPeriodInDays` is between 1 and 90 and both
/// `properties.keyCreationTime.key1` and `.key2` are RFC 3339 times at most 90 days before
/// `ctx.now` (exactly 90 days passes).
///
/// Absent fails. The spec documents no default for `keyPolicy` ("KeyPolicy assigned to the
/// storage account"): without it no rotation reminder exists. `keyCreationTime` ("Storage
/// account keys creation time") is missing on accounts whose keys were never regenerated since
/// the property was introduced, so their age is unknown; an unparseable time fails too.
const KEY_ROTATION: Check = Check {
    meta: CheckMeta {
        id: "storage.key_rotation",
        title: "Keys rotated ≤ 90 days and reminder set",
        severity: Severity::Medium,
        description: "Account keys never expire on their own, so a key leaked once keeps working \
            until it is regenerated. A key expiration policy raises rotation reminders, and \
            rotating both keys at least every 90 days limits how long a leaked key is useful.",
        remediation: "Portal: Storage account > Security + networking > Access keys > Set rotation \
            reminder (90 days or less), then Rotate key for key1 and key2. CLI: `az storage \
            account update --name <account> --resource-group <rg> --key-exp-days 90`, then \
            `az storage account keys renew --account-name <account> --resource-group <rg> \
            --key primary` and again with `--key secondary` (update clients between the two).",
        frameworks: &[cis_foundations_6("9.3.1.1"), cis_foundations_6("9.3.1.2")],
        permissions: &[ACCOUNT_READ],
    },
    reads: &[ACCOUNTS],
    evaluate: key_rotation,
    none_in_scope: NONE_IN_SCOPE,
};

fn key_rotation(ctx: &EvalContext<'_>) -> Vec<Finding> {
    let cutoff = ctx.now - Duration::days(MAX_KEY_AGE_DAYS);
    let key_expected = format!(
        "RFC 3339 time no earlier than {} (at most {MAX_KEY_AGE_DAYS} days old)",
        cutoff.to_rfc3339_opts(SecondsFormat::Secs, true)
    );
    each_account(ctx, |account| {
        let period_problem = match props::prop(account, KEY_PERIOD).and_then(Value::as_i64) {
            Some(days) if (1..=MAX_KEY_AGE_DAYS).contains(&days) => None,
            Some(days) => Some(format!("key expiration period is {days} days")),
            None => Some("no key expiration period (rotation reminder) is set".to_string()),
        };
        let key_problems = KEY_TIMES
            .iter()
            .filter_map(|(key, path)| key_age_problem(account, key, path, cutoff));
        let problems: Vec<String> = period_problem.into_iter().chain(key_problems).collect();
        let evidence = std::iter::once(props::evidence(account, KEY_PERIOD, "1 to 90 (days)"))
            .chain(
                KEY_TIMES
                    .iter()
                    .map(|(_, path)| props::evidence(account, path, &key_expected)),
            )
            .collect();
        props::verdict(
            account,
            problems.is_empty(),
            evidence,
            "Rotation reminder is at most 90 days and both keys are at most 90 days old",
            format!(
                "Keys are not rotated every 90 days: {}",
                problems.join("; ")
            ),
        )
    })
}

/// Why one access key fails the age rule, or `None` when it was created on or after `cutoff`.
fn key_age_problem(
    account: &Value,
    key: &str,
    path: &str,
    cutoff: DateTime<Utc>,
) -> Option<String> {
    let Some(raw) = props::prop_str(account, path) else {
        return Some(format!("{key} creation time is not recorded"));
    };
    match DateTime::parse_from_rfc3339(raw) {
        Err(_) => Some(format!(
            "{key} creation time {raw:?} is not an RFC 3339 time"
        )),
        Ok(created) if created < cutoff => Some(format!(
            "{key} was created {}, more than {MAX_KEY_AGE_DAYS} days ago",
            created.format("%Y-%m-%d")
        )),
        Ok(_) => None,
    }
}

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
const FILE_SHARES_HARDENED: Check = Check {
    meta: CheckMeta {
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
        frameworks: &[
            cis_foundations_6("9.1.1"),
            cis_foundations_6("9.1.2"),
            cis_foundations_6("9.1.3"),
        ],
        permissions: &[ACCOUNT_READ, FILE_SERVICE_READ],
    },
    reads: &[ACCOUNTS, FILE_SERVICES],
    evaluate: file_shares_hardened,
    none_in_scope: NONE_IN_SCOPE,
};

const SHARE_SOFT_DELETE: &str = "properties.shareDeleteRetentionPolicy.enabled";
const SMB_VERSIONS: &str = "properties.protocolSettings.smb.versions";
const SMB_CHANNEL_ENCRYPTION: &str = "properties.protocolSettings.smb.channelEncryption";

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

/// One finding per in-scope storage account.
fn each_account<'a>(
    ctx: &EvalContext<'a>,
    evaluate: impl Fn(&'a Value) -> Finding,
) -> Vec<Finding> {
    ctx.items(ACCOUNTS).iter().map(evaluate).collect()
}

/// One finding per account on a single property: passes when `passes` accepts the value at
/// `path` (it receives `None` when the property is absent).
fn account_setting(
    ctx: &EvalContext<'_>,
    path: &str,
    expected: &str,
    passes: fn(Option<&Value>) -> bool,
    pass_message: &str,
    fail_message: &str,
) -> Vec<Finding> {
    each_account(ctx, |account| {
        let value = props::prop(account, path);
        let shown = value.map_or_else(|| "not set".to_string(), Value::to_string);
        props::verdict(
            account,
            passes(value),
            vec![props::evidence(account, path, expected)],
            pass_message,
            format!("{fail_message} ({path} is {shown})"),
        )
    })
}

fn is_true(value: Option<&Value>) -> bool {
    value.and_then(Value::as_bool) == Some(true)
}

fn is_false(value: Option<&Value>) -> bool {
    value.and_then(Value::as_bool) == Some(false)
}

/// A string equal (ignoring ASCII case, as ARM enums are case-insensitive) to one of `allowed`.
fn is_one_of(value: Option<&Value>, allowed: &[&str]) -> bool {
    value
        .and_then(Value::as_str)
        .is_some_and(|s| allowed.iter().any(|a| s.eq_ignore_ascii_case(a)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::{CheckStatus, Dataset, FetchError, ListOutcome, run_check};
    use crate::messages::CheckResult;
    use chrono::TimeZone;
    use serde_json::json;

    /// A `GET /subscriptions/{s}/providers/Microsoft.Storage/storageAccounts` body: a compliant
    /// StorageV2 account, a legacy account with every insecure value set explicitly, an account
    /// with the optional properties absent (as in the spec's StorageAccountList example), and a
    /// compliant BlockBlobStorage account (no file service).
    const ACCOUNTS_JSON: &str = include_str!("fixtures/storage/accounts.json");
    /// `GET {account}/fileServices/default` bodies.
    const FILE_SERVICE_HARDENED: &str = include_str!("fixtures/storage/file_service_hardened.json");
    const FILE_SERVICE_PERMISSIVE: &str =
        include_str!("fixtures/storage/file_service_permissive.json");
    const FILE_SERVICE_UNSET: &str = include_str!("fixtures/storage/file_service_unset.json");

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0)
            .single()
            .expect("valid time")
    }

    fn parse(text: &str) -> Value {
        serde_json::from_str(text).expect("fixture is JSON")
    }

    fn accounts() -> Vec<Value> {
        parse(ACCOUNTS_JSON)["value"]
            .as_array()
            .expect("list body has value[]")
            .clone()
    }

    fn account(name: &str) -> Value {
        accounts()
            .into_iter()
            .find(|a| a["name"] == name)
            .expect("fixture account")
    }

    fn id_of(name: &str) -> String {
        account(name)["id"].as_str().expect("id").to_string()
    }

    fn dataset_with(accounts: Vec<Value>) -> Dataset {
        let mut dataset = Dataset::default();
        dataset.insert_list(ACCOUNTS, ListOutcome::Items(accounts));
        dataset
    }

    /// The four fixture accounts with the file services the collector would have fetched
    /// (none for the BlockBlobStorage account, which `has_file_service` skips).
    fn full_dataset() -> Dataset {
        let mut dataset = dataset_with(accounts());
        for (name, body) in [
            ("sthardened", FILE_SERVICE_HARDENED),
            ("stlegacy", FILE_SERVICE_PERMISSIVE),
            ("stbare", FILE_SERVICE_UNSET),
        ] {
            dataset.insert_child(
                FILE_SERVICES,
                &id_of(name),
                ChildOutcome::Object(parse(body)),
            );
        }
        dataset
    }

    fn run(id: &str, dataset: &Dataset) -> CheckResult {
        let check = SERVICE
            .checks
            .iter()
            .find(|c| c.meta.id == id)
            .expect("check exists");
        run_check(check, &EvalContext::new(dataset, now(), "sub-id"))
    }

    fn names_with(result: &CheckResult, status: FindingStatus) -> Vec<&str> {
        let mut names: Vec<&str> = result
            .findings
            .iter()
            .filter(|f| f.status == status)
            .map(|f| f.resource_name.as_str())
            .collect();
        names.sort_unstable();
        names
    }

    fn evidence<'r>(result: &'r CheckResult, name: &str, property: &str) -> &'r Value {
        let finding = result
            .findings
            .iter()
            .find(|f| f.resource_name == name)
            .expect("finding for account");
        &finding
            .evidence
            .iter()
            .find(|e| e.property == property)
            .unwrap_or_else(|| panic!("{name} has no evidence for {property}"))
            .value
    }

    /// The seven single-property checks: hardened and blob-only accounts pass, the legacy
    /// account fails on its explicit value, the bare account fails on the absent property and
    /// shows `null`.
    #[test]
    fn account_settings_pass_fail_and_absent() {
        let cases = [
            (
                "storage.secure_transfer_required",
                "properties.supportsHttpsTrafficOnly",
                json!(false),
            ),
            (
                "storage.min_tls_12",
                "properties.minimumTlsVersion",
                json!("TLS1_0"),
            ),
            (
                "storage.blob_anonymous_access_disabled",
                "properties.allowBlobPublicAccess",
                json!(true),
            ),
            (
                "storage.default_network_deny",
                "properties.networkAcls.defaultAction",
                json!("Allow"),
            ),
            (
                "storage.public_network_disabled",
                "properties.publicNetworkAccess",
                json!("Enabled"),
            ),
            (
                "storage.shared_key_disabled",
                "properties.allowSharedKeyAccess",
                json!(true),
            ),
            (
                "storage.cross_tenant_replication_off",
                "properties.allowCrossTenantReplication",
                json!(true),
            ),
        ];
        let dataset = full_dataset();
        for (id, path, legacy_value) in cases {
            let result = run(id, &dataset);
            assert_eq!(result.status, CheckStatus::Failed, "{id}");
            assert_eq!(result.findings.len(), 4, "{id}: one finding per account");
            assert_eq!(
                names_with(&result, FindingStatus::Failed),
                ["stbare", "stlegacy"],
                "{id}"
            );
            assert_eq!(
                names_with(&result, FindingStatus::Passed),
                ["stblobonly", "sthardened"],
                "{id}"
            );
            assert_eq!(evidence(&result, "stlegacy", path), &legacy_value, "{id}");
            assert_eq!(
                evidence(&result, "stbare", path),
                &Value::Null,
                "{id}: absent is null"
            );
            let bare = result.findings.iter().find(|f| f.resource_name == "stbare");
            let message = &bare.expect("stbare finding").message;
            assert!(message.contains("not set"), "{id}: {message}");
            assert!(
                result.reason.starts_with("2 of 4 resources fail"),
                "{}",
                result.reason
            );
        }
    }

    #[test]
    fn account_checks_pass_when_every_account_is_compliant() {
        let dataset = dataset_with(vec![account("sthardened"), account("stblobonly")]);
        for check in SERVICE.checks.iter().filter(|c| c.reads == [ACCOUNTS]) {
            let result = run(check.meta.id, &dataset);
            assert_eq!(
                result.status,
                CheckStatus::Passed,
                "{}: {:?}",
                check.meta.id,
                result
            );
            assert_eq!(result.reason, "All 2 resources in scope pass");
        }
    }

    #[test]
    fn tls_accepts_1_2_and_1_3_only() {
        let with_tls = |v: &str| {
            let mut a = account("sthardened");
            a["properties"]["minimumTlsVersion"] = json!(v);
            a
        };
        let dataset = dataset_with(vec![
            account("sthardened"),
            account("stblobonly"),
            with_tls("TLS1_1"),
        ]);
        let result = run("storage.min_tls_12", &dataset);
        assert_eq!(result.status, CheckStatus::Failed);
        assert_eq!(
            names_with(&result, FindingStatus::Passed),
            ["stblobonly", "sthardened"]
        );
        assert_eq!(
            evidence(&result, "stblobonly", "properties.minimumTlsVersion"),
            "TLS1_3"
        );
        let failed = result
            .findings
            .iter()
            .filter(|f| f.status == FindingStatus::Failed);
        let values: Vec<&Value> = failed
            .flat_map(|f| f.evidence.iter().map(|e| &e.value))
            .collect();
        assert_eq!(values, [&json!("TLS1_1")]);
    }

    #[test]
    fn public_network_secured_by_perimeter_is_not_disabled() {
        let mut a = account("sthardened");
        a["properties"]["publicNetworkAccess"] = json!("SecuredByPerimeter");
        let result = run("storage.public_network_disabled", &dataset_with(vec![a]));
        assert_eq!(result.status, CheckStatus::Failed);
    }

    #[test]
    fn enum_values_compare_case_insensitively_but_booleans_must_be_booleans() {
        let mut a = account("sthardened");
        a["properties"]["networkAcls"]["defaultAction"] = json!("deny");
        a["properties"]["allowSharedKeyAccess"] = json!("false");
        let dataset = dataset_with(vec![a]);
        assert_eq!(
            run("storage.default_network_deny", &dataset).status,
            CheckStatus::Passed
        );
        assert_eq!(
            run("storage.shared_key_disabled", &dataset).status,
            CheckStatus::Failed
        );
    }

    #[test]
    fn key_rotation_pass_fail_and_absent() {
        let result = run("storage.key_rotation", &full_dataset());
        assert_eq!(result.status, CheckStatus::Failed);
        assert_eq!(
            names_with(&result, FindingStatus::Passed),
            ["stblobonly", "sthardened"]
        );
        assert_eq!(
            names_with(&result, FindingStatus::Failed),
            ["stbare", "stlegacy"]
        );

        assert_eq!(evidence(&result, "stlegacy", KEY_PERIOD), 365);
        assert_eq!(
            evidence(&result, "stlegacy", "properties.keyCreationTime.key1"),
            "2021-03-18T04:42:22.4322836Z"
        );
        let legacy = result
            .findings
            .iter()
            .find(|f| f.resource_name == "stlegacy");
        let message = &legacy.expect("stlegacy").message;
        assert!(
            message.contains("key expiration period is 365 days"),
            "{message}"
        );
        assert!(
            message.contains("key1 was created 2021-03-18, more than 90 days ago"),
            "{message}"
        );
        assert!(message.contains("key2 was created 2021-03-18"), "{message}");

        for property in [
            KEY_PERIOD,
            "properties.keyCreationTime.key1",
            "properties.keyCreationTime.key2",
        ] {
            assert_eq!(
                evidence(&result, "stbare", property),
                &Value::Null,
                "{property}"
            );
        }
        let bare = result.findings.iter().find(|f| f.resource_name == "stbare");
        let message = &bare.expect("stbare").message;
        assert!(message.contains("no key expiration period"), "{message}");
        assert!(
            message.contains("key1 creation time is not recorded"),
            "{message}"
        );
    }

    #[test]
    fn key_rotation_uses_ctx_now_and_a_90_day_boundary() {
        let with_keys = |name: &str, key1: &str, key2: &str| {
            let mut a = account("sthardened");
            a["name"] = json!(name);
            a["properties"]["keyCreationTime"] = json!({"key1": key1, "key2": key2});
            a
        };
        let dataset = dataset_with(vec![
            // exactly 90 days before now (2026-06-01T00:00:00Z), with an offset
            with_keys(
                "exactly90",
                "2026-03-03T00:00:00Z",
                "2026-03-03T02:00:00+02:00",
            ),
            with_keys("key2stale", "2026-05-31T00:00:00Z", "2026-03-02T23:59:59Z"),
            with_keys("garbled", "yesterday", "2026-05-31T00:00:00Z"),
        ]);
        let result = run("storage.key_rotation", &dataset);
        assert_eq!(names_with(&result, FindingStatus::Passed), ["exactly90"]);
        assert_eq!(
            names_with(&result, FindingStatus::Failed),
            ["garbled", "key2stale"]
        );
        let message = |name: &str| {
            let f = result.findings.iter().find(|f| f.resource_name == name);
            f.expect("finding").message.clone()
        };
        assert!(
            message("key2stale").contains("key2 was created 2026-03-02, more than 90"),
            "{}",
            message("key2stale")
        );
        assert!(
            !message("key2stale").contains("key1"),
            "{}",
            message("key2stale")
        );
        assert!(message("garbled").contains("\"yesterday\" is not an RFC 3339 time"));
        assert_eq!(
            evidence(&result, "garbled", "properties.keyCreationTime.key1"),
            "yesterday"
        );
    }

    #[test]
    fn key_rotation_needs_a_positive_period_of_at_most_90_days() {
        for (period, passes) in [
            (json!(90), true),
            (json!(1), true),
            (json!(91), false),
            (json!(0), false),
            (json!("90"), false),
        ] {
            let mut a = account("sthardened");
            a["properties"]["keyPolicy"]["keyExpirationPeriodInDays"] = period.clone();
            let result = run("storage.key_rotation", &dataset_with(vec![a]));
            let expected = if passes {
                CheckStatus::Passed
            } else {
                CheckStatus::Failed
            };
            assert_eq!(result.status, expected, "period {period}");
        }
    }

    #[test]
    fn file_shares_pass_fail_absent_and_not_applicable() {
        let result = run("storage.file_shares_hardened", &full_dataset());
        assert_eq!(result.status, CheckStatus::Failed);
        assert_eq!(names_with(&result, FindingStatus::Passed), ["sthardened"]);
        assert_eq!(
            names_with(&result, FindingStatus::Failed),
            ["stbare", "stlegacy"]
        );
        assert_eq!(
            names_with(&result, FindingStatus::NotApplicable),
            ["stblobonly"]
        );

        let soft_delete = "fileServices/default.properties.shareDeleteRetentionPolicy.enabled";
        let versions = "fileServices/default.properties.protocolSettings.smb.versions";
        let channel = "fileServices/default.properties.protocolSettings.smb.channelEncryption";
        assert_eq!(evidence(&result, "sthardened", versions), "SMB3.1.1");
        assert_eq!(evidence(&result, "stlegacy", soft_delete), false);
        assert_eq!(
            evidence(&result, "stlegacy", versions),
            "SMB2.1;SMB3.0;SMB3.1.1"
        );
        assert_eq!(
            evidence(&result, "stlegacy", channel),
            "AES-128-CCM;AES-128-GCM;AES-256-GCM"
        );
        for property in [soft_delete, versions, channel] {
            assert_eq!(
                evidence(&result, "stbare", property),
                &Value::Null,
                "{property}"
            );
        }
        assert_eq!(evidence(&result, "stblobonly", "kind"), "BlockBlobStorage");
        // The finding is about the account, not its file service.
        let legacy = result
            .findings
            .iter()
            .find(|f| f.resource_name == "stlegacy");
        let legacy = legacy.expect("stlegacy");
        assert_eq!(legacy.resource_id, id_of("stlegacy"));
        assert_eq!(legacy.resource_type, "Microsoft.Storage/storageAccounts");
        assert!(
            legacy.message.contains("share soft delete is not enabled"),
            "{}",
            legacy.message
        );
    }

    #[test]
    fn file_shares_fail_on_any_single_weak_setting() {
        let hardened = parse(FILE_SERVICE_HARDENED);
        let variants = [
            (
                "properties.protocolSettings.smb.channelEncryption",
                json!("AES-128-GCM;AES-256-GCM"),
                "channel ciphers",
            ),
            (
                "properties.protocolSettings.smb.versions",
                json!("SMB3.0;SMB3.1.1"),
                "SMB versions",
            ),
            (
                "properties.protocolSettings.smb.versions",
                json!(""),
                "SMB versions",
            ),
            (
                "properties.shareDeleteRetentionPolicy.enabled",
                json!(false),
                "soft delete",
            ),
        ];
        for (path, value, problem) in variants {
            let mut service = hardened.clone();
            let mut slot = &mut service;
            for key in path.split('.') {
                slot = &mut slot[key];
            }
            *slot = value.clone();
            let mut dataset = dataset_with(vec![account("sthardened")]);
            dataset.insert_child(
                FILE_SERVICES,
                &id_of("sthardened"),
                ChildOutcome::Object(service),
            );
            let result = run("storage.file_shares_hardened", &dataset);
            assert_eq!(result.status, CheckStatus::Failed, "{path} = {value}");
            let message = &result.findings[0].message;
            assert!(message.contains(problem), "{path}: {message}");
            assert_eq!(
                message.matches(';').count(),
                0,
                "only one problem: {message}"
            );
        }
        // Trailing separators and casing do not matter.
        let mut service = hardened;
        service["properties"]["protocolSettings"]["smb"]["versions"] = json!("smb3.1.1;");
        let mut dataset = dataset_with(vec![account("sthardened")]);
        dataset.insert_child(
            FILE_SERVICES,
            &id_of("sthardened"),
            ChildOutcome::Object(service),
        );
        assert_eq!(
            run("storage.file_shares_hardened", &dataset).status,
            CheckStatus::Passed
        );
    }

    #[test]
    fn file_shares_child_access_denied_error_and_absent() {
        let denied = FetchError::AccessDenied {
            action: FILE_SERVICE_READ.to_string(),
            message: "AuthorizationFailed".to_string(),
        };
        let mut dataset = dataset_with(vec![
            account("sthardened"),
            account("stlegacy"),
            account("stblobonly"),
        ]);
        dataset.insert_child(
            FILE_SERVICES,
            &id_of("sthardened"),
            ChildOutcome::Failed(denied.clone()),
        );
        dataset.insert_child(FILE_SERVICES, &id_of("stlegacy"), ChildOutcome::Absent);
        let result = run("storage.file_shares_hardened", &dataset);
        assert_eq!(result.status, CheckStatus::FailedAccessDenied);
        assert_eq!(
            result.missing_permission.as_deref(),
            Some(FILE_SERVICE_READ)
        );
        assert_eq!(
            names_with(&result, FindingStatus::AccessDenied),
            ["sthardened"]
        );
        assert_eq!(
            names_with(&result, FindingStatus::NotApplicable),
            ["stblobonly", "stlegacy"]
        );

        // A proven failure on another account outranks the unreadable one.
        dataset.insert_child(
            FILE_SERVICES,
            &id_of("stlegacy"),
            ChildOutcome::Object(parse(FILE_SERVICE_PERMISSIVE)),
        );
        let result = run("storage.file_shares_hardened", &dataset);
        assert_eq!(result.status, CheckStatus::Failed);
        assert_eq!(result.missing_permission, None);

        // Other read errors end as Error; only not-applicable accounts end as Not applicable.
        let error = FetchError::Error {
            message: "HTTP 500 after retries".to_string(),
        };
        let mut dataset = dataset_with(vec![account("sthardened"), account("stblobonly")]);
        dataset.insert_child(
            FILE_SERVICES,
            &id_of("sthardened"),
            ChildOutcome::Failed(error),
        );
        assert_eq!(
            run("storage.file_shares_hardened", &dataset).status,
            CheckStatus::Error
        );
        let dataset = dataset_with(vec![account("stblobonly")]);
        let result = run("storage.file_shares_hardened", &dataset);
        assert_eq!(result.status, CheckStatus::NotApplicable);
        assert_eq!(result.reason, NONE_IN_SCOPE);
    }

    #[test]
    fn denied_account_list_fails_every_check_naming_the_permission() {
        let mut dataset = Dataset::default();
        let denied = FetchError::AccessDenied {
            action: ACCOUNT_READ.to_string(),
            message: "The client does not have authorization to perform action".to_string(),
        };
        dataset.insert_list(ACCOUNTS, ListOutcome::Failed(denied));
        for check in SERVICE.checks {
            let result = run(check.meta.id, &dataset);
            assert_eq!(
                result.status,
                CheckStatus::FailedAccessDenied,
                "{}",
                check.meta.id
            );
            assert_eq!(result.missing_permission.as_deref(), Some(ACCOUNT_READ));
            assert!(result.reason.contains(ACCOUNT_READ), "{}", result.reason);
            assert!(result.findings.is_empty());
        }
    }

    #[test]
    fn no_accounts_in_scope_is_not_applicable() {
        let dataset = dataset_with(Vec::new());
        for check in SERVICE.checks {
            let result = run(check.meta.id, &dataset);
            assert_eq!(
                result.status,
                CheckStatus::NotApplicable,
                "{}",
                check.meta.id
            );
            assert_eq!(result.reason, "No storage accounts in the selected regions");
        }
    }

    #[test]
    fn catalogue_lists_the_nine_storage_checks() {
        let ids: Vec<(&str, Severity)> = SERVICE
            .checks
            .iter()
            .map(|c| (c.meta.id, c.meta.severity))
            .collect();
        assert_eq!(
            ids,
            [
                ("storage.secure_transfer_required", Severity::High),
                ("storage.min_tls_12", Severity::High),
                ("storage.blob_anonymous_access_disabled", Severity::High),
                ("storage.default_network_deny", Severity::High),
                ("storage.public_network_disabled", Severity::Medium),
                ("storage.shared_key_disabled", Severity::Medium),
                ("storage.cross_tenant_replication_off", Severity::Medium),
                ("storage.key_rotation", Severity::Medium),
                ("storage.file_shares_hardened", Severity::Medium),
            ]
        );
        for check in SERVICE.checks {
            assert!(!check.meta.description.is_empty() && !check.meta.frameworks.is_empty());
            assert!(
                check.meta.permissions.contains(&ACCOUNT_READ),
                "{}",
                check.meta.id
            );
            for key in check.reads {
                let collection = SERVICE.collection(key).expect("declared collection");
                assert!(
                    check.meta.permissions.contains(&collection.permission),
                    "{}",
                    check.meta.id
                );
            }
        }
        let controls: Vec<&str> = FILE_SHARES_HARDENED
            .meta
            .frameworks
            .iter()
            .map(|f| f.control)
            .collect();
        assert_eq!(controls, ["9.1.1", "9.1.2", "9.1.3"]);
    }

    #[test]
    fn only_accounts_with_a_file_service_are_fetched() {
        assert!(has_file_service(&account("sthardened")));
        assert!(has_file_service(&account("stlegacy")));
        assert!(!has_file_service(&account("stblobonly")));
    }
}
