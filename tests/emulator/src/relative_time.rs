//! Relative times in scenario files: a string value `{{now}}`, `{{now-30d}}` or `{{now+2h}}`
//! becomes an RFC 3339 time when the scenario loads. Scenarios about ages (key rotation, secret
//! expiry) then mean the same thing whenever the tests run.

use chrono::{Duration, SecondsFormat, Utc};
use serde_json::Value;

/// Replaces every relative-time string in `value`, recursively.
pub fn resolve(value: &mut Value) -> anyhow::Result<()> {
    match value {
        Value::String(s) => {
            if let Some(resolved) = parse(s)? {
                *s = resolved;
            }
        }
        Value::Array(items) => items.iter_mut().try_for_each(resolve)?,
        Value::Object(map) => map.values_mut().try_for_each(resolve)?,
        _ => {}
    }
    Ok(())
}

fn parse(s: &str) -> anyhow::Result<Option<String>> {
    let Some(inner) = s.strip_prefix("{{").and_then(|r| r.strip_suffix("}}")) else {
        return Ok(None);
    };
    let Some(offset) = inner.trim().strip_prefix("now") else {
        return Ok(None);
    };
    let delta = if offset.is_empty() {
        Duration::zero()
    } else {
        let (sign, rest) = match offset.split_at(1) {
            ("+", rest) => (1, rest),
            ("-", rest) => (-1, rest),
            _ => anyhow::bail!("relative time {s:?}: expected now+N<unit> or now-N<unit>"),
        };
        let (number, unit) = rest.split_at(rest.len().saturating_sub(1));
        let n: i64 = number
            .parse()
            .map_err(|_| anyhow::anyhow!("relative time {s:?}: {number:?} is not a number"))?;
        let d = match unit {
            "d" => Duration::days(n),
            "h" => Duration::hours(n),
            "m" => Duration::minutes(n),
            "s" => Duration::seconds(n),
            _ => anyhow::bail!("relative time {s:?}: unit must be d, h, m or s"),
        };
        d * sign
    };
    Ok(Some(
        (Utc::now() + delta).to_rfc3339_opts(SecondsFormat::Secs, true),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_relative_times_anywhere() {
        let mut v =
            serde_json::json!({"a": ["{{now-30d}}", {"b": "{{now}}"}], "c": "{{x}}", "d": 1});
        resolve(&mut v).expect("resolve");
        let a = v["a"][0].as_str().expect("string");
        let t = chrono::DateTime::parse_from_rfc3339(a).expect("rfc3339");
        let age = Utc::now() - t.with_timezone(&Utc);
        assert!(age > Duration::days(29) && age < Duration::days(31));
        assert!(v["a"][1]["b"].as_str().expect("string").ends_with('Z'));
        assert_eq!(v["c"], "{{x}}");
        assert!(resolve(&mut serde_json::json!("{{now*3d}}")).is_err());
        assert!(resolve(&mut serde_json::json!("{{now-3y}}")).is_err());
    }
}
