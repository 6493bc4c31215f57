//! The storage account settings that are one property each: declarative checks over the
//! subscription's storage account list (see `checks::rule`).

use super::ACCOUNTS;
use crate::checks::{Check, CheckMeta, Example, Expect, Missing, Rule, Severity, Target};

/// Passes when `properties.supportsHttpsTrafficOnly` is `true`.
///
/// Absent fails. Spec: "Allows https traffic only to storage service if sets to true. The default
/// value is true since API version 2019-04-01." That is a creation default that depends on the
/// API version the account was created with (older accounts defaulted to HTTP allowed), so a
/// missing value says nothing certain.
pub const SECURE_TRANSFER_REQUIRED: Check = Check::rule(
    CheckMeta {
        id: "storage.secure_transfer_required",
        title: "HTTPS-only transfer required",
        severity: Severity::High,
        description: "Without secure transfer the account accepts plain HTTP (and unencrypted SMB) \
            requests, so data and shared-access signatures can be read or altered in transit. \
            Requiring HTTPS rejects every unencrypted request.",
        remediation: "Portal: Storage account > Settings > Configuration > Secure transfer \
            required = Enabled. CLI: `az storage account update --name <account> \
            --resource-group <rg> --https-only true`.",
    },
    Rule {
        target: Target::Items(ACCOUNTS),
        path: "properties.supportsHttpsTrafficOnly",
        expect: Expect::True,
        missing: Missing::Fails,
        when: None,
        pass: "Only HTTPS requests are accepted",
        fail: "Unencrypted HTTP requests are not rejected",
        pass_examples: &[Example::Bool(true)],
        fail_examples: &[Example::Bool(false), Example::Absent],
    },
);

/// Passes when `properties.minimumTlsVersion` is `TLS1_2` or `TLS1_3`.
///
/// Absent fails. Spec: "Set the minimum TLS version to be permitted on requests to storage. The
/// default interpretation is TLS 1.0 for this property."
pub const MIN_TLS_12: Check = Check::rule(
    CheckMeta {
        id: "storage.min_tls_12",
        title: "Minimum TLS 1.2",
        severity: Severity::High,
        description: "TLS 1.0 and 1.1 have known weaknesses and are deprecated. Accepting them \
            lets a client, or an attacker downgrading a connection, reach the account over a \
            weak protocol.",
        remediation: "Portal: Storage account > Settings > Configuration > Minimum TLS version = \
            Version 1.2. CLI: `az storage account update --name <account> --resource-group <rg> \
            --min-tls-version TLS1_2`.",
    },
    Rule {
        target: Target::Items(ACCOUNTS),
        path: "properties.minimumTlsVersion",
        expect: Expect::OneOf(&["TLS1_2", "TLS1_3"]),
        missing: Missing::Fails,
        when: None,
        pass: "Requests need TLS 1.2 or later",
        fail: "Requests over TLS older than 1.2 are accepted",
        pass_examples: &[Example::Str("TLS1_2"), Example::Str("TLS1_3")],
        fail_examples: &[
            Example::Str("TLS1_0"),
            Example::Str("TLS1_1"),
            Example::Absent,
        ],
    },
);

/// Passes when `properties.allowBlobPublicAccess` is `false`.
///
/// Absent fails. The 2025-01-01 spec says "The default interpretation is false for this
/// property", but earlier API versions documented "The default interpretation is true", and
/// accounts that predate the change still report no value; the meaning of a missing value
/// depends on the account's history, so it is treated as unknown.
pub const BLOB_ANONYMOUS_ACCESS_DISABLED: Check = Check::rule(
    CheckMeta {
        id: "storage.blob_anonymous_access_disabled",
        title: "Anonymous blob access disallowed",
        severity: Severity::High,
        description: "When the account allows anonymous access, any container can be switched to \
            public and its blobs become readable by anyone with the URL, without credentials. \
            Disallowing it at the account level overrides every container setting.",
        remediation: "Portal: Storage account > Settings > Configuration > Allow Blob anonymous \
            access = Disabled. CLI: `az storage account update --name <account> \
            --resource-group <rg> --allow-blob-public-access false`.",
    },
    Rule {
        target: Target::Items(ACCOUNTS),
        path: "properties.allowBlobPublicAccess",
        expect: Expect::False,
        missing: Missing::Fails,
        when: None,
        pass: "Anonymous access to blobs is disallowed",
        fail: "Anonymous access to blobs is not disallowed",
        pass_examples: &[Example::Bool(false)],
        fail_examples: &[Example::Bool(true), Example::Absent],
    },
);

