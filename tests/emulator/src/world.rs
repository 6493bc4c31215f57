//! The scenario, indexed for answering requests.
//!
//! Requests name tenants by id or domain and resources by path in any casing; this module does
//! those lookups once per request against keys computed once at start, and keeps resources in
//! scenario order so that lists page stably.

use serde_json::Value;

use crate::faults::Fault;
use crate::resource_path::{ArmPath, ProviderPath, Target};
use crate::scenario::{Application, Scenario, Subscription, Tenant, resource_id};
use crate::throttle::{ProviderLimit, Throttling};

/// Extension resource types whose subscription-wide list returns the extensions of every
/// resource in the subscription, not only those on the subscription itself: Defender for
/// Cloud's `GET /subscriptions/{s}/providers/Microsoft.Security/assessments` lists the
/// assessments of every assessed resource.
const SUBSCRIPTION_WIDE_EXTENSIONS: [&str; 1] = ["microsoft.security/assessments"];

/// The scenario with lookup keys.
pub(crate) struct World {
    pub(crate) token_lifetime_seconds: u64,
    pub(crate) arm_latency: std::time::Duration,
    pub(crate) throttling: Throttling,
    pub(crate) provider_limits: Vec<ProviderLimit>,
    /// The faults in force at start.
    pub(crate) faults: Vec<Fault>,
    default_page_size: usize,
    tenants: Vec<Tenant>,
    subscriptions: Vec<SubscriptionEntry>,
}

/// A subscription and its resources.
pub(crate) struct SubscriptionEntry {
    pub(crate) subscription: Subscription,
    pub(crate) page_size: usize,
    resources: Vec<StoredResource>,
}

/// One resource body with the keys it is found by.
struct StoredResource {
    key: String,
    collection_key: String,
    type_key: String,
    top_level: bool,
    /// Directly in a resource group (not at subscription scope).
    in_resource_group: bool,
    /// An extension resource that its type's subscription-wide list also returns.
    listed_by_subscription: bool,
    /// The provider namespace, as the id spells it.
    namespace: String,
    /// The type without namespace, e.g. `storageAccounts/fileServices`.
    relative_type: String,
    body: Value,
}

/// A resource provider as the subscription sees it.
pub(crate) struct ProviderInfo<'a> {
    /// As first spelled in a resource id (or in `unregistered_providers`).
    pub(crate) namespace: &'a str,
    pub(crate) registered: bool,
    /// Each resource type in the subscription with the locations of its resources.
    pub(crate) resource_types: Vec<(&'a str, Vec<&'a str>)>,
}

impl World {
    /// Indexes a scenario; it must have passed [`Scenario::validate`].
    pub(crate) fn new(scenario: Scenario) -> anyhow::Result<World> {
        scenario.validate()?;
        let mut subscriptions = Vec::with_capacity(scenario.subscriptions.len());
        for mut subscription in scenario.subscriptions {
            let bodies = std::mem::take(&mut subscription.resources);
            let mut resources = Vec::with_capacity(bodies.len());
            for body in bodies {
                let path = ArmPath::parse(resource_id(&body)?);
                let Target::Provider(provider) = Target::parse(&path) else {
                    anyhow::bail!("{} is not a resource id", path.display());
                };
                resources.push(StoredResource {
                    key: path.key(),
                    collection_key: provider.collection_key(),
                    type_key: provider.full_type().to_lowercase(),
                    top_level: provider.is_top_level(),
                    in_resource_group: provider.resource_group.is_some(),
                    listed_by_subscription: !provider.is_at_subscription_or_group()
                        && provider.tail().len() == 2
                        && SUBSCRIPTION_WIDE_EXTENSIONS
                            .contains(&provider.full_type().to_lowercase().as_str()),
                    namespace: provider.namespace.clone(),
                    relative_type: provider.relative_type(),
                    body,
                });
            }
            subscriptions.push(SubscriptionEntry {
                page_size: subscription.effective_page_size(scenario.page_size),
                subscription,
                resources,
            });
        }
        Ok(World {
            token_lifetime_seconds: scenario.token_lifetime_seconds,
            arm_latency: std::time::Duration::from_millis(scenario.arm_latency_ms),
            throttling: scenario.throttling,
            provider_limits: scenario.provider_limits,
            faults: scenario.faults,
            default_page_size: scenario.page_size,
            tenants: scenario.tenants,
            subscriptions,
        })
    }

    /// The tenant named by id or by one of its domains.
    pub(crate) fn tenant(&self, id_or_domain: &str) -> Option<&Tenant> {
        self.tenants.iter().find(|tenant| {
            tenant.id.eq_ignore_ascii_case(id_or_domain)
                || tenant
                    .domains
                    .iter()
                    .any(|domain| domain.eq_ignore_ascii_case(id_or_domain))
        })
    }

    pub(crate) fn subscription(&self, id: &str) -> Option<&SubscriptionEntry> {
        self.subscriptions
            .iter()
            .find(|entry| entry.subscription.id.eq_ignore_ascii_case(id))
    }

    pub(crate) fn subscriptions(&self) -> impl Iterator<Item = &SubscriptionEntry> {
        self.subscriptions.iter()
    }

    pub(crate) fn default_page_size(&self) -> usize {
        self.default_page_size
    }
}

impl Tenant {
    pub(crate) fn application(&self, client_id: &str) -> Option<&Application> {
        self.applications
            .iter()
            .find(|app| app.client_id.eq_ignore_ascii_case(client_id))
    }
}

