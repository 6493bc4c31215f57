//! Scenario files: the world the emulator serves, stated as data.
//!
//! A test describes its tenants, applications, subscriptions, role grants and ARM resources in
//! JSON, and the emulator answers from that. String values like `{{now-30d}}` are relative times
//! (see `relative_time`). Unknown keys are ignored so that test files can carry
//! their own extra data (for example an `expectations` block) next to the world they describe.

use std::path::Path;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::faults::Fault;
use crate::resource_path::{ArmPath, Target};
use crate::throttle::{ProviderLimit, Throttling};

/// Default lifetime of issued access tokens, as Entra ID reports it (`expires_in`).
pub const DEFAULT_TOKEN_LIFETIME_SECONDS: u64 = 3599;
/// Default number of items per page of an ARM list.
pub const DEFAULT_PAGE_SIZE: usize = 100;
/// Default number of items per page of a Microsoft Graph collection.
pub const DEFAULT_GRAPH_PAGE_SIZE: usize = 100;

/// The whole emulated world.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scenario {
    /// Lifetime of the access tokens the token endpoint issues.
    #[serde(default = "default_token_lifetime")]
    pub token_lifetime_seconds: u64,
    /// Items per page of ARM lists, unless a subscription overrides it.
    #[serde(default = "default_page_size")]
    pub page_size: usize,
    /// Added to every ARM response, in milliseconds (a slow Azure, for shutdown and timeout
    /// tests).
    #[serde(default)]
    pub arm_latency_ms: u64,
    #[serde(default)]
    pub tenants: Vec<Tenant>,
    #[serde(default)]
    pub subscriptions: Vec<Subscription>,
    /// ARM read throttling per (subscription, principal); on by default with Azure's numbers.
    #[serde(default)]
    pub throttling: Throttling,
    /// Resource providers' own limits per (subscription, type, operation).
    #[serde(default)]
    pub provider_limits: Vec<ProviderLimit>,
    /// Faults in force from the start.
    #[serde(default)]
    pub faults: Vec<Fault>,
}

/// An Entra ID tenant (directory).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tenant {
    /// The tenant id (a GUID).
    pub id: String,
    /// Verified domains, e.g. `contoso.onmicrosoft.com`; each can stand for the id in token URLs.
    #[serde(default)]
    pub domains: Vec<String>,
    #[serde(default)]
    pub applications: Vec<Application>,
    /// A tenant of a national cloud (e.g. `AzureChinaCloud`): the public cloud's token endpoint
    /// refuses it with AADSTS90038.
    #[serde(default)]
    pub national_cloud: Option<String>,
    /// The tenant's directory as Microsoft Graph v1.0 serves it.
    #[serde(default)]
    pub graph: GraphData,
}

/// What Microsoft Graph v1.0 answers for a tenant, by path (without `/v1.0`, e.g.
/// `/policies/authorizationPolicy`; compared case-insensitively, query ignored).
///
/// ```json
/// {"page_size": 2,
///  "objects": {"/policies/identitySecurityDefaultsEnforcementPolicy": {"isEnabled": true}},
///  "collections": {"/users": [{"id": "...", "userPrincipalName": "..."}]},
///  "permissions": [{"path_prefix": "/reports/", "any_of": ["AuditLog.Read.All"]}]}
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GraphData {
    /// Items per page of collections (a request's `$top` overrides it); 100 when absent, as
    /// Graph's default.
    #[serde(default)]
    pub page_size: Option<usize>,
    /// Single objects (`GET` answers the object).
    #[serde(default)]
    pub objects: std::collections::BTreeMap<String, serde_json::Value>,
    /// Collections (`GET` answers pages of `{"value": [...]}` with `@odata.nextLink`).
    #[serde(default)]
    pub collections: std::collections::BTreeMap<String, Vec<serde_json::Value>>,
    /// Application permissions a path needs, before the built-in table (first match wins).
    #[serde(default)]
    pub permissions: Vec<GraphPermission>,
    /// Graph's throttling per application in the tenant; none when absent.
    #[serde(default)]
    pub throttling: Option<GraphThrottling>,
}

