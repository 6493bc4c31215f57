//! The data a job collected for one service, and the view checks evaluate over.
//!
//! The worker's collector fills a [`Dataset`] (region filtering already applied: only in-scope
//! items are kept); checks only read it. Failures are data too: a list that Azure refused is kept
//! as a [`FetchError`], so the check framework can turn it into "Failed - Access Denied",
//! "Not applicable" or "Error" without the checks knowing about HTTP.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

/// Evidence property under which an access-denied finding names the missing action.
pub const DENIED_ACTION_PROPERTY: &str = "permission";

/// Why some data could not be collected, already classified for results.
#[derive(Debug, Clone, PartialEq)]
pub enum FetchError {
    /// 403: the principal lacks `action` on the scope.
    AccessDenied { action: String, message: String },
    /// Nothing of that kind can exist (provider not registered, resource gone, ...).
    NotApplicable { reason: String },
    /// Anything else, after retries.
    Error { message: String },
}

impl FetchError {
    /// Short machine name of the class, as in collection usage records.
    pub fn class(&self) -> &'static str {
        match self {
            FetchError::AccessDenied { .. } => "access_denied",
            FetchError::NotApplicable { .. } => "not_applicable",
            FetchError::Error { .. } => "error",
        }
    }

    /// The reason shown with the check result.
    pub fn reason(&self) -> String {
        match self {
            FetchError::AccessDenied { action, .. } => {
                format!("Access Denied: the service principal lacks '{action}'")
            }
            FetchError::NotApplicable { reason } => reason.clone(),
            FetchError::Error { message } => message.clone(),
        }
    }
}

/// Outcome of fetching a subscription-level list.
#[derive(Debug, Clone)]
pub enum ListOutcome {
    Items(Vec<Value>),
    Failed(FetchError),
}

/// Outcome of fetching one parent's child (object or list).
#[derive(Debug, Clone)]
pub enum ChildOutcome {
    /// A `ChildGet` answered with this object.
    Object(Value),
    /// A `ChildList` answered with these items.
    Items(Vec<Value>),
    /// The child does not exist for this parent (404, or the collection does not apply to it).
    Absent,
    Failed(FetchError),
}

/// Everything collected for one job.
#[derive(Debug, Default, Clone)]
pub struct Dataset {
    lists: HashMap<String, ListOutcome>,
    /// collection key -> lower-cased parent id -> outcome
    children: HashMap<String, HashMap<String, ChildOutcome>>,
    /// Collections that could not be fetched at all (a list, or a child whose parent failed).
    failed: HashMap<String, FetchError>,
}

impl Dataset {
    pub fn insert_list(&mut self, key: &str, outcome: ListOutcome) {
        if let ListOutcome::Failed(err) = &outcome {
            self.failed.insert(key.to_string(), err.clone());
        }
        self.lists.insert(key.to_string(), outcome);
    }

    pub fn insert_child(&mut self, key: &str, parent_id: &str, outcome: ChildOutcome) {
        self.children
            .entry(key.to_string())
            .or_default()
            .insert(parent_id.to_ascii_lowercase(), outcome);
    }

    /// Marks a whole collection as failed (e.g. a child collection whose parent list failed).
    pub fn insert_failure(&mut self, key: &str, err: FetchError) {
        self.failed.insert(key.to_string(), err);
    }

    pub fn failure(&self, key: &str) -> Option<&FetchError> {
        self.failed.get(key)
    }

    /// Takes a list's items out (the list is left empty): a job that hands a list to part
    /// jobs moves it rather than holding it twice.
    pub fn take_items(&mut self, key: &str) -> Vec<Value> {
        match self.lists.get_mut(key) {
            Some(ListOutcome::Items(items)) => std::mem::take(items),
            _ => Vec::new(),
        }
    }

    pub fn items(&self, key: &str) -> &[Value] {
        match self.lists.get(key) {
            Some(ListOutcome::Items(items)) => items,
            _ => &[],
        }
    }

