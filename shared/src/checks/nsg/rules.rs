//! Which inbound traffic from the internet an NSG's rules let through.
//!
//! Azure evaluates an NSG's inbound rules (custom `securityRules` and the built-in
//! `defaultSecurityRules` together) in priority order, lowest number first, and the first rule
//! that matches a flow decides it. Here that is modelled on port sets: for each Allow rule whose
//! source includes the internet, the ports it would open are reduced by every Deny rule with a
//! lower priority number that matches the same traffic (protocol, internet source of the same
//! address family, every source port, a destination that includes the Allow rule's). What is
//! left is reachable from the internet through that rule.
//!
//! Earlier Allow rules do not reduce later ones: each Allow rule that opens a port on its own is
//! named, so removing one offending rule never hides the next.
//!
//! Rule properties are matched case-insensitively. Values Azure would not accept (unknown
//! protocol, an unparseable port entry, a missing priority) are read conservatively: widely for
//! an Allow rule, not at all for a Deny rule, and the evidence says so.

use serde_json::{Map, Value, json};

use super::ports::{PortSet, parse_port_entry};
use crate::checks::props::{prop, prop_str};

/// A transport protocol whose ports a check looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Tcp,
    Udp,
}

impl Protocol {
    pub const BOTH: [Protocol; 2] = [Protocol::Tcp, Protocol::Udp];

    pub fn label(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
        }
    }
}

/// The internet as seen by one address family: a rule from `0.0.0.0/0` opens IPv4 only, and a
/// Deny from `0.0.0.0/0` leaves IPv6 open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
}

const BOTH_FAMILIES: [Family; 2] = [Family::V4, Family::V6];

/// One inbound rule, normalised.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Evidence path, e.g. `properties.securityRules[name=AllowRDP]`.
    pub path: String,
    pub name: String,
    pub priority: u32,
    pub allow: bool,
    /// Which of TCP/UDP it matches (empty for ICMP, ESP, AH).
    pub protocols: Vec<Protocol>,
    /// The internet address families its source covers (empty: the source is not the internet).
    pub families: Vec<Family>,
    /// Destination ports.
    pub ports: PortSet,
    /// Whether it matches every source port (only then can a Deny rule hide an Allow rule).
    pub every_source_port: bool,
    /// Destination is `*`/`Any`.
    pub any_destination: bool,
    /// Destination prefixes and application security group ids, lower-cased.
    pub destinations: Vec<String>,
    /// What was read conservatively.
    pub notes: Vec<String>,
    /// A compact copy of the properties the decision rests on, for evidence.
    pub summary: Value,
}

/// Reads an NSG's inbound rules (custom and default), sorted by priority.
pub fn inbound_rules(nsg: &Value) -> Vec<Rule> {
    let mut rules: Vec<Rule> = ["securityRules", "defaultSecurityRules"]
        .into_iter()
        .flat_map(|list| {
            let items = prop(nsg, &format!("properties.{list}"))
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default();
            items
                .iter()
                .enumerate()
                .filter_map(move |(i, r)| parse_rule(list, i, r))
        })
        .collect();
    // Stable: equal priorities keep document order (Azure rejects duplicates within a direction).
    rules.sort_by_key(|r| r.priority);
    rules
}

/// The string and list forms of a property pair, e.g. `sourceAddressPrefix` and
/// `sourceAddressPrefixes`. Real responses carry both, one of them empty.
fn entries(rule: &Value, single: &str, plural: &str) -> Vec<String> {
    let mut out: Vec<String> = prop_str(rule, &format!("properties.{single}"))
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().to_string())
        .into_iter()
        .collect();
    if let Some(items) = prop(rule, &format!("properties.{plural}")).and_then(Value::as_array) {
        out.extend(
            items
                .iter()
                .filter_map(Value::as_str)
                .filter(|s| !s.trim().is_empty())
                .map(|s| s.trim().to_string()),
        );
    }
    out
}

fn eq(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// The internet families an address prefix covers. `0.0.0.0` (no length) is read as the IPv4
/// internet when it opens traffic, but never trusted to block it.
fn internet_families(prefix: &str, allow: bool) -> &'static [Family] {
    let p = prefix.trim();
    if p == "*" || eq(p, "any") || eq(p, "internet") {
        &BOTH_FAMILIES
    } else if p == "0.0.0.0/0" || (allow && p == "0.0.0.0") {
        &[Family::V4]
    } else if p == "::/0" {
        &[Family::V6]
    } else {
        &[]
    }
}

