//! The App Configuration store checks, one property each: declarative checks over the store
//! list (see `checks::rule`).

use super::STORES;
use crate::checks::{Check, CheckMeta, Example, Expect, Missing, Rule, Severity, Target, When};

const APPROVED: Expect = Expect::Equals("Approved");

/// Stores of a paid SKU (Free has no purge protection, private endpoints or customer keys).
const PAID: When = When {
    path: "sku.name",
    expect: Expect::NotOneOf(&["Free"]),
};

/// Passes when `properties.publicNetworkAccess` is `Disabled`.
///
/// Absent (`null`) fails. Spec: "Control permission for data plane traffic coming from public
/// networks while private endpoint is enabled." A `null` value leaves the decision to whether
/// a private endpoint happens to exist (public access is allowed until one does), so the
/// posture is not stated; setting `Disabled` explicitly makes it unambiguous.
pub const PUBLIC_ACCESS_DISABLED: Check = Check::rule(
    CheckMeta {
        id: "appconfig.public_access_disabled",
        title: "Store not reachable from the internet",
        severity: Severity::High,
        description: "A store with public network access accepts requests from any network; \
            configuration often holds connection strings and feature flags that steer \
            production. Disabling public access limits the store to private endpoints.",
        remediation: "Portal: App Configuration store > Settings > Networking > Public network \
            access = Disabled. CLI: `az appconfig update --name <store> --resource-group <rg> \
            --enable-public-network false`.",
    },
    Rule {
        target: Target::Items(STORES),
        path: "properties.publicNetworkAccess",
        expect: Expect::Equals("Disabled"),
        missing: Missing::Fails,
        when: None,
        pass: "Public network access is disabled",
        fail: "Public network access is not disabled",
        pass_examples: &[Example::Str("Disabled")],
        fail_examples: &[Example::Str("Enabled"), Example::Absent],
    },
);

/// Passes when `properties.disableLocalAuth` is `true`.
///
/// Absent fails. Spec: "Disables all authentication methods other than AAD authentication.",
/// `"default": false`.
pub const LOCAL_AUTH_DISABLED: Check = Check::rule(
    CheckMeta {
        id: "appconfig.local_auth_disabled",
        title: "Access keys disabled (Entra ID only)",
        severity: Severity::Medium,
        description: "Access keys are shared secrets that grant read or read-write access to \
            every key-value without identifying the caller. Disabling them makes every client \
            use a Microsoft Entra ID identity with role-based access.",
        remediation: "Portal: App Configuration store > Settings > Access settings > Enable \
            access keys = off. CLI: `az appconfig update --name <store> --resource-group <rg> \
            --disable-local-auth true`.",
    },
    Rule {
        target: Target::Items(STORES),
        path: "properties.disableLocalAuth",
        expect: Expect::True,
        missing: Missing::Fails,
        when: None,
        pass: "Only Microsoft Entra ID authentication is accepted",
        fail: "Access-key authentication is accepted",
        pass_examples: &[Example::Bool(true)],
        fail_examples: &[Example::Bool(false), Example::Absent],
    },
);

/// Passes when `properties.enablePurgeProtection` is `true` (paid SKUs only).
///
/// Absent fails. Spec: "Property specifying whether protection against purge is enabled for
/// this configuration store.", `"default": false`.
pub const PURGE_PROTECTION: Check = Check::rule(
    CheckMeta {
        id: "appconfig.purge_protection",
        title: "Purge protection on",
        severity: Severity::Medium,
        description: "Without purge protection a deleted store can be purged before its \
            retention period ends, destroying every key-value for good. Purge protection keeps \
            deleted stores recoverable for the whole retention period.",
        remediation: "Portal: App Configuration store > Settings > Properties > Enable purge \
            protection (cannot be turned off again). CLI: `az appconfig update --name <store> \
            --resource-group <rg> --enable-purge-protection true`.",
    },
    Rule {
        target: Target::Items(STORES),
        path: "properties.enablePurgeProtection",
        expect: Expect::True,
        missing: Missing::Fails,
        when: Some(PAID),
        pass: "Purge protection is on",
        fail: "Purge protection is off",
        pass_examples: &[Example::Bool(true)],
        fail_examples: &[Example::Bool(false), Example::Absent],
    },
);

/// Passes when some element of `properties.privateEndpointConnections` has
/// `properties.privateLinkServiceConnectionState.status` `Approved` (paid SKUs only).
///
/// Absent or an empty list fails: "The list of private endpoint connections that are set up
/// for this resource."
pub const PRIVATE_ENDPOINT: Check = Check::rule(
    CheckMeta {
        id: "appconfig.private_endpoint",
        title: "Private endpoint in use",
        severity: Severity::Medium,
        description: "With a private endpoint, applications in your virtual networks reach the \
            store over a private address on the Microsoft backbone, and public access can then \
            be disabled.",
        remediation: "Portal: App Configuration store > Settings > Networking > Private Access \
            > + Create a private endpoint. CLI: `az network private-endpoint create --name \
            <pe> --resource-group <rg> --vnet-name <vnet> --subnet <subnet> \
            --private-connection-resource-id <store-id> --group-id configurationStores \
            --connection-name <name>`.",
    },
    Rule {
        target: Target::Items(STORES),
        path: "properties.privateEndpointConnections",
        expect: Expect::AnyElement {
            path: "properties.privateLinkServiceConnectionState.status",
            expect: &APPROVED,
        },
        missing: Missing::Fails,
        when: Some(PAID),
        pass: "An approved private endpoint is connected",
        fail: "No approved private endpoint is connected",
        pass_examples: &[Example::Json(
            r#"[{"properties": {"privateLinkServiceConnectionState": {"status": "Approved"}}}]"#,
        )],
        fail_examples: &[
            Example::Json(
                r#"[{"properties": {"privateLinkServiceConnectionState": {"status": "Pending"}}}]"#,
            ),
            Example::Json("[]"),
            Example::Absent,
        ],
    },
);

/// Passes when `properties.encryption.keyVaultProperties.keyIdentifier` is a non-empty URI
/// (paid SKUs only).
///
/// Absent fails: without it "The URI of the key vault key used to encrypt data." is unset and
/// the store is encrypted with Microsoft-managed keys.
pub const CMK: Check = Check::rule(
    CheckMeta {
        id: "appconfig.cmk",
        title: "Encrypted with CMK",
        severity: Severity::Low,
        description: "By default key-values are encrypted with keys Microsoft manages. A \
            customer-managed key in Key Vault lets you control, rotate and revoke the key, so \
            revoking it makes the data unreadable.",
        remediation: "Portal: App Configuration store > Settings > Encryption > Customer managed \
            key (the store needs a managed identity with key access). CLI: `az appconfig update \
            --name <store> --resource-group <rg> --encryption-key-vault <vault-uri> \
            --encryption-key-name <key> --identity-client-id <client-id>`.",
    },
    Rule {
        target: Target::Items(STORES),
        path: "properties.encryption.keyVaultProperties.keyIdentifier",
        expect: Expect::NonEmpty,
        missing: Missing::Fails,
        when: Some(PAID),
        pass: "Data is encrypted with a customer-managed key",
        fail: "Data is encrypted with Microsoft-managed keys only",
        pass_examples: &[Example::Str(
            "https://kv-contoso.vault.azure.net/keys/appconfig",
        )],
        fail_examples: &[Example::Str(""), Example::Absent],
    },
);
