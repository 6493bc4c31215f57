//! Network Security Groups: internet exposure of inbound rules, subnets without an NSG, and
//! flow-log retention.
//!
//! The six exposure checks share one evaluator ([`rules`]): inbound rules are read in priority
//! order and Deny rules evaluated first take their ports away from later Allow rules (port-set
//! arithmetic in [`ports`]). Each of them only says which ports and protocols it looks at.

mod ports;
mod rules;
#[cfg(test)]
mod tests;

use serde_json::{Value, json};

use self::ports::{MAX_PORT, PortSet};
use self::rules::{Outcome, Protocol, Rule};
use super::props::{
    evidence, evidence_value, finding, normalize_id, prop, prop_bool, prop_str, resource_id,
    resource_location, resource_name, unreadable,
};
use super::{
    Check, CheckMeta, ChildOutcome, Collection, EvalContext, FetchError, ServiceDef, Severity,
};
use crate::messages::{Evidence, Finding, FindingStatus};

pub const GROUPS: &str = "nsg.groups";
pub const VIRTUAL_NETWORKS: &str = "nsg.virtual_networks";
pub const NETWORK_WATCHERS: &str = "nsg.network_watchers";
pub const FLOW_LOGS: &str = "nsg.flow_logs";

const API_VERSION: &str = "2024-05-01";

pub const SERVICE: ServiceDef = ServiceDef {
    id: "nsg",
    name: "Network Security Groups",
    collections: &[
        Collection::list(
            GROUPS,
            "Microsoft.Network/networkSecurityGroups",
            API_VERSION,
            NSG_READ,
        ),
        Collection::list(
            VIRTUAL_NETWORKS,
            "Microsoft.Network/virtualNetworks",
            API_VERSION,
            "Microsoft.Network/virtualNetworks/read",
        ),
        // A flow log lives in the watcher of its target's region, so watchers outside the
        // selected regions hold nothing in scope and are skipped.
        Collection::list(
            NETWORK_WATCHERS,
            "Microsoft.Network/networkWatchers",
            API_VERSION,
            "Microsoft.Network/networkWatchers/read",
        ),
        Collection::child_list(
            FLOW_LOGS,
            NETWORK_WATCHERS,
            "/flowLogs",
            API_VERSION,
            "Microsoft.Network/networkWatchers/flowLogs/read",
        ),
    ],
    checks: CHECKS,
    none_in_scope: NO_NSGS,
};

const NSG_READ: &str = "Microsoft.Network/networkSecurityGroups/read";
const SUBNET_TYPE: &str = "Microsoft.Network/virtualNetworks/subnets";
const NO_NSGS: &str = "No network security groups in the selected regions";