/// A token bucket of `limit` requests per application and tenant, refilled over
/// `per_seconds` (Graph's identity APIs count resource units per 10 seconds). A refused request
/// gets 429 `TooManyRequests` with `Retry-After` in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphThrottling {
    pub limit: u64,
    #[serde(default = "ten")]
    pub per_seconds: u64,
}

fn ten() -> u64 {
    10
}

/// The application permissions that allow reading paths under a prefix (any one of them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GraphPermission {
    pub path_prefix: String,
    pub any_of: Vec<String>,
}

/// An app registration together with its service principal in the tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Application {
    /// The application (client) id.
    pub client_id: String,
    /// The object id of the service principal: the `oid` of its tokens and the principal that
    /// role grants name.
    pub object_id: String,
    #[serde(default)]
    pub display_name: String,
    /// A disabled application (or service principal) gets AADSTS7000112.
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default)]
    pub secrets: Vec<ClientSecret>,
    /// A Conditional Access policy blocks the service principal: AADSTS53003 once the secret
    /// checks out.
    #[serde(default)]
    pub conditional_access_blocked: bool,
    /// Microsoft Graph application permissions granted (and admin-consented), e.g.
    /// `Policy.Read.All`: the `roles` claim of its Graph tokens.
    #[serde(default)]
    pub graph_permissions: Vec<String>,
}

/// A client secret of an application.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientSecret {
    /// The secret value a client sends.
    pub value: String,
    /// When the secret stops working; never if absent.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientSecret")
            .field("value", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

impl ClientSecret {
    /// Whether the secret has expired at `now`.
    pub fn is_expired_at(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_some_and(|expiry| expiry <= now)
    }
}

/// An Azure subscription and the resources in it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subscription {
    /// The subscription id (a GUID).
    pub id: String,
    /// The tenant the subscription trusts; tokens from other tenants get 401.
    pub tenant_id: String,
    #[serde(default)]
    pub display_name: String,
    /// `Enabled`, `Warned`, `PastDue`, `Disabled` or `Deleted`.
    #[serde(default = "default_state")]
    pub state: String,
    /// Items per page of lists in this subscription; the scenario's `page_size` if absent.
    #[serde(default)]
    pub page_size: Option<usize>,
    /// Effective permissions of principals on the subscription.
    #[serde(default)]
    pub access: Vec<Access>,
    /// ARM resource bodies exactly as ARM returns them. Only `id` is required; a child resource
    /// is a resource whose id lies under its parent's.
    #[serde(default)]
    pub resources: Vec<serde_json::Value>,
    /// Provider namespaces the subscription is not registered for (case-insensitive): any GET
    /// under them answers 409 MissingSubscriptionRegistration.
    #[serde(default)]
    pub unregistered_providers: Vec<String>,
    /// Resource group bodies (`name`, `location`, `tags`) for `GET .../resourcegroups`; groups
    /// named only by resource ids are listed too, located where their first resource is.
    #[serde(default)]
    pub resource_groups: Vec<serde_json::Value>,
    /// How lists in this subscription page, including broken services' quirks.
    #[serde(default)]
    pub paging: Paging,
}

/// How a subscription's lists page. Only `standard` is what the ARM contract promises; the
/// others are what real services have done, for testing clients against them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Paging {
    /// `nextLink` on every page but the last, which has none.
    #[default]
    Standard,
    /// The last page has `"nextLink": ""`.
    EmptyStringNextLink,
    /// The last page has `"nextLink": null`.
    NullNextLink,
    /// Before every page after the first, a page with `"value": []` and a `nextLink`.
    EmptyPages,
    /// The second page's `nextLink` points to itself, forever (a broken service). The first
    /// page always has a `nextLink`, even when everything fits on it.
    RepeatingNextLink,
}

/// The effective permissions of one principal from one role on a subscription, as in Azure
/// RBAC: an action is allowed when it matches one of `actions` and none of `not_actions`.
/// Patterns may contain `*` wildcards and match case-insensitively.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Access {
    /// The principal's object id (for a service principal, the `oid` of its tokens).
    pub object_id: String,
    /// The role's name: `Reader` and `Security Reader` (any casing) are the built-in roles with
    /// their real ids; any other name is a custom role with an id derived from the name.
    #[serde(default)]
    pub role: Option<String>,
    /// The role definition's GUID (or full id), when the derived one will not do.
    #[serde(default)]
    pub role_definition_id: Option<String>,
    #[serde(default)]
    pub actions: Vec<String>,
    #[serde(default, alias = "notActions")]
    pub not_actions: Vec<String>,
}

