//! Azure clouds: the endpoints and token audiences of each, per connection.
//!
//! The product knows "a cloud with these endpoints", nothing more: the public cloud is the
//! default, Azure China and Azure US Government are built in, and anything else (Azure Stack Hub,
//! a test emulator) is a cloud the **operator** registers by name in configuration
//! ([`CloudRegistry`], `FLEET_CLOUDS` / `FLEET_CLOUDS_FILE`). A connection names its cloud; it can
//! never bring endpoints of its own, so an organization's API token cannot point the fleet's
//! token requests and reads at a host of its choosing. Registered endpoints must be https URLs
//! without userinfo, query or fragment, and their hosts must not resolve to loopback, link-local,
//! private or CGNAT addresses unless the operator allows that for the cloud (the emulator's cloud
//! in the demo and the tests).

use std::collections::BTreeMap;
use std::net::IpAddr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use url::Url;

/// Which ARM throttling model applies (research/arm.md section 1).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ThrottleModel {
    /// Public cloud since 2024: token bucket of 250 reads, refilled 25/s, per (subscription,
    /// principal).
    TokenBucket,
    /// Sovereign and custom clouds: 12,000 reads per hour per (subscription, principal).
    Hourly,
}

/// A connection's cloud.
#[derive(
    Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema, utoipa::ToSchema,
)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Cloud {
    #[default]
    Public,
    China,
    UsGovernment,
    /// A cloud the operator registered (Azure Stack Hub, an emulator), by its name.
    Registered {
        /// The registered cloud's name (`FLEET_CLOUDS`).
        name: String,
    },
    /// Endpoints stored on a connection before clouds were registered by the operator. Refused
    /// on input; a stored one keeps working only when its endpoints are those of a registered
    /// cloud.
    Custom(CustomCloud),
}

/// Endpoints of a custom cloud. Audiences default to the endpoint itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, utoipa::ToSchema)]
pub struct CustomCloud {
    /// Entra ID authority host, e.g. `https://login.microsoftonline.com`.
    pub authority_host: String,
    /// Resource Manager endpoint, e.g. `https://management.azure.com`.
    pub resource_manager: String,
    /// Microsoft Graph endpoint, if the cloud has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graph: Option<String>,
    /// Token audience for ARM; defaults to `resource_manager`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arm_audience: Option<String>,
    /// Token audience for Graph; defaults to `graph`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graph_audience: Option<String>,
    /// The cloud's region names (Azure Stack Hub's are chosen by its operator); when absent,
    /// the Azure public cloud's region names are accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regions: Option<Vec<String>>,
    /// How its Resource Manager limits reads; the hourly model when absent (as documented for
    /// clouds other than the public one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throttle_model: Option<ThrottleModel>,
}

/// Resolved endpoints of a cloud, normalised without trailing slashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// `public`, `china`, `us_government`, or the registered cloud's name.
    pub name: String,
    /// A built-in cloud (Microsoft's endpoints): its answers may be quoted in diagnoses.
    pub builtin: bool,
    /// The cloud's region names; `None` for the public cloud's.
    pub regions: Option<Vec<String>>,
    pub authority_host: String,
    pub resource_manager: String,
    pub graph: Option<String>,
    /// Scope requested for ARM tokens (`<audience>/.default`).
    pub arm_scope: String,
    pub graph_scope: Option<String>,
    pub throttle_model: ThrottleModel,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{field}: {problem}")]
pub struct CloudError {
    pub field: String,
    pub problem: String,
}