const CHECKS: &[Check] = &[
    Check::custom(
        CheckMeta {
            id: "nsg.rdp_internet",
            title: "No inbound RDP from the internet",
            severity: Severity::High,
            description: "Remote Desktop (TCP 3389) open to the whole internet is found by \
                scanners within minutes and is a leading way into Windows machines: password \
                spraying, credential stuffing and RDP vulnerabilities need nothing more than \
                reachability. Fails when an inbound Allow rule from the internet reaches TCP 3389 \
                and no Deny rule evaluated before it (lower priority number) blocks that port.",
            remediation: "Azure portal: Network security groups > the NSG > Inbound security \
                rules: delete the rule named in the evidence, or set its Source to the IP \
                addresses/ranges that need RDP. Better, reach machines through Azure Bastion or \
                Defender for Cloud just-in-time VM access. CLI: `az network nsg rule delete -g \
                <rg> --nsg-name <nsg> -n <rule>` or `az network nsg rule update -g <rg> \
                --nsg-name <nsg> -n <rule> --source-address-prefixes <trusted-cidr>`.",
        },
        &[GROUPS],
        rdp_internet,
    ),
    Check::custom(
        CheckMeta {
            id: "nsg.ssh_internet",
            title: "No inbound SSH from the internet",
            severity: Severity::High,
            description: "SSH (TCP 22) open to the whole internet invites constant brute-force \
                and key-stuffing attempts and exposes every SSH server flaw. Fails when an \
                inbound Allow rule from the internet reaches TCP 22 and no Deny rule evaluated \
                before it blocks that port.",
            remediation: "Azure portal: Network security groups > the NSG > Inbound security \
                rules: delete the rule named in the evidence or restrict its Source to known \
                addresses; use Azure Bastion or just-in-time VM access for administration. CLI: \
                `az network nsg rule delete -g <rg> --nsg-name <nsg> -n <rule>` or `az network \
                nsg rule update -g <rg> --nsg-name <nsg> -n <rule> --source-address-prefixes \
                <trusted-cidr>`.",
        },
        &[GROUPS],
        ssh_internet,
    ),
    Check::custom(
        CheckMeta {
            id: "nsg.udp_internet",
            title: "No inbound UDP from the internet",
            severity: Severity::High,
            description: "UDP services reachable from the internet (DNS, NTP, SNMP, memcached, \
                SSDP...) are abused for reflection and amplification attacks and are rarely \
                meant to be public. Fails when an inbound Allow rule from the internet with \
                protocol UDP or any reaches a UDP port that no earlier Deny rule blocks.",
            remediation: "Azure portal: Network security groups > the NSG > Inbound security \
                rules: delete the rule named in the evidence, set its Protocol to TCP if UDP is \
                not needed, or restrict its Source. CLI: `az network nsg rule update -g <rg> \
                --nsg-name <nsg> -n <rule> --protocol Tcp` or `--source-address-prefixes \
                <trusted-cidr>`; `az network nsg rule delete -g <rg> --nsg-name <nsg> -n \
                <rule>`.",
        },
        &[GROUPS],
        udp_internet,
    ),
    Check::custom(
        CheckMeta {
            id: "nsg.http_internet",
            title: "HTTP(S) exposure reviewed",
            severity: Severity::Medium,
            description: "Web ports (TCP 80 and 443) open to the internet directly on virtual \
                machines bypass the protection a web application firewall, Application Gateway or \
                Front Door would give, and plain HTTP sends data unencrypted. Fails when an \
                inbound Allow rule from the internet reaches TCP 80 or 443 and no earlier Deny \
                rule blocks it, so the exposure can be confirmed or moved behind a gateway.",
            remediation: "Confirm the workload must be public. If not, Azure portal: Network \
                security groups > the NSG > Inbound security rules: delete the rule or restrict \
                its Source (for a gateway in front, its subnet or the `AzureFrontDoor.Backend` \
                service tag). CLI: `az network nsg rule update -g <rg> --nsg-name <nsg> -n \
                <rule> --source-address-prefixes <cidr-or-service-tag>`. Serve HTTPS only.",
        },
        &[GROUPS],
        http_internet,
    ),
    Check::custom(
        CheckMeta {
            id: "nsg.all_ports_internet",
            title: "No allow-all-ports rule from the internet",
            severity: Severity::Critical,
            description: "An inbound Allow rule from the internet to every port (`*`, 0-65535 or \
                1-65535) turns the NSG off for everything behind it: every listening service, \
                including ones installed later, is public. Fails when such a rule (protocol TCP, \
                UDP or any) still reaches ports after the Deny rules evaluated before it.",
            remediation: "Azure portal: Network security groups > the NSG > Inbound security \
                rules: delete the rule named in the evidence and add rules for the specific \
                ports and sources that are needed. CLI: `az network nsg rule delete -g <rg> \
                --nsg-name <nsg> -n <rule>`, then `az network nsg rule create -g <rg> --nsg-name \
                <nsg> -n <name> --priority <n> --access Allow --protocol Tcp \
                --destination-port-ranges <port> --source-address-prefixes <trusted-cidr>`.",
        },
        &[GROUPS],
        all_ports_internet,
    ),
    Check::custom(
        CheckMeta {
            id: "nsg.db_admin_ports_internet",
            title: "No DB/admin ports from the internet",
            severity: Severity::High,
            description: "Database engines, caches, search clusters, container and remote \
                management endpoints (SQL Server, Oracle, MySQL, PostgreSQL, Redis, \
                Elasticsearch, memcached, MongoDB, Docker, WinRM, VNC, SMB, RPC, Telnet...) are \
                frequent targets of data theft and ransomware when reachable from the internet, \
                often with weak or no authentication. Fails when an inbound Allow rule from the \
                internet reaches one of the listed ports (see the evidence for which) that no \
                earlier Deny rule blocks.",
            remediation: "Azure portal: Network security groups > the NSG > Inbound security \
                rules: delete the rule named in the evidence or restrict its Source to the \
                application tier or trusted ranges; reach databases through private endpoints or \
                a VPN, and administer through Azure Bastion. CLI: `az network nsg rule update -g \
                <rg> --nsg-name <nsg> -n <rule> --source-address-prefixes <trusted-cidr>` or `az \
                network nsg rule delete -g <rg> --nsg-name <nsg> -n <rule>`.",
        },
        &[GROUPS],
        db_admin_ports_internet,
    ),
    Check::custom(
        CheckMeta {
            id: "nsg.subnet_has_nsg",
            title: "Every subnet has an NSG",
            severity: Severity::Medium,
            description: "A subnet without a network security group filters nothing at the \
                subnet boundary: anything placed in it later relies only on NIC-level rules, if \
                any. Fails for each subnet whose networkSecurityGroup is not set. Subnets where \
                Azure does not support an NSG (GatewaySubnet, AzureFirewallSubnet, \
                AzureFirewallManagementSubnet, RouteServerSubnet, dedicated HSM subnets) are not \
                applicable.",
            remediation: "Azure portal: Virtual networks > the VNet > Subnets > the subnet > \
                Network security group: select an NSG and Save. CLI: `az network vnet subnet \
                update -g <rg> --vnet-name <vnet> -n <subnet> --network-security-group <nsg>`.",
        },
        &[VIRTUAL_NETWORKS],
        subnet_has_nsg,
    )
    .none_in_scope("No virtual network subnets in the selected regions"),
    Check::custom(
        CheckMeta {
            id: "nsg.flow_logs_retention",
            title: "Flow logs on with ≥90-day (or 0 = unlimited) retention",
            severity: Severity::Medium,
            description: "Flow logs record which addresses talked to what through an NSG; \
                without them, or with only a few days kept, an intrusion discovered weeks later \
                cannot be traced. Passes when an enabled flow log targets the NSG itself or a \
                virtual network, subnet or network interface it is attached to, and keeps \
                records at least 90 days (or has no retention limit). NSG flow logs are being \
                retired (none can be created since 30 June 2025; retirement 30 September 2027) \
                and virtual network flow logs replace them, so both count. NSGs attached to \
                nothing are not applicable.",
            remediation: "Create a virtual network flow log (new NSG flow logs are no longer \
                accepted). Azure portal: Network Watcher > Flow logs > Create: Flow log type \
                'Virtual network', select the VNet, a storage account, and Retention 90 days or \
                more (0 keeps logs without limit). CLI: `az network watcher flow-log create -l \
                <region> -g <rg> -n <name> --vnet <vnet> --storage-account <account> --retention \
                90`. For an existing log: `az network watcher flow-log update -l <region> -n \
                <name> --enabled true --retention 90`.",
        },
        &[GROUPS, NETWORK_WATCHERS, FLOW_LOGS],
        flow_logs_retention,
    ),
];

