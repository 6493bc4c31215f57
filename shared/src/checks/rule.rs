//! The declarative form of a check: one property of each in-scope item against an expectation.
//!
//! Most of the catalogue's checks are "this property of every X must be Y". Writing each of them
//! as code costs a metadata block, an evaluator and a test; here a check is one typed const: a
//! [`Rule`] names the collection ([`Target`]), the property path, the [`Expect`]ation, what an
//! absent property means ([`Missing`], with the spec's words in the check's doc comment), an
//! optional applies-when filter, the verdict messages and pass / fail [`Example`] values. One
//! generic test (`checks::rule_examples` in the catalogue tests) runs every rule's examples
//! against the service's fixtures and fails when a path does not exist there with its exact
//! casing, so a typo cannot hide behind the case-insensitive lookup used at run time.
//!
//! Checks that need real logic (port arithmetic, key age, joins) keep a custom evaluator.
//!
//! Semantics, fixed for every rule:
//! - strings compare ignoring ASCII case (ARM enum values are case-insensitive);
//! - integers accept JSON numbers and numeric strings (some providers send `"90"`);
//! - a property that is absent or `null` is *missing* and decided by [`Missing`]; inside
//!   [`Expect::AllOf`] / [`Expect::AnyOf`] / element matches a missing sub-property simply does
//!   not match;
//! - for a [`Target::Child`] whose child is a list, the value under the rule's path is the JSON
//!   array of the child items (use an empty path and an element expectation).

use std::fmt;

use serde_json::Value;

use super::dataset::{ChildOutcome, EvalContext};
use super::props;
use crate::messages::{Evidence, Finding, FindingStatus};

/// What the rule evaluates: which items get a finding, and where the property is read.
#[derive(Debug, Clone, Copy)]
pub enum Target {
    /// Each in-scope item of a collection (a list, or every item of a child collection).
    Items(&'static str),
    /// Each in-scope item of `parent`; the property is read from its `child` (an object, or the
    /// array of its child items). A child that does not exist (404) is missing; a parent the
    /// child collection does not apply to is out of scope.
    Child {
        parent: &'static str,
        child: &'static str,
    },
}

impl Target {
    /// The collections the rule reads.
    pub fn reads(&self) -> Vec<&'static str> {
        match *self {
            Target::Items(key) => vec![key],
            Target::Child { parent, child } => vec![parent, child],
        }
    }

    /// The collection whose items the rule's path is read from.
    pub fn value_collection(&self) -> &'static str {
        match *self {
            Target::Items(key) => key,
            Target::Child { child, .. } => child,
        }
    }
}

/// What the value must be.
#[derive(Debug, Clone, Copy)]
pub enum Expect {
    /// JSON `true`.
    True,
    /// JSON `false`.
    False,
    /// A string equal to this one.
    Equals(&'static str),
    /// A string equal to one of these.
    OneOf(&'static [&'static str]),
    /// A string (or other value) that is none of these.
    NotOneOf(&'static [&'static str]),
    /// An integer in `min..=max`.
    IntRange(i64, i64),
    /// An integer of at least this.
    AtLeast(i64),
    /// A non-empty string, array or object (or any number or boolean).
    NonEmpty,
    /// An array with at least one element whose `path` (empty: the element itself) matches.
    AnyElement {
        path: &'static str,
        expect: &'static Expect,
    },
    /// An array whose every element matches at `path` (an empty array passes).
    EveryElement {
        path: &'static str,
        expect: &'static Expect,
    },
    /// An array none of whose elements matches at `path` (an empty array passes).
    NoElement {
        path: &'static str,
        expect: &'static Expect,
    },
    /// Every `(path, expectation)` holds on the value (an object).
    AllOf(&'static [(&'static str, Expect)]),
    /// At least one `(path, expectation)` holds on the value (an object).
    AnyOf(&'static [(&'static str, Expect)]),
}

impl Expect {
    /// Whether `value` (present, not null) meets the expectation.
    pub fn matches(&self, value: &Value) -> bool {
        match *self {
            Expect::True => value.as_bool() == Some(true),
            Expect::False => value.as_bool() == Some(false),
            Expect::Equals(wanted) => str_eq(value, wanted),
            Expect::OneOf(allowed) => allowed.iter().any(|a| str_eq(value, a)),
            Expect::NotOneOf(denied) => !denied.iter().any(|d| str_eq(value, d)),
            Expect::IntRange(min, max) => as_int(value).is_some_and(|n| (min..=max).contains(&n)),
            Expect::AtLeast(min) => as_int(value).is_some_and(|n| n >= min),
            Expect::NonEmpty => match value {
                Value::Null => false,
                Value::String(s) => !s.trim().is_empty(),
                Value::Array(a) => !a.is_empty(),
                Value::Object(o) => !o.is_empty(),
                Value::Bool(_) | Value::Number(_) => true,
            },
            Expect::AnyElement { path, expect } => {
                elements(value).is_some_and(|mut e| e.any(|v| sub_matches(v, path, expect)))
            }
            Expect::EveryElement { path, expect } => {
                elements(value).is_some_and(|mut e| e.all(|v| sub_matches(v, path, expect)))
            }
            Expect::NoElement { path, expect } => {
                elements(value).is_some_and(|mut e| !e.any(|v| sub_matches(v, path, expect)))
            }
            Expect::AllOf(parts) => parts.iter().all(|(p, e)| sub_matches(value, p, e)),
            Expect::AnyOf(parts) => parts.iter().any(|(p, e)| sub_matches(value, p, e)),
        }
    }
}

