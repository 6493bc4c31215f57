//! The registry settings, one property each: declarative checks over the registry list (see
//! `checks::rule`).

use super::REGISTRIES;
use crate::checks::{Check, CheckMeta, Example, Expect, Missing, Rule, Severity, Target};

/// Passes when `properties.adminUserEnabled` is `false`.
///
/// Absent passes. Spec: "The value that indicates whether the admin user is enabled." with
/// `"default": false`.
pub const ADMIN_USER_DISABLED: Check = Check::rule(
    CheckMeta {
        id: "acr.admin_user_disabled",
        title: "Admin user disabled",
        severity: Severity::High,
        description: "The admin user is one shared username and password with push and pull \
            rights on the whole registry: it cannot be scoped, is often copied into pipelines, \
            and leaves no individual identity in the logs. Use Microsoft Entra identities or \
            scoped tokens instead.",
        remediation: "Portal: Container registry > Settings > Access keys > clear Admin user. \
            CLI: `az acr update --name <registry> --admin-enabled false`.",
    },
    Rule {
        target: Target::Items(REGISTRIES),
        path: "properties.adminUserEnabled",
        expect: Expect::False,
        missing: Missing::Passes,
        when: None,
        pass: "The admin user is disabled",
        fail: "The admin user is enabled",
        pass_examples: &[Example::Bool(false), Example::Absent],
        fail_examples: &[Example::Bool(true)],
    },
);

/// Passes when `properties.anonymousPullEnabled` is not `true`.
///
/// Absent passes. Spec (2025-04-01): "Enables registry-wide pull from unauthenticated clients."
/// with `"default": false`. The collection is pinned to a version that has the property, so
/// absence is the default, not an older schema hiding it.
pub const ANONYMOUS_PULL_DISABLED: Check = Check::rule(
    CheckMeta {
        id: "acr.anonymous_pull_disabled",
        title: "Anonymous pull disabled",
        severity: Severity::High,
        description: "Anonymous pull lets anyone on the internet download every image in the \
            registry without credentials, exposing proprietary code, embedded configuration and \
            any secret baked into an image.",
        remediation: "Portal: Container registry > Settings > Properties > Anonymous pull = \
            Disabled (Standard and Premium SKUs). CLI: `az acr update --name <registry> \
            --anonymous-pull-enabled false`.",
    },
    Rule {
        target: Target::Items(REGISTRIES),
        path: "properties.anonymousPullEnabled",
        expect: Expect::False,
        missing: Missing::Passes,
        when: None,
        pass: "Anonymous pull is disabled",
        fail: "Anyone can pull images without credentials",
        pass_examples: &[Example::Bool(false), Example::Absent],
        fail_examples: &[Example::Bool(true)],
    },
);

/// Passes when `properties.publicNetworkAccess` is `Disabled` or
/// `properties.networkRuleSet.defaultAction` is `Deny`.
///
/// Absent fails. Spec: `publicNetworkAccess` "Whether or not public network access is allowed
/// for the container registry." (`"default": "Enabled"`); `networkRuleSet` exists only on
/// Premium registries, and its `defaultAction` defaults to `Allow`. A Basic or Standard
/// registry with public access enabled is reachable from every network.
pub const PUBLIC_ACCESS_DISABLED: Check = Check::rule(
    CheckMeta {
        id: "acr.public_access_disabled",
        title: "Registry not open to all networks",
        severity: Severity::High,
        description: "A registry open to all networks can be reached by anyone holding (or \
            guessing, or phishing) a credential from anywhere on the internet. Disabling public \
            access or denying by default limits it to private endpoints and listed networks.",
        remediation: "Portal: Container registry > Settings > Networking > Public access = \
            Disabled, or Selected networks with the allowed ranges (Premium SKU). CLI: `az acr \
            update --name <registry> --public-network-enabled false` or `az acr update --name \
            <registry> --default-action Deny`.",
    },
    Rule {
        target: Target::Items(REGISTRIES),
        path: "properties",
        expect: Expect::AnyOf(&[
            ("publicNetworkAccess", Expect::Equals("Disabled")),
            ("networkRuleSet.defaultAction", Expect::Equals("Deny")),
        ]),
        missing: Missing::Fails,
        when: None,
        pass: "The registry is not open to all networks",
        fail: "The registry accepts connections from all networks",
        pass_examples: &[
            Example::Json(r#"{"publicNetworkAccess": "Disabled"}"#),
            Example::Json(
                r#"{"publicNetworkAccess": "Enabled", "networkRuleSet": {"defaultAction": "Deny", "ipRules": []}}"#,
            ),
        ],
        fail_examples: &[
            Example::Json(
                r#"{"publicNetworkAccess": "Enabled", "networkRuleSet": {"defaultAction": "Allow"}}"#,
            ),
            Example::Json(r#"{"adminUserEnabled": false}"#),
            Example::Absent,
        ],
    },
);

const APPROVED: Expect = Expect::Equals("Approved");

/// Passes when `properties.privateEndpointConnections` has a connection whose
/// `properties.privateLinkServiceConnectionState.status` is `Approved`.
///
/// Absent fails: "List of private endpoint connections for a container registry." — no list
/// (or an empty one) means no private endpoint; a pending or rejected connection carries no
/// traffic.
pub const PRIVATE_ENDPOINT: Check = Check::rule(
    CheckMeta {
        id: "acr.private_endpoint",
        title: "Private endpoint in use",
        severity: Severity::Medium,
        description: "With an approved private endpoint, clients in the virtual network pull \
            and push over a private IP, so registry traffic never crosses the internet and \
            public access can be switched off.",
        remediation: "Portal: Container registry > Settings > Networking > Private access > \
            + Create a private endpoint connection (Premium SKU), then approve it. CLI: `az \
            network private-endpoint create --resource-group <rg> --name <pe> --vnet-name \
            <vnet> --subnet <subnet> --private-connection-resource-id <registry-id> \
            --group-id registry --connection-name <name>`.",
    },
    Rule {
        target: Target::Items(REGISTRIES),
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
            Example::Json(
                r#"[{"properties": {"privateLinkServiceConnectionState": {"status": "Pending"}}}]"#,
            ),
            Example::Json("[]"),
            Example::Absent,
        ],
    },
);