impl Cloud {
    /// The endpoints of a built-in cloud; `None` for registered and legacy custom ones (ask the
    /// [`CloudRegistry`]).
    pub fn builtin_endpoints(&self) -> Option<Endpoints> {
        Some(match self {
            Cloud::Public => builtin(
                "public",
                "https://login.microsoftonline.com",
                "https://management.azure.com",
                "https://graph.microsoft.com",
                ThrottleModel::TokenBucket,
            ),
            Cloud::China => builtin(
                "china",
                "https://login.chinacloudapi.cn",
                "https://management.chinacloudapi.cn",
                "https://microsoftgraph.chinacloudapi.cn",
                ThrottleModel::Hourly,
            ),
            Cloud::UsGovernment => builtin(
                "us_government",
                "https://login.microsoftonline.us",
                "https://management.usgovcloudapi.net",
                "https://graph.microsoft.us",
                ThrottleModel::Hourly,
            ),
            Cloud::Registered { .. } | Cloud::Custom(_) => return None,
        })
    }

    /// A short label for logs and metrics (a bounded set: registered clouds are `registered`).
    pub fn label(&self) -> &'static str {
        match self {
            Cloud::Public => "public",
            Cloud::China => "china",
            Cloud::UsGovernment => "us_government",
            Cloud::Registered { .. } => "registered",
            Cloud::Custom(_) => "custom",
        }
    }
}

impl CustomCloud {
    fn endpoints(&self, name: &str) -> Endpoints {
        let graph = self.graph.as_deref().map(trim);
        let arm_audience = self
            .arm_audience
            .as_deref()
            .unwrap_or(&self.resource_manager);
        let graph_audience = self.graph_audience.as_deref().or(graph.as_deref());
        Endpoints {
            name: name.to_string(),
            builtin: false,
            regions: self.regions.clone(),
            authority_host: trim(&self.authority_host),
            resource_manager: trim(&self.resource_manager),
            arm_scope: scope(arm_audience),
            graph_scope: graph_audience.map(scope),
            graph,
            throttle_model: self.throttle_model.unwrap_or(ThrottleModel::Hourly),
        }
    }

    /// `(field, value)` of every URL of the cloud.
    fn urls(&self) -> [(&'static str, Option<&String>); 5] {
        [
            ("authority_host", Some(&self.authority_host)),
            ("resource_manager", Some(&self.resource_manager)),
            ("graph", self.graph.as_ref()),
            ("arm_audience", self.arm_audience.as_ref()),
            ("graph_audience", self.graph_audience.as_ref()),
        ]
    }
}

/// A cloud the operator registered: its endpoints and whether they may be private addresses.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisteredCloud {
    #[serde(flatten)]
    pub cloud: CustomCloud,
    /// Allow endpoints on loopback, link-local, private or CGNAT addresses (an emulator, an
    /// Azure Stack Hub on the operator's network). Off by default.
    #[serde(default)]
    pub allow_private_addresses: bool,
}

impl std::fmt::Debug for RegisteredCloud {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegisteredCloud")
            .field("resource_manager", &self.cloud.resource_manager)
            .field("allow_private_addresses", &self.allow_private_addresses)
            .finish_non_exhaustive()
    }
}

/// The operator's registered clouds, by name. Both binaries load the same configuration
/// (`FLEET_CLOUDS` as JSON, or `FLEET_CLOUDS_FILE`), e.g.
/// `{"stack-hub": {"authority_host": "https://login.hub.example", "resource_manager":
/// "https://management.hub.example", "regions": ["local"]}}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CloudRegistry {
    clouds: BTreeMap<String, RegisteredCloud>,
}

/// Names that are not available to registered clouds.
const RESERVED_NAMES: &[&str] = &[
    "public",
    "china",
    "us_government",
    "usgov",
    "custom",
    "registered",
];

