//! What a service principal may read, from ARM's effective-permissions answer.
//!
//! `GET /subscriptions/{id}/providers/Microsoft.Authorization/permissions` returns one element
//! per role the principal holds, each with `actions` and `notActions` (wildcards allowed). An
//! action is allowed when some element's `actions` match it and that same element's `notActions`
//! do not (research/arm.md section 5). From that the fleet tells a customer which services it
//! can read and which actions are missing, before any scan.

use serde::{Deserialize, Serialize};

/// One role's permissions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PermissionSet {
    #[serde(default)]
    pub actions: Vec<String>,
    #[serde(default)]
    pub not_actions: Vec<String>,
}

/// The effective permissions of a principal on a scope.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Effective {
    pub sets: Vec<PermissionSet>,
}

impl Effective {
    /// Parses the `value` array of a permissions response.
    pub fn from_list(items: &[serde_json::Value]) -> Self {
        Self {
            sets: items
                .iter()
                .filter_map(|v| serde_json::from_value(v.clone()).ok())
                .collect(),
        }
    }

    pub fn allows(&self, action: &str) -> bool {
        self.sets.iter().any(|set| {
            set.actions.iter().any(|p| matches(p, action))
                && !set.not_actions.iter().any(|p| matches(p, action))
        })
    }

    /// Whether the principal can write or delete anything (more than a scanner needs).
    pub fn can_write(&self) -> bool {
        [
            "Microsoft.Resources/deployments/write",
            "Microsoft.Compute/virtualMachines/delete",
        ]
        .iter()
        .any(|a| self.allows(a))
    }
}

/// Azure RBAC wildcard match: `*` matches any run of characters, case-insensitive.
pub fn matches(pattern: &str, action: &str) -> bool {
    let p: Vec<char> = pattern.to_ascii_lowercase().chars().collect();
    let a: Vec<char> = action.to_ascii_lowercase().chars().collect();
    // Classic two-pointer glob with backtracking to the last star.
    let (mut pi, mut ai) = (0usize, 0usize);
    let (mut star, mut mark) = (None::<usize>, 0usize);
    while ai < a.len() {
        if pi < p.len() && p[pi] == a[ai] {
            pi += 1;
            ai += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ai;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ai = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_like_azure_rbac() {
        assert!(matches("*/read", "Microsoft.Storage/storageAccounts/read"));
        assert!(matches("*", "Microsoft.Compute/virtualMachines/delete"));
        assert!(matches(
            "Microsoft.Network/*/read",
            "microsoft.network/networkSecurityGroups/read"
        ));
        assert!(!matches(
            "Microsoft.Network/*/read",
            "Microsoft.Storage/storageAccounts/read"
        ));
        assert!(!matches(
            "*/read",
            "Microsoft.Storage/storageAccounts/listKeys/action"
        ));
        assert!(matches(
            "Microsoft.Authorization/*",
            "Microsoft.Authorization/roleAssignments/read"
        ));
        assert!(!matches("", "x"));
    }

    #[test]
    fn not_actions_only_remove_from_their_own_role() {
        let reader_without_flow_logs = PermissionSet {
            actions: vec!["*/read".into()],
            not_actions: vec!["Microsoft.Network/networkWatchers/flowLogs/read".into()],
        };
        let e = Effective {
            sets: vec![reader_without_flow_logs.clone()],
        };
        assert!(!e.allows("Microsoft.Network/networkWatchers/flowLogs/read"));
        assert!(e.allows("Microsoft.Network/networkSecurityGroups/read"));
        assert!(!e.can_write());
        // Another role granting it back wins (Azure RBAC is additive).
        let network_reader = PermissionSet {
            actions: vec!["Microsoft.Network/*/read".into()],
            not_actions: vec![],
        };
        let e = Effective {
            sets: vec![reader_without_flow_logs, network_reader],
        };
        assert!(e.allows("Microsoft.Network/networkWatchers/flowLogs/read"));
        let owner = Effective {
            sets: vec![PermissionSet {
                actions: vec!["*".into()],
                not_actions: vec![],
            }],
        };
        assert!(owner.can_write());
    }

    #[test]
    fn parses_the_arm_response_shape() {
        let items = vec![
            serde_json::json!({"actions": ["*/read"], "notActions": [], "dataActions": [], "notDataActions": []}),
        ];
        let e = Effective::from_list(&items);
        assert!(e.allows("Microsoft.Web/sites/read"));
    }
}
