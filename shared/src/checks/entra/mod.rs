//! Active Directory (Entra ID): tenant-wide identity controls read through Microsoft Graph v1.0
//! (security defaults, Conditional Access, the authorization policy, MFA registration, Global
//! Administrators), plus custom Azure roles from Resource Manager.
//!
//! Reader and Security Reader grant nothing in Graph: each Graph collection names the
//! application permission it needs (`Policy.Read.All`, `AuditLog.Read.All`,
//! `Directory.Read.All`), so a principal without it gets "Failed - Access Denied" naming that
//! permission on exactly the checks that read it, and the custom-role check (ARM, Reader) still
//! gets a verdict. Graph data is tenant-wide: never region-filtered. Findings about the tenant as
//! a whole name the resource `tenant` and carry the Graph path read as its id.

mod identity;
mod roles;
mod settings;
#[cfg(test)]
mod tests;

use serde_json::{Value, json};

use self::identity::*;
use self::roles::*;
use self::settings::*;
use super::{Collection, ServiceDef};

pub const SECURITY_DEFAULTS: &str = "entra.security_defaults";
pub const CONDITIONAL_ACCESS: &str = "entra.conditional_access";
pub const AUTHORIZATION_POLICY: &str = "entra.authorization_policy";
pub const REGISTRATION_DETAILS: &str = "entra.registration_details";
pub const GLOBAL_ADMINS: &str = "entra.global_admins";
pub const CUSTOM_ROLES: &str = "entra.custom_roles";

/// The Global Administrator role's template id (the same in every tenant).
pub const GLOBAL_ADMIN_TEMPLATE: &str = "62e90394-69f5-4237-9190-012177145e10";

pub const POLICY_READ_ALL: &str = "Policy.Read.All";
pub const AUDIT_LOG_READ_ALL: &str = "AuditLog.Read.All";
pub const DIRECTORY_READ_ALL: &str = "Directory.Read.All";

pub const SERVICE: ServiceDef = ServiceDef {
    id: "entra",
    name: "Active Directory (Entra ID)",
    collections: &[
        Collection::graph_get(
            SECURITY_DEFAULTS,
            "/policies/identitySecurityDefaultsEnforcementPolicy",
            POLICY_READ_ALL,
        ),
        Collection::graph_list(
            CONDITIONAL_ACCESS,
            "/identity/conditionalAccess/policies",
            POLICY_READ_ALL,
        ),
        Collection::graph_get(
            AUTHORIZATION_POLICY,
            "/policies/authorizationPolicy",
            POLICY_READ_ALL,
        ),
        Collection::graph_list(
            REGISTRATION_DETAILS,
            "/reports/authenticationMethods/userRegistrationDetails",
            AUDIT_LOG_READ_ALL,
        ),
        // The role's members by its template id: one call, no lookup of the role's object id.
        Collection::graph_list(
            GLOBAL_ADMINS,
            "/directoryRoles(roleTemplateId='62e90394-69f5-4237-9190-012177145e10')/members",
            DIRECTORY_READ_ALL,
        ),
        Collection::list(
            CUSTOM_ROLES,
            "Microsoft.Authorization/roleDefinitions",
            "2022-04-01",
            "Microsoft.Authorization/roleDefinitions/read",
        )
        .global()
        .filtered("type eq 'CustomRole'"),
    ],
    checks: &[
        MFA_ENFORCED_TENANT_WIDE,
        USERS_MFA_REGISTERED,
        CA_MFA_AZURE_MANAGEMENT,
        GLOBAL_ADMIN_COUNT,
        USER_CONSENT_RESTRICTED,
        USERS_CANNOT_REGISTER_APPS,
        GUEST_ACCESS_RESTRICTED,
        GUEST_INVITES_RESTRICTED,
        NO_CUSTOM_OWNER_ROLES,
    ],
    none_in_scope: "Nothing of this kind in the tenant",
};

/// The tenant as the resource of a tenant-wide finding, identified by the Graph path read.
pub(super) fn tenant(path: &str, graph_type: &str) -> Value {
    json!({ "id": path, "name": "tenant", "type": graph_type })
}
