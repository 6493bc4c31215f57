//! Reading ARM resource bodies and building findings with evidence.
//!
//! Checks quote what they saw: every finding carries the property path, the value found (`null`
//! when absent) and what was expected. These helpers keep that uniform and short.

use serde_json::Value;

use super::dataset::{DENIED_ACTION_PROPERTY, FetchError};
use crate::messages::{Evidence, Finding, FindingStatus};

/// Looks up a dotted path (`properties.networkAcls.defaultAction`). Keys match exactly first,
/// then case-insensitively, because some resource providers vary the casing of property names.
pub fn prop<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(value, |current, key| {
        let obj = current.as_object()?;
        obj.get(key).or_else(|| {
            obj.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v)
        })
    })
}

/// The property as a string, if it is one.
pub fn prop_str<'a>(value: &'a Value, path: &str) -> Option<&'a str> {
    prop(value, path).and_then(Value::as_str)
}

/// The property as a bool, if it is one.
pub fn prop_bool(value: &Value, path: &str) -> Option<bool> {
    prop(value, path).and_then(Value::as_bool)
}

/// Evidence for `path` on `resource`: the value seen (or `null`) and the expectation.
pub fn evidence(resource: &Value, path: &str, expected: &str) -> Evidence {
    Evidence {
        property: path.to_string(),
        value: prop(resource, path).cloned().unwrap_or(Value::Null),
        expected: expected.to_string(),
    }
}

/// Evidence with an explicit value (for derived observations, e.g. a rule's expanded ports).
pub fn evidence_value(property: impl Into<String>, value: Value, expected: &str) -> Evidence {
    Evidence {
        property: property.into(),
        value,
        expected: expected.to_string(),
    }
}

/// Identity of an ARM resource body.
pub fn resource_id(resource: &Value) -> &str {
    prop_str(resource, "id").unwrap_or("")
}

/// An ARM id in the form ids are compared in: ARM ids are case-insensitive, and some
/// providers add a trailing slash or spaces.
pub fn normalize_id(id: &str) -> String {
    id.trim().trim_end_matches('/').to_ascii_lowercase()
}

/// Whether two ARM ids name the same resource.
pub fn same_id(a: &str, b: &str) -> bool {
    normalize_id(a) == normalize_id(b)
}

pub fn resource_name(resource: &Value) -> &str {
    prop_str(resource, "name")
        .unwrap_or_else(|| resource_id(resource).rsplit('/').next().unwrap_or_default())
}

pub fn resource_type(resource: &Value) -> &str {
    prop_str(resource, "type").unwrap_or("")
}

pub fn resource_location(resource: &Value) -> Option<&str> {
    prop_str(resource, "location")
}

/// A finding about `resource`.
pub fn finding(
    resource: &Value,
    status: FindingStatus,
    evidence: Vec<Evidence>,
    message: impl Into<String>,
) -> Finding {
    Finding {
        resource_id: resource_id(resource).to_string(),
        resource_name: resource_name(resource).to_string(),
        resource_type: resource_type(resource).to_string(),
        location: resource_location(resource).map(str::to_string),
        status,
        evidence,
        message: message.into(),
    }
}

/// Pass or fail `resource` on a condition, with the same evidence either way.
pub fn verdict(
    resource: &Value,
    passes: bool,
    evidence: Vec<Evidence>,
    pass_message: impl Into<String>,
    fail_message: impl Into<String>,
) -> Finding {
    if passes {
        finding(resource, FindingStatus::Passed, evidence, pass_message)
    } else {
        finding(resource, FindingStatus::Failed, evidence, fail_message)
    }
}

/// A finding for a resource whose child data could not be read.
pub fn unreadable(resource: &Value, what: &str, err: &FetchError) -> Finding {
    let (status, evidence) = match err {
        FetchError::AccessDenied { action, .. } => (
            FindingStatus::AccessDenied,
            vec![evidence_value(
                DENIED_ACTION_PROPERTY,
                Value::String(action.clone()),
                "granted to the service principal",
            )],
        ),
        FetchError::NotApplicable { .. } => (FindingStatus::NotApplicable, Vec::new()),
        FetchError::Error { .. } => (FindingStatus::Error, Vec::new()),
    };
    finding(
        resource,
        status,
        evidence,
        format!("Could not read {what}: {}", err.reason()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn prop_walks_paths_and_tolerates_casing() {
        let v = json!({"properties": {"networkAcls": {"defaultAction": "Deny"}, "MinimumTlsVersion": "TLS1_2"}});
        assert_eq!(
            prop_str(&v, "properties.networkAcls.defaultAction"),
            Some("Deny")
        );
        assert_eq!(prop_str(&v, "properties.minimumTlsVersion"), Some("TLS1_2"));
        assert!(prop(&v, "properties.missing.deeper").is_none());
        assert_eq!(evidence(&v, "properties.nope", "x").value, Value::Null);
    }

    #[test]
    fn name_falls_back_to_the_last_id_segment() {
        let v = json!({"id": "/subscriptions/s/resourceGroups/rg/providers/A/b/thing"});
        assert_eq!(resource_name(&v), "thing");
    }
}