    /// Every item of a collection: a list's items, or the items of every parent's child list
    /// and every parent's child object (so a child collection can be the parent of another:
    /// servers -> databases -> transparent data encryption).
    pub fn all_items(&self, key: &str) -> Vec<&Value> {
        if let Some(outcome) = self.lists.get(key) {
            return match outcome {
                ListOutcome::Items(items) => items.iter().collect(),
                ListOutcome::Failed(_) => Vec::new(),
            };
        }
        let Some(children) = self.children.get(key) else {
            return Vec::new();
        };
        let mut parents: Vec<&String> = children.keys().collect();
        // Deterministic order whatever order the children arrived in.
        parents.sort();
        parents
            .into_iter()
            .flat_map(|parent| match &children[parent] {
                ChildOutcome::Items(items) => items.iter().collect::<Vec<_>>(),
                ChildOutcome::Object(object) => vec![object],
                ChildOutcome::Absent | ChildOutcome::Failed(_) => Vec::new(),
            })
            .collect()
    }

    pub fn child(&self, key: &str, parent_id: &str) -> Option<&ChildOutcome> {
        self.children
            .get(key)
            .and_then(|m| m.get(&parent_id.to_ascii_lowercase()))
    }
}

/// What a check's `evaluate` sees.
#[derive(Debug, Clone, Copy)]
pub struct EvalContext<'a> {
    pub dataset: &'a Dataset,
    /// Evaluation time, for age-based checks (key rotation). Fixed per job, injectable in tests.
    pub now: DateTime<Utc>,
    pub subscription_id: &'a str,
}

impl<'a> EvalContext<'a> {
    pub fn new(dataset: &'a Dataset, now: DateTime<Utc>, subscription_id: &'a str) -> Self {
        Self {
            dataset,
            now,
            subscription_id,
        }
    }

    /// The in-scope items of a list collection.
    pub fn items(&self, key: &str) -> &'a [Value] {
        self.dataset.items(key)
    }

    /// Every item of a list or child collection (see [`Dataset::all_items`]).
    pub fn all_items(&self, key: &str) -> Vec<&'a Value> {
        self.dataset.all_items(key)
    }

    /// The items of a list or child collection by normalized ARM id, for joins between
    /// collections (NIC -> VM, subnet -> NSG, gateway -> WAF policy).
    pub fn index_by_id(&self, key: &str) -> HashMap<String, &'a Value> {
        self.dataset
            .all_items(key)
            .into_iter()
            .map(|item| {
                (
                    super::props::normalize_id(super::props::resource_id(item)),
                    item,
                )
            })
            .collect()
    }

    /// The item of `key` that `id` (a reference read from another resource) names.
    pub fn lookup(&self, key: &str, id: &str) -> Option<&'a Value> {
        let wanted = super::props::normalize_id(id);
        self.dataset
            .all_items(key)
            .into_iter()
            .find(|item| super::props::normalize_id(super::props::resource_id(item)) == wanted)
    }

    /// A parent's child outcome; `None` when it was never fetched.
    pub fn child(&self, key: &str, parent_id: &str) -> Option<&'a ChildOutcome> {
        self.dataset.child(key, parent_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn grandchildren_and_joins_read_across_collections() {
        let server = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Sql/servers/sql1";
        let db = format!("{server}/databases/app");
        let mut ds = Dataset::default();
        ds.insert_list("x.servers", ListOutcome::Items(vec![json!({"id": server})]));
        ds.insert_child(
            "x.databases",
            server,
            ChildOutcome::Items(vec![json!({"id": db, "name": "app"})]),
        );
        ds.insert_child(
            "x.tde",
            &db,
            ChildOutcome::Object(json!({"properties": {"state": "Enabled"}})),
        );
        let ctx = EvalContext::new(&ds, Utc::now(), "s");
        assert_eq!(ctx.all_items("x.databases").len(), 1);
        assert_eq!(ctx.all_items("x.tde").len(), 1);
        let upper = db.to_uppercase() + "/";
        assert_eq!(
            ctx.lookup("x.databases", &upper).map(|d| &d["name"]),
            Some(&json!("app"))
        );
        assert!(
            ctx.index_by_id("x.servers")
                .contains_key(&server.to_ascii_lowercase())
        );
        assert!(ctx.all_items("x.unknown").is_empty());
    }
}