// ---------------------------------------------------------------------------------------------
// Internet exposure

/// One exposure check: which ports it looks at and how it talks about them.
struct Exposure {
    /// The ports in words, e.g. "TCP port 3389 (RDP)".
    what: &'static str,
    expected: &'static str,
    /// Ports of interest per protocol.
    wanted: fn(Protocol) -> PortSet,
    /// Only Allow rules that themselves open every port count (`nsg.all_ports_internet`).
    every_port_rules_only: bool,
    /// Name the services behind exposed ports in the evidence (`nsg.db_admin_ports_internet`).
    name_services: bool,
}

/// The `expected` text of an exposure check. "From the internet" means a source
/// (`sourceAddressPrefix` or any of `sourceAddressPrefixes`) of `*`, `0.0.0.0/0`, `0.0.0.0`,
/// `::/0`, `Internet` or `Any`.
macro_rules! expected {
    ($what:literal) => {
        concat!(
            "no Allow rule from the internet (*, 0.0.0.0/0, 0.0.0.0, ::/0, Internet, Any) ",
            $what,
            ", unless a Deny rule with a lower priority number blocks it"
        )
    };
}

fn tcp_only(protocol: Protocol, ports: PortSet) -> PortSet {
    match protocol {
        Protocol::Tcp => ports,
        Protocol::Udp => PortSet::empty(),
    }
}

