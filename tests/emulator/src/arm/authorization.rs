//! `Microsoft.Authorization` at subscription (or resource-group) scope: a principal's effective
//! permissions, its role assignments, and role definitions (research/arm.md §5).
//!
//! The product checks with these what its service principal may do before scanning (Reader,
//! Security Reader, nothing more). They are answered from the subscription's `access` entries:
//! each entry is one role assignment of one principal, its `actions`/`not_actions` the role's
//! permissions. `Reader` and `Security Reader` are the built-in roles with their real ids; other
//! role names become custom roles with a stable id derived from the name.

use serde_json::{Value, json};
use uuid::Uuid;

use super::error::ArmError;
use crate::resource_path::ProviderPath;
use crate::scenario::{Access, role_definition_guid};
use crate::world::SubscriptionEntry;

/// One of the authorization endpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Endpoint {
    /// `.../providers/Microsoft.Authorization/permissions`
    Permissions,
    /// `.../providers/Microsoft.Authorization/roleAssignments`
    RoleAssignments,
    /// `.../providers/Microsoft.Authorization/roleAssignments/{name}`
    RoleAssignment(String),
    /// `.../providers/Microsoft.Authorization/roleDefinitions`
    RoleDefinitions,
    /// `.../providers/Microsoft.Authorization/roleDefinitions/{guid}`
    RoleDefinition(String),
}

impl Endpoint {
    pub(crate) fn parse(target: &ProviderPath) -> Option<Endpoint> {
        if !target
            .namespace
            .eq_ignore_ascii_case("Microsoft.Authorization")
            || !target.is_at_subscription_or_group()
        {
            return None;
        }
        let is = |segment: &String, name: &str| segment.eq_ignore_ascii_case(name);
        match target.tail() {
            [kind] if is(kind, "permissions") => Some(Endpoint::Permissions),
            [kind] if is(kind, "roleAssignments") => Some(Endpoint::RoleAssignments),
            [kind, name] if is(kind, "roleAssignments") => {
                Some(Endpoint::RoleAssignment(name.clone()))
            }
            [kind] if is(kind, "roleDefinitions") => Some(Endpoint::RoleDefinitions),
            [kind, id] if is(kind, "roleDefinitions") => Some(Endpoint::RoleDefinition(id.clone())),
            _ => None,
        }
    }

    /// A principal may read its own permissions if it holds any role; the other endpoints need
    /// their read action like any resource.
    pub(crate) fn needs_only_a_grant(&self) -> bool {
        *self == Endpoint::Permissions
    }
}

/// The answer to an authorization endpoint for `principal`, with the request's `$filter`.
pub(crate) fn answer(
    entry: &SubscriptionEntry,
    endpoint: &Endpoint,
    principal: &str,
    filter: Option<&str>,
) -> Result<Value, ArmError> {
    let subscription = entry.subscription.id.as_str();
    let access = &entry.subscription.access;
    match endpoint {
        Endpoint::Permissions => {
            let value: Vec<Value> = access
                .iter()
                .filter(|grant| grant.object_id.eq_ignore_ascii_case(principal))
                .map(|grant| permission(&grant.actions, &grant.not_actions))
                .collect();
            Ok(json!({ "value": value }))
        }
        Endpoint::RoleAssignments => {
            let wanted = assignment_filter(filter)?;
            let value: Vec<Value> = access
                .iter()
                .enumerate()
                .filter(|(_, grant)| {
                    wanted
                        .as_deref()
                        .is_none_or(|oid| grant.object_id.eq_ignore_ascii_case(oid))
                })
                .map(|(index, grant)| assignment(subscription, grant, index))
                .collect();
            Ok(json!({ "value": value }))
        }
        Endpoint::RoleAssignment(name) => access
            .iter()
            .enumerate()
            .map(|(index, grant)| assignment(subscription, grant, index))
            .find(|body| {
                body["name"]
                    .as_str()
                    .is_some_and(|n| n.eq_ignore_ascii_case(name))
            })
            .ok_or_else(|| ArmError::role_assignment_not_found(name)),
        Endpoint::RoleDefinitions => {
            let keep = definition_filter(filter)?;
            let value: Vec<Value> = definitions(subscription, access)
                .into_iter()
                .filter(|definition| keep(definition))
                .collect();
            Ok(json!({ "value": value }))
        }
        Endpoint::RoleDefinition(id) => definitions(subscription, access)
            .into_iter()
            .find(|definition| {
                definition["name"]
                    .as_str()
                    .is_some_and(|name| name.eq_ignore_ascii_case(id))
            })
            .ok_or_else(|| ArmError::role_definition_not_found(id)),
    }
}