impl CloudRegistry {
    /// Parses and checks the registry (names, URL rules); see [`CloudRegistry::check_addresses`]
    /// for the address rules, which need DNS.
    pub fn parse(json: &str) -> Result<Self, CloudError> {
        let clouds: BTreeMap<String, RegisteredCloud> =
            serde_json::from_str(json).map_err(|e| CloudError {
                field: "FLEET_CLOUDS".into(),
                problem: format!("not a JSON object of clouds: {e}"),
            })?;
        for (name, cloud) in &clouds {
            let valid_name = !name.is_empty()
                && name.len() <= 40
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
            if !valid_name || RESERVED_NAMES.contains(&name.as_str()) {
                return Err(CloudError {
                    field: format!("FLEET_CLOUDS.{name}"),
                    problem:
                        "a cloud name is 1-40 of a-z, 0-9, - and _, and not a built-in cloud's"
                            .into(),
                });
            }
            for (field, value) in cloud.cloud.urls() {
                if let Some(value) = value {
                    check_endpoint_url(value).map_err(|problem| CloudError {
                        field: format!("FLEET_CLOUDS.{name}.{field}"),
                        problem,
                    })?;
                }
            }
        }
        Ok(Self { clouds })
    }

    /// A registry of exactly these clouds (tests, embedding).
    pub fn with(mut self, name: &str, cloud: RegisteredCloud) -> Result<Self, CloudError> {
        let mut map = serde_json::Map::new();
        for (n, c) in self.clouds.iter().chain([(&name.to_string(), &cloud)]) {
            map.insert(
                n.clone(),
                serde_json::to_value(c).map_err(|e| CloudError {
                    field: "FLEET_CLOUDS".into(),
                    problem: e.to_string(),
                })?,
            );
        }
        self = Self::parse(&serde_json::Value::Object(map).to_string())?;
        Ok(self)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.clouds.keys().map(String::as_str)
    }

    pub fn get(&self, name: &str) -> Option<&RegisteredCloud> {
        self.clouds.get(name)
    }

    /// Resolves every registered endpoint's host and refuses loopback, link-local, private,
    /// CGNAT and unspecified addresses unless the cloud allows private addresses. Run at start.
    pub async fn check_addresses(&self) -> Result<(), CloudError> {
        for (name, cloud) in &self.clouds {
            if cloud.allow_private_addresses {
                continue;
            }
            for (field, value) in cloud.cloud.urls() {
                let Some(value) = value else { continue };
                let field_name = format!("FLEET_CLOUDS.{name}.{field}");
                let url = Url::parse(value).map_err(|e| CloudError {
                    field: field_name.clone(),
                    problem: e.to_string(),
                })?;
                let port = url.port_or_known_default().unwrap_or(443);
                let addresses: Vec<IpAddr> = match url.host() {
                    Some(url::Host::Ipv4(ip)) => vec![IpAddr::V4(ip)],
                    Some(url::Host::Ipv6(ip)) => vec![IpAddr::V6(ip)],
                    Some(url::Host::Domain(host)) => tokio::net::lookup_host((host, port))
                        .await
                        .map_err(|e| CloudError {
                            field: field_name.clone(),
                            problem: format!("cannot resolve {host}: {e}"),
                        })?
                        .map(|a| a.ip())
                        .collect(),
                    None => Vec::new(),
                };
                if let Some(ip) = addresses.iter().find(|ip| is_private(**ip)) {
                    return Err(CloudError {
                        field: field_name,
                        problem: format!(
                            "resolves to the non-public address {ip}; set allow_private_addresses for this cloud if that is intended"
                        ),
                    });
                }
            }
        }
        Ok(())
    }

    /// The endpoints of a connection's cloud. A name the registry does not have, or legacy
    /// custom endpoints that are not a registered cloud's, are an error naming the field.
    pub fn resolve(&self, cloud: &Cloud) -> Result<Endpoints, CloudError> {
        if let Some(endpoints) = cloud.builtin_endpoints() {
            return Ok(endpoints);
        }
        match cloud {
            Cloud::Registered { name } => self
                .clouds
                .get(name)
                .map(|c| c.cloud.endpoints(name))
                .ok_or_else(|| CloudError {
                    field: "cloud.name".into(),
                    problem: format!(
                        "{name:?} is not a cloud of this fleet (public, china, us_government{})",
                        self.names().map(|n| format!(", {n}")).collect::<String>()
                    ),
                }),
            Cloud::Custom(custom) => {
                let (authority, arm) =
                    (trim(&custom.authority_host), trim(&custom.resource_manager));
                self.clouds
                    .iter()
                    .find(|(_, c)| {
                        trim(&c.cloud.authority_host) == authority
                            && trim(&c.cloud.resource_manager) == arm
                    })
                    .map(|(name, c)| c.cloud.endpoints(name))
                    .ok_or_else(|| CloudError {
                        field: "cloud".into(),
                        problem: "custom endpoints are not a cloud the operator registered".into(),
                    })
            }
            Cloud::Public | Cloud::China | Cloud::UsGovernment => Err(CloudError {
                field: "cloud".into(),
                problem: "unreachable: built-in cloud".into(),
            }),
        }
    }