fn rdp_internet(ctx: &EvalContext<'_>) -> Vec<Finding> {
    exposure_findings(
        ctx,
        &Exposure {
            what: "TCP port 3389 (RDP)",
            expected: expected!("reaching TCP port 3389"),
            wanted: |p| tcp_only(p, PortSet::single(3389)),
            every_port_rules_only: false,
            name_services: false,
        },
    )
}

fn ssh_internet(ctx: &EvalContext<'_>) -> Vec<Finding> {
    exposure_findings(
        ctx,
        &Exposure {
            what: "TCP port 22 (SSH)",
            expected: expected!("reaching TCP port 22"),
            wanted: |p| tcp_only(p, PortSet::single(22)),
            every_port_rules_only: false,
            name_services: false,
        },
    )
}

fn http_internet(ctx: &EvalContext<'_>) -> Vec<Finding> {
    exposure_findings(
        ctx,
        &Exposure {
            what: "TCP ports 80/443 (HTTP/HTTPS)",
            expected: expected!("reaching TCP port 80 or 443"),
            wanted: |p| tcp_only(p, PortSet::from_ranges([(80, 80), (443, 443)])),
            every_port_rules_only: false,
            name_services: false,
        },
    )
}

fn udp_internet(ctx: &EvalContext<'_>) -> Vec<Finding> {
    exposure_findings(
        ctx,
        &Exposure {
            what: "UDP ports",
            expected: expected!("reaching any UDP port"),
            wanted: |p| match p {
                Protocol::Tcp => PortSet::empty(),
                Protocol::Udp => PortSet::all(),
            },
            every_port_rules_only: false,
            name_services: false,
        },
    )
}

fn all_ports_internet(ctx: &EvalContext<'_>) -> Vec<Finding> {
    exposure_findings(
        ctx,
        &Exposure {
            what: "every port",
            expected: expected!("to every port (*, 0-65535 or 1-65535)"),
            wanted: |_| PortSet::all(),
            every_port_rules_only: true,
            name_services: false,
        },
    )
}

fn db_admin_ports_internet(ctx: &EvalContext<'_>) -> Vec<Finding> {
    exposure_findings(
        ctx,
        &Exposure {
            what: "database/administration ports",
            expected: expected!("reaching a database or administration port"),
            wanted: db_admin_ports,
            every_port_rules_only: false,
            name_services: true,
        },
    )
}

/// A rule opens every port when its destination covers 1-65535 (port 0 is reserved and not
/// usable by TCP or UDP services, so `1-65535` counts as well as `*` and `0-65535`).
fn opens_every_port(rule: &Rule) -> bool {
    !rule.protocols.is_empty() && rule.ports.is_superset(&PortSet::range(1, MAX_PORT))
}

/// A port (range) that databases, caches or remote administration listen on.
struct ServicePort {
    first: u16,
    last: u16,
    service: &'static str,
    tcp: bool,
    udp: bool,
}