/// A built-in role, as Azure defines it.
struct BuiltIn {
    id: &'static str,
    name: &'static str,
    description: &'static str,
    actions: &'static [&'static str],
}

const BUILT_IN: [BuiltIn; 2] = [
    BuiltIn {
        id: "acdd72a7-3385-48ef-bd42-f606fba81ae7",
        name: "Reader",
        description: "View all resources, but does not allow you to make any changes.",
        actions: &["*/read"],
    },
    BuiltIn {
        id: "39bc4728-0917-49c7-9d2c-d95423bc2eb4",
        name: "Security Reader",
        description: "Security Reader Role",
        actions: &[
            "Microsoft.Authorization/*/read",
            "Microsoft.Insights/alertRules/read",
            "Microsoft.operationalInsights/workspaces/*/read",
            "Microsoft.Resources/deployments/*/read",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.Security/*/read",
            "Microsoft.IoTSecurity/*/read",
            "Microsoft.Support/*/read",
            "Microsoft.Security/iotDefenderSettings/packageDownloads/action",
            "Microsoft.Security/iotDefenderSettings/downloadManagerActivation/action",
            "Microsoft.Security/iotSensors/downloadResetPassword/action",
            "Microsoft.IoTSecurity/defenderSettings/packageDownloads/action",
            "Microsoft.IoTSecurity/defenderSettings/downloadManagerActivation/action",
            "Microsoft.Management/managementGroups/read",
        ],
    },
];

/// Namespaces for the ids the emulator derives (UUID v5), so they are stable across runs.
const ROLE_NAMESPACE: Uuid = Uuid::from_u128(0x6f1e_4b2a_9c3d_4e5f_8a7b_1c2d_3e4f_5a6b);
const ASSIGNMENT_NAMESPACE: Uuid = Uuid::from_u128(0x0b7c_2d4e_6f80_4a1b_9c3d_5e7f_8091_a2b3);

/// The role definition GUID and role name of an access entry.
fn role_of(grant: &Access) -> (String, String) {
    let built_in_by_name = grant.role.as_deref().and_then(|name| {
        BUILT_IN
            .iter()
            .find(|role| role.name.eq_ignore_ascii_case(name))
    });
    let id = grant
        .role_definition_id
        .as_deref()
        .and_then(role_definition_guid)
        .or_else(|| built_in_by_name.map(|role| role.id.to_owned()))
        .unwrap_or_else(|| {
            let seed = match &grant.role {
                Some(name) => name.to_lowercase(),
                None => format!("{:?}|{:?}", grant.actions, grant.not_actions),
            };
            Uuid::new_v5(&ROLE_NAMESPACE, seed.as_bytes()).to_string()
        });
    let name = grant
        .role
        .clone()
        .or_else(|| built_in(&id).map(|role| role.name.to_owned()))
        .unwrap_or_else(|| format!("Custom role {}", id.get(..8).unwrap_or(&id)));
    (id, name)
}

fn built_in(id: &str) -> Option<&'static BuiltIn> {
    BUILT_IN
        .iter()
        .find(|role| role.id.eq_ignore_ascii_case(id))
}

fn permission(actions: &[String], not_actions: &[String]) -> Value {
    json!({
        "actions": actions,
        "notActions": not_actions,
        "dataActions": [],
        "notDataActions": [],
    })
}

fn definition_id(subscription: &str, guid: &str) -> String {
    format!(
        "/subscriptions/{subscription}/providers/Microsoft.Authorization/roleDefinitions/{guid}"
    )
}