impl SubscriptionEntry {
    /// The resource with exactly this id.
    pub(crate) fn resource(&self, path: &ArmPath) -> Option<&Value> {
        let key = path.key();
        self.resources
            .iter()
            .find(|resource| resource.key == key)
            .map(|resource| &resource.body)
    }

    /// The location of the top-level resource `path` reads or lies under (its region, for
    /// per-region provider limits); `None` for lists and for paths of no known resource.
    pub(crate) fn location_of(&self, path: &ArmPath) -> Option<String> {
        let key = path.key();
        self.resources
            .iter()
            .filter(|resource| resource.top_level)
            .find(|resource| {
                key.strip_prefix(resource.key.as_str())
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
            })
            .and_then(|resource| resource.body.get("location").and_then(Value::as_str))
            .map(str::to_lowercase)
    }

    /// The members of a collection, in scenario order. A subscription-wide list also takes in
    /// the top-level resources of its type from every resource group.
    pub(crate) fn list(&self, collection: &ProviderPath) -> Vec<&Value> {
        let key = collection.collection_key();
        let wide_type = collection
            .is_subscription_wide_list()
            .then(|| collection.full_type().to_lowercase());
        self.resources
            .iter()
            .filter(|resource| {
                resource.collection_key == key
                    || ((resource.top_level || resource.listed_by_subscription)
                        && wide_type.as_ref() == Some(&resource.type_key))
            })
            .map(|resource| &resource.body)
            .collect()
    }

    /// The top-level resources of resource groups (not children, not extensions, not
    /// subscription-level settings), as `GET .../resources` lists them, in scenario order.
    pub(crate) fn top_level_resources(&self) -> impl Iterator<Item = &Value> {
        self.resources
            .iter()
            .filter(|resource| resource.top_level && resource.in_resource_group)
            .map(|resource| &resource.body)
    }

    /// The namespace as configured in `unregistered_providers`, if the subscription is not
    /// registered for it.
    pub(crate) fn unregistered(&self, namespace: &str) -> Option<&str> {
        self.subscription
            .unregistered_providers
            .iter()
            .find(|unregistered| unregistered.eq_ignore_ascii_case(namespace))
            .map(String::as_str)
    }

    /// Every namespace that appears in the subscription's resources, in order of appearance,
    /// then the unregistered ones.
    pub(crate) fn providers(&self) -> Vec<ProviderInfo<'_>> {
        let mut providers: Vec<ProviderInfo<'_>> = Vec::new();
        let unregistered = self
            .subscription
            .unregistered_providers
            .iter()
            .map(String::as_str);
        let namespaces = self
            .resources
            .iter()
            .map(|resource| resource.namespace.as_str())
            .chain(unregistered);
        for namespace in namespaces {
            if !providers
                .iter()
                .any(|known| known.namespace.eq_ignore_ascii_case(namespace))
            {
                providers.push(ProviderInfo {
                    namespace,
                    registered: self.unregistered(namespace).is_none(),
                    resource_types: Vec::new(),
                });
            }
        }
        for provider in &mut providers {
            for resource in &self.resources {
                if !resource.namespace.eq_ignore_ascii_case(provider.namespace) {
                    continue;
                }
                let location = resource.body.get("location").and_then(Value::as_str);
                let types = &mut provider.resource_types;
                let index = match types
                    .iter()
                    .position(|(t, _)| t.eq_ignore_ascii_case(&resource.relative_type))
                {
                    Some(index) => index,
                    None => {
                        types.push((resource.relative_type.as_str(), Vec::new()));
                        types.len() - 1
                    }
                };
                if let (Some(location), Some((_, locations))) = (location, types.get_mut(index))
                    && !locations.contains(&location)
                {
                    locations.push(location);
                }
            }
        }
        providers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUB: &str = "00000000-0000-0000-0000-0000000000a1";

    fn list(world: &World, path: &str) -> Vec<String> {
        let Target::Provider(provider) = Target::parse(&ArmPath::parse(path)) else {
            panic!("{path} is a provider path");
        };
        world
            .subscription(SUB)
            .expect("subscription")
            .list(&provider)
            .iter()
            .filter_map(|r| r["id"].as_str().map(str::to_owned))
            .collect()
    }

    #[test]
    fn assessments_of_every_resource_are_listed_at_subscription_scope_but_not_other_extensions() {
        let vm = format!(
            "/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1"
        );
        let assessment = format!("{vm}/providers/Microsoft.Security/assessments/key1");
        let vm_setting = format!("{vm}/providers/Microsoft.Insights/diagnosticSettings/d1");
        let sub_setting =
            format!("/subscriptions/{SUB}/providers/Microsoft.Insights/diagnosticSettings/d2");
        let scenario = Scenario::from_json(
            &serde_json::json!({"subscriptions": [{"id": SUB, "tenant_id": "t", "resources": [
                {"id": vm}, {"id": assessment}, {"id": vm_setting}, {"id": sub_setting}
            ]}]})
            .to_string(),
        )
        .expect("scenario");
        let world = World::new(scenario).expect("world");
        assert_eq!(
            list(
                &world,
                &format!("/subscriptions/{SUB}/providers/Microsoft.Security/assessments")
            ),
            [assessment]
        );
        assert_eq!(
            list(
                &world,
                &format!("/subscriptions/{SUB}/providers/Microsoft.Insights/diagnosticSettings")
            ),
            [sub_setting]
        );
    }
}
