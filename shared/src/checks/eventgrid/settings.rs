//! The Event Grid checks: one declarative rule each, applied to topics and domains.

use super::{READS, TOPICS, both};
use crate::checks::{
    Check, CheckMeta, EvalContext, Example, Expect, Missing, Rule, Severity, Target,
};
use crate::messages::Finding;

const DISABLED: Expect = Expect::Equals("Disabled");
const APPROVED: Expect = Expect::Equals("Approved");

/// Passes when `properties.publicNetworkAccess` is `Disabled` or `properties.inboundIpRules` is
/// a non-empty list (the public endpoint admits only the listed addresses).
///
/// Absent fails. Spec: publicNetworkAccess "This determines if traffic is allowed over public
/// network. By default it is enabled." and inboundIpRules "This can be used to restrict traffic
/// from specific IPs instead of all IPs." (an empty list restricts nothing).
pub(super) const PUBLIC_ACCESS_RULE: Rule = Rule {
    target: Target::Items(TOPICS),
    path: "properties",
    expect: Expect::AnyOf(&[
        ("publicNetworkAccess", DISABLED),
        ("inboundIpRules", Expect::NonEmpty),
    ]),
    missing: Missing::Fails,
    when: None,
    pass: "Publishing is not open to all networks",
    fail: "Publishing is open to all networks",
    pass_examples: &[
        Example::Json(r#"{"publicNetworkAccess": "Disabled"}"#),
        Example::Json(
            r#"{"publicNetworkAccess": "Enabled", "inboundIpRules": [{"ipMask": "203.0.113.0/24", "action": "Allow"}]}"#,
        ),
    ],
    fail_examples: &[
        Example::Json(r#"{"publicNetworkAccess": "Enabled", "inboundIpRules": []}"#),
        Example::Json(r#"{"inboundIpRules": []}"#),
    ],
};

pub const PUBLIC_ACCESS_DISABLED: Check = Check::custom(
    CheckMeta {
        id: "eventgrid.public_access_disabled",
        title: "Topic/domain not open to all networks",
        severity: Severity::Medium,
        description: "A topic or domain whose public endpoint accepts every network can be \
            reached by anyone on the internet holding a key or token. Disabling public access \
            (private endpoints only) or listing the allowed IP ranges limits who can publish \
            events.",
        remediation: "Portal: Event Grid topic (or domain) > Settings > Networking > Public \
            network access = Disabled, or Public networks with IP addresses listed. CLI: `az \
            eventgrid topic update --name <topic> --resource-group <rg> \
            --public-network-access disabled` (`az eventgrid domain update ...` for domains).",
    },
    READS,
    public_access,
);

fn public_access(ctx: &EvalContext<'_>) -> Vec<Finding> {
    both(&PUBLIC_ACCESS_RULE, ctx)
}

/// Passes when `properties.disableLocalAuth` is `true`.
///
/// Absent fails. Spec: "This boolean is used to enable or disable local auth. Default value is
/// false. When the property is set to true, only Microsoft Entra ID token will be used to
/// authenticate if user is allowed to publish to the topic."
pub(super) const LOCAL_AUTH_RULE: Rule = Rule {
    target: Target::Items(TOPICS),
    path: "properties.disableLocalAuth",
    expect: Expect::True,
    missing: Missing::Fails,
    when: None,
    pass: "Only Microsoft Entra ID tokens can publish",
    fail: "Access keys and SAS tokens can publish",
    pass_examples: &[Example::Bool(true)],
    fail_examples: &[Example::Bool(false), Example::Absent],
};

pub const LOCAL_AUTH_DISABLED: Check = Check::custom(
    CheckMeta {
        id: "eventgrid.local_auth_disabled",
        title: "SAS/key auth disabled",
        severity: Severity::Medium,
        description: "Access keys and SAS tokens are shared secrets that do not identify the \
            caller, cannot be scoped by role and keep working until rotated. Disabling local \
            authentication makes every publisher use a Microsoft Entra ID identity.",
        remediation: "Portal: Event Grid topic (or domain) > Settings > Configuration > Local \
            Authentication = Disabled. CLI: `az eventgrid topic update --name <topic> \
            --resource-group <rg> --disable-local-auth true` (`az eventgrid domain update ...` \
            for domains).",
    },
    READS,
    local_auth,
);

fn local_auth(ctx: &EvalContext<'_>) -> Vec<Finding> {
    both(&LOCAL_AUTH_RULE, ctx)
}

/// Passes when `properties.minimumTlsVersionAllowed` is `1.2`.
///
/// Absent fails. Spec: "Minimum TLS version of the publisher allowed to publish to this
/// topic"/"domain", with no default documented (the enum is 1.0, 1.1, 1.2); Event Grid's own
/// documentation says topics and domains permit TLS 1.0 and above unless a minimum is set.
pub(super) const MIN_TLS_RULE: Rule = Rule {
    target: Target::Items(TOPICS),
    path: "properties.minimumTlsVersionAllowed",
    expect: Expect::OneOf(&["1.2", "1.3"]),
    missing: Missing::Fails,
    when: None,
    pass: "Publishers need TLS 1.2 or later",
    fail: "Publishers may use TLS older than 1.2",
    pass_examples: &[Example::Str("1.2")],
    fail_examples: &[Example::Str("1.0"), Example::Str("1.1"), Example::Absent],
};

pub const MIN_TLS_12: Check = Check::custom(
    CheckMeta {
        id: "eventgrid.min_tls_12",
        title: "Minimum TLS 1.2",
        severity: Severity::Medium,
        description: "TLS 1.0 and 1.1 have known weaknesses and are deprecated. A topic or \
            domain accepting them lets a publisher, or an attacker downgrading a connection, \
            send events over a weak protocol.",
        remediation: "Portal: Event Grid topic (or domain) > Settings > Configuration > Minimum \
            TLS version = 1.2. CLI: `az eventgrid topic update --name <topic> --resource-group \
            <rg> --min-tls 1.2`.",
    },
    READS,
    min_tls,
);

fn min_tls(ctx: &EvalContext<'_>) -> Vec<Finding> {
    both(&MIN_TLS_RULE, ctx)
}

/// Passes when some element of `properties.privateEndpointConnections` has
/// `properties.privateLinkServiceConnectionState.status` `Approved`.
///
/// Absent or an empty list fails: no private endpoint is connected ("List of private endpoint
/// connections.").
pub(super) const PRIVATE_ENDPOINT_RULE: Rule = Rule {
    target: Target::Items(TOPICS),
    path: "properties.privateEndpointConnections",
    expect: Expect::AnyElement {
        path: "properties.privateLinkServiceConnectionState.status",
        expect: &APPROVED,
    },
    missing: Missing::Fails,
    when: None,
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
};

pub const PRIVATE_ENDPOINT: Check = Check::custom(
    CheckMeta {
        id: "eventgrid.private_endpoint",
        title: "Private endpoint in use",
        severity: Severity::Low,
        description: "With a private endpoint, publishers in your virtual networks reach the \
            topic or domain over a private address on the Microsoft backbone, and public access \
            can then be switched off entirely.",
        remediation: "Portal: Event Grid topic (or domain) > Settings > Networking > Private \
            endpoint connections > + Private endpoint. CLI: `az network private-endpoint create \
            --name <pe> --resource-group <rg> --vnet-name <vnet> --subnet <subnet> \
            --private-connection-resource-id <topic-id> --group-id topic \
            --connection-name <name>`.",
    },
    READS,
    private_endpoint,
);

fn private_endpoint(ctx: &EvalContext<'_>) -> Vec<Finding> {
    both(&PRIVATE_ENDPOINT_RULE, ctx)
}