fn assignment(subscription: &str, grant: &Access, index: usize) -> Value {
    let (role_id, _) = role_of(grant);
    let seed = format!("{subscription}|{}|{role_id}|{index}", grant.object_id).to_lowercase();
    let name = Uuid::new_v5(&ASSIGNMENT_NAMESPACE, seed.as_bytes()).to_string();
    json!({
        "id": format!("/subscriptions/{subscription}/providers/Microsoft.Authorization/roleAssignments/{name}"),
        "name": name,
        "type": "Microsoft.Authorization/roleAssignments",
        "properties": {
            "roleDefinitionId": definition_id(subscription, &role_id),
            "principalId": grant.object_id,
            "principalType": "ServicePrincipal",
            "scope": format!("/subscriptions/{subscription}"),
            "condition": null,
            "conditionVersion": null,
            "createdOn": "2024-01-01T00:00:00.0000000Z",
            "updatedOn": "2024-01-01T00:00:00.0000000Z",
            "createdBy": null,
            "updatedBy": null,
            "delegatedManagedIdentityResourceId": null,
            "description": null,
        },
    })
}

/// The built-in roles, then the custom roles of the access entries, each once.
fn definitions(subscription: &str, access: &[Access]) -> Vec<Value> {
    let mut seen: Vec<String> = Vec::new();
    let mut out = Vec::new();
    let built_ins = BUILT_IN.iter().map(|role| {
        let actions: Vec<String> = role.actions.iter().map(|a| (*a).to_owned()).collect();
        (
            role.id.to_owned(),
            role.name.to_owned(),
            actions,
            Vec::new(),
        )
    });
    let customs = access.iter().map(|grant| {
        let (id, name) = role_of(grant);
        (id, name, grant.actions.clone(), grant.not_actions.clone())
    });
    for (id, name, actions, not_actions) in built_ins.chain(customs) {
        if seen.iter().any(|known| known.eq_ignore_ascii_case(&id)) {
            continue;
        }
        let built_in = built_in(&id);
        let assignable = if built_in.is_some() {
            "/".to_owned()
        } else {
            format!("/subscriptions/{subscription}")
        };
        out.push(json!({
            "id": definition_id(subscription, &id),
            "name": id,
            "type": "Microsoft.Authorization/roleDefinitions",
            "properties": {
                "roleName": name,
                "type": if built_in.is_some() { "BuiltInRole" } else { "CustomRole" },
                "description": built_in.map_or("", |role| role.description),
                "assignableScopes": [assignable],
                "permissions": [permission(&actions, &not_actions)],
                "createdOn": "2015-02-02T21:55:09.8806423Z",
                "updatedOn": "2021-11-11T20:13:47.8628684Z",
                "createdBy": null,
                "updatedBy": null,
            },
        }));
        seen.push(id);
    }
    out
}

/// The clauses of a `$filter`, split on `and`, with their keyword part lower-cased.
fn clauses(filter: &str) -> Vec<(String, &str)> {
    let lower = filter.to_ascii_lowercase();
    let mut out = Vec::new();
    let mut start = 0;
    while let Some(found) = lower.get(start..).and_then(|rest| rest.find(" and ")) {
        let end = start + found;
        out.push(filter.get(start..end).unwrap_or_default());
        start = end + " and ".len();
    }
    out.push(filter.get(start..).unwrap_or_default());
    out.into_iter()
        .map(str::trim)
        .filter(|clause| !clause.is_empty())
        .map(|clause| (clause.to_ascii_lowercase(), clause))
        .collect()
}

/// The value of `prefix'value'` or `prefix'value')`, quotes removed.
fn quoted_after<'a>(lower: &str, clause: &'a str, prefix: &str, suffix: &str) -> Option<&'a str> {
    if !lower.starts_with(prefix) || !lower.ends_with(suffix) {
        return None;
    }
    let inner = clause
        .get(prefix.len()..clause.len().checked_sub(suffix.len())?)?
        .trim();
    Some(
        inner
            .strip_prefix('\'')
            .and_then(|v| v.strip_suffix('\''))
            .unwrap_or(inner),
    )
}

