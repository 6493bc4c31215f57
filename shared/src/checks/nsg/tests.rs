//! Tests for the NSG checks, over fixtures shaped like ARM list responses (trimmed from the
//! azure-rest-api-specs 2024-05-01 examples `NetworkSecurityGroupListAll.json`,
//! `VirtualNetworkListAll.json`, `NetworkWatcherListAll.json` and `NetworkWatcherFlowLogList.json`;
//! custom rules carry the empty plural arrays real responses have).

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::*;
use crate::checks::{CheckStatus, Dataset, ListOutcome, run_check};
use crate::messages::CheckResult;

const NSGS: &str = include_str!("fixtures/groups.json");
const VNETS: &str = include_str!("fixtures/virtual_networks.json");
const WATCHERS: &str = include_str!("fixtures/network_watchers.json");
const FLOW_LOG_LIST: &str = include_str!("fixtures/flow_logs.json");

const WESTUS_WATCHER: &str = "/subscriptions/subid/resourceGroups/NetworkWatcherRG/providers/Microsoft.Network/networkWatchers/NetworkWatcher_westus";
const EASTUS_WATCHER: &str = "/subscriptions/subid/resourceGroups/NetworkWatcherRG/providers/Microsoft.Network/networkWatchers/NetworkWatcher_eastus";

fn list(text: &str) -> Vec<Value> {
    let body: Value = serde_json::from_str(text).expect("fixture is JSON");
    body["value"].as_array().expect("a list response").clone()
}

fn by_name(items: &[Value], name: &str) -> Value {
    items
        .iter()
        .find(|i| i["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no {name} in fixture"))
}

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-01T00:00:00Z")
        .expect("time")
        .with_timezone(&Utc)
}

fn check(id: &str) -> &'static Check {
    CHECKS
        .iter()
        .find(|c| c.meta.id == id)
        .unwrap_or_else(|| panic!("no check {id}"))
}

fn run(id: &str, ds: &Dataset) -> CheckResult {
    run_check(&SERVICE, check(id), &EvalContext::new(ds, now(), "subid"))
}

fn groups(nsgs: Vec<Value>) -> Dataset {
    let mut ds = Dataset::default();
    ds.insert_list(GROUPS, ListOutcome::Items(nsgs));
    ds
}

/// `nsg1` of the fixture (default rules only) renamed, with these custom rules.
fn nsg_with(name: &str, rules: Vec<Value>) -> Value {
    let mut nsg = by_name(&list(NSGS), "nsg1");
    nsg["name"] = json!(name);
    nsg["id"] = json!(format!(
        "/subscriptions/subid/resourceGroups/rg1/providers/Microsoft.Network/networkSecurityGroups/{name}"
    ));
    nsg["properties"]["securityRules"] = Value::Array(rules);
    nsg
}

/// A custom rule as ARM returns it, single-string forms set, plural forms empty.
fn rule(
    name: &str,
    priority: u32,
    access: &str,
    protocol: &str,
    source: &str,
    ports: &str,
) -> Value {
    json!({
        "name": name,
        "id": format!("/subscriptions/subid/resourceGroups/rg1/providers/Microsoft.Network/networkSecurityGroups/test/securityRules/{name}"),
        "etag": "W/\"00000000-0000-0000-0000-000000000000\"",
        "type": "Microsoft.Network/networkSecurityGroups/securityRules",
        "properties": {
            "provisioningState": "Succeeded",
            "protocol": protocol,
            "sourcePortRange": "*",
            "destinationPortRange": ports,
            "sourceAddressPrefix": source,
            "destinationAddressPrefix": "*",
            "access": access,
            "priority": priority,
            "direction": "Inbound",
            "sourcePortRanges": [],
            "destinationPortRanges": [],
            "sourceAddressPrefixes": [],
            "destinationAddressPrefixes": []
        }
    })
}

fn allow(name: &str, priority: u32, protocol: &str, source: &str, ports: &str) -> Value {
    rule(name, priority, "Allow", protocol, source, ports)
}

fn deny(name: &str, priority: u32, protocol: &str, source: &str, ports: &str) -> Value {
    rule(name, priority, "Deny", protocol, source, ports)
}

/// Replaces a single-string property by its plural form, as ARM returns it when a rule was
/// created with a list (`destinationPortRange` -> `destinationPortRanges`).
fn plural(mut rule: Value, single: &str, items: &[&str]) -> Value {
    let props = rule["properties"].as_object_mut().expect("properties");
    props.remove(single);
    let plural = if single.ends_with("Prefix") {
        format!("{single}es")
    } else {
        format!("{single}s")
    };
    props.insert(plural, json!(items));
    rule
}

fn set(mut rule: Value, key: &str, value: Value) -> Value {
    rule["properties"][key] = value;
    rule
}

