//! Azure RBAC action matching.
//!
//! ARM allows an action when one of the principal's role grants lists it in `actions` and the
//! same grant does not list it in `notActions`. Patterns are case-insensitive and `*` matches any
//! run of characters, slashes included (`*/read`, `Microsoft.Storage/*/read`, `*`).

use crate::scenario::Access;

/// Whether `principal` may perform `action` under these grants.
pub(crate) fn is_allowed(grants: &[Access], principal: &str, action: &str) -> bool {
    grants
        .iter()
        .filter(|grant| grant.object_id.eq_ignore_ascii_case(principal))
        .any(|grant| {
            grant.actions.iter().any(|pattern| matches(pattern, action))
                && !grant
                    .not_actions
                    .iter()
                    .any(|pattern| matches(pattern, action))
        })
}

/// Whether the principal holds any grant at all (it then "sees" the subscription).
pub(crate) fn has_any_grant(grants: &[Access], principal: &str) -> bool {
    grants
        .iter()
        .any(|grant| grant.object_id.eq_ignore_ascii_case(principal))
}

/// Case-insensitive wildcard match where `*` matches any sequence of characters.
pub(crate) fn matches(pattern: &str, action: &str) -> bool {
    let pattern: Vec<char> = pattern.to_lowercase().chars().collect();
    let text: Vec<char> = action.to_lowercase().chars().collect();
    let (mut p, mut t) = (0, 0);
    // Position of the last `*` seen and the text position it was tried against.
    let mut backtrack: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == '*' {
            backtrack = Some((p, t));
            p += 1;
        } else if p < pattern.len() && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if let Some((star, tried)) = backtrack {
            p = star + 1;
            t = tried + 1;
            backtrack = Some((star, tried + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(actions: &[&str], not_actions: &[&str]) -> Access {
        Access {
            object_id: "SP-1".into(),
            role: None,
            role_definition_id: None,
            actions: actions.iter().map(|s| s.to_string()).collect(),
            not_actions: not_actions.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn wildcards() {
        assert!(matches("*", "Microsoft.Storage/storageAccounts/read"));
        assert!(matches("*/read", "Microsoft.Storage/storageAccounts/read"));
        assert!(matches("*/READ", "microsoft.storage/storageaccounts/read"));
        assert!(matches(
            "Microsoft.Storage/*/read",
            "Microsoft.Storage/storageAccounts/fileServices/read"
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
            "Microsoft.Resources/subscriptions/read",
            "microsoft.resources/subscriptions/READ"
        ));
        assert!(!matches(
            "Microsoft.Resources/subscriptions/read",
            "Microsoft.Resources/subscriptions/read/x"
        ));
        assert!(matches("a*b*c", "aXbYbZc"));
        assert!(!matches("a*b*c", "aXbYbZ"));
    }

    #[test]
    fn grants() {
        let reader = [grant(&["*/read"], &[])];
        assert!(is_allowed(
            &reader,
            "sp-1",
            "Microsoft.Storage/storageAccounts/read"
        ));
        assert!(!is_allowed(
            &reader,
            "sp-2",
            "Microsoft.Storage/storageAccounts/read"
        ));
        assert!(has_any_grant(&reader, "SP-1"));

        let no_storage = [grant(&["*/read"], &["Microsoft.Storage/*"])];
        assert!(!is_allowed(
            &no_storage,
            "SP-1",
            "Microsoft.Storage/storageAccounts/read"
        ));
        assert!(is_allowed(
            &no_storage,
            "SP-1",
            "Microsoft.Network/networkWatchers/read"
        ));

        // notActions only subtract from their own grant.
        let two = [
            grant(&["*/read"], &["Microsoft.Storage/*"]),
            grant(&["Microsoft.Storage/*/read"], &[]),
        ];
        assert!(is_allowed(
            &two,
            "SP-1",
            "Microsoft.Storage/storageAccounts/read"
        ));
    }
}