const fn port(first: u16, last: u16, service: &'static str, tcp: bool, udp: bool) -> ServicePort {
    ServicePort {
        first,
        last,
        service,
        tcp,
        udp,
    }
}

/// The ports `nsg.db_admin_ports_internet` looks at. SSH (22) and RDP (3389) have their own
/// checks and are not repeated here. UDP is checked only where the service really listens on UDP.
const DB_ADMIN_PORTS: &[ServicePort] = &[
    port(23, 23, "Telnet", true, false),
    port(135, 135, "Microsoft RPC endpoint mapper", true, true),
    port(137, 139, "NetBIOS", true, true),
    port(161, 161, "SNMP", false, true),
    port(445, 445, "SMB", true, false),
    port(1433, 1433, "SQL Server", true, false),
    port(1434, 1434, "SQL Server Browser / DAC", true, true),
    port(1521, 1521, "Oracle Database listener", true, false),
    port(2375, 2376, "Docker Engine API", true, false),
    port(2379, 2380, "etcd", true, false),
    port(3306, 3306, "MySQL / MariaDB", true, false),
    port(4505, 4506, "SaltStack master", true, false),
    port(5432, 5432, "PostgreSQL", true, false),
    port(5900, 5900, "VNC", true, false),
    port(5984, 5984, "CouchDB", true, false),
    port(5985, 5986, "WinRM (PowerShell remoting)", true, false),
    port(6379, 6379, "Redis", true, false),
    port(9042, 9042, "Cassandra CQL", true, false),
    port(9200, 9200, "Elasticsearch REST", true, false),
    port(9300, 9300, "Elasticsearch transport", true, false),
    port(11211, 11211, "memcached", true, true),
    port(27017, 27017, "MongoDB", true, false),
];

fn db_admin_ports(protocol: Protocol) -> PortSet {
    PortSet::from_ranges(
        DB_ADMIN_PORTS
            .iter()
            .filter(|s| match protocol {
                Protocol::Tcp => s.tcp,
                Protocol::Udp => s.udp,
            })
            .map(|s| (s.first, s.last)),
    )
}

/// `["TCP 1433 (SQL Server)", "TCP 5985-5986 (WinRM (PowerShell remoting))"]`.
fn exposed_services(ports: &[(Protocol, PortSet)]) -> Vec<String> {
    let mut out = Vec::new();
    for (protocol, set) in ports {
        for s in DB_ADMIN_PORTS {
            let listens = match protocol {
                Protocol::Tcp => s.tcp,
                Protocol::Udp => s.udp,
            };
            let hit = set.intersection(&PortSet::range(s.first, s.last));
            if listens && !hit.is_empty() {
                out.push(format!("{} {} ({})", protocol.label(), hit, s.service));
            }
        }
    }
    out
}

fn exposure_findings(ctx: &EvalContext<'_>, check: &Exposure) -> Vec<Finding> {
    ctx.items(GROUPS)
        .iter()
        .map(|nsg| exposure_finding(nsg, check))
        .collect()
}

fn with_field(mut value: Value, key: &str, field: Value) -> Value {
    if let Value::Object(map) = &mut value {
        map.insert(key.to_string(), field);
    }
    value
}