fn default_token_lifetime() -> u64 {
    DEFAULT_TOKEN_LIFETIME_SECONDS
}

fn default_page_size() -> usize {
    DEFAULT_PAGE_SIZE
}

fn default_state() -> String {
    "Enabled".to_owned()
}

fn yes() -> bool {
    true
}

impl Default for Scenario {
    fn default() -> Self {
        Scenario {
            token_lifetime_seconds: DEFAULT_TOKEN_LIFETIME_SECONDS,
            page_size: DEFAULT_PAGE_SIZE,
            arm_latency_ms: 0,
            tenants: Vec::new(),
            subscriptions: Vec::new(),
            throttling: Throttling::default(),
            provider_limits: Vec::new(),
            faults: Vec::new(),
        }
    }
}

impl Scenario {
    /// Reads and checks a scenario file, with its fragments (`<name>.d/*.json`, see
    /// [`crate::fragments`]).
    pub fn from_file(path: impl AsRef<Path>) -> anyhow::Result<Scenario> {
        let path = path.as_ref();
        let raw = crate::fragments::load_with_fragments(path)?;
        Scenario::from_value(raw)
            .with_context(|| format!("loading scenario file {}", path.display()))
    }

    /// Parses and checks a scenario from JSON text.
    pub fn from_json(json: &str) -> anyhow::Result<Scenario> {
        let raw: serde_json::Value = serde_json::from_str(json).context("parsing scenario JSON")?;
        Scenario::from_value(raw)
    }

    /// Checks and reads a scenario from parsed JSON (relative times resolved here).
    pub fn from_value(mut raw: serde_json::Value) -> anyhow::Result<Scenario> {
        crate::relative_time::resolve(&mut raw)?;
        let scenario: Scenario = serde_json::from_value(raw).context("reading scenario JSON")?;
        scenario.validate()?;
        Ok(scenario)
    }

    /// Checks what serde cannot: positive sizes, unique ids, and resource ids that are ARM
    /// resource ids inside their own subscription.
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.token_lifetime_seconds == 0 {
            bail!("token_lifetime_seconds must be at least 1");
        }
        if self.page_size == 0 {
            bail!("page_size must be at least 1");
        }
        self.throttling.validate()?;
        let mut limits = std::collections::HashSet::new();
        for limit in &self.provider_limits {
            limit.validate()?;
            if !limits.insert((limit.resource_type.to_lowercase(), limit.operation)) {
                bail!(
                    "provider limit {} {:?} appears twice",
                    limit.resource_type,
                    limit.operation
                );
            }
        }
        for fault in &self.faults {
            fault.validate()?;
        }
        let mut tenant_ids = std::collections::HashSet::new();
        for tenant in &self.tenants {
            if !tenant_ids.insert(tenant.id.to_lowercase()) {
                bail!("tenant {} appears twice", tenant.id);
            }
            if tenant.national_cloud.as_deref() == Some("") {
                bail!("tenant {}: national_cloud must not be empty", tenant.id);
            }
            tenant
                .graph
                .validate()
                .with_context(|| format!("tenant {}: graph", tenant.id))?;
        }
        let mut subscription_ids = std::collections::HashSet::new();
        for subscription in &self.subscriptions {
            if !subscription_ids.insert(subscription.id.to_lowercase()) {
                bail!("subscription {} appears twice", subscription.id);
            }
            if subscription.page_size == Some(0) {
                bail!(
                    "subscription {}: page_size must be at least 1",
                    subscription.id
                );
            }
            for namespace in &subscription.unregistered_providers {
                if namespace.is_empty() || namespace.contains('/') {
                    bail!(
                        "subscription {}: unregistered provider {namespace:?} is not a namespace",
                        subscription.id
                    );
                }
            }
            for access in &subscription.access {
                if let Some(id) = &access.role_definition_id
                    && role_definition_guid(id).is_none()
                {
                    bail!(
                        "subscription {}: role_definition_id {id:?} is not a GUID or a role definition id",
                        subscription.id
                    );
                }
            }
            let mut resource_ids = std::collections::HashSet::new();
            for (index, resource) in subscription.resources.iter().enumerate() {
                let id = resource_id(resource).with_context(|| {
                    format!("subscription {}: resource #{index}", subscription.id)
                })?;
                check_resource_id(id, &subscription.id)
                    .with_context(|| format!("subscription {}: resource {id}", subscription.id))?;
                if !resource_ids.insert(ArmPath::parse(id).key()) {
                    bail!(
                        "subscription {}: resource {id} appears twice",
                        subscription.id
                    );
                }
            }
        }
        Ok(())
    }
}

