//! Which services can be scanned in bounded parts, and how.
//!
//! A job reads a service's subscription lists, then one or more child reads per listed
//! resource. For a subscription with thousands of storage accounts the child reads alone take
//! longer than a job may hold its delivery (the Storage provider allows 800 reads per 5 minutes
//! per region). Such a job is split on the list whose children cost the most: the coordinating
//! job (part 0) publishes part jobs that each carry a bounded slice of that list's items, reads
//! everything else itself, and evaluates the checks that do not depend on the split list; each
//! part reads its slice's children and evaluates the checks that do. The pieces combine at ingest
//! (see [`crate::fragments`]) into one result per check.
//!
//! That is exact only for checks whose findings are per resource of the split list (or of its
//! children): declarative rules and log rules are, and so are the custom checks listed in
//! [`PER_RESOURCE_CUSTOM`] (each service's tests prove it on slices of its fixture). A service whose
//! dependent checks include anything else is not split.

use super::dataset::Dataset;
use super::source::{Collection, Source};
use super::{Check, Logic, ServiceDef};

/// Custom checks whose findings are one per item of the collection they iterate, never a
/// subscription-wide aggregate: safe to evaluate on slices.
pub const PER_RESOURCE_CUSTOM: &[&str] = &["storage.file_shares_hardened", "storage.key_rotation"];

/// How a job is split.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    /// The subscription list whose items are sliced.
    pub collection: &'static str,
    /// Items per part.
    pub slice: usize,
}

/// `root` and every collection below it.
pub fn subtree(service: &ServiceDef, root: &str) -> Vec<&'static str> {
    let mut keys: Vec<&'static str> = service
        .collections
        .iter()
        .filter(|c| c.key == root)
        .map(|c| c.key)
        .collect();
    let mut i = 0;
    while i < keys.len() {
        for c in service.collections {
            if c.source.parent() == Some(keys[i]) && !keys.contains(&c.key) {
                keys.push(c.key);
            }
        }
        i += 1;
    }
    keys
}

/// The checks that read `root` or anything below it: a part evaluates these.
pub fn dependent_checks(service: &ServiceDef, root: &str) -> Vec<&'static Check> {
    let tree = subtree(service, root);
    service
        .checks
        .iter()
        .filter(|c| c.reads().iter().any(|k| tree.contains(k)))
        .collect()
}

/// The lists outside `root`'s subtree that the dependent checks read: a part job carries them.
pub fn carried_lists(service: &ServiceDef, root: &str) -> Vec<&'static str> {
    let tree = subtree(service, root);
    let mut keys: Vec<&'static str> = Vec::new();
    for check in dependent_checks(service, root) {
        for key in check.reads() {
            if !tree.contains(&key) && !keys.contains(&key) {
                keys.push(key);
            }
        }
    }
    keys
}

/// Whether a job of `service` may be split on `root`.
pub fn splittable(service: &ServiceDef, root: &str) -> bool {
    let Some(collection) = service.collection(root) else {
        return false;
    };
    if !matches!(collection.source, Source::SubscriptionList { .. }) {
        return false;
    }
    let per_resource = dependent_checks(service, root)
        .iter()
        .all(|c| match c.logic {
            Logic::Rule(_) | Logic::Logs(_) => true,
            Logic::Custom { .. } => PER_RESOURCE_CUSTOM.contains(&c.meta.id),
        });
    // Carried lists must be top-level lists (the part cannot read a child without its parent).
    let carried_are_lists = carried_lists(service, root).iter().all(|key| {
        service
            .collection(key)
            .is_some_and(|c| c.source.parent().is_none())
    });
    per_resource && carried_are_lists
}