fn exposure_finding(nsg: &Value, check: &Exposure) -> Finding {
    let rules = rules::inbound_rules(nsg);
    let outcomes = rules::evaluate(&rules, check.wanted, |r| {
        !check.every_port_rules_only || opens_every_port(r)
    });
    let mut evidence = Vec::new();
    let mut offenders = Vec::new();
    for outcome in &outcomes {
        match outcome {
            Outcome::Exposed { rule, ports } => {
                let mut value = with_field(
                    rule.summary.clone(),
                    "exposedPorts",
                    rules::ports_json(ports),
                );
                let mut described: Vec<String> = ports
                    .iter()
                    .map(|(p, set)| format!("{} {}", p.label(), set))
                    .collect();
                if check.name_services {
                    described = exposed_services(ports);
                    value = with_field(value, "exposedServices", json!(described));
                }
                if !rule.notes.is_empty() {
                    value = with_field(value, "notes", json!(rule.notes));
                }
                evidence.push(evidence_value(rule.path.clone(), value, check.expected));
                offenders.push(format!(
                    "{} (priority {}: {})",
                    rule.name,
                    rule.priority,
                    described.join(", ")
                ));
            }
            Outcome::Hidden { rule, by } => {
                let value = with_field(rule.summary.clone(), "blockedBy", json!(by));
                evidence.push(evidence_value(rule.path.clone(), value, check.expected));
            }
        }
    }
    if !offenders.is_empty() {
        return finding(
            nsg,
            FindingStatus::Failed,
            evidence,
            format!(
                "The internet can reach {} through {}",
                check.what,
                offenders.join("; ")
            ),
        );
    }
    if evidence.is_empty() {
        let from_internet: Vec<String> = rules
            .iter()
            .filter(|r| r.allow && r.has_internet_source())
            .map(|r| format!("{} (priority {})", r.name, r.priority))
            .collect();
        evidence.push(evidence_value(
            "properties.securityRules",
            json!({ "inboundAllowRulesFromInternet": from_internet }),
            check.expected,
        ));
    }
    finding(
        nsg,
        FindingStatus::Passed,
        evidence,
        format!("No inbound rule lets the internet reach {}", check.what),
    )
}

// ---------------------------------------------------------------------------------------------
// Subnets without an NSG

/// Subnets Azure does not let an NSG be associated with, or where one breaks the service:
/// - `GatewaySubnet`: "Network security groups on the gateway subnet aren't supported" (VPN
///   Gateway docs; built-in policy "Gateway subnets should not be configured with a network
///   security group" denies it, as an NSG stops the gateway working);
/// - `AzureFirewallSubnet`, `AzureFirewallManagementSubnet`: subnet NSGs are not supported /
///   are disabled there; the firewall has its own non-visible platform NSG (Azure Firewall FAQ);
/// - `RouteServerSubnet`: NSG association is not supported (Azure Route Server docs).
///
/// PSRule for Azure's `Azure.VNET.UseNSGs` exempts the same list, plus subnets delegated to
/// dedicated HSMs, which do not support NSGs either.
const NSG_UNSUPPORTED_SUBNETS: &[&str] = &[
    "GatewaySubnet",
    "AzureFirewallSubnet",
    "AzureFirewallManagementSubnet",
    "RouteServerSubnet",
];
const DEDICATED_HSM_DELEGATION: &str = "Microsoft.HardwareSecurityModules/dedicatedHSMs";

fn nsg_unsupported(subnet: &Value) -> Option<String> {
    let name = resource_name(subnet);
    if let Some(reserved) = NSG_UNSUPPORTED_SUBNETS
        .iter()
        .find(|n| n.eq_ignore_ascii_case(name))
    {
        return Some(format!("Azure does not support an NSG on {reserved}"));
    }
    let delegated_to_hsm = prop(subnet, "properties.delegations")
        .and_then(Value::as_array)
        .is_some_and(|ds| {
            ds.iter().any(|d| {
                prop_str(d, "properties.serviceName")
                    .is_some_and(|s| s.eq_ignore_ascii_case(DEDICATED_HSM_DELEGATION))
            })
        });
    delegated_to_hsm.then(|| {
        format!("Azure does not support an NSG on a subnet delegated to {DEDICATED_HSM_DELEGATION}")
    })
}