impl GraphData {
    fn validate(&self) -> anyhow::Result<()> {
        if self.page_size == Some(0) {
            bail!("page_size must be at least 1");
        }
        if self
            .throttling
            .is_some_and(|t| t.limit == 0 || t.per_seconds == 0)
        {
            bail!("throttling needs a limit and per_seconds of at least 1");
        }
        let paths = self.objects.keys().chain(self.collections.keys());
        let mut seen = std::collections::HashSet::new();
        for path in paths {
            if !path.starts_with('/') || path.contains('?') {
                bail!("{path:?} must be a path starting with / and without a query");
            }
            if !seen.insert(crate::graph::path_key(path)) {
                bail!("{path:?} is given twice");
            }
        }
        for permission in &self.permissions {
            if !permission.path_prefix.starts_with('/') || permission.any_of.is_empty() {
                bail!(
                    "permission for {:?} needs a path starting with / and at least one permission",
                    permission.path_prefix
                );
            }
        }
        Ok(())
    }
}

impl Subscription {
    /// Items per page for lists in this subscription.
    pub fn effective_page_size(&self, scenario_default: usize) -> usize {
        self.page_size.unwrap_or(scenario_default)
    }
}

/// The GUID in a role definition id given as a GUID or as
/// `.../providers/Microsoft.Authorization/roleDefinitions/{guid}`, lower-cased.
pub(crate) fn role_definition_guid(id: &str) -> Option<String> {
    let last = id.trim_end_matches('/').rsplit('/').next()?;
    (last.len() == 36)
        .then(|| uuid::Uuid::try_parse(last).ok())
        .flatten()
        .map(|guid| guid.to_string())
}

/// The `id` of a resource body.
pub(crate) fn resource_id(resource: &serde_json::Value) -> anyhow::Result<&str> {
    resource
        .get("id")
        .and_then(serde_json::Value::as_str)
        .context("a resource needs a string \"id\"")
}