impl fmt::Display for Expect {
    /// The expectation in the words shown as a finding's `expected`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = |path: &str| {
            if path.is_empty() {
                String::new()
            } else {
                format!(" {path}")
            }
        };
        match self {
            Expect::True => f.write_str("true"),
            Expect::False => f.write_str("false"),
            Expect::Equals(v) => f.write_str(v),
            Expect::OneOf(vs) => f.write_str(&vs.join(" or ")),
            Expect::NotOneOf(vs) => write!(f, "not {}", vs.join(" or ")),
            Expect::IntRange(min, max) => write!(f, "{min} to {max}"),
            Expect::AtLeast(min) => write!(f, "at least {min}"),
            Expect::NonEmpty => f.write_str("set (not empty)"),
            Expect::AnyElement { path, expect } => {
                write!(f, "an element whose{} is {expect}", at(path))
            }
            Expect::EveryElement { path, expect } => {
                write!(f, "every element's{} is {expect}", at(path))
            }
            Expect::NoElement { path, expect } => {
                write!(f, "no element whose{} is {expect}", at(path))
            }
            Expect::AllOf(parts) => f.write_str(&conditions(parts, " and ")),
            Expect::AnyOf(parts) => f.write_str(&conditions(parts, " or ")),
        }
    }
}

fn conditions(parts: &[(&str, Expect)], joiner: &str) -> String {
    parts
        .iter()
        .map(|(p, e)| format!("{p} is {e}"))
        .collect::<Vec<_>>()
        .join(joiner)
}

/// What an absent (or `null`) property means for a rule. Each check's doc comment says why,
/// quoting the property's description in the resource provider's spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// Unknown or insecure by default: the resource fails and the evidence shows `null`.
    Fails,
    /// The documented default is the secure value.
    Passes,
    /// The setting does not exist for this resource: no verdict (not applicable).
    NotApplicable,
}

/// An example value of the rule's property, for the generic examples test.
#[derive(Debug, Clone, Copy)]
pub enum Example {
    Bool(bool),
    Str(&'static str),
    Int(i64),
    /// Any JSON, as text (arrays, objects).
    Json(&'static str),
    /// The property is absent.
    Absent,
}

impl Example {
    /// The example as JSON (`None` when absent).
    pub fn to_value(self) -> Option<Value> {
        match self {
            Example::Bool(b) => Some(Value::Bool(b)),
            Example::Str(s) => Some(Value::String(s.to_string())),
            Example::Int(n) => Some(Value::from(n)),
            // A malformed example is a catalogue bug, caught by the examples test.
            Example::Json(text) => Some(serde_json::from_str(text).unwrap_or(Value::Null)),
            Example::Absent => None,
        }
    }
}

/// An optional filter: only items whose `path` meets `expect` are evaluated (e.g. only `kind`
/// OpenAI). A missing property does not meet it.
#[derive(Debug, Clone, Copy)]
pub struct When {
    pub path: &'static str,
    pub expect: Expect,
}

/// A declarative check: see the module doc.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub target: Target,
    /// Dotted property path in the item (or child); empty means the item itself.
    pub path: &'static str,
    pub expect: Expect,
    pub missing: Missing,
    /// Only items (parents, for a child target) meeting this are evaluated.
    pub when: Option<When>,
    /// Finding message of a passing resource.
    pub pass: &'static str,
    /// Finding message of a failing resource; the observed value is appended.
    pub fail: &'static str,
    /// Values of the property that pass, and that fail; both lists must be non-empty.
    pub pass_examples: &'static [Example],
    pub fail_examples: &'static [Example],
}

impl Rule {
    /// One finding per in-scope item.
    pub fn evaluate(&self, ctx: &EvalContext<'_>) -> Vec<Finding> {
        match self.target {
            Target::Items(key) => ctx
                .all_items(key)
                .into_iter()
                .filter(|item| self.applies(item))
                .map(|item| self.verdict(item, item, None))
                .collect(),
            Target::Child { parent, child } => ctx
                .all_items(parent)
                .into_iter()
                .filter(|item| self.applies(item))
                .filter_map(|item| match ctx.child(child, props::resource_id(item))? {
                    ChildOutcome::Object(object) => Some(self.verdict(item, object, Some(child))),
                    ChildOutcome::Items(items) => {
                        let list = Value::Array(items.clone());
                        Some(self.verdict(item, &list, Some(child)))
                    }
                    ChildOutcome::Absent => Some(self.verdict(item, &Value::Null, Some(child))),
                    ChildOutcome::Failed(err) => Some(props::unreadable(item, child, err)),
                })
                .collect(),
        }
    }

