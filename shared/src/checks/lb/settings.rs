//! The load balancer and public IP checks, each one property: declarative checks over the two
//! subscription lists (see `checks::rule`).

use super::{LOAD_BALANCERS, PUBLIC_IPS};
use crate::checks::{Check, CheckMeta, Example, Expect, Missing, Rule, Severity, Target};

/// Passes when `sku.name` is not `Basic` (`Standard` or `Gateway`).
///
/// Absent fails. Spec (`LoadBalancerSku.name`): "Name of a load balancer SKU." with no default
/// in the schema; a load balancer created without a SKU was created Basic, the SKU retired on
/// 30 September 2025, so a missing SKU is treated as Basic.
pub const NOT_BASIC_SKU: Check = Check::rule(
    CheckMeta {
        id: "lb.not_basic_sku",
        title: "No Basic-SKU load balancer (Basic retired 30 Sep 2025)",
        severity: Severity::High,
        description: "The Basic load balancer SKU was retired on 30 September 2025: it has no \
            SLA, no support, is open by default without network security groups and gets no \
            fixes. A Basic load balancer still present runs on a retired offering and must be \
            upgraded to Standard.",
        remediation: "Portal: Load balancer > Overview > Upgrade to Standard (or follow the \
            'Upgrade a basic load balancer' guide). CLI/PowerShell: `Install-Module \
            AzureBasicLoadBalancerUpgrade; Start-AzBasicLoadBalancerUpgrade -ResourceGroupName \
            <rg> -BasicLoadBalancerName <lb>`.",
    },
    Rule {
        target: Target::Items(LOAD_BALANCERS),
        path: "sku.name",
        expect: Expect::NotOneOf(&["Basic"]),
        missing: Missing::Fails,
        when: None,
        pass: "The load balancer runs a supported SKU",
        fail: "The load balancer runs the Basic SKU, retired on 30 September 2025",
        pass_examples: &[Example::Str("Standard"), Example::Str("Gateway")],
        fail_examples: &[Example::Str("Basic"), Example::Absent],
    },
);

/// Passes when a public IP address's `sku.name` is not `Basic`.
///
/// Absent fails. Spec (`PublicIPAddressSku.name`): "Name of a public IP address SKU." with no
/// default in the schema; addresses created without a SKU were created Basic (retired 30
/// September 2025).
pub const NO_BASIC_PUBLIC_IP: Check = Check::rule(
    CheckMeta {
        id: "lb.no_basic_public_ip",
        title: "No Basic-SKU public IP (retired 30 Sep 2025)",
        severity: Severity::High,
        description: "Basic public IP addresses were retired on 30 September 2025. They are open \
            to inbound traffic by default (Standard addresses are secure by default) and no \
            longer supported; a Basic address still present is a retired offering.",
        remediation: "Portal: Public IP address > Overview > Upgrade to Standard SKU (dissociate \
            it first if the portal asks). CLI: `az network public-ip update --name <ip> \
            --resource-group <rg> --sku Standard`.",
    },
    Rule {
        target: Target::Items(PUBLIC_IPS),
        path: "sku.name",
        expect: Expect::NotOneOf(&["Basic"]),
        missing: Missing::Fails,
        when: None,
        pass: "The public IP address runs the Standard SKU",
        fail: "The public IP address runs the Basic SKU, retired on 30 September 2025",
        pass_examples: &[Example::Str("Standard")],
        fail_examples: &[Example::Str("Basic"), Example::Absent],
    },
)
.none_in_scope("No public IP addresses in the selected regions");

const HAS_MEMBERS: Expect = Expect::AnyOf(&[
    ("properties.backendIPConfigurations", Expect::NonEmpty),
    ("properties.loadBalancerBackendAddresses", Expect::NonEmpty),
]);