    /// What a connection's `cloud` field may say: a built-in or registered cloud, never
    /// endpoints. The error names the offending field.
    pub fn accept_input(&self, cloud: &Cloud) -> Result<Endpoints, CloudError> {
        if let Cloud::Custom(custom) = cloud {
            let field = custom
                .urls()
                .iter()
                .find(|(_, v)| v.is_some())
                .map_or("cloud", |(f, _)| f);
            return Err(CloudError {
                field: format!("cloud.{field}").replace("cloud.cloud", "cloud"),
                problem: "a connection cannot bring its own endpoints; name a built-in cloud or one the operator registered ({\"kind\":\"registered\",\"name\":...})".into(),
            });
        }
        self.resolve(cloud)
    }
}

/// An operator-given endpoint URL: https, a host, no userinfo, no query, no fragment.
fn check_endpoint_url(value: &str) -> Result<Url, String> {
    let url = Url::parse(value.trim()).map_err(|e| format!("not a URL: {e}"))?;
    if url.scheme() != "https" {
        return Err("must use https".into());
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("has no host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry a user or password".into());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("must not have a query or fragment".into());
    }
    Ok(url)
}

/// Loopback, link-local, private (RFC 1918, unique local), CGNAT (100.64/10), unspecified,
/// broadcast and documentation-free "this network" addresses: nothing a public cloud lives on.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || o[0] == 0
                || (o[0] == 100 && (o[1] & 0xc0) == 64)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_private(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
        }
    }
}

fn builtin(
    name: &str,
    authority: &str,
    arm: &str,
    graph: &str,
    throttle_model: ThrottleModel,
) -> Endpoints {
    Endpoints {
        name: name.to_string(),
        builtin: true,
        regions: None,
        authority_host: authority.to_string(),
        resource_manager: arm.to_string(),
        graph: Some(graph.to_string()),
        arm_scope: scope(arm),
        graph_scope: Some(scope(graph)),
        throttle_model,
    }
}

fn trim(url: &str) -> String {
    url.trim().trim_end_matches('/').to_string()
}

