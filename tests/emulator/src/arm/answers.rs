//! What ARM returns once a request has passed authentication and authorization: subscription
//! bodies, resource providers, stored resources, and lists of them.

use serde_json::{Value, json};

use super::error::ArmError;
use super::paging::{Listing, page};
use crate::authz;
use crate::jwt::Claims;
use crate::resource_path::ProviderPath;
use crate::world::{ProviderInfo, SubscriptionEntry, World};

/// `GET /subscriptions/{id}`.
pub(crate) fn subscription(entry: &SubscriptionEntry) -> Value {
    let s = &entry.subscription;
    json!({
        "id": format!("/subscriptions/{}", s.id),
        "authorizationSource": "RoleBased",
        "managedByTenants": [],
        "subscriptionId": s.id,
        "tenantId": s.tenant_id,
        "displayName": s.display_name,
        "state": s.state,
        "subscriptionPolicies": {
            "locationPlacementId": "Public_2014-09-01",
            "quotaId": "PayAsYouGo_2014-09-01",
            "spendingLimit": "Off",
        },
    })
}

/// `GET /subscriptions`: the subscriptions of the token's tenant where the principal holds a
/// role, as ARM shows only those.
pub(crate) fn subscriptions(
    world: &World,
    claims: &Claims,
    listing: &Listing<'_>,
) -> Result<Value, ArmError> {
    let bodies: Vec<Value> = world
        .subscriptions()
        .filter(|entry| {
            entry
                .subscription
                .tenant_id
                .eq_ignore_ascii_case(&claims.tid)
        })
        .filter(|entry| authz::has_any_grant(&entry.subscription.access, &claims.oid))
        .map(subscription)
        .collect();
    let refs: Vec<&Value> = bodies.iter().collect();
    page(&refs, world.default_page_size(), listing)
}

/// `GET /subscriptions/{id}/providers`: every namespace of the subscription's resources, and
/// the unregistered ones.
pub(crate) fn providers(entry: &SubscriptionEntry) -> Value {
    let value: Vec<Value> = entry
        .providers()
        .iter()
        .map(|provider| provider_body(&entry.subscription.id, provider))
        .collect();
    json!({ "value": value })
}

/// `GET /subscriptions/{id}/providers/{namespace}`: any namespace not configured as unregistered
/// counts as registered (GETs under it work).
pub(crate) fn provider(entry: &SubscriptionEntry, namespace: &str) -> Value {
    let providers = entry.providers();
    let known = providers
        .iter()
        .find(|provider| provider.namespace.eq_ignore_ascii_case(namespace));
    match known {
        Some(provider) => provider_body(&entry.subscription.id, provider),
        None => provider_body(
            &entry.subscription.id,
            &ProviderInfo {
                namespace,
                registered: true,
                resource_types: Vec::new(),
            },
        ),
    }
}

fn provider_body(subscription: &str, provider: &ProviderInfo<'_>) -> Value {
    let resource_types: Vec<Value> = provider
        .resource_types
        .iter()
        .map(|(resource_type, locations)| {
            json!({ "resourceType": resource_type, "locations": locations })
        })
        .collect();
    json!({
        "id": format!("/subscriptions/{subscription}/providers/{}", provider.namespace),
        "namespace": provider.namespace,
        "registrationState": if provider.registered { "Registered" } else { "NotRegistered" },
        "registrationPolicy": "RegistrationRequired",
        "resourceTypes": resource_types,
    })
}

/// A resource or a collection under a provider namespace.
pub(crate) fn provider_path(
    entry: &SubscriptionEntry,
    target: &ProviderPath,
    listing: &Listing<'_>,
) -> Result<Value, ArmError> {
    if let Some(parent) = target.parent_resource()
        && entry.resource(&parent).is_none()
    {
        return Err(ArmError::parent_not_found(
            &target.relative_type(),
            &parent.display(),
        ));
    }
    if target.is_collection() {
        page(&entry.list(target), entry.page_size, listing)
    } else {
        entry.resource(&target.path()).cloned().ok_or_else(|| {
            ArmError::resource_not_found(&target.qualified_name(), target.resource_group.as_deref())
        })
    }
}
