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

/// The fields `GET /subscriptions/{id}/resources` returns of a resource (ARM's generic resource
/// shape); `createdTime` and `changedTime` only with `$expand` naming them. The scenario gives
/// them as `createdTime`/`changedTime`, else `systemData.createdAt`/`lastModifiedAt`.
fn generic_resource(body: &Value, expand: &str) -> Value {
    let mut out = serde_json::Map::new();
    for field in [
        "id",
        "name",
        "type",
        "location",
        "tags",
        "sku",
        "kind",
        "managedBy",
    ] {
        if let Some(value) = body.get(field).filter(|v| !v.is_null()) {
            out.insert(field.to_owned(), value.clone());
        }
    }
    let wants = |name: &str| {
        expand
            .split(',')
            .any(|part| part.trim().eq_ignore_ascii_case(name))
    };
    for (field, fallback) in [
        ("createdTime", "createdAt"),
        ("changedTime", "lastModifiedAt"),
    ] {
        if !wants(field) {
            continue;
        }
        let value = body
            .get(field)
            .or_else(|| body.get("systemData").and_then(|s| s.get(fallback)));
        if let Some(value) = value.filter(|v| !v.is_null()) {
            out.insert(field.to_owned(), value.clone());
        }
    }
    Value::Object(out)
}

/// `GET /subscriptions/{id}/resources[?$expand=createdTime,changedTime]`, paged.
pub(crate) fn resources(
    entry: &SubscriptionEntry,
    listing: &Listing<'_>,
    expand: &str,
) -> Result<Value, ArmError> {
    let bodies: Vec<Value> = entry
        .top_level_resources()
        .map(|body| generic_resource(body, expand))
        .collect();
    let refs: Vec<&Value> = bodies.iter().collect();
    page(&refs, entry.page_size, listing)
}

/// `GET /subscriptions/{id}/resourcegroups`, paged: the scenario's `resource_groups` bodies,
/// else one group per name found in resource ids (located where its first resource is).
pub(crate) fn resource_groups(
    entry: &SubscriptionEntry,
    listing: &Listing<'_>,
) -> Result<Value, ArmError> {
    let sub = &entry.subscription.id;
    let mut groups: Vec<Value> = Vec::new();
    for body in entry.top_level_resources() {
        let Some(id) = body.get("id").and_then(Value::as_str) else {
            continue;
        };
        let parts: Vec<&str> = id.split('/').collect();
        let Some(position) = parts
            .iter()
            .position(|p| p.eq_ignore_ascii_case("resourceGroups"))
        else {
            continue;
        };
        let Some(name) = parts.get(position + 1) else {
            continue;
        };
        let known = groups.iter().any(|g| {
            g["name"]
                .as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        });
        if !known {
            let configured = entry.subscription.resource_groups.iter().find(|g| {
                g["name"]
                    .as_str()
                    .is_some_and(|n| n.eq_ignore_ascii_case(name))
            });
            groups.push(json!({
                "id": format!("/subscriptions/{sub}/resourceGroups/{name}"),
                "name": name,
                "type": "Microsoft.Resources/resourceGroups",
                "location": configured.and_then(|g| g.get("location")).or_else(|| body.get("location")).cloned().unwrap_or(Value::Null),
                "tags": configured.and_then(|g| g.get("tags")).cloned().unwrap_or_else(|| json!({})),
                "properties": {"provisioningState": "Succeeded"},
            }));
        }
    }
    for configured in &entry.subscription.resource_groups {
        let Some(name) = configured["name"].as_str() else {
            continue;
        };
        if !groups.iter().any(|g| {
            g["name"]
                .as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        }) {
            groups.push(json!({
                "id": format!("/subscriptions/{sub}/resourceGroups/{name}"),
                "name": name,
                "type": "Microsoft.Resources/resourceGroups",
                "location": configured.get("location").cloned().unwrap_or(Value::Null),
                "tags": configured.get("tags").cloned().unwrap_or_else(|| json!({})),
                "properties": {"provisioningState": "Succeeded"},
            }));
        }
    }
    let refs: Vec<&Value> = groups.iter().collect();
    page(&refs, entry.page_size, listing)
}