fn finding_of<'a>(result: &'a CheckResult, name: &str) -> &'a Finding {
    result
        .findings
        .iter()
        .find(|f| f.resource_name == name)
        .unwrap_or_else(|| panic!("no finding for {name}: {result:#?}"))
}

fn failed(result: &CheckResult) -> Vec<&str> {
    result
        .findings
        .iter()
        .filter(|f| f.status == FindingStatus::Failed)
        .map(|f| f.resource_name.as_str())
        .collect()
}

/// Runs one check on one NSG with these rules and returns its finding.
fn one(id: &str, rules: Vec<Value>) -> Finding {
    let result = run(id, &groups(vec![nsg_with("test-nsg", rules)]));
    assert_eq!(result.findings.len(), 1);
    result.findings[0].clone()
}

fn fails(id: &str, rules: Vec<Value>) -> bool {
    match one(id, rules).status {
        FindingStatus::Failed => true,
        FindingStatus::Passed => false,
        other => panic!("unexpected {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Catalogue

#[test]
fn catalogue_has_the_eight_checks_with_their_metadata() {
    let ids: Vec<&str> = CHECKS.iter().map(|c| c.meta.id).collect();
    assert_eq!(
        ids,
        [
            "nsg.rdp_internet",
            "nsg.ssh_internet",
            "nsg.udp_internet",
            "nsg.http_internet",
            "nsg.all_ports_internet",
            "nsg.db_admin_ports_internet",
            "nsg.subnet_has_nsg",
            "nsg.flow_logs_retention",
        ]
    );
    let severity = |id| check(id).meta.severity;
    assert_eq!(severity("nsg.all_ports_internet"), Severity::Critical);
    assert_eq!(severity("nsg.http_internet"), Severity::Medium);
    assert_eq!(severity("nsg.rdp_internet"), Severity::High);
    let controls = |id| -> Vec<&str> {
        crate::checks::framework::refs_of(id)
            .iter()
            .map(|f| f.control)
            .collect()
    };
    assert_eq!(controls("nsg.rdp_internet"), ["7.1"]);
    assert_eq!(controls("nsg.subnet_has_nsg"), ["7.11"]);
    assert_eq!(
        controls("nsg.flow_logs_retention"),
        ["6.1.1.5", "6.1.1.6", "7.5", "7.8"]
    );
    assert!(controls("nsg.all_ports_internet").is_empty());
    assert!(controls("nsg.db_admin_ports_internet").is_empty());
    assert_eq!(
        check("nsg.flow_logs_retention").reads(),
        [GROUPS, NETWORK_WATCHERS, FLOW_LOGS]
    );
    assert_eq!(check("nsg.subnet_has_nsg").reads(), [VIRTUAL_NETWORKS]);
}

#[test]
fn no_nsgs_is_not_applicable_and_a_denied_list_is_access_denied() {
    let result = run("nsg.rdp_internet", &groups(Vec::new()));
    assert_eq!(result.status, CheckStatus::NotApplicable);
    assert_eq!(result.reason, NO_NSGS);

    let mut ds = Dataset::default();
    ds.insert_list(
        GROUPS,
        ListOutcome::Failed(FetchError::AccessDenied {
            action: NSG_READ.to_string(),
            message: "AuthorizationFailed".to_string(),
        }),
    );
    let result = run("nsg.ssh_internet", &ds);
    assert_eq!(result.status, CheckStatus::FailedAccessDenied);
    assert_eq!(result.missing_permission.as_deref(), Some(NSG_READ));
}

// ---------------------------------------------------------------------------------------------
// Exposure checks over the fixture

#[test]
fn fixture_rdp_open_nsg_fails_rdp_and_names_the_rule() {
    let result = run("nsg.rdp_internet", &groups(list(NSGS)));
    assert_eq!(result.status, CheckStatus::Failed);
    assert_eq!(failed(&result), ["rdp-open-nsg"]);
    let f = finding_of(&result, "rdp-open-nsg");
    assert_eq!(
        f.resource_id,
        "/subscriptions/subid/resourceGroups/rg2/providers/Microsoft.Network/networkSecurityGroups/rdp-open-nsg"
    );
    assert_eq!(f.resource_type, "Microsoft.Network/networkSecurityGroups");
    assert_eq!(f.location.as_deref(), Some("westus"));
    assert_eq!(f.evidence.len(), 1);
    let e = &f.evidence[0];
    assert_eq!(e.property, "properties.securityRules[name=AllowRDP]");
    assert_eq!(e.value["exposedPorts"], json!({"TCP": "3389"}));
    assert_eq!(e.value["priority"], json!(300));
    assert_eq!(e.value["sourceAddressPrefixes"], json!(["*"]));
    assert!(
        e.expected.contains("reaching TCP port 3389"),
        "{}",
        e.expected
    );
    assert!(
        f.message.contains("AllowRDP (priority 300: TCP 3389)"),
        "{}",
        f.message
    );
    // Default rules alone (nsg1) and a web NSG with SSH from a corporate range pass.
    assert_eq!(finding_of(&result, "nsg1").status, FindingStatus::Passed);
    assert_eq!(finding_of(&result, "web-nsg").status, FindingStatus::Passed);
}

#[test]
fn fixture_default_rules_never_expose_anything() {
    let nsg1 = by_name(&list(NSGS), "nsg1");
    for c in CHECKS.iter().filter(|c| c.reads() == [GROUPS]) {
        let result = run(c.meta.id, &groups(vec![nsg1.clone()]));
        assert_eq!(result.status, CheckStatus::Passed, "{}", c.meta.id);
        // The pass says what was seen: no inbound Allow rule from the internet at all.
        let e = &result.findings[0].evidence[0];
        assert_eq!(e.value["inboundAllowRulesFromInternet"], json!([]));
    }
}

#[test]
fn fixture_web_nsg_fails_http_only() {
    let nsgs = list(NSGS);
    let result = run("nsg.http_internet", &groups(nsgs.clone()));
    assert_eq!(failed(&result), ["web-nsg"]);
    let e = &finding_of(&result, "web-nsg").evidence[0];
    assert_eq!(e.property, "properties.securityRules[name=AllowHTTPS]");
    assert_eq!(e.value["exposedPorts"], json!({"TCP": "443"}));
    assert_eq!(
        failed(&run("nsg.ssh_internet", &groups(nsgs.clone()))),
        Vec::<&str>::new()
    );
    assert_eq!(
        failed(&run("nsg.all_ports_internet", &groups(nsgs))),
        Vec::<&str>::new()
    );
}

// ---------------------------------------------------------------------------------------------
// Ports

#[test]
fn port_ranges_are_expanded() {
    let f = one(
        "nsg.rdp_internet",
        vec![allow("Range", 200, "Tcp", "*", "3380-3390")],
    );
    assert_eq!(f.status, FindingStatus::Failed);
    assert_eq!(f.evidence[0].value["exposedPorts"], json!({"TCP": "3389"}));
    assert_eq!(
        f.evidence[0].value["destinationPortRanges"],
        json!(["3380-3390"])
    );
    assert!(!fails(
        "nsg.rdp_internet",
        vec![allow("Below", 200, "Tcp", "*", "3380-3388")]
    ));
    assert!(!fails(
        "nsg.rdp_internet",
        vec![allow("Above", 200, "Tcp", "*", "3390-4000")]
    ));
    assert!(fails(
        "nsg.ssh_internet",
        vec![allow("Low", 200, "Tcp", "*", "1-1024")]
    ));
}

#[test]
fn destination_port_range_lists_are_read() {
    let listed = plural(
        allow("Admin", 200, "Tcp", "Internet", ""),
        "destinationPortRange",
        &["22", "3389"],
    );
    assert!(fails("nsg.rdp_internet", vec![listed.clone()]));
    assert!(fails("nsg.ssh_internet", vec![listed]));
    let web = plural(
        allow("Web", 200, "Tcp", "Internet", ""),
        "destinationPortRange",
        &["80", "8000-8080"],
    );
    assert!(!fails("nsg.rdp_internet", vec![web.clone()]));
    assert!(!fails("nsg.ssh_internet", vec![web.clone()]));
    let f = one("nsg.http_internet", vec![web]);
    assert_eq!(f.status, FindingStatus::Failed);
    assert_eq!(f.evidence[0].value["exposedPorts"], json!({"TCP": "80"}));
}

#[test]
fn star_port_exposes_everything_on_its_protocol() {
    let rules = vec![allow("AnyTcp", 200, "Tcp", "Internet", "*")];
    for id in [
        "nsg.rdp_internet",
        "nsg.ssh_internet",
        "nsg.http_internet",
        "nsg.all_ports_internet",
        "nsg.db_admin_ports_internet",
    ] {
        assert!(fails(id, rules.clone()), "{id}");
    }
    assert!(!fails("nsg.udp_internet", rules));
}

#[test]
fn unparseable_port_entries_are_read_as_every_port_and_said_so() {
    let f = one(
        "nsg.rdp_internet",
        vec![allow("Odd", 200, "Tcp", "*", "RDP")],
    );
    assert_eq!(f.status, FindingStatus::Failed);
    let notes = f.evidence[0].value["notes"].to_string();
    assert!(notes.contains("\\\"RDP\\\" could not be parsed"), "{notes}");
}

// ---------------------------------------------------------------------------------------------
// Sources

#[test]
fn internet_sources_are_recognised_case_insensitively() {
    for source in [
        "*",
        "Internet",
        "INTERNET",
        "Any",
        "0.0.0.0/0",
        "0.0.0.0",
        "::/0",
    ] {
        let rules = vec![allow("Rdp", 200, "Tcp", source, "3389")];
        assert!(fails("nsg.rdp_internet", rules), "{source}");
    }
    for source in [
        "VirtualNetwork",
        "AzureLoadBalancer",
        "10.0.0.0/8",
        "203.0.113.7",
        "AzureCloud",
    ] {
        let rules = vec![allow("Rdp", 200, "Tcp", source, "3389")];
        assert!(!fails("nsg.rdp_internet", rules), "{source}");
    }
}

#[test]
fn source_prefix_lists_count_when_any_entry_is_the_internet() {
    let mixed = plural(
        allow("Mixed", 200, "Tcp", "", "22"),
        "sourceAddressPrefix",
        &["10.0.0.0/8", "0.0.0.0/0"],
    );
    let f = one("nsg.ssh_internet", vec![mixed]);
    assert_eq!(f.status, FindingStatus::Failed);
    assert_eq!(
        f.evidence[0].value["sourceAddressPrefixes"],
        json!(["10.0.0.0/8", "0.0.0.0/0"])
    );
    let private = plural(
        allow("Private", 200, "Tcp", "", "22"),
        "sourceAddressPrefix",
        &["10.0.0.0/8", "192.168.0.0/16"],
    );
    assert!(!fails("nsg.ssh_internet", vec![private]));
}

#[test]
fn rule_properties_match_case_insensitively() {
    let shouting = set(
        set(
            allow("Loud", 200, "TCP", "internet", "3389"),
            "access",
            json!("allow"),
        ),
        "direction",
        json!("INBOUND"),
    );
    assert!(fails("nsg.rdp_internet", vec![shouting]));
}

// ---------------------------------------------------------------------------------------------
// Access, direction, priority

#[test]
fn a_deny_rule_alone_never_fails() {
    let rules = vec![deny("DenyRdp", 100, "*", "*", "*")];
    for c in CHECKS.iter().filter(|c| c.reads() == [GROUPS]) {
        assert!(!fails(c.meta.id, rules.clone()), "{}", c.meta.id);
    }
}

#[test]
fn outbound_allow_rules_are_ignored() {
    let out = set(
        allow("Out", 100, "*", "*", "*"),
        "direction",
        json!("Outbound"),
    );
    for c in CHECKS.iter().filter(|c| c.reads() == [GROUPS]) {
        assert!(!fails(c.meta.id, vec![out.clone()]), "{}", c.meta.id);
    }
}

#[test]
fn a_deny_evaluated_first_hides_a_later_allow() {
    let f = one(
        "nsg.rdp_internet",
        vec![
            allow("AllowRdp", 200, "Tcp", "*", "3389"),
            deny("DenyRdp", 100, "Tcp", "Internet", "3389"),
        ],
    );
    assert_eq!(f.status, FindingStatus::Passed);
    assert_eq!(
        f.evidence[0].property,
        "properties.securityRules[name=AllowRdp]"
    );
    assert_eq!(
        f.evidence[0].value["blockedBy"],
        json!(["DenyRdp (priority 100)"])
    );
}

#[test]
fn a_deny_evaluated_after_the_allow_does_not() {
    let f = one(
        "nsg.rdp_internet",
        vec![
            allow("AllowRdp", 100, "Tcp", "*", "3389"),
            deny("DenyRdp", 200, "Tcp", "*", "3389"),
        ],
    );
    assert_eq!(f.status, FindingStatus::Failed);
    assert_eq!(
        f.evidence[0].property,
        "properties.securityRules[name=AllowRdp]"
    );
}

#[test]
fn a_partial_deny_leaves_the_rest_of_the_range_open() {
    let rules = vec![
        deny("DenyRdp", 100, "*", "*", "3389"),
        allow("AllowRange", 200, "Tcp", "*", "3380-3390"),
    ];
    assert!(!fails("nsg.rdp_internet", rules.clone()));
    let rules = vec![
        deny("DenyRdp", 100, "*", "*", "3389"),
        allow("AllowAll", 200, "*", "*", "*"),
    ];
    let f = one("nsg.all_ports_internet", rules);
    assert_eq!(f.status, FindingStatus::Failed);
    assert_eq!(
        f.evidence[0].value["exposedPorts"],
        json!({"TCP": "0-3388, 3390-65535", "UDP": "0-3388, 3390-65535"})
    );
}

#[test]
fn a_deny_only_hides_what_it_matches() {
    // TCP deny, any-protocol allow: UDP stays open.
    let rules = vec![
        deny("DenyTcp", 100, "Tcp", "*", "*"),
        allow("AllowAll", 200, "*", "*", "*"),
    ];
    assert!(!fails("nsg.rdp_internet", rules.clone()));
    assert!(fails("nsg.udp_internet", rules));
    // A deny for a private source does not stop the internet.
    let rules = vec![
        deny("DenyCorp", 100, "*", "10.0.0.0/8", "*"),
        allow("AllowRdp", 200, "Tcp", "*", "3389"),
    ];
    assert!(fails("nsg.rdp_internet", rules));
    // A deny for one destination address does not cover an allow to every destination.
    let rules = vec![
        set(
            deny("DenyOneVm", 100, "*", "*", "*"),
            "destinationAddressPrefix",
            json!("10.0.0.4"),
        ),
        allow("AllowRdp", 200, "Tcp", "*", "3389"),
    ];
    assert!(fails("nsg.rdp_internet", rules));
    // ...but does cover an allow to that same address.
    let rules = vec![
        set(
            deny("DenyOneVm", 100, "*", "*", "*"),
            "destinationAddressPrefix",
            json!("10.0.0.4"),
        ),
        set(
            allow("AllowRdp", 200, "Tcp", "*", "3389"),
            "destinationAddressPrefix",
            json!("10.0.0.4"),
        ),
    ];
    assert!(!fails("nsg.rdp_internet", rules));
    // A deny limited to some source ports does not stop an attacker choosing another.
    let rules = vec![
        set(
            deny("DenySrc", 100, "*", "*", "*"),
            "sourcePortRange",
            json!("1024-2048"),
        ),
        allow("AllowRdp", 200, "Tcp", "*", "3389"),
    ];
    assert!(fails("nsg.rdp_internet", rules));
}

#[test]
fn an_ipv4_only_deny_leaves_ipv6_open() {
    let v4 = deny("DenyV4", 100, "*", "0.0.0.0/0", "*");
    let v6 = deny("DenyV6", 110, "*", "::/0", "*");
    let any = allow("AllowRdp", 200, "Tcp", "*", "3389");
    assert!(fails("nsg.rdp_internet", vec![v4.clone(), any.clone()]));
    assert!(!fails("nsg.rdp_internet", vec![v4.clone(), v6, any]));
    // An IPv4-only allow is fully hidden by the IPv4 deny.
    let v4_allow = allow("AllowRdpV4", 200, "Tcp", "0.0.0.0/0", "3389");
    assert!(!fails("nsg.rdp_internet", vec![v4, v4_allow]));
}

#[test]
fn every_offending_allow_rule_is_named() {
    let f = one(
        "nsg.ssh_internet",
        vec![
            allow("First", 100, "Tcp", "*", "22"),
            allow("Second", 200, "*", "Internet", "20-30"),
            allow("Corp", 150, "Tcp", "10.0.0.0/8", "22"),
        ],
    );
    assert_eq!(f.status, FindingStatus::Failed);
    let props: Vec<&str> = f.evidence.iter().map(|e| e.property.as_str()).collect();
    assert_eq!(
        props,
        [
            "properties.securityRules[name=First]",
            "properties.securityRules[name=Second]"
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Protocols

#[test]
fn udp_and_tcp_are_told_apart() {
    let udp_rdp = vec![allow("UdpRdp", 200, "Udp", "*", "3389")];
    assert!(!fails("nsg.rdp_internet", udp_rdp.clone()));
    assert!(fails("nsg.udp_internet", udp_rdp));
    let tcp_dns = vec![allow("TcpDns", 200, "Tcp", "*", "53")];
    assert!(!fails("nsg.udp_internet", tcp_dns));
    let any_dns = vec![allow("Dns", 200, "*", "*", "53")];
    let f = one("nsg.udp_internet", any_dns);
    assert_eq!(f.status, FindingStatus::Failed);
    assert_eq!(f.evidence[0].value["exposedPorts"], json!({"UDP": "53"}));
    let any_word = vec![allow("AnyWord", 200, "Any", "*", "3389")];
    assert!(fails("nsg.rdp_internet", any_word));
}

#[test]
fn icmp_opens_no_ports() {
    let ping = vec![allow("Ping", 200, "Icmp", "*", "*")];
    for c in CHECKS.iter().filter(|c| c.reads() == [GROUPS]) {
        assert!(!fails(c.meta.id, ping.clone()), "{}", c.meta.id);
    }
}

// ---------------------------------------------------------------------------------------------
// Per-check specifics

#[test]
fn http_looks_at_80_and_443_only() {
    assert!(fails(
        "nsg.http_internet",
        vec![allow("Http", 200, "Tcp", "Internet", "80")]
    ));
    assert!(fails(
        "nsg.http_internet",
        vec![allow("Https", 200, "Tcp", "Any", "443")]
    ));
    assert!(!fails(
        "nsg.http_internet",
        vec![allow("Alt", 200, "Tcp", "*", "8080")]
    ));
}

#[test]
fn all_ports_needs_a_rule_opening_every_port() {
    for ports in ["*", "0-65535", "1-65535"] {
        let rules = vec![allow("Wide", 200, "Tcp", "*", ports)];
        assert!(fails("nsg.all_ports_internet", rules), "{ports}");
    }
    assert!(!fails(
        "nsg.all_ports_internet",
        vec![allow("Wide", 200, "*", "*", "2-65535")]
    ));
    assert!(!fails(
        "nsg.all_ports_internet",
        vec![allow("Low", 200, "*", "*", "1-1024")]
    ));
    // Every port, but only from a private range.
    assert!(!fails(
        "nsg.all_ports_internet",
        vec![allow("Vnet", 200, "*", "10.0.0.0/8", "*")]
    ));
    // Every port, entirely hidden by an earlier deny-all from the internet.
    let rules = vec![
        deny("DenyInternet", 100, "*", "Internet", "*"),
        allow("AllowAll", 200, "*", "*", "*"),
    ];
    assert!(!fails("nsg.all_ports_internet", rules));
}

#[test]
fn db_admin_ports_are_named_in_the_evidence() {
    let listed = plural(
        allow("Data", 200, "Tcp", "Internet", ""),
        "destinationPortRange",
        &["1433", "5432", "443"],
    );
    let f = one("nsg.db_admin_ports_internet", vec![listed]);
    assert_eq!(f.status, FindingStatus::Failed);
    let v = &f.evidence[0].value;
    assert_eq!(v["exposedPorts"], json!({"TCP": "1433, 5432"}));
    assert_eq!(
        v["exposedServices"],
        json!(["TCP 1433 (SQL Server)", "TCP 5432 (PostgreSQL)"])
    );
    assert!(f.message.contains("TCP 1433 (SQL Server)"), "{}", f.message);

    let f = one(
        "nsg.db_admin_ports_internet",
        vec![allow("Remote", 200, "Tcp", "*", "5900-5990")],
    );
    assert_eq!(
        f.evidence[0].value["exposedServices"],
        json!([
            "TCP 5900 (VNC)",
            "TCP 5984 (CouchDB)",
            "TCP 5985-5986 (WinRM (PowerShell remoting))"
        ])
    );
    assert!(!fails(
        "nsg.db_admin_ports_internet",
        vec![allow("Web", 200, "Tcp", "*", "443")]
    ));
}

#[test]
fn db_admin_udp_only_where_the_service_listens_on_udp() {
    let f = one(
        "nsg.db_admin_ports_internet",
        vec![allow("Memcached", 200, "Udp", "*", "11211")],
    );
    assert_eq!(f.status, FindingStatus::Failed);
    assert_eq!(
        f.evidence[0].value["exposedServices"],
        json!(["UDP 11211 (memcached)"])
    );
    assert!(!fails(
        "nsg.db_admin_ports_internet",
        vec![allow("UdpSql", 200, "Udp", "*", "1433")]
    ));
}

#[test]
fn db_admin_port_list_covers_the_catalogue() {
    let tcp = db_admin_ports(Protocol::Tcp);
    for p in [
        1433, 1434, 1521, 3306, 5432, 6379, 9200, 9300, 11211, 27017, 5985, 5986, 23, 445, 135,
        2375, 2376, 5900,
    ] {
        assert!(tcp.contains(p), "{p}");
    }
    assert!(!tcp.contains(22) && !tcp.contains(3389) && !tcp.contains(443));
}

// ---------------------------------------------------------------------------------------------
// Subnets

#[test]
fn subnets_without_an_nsg_fail_and_reserved_subnets_are_exempt() {
    let mut ds = Dataset::default();
    ds.insert_list(VIRTUAL_NETWORKS, ListOutcome::Items(list(VNETS)));
    let result = run("nsg.subnet_has_nsg", &ds);
    assert_eq!(result.status, CheckStatus::Failed);
    assert_eq!(failed(&result), ["app"]);
    assert_eq!(result.findings.len(), 7, "vnet2 has no subnets");

    let app = finding_of(&result, "app");
    assert_eq!(
        app.resource_id,
        "/subscriptions/subid/resourceGroups/rg1/providers/Microsoft.Network/virtualNetworks/vnet1/subnets/app"
    );
    assert_eq!(
        app.resource_type,
        "Microsoft.Network/virtualNetworks/subnets"
    );
    assert_eq!(app.location.as_deref(), Some("westus"));
    assert_eq!(
        app.evidence[0].property,
        "properties.networkSecurityGroup.id"
    );
    assert_eq!(app.evidence[0].value, Value::Null);
    assert!(app.message.contains("vnet1"), "{}", app.message);

    let web = finding_of(&result, "web");
    assert_eq!(web.status, FindingStatus::Passed);
    assert!(
        web.evidence[0]
            .value
            .as_str()
            .is_some_and(|v| v.ends_with("/web-nsg"))
    );

    for name in [
        "GatewaySubnet",
        "AzureFirewallSubnet",
        "AzureFirewallManagementSubnet",
        "RouteServerSubnet",
        "hsm",
    ] {
        assert_eq!(
            finding_of(&result, name).status,
            FindingStatus::NotApplicable,
            "{name}"
        );
    }
}

#[test]
fn subnets_all_protected_pass_and_no_subnets_is_not_applicable() {
    let mut vnets = list(VNETS);
    vnets[0]["properties"]["subnets"][1]["properties"]["networkSecurityGroup"] = json!({"id": "/subscriptions/subid/resourceGroups/rg1/providers/Microsoft.Network/networkSecurityGroups/app-nsg"});
    let mut ds = Dataset::default();
    ds.insert_list(VIRTUAL_NETWORKS, ListOutcome::Items(vnets));
    assert_eq!(run("nsg.subnet_has_nsg", &ds).status, CheckStatus::Passed);

    let mut ds = Dataset::default();
    ds.insert_list(
        VIRTUAL_NETWORKS,
        ListOutcome::Items(vec![by_name(&list(VNETS), "vnet2")]),
    );
    let result = run("nsg.subnet_has_nsg", &ds);
    assert_eq!(result.status, CheckStatus::NotApplicable);
    assert_eq!(
        result.reason,
        "No virtual network subnets in the selected regions"
    );
}

// ---------------------------------------------------------------------------------------------
// Flow logs

/// The fixture's NSGs, watchers, and the westus watcher's flow logs (the eastus one has none).
fn flow_dataset(logs: Vec<Value>) -> Dataset {
    let mut ds = groups(list(NSGS));
    ds.insert_list(NETWORK_WATCHERS, ListOutcome::Items(list(WATCHERS)));
    ds.insert_child(FLOW_LOGS, WESTUS_WATCHER, ChildOutcome::Items(logs));
    ds.insert_child(FLOW_LOGS, EASTUS_WATCHER, ChildOutcome::Items(Vec::new()));
    ds
}

fn flow_log(name: &str) -> Value {
    by_name(&list(FLOW_LOG_LIST), name)
}

fn retention(mut log: Value, policy: Value) -> Value {
    log["properties"]["retentionPolicy"] = policy;
    log
}

#[test]
fn fixture_flow_logs_vnet_target_passes_short_nsg_retention_fails() {
    let result = run(
        "nsg.flow_logs_retention",
        &flow_dataset(list(FLOW_LOG_LIST)),
    );
    assert_eq!(result.status, CheckStatus::Failed);
    assert_eq!(failed(&result), ["rdp-open-nsg"]);

    // web-nsg is associated with vnet1/subnets/web; vnet1 has a VNet flow log kept 90 days.
    let web = finding_of(&result, "web-nsg");
    assert_eq!(web.status, FindingStatus::Passed);
    assert_eq!(
        web.evidence[0].property,
        "flowLogs[id=/subscriptions/subid/resourceGroups/NetworkWatcherRG/providers/Microsoft.Network/networkWatchers/NetworkWatcher_westus/flowLogs/vnet1-flowlog]"
    );
    assert_eq!(web.evidence[0].value["enabled"], json!(true));
    assert_eq!(web.evidence[0].value["retentionPolicy"]["days"], json!(90));
    assert!(web.message.contains("vnet1-flowlog"), "{}", web.message);

    let rdp = finding_of(&result, "rdp-open-nsg");
    assert_eq!(rdp.evidence[0].value["retentionPolicy"]["days"], json!(30));
    assert!(rdp.message.contains("30-day retention"), "{}", rdp.message);

    // nsg1 is associated with nothing.
    assert_eq!(
        finding_of(&result, "nsg1").status,
        FindingStatus::NotApplicable
    );
}

#[test]
fn flow_log_retention_zero_ninety_thirty_and_disabled() {
    let cases = [
        (json!({"days": 0, "enabled": true}), FindingStatus::Passed),
        (json!({"days": 90, "enabled": true}), FindingStatus::Passed),
        (json!({"days": 365, "enabled": true}), FindingStatus::Passed),
        (json!({"days": 30, "enabled": true}), FindingStatus::Failed),
        (json!({"days": 89, "enabled": true}), FindingStatus::Failed),
        // Retention policy off: nothing is deleted.
        (json!({"days": 7, "enabled": false}), FindingStatus::Passed),
        // The ARM defaults (enabled false, days 0) when the policy is absent.
        (Value::Null, FindingStatus::Passed),
    ];
    for (policy, expected) in cases {
        let log = retention(flow_log("rdp-open-nsg-flowlog"), policy.clone());
        let result = run("nsg.flow_logs_retention", &flow_dataset(vec![log]));
        assert_eq!(
            finding_of(&result, "rdp-open-nsg").status,
            expected,
            "{policy}"
        );
    }
}

#[test]
fn a_disabled_flow_log_does_not_count() {
    let mut log = retention(
        flow_log("rdp-open-nsg-flowlog"),
        json!({"days": 0, "enabled": false}),
    );
    log["properties"]["enabled"] = json!(false);
    let result = run("nsg.flow_logs_retention", &flow_dataset(vec![log]));
    let f = finding_of(&result, "rdp-open-nsg");
    assert_eq!(f.status, FindingStatus::Failed);
    assert!(f.message.contains("disabled"), "{}", f.message);
}

#[test]
fn subnet_targets_and_case_differences_count() {
    let mut log = flow_log("vnet1-flowlog");
    log["properties"]["targetResourceId"] = json!(
        "/SUBSCRIPTIONS/subid/resourceGroups/RG1/providers/Microsoft.Network/virtualNetworks/VNET1/subnets/web"
    );
    let result = run("nsg.flow_logs_retention", &flow_dataset(vec![log]));
    assert_eq!(finding_of(&result, "web-nsg").status, FindingStatus::Passed);

    // A flow log on another subnet of the same VNet does not cover web-nsg.
    let mut other = flow_log("vnet1-flowlog");
    other["properties"]["targetResourceId"] = json!(
        "/subscriptions/subid/resourceGroups/rg1/providers/Microsoft.Network/virtualNetworks/vnet1/subnets/app"
    );
    let result = run("nsg.flow_logs_retention", &flow_dataset(vec![other]));
    assert_eq!(finding_of(&result, "web-nsg").status, FindingStatus::Failed);
}

#[test]
fn no_flow_log_fails_with_what_was_looked_for() {
    let result = run("nsg.flow_logs_retention", &flow_dataset(Vec::new()));
    let f = finding_of(&result, "web-nsg");
    assert_eq!(f.status, FindingStatus::Failed);
    assert_eq!(f.evidence[0].property, "flowLogs");
    assert_eq!(
        f.evidence[0].value,
        json!("no flow log targets this NSG or its VNets")
    );
    assert_eq!(
        f.evidence[1].value,
        json!([
            "/subscriptions/subid/resourcegroups/rg1/providers/microsoft.network/networksecuritygroups/web-nsg",
            "/subscriptions/subid/resourcegroups/rg1/providers/microsoft.network/virtualnetworks/vnet1",
            "/subscriptions/subid/resourcegroups/rg1/providers/microsoft.network/virtualnetworks/vnet1/subnets/web"
        ])
    );
}

#[test]
fn a_failed_watcher_makes_nsgs_without_a_passing_log_unreadable() {
    let mut ds = flow_dataset(list(FLOW_LOG_LIST));
    ds.insert_child(
        FLOW_LOGS,
        EASTUS_WATCHER,
        ChildOutcome::Failed(FetchError::AccessDenied {
            action: "Microsoft.Network/networkWatchers/flowLogs/read".to_string(),
            message: "AuthorizationFailed".to_string(),
        }),
    );
    let result = run("nsg.flow_logs_retention", &ds);
    // rdp-open-nsg's only known log keeps 30 days, but the unreadable watcher might hold a good
    // one: not a proven failure.
    assert_eq!(result.status, CheckStatus::FailedAccessDenied);
    assert_eq!(
        result.missing_permission.as_deref(),
        Some("Microsoft.Network/networkWatchers/flowLogs/read")
    );
    let rdp = finding_of(&result, "rdp-open-nsg");
    assert_eq!(rdp.status, FindingStatus::AccessDenied);
    assert!(
        rdp.message.contains("NetworkWatcher_eastus"),
        "{}",
        rdp.message
    );
    assert!(
        rdp.evidence
            .iter()
            .any(|e| e.property.starts_with("flowLogs[id="))
    );
    // A passing log elsewhere still passes.
    assert_eq!(finding_of(&result, "web-nsg").status, FindingStatus::Passed);
}

#[test]
fn the_flow_log_collection_failing_as_a_whole_ends_the_check() {
    let mut ds = flow_dataset(Vec::new());
    ds.insert_failure(
        FLOW_LOGS,
        FetchError::Error {
            message: "network watcher list failed".to_string(),
        },
    );
    assert_eq!(
        run("nsg.flow_logs_retention", &ds).status,
        CheckStatus::Error
    );
}
