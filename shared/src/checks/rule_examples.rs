//! The one generic test of every declarative check: its pass and fail examples give the stated
//! verdicts, and its property paths exist, with their exact casing, in the service's fixtures.
//!
//! Fixtures follow one convention: the items of collection `service.what` are in
//! `src/checks/<service>/fixtures/<what>.json`, as an ARM (or Graph) list body `{"value": [...]}`
//! with real response shapes. A declarative check needs no test code of its own.

use std::path::PathBuf;

use serde_json::{Map, Value};

use super::rule::{Example, Missing, Rule, Target};
use super::{ServiceDef, catalogue};
use crate::messages::FindingStatus;

/// The fixture items of a collection, or why there are none.
fn fixture_items(service: &ServiceDef, collection: &str) -> Result<Vec<Value>, String> {
    let what = collection
        .strip_prefix(service.id)
        .and_then(|rest| rest.strip_prefix('.'))
        .ok_or_else(|| format!("collection {collection} is not named `{}.*`", service.id))?;
    let path: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "src",
        "checks",
        service.id,
        "fixtures",
        &format!("{what}.json"),
    ]
    .iter()
    .collect();
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("fixture {} for {collection}: {e}", path.display()))?;
    let body: Value = serde_json::from_str(&text)
        .map_err(|e| format!("fixture {} is not JSON: {e}", path.display()))?;
    match body {
        Value::Object(mut o) => match o.remove("value") {
            Some(Value::Array(items)) => Ok(items),
            _ => Ok(vec![Value::Object(o)]),
        },
        Value::Array(items) => Ok(items),
        _ => Err(format!("fixture {} holds no items", path.display())),
    }
}

/// The fixture items of a collection, for the tests of custom evaluators; panics (a test
/// failure) when the fixture is missing or malformed.
pub(super) fn fixture(service: &ServiceDef, collection: &str) -> Vec<Value> {
    fixture_items(service, collection).unwrap_or_else(|e| panic!("{e}"))
}

/// Whether `path` exists in `value` with exactly this casing.
fn has_exact_path(value: &Value, path: &str) -> bool {
    path.is_empty()
        || path
            .split('.')
            .try_fold(value, |v, key| v.as_object()?.get(key))
            .is_some()
}

/// `value` with `path` set to `example` (or removed when the example is absent).
fn with_example(mut value: Value, path: &str, example: Example) -> Value {
    let new = example.to_value();
    if path.is_empty() {
        return new.unwrap_or(Value::Null);
    }
    let keys: Vec<&str> = path.split('.').collect();
    let (last, parents) = keys.split_last().expect("non-empty path");
    let mut current = &mut value;
    for key in parents {
        if !current.is_object() {
            *current = Value::Object(Map::new());
        }
        current = current
            .as_object_mut()
            .expect("object")
            .entry(key.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    if !current.is_object() {
        *current = Value::Object(Map::new());
    }
    let object = current.as_object_mut().expect("object");
    match new {
        Some(v) => {
            object.insert(last.to_string(), v);
        }
        None => {
            object.remove(*last);
        }
    }
    value
}

/// Checks one rule; returns every problem found.
pub(crate) fn check_rule(service: &ServiceDef, id: &str, rule: &Rule) -> Vec<String> {
    let mut problems = Vec::new();
    if rule.pass_examples.is_empty() || rule.fail_examples.is_empty() {
        problems.push(format!("{id}: needs pass and fail examples"));
    }
    let values = match fixture_items(service, rule.target.value_collection()) {
        Ok(items) if !items.is_empty() => items,
        Ok(_) => return vec![format!("{id}: empty fixture")],
        Err(e) => return vec![format!("{id}: {e}")],
    };
    let (parents, child) = match rule.target {
        Target::Items(_) => (values.clone(), None),
        Target::Child { parent, child } => match fixture_items(service, parent) {
            Ok(items) if !items.is_empty() => (items, Some(child)),
            Ok(_) => return vec![format!("{id}: empty fixture for {parent}")],
            Err(e) => return vec![format!("{id}: {e}")],
        },
    };
    if !values.iter().any(|v| has_exact_path(v, rule.path)) {
        problems.push(format!(
            "{id}: path `{}` is in no item of the {} fixture (exact casing)",
            rule.path,
            rule.target.value_collection()
        ));
    }
    let applicable: Vec<&Value> = match rule.when {
        Some(when) => {
            if !parents.iter().any(|p| has_exact_path(p, when.path)) {
                problems.push(format!("{id}: filter path `{}` not in fixture", when.path));
            }
            parents
                .iter()
                .filter(|p| {
                    super::props::prop(p, when.path)
                        .is_some_and(|v| !v.is_null() && when.expect.matches(v))
                })
                .collect()
        }
        None => parents.iter().collect(),
    };
    let Some(resource) = applicable.first() else {
        problems.push(format!("{id}: no fixture item meets its filter"));
        return problems;
    };
    let base = match child {
        None => (*resource).clone(),
        Some(_) => values[0].clone(),
    };
    let cases = rule
        .pass_examples
        .iter()
        .map(|e| (e, FindingStatus::Passed))
        .chain(
            rule.fail_examples
                .iter()
                .map(|e| (e, FindingStatus::Failed)),
        );
    for (example, wanted) in cases {
        if matches!(example, Example::Absent) && rule.missing == Missing::NotApplicable {
            problems.push(format!(
                "{id}: an absent value is not applicable, not an example"
            ));
            continue;
        }
        let source = with_example(base.clone(), rule.path, *example);
        let finding = match child {
            None => rule.verdict(&source, &source, None),
            Some(child) => rule.verdict(resource, &source, Some(child)),
        };
        if finding.status != wanted {
            problems.push(format!(
                "{id}: example {example:?} gave {:?}, expected {wanted:?} ({})",
                finding.status, finding.message
            ));
        }
    }
    problems
}

#[test]
fn every_declarative_check_meets_its_examples_on_its_fixtures() {
    let mut problems = Vec::new();
    let mut rules = 0;
    for service in catalogue() {
        for check in service.checks {
            if let Some(rule) = check.as_rule() {
                rules += 1;
                problems.extend(check_rule(service, check.meta.id, rule));
            }
        }
    }
    assert!(rules > 0, "the catalogue has declarative checks");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn a_typo_in_a_path_is_caught_despite_case_insensitive_lookup() {
    let storage = super::service("storage").expect("storage service");
    let check = storage.check("storage.min_tls_12").expect("min TLS check");
    let mut rule = *check.as_rule().expect("declarative");
    rule.path = "properties.minimumTLSVersion";
    let problems = check_rule(storage, "typo", &rule);
    assert!(
        problems.iter().any(|p| p.contains("exact casing")),
        "{problems:?}"
    );
    rule.pass_examples = &[Example::Str("TLS1_0")];
    rule.path = "properties.minimumTlsVersion";
    let problems = check_rule(storage, "wrong example", &rule);
    assert!(problems.iter().any(|p| p.contains("expected Passed")));
}
