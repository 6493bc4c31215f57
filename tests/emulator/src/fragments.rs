//! Scenario fragments: a scenario `demo.json` may have a folder `demo.d/` beside it whose
//! `*.json` files (in name order) add to it.
//!
//! The demo subscription holds resources of all 30 services and the expectations of every check;
//! one file for all of it would be thousands of lines that every service's change edits. A
//! fragment states one service's part of the world: the same top-level shape as a scenario, merged
//! into it. Objects merge key by key; arrays of objects with an `id` merge element by element
//! on that id (so a fragment adds resources to the subscription it names); other arrays append;
//! any other value of a fragment replaces the scenario's.

use std::path::Path;

use anyhow::Context;
use serde_json::Value;

/// The scenario file at `path` with its fragments merged in, as JSON.
pub fn load_with_fragments(path: &Path) -> anyhow::Result<Value> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading scenario file {}", path.display()))?;
    let mut scenario: Value = serde_json::from_str(&text)
        .with_context(|| format!("parsing scenario file {}", path.display()))?;
    let folder = path.with_extension("d");
    if folder.is_dir() {
        let mut files: Vec<_> = std::fs::read_dir(&folder)
            .with_context(|| format!("reading {}", folder.display()))?
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        for file in files {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading fragment {}", file.display()))?;
            let fragment: Value = serde_json::from_str(&text)
                .with_context(|| format!("parsing fragment {}", file.display()))?;
            merge(&mut scenario, fragment);
        }
    }
    Ok(scenario)
}

/// Merges `addition` into `base` (see the module doc).
pub fn merge(base: &mut Value, addition: Value) {
    match (base, addition) {
        (Value::Object(base), Value::Object(addition)) => {
            for (key, value) in addition {
                match base.get_mut(&key) {
                    Some(existing) => merge(existing, value),
                    None => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (Value::Array(base), Value::Array(addition)) => {
            for item in addition {
                let same = item.get("id").and_then(Value::as_str).and_then(|id| {
                    base.iter_mut().find(|b| {
                        b.get("id")
                            .and_then(Value::as_str)
                            .is_some_and(|b| b.eq_ignore_ascii_case(id))
                    })
                });
                match same {
                    Some(existing) => merge(existing, item),
                    None => base.push(item),
                }
            }
        }
        (base, addition) => *base = addition,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fragments_add_resources_to_the_subscription_they_name() {
        let mut base = json!({
            "subscriptions": [{"id": "S1", "resources": [{"id": "/a"}]}],
            "expectations": {"x.one": {"status": "passed"}}
        });
        merge(
            &mut base,
            json!({
                "subscriptions": [{"id": "s1", "resources": [{"id": "/b"}]}],
                "expectations": {"y.two": {"status": "failed"}}
            }),
        );
        assert_eq!(base["subscriptions"].as_array().map(Vec::len), Some(1));
        assert_eq!(
            base["subscriptions"][0]["resources"],
            json!([{"id": "/a"}, {"id": "/b"}])
        );
        assert_eq!(base["expectations"]["y.two"]["status"], "failed");
        assert_eq!(base["expectations"]["x.one"]["status"], "passed");
    }

    #[test]
    fn a_scenario_without_fragments_loads_as_it_is() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/unit.json");
        let merged = load_with_fragments(&path).expect("loads");
        assert!(merged["subscriptions"].is_array());
    }
}
