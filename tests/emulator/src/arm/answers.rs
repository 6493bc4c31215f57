//! What ARM returns once a request has passed authentication and authorization: subscription
//! bodies, stored resources, and lists of them.

use serde_json::{Value, json};

use super::error::ArmError;
use super::paging::{Listing, page};
use crate::authz;
use crate::jwt::Claims;
use crate::resource_path::ProviderPath;
use crate::world::{SubscriptionEntry, World};

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