/// How many of `needed`'s child collections hang below `collection`, a subscription list
/// (zero for anything else): the reads a job makes per item of that list.
fn child_reads(
    service: &ServiceDef,
    needed: &[&'static Collection],
    collection: &Collection,
) -> usize {
    if collection.source.parent().is_some() || collection.source.is_graph() {
        return 0;
    }
    subtree(service, collection.key)
        .iter()
        .filter(|k| **k != collection.key && needed.iter().any(|n| n.key == **k))
        .count()
}

impl Split {
    /// The split of a list whose items cost `children` reads each, if `items` of them cost
    /// more than `part_reads`: slices of about `part_reads` reads each.
    pub fn of(
        collection: &'static str,
        items: usize,
        children: usize,
        part_reads: usize,
    ) -> Option<Split> {
        (children > 0 && items.saturating_mul(children) > part_reads).then(|| Split {
            collection,
            slice: (part_reads / children).max(1),
        })
    }
}

/// The list a job hands to part jobs while it reads it, page by page, so that the coordinating
/// job never holds a big subscription's whole list: the splittable subscription list of
/// `needed` with the most child reads per item (the first of equals), with that count.
pub fn stream_candidate(
    service: &ServiceDef,
    needed: &[&'static Collection],
) -> Option<(&'static Collection, usize)> {
    let mut best: Option<(&'static Collection, usize)> = None;
    for collection in needed {
        let children = child_reads(service, needed, collection);
        if children > 0
            && best.is_none_or(|(_, c)| children > c)
            && splittable(service, collection.key)
        {
            best = Some((collection, children));
        }
    }
    best
}

/// The split for a job that listed `dataset`'s subscription lists, if its per-resource reads
/// exceed `part_reads`: on the list with the most child reads, in slices of about `part_reads`
/// reads each.
pub fn plan(
    service: &ServiceDef,
    needed: &[&'static Collection],
    dataset: &Dataset,
    part_reads: usize,
) -> Option<Split> {
    let mut best: Option<(usize, &'static str, usize)> = None;
    for collection in needed {
        let children = child_reads(service, needed, collection);
        if children == 0 || dataset.failure(collection.key).is_some() {
            continue;
        }
        let reads = dataset.items(collection.key).len() * children;
        if best.is_none_or(|(r, _, _)| reads > r) {
            best = Some((reads, collection.key, children));
        }
    }
    let (reads, key, children) = best?;
    if !splittable(service, key) {
        return None;
    }
    Split::of(key, reads / children, children, part_reads)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::{self, ListOutcome};

    #[test]
    fn storage_splits_on_its_accounts_and_carries_nothing() {
        let storage = checks::service("storage").expect("storage");
        assert_eq!(
            subtree(storage, "storage.accounts"),
            vec!["storage.accounts", "storage.file_services"]
        );
        assert!(splittable(storage, "storage.accounts"));
        assert!(carried_lists(storage, "storage.accounts").is_empty());
        assert!(!splittable(storage, "storage.file_services"), "not a list");
        let needed: Vec<&'static Collection> = storage.collections.iter().collect();
        let (candidate, children) = stream_candidate(storage, &needed).expect("candidate");
        assert_eq!((candidate.key, children), ("storage.accounts", 1));
    }

    #[test]
    fn stream_candidates_are_splittable_lists() {
        for service in checks::catalogue() {
            let needed: Vec<&'static Collection> = service.collections.iter().collect();
            if let Some((candidate, _)) = stream_candidate(service, &needed) {
                assert!(splittable(service, candidate.key), "{}", service.id);
                assert!(!subtree(service, candidate.key).is_empty());
            }
        }
        assert_eq!(Split::of("x", 10, 0, 5), None);
        assert_eq!(Split::of("x", 10, 2, 20), None, "20 reads are not over 20");
        assert_eq!(
            Split::of("x", 11, 2, 20),
            Some(Split {
                collection: "x",
                slice: 10
            })
        );
    }

    #[test]
    fn only_big_jobs_are_split() {
        let storage = checks::service("storage").expect("storage");
        let needed: Vec<&'static Collection> = storage.collections.iter().collect();
        let mut dataset = Dataset::default();
        let accounts: Vec<serde_json::Value> = (0..100)
            .map(|i| serde_json::json!({"id": format!("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/a{i}")}))
            .collect();
        dataset.insert_list("storage.accounts", ListOutcome::Items(accounts));
        assert_eq!(plan(storage, &needed, &dataset, 100), None);
        assert_eq!(
            plan(storage, &needed, &dataset, 30),
            Some(Split {
                collection: "storage.accounts",
                slice: 30
            })
        );
    }
}