/// Passes when `properties.networkAcls.defaultAction` is `Deny`.
///
/// Absent fails. Spec (`NetworkRuleSet.defaultAction`): `"default": "Allow"`, "Specifies the
/// default action of allow or deny when no other rules match."
pub const DEFAULT_NETWORK_DENY: Check = Check::rule(
    CheckMeta {
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
    },
    Rule {
        target: Target::Items(ACCOUNTS),
        path: "properties.networkAcls.defaultAction",
        expect: Expect::Equals("Deny"),
        missing: Missing::Fails,
        when: None,
        pass: "The storage firewall denies networks not explicitly allowed",
        fail: "The storage firewall allows all networks by default",
        pass_examples: &[Example::Str("Deny")],
        fail_examples: &[Example::Str("Allow"), Example::Absent],
    },
);

/// Passes when `properties.publicNetworkAccess` is `Disabled`.
///
/// Absent fails: the spec documents no default ("Allow, disallow, or let Network Security
/// Perimeter configuration to evaluate public network access to Storage Account. Value is
/// optional ..."), and an account without the property is reachable through its public endpoint
/// subject only to its firewall. `SecuredByPerimeter` also fails: access then depends on a
/// perimeter configuration this check does not read.
pub const PUBLIC_NETWORK_DISABLED: Check = Check::rule(
    CheckMeta {
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
    },
    Rule {
        target: Target::Items(ACCOUNTS),
        path: "properties.publicNetworkAccess",
        expect: Expect::Equals("Disabled"),
        missing: Missing::Fails,
        when: None,
        pass: "Public network access is disabled",
        fail: "Public network access is not disabled",
        pass_examples: &[Example::Str("Disabled")],
        fail_examples: &[
            Example::Str("Enabled"),
            Example::Str("SecuredByPerimeter"),
            Example::Absent,
        ],
    },
);

/// Passes when `properties.allowSharedKeyAccess` is `false`.
///
/// Absent fails. Spec: "The default value is null, which is equivalent to true."
pub const SHARED_KEY_DISABLED: Check = Check::rule(
    CheckMeta {
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
    },
    Rule {
        target: Target::Items(ACCOUNTS),
        path: "properties.allowSharedKeyAccess",
        expect: Expect::False,
        missing: Missing::Fails,
        when: None,
        pass: "Shared Key authorization is disabled",
        fail: "Shared Key authorization is allowed",
        pass_examples: &[Example::Bool(false)],
        fail_examples: &[Example::Bool(true), Example::Absent],
    },
);

/// Passes when `properties.allowCrossTenantReplication` is `false`.
///
/// Absent fails. Spec: "The default interpretation is false for new accounts to follow best
/// security practices by default." The default is only promised for new accounts (earlier API
/// versions documented true), so a missing value on an existing account is unknown.
pub const CROSS_TENANT_REPLICATION_OFF: Check = Check::rule(
    CheckMeta {
        id: "storage.cross_tenant_replication_off",
        title: "Cross-tenant object replication off",
        severity: Severity::Medium,
        description: "Cross-tenant object replication lets blobs be copied continuously to a \
            storage account in another Microsoft Entra tenant, outside this organization's \
            control. Disallowing it keeps replication inside the tenant.",
        remediation: "Portal: Storage account > Data management > Object replication > Advanced \
            settings > clear Allow cross-tenant replication. CLI: `az storage account update \
            --name <account> --resource-group <rg> --allow-cross-tenant-replication false`.",
    },
    Rule {
        target: Target::Items(ACCOUNTS),
        path: "properties.allowCrossTenantReplication",
        expect: Expect::False,
        missing: Missing::Fails,
        when: None,
        pass: "Cross-tenant object replication is disallowed",
        fail: "Cross-tenant object replication is not disallowed",
        pass_examples: &[Example::Bool(false)],
        fail_examples: &[Example::Bool(true), Example::Absent],
    },
);
