//! The Cosmos DB account settings: declarative checks over the account list (see
//! `checks::rule`).

use super::ACCOUNTS;
use crate::checks::{Check, CheckMeta, Example, Expect, Missing, Rule, Severity, Target};

/// Passes when, in `properties`, `publicNetworkAccess` is `Disabled`, or
/// `isVirtualNetworkFilterEnabled` is `true`, or `ipRules` is non-empty (the account accepts
/// only listed networks).
///
/// Each absent part does not match. Spec: `publicNetworkAccess` "Whether requests from Public
/// Network are allowed" (default Enabled); `isVirtualNetworkFilterEnabled` "Flag to indicate
/// whether to enable/disable Virtual Network ACL rules" (default false); `ipRules` "List of
/// IpRules" (none: every network).
pub const NETWORK_RESTRICTED: Check = Check::rule(
    CheckMeta {
        id: "cosmos.network_restricted",
        title: "Account not open to all networks",
        severity: Severity::High,
        description: "An account with public network access, no IP rules and no virtual \
            network filter accepts requests from any address on the internet; a leaked key or \
            token is then usable from anywhere.",
        remediation: "Portal: Azure Cosmos DB account > Settings > Networking > Public network \
            access = Selected networks (add virtual networks or IP ranges) or Disabled > Save. \
            CLI: `az cosmosdb update --resource-group <rg> --name <account> \
            --public-network-access Disabled` or `--ip-range-filter <cidr,...> \
            --enable-virtual-network true`.",
    },
    Rule {
        target: Target::Items(ACCOUNTS),
        path: "properties",
        expect: Expect::AnyOf(&[
            ("publicNetworkAccess", Expect::Equals("Disabled")),
            ("isVirtualNetworkFilterEnabled", Expect::True),
            ("ipRules", Expect::NonEmpty),
        ]),
        missing: Missing::Fails,
        when: None,
        pass: "The account accepts only selected networks or private endpoints",
        fail: "The account accepts requests from every network",
        pass_examples: &[
            Example::Json(r#"{"publicNetworkAccess": "Disabled"}"#),
            Example::Json(
                r#"{"publicNetworkAccess": "Enabled", "isVirtualNetworkFilterEnabled": true, "ipRules": []}"#,
            ),
            Example::Json(
                r#"{"publicNetworkAccess": "Enabled", "ipRules": [{"ipAddressOrRange": "203.0.113.0/24"}]}"#,
            ),
        ],
        fail_examples: &[
            Example::Json(
                r#"{"publicNetworkAccess": "Enabled", "isVirtualNetworkFilterEnabled": false, "ipRules": []}"#,
            ),
            Example::Json(r#"{}"#),
        ],
    },
);

const APPROVED: Expect = Expect::Equals("Approved");

/// Passes when some item of `properties.privateEndpointConnections` has
/// `properties.privateLinkServiceConnectionState.status` `Approved`.
///
/// Absent or empty fails: "List of Private Endpoint Connections configured for the Cosmos DB
/// account" (none: no private endpoint).
pub const PRIVATE_ENDPOINT: Check = Check::rule(
    CheckMeta {
        id: "cosmos.private_endpoint",
        title: "Private endpoint in use",
        severity: Severity::Medium,
        description: "A private endpoint gives the account an address inside a virtual network, \
            so applications reach it without crossing the internet and public access can be \
            turned off.",
        remediation: "Portal: Azure Cosmos DB account > Settings > Networking > Private access > \
            + Private endpoint. CLI: `az network private-endpoint create --resource-group <rg> \
            --name <endpoint> --vnet-name <vnet> --subnet <subnet> \
            --private-connection-resource-id <account-id> --group-id Sql \
            --connection-name <name>`.",
    },
    Rule {
        target: Target::Items(ACCOUNTS),
        path: "properties.privateEndpointConnections",
        expect: Expect::AnyElement {
            path: "properties.privateLinkServiceConnectionState.status",
            expect: &APPROVED,
        },
        missing: Missing::Fails,
        when: None,
        pass: "An approved private endpoint connection exists",
        fail: "No approved private endpoint connection",
        pass_examples: &[Example::Json(
            r#"[{"properties": {"privateLinkServiceConnectionState": {"status": "Approved"}}}]"#,
        )],
        fail_examples: &[
            Example::Json("[]"),
            Example::Json(
                r#"[{"properties": {"privateLinkServiceConnectionState": {"status": "Pending"}}}]"#,
            ),
            Example::Absent,
        ],
    },
);

/// Passes when `properties.disableLocalAuth` is `true`.
///
/// Absent fails. Spec: "Opt-out of local authentication and ensure only MSI and AAD can be
/// used exclusively for authentication." (default false).
pub const LOCAL_AUTH_DISABLED: Check = Check::rule(
    CheckMeta {
        id: "cosmos.local_auth_disabled",
        title: "Account keys disabled (Entra RBAC only)",
        severity: Severity::High,
        description: "Account keys give full access to every database and never expire; \
            anyone holding one is not identified, and it works until the key is regenerated. \
            Disabling local authentication leaves Microsoft Entra identities and RBAC as the \
            only way in.",
        remediation: "Move clients to Entra ID authentication, then CLI: `az resource update \
            --resource-group <rg> --name <account> --resource-type \
            Microsoft.DocumentDB/databaseAccounts --set properties.disableLocalAuth=true` (no \
            portal switch; also possible in the ARM template or Bicep).",
    },
    Rule {
        target: Target::Items(ACCOUNTS),
        path: "properties.disableLocalAuth",
        expect: Expect::True,
        missing: Missing::Fails,
        when: None,
        pass: "Only Microsoft Entra authentication is accepted",
        fail: "Account keys are accepted",
        pass_examples: &[Example::Bool(true)],
        fail_examples: &[Example::Bool(false), Example::Absent],
    },
);

/// Passes when `properties.disableKeyBasedMetadataWriteAccess` is `true`.
///
/// Absent fails. Spec: "Disable write operations on metadata resources (databases, containers,
/// throughput) via account keys" (default false).
pub const KEY_METADATA_WRITE_DISABLED: Check = Check::rule(
    CheckMeta {
        id: "cosmos.key_metadata_write_disabled",
        title: "Keys cannot change account metadata",
        severity: Severity::Medium,
        description: "With key-based metadata writes allowed, anyone holding an account key can \
            create or delete databases and containers and change throughput. Disabling it \
            leaves such changes to Azure Resource Manager, under RBAC and the activity log.",
        remediation: "CLI: `az cosmosdb update --resource-group <rg> --name <account> \
            --disable-key-based-metadata-write-access true` (no portal switch).",
    },
    Rule {
        target: Target::Items(ACCOUNTS),
        path: "properties.disableKeyBasedMetadataWriteAccess",
        expect: Expect::True,
        missing: Missing::Fails,
        when: None,
        pass: "Account keys cannot change databases, containers or throughput",
        fail: "Account keys can change databases, containers and throughput",
        pass_examples: &[Example::Bool(true)],
        fail_examples: &[Example::Bool(false), Example::Absent],
    },
);

/// Passes when `properties.minimalTlsVersion` is `Tls12` (or `Tls13`).
///
/// Absent fails. Spec: "Indicates the minimum allowed Tls version. The default is Tls 1.0,
/// except for Cassandra and Mongo API's, which only work with Tls 1.2."
pub const MIN_TLS_12: Check = Check::rule(
    CheckMeta {
        id: "cosmos.min_tls_12",
        title: "Minimum TLS 1.2",
        severity: Severity::Medium,
        description: "TLS 1.0 and 1.1 have known weaknesses and are deprecated; an account that \
            accepts them lets clients, or an attacker downgrading a connection, use a weak \
            protocol.",
        remediation: "Portal: Azure Cosmos DB account > Settings > Networking > Connectivity > \
            Minimum TLS version = TLS 1.2 > Save. CLI: `az cosmosdb update --resource-group \
            <rg> --name <account> --minimal-tls-version Tls12`.",
    },
    Rule {
        target: Target::Items(ACCOUNTS),
        path: "properties.minimalTlsVersion",
        expect: Expect::OneOf(&["Tls12", "Tls13"]),
        missing: Missing::Fails,
        when: None,
        pass: "Connections need TLS 1.2 or later",
        fail: "Connections over TLS older than 1.2 are accepted",
        pass_examples: &[Example::Str("Tls12")],
        fail_examples: &[Example::Str("Tls"), Example::Str("Tls11"), Example::Absent],
    },
);