fn check_resource_id(id: &str, subscription_id: &str) -> anyhow::Result<()> {
    match Target::parse(&ArmPath::parse(id)) {
        Target::Provider(provider) if !provider.is_collection() => {
            if !provider.subscription.eq_ignore_ascii_case(subscription_id) {
                bail!("the id names another subscription");
            }
            Ok(())
        }
        _ => bail!(
            "not an ARM resource id (expected /subscriptions/{{sub}}[/resourceGroups/{{rg}}]/providers/{{Namespace}}/{{type}}/{{name}}[/{{childType}}/{{name}}...])"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUB: &str = "00000000-0000-0000-0000-0000000000a1";

    fn with_resource(id: &str) -> String {
        serde_json::json!({
            "subscriptions": [{ "id": SUB, "tenant_id": "t", "resources": [{ "id": id }] }]
        })
        .to_string()
    }

    #[test]
    fn defaults_and_unknown_fields() {
        let scenario = Scenario::from_json(r#"{"expectations": {"x": 1}}"#).expect("parses");
        assert_eq!(scenario.token_lifetime_seconds, 3599);
        assert_eq!(scenario.page_size, 100);
    }

    #[test]
    fn resource_ids_must_be_arm_ids_in_their_subscription() {
        let good = format!(
            "/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/sa"
        );
        assert!(Scenario::from_json(&with_resource(&good)).is_ok());
        let child = format!("{good}/fileServices/default");
        assert!(Scenario::from_json(&with_resource(&child)).is_ok());
        let collection =
            format!("/subscriptions/{SUB}/providers/Microsoft.Storage/storageAccounts");
        assert!(Scenario::from_json(&with_resource(&collection)).is_err());
        let elsewhere = "/subscriptions/00000000-0000-0000-0000-000000000000/providers/Microsoft.Security/pricings/VirtualMachines";
        assert!(Scenario::from_json(&with_resource(elsewhere)).is_err());
        assert!(Scenario::from_json(&with_resource("sa1")).is_err());
    }

    #[test]
    fn new_fields_default_and_are_checked() {
        let scenario = Scenario::from_json("{}").expect("parses");
        assert!(scenario.throttling.enabled);
        assert_eq!(scenario.throttling.bucket, 250);
        assert!(scenario.provider_limits.is_empty() && scenario.faults.is_empty());

        let bad = [
            r#"{"throttling": {"bucket": 0}}"#,
            r#"{"throttling": {"refill_per_second": 0}}"#,
            r#"{"throttling": {"retry_after": "minutes"}}"#,
            r#"{"provider_limits": [{"type": "storageAccounts", "operation": "list", "limit": 1, "per_seconds": 1}]}"#,
            r#"{"provider_limits": [{"type": "A.B/c", "operation": "write", "limit": 1, "per_seconds": 1}]}"#,
            r#"{"faults": [{"path_contains": "x", "status": 42}]}"#,
            r#"{"subscriptions": [{"id": "s", "tenant_id": "t", "paging": "sometimes"}]}"#,
            r#"{"subscriptions": [{"id": "s", "tenant_id": "t", "access": [{"object_id": "o", "role_definition_id": "reader"}]}]}"#,
        ];
        for json in bad {
            assert!(Scenario::from_json(json).is_err(), "{json}");
        }
        let good = r#"{"throttling": {"enabled": false, "retry_after": "x_ms_retry_after_ms"},
            "provider_limits": [{"type": "Microsoft.Storage/storageAccounts", "operation": "list", "limit": 100, "per_seconds": 300}],
            "faults": [{"path_contains": "/token", "status": 503, "times": 1}],
            "subscriptions": [{"id": "s", "tenant_id": "t", "paging": "empty_pages",
              "unregistered_providers": ["Microsoft.Network"],
              "access": [{"object_id": "o", "role_definition_id": "/providers/Microsoft.Authorization/roleDefinitions/ACDD72A7-3385-48EF-BD42-F606FBA81AE7"}]}]}"#;
        let scenario = Scenario::from_json(good).expect("parses");
        assert_eq!(scenario.subscriptions[0].paging, Paging::EmptyPages);
        assert_eq!(
            role_definition_guid(
                scenario.subscriptions[0].access[0]
                    .role_definition_id
                    .as_deref()
                    .unwrap_or_default()
            )
            .as_deref(),
            Some("acdd72a7-3385-48ef-bd42-f606fba81ae7")
        );
    }

    #[test]
    fn graph_data_is_checked() {
        let tenant = |graph: serde_json::Value| {
            serde_json::json!({"tenants": [{"id": "t", "graph": graph}]}).to_string()
        };
        let good = tenant(serde_json::json!({
            "page_size": 5,
            "objects": {"/policies/authorizationPolicy": {"id": "authorizationPolicy"}},
            "collections": {"/users": [{"id": "u"}]},
            "permissions": [{"path_prefix": "/users", "any_of": ["User.Read.All"]}],
            "throttling": {"limit": 100}
        }));
        let scenario = Scenario::from_json(&good).expect("parses");
        let graph = &scenario.tenants[0].graph;
        assert_eq!(graph.throttling.map(|t| t.per_seconds), Some(10));
        assert_eq!(graph.collections["/users"].len(), 1);
        let bad = [
            serde_json::json!({"page_size": 0}),
            serde_json::json!({"objects": {"users": {}}}),
            serde_json::json!({"objects": {"/users?$top=1": {}}}),
            serde_json::json!({"objects": {"/Users": {}}, "collections": {"/users/": []}}),
            serde_json::json!({"permissions": [{"path_prefix": "/x", "any_of": []}]}),
            serde_json::json!({"throttling": {"limit": 0}}),
        ];
        for graph in bad {
            assert!(
                Scenario::from_json(&tenant(graph.clone())).is_err(),
                "{graph}"
            );
        }
    }

    #[test]
    fn secrets_are_not_printed() {
        let secret = ClientSecret {
            value: "hunter2".into(),
            expires_at: None,
        };
        assert!(!format!("{secret:?}").contains("hunter2"));
    }
}
