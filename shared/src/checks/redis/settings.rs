//! The Azure Cache for Redis settings: declarative checks over the cache list (see
//! `checks::rule`).

use super::CACHES;
use crate::checks::{Check, CheckMeta, Example, Expect, Missing, Rule, Severity, Target};

/// Passes when `properties.enableNonSslPort` is `false`.
///
/// Absent passes. Spec: "Specifies whether the non-ssl Redis server port (6379) is enabled."
/// with `"default": false`, and the service has created caches with the port closed since it
/// was introduced.
pub const NON_SSL_PORT_DISABLED: Check = Check::rule(
    CheckMeta {
        id: "redis.non_ssl_port_disabled",
        title: "Non-TLS port 6379 disabled",
        severity: Severity::High,
        description: "The non-TLS port carries the access key and all cached data in clear \
            text, readable and alterable by anyone on the network path.",
        remediation: "Portal: Azure Cache for Redis > Settings > Advanced settings > Allow \
            access only via TLS = Yes > Save. CLI: \
            `az redis update --resource-group <rg> --name <cache> --set \
            enableNonSslPort=false`.",
    },
    Rule {
        target: Target::Items(CACHES),
        path: "properties.enableNonSslPort",
        expect: Expect::False,
        missing: Missing::Passes,
        when: None,
        pass: "Only the TLS port is open",
        fail: "The non-TLS port 6379 is open",
        pass_examples: &[Example::Bool(false), Example::Absent],
        fail_examples: &[Example::Bool(true)],
    },
);

/// Passes when `properties.minimumTlsVersion` is `1.2` (or `1.3`).
///
/// Absent fails. Spec: "Optional: requires clients to use a specified TLS version (or higher)
/// to connect (e,g, '1.0', '1.1', '1.2')" (no default documented).
pub const MIN_TLS_12: Check = Check::rule(
    CheckMeta {
        id: "redis.min_tls_12",
        title: "Minimum TLS 1.2",
        severity: Severity::High,
        description: "TLS 1.0 and 1.1 have known weaknesses and are deprecated; a cache that \
            accepts them lets clients, or an attacker downgrading a connection, use a weak \
            protocol.",
        remediation: "Portal: Azure Cache for Redis > Settings > Advanced settings > Minimum TLS \
            version = 1.2 > Save. CLI: `az redis update --resource-group <rg> --name <cache> \
            --set minimumTlsVersion=1.2`.",
    },
    Rule {
        target: Target::Items(CACHES),
        path: "properties.minimumTlsVersion",
        expect: Expect::OneOf(&["1.2", "1.3"]),
        missing: Missing::Fails,
        when: None,
        pass: "Connections need TLS 1.2 or later",
        fail: "Connections over TLS older than 1.2 are accepted",
        pass_examples: &[Example::Str("1.2")],
        fail_examples: &[Example::Str("1.0"), Example::Str("1.1"), Example::Absent],
    },
);

/// Passes when, in `properties`, `publicNetworkAccess` is `Disabled` or `subnetId` is set (the
/// cache is injected into a virtual network and has no public endpoint).
///
/// Absent fails. Spec: "Whether or not public endpoint access is allowed for this cache. ...
/// If 'Disabled', private endpoints are the exclusive access method. Default value is
/// 'Enabled'."
pub const PUBLIC_ACCESS_DISABLED: Check = Check::rule(
    CheckMeta {
        id: "redis.public_access_disabled",
        title: "Not reachable from the internet",
        severity: Severity::High,
        description: "A cache with public network access answers on a public endpoint, where \
            anyone holding a leaked access key can read and change its data from anywhere.",
        remediation: "Create a private endpoint first, then Portal: Azure Cache for Redis > \
            Settings > Private Endpoint > Enable public network access = No > Save. CLI: `az \
            redis update --resource-group <rg> --name <cache> --set \
            publicNetworkAccess=Disabled`.",
    },
    Rule {
        target: Target::Items(CACHES),
        path: "properties",
        expect: Expect::AnyOf(&[
            ("publicNetworkAccess", Expect::Equals("Disabled")),
            ("subnetId", Expect::NonEmpty),
        ]),
        missing: Missing::Fails,
        when: None,
        pass: "The cache has no public endpoint",
        fail: "The cache is reachable through its public endpoint",
        pass_examples: &[
            Example::Json(r#"{"publicNetworkAccess": "Disabled"}"#),
            Example::Json(
                r#"{"publicNetworkAccess": "Enabled", "subnetId": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/redis"}"#,
            ),
        ],
        fail_examples: &[
            Example::Json(r#"{"publicNetworkAccess": "Enabled"}"#),
            Example::Json(r#"{}"#),
        ],
    },
);

/// Passes when `properties.redisConfiguration.aad-enabled` is `"true"` (a string, as the
/// service reports every Redis configuration value).
///
/// Absent fails. Spec: "Specifies whether AAD based authentication has been enabled or
/// disabled for the cache" (default off).
pub const ENTRA_AUTH: Check = Check::rule(
    CheckMeta {
        id: "redis.entra_auth",
        title: "Entra ID auth enabled",
        severity: Severity::Medium,
        description: "With Microsoft Entra authentication, clients connect as identities with \
            access policies, tokens expire and access is revoked centrally; otherwise the only \
            credentials are shared access keys.",
        remediation: "Portal: Azure Cache for Redis > Settings > Authentication > Microsoft \
            Entra Authentication > Enable > Save. CLI: `az redis update --resource-group <rg> \
            --name <cache> --set redisConfiguration.aad-enabled=true`.",
    },
    Rule {
        target: Target::Items(CACHES),
        path: "properties.redisConfiguration.aad-enabled",
        expect: Expect::Equals("true"),
        missing: Missing::Fails,
        when: None,
        pass: "Microsoft Entra authentication is enabled",
        fail: "Microsoft Entra authentication is not enabled",
        pass_examples: &[Example::Str("true"), Example::Str("True")],
        fail_examples: &[Example::Str("false"), Example::Absent],
    },
);

/// Passes when `properties.disableAccessKeyAuthentication` is `true`.
///
/// Absent fails. Spec: "Authentication to Redis through access keys is disabled when set as
/// true. Default value is false."
pub const ACCESS_KEYS_DISABLED: Check = Check::rule(
    CheckMeta {
        id: "redis.access_keys_disabled",
        title: "Access-key auth disabled",
        severity: Severity::Medium,
        description: "Access keys are shared secrets with full access that never expire; \
            anyone holding one is not identified. Disabling them leaves Microsoft Entra \
            identities as the only way to connect.",
        remediation: "Enable Microsoft Entra authentication and move clients to it, then \
            Portal: Azure Cache for Redis > Settings > Authentication > Access keys > Disable \
            Access Keys Authentication > Save. CLI: `az redis update --resource-group <rg> \
            --name <cache> --set disableAccessKeyAuthentication=true`.",
    },
    Rule {
        target: Target::Items(CACHES),
        path: "properties.disableAccessKeyAuthentication",
        expect: Expect::True,
        missing: Missing::Fails,
        when: None,
        pass: "Access-key authentication is disabled",
        fail: "Access-key authentication is enabled",
        pass_examples: &[Example::Bool(true)],
        fail_examples: &[Example::Bool(false), Example::Absent],
    },
);