/// `https://management.azure.com/` -> `https://management.azure.com/.default`.
fn scope(audience: &str) -> String {
    format!("{}/.default", trim(audience))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_clouds_have_their_documented_endpoints() {
        let none = CloudRegistry::default();
        let public = none.resolve(&Cloud::Public).expect("public");
        assert_eq!(public.arm_scope, "https://management.azure.com/.default");
        assert_eq!(public.authority_host, "https://login.microsoftonline.com");
        assert_eq!(public.throttle_model, ThrottleModel::TokenBucket);
        assert!(public.builtin);
        let china = none.resolve(&Cloud::China).expect("china");
        assert_eq!(
            china.resource_manager,
            "https://management.chinacloudapi.cn"
        );
        assert_eq!(china.throttle_model, ThrottleModel::Hourly);
        assert_eq!(
            none.resolve(&Cloud::UsGovernment)
                .expect("gov")
                .authority_host,
            "https://login.microsoftonline.us"
        );
    }

    fn hub() -> CustomCloud {
        CustomCloud {
            authority_host: "https://login.local:8443/".into(),
            resource_manager: "https://arm.local:8443".into(),
            graph: None,
            arm_audience: None,
            graph_audience: None,
            regions: None,
            throttle_model: None,
        }
    }

    #[test]
    fn registered_clouds_resolve_by_name_and_endpoints_never_come_from_input() {
        let registry = CloudRegistry::default()
            .with(
                "hub",
                RegisteredCloud {
                    cloud: hub(),
                    allow_private_addresses: false,
                },
            )
            .expect("registry");
        let e = registry
            .resolve(&Cloud::Registered { name: "hub".into() })
            .expect("hub");
        assert_eq!(e.authority_host, "https://login.local:8443");
        assert_eq!(e.arm_scope, "https://arm.local:8443/.default");
        assert!(!e.builtin);
        let err = registry
            .resolve(&Cloud::Registered {
                name: "nope".into(),
            })
            .unwrap_err();
        assert_eq!(err.field, "cloud.name");
        // Stored legacy custom endpoints keep working when they are a registered cloud's ...
        assert!(registry.resolve(&Cloud::Custom(hub())).is_ok());
        // ... but input never accepts endpoints.
        let err = registry.accept_input(&Cloud::Custom(hub())).unwrap_err();
        assert_eq!(err.field, "cloud.authority_host");
        let mut other = hub();
        other.resource_manager = "https://evil.example".into();
        assert!(registry.resolve(&Cloud::Custom(other)).is_err());
    }

    #[test]
    fn endpoint_urls_follow_the_rules() {
        for (bad, why) in [
            ("http://arm.local", "https"),
            ("https://user:pw@arm.local", "user"),
            ("https://arm.local/?x=1", "query"),
            ("https://arm.local/#f", "fragment"),
        ] {
            let mut c = hub();
            c.resource_manager = bad.into();
            let err = CloudRegistry::default()
                .with(
                    "hub",
                    RegisteredCloud {
                        cloud: c,
                        allow_private_addresses: true,
                    },
                )
                .unwrap_err();
            assert_eq!(err.field, "FLEET_CLOUDS.hub.resource_manager");
            assert!(err.problem.contains(why), "{bad}: {}", err.problem);
        }
        assert!(
            CloudRegistry::parse(
                r#"{"public": {"authority_host": "https://a", "resource_manager": "https://b"}}"#
            )
            .is_err()
        );
    }

    #[tokio::test]
    async fn private_addresses_need_the_operators_consent() {
        let mut c = hub();
        c.authority_host = "https://127.0.0.1:8443".into();
        c.resource_manager = "https://localhost:8443".into();
        let refused = CloudRegistry::default()
            .with(
                "emu",
                RegisteredCloud {
                    cloud: c.clone(),
                    allow_private_addresses: false,
                },
            )
            .expect("parses");
        let err = refused.check_addresses().await.unwrap_err();
        assert!(err.problem.contains("non-public"), "{err}");
        let allowed = CloudRegistry::default()
            .with(
                "emu",
                RegisteredCloud {
                    cloud: c,
                    allow_private_addresses: true,
                },
            )
            .expect("parses");
        assert!(allowed.check_addresses().await.is_ok());
        for ip in [
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "0.0.0.0",
        ] {
            assert!(is_private(ip.parse().expect("ip")), "{ip}");
        }
        for ip in ["20.190.160.1", "2603:1030::1", "100.128.0.1"] {
            assert!(!is_private(ip.parse().expect("ip")), "{ip}");
        }
    }

    #[test]
    fn serializes_with_a_kind_tag() {
        let json = serde_json::to_value(Cloud::UsGovernment).expect("json");
        assert_eq!(json, serde_json::json!({"kind": "us_government"}));
        let back: Cloud =
            serde_json::from_value(serde_json::json!({"kind": "public"})).expect("parse");
        assert_eq!(back, Cloud::Public);
        let named: Cloud =
            serde_json::from_value(serde_json::json!({"kind": "registered", "name": "emu"}))
                .expect("parse");
        assert_eq!(named, Cloud::Registered { name: "emu".into() });
    }
}
