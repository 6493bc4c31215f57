//! The legacy Media Services account settings, one property each: declarative checks over the
//! account list (see `checks::rule`).

use super::ACCOUNTS;
use crate::checks::{Check, CheckMeta, Example, Expect, Missing, Rule, Severity, Target};

/// Passes when `properties.publicNetworkAccess` is `Disabled`.
///
/// Absent fails. Last spec: "Whether or not public network access is allowed for resources under
/// the Media Services account.", `"default": "Enabled"`.
pub const PUBLIC_ACCESS_DISABLED: Check = Check::rule(
    CheckMeta {
        id: "media.public_access_disabled",
        title: "Public network access disabled (legacy)",
        severity: Severity::Low,
        description: "A Media Services account with public network access answers key delivery \
            and API requests from any network. The service is retired; until the account is \
            deleted, disabling public access limits what is still reachable.",
        remediation: "Portal: Media Services account > Networking > Public network access = \
            Disabled (or delete the retired account). CLI: `az resource update --ids \
            <account-id> --set properties.publicNetworkAccess=Disabled`.",
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
        fail_examples: &[Example::Str("Enabled"), Example::Absent],
    },
);

/// Passes when `properties.storageAuthentication` is `ManagedIdentity`.
///
/// Absent fails. Last spec: `storageAuthentication` enum `System` | `ManagedIdentity`, where
/// "System authentication" uses the storage account keys.
pub const STORAGE_MANAGED_IDENTITY: Check = Check::rule(
    CheckMeta {
        id: "media.storage_managed_identity",
        title: "Storage accessed via managed identity (legacy)",
        severity: Severity::Low,
        description: "With System authentication the account reaches its storage with the \
            storage account keys; a managed identity uses role-based access that can be \
            scoped and revoked without rotating keys.",
        remediation: "Portal: Media Services account > Storage accounts > Storage \
            authentication = Managed identity (or delete the retired account). CLI: `az ams \
            account storage set-authentication --account-name <account> --resource-group <rg> \
            --storage-auth ManagedIdentity`.",
    },
    Rule {
        target: Target::Items(ACCOUNTS),
        path: "properties.storageAuthentication",
        expect: Expect::Equals("ManagedIdentity"),
        missing: Missing::Fails,
        when: None,
        pass: "Storage is accessed with a managed identity",
        fail: "Storage is accessed with account keys",
        pass_examples: &[Example::Str("ManagedIdentity")],
        fail_examples: &[Example::Str("System"), Example::Absent],
    },
);

/// Passes when `identity.type` is set and not `None`.
///
/// Absent fails: without an `identity` the account has no managed identity ("The Managed
/// Identity for the Media Services account.").
pub const MANAGED_IDENTITY: Check = Check::rule(
    CheckMeta {
        id: "media.managed_identity",
        title: "Account has a managed identity (legacy)",
        severity: Severity::Low,
        description: "Without a managed identity the account must use keys to reach storage \
            and Key Vault. A managed identity removes those secrets.",
        remediation: "Portal: Media Services account > Identity > System assigned = On (or \
            delete the retired account). CLI: `az ams account identity assign --name <account> \
            --resource-group <rg> --system-assigned`.",
    },
    Rule {
        target: Target::Items(ACCOUNTS),
        path: "identity.type",
        expect: Expect::AllOf(&[("", Expect::NonEmpty), ("", Expect::NotOneOf(&["None"]))]),
        missing: Missing::Fails,
        when: None,
        pass: "The account has a managed identity",
        fail: "The account has no managed identity",
        pass_examples: &[
            Example::Str("SystemAssigned"),
            Example::Str("UserAssigned"),
            Example::Str("SystemAssigned,UserAssigned"),
        ],
        fail_examples: &[Example::Str("None"), Example::Str(""), Example::Absent],
    },
);