fn subnet_has_nsg(ctx: &EvalContext<'_>) -> Vec<Finding> {
    let mut findings = Vec::new();
    for vnet in ctx.items(VIRTUAL_NETWORKS) {
        let subnets = prop(vnet, "properties.subnets")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        for subnet in subnets {
            let subnet_finding = |status, evidence: Vec<Evidence>, message: String| Finding {
                resource_id: resource_id(subnet).to_string(),
                resource_name: resource_name(subnet).to_string(),
                resource_type: SUBNET_TYPE.to_string(),
                location: resource_location(vnet).map(str::to_string),
                status,
                evidence,
                message,
            };
            let seen = vec![evidence(
                subnet,
                "properties.networkSecurityGroup.id",
                "the id of a network security group",
            )];
            if let Some(reason) = nsg_unsupported(subnet) {
                findings.push(subnet_finding(FindingStatus::NotApplicable, seen, reason));
                continue;
            }
            let nsg = prop_str(subnet, "properties.networkSecurityGroup.id")
                .filter(|id| !id.trim().is_empty());
            findings.push(match nsg {
                Some(id) => subnet_finding(
                    FindingStatus::Passed,
                    seen,
                    format!(
                        "Subnet is protected by NSG {}",
                        id.rsplit('/').next().unwrap_or(id)
                    ),
                ),
                None => subnet_finding(
                    FindingStatus::Failed,
                    seen,
                    format!(
                        "Subnet {} of virtual network {} has no network security group",
                        resource_name(subnet),
                        resource_name(vnet)
                    ),
                ),
            });
        }
    }
    findings
}

// ---------------------------------------------------------------------------------------------
// Flow logs

/// Minimum retention in days; 0 means "keep forever".
const MIN_RETENTION_DAYS: i64 = 90;

const FLOW_LOG_EXPECTED: &str = "an enabled flow log targeting this NSG or a virtual network, \
    subnet or network interface it is attached to, with retention 0 (unlimited), retention \
    disabled (no deletion) or at least 90 days";

/// Resource ids a flow log may target to cover this NSG, lower-cased.
///
/// NSG flow logs are being retired: none can be created since 30 June 2025 and they stop on
/// 30 September 2027. Virtual network flow logs replace them and target a virtual network, a
/// subnet or a network interface instead, so a flow log on a VNet/subnet the NSG is associated
/// with (subnet id `/subscriptions/.../virtualNetworks/{vnet}/subnets/{name}`; the VNet id is the
/// prefix before `/subnets/`) or on a NIC it is associated with counts as well as one on the NSG.
fn flow_log_targets(nsg: &Value) -> (Vec<String>, bool) {
    let ids_of = |path: &str| -> Vec<String> {
        prop(nsg, path)
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(|i| prop_str(i, "id"))
                    .map(normalize_id)
                    .collect()
            })
            .unwrap_or_default()
    };
    let subnets = ids_of("properties.subnets");
    let nics = ids_of("properties.networkInterfaces");
    let attached = !subnets.is_empty() || !nics.is_empty();
    let mut targets = vec![normalize_id(resource_id(nsg))];
    for subnet in &subnets {
        if let Some(at) = subnet.find("/subnets/") {
            targets.push(subnet[..at].to_string());
        }
        targets.push(subnet.clone());
    }
    targets.extend(nics);
    targets.dedup();
    (targets, attached)
}

/// Retention as configured; the ARM defaults (swagger `RetentionPolicyParameters`) are
/// `enabled: false` and `days: 0`, so a missing policy deletes nothing.
fn retention_ok(log: &Value) -> bool {
    let enabled = prop(log, "properties.retentionPolicy.enabled")
        .map(|v| v.as_bool().unwrap_or(true))
        .unwrap_or(false);
    let days = match prop(log, "properties.retentionPolicy.days") {
        None => Some(0),
        Some(v) => v.as_i64(),
    };
    !enabled || matches!(days, Some(d) if d == 0 || d >= MIN_RETENTION_DAYS)
}

fn flow_log_ok(log: &Value) -> bool {
    prop_bool(log, "properties.enabled") == Some(true) && retention_ok(log)
}

fn retention_words(log: &Value) -> String {
    let enabled = prop_bool(log, "properties.retentionPolicy.enabled").unwrap_or(false);
    let days = prop(log, "properties.retentionPolicy.days").and_then(Value::as_i64);
    match (enabled, days) {
        (false, _) => "retention policy disabled (records are not deleted)".to_string(),
        (true, Some(0) | None) => "unlimited retention".to_string(),
        (true, Some(d)) => format!("{d}-day retention"),
    }
}

