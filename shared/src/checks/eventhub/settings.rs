//! The Event Hubs namespace checks, each one property of the namespace or of its network rule
//! set: declarative checks (see `checks::rule`).

use super::{NAMESPACES, RULE_SETS};
use crate::checks::{Check, CheckMeta, Example, Expect, Missing, Rule, Severity, Target, When};

const APPROVED: Expect = Expect::Equals("Approved");

/// Passes when the namespace's network rule set (`networkRuleSets/default`) has
/// `properties.publicNetworkAccess` `Disabled` or `properties.defaultAction` `Deny`. The rule
/// set carries the namespace's public network access too, so one read decides.
///
/// Absent fails. Spec: defaultAction "Default Action for Network Rule Set" (a namespace
/// without rules answers `Allow`) and publicNetworkAccess "This determines if traffic is allowed
/// over public network. By default it is enabled."; a rule set that does not exist (404)
/// restricts nothing.
pub const NETWORK_RESTRICTED: Check = Check::rule(
    CheckMeta {
        id: "eventhub.network_restricted",
        title: "Namespace not open to all networks",
        severity: Severity::High,
        description: "A namespace whose network rule set allows all networks accepts \
            connections from anywhere on the internet; anyone holding a key or token can send \
            or read events. Denying by default, or disabling public access, limits access to \
            listed networks and private endpoints.",
        remediation: "Portal: Event Hubs namespace > Settings > Networking > Public network \
            access = Selected networks (add the virtual networks and IP ranges) or Disabled. \
            CLI: `az eventhubs namespace network-rule-set update --namespace-name <ns> \
            --resource-group <rg> --default-action Deny` or `az eventhubs namespace update \
            --name <ns> --resource-group <rg> --public-network-access Disabled`.",
    },
    Rule {
        target: Target::Child {
            parent: NAMESPACES,
            child: RULE_SETS,
        },
        path: "properties",
        expect: Expect::AnyOf(&[
            ("publicNetworkAccess", Expect::Equals("Disabled")),
            ("defaultAction", Expect::Equals("Deny")),
        ]),
        missing: Missing::Fails,
        when: None,
        pass: "The namespace is not open to all networks",
        fail: "The namespace accepts connections from all networks",
        pass_examples: &[
            Example::Json(r#"{"publicNetworkAccess": "Enabled", "defaultAction": "Deny"}"#),
            Example::Json(r#"{"publicNetworkAccess": "Disabled", "defaultAction": "Allow"}"#),
        ],
        fail_examples: &[
            Example::Json(r#"{"publicNetworkAccess": "Enabled", "defaultAction": "Allow"}"#),
            Example::Absent,
        ],
    },
);

/// Passes when `properties.disableLocalAuth` is `true`.
///
/// Absent fails. Spec: "This property disables SAS authentication for the Event Hubs
/// namespace." (default false).
pub const LOCAL_AUTH_DISABLED: Check = Check::rule(
    CheckMeta {
        id: "eventhub.local_auth_disabled",
        title: "SAS keys disabled",
        severity: Severity::Medium,
        description: "Shared access signature keys are shared secrets that do not identify the \
            caller and keep working until regenerated. Disabling local authentication makes \
            every client use a Microsoft Entra ID identity with role-based access.",
        remediation: "Portal: Event Hubs namespace > Settings > Configuration > Local \
            Authentication = Disabled. CLI: `az eventhubs namespace update --name <ns> \
            --resource-group <rg> --disable-local-auth true`.",
    },
    Rule {
        target: Target::Items(NAMESPACES),
        path: "properties.disableLocalAuth",
        expect: Expect::True,
        missing: Missing::Fails,
        when: None,
        pass: "Only Microsoft Entra ID authentication is accepted",
        fail: "SAS key authentication is accepted",
        pass_examples: &[Example::Bool(true)],
        fail_examples: &[Example::Bool(false), Example::Absent],
    },
);

/// Passes when `properties.minimumTlsVersion` is `1.2` (or later).
///
/// Absent fails. Spec: "The minimum TLS version for the cluster to support, e.g. '1.2'", with
/// no default documented; older namespaces accept TLS 1.0.
pub const MIN_TLS_12: Check = Check::rule(
    CheckMeta {
        id: "eventhub.min_tls_12",
        title: "Minimum TLS 1.2",
        severity: Severity::Medium,
        description: "TLS 1.0 and 1.1 have known weaknesses and are deprecated. A namespace \
            accepting them lets a client, or an attacker downgrading a connection, exchange \
            events over a weak protocol.",
        remediation: "Portal: Event Hubs namespace > Settings > Configuration > Minimum TLS \
            version = 1.2. CLI: `az eventhubs namespace update --name <ns> --resource-group \
            <rg> --minimum-tls-version 1.2`.",
    },
    Rule {
        target: Target::Items(NAMESPACES),
        path: "properties.minimumTlsVersion",
        expect: Expect::OneOf(&["1.2", "1.3"]),
        missing: Missing::Fails,
        when: None,
        pass: "Clients need TLS 1.2 or later",
        fail: "Clients may use TLS older than 1.2",
        pass_examples: &[Example::Str("1.2")],
        fail_examples: &[Example::Str("1.0"), Example::Str("1.1"), Example::Absent],
    },
);

/// Passes when some element of `properties.privateEndpointConnections` is `Approved`. Only
/// Standard, Premium and Dedicated namespaces are evaluated: the Basic tier does not support
/// private endpoints.
///
/// Absent or an empty list fails: "List of private endpoint connections."
pub const PRIVATE_ENDPOINT: Check = Check::rule(
    CheckMeta {
        id: "eventhub.private_endpoint",
        title: "Private endpoint in use",
        severity: Severity::Medium,
        description: "With a private endpoint, clients in your virtual networks reach the \
            namespace over a private address on the Microsoft backbone, and public access can \
            then be switched off entirely.",
        remediation: "Portal: Event Hubs namespace > Settings > Networking > Private endpoint \
            connections > + Private endpoint. CLI: `az network private-endpoint create --name \
            <pe> --resource-group <rg> --vnet-name <vnet> --subnet <subnet> \
            --private-connection-resource-id <namespace-id> --group-id namespace \
            --connection-name <name>`.",
    },
    Rule {
        target: Target::Items(NAMESPACES),
        path: "properties.privateEndpointConnections",
        expect: Expect::AnyElement {
            path: "properties.privateLinkServiceConnectionState.status",
            expect: &APPROVED,
        },
        missing: Missing::Fails,
        when: Some(When {
            path: "sku.tier",
            expect: Expect::OneOf(&["Standard", "Premium", "Dedicated"]),
        }),
        pass: "An approved private endpoint is connected",
        fail: "No approved private endpoint is connected",
        pass_examples: &[Example::Json(
            r#"[{"properties": {"privateLinkServiceConnectionState": {"status": "Approved"}}}]"#,
        )],
        fail_examples: &[
            Example::Json(
                r#"[{"properties": {"privateLinkServiceConnectionState": {"status": "Rejected"}}}]"#,
            ),
            Example::Json("[]"),
            Example::Absent,
        ],
    },
);