/// The principal a role-assignment `$filter` selects (none: every assignment).
fn assignment_filter(filter: Option<&str>) -> Result<Option<String>, ArmError> {
    let Some(filter) = filter else {
        return Ok(None);
    };
    let unsupported = || {
        ArmError::unsupported_filter(
            filter,
            "either 'atScope()' or 'principalId eq '{value}'' or 'assignedTo('{value}')'",
        )
    };
    let mut principal = None;
    for (lower, clause) in clauses(filter) {
        if lower == "atscope()" {
            continue;
        }
        let value = quoted_after(&lower, clause, "principalid eq ", "")
            .or_else(|| quoted_after(&lower, clause, "assignedto(", ")"))
            .ok_or_else(unsupported)?;
        principal = Some(value.to_owned());
    }
    Ok(principal)
}

/// Which role definitions a `$filter` keeps.
fn definition_filter(filter: Option<&str>) -> Result<impl Fn(&Value) -> bool, ArmError> {
    let mut wanted: Vec<(&'static str, String)> = Vec::new();
    if let Some(filter) = filter {
        for (lower, clause) in clauses(filter) {
            let (property, value) =
                if let Some(v) = quoted_after(&lower, clause, "rolename eq ", "") {
                    ("roleName", v)
                } else if let Some(v) = quoted_after(&lower, clause, "type eq ", "") {
                    ("type", v)
                } else {
                    return Err(ArmError::unsupported_filter(
                        filter,
                        "'roleName eq '{value}'' and 'type eq 'BuiltInRole|CustomRole''",
                    ));
                };
            wanted.push((property, value.to_owned()));
        }
    }
    Ok(move |definition: &Value| {
        wanted.iter().all(|(property, value)| {
            definition["properties"][*property]
                .as_str()
                .is_some_and(|actual| actual.eq_ignore_ascii_case(value))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(role: Option<&str>, id: Option<&str>) -> Access {
        Access {
            object_id: "sp".into(),
            role: role.map(str::to_owned),
            role_definition_id: id.map(str::to_owned),
            actions: vec!["*/read".into()],
            not_actions: Vec::new(),
        }
    }

    #[test]
    fn role_ids() {
        assert_eq!(
            role_of(&grant(Some("reader"), None)).0,
            "acdd72a7-3385-48ef-bd42-f606fba81ae7"
        );
        assert_eq!(
            role_of(&grant(Some("SECURITY READER"), None)).0,
            "39bc4728-0917-49c7-9d2c-d95423bc2eb4"
        );
        let custom = role_of(&grant(Some("Scanner"), None));
        assert_eq!(custom.1, "Scanner");
        assert_eq!(custom.0, role_of(&grant(Some("scanner"), None)).0);
        assert_ne!(custom.0, role_of(&grant(Some("Other"), None)).0);
        let explicit = "/providers/Microsoft.Authorization/roleDefinitions/00000000-0000-0000-0000-0000000000ff";
        let (id, name) = role_of(&grant(None, Some(explicit)));
        assert_eq!(id, "00000000-0000-0000-0000-0000000000ff");
        assert_eq!(name, "Custom role 00000000");
        let (id, name) = role_of(&grant(None, Some("ACDD72A7-3385-48EF-BD42-F606FBA81AE7")));
        assert_eq!(
            (id.as_str(), name.as_str()),
            ("acdd72a7-3385-48ef-bd42-f606fba81ae7", "Reader")
        );
    }

    #[test]
    fn filters() {
        assert_eq!(assignment_filter(None).ok(), Some(None));
        assert_eq!(
            assignment_filter(Some("principalId eq 'abc'")).ok(),
            Some(Some("abc".to_owned()))
        );
        assert_eq!(
            assignment_filter(Some("atScope() and assignedTo('ABC')")).ok(),
            Some(Some("ABC".to_owned()))
        );
        assert_eq!(assignment_filter(Some("atScope()")).ok(), Some(None));
        assert!(assignment_filter(Some("roleName eq 'x'")).is_err());

        let keep = definition_filter(Some("roleName eq 'reader'")).expect("filter");
        let all = definitions("s", &[]);
        let kept: Vec<&Value> = all.iter().filter(|d| keep(d)).collect();
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0]["properties"]["roleName"], "Reader");
        assert!(definition_filter(Some("principalId eq 'x'")).is_err());
    }
}