fn flow_log_evidence(log: &Value) -> Evidence {
    evidence_value(
        format!("flowLogs[id={}]", resource_id(log)),
        json!({
            "targetResourceId": prop(log, "properties.targetResourceId").cloned().unwrap_or(Value::Null),
            "enabled": prop(log, "properties.enabled").cloned().unwrap_or(Value::Null),
            "retentionPolicy": prop(log, "properties.retentionPolicy").cloned().unwrap_or(Value::Null),
        }),
        FLOW_LOG_EXPECTED,
    )
}

fn flow_logs_retention(ctx: &EvalContext<'_>) -> Vec<Finding> {
    let mut logs: Vec<&Value> = Vec::new();
    let mut failed: Option<(&Value, &FetchError)> = None;
    for watcher in ctx.items(NETWORK_WATCHERS) {
        match ctx.child(FLOW_LOGS, resource_id(watcher)) {
            Some(ChildOutcome::Items(items)) => logs.extend(items),
            Some(ChildOutcome::Failed(err)) => {
                failed.get_or_insert((watcher, err));
            }
            Some(ChildOutcome::Object(_) | ChildOutcome::Absent) | None => {}
        }
    }
    ctx.items(GROUPS)
        .iter()
        .map(|nsg| flow_log_finding(nsg, &logs, failed))
        .collect()
}

fn flow_log_finding(
    nsg: &Value,
    logs: &[&Value],
    failed: Option<(&Value, &FetchError)>,
) -> Finding {
    let (targets, attached) = flow_log_targets(nsg);
    let relevant: Vec<&Value> = logs
        .iter()
        .copied()
        .filter(|log| {
            prop_str(log, "properties.targetResourceId")
                .is_some_and(|t| targets.contains(&normalize_id(t)))
        })
        .collect();
    let mut evidence: Vec<Evidence> = relevant.iter().map(|l| flow_log_evidence(l)).collect();

    if let Some(good) = relevant.iter().find(|l| flow_log_ok(l)) {
        return finding(
            nsg,
            FindingStatus::Passed,
            evidence,
            format!(
                "Flow log {} on {} is enabled with {}",
                resource_name(good),
                prop_str(good, "properties.targetResourceId")
                    .and_then(|t| t.rsplit('/').next())
                    .unwrap_or(""),
                retention_words(good)
            ),
        );
    }
    if !attached {
        return finding(
            nsg,
            FindingStatus::NotApplicable,
            evidence,
            "The NSG is not associated with any subnet or network interface, so it carries no \
             traffic to log",
        );
    }
    if let Some((watcher, err)) = failed {
        let mut f = unreadable(
            nsg,
            &format!(
                "the flow logs of network watcher {}",
                resource_name(watcher)
            ),
            err,
        );
        f.evidence.extend(evidence);
        return f;
    }
    let message = if relevant.is_empty() {
        evidence.push(evidence_value(
            "flowLogs",
            json!("no flow log targets this NSG or its VNets"),
            FLOW_LOG_EXPECTED,
        ));
        evidence.push(evidence_value(
            "flowLogTargets",
            json!(targets),
            "a flow log targeting one of these resources",
        ));
        "No flow log targets this NSG or the virtual networks, subnets or network interfaces it \
         is attached to"
            .to_string()
    } else {
        let seen: Vec<String> = relevant
            .iter()
            .map(|l| {
                let state = if prop_bool(l, "properties.enabled") == Some(true) {
                    "enabled"
                } else {
                    "disabled"
                };
                format!("{} ({state}, {})", resource_name(l), retention_words(l))
            })
            .collect();
        format!(
            "No enabled flow log with unlimited or at least 90-day retention covers this NSG: {}",
            seen.join("; ")
        )
    };
    finding(nsg, FindingStatus::Failed, evidence, message)
}