fn parse_rule(list: &str, index: usize, rule: &Value) -> Option<Rule> {
    if !prop_str(rule, "properties.direction").is_some_and(|d| eq(d, "inbound")) {
        return None;
    }
    let allow = match prop_str(rule, "properties.access") {
        Some(a) if eq(a, "allow") => true,
        Some(a) if eq(a, "deny") => false,
        _ => return None,
    };
    let name = prop_str(rule, "name")
        .map(str::to_string)
        .or_else(|| prop_str(rule, "id").and_then(|id| id.rsplit('/').next().map(str::to_string)))
        .unwrap_or_else(|| format!("#{index}"));
    let mut notes = Vec::new();

    let priority = match prop(rule, "properties.priority").and_then(Value::as_u64) {
        Some(p) => u32::try_from(p).unwrap_or(u32::MAX),
        None if allow => {
            notes.push("no priority; assumed to be evaluated first".to_string());
            0
        }
        None => u32::MAX,
    };

    let protocol = prop_str(rule, "properties.protocol").unwrap_or("");
    let protocols = match protocol.trim().to_ascii_lowercase().as_str() {
        "tcp" => vec![Protocol::Tcp],
        "udp" => vec![Protocol::Udp],
        "*" | "any" => Protocol::BOTH.to_vec(),
        // No ports: cannot open a TCP or UDP port.
        "icmp" | "esp" | "ah" => Vec::new(),
        _ if allow => {
            notes.push(format!(
                "protocol {protocol:?} not recognised; treated as any protocol"
            ));
            Protocol::BOTH.to_vec()
        }
        _ => Vec::new(),
    };

    let sources = entries(rule, "sourceAddressPrefix", "sourceAddressPrefixes");
    let mut families: Vec<Family> = Vec::new();
    for f in sources.iter().flat_map(|s| internet_families(s, allow)) {
        if !families.contains(f) {
            families.push(*f);
        }
    }

    let port_entries = entries(rule, "destinationPortRange", "destinationPortRanges");
    let mut ports = PortSet::empty();
    for entry in &port_entries {
        match parse_port_entry(entry) {
            Some(p) => ports = ports.union(&p),
            None if allow => {
                notes.push(format!(
                    "destination port entry {entry:?} could not be parsed; treated as every port"
                ));
                ports = PortSet::all();
            }
            None => {}
        }
    }
    if port_entries.is_empty() && allow {
        notes.push("no destination port; treated as every port".to_string());
        ports = PortSet::all();
    }

    let source_ports = entries(rule, "sourcePortRange", "sourcePortRanges")
        .iter()
        .filter_map(|e| parse_port_entry(e))
        .fold(PortSet::empty(), |acc, p| acc.union(&p));
    let every_source_port = source_ports == PortSet::all();

    let mut destinations = entries(
        rule,
        "destinationAddressPrefix",
        "destinationAddressPrefixes",
    );
    if let Some(asgs) =
        prop(rule, "properties.destinationApplicationSecurityGroups").and_then(Value::as_array)
    {
        destinations.extend(
            asgs.iter()
                .filter_map(|a| prop_str(a, "id"))
                .map(str::to_string),
        );
    }
    let destinations: Vec<String> = destinations
        .iter()
        .map(|d| d.to_ascii_lowercase())
        .collect();
    let any_destination = destinations.iter().any(|d| d == "*" || d == "any");

    let summary = json!({
        "priority": prop(rule, "properties.priority").cloned().unwrap_or(Value::Null),
        "access": prop(rule, "properties.access").cloned().unwrap_or(Value::Null),
        "protocol": prop(rule, "properties.protocol").cloned().unwrap_or(Value::Null),
        "sourceAddressPrefixes": sources,
        "destinationPortRanges": port_entries,
    });

    Some(Rule {
        path: format!("properties.{list}[name={name}]"),
        name,
        priority,
        allow,
        protocols,
        families,
        ports,
        every_source_port,
        any_destination,
        destinations,
        notes,
        summary,
    })
}

impl Rule {
    /// Whether this (Deny) rule matches all internet traffic of `protocol` and `family` that
    /// `allow` matches, for the ports it lists.
    fn hides(&self, allow: &Rule, protocol: Protocol, family: Family) -> bool {
        !self.allow
            && self.priority < allow.priority
            && self.protocols.contains(&protocol)
            && self.families.contains(&family)
            && self.every_source_port
            && (self.any_destination
                || (!allow.destinations.is_empty()
                    && allow
                        .destinations
                        .iter()
                        .all(|d| self.destinations.contains(d))))
    }

    /// Whether the source includes the internet.
    pub fn has_internet_source(&self) -> bool {
        !self.families.is_empty()
    }
}

/// What one Allow rule does to the ports a check looks at.
#[derive(Debug, Clone)]
pub enum Outcome<'r> {
    /// Reachable from the internet through this rule: per protocol, the ports.
    Exposed {
        rule: &'r Rule,
        ports: Vec<(Protocol, PortSet)>,
    },
    /// The rule would open some of the ports, but Deny rules evaluated before it cover them all.
    Hidden { rule: &'r Rule, by: Vec<String> },
}

