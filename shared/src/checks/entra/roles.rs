//! Privileged roles: how many Global Administrators the tenant has (Graph), and custom Azure
//! roles that amount to Owner (Resource Manager). Counting and matching scopes is logic, so
//! both are custom evaluators.

use serde_json::{Value, json};

use super::{CUSTOM_ROLES, GLOBAL_ADMINS, tenant};
use crate::checks::{Check, CheckMeta, EvalContext, Severity, props};
use crate::messages::Finding;

/// Fewest Global Administrators (a second one for break-glass) and most (CIS: fewer than 5).
pub(super) const MIN_GLOBAL_ADMINS: usize = 2;
pub(super) const MAX_GLOBAL_ADMINS: usize = 4;

/// Counts the members of the Global Administrator role (`GET /directoryRoles(roleTemplateId=
/// '62e90394-...')/members`) that are users (`@odata.type` `#microsoft.graph.user`, or no type
/// given); service principals and groups are listed in the evidence but not counted. Passes
/// when 2 ≤ n ≤ 4. One finding about the tenant.
///
/// Absent: an empty member list is 0 and fails (no administrator able to recover the tenant).
pub const GLOBAL_ADMIN_COUNT: Check = Check::custom(
    CheckMeta {
        id: "entra.global_admin_count",
        title: "Between 2 and 4 Global Administrators",
        severity: Severity::High,
        description: "Global Administrators control the whole tenant and every subscription \
            that trusts it. More than four multiplies the accounts an attacker can phish for \
            full control; fewer than two leaves no one to recover access if the only \
            administrator is locked out.",
        remediation: "Portal: Microsoft Entra admin center > Identity > Roles & admins > Global \
            Administrator > Assignments: remove assignments beyond four (give narrower roles \
            instead), or add a second, break-glass administrator. CLI: `az rest --method delete \
            --url \"https://graph.microsoft.com/v1.0/directoryRoles(roleTemplateId='62e90394-\
            69f5-4237-9190-012177145e10')/members/<user-id>/$ref\"`.",
    },
    &[GLOBAL_ADMINS],
    global_admin_count,
);

fn is_user(member: &Value) -> bool {
    // `@odata.type` contains a dot: read the key directly, not as a dotted path.
    member
        .get("@odata.type")
        .and_then(Value::as_str)
        .is_none_or(|t| t.eq_ignore_ascii_case("#microsoft.graph.user"))
}

fn global_admin_count(ctx: &EvalContext<'_>) -> Vec<Finding> {
    let members = ctx.items(GLOBAL_ADMINS);
    let users: Vec<&str> = members
        .iter()
        .filter(|m| is_user(m))
        .map(|m| {
            props::prop_str(m, "userPrincipalName")
                .or_else(|| props::prop_str(m, "displayName"))
                .unwrap_or_else(|| props::resource_id(m))
        })
        .collect();
    let others: Vec<&str> = members
        .iter()
        .filter(|m| !is_user(m))
        .map(|m| props::prop_str(m, "displayName").unwrap_or_else(|| props::resource_id(m)))
        .collect();
    let n = users.len();
    let resource = tenant(
        "/directoryRoles(roleTemplateId='62e90394-69f5-4237-9190-012177145e10')/members",
        "microsoft.graph.directoryRole",
    );
    let mut evidence = vec![props::evidence_value(
        "globalAdministrators",
        json!(users),
        "2 to 4 users",
    )];
    if !others.is_empty() {
        evidence.push(props::evidence_value(
            "globalAdministrators[not users]",
            json!(others),
            "not counted",
        ));
    }
    vec![props::verdict(
        &resource,
        (MIN_GLOBAL_ADMINS..=MAX_GLOBAL_ADMINS).contains(&n),
        evidence,
        format!("{n} Global Administrators"),
        if n < MIN_GLOBAL_ADMINS {
            format!(
                "{n} Global Administrators: fewer than {MIN_GLOBAL_ADMINS}, no one to recover the tenant"
            )
        } else {
            format!("{n} Global Administrators: more than {MAX_GLOBAL_ADMINS}")
        },
    )]
}

/// One finding per custom role definition (the list is filtered `type eq 'CustomRole'`; a
/// built-in role that slips through is skipped). Fails when a `properties.permissions[]` entry
/// has `actions` containing `*` and `properties.assignableScopes` contains `/` (root) or this
/// subscription (`/subscriptions/{s}`, any casing): such a role is Owner in disguise.
///
/// Absent: no `permissions` or no `assignableScopes` passes (the role grants nothing there). No
/// custom role at all is not applicable.
pub const NO_CUSTOM_OWNER_ROLES: Check = Check::custom(
    CheckMeta {
        id: "entra.no_custom_owner_roles",
        title: "No custom role grants `*` at subscription/root scope",
        severity: Severity::High,
        description: "A custom role with all actions (`*`) assignable at the subscription or \
            root is an Owner role that escapes the reviews built-in Owner assignments get. \
            Custom roles should list the actions they need.",
        remediation: "Portal: Subscriptions > the subscription > Access control (IAM) > Roles \
            > the custom role > Edit: replace `*` with the actions needed (or delete the role \
            and assign a built-in one). CLI: `az role definition update --role-definition \
            @role.json` (without `*` in Actions), or `az role definition delete --name \
            <role>`.",
    },
    &[CUSTOM_ROLES],
    no_custom_owner_roles,
)
.none_in_scope("No custom role definitions in the subscription");

fn no_custom_owner_roles(ctx: &EvalContext<'_>) -> Vec<Finding> {
    let subscription_scope = format!("/subscriptions/{}", ctx.subscription_id);
    ctx.items(CUSTOM_ROLES)
        .iter()
        .filter(|role| {
            props::prop_str(role, "properties.type")
                .is_none_or(|t| t.eq_ignore_ascii_case("CustomRole"))
        })
        .map(|role| {
            let all_actions = props::prop(role, "properties.permissions")
                .and_then(Value::as_array)
                .is_some_and(|permissions| {
                    permissions.iter().any(|p| {
                        props::prop(p, "actions")
                            .and_then(Value::as_array)
                            .is_some_and(|a| a.iter().any(|x| x.as_str() == Some("*")))
                    })
                });
            let wide_scopes: Vec<&str> = props::prop(role, "properties.assignableScopes")
                .and_then(Value::as_array)
                .map(|scopes| {
                    scopes
                        .iter()
                        .filter_map(Value::as_str)
                        .filter(|s| s.trim() == "/" || props::same_id(s, &subscription_scope))
                        .collect()
                })
                .unwrap_or_default();
            let name = props::prop_str(role, "properties.roleName")
                .unwrap_or_else(|| props::resource_name(role));
            let mut resource = role.clone();
            resource["name"] = json!(name);
            let owner_like = all_actions && !wide_scopes.is_empty();
            props::verdict(
                &resource,
                !owner_like,
                vec![
                    props::evidence_value(
                        "properties.permissions[].actions",
                        json!(all_actions.then_some("*")),
                        "no `*` action",
                    ),
                    props::evidence(
                        role,
                        "properties.assignableScopes",
                        "not / or the subscription when actions include *",
                    ),
                ],
                "The custom role does not grant every action at subscription or root scope",
                format!(
                    "The custom role grants every action (*) at {}",
                    wide_scopes.join(", ")
                ),
            )
        })
        .collect()
}