/// Passes when some element of `properties.backendAddressPools` has a non-empty
/// `properties.backendIPConfigurations` (NIC members) or `properties.loadBalancerBackendAddresses`
/// (IP members).
///
/// Absent fails: the property is "Collection of backend address pools used by a load
/// balancer."; a load balancer without pools, or whose pools are all empty, balances to nothing.
pub const BACKEND_POOL_NOT_EMPTY: Check = Check::rule(
    CheckMeta {
        id: "lb.backend_pool_not_empty",
        title: "Backend pools have members",
        severity: Severity::Low,
        description: "A load balancer whose backend pools are empty forwards no traffic: it is \
            left over, or its members were removed. Unused load balancers with public frontends \
            still expose an address and cost money; remove them or add the members.",
        remediation: "Portal: Load balancer > Settings > Backend pools > add virtual machines or \
            IP addresses (or delete the unused load balancer). CLI: `az network nic \
            ip-config address-pool add --address-pool <pool> --lb-name <lb> --resource-group \
            <rg> --nic-name <nic> --ip-config-name <ipconfig>`.",
    },
    Rule {
        target: Target::Items(LOAD_BALANCERS),
        path: "properties.backendAddressPools",
        expect: Expect::AnyElement {
            path: "",
            expect: &HAS_MEMBERS,
        },
        missing: Missing::Fails,
        when: None,
        pass: "A backend pool has members",
        fail: "No backend pool has members",
        pass_examples: &[
            Example::Json(
                r#"[{"name": "pool", "properties": {"backendIPConfigurations": [{"id": "/x/ipConfigurations/ipconfig1"}]}}]"#,
            ),
            Example::Json(
                r#"[{"name": "pool", "properties": {"loadBalancerBackendAddresses": [{"name": "a", "properties": {"ipAddress": "10.0.0.4"}}]}}]"#,
            ),
        ],
        fail_examples: &[
            Example::Json(r#"[{"name": "pool", "properties": {"backendIPConfigurations": []}}]"#),
            Example::Json("[]"),
            Example::Absent,
        ],
    },
);

const HAS_PROBE: Expect = Expect::NonEmpty;

/// Passes when every element of `properties.loadBalancingRules` has `properties.probe.id` set; a
/// load balancer without rules (empty or absent list) passes, as no rule lacks a probe.
///
/// Spec (`LoadBalancingRulePropertiesFormat.probe`): "The reference to the load balancer probe
/// used by the load balancing rule." Without it the load balancer keeps sending to instances
/// that are down.
pub const RULES_HAVE_PROBE: Check = Check::rule(
    CheckMeta {
        id: "lb.rules_have_probe",
        title: "Every LB rule has a health probe",
        severity: Severity::Low,
        description: "A load-balancing rule without a health probe keeps sending new flows to \
            backend instances that are down or unhealthy, so failures reach clients instead of \
            being routed around.",
        remediation: "Portal: Load balancer > Settings > Health probes > Add, then Load \
            balancing rules > <rule> > Health probe = <probe>. CLI: `az network lb probe create \
            --lb-name <lb> --resource-group <rg> --name <probe> --protocol Tcp --port <port>` \
            and `az network lb rule update --lb-name <lb> --resource-group <rg> --name <rule> \
            --probe-name <probe>`.",
    },
    Rule {
        target: Target::Items(LOAD_BALANCERS),
        path: "properties.loadBalancingRules",
        expect: Expect::EveryElement {
            path: "properties.probe.id",
            expect: &HAS_PROBE,
        },
        missing: Missing::Passes,
        when: None,
        pass: "Every load-balancing rule has a health probe",
        fail: "A load-balancing rule has no health probe",
        pass_examples: &[
            Example::Json(r#"[{"name": "http", "properties": {"probe": {"id": "/x/probes/p"}}}]"#),
            Example::Json("[]"),
            Example::Absent,
        ],
        fail_examples: &[Example::Json(
            r#"[{"name": "http", "properties": {"probe": {"id": "/x/probes/p"}}}, {"name": "ssh", "properties": {"frontendPort": 22}}]"#,
        )],
    },
);