/// Evaluates every inbound Allow rule from the internet that `candidate` accepts against the
/// ports `wanted(protocol)`; rules that reach none of them are left out.
pub fn evaluate<'r>(
    rules: &'r [Rule],
    wanted: impl Fn(Protocol) -> PortSet,
    candidate: impl Fn(&Rule) -> bool,
) -> Vec<Outcome<'r>> {
    let mut outcomes = Vec::new();
    for allow in rules
        .iter()
        .filter(|r| r.allow && r.has_internet_source() && candidate(r))
    {
        let mut exposed: Vec<(Protocol, PortSet)> = Vec::new();
        let mut hidden_by: Vec<String> = Vec::new();
        let mut reaches = false;
        for &protocol in &allow.protocols {
            let opens = allow.ports.intersection(&wanted(protocol));
            if opens.is_empty() {
                continue;
            }
            reaches = true;
            let mut open = PortSet::empty();
            for &family in &allow.families {
                let mut denied = PortSet::empty();
                for deny in rules.iter().filter(|d| d.hides(allow, protocol, family)) {
                    if !deny.ports.intersection(&opens).is_empty() {
                        denied = denied.union(&deny.ports);
                        let label = format!("{} (priority {})", deny.name, deny.priority);
                        if !hidden_by.contains(&label) {
                            hidden_by.push(label);
                        }
                    }
                }
                open = open.union(&opens.difference(&denied));
            }
            if !open.is_empty() {
                exposed.push((protocol, open));
            }
        }
        if !exposed.is_empty() {
            outcomes.push(Outcome::Exposed {
                rule: allow,
                ports: exposed,
            });
        } else if reaches {
            outcomes.push(Outcome::Hidden {
                rule: allow,
                by: hidden_by,
            });
        }
    }
    outcomes
}

/// `{"TCP": "3389", "UDP": "53"}` for evidence.
pub fn ports_json(ports: &[(Protocol, PortSet)]) -> Value {
    let map: Map<String, Value> = ports
        .iter()
        .map(|(p, set)| (p.label().to_string(), Value::String(set.to_string())))
        .collect();
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(props: Value) -> Value {
        json!({"name": "r", "properties": props})
    }

    #[test]
    fn reads_both_forms_of_each_property_and_ignores_empty_ones() {
        let r = rule(json!({
            "protocol": "TCP", "access": "allow", "direction": "INBOUND", "priority": 300,
            "sourcePortRange": "*", "sourcePortRanges": [],
            "sourceAddressPrefix": "", "sourceAddressPrefixes": ["10.0.0.0/8", "::/0"],
            "destinationPortRange": "22", "destinationPortRanges": ["3380-3390"],
            "destinationAddressPrefix": "*", "destinationAddressPrefixes": []
        }));
        let parsed = parse_rule("securityRules", 0, &r).expect("inbound rule");
        assert!(parsed.allow);
        assert_eq!(parsed.protocols, vec![Protocol::Tcp]);
        assert_eq!(parsed.families, vec![Family::V6]);
        assert_eq!(parsed.ports.to_string(), "22, 3380-3390");
        assert!(parsed.every_source_port && parsed.any_destination);
        assert!(parsed.notes.is_empty());
        assert_eq!(parsed.path, "properties.securityRules[name=r]");
    }

    #[test]
    fn outbound_and_unknown_access_are_not_inbound_rules() {
        let out = rule(json!({"access": "Allow", "direction": "Outbound", "priority": 100}));
        assert!(parse_rule("securityRules", 0, &out).is_none());
        let odd = rule(json!({"access": "Maybe", "direction": "Inbound", "priority": 100}));
        assert!(parse_rule("securityRules", 0, &odd).is_none());
    }

    #[test]
    fn unreadable_values_widen_allow_rules_and_narrow_deny_rules() {
        let props = |access: &str| {
            json!({"protocol": "Gre", "access": access, "direction": "Inbound",
                   "sourceAddressPrefix": "0.0.0.0", "destinationPortRange": "RDP"})
        };
        let allow = parse_rule("securityRules", 0, &rule(props("Allow"))).expect("allow");
        assert_eq!(allow.priority, 0);
        assert_eq!(allow.protocols, Protocol::BOTH.to_vec());
        assert_eq!(allow.families, vec![Family::V4]);
        assert_eq!(allow.ports, PortSet::all());
        assert_eq!(allow.notes.len(), 3, "{:?}", allow.notes);
        let deny = parse_rule("securityRules", 0, &rule(props("Deny"))).expect("deny");
        assert_eq!(deny.priority, u32::MAX);
        assert!(deny.protocols.is_empty() && deny.families.is_empty() && deny.ports.is_empty());
        assert!(!deny.every_source_port);
    }
}