    fn applies(&self, item: &Value) -> bool {
        self.when.is_none_or(|w| {
            lookup(item, w.path)
                .filter(|v| !v.is_null())
                .is_some_and(|v| w.expect.matches(v))
        })
    }

    /// The verdict on `resource` from the property read in `source` (the resource itself, or
    /// its child named `child`).
    pub fn verdict(&self, resource: &Value, source: &Value, child: Option<&str>) -> Finding {
        let value = lookup(source, self.path).filter(|v| !v.is_null());
        let property = match child {
            Some(child) if self.path.is_empty() => child.to_string(),
            Some(child) => format!("{child}: {}", self.path),
            None => self.path.to_string(),
        };
        let evidence = vec![Evidence {
            property: property.clone(),
            value: value.cloned().unwrap_or(Value::Null),
            expected: self.expect.to_string(),
        }];
        let passes = match value {
            Some(v) => self.expect.matches(v),
            None => match self.missing {
                Missing::Fails => false,
                Missing::Passes => true,
                Missing::NotApplicable => {
                    return props::finding(
                        resource,
                        FindingStatus::NotApplicable,
                        evidence,
                        format!("{property} is not set: the setting does not apply"),
                    );
                }
            },
        };
        let shown = value.map_or_else(|| "not set".to_string(), Value::to_string);
        props::verdict(
            resource,
            passes,
            evidence,
            self.pass,
            format!("{} ({property} is {shown})", self.fail),
        )
    }
}

/// The value at a dotted path; the empty path is the value itself.
fn lookup<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    if path.is_empty() {
        Some(value)
    } else {
        props::prop(value, path)
    }
}

fn sub_matches(value: &Value, path: &str, expect: &Expect) -> bool {
    lookup(value, path)
        .filter(|v| !v.is_null())
        .is_some_and(|v| expect.matches(v))
}

fn elements(value: &Value) -> Option<impl Iterator<Item = &Value>> {
    value.as_array().map(|a| a.iter())
}

fn str_eq(value: &Value, wanted: &str) -> bool {
    value
        .as_str()
        .is_some_and(|s| s.eq_ignore_ascii_case(wanted))
}

fn as_int(value: &Value) -> Option<i64> {
    value
        .as_i64()
        .or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn expectations_follow_the_fixed_semantics() {
        assert!(Expect::Equals("Disabled").matches(&json!("disabled")));
        assert!(Expect::OneOf(&["1.2", "1.3"]).matches(&json!("1.3")));
        assert!(!Expect::NotOneOf(&["Basic"]).matches(&json!("basic")));
        assert!(Expect::IntRange(1, 90).matches(&json!("90")));
        assert!(!Expect::IntRange(1, 90).matches(&json!(0)));
        assert!(Expect::AtLeast(90).matches(&json!(365)));
        assert!(!Expect::NonEmpty.matches(&json!("  ")));
        assert!(!Expect::True.matches(&json!("true")), "booleans are strict");
        const APPROVED: Expect = Expect::Equals("Approved");
        let list = json!([{"s": {"status": "Pending"}}, {"s": {"status": "approved"}}]);
        assert!(
            Expect::AnyElement {
                path: "s.status",
                expect: &APPROVED
            }
            .matches(&list)
        );
        assert!(
            !Expect::EveryElement {
                path: "s.status",
                expect: &APPROVED
            }
            .matches(&list)
        );
        assert!(
            Expect::NoElement {
                path: "s.status",
                expect: &APPROVED
            }
            .matches(&json!([]))
        );
        let both = Expect::AllOf(&[("a", Expect::True), ("b", Expect::Equals("x"))]);
        assert!(both.matches(&json!({"a": true, "b": "X"})));
        assert!(!both.matches(&json!({"a": true})), "missing sub-property");
        let either = Expect::AnyOf(&[("a", Expect::True), ("b", Expect::Equals("x"))]);
        assert!(either.matches(&json!({"b": "x"})));
        assert_eq!(either.to_string(), "a is true or b is x");
    }
}
