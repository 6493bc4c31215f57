//! Which application permission a Graph read needs: the scenario's own table first, then the
//! least-privileged permissions the Graph docs list per API (any one of them suffices; a
//! `ReadWrite` permission covers its `Read` form).

use crate::scenario::GraphData;

/// Path prefix (lower case) -> permissions, any of which allows the read. First match wins.
const BUILT_IN: [(&str, &[&str]); 13] = [
    ("/policies/", &["Policy.Read.All"]),
    ("/identity/conditionalaccess/", &["Policy.Read.All"]),
    ("/reports/", &["AuditLog.Read.All"]),
    ("/auditlogs/", &["AuditLog.Read.All"]),
    (
        "/directoryroles",
        &["RoleManagement.Read.Directory", "Directory.Read.All"],
    ),
    (
        "/rolemanagement/",
        &["RoleManagement.Read.Directory", "Directory.Read.All"],
    ),
    ("/users", &["User.Read.All", "Directory.Read.All"]),
    (
        "/applications",
        &["Application.Read.All", "Directory.Read.All"],
    ),
    (
        "/serviceprincipals",
        &["Application.Read.All", "Directory.Read.All"],
    ),
    ("/groupsettings", &["Directory.Read.All"]),
    ("/groups", &["Group.Read.All", "Directory.Read.All"]),
    (
        "/organization",
        &["Organization.Read.All", "Directory.Read.All"],
    ),
    ("/domains", &["Domain.Read.All", "Directory.Read.All"]),
];

/// The permissions, any of which allows reading `path` (without `/v1.0`).
pub(crate) fn needed(data: &GraphData, path: &str) -> Vec<String> {
    let lower = path.to_lowercase();
    if let Some(configured) = data
        .permissions
        .iter()
        .find(|p| lower.starts_with(&p.path_prefix.to_lowercase()))
    {
        return configured.any_of.clone();
    }
    BUILT_IN
        .iter()
        .find(|(prefix, _)| lower.starts_with(prefix))
        .map_or_else(
            || vec!["Directory.Read.All".to_owned()],
            |(_, any_of)| any_of.iter().map(|p| (*p).to_owned()).collect(),
        )
}

/// Whether `roles` (a token's claim) grants `permission` or its `ReadWrite` form.
pub(crate) fn granted(roles: &[String], permission: &str) -> bool {
    let read_write = permission.replacen(".Read.", ".ReadWrite.", 1);
    roles
        .iter()
        .any(|r| r.eq_ignore_ascii_case(permission) || r.eq_ignore_ascii_case(&read_write))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::GraphPermission;

    #[test]
    fn table_and_overrides() {
        let data = GraphData::default();
        assert_eq!(
            needed(&data, "/policies/authorizationPolicy"),
            ["Policy.Read.All"]
        );
        assert_eq!(
            needed(
                &data,
                "/reports/authenticationMethods/userRegistrationDetails"
            ),
            ["AuditLog.Read.All"]
        );
        assert_eq!(needed(&data, "/somethingElse"), ["Directory.Read.All"]);
        let data = GraphData {
            permissions: vec![GraphPermission {
                path_prefix: "/Policies/".into(),
                any_of: vec!["Custom.Read".into()],
            }],
            ..GraphData::default()
        };
        assert_eq!(needed(&data, "/policies/x"), ["Custom.Read"]);
        let roles = vec!["Policy.ReadWrite.All".to_owned()];
        assert!(granted(&roles, "Policy.Read.All"));
        assert!(!granted(&roles, "Directory.Read.All"));
    }
}
