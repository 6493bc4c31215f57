//! A service too big for one job, as part jobs (see `shared::checks::parts` for which services
//! and why, and `shared::fragments` for how their results come back together).
//!
//! The coordinating job cuts the split list's items into slices of at most the planned number
//! of items and about the message bound in bytes, and publishes one signed part job per slice:
//! part jobs carry Azure data, so a worker runs only those signed with the fleet's keys (anyone
//! with broker access could otherwise feed a scan made-up resources).
//!
//! The list a service is usually split on is cut while it is read ([`stream`]); cutting a list
//! already read ([`part_jobs`]) is for a job whose biggest list turned out to be another one.

pub mod stream;

use serde_json::Value;
use shared::checks::parts::{self, Split};
use shared::checks::{Check, Dataset, ListOutcome, ServiceDef};
use shared::messages::{CarriedList, JobPart, MAX_GENERATIONS, MAX_PARTS, ScanJob};

/// The part jobs of `job` (parts 1..n of n + 1; the coordinator is part 0), or `None` when the
/// job cannot be split within the bounds (then it runs whole, as before). The split list's items
/// move from `dataset` into the parts (the coordinator evaluates no check that reads them), so
/// the coordinator never holds a subscription's list twice.
pub fn part_jobs(
    job: &ScanJob,
    service: &ServiceDef,
    dataset: &mut Dataset,
    split: &Split,
    bound: usize,
) -> Option<Vec<ScanJob>> {
    let carried = carried(service, split.collection, dataset);
    let budget = slice_budget(&carried, bound)?;
    // Slice lengths first (by reference): the list moves only once the split is certain.
    let mut lengths: Vec<usize> = Vec::new();
    let (mut current, mut used) = (0usize, 0usize);
    for item in dataset.items(split.collection) {
        let len = stream::json_len(item);
        if len > budget {
            tracing::info!(len, "not split: one item is over the message bound");
            return None;
        }
        if current > 0 && (current >= split.slice || used + len > budget) {
            lengths.push(current);
            (current, used) = (0, 0);
        }
        used += len;
        current += 1;
    }
    if current > 0 {
        lengths.push(current);
    }
    let of = u32::try_from(lengths.len() + 1)
        .ok()
        .filter(|n| *n <= MAX_PARTS)?;
    let mut items = dataset.take_items(split.collection).into_iter();
    Some(
        lengths
            .into_iter()
            .enumerate()
            .map(|(i, n)| {
                job.with_part(Some(JobPart {
                    index: u32::try_from(i + 1).unwrap_or(u32::MAX),
                    of,
                    collection: split.collection.to_string(),
                    items: items.by_ref().take(n).collect(),
                    carried: carried.clone(),
                }))
            })
            .collect(),
    )
}

/// The lists outside `split_on`'s subtree that every part carries, from `dataset`.
fn carried(service: &ServiceDef, split_on: &str, dataset: &Dataset) -> Vec<CarriedList> {
    parts::carried_lists(service, split_on)
        .into_iter()
        .map(|key| CarriedList {
            collection: key.to_string(),
            items: dataset.items(key).to_vec(),
        })
        .collect()
}

/// The bytes of the message bound left for a part's slice once `carried` and the envelope are
/// in, or `None` when that is too little (over half the bound carried): then the job is not
/// split.
fn slice_budget(carried: &[CarriedList], bound: usize) -> Option<usize> {
    let carried_bytes: usize = carried
        .iter()
        .flat_map(|c| c.items.iter())
        .map(stream::json_len)
        .sum();
    // Half the bound for the slice at least; envelope room on top.
    let budget = bound.saturating_sub(carried_bytes + 16 * 1024);
    if carried_bytes > bound / 2 || budget < bound / 4 {
        tracing::info!(carried_bytes, "not split: the carried lists are too big");
        return None;
    }
    Some(budget)
}

/// The dataset a part starts from (its slice and the carried lists), after checking that the
/// part is one this build would have made. The slice moves out of `part` (it is the bulk of a
/// part's memory; the part keeps its place and carried lists for a continuation).
pub fn part_dataset(service: &ServiceDef, part: &mut JobPart) -> Result<Dataset, String> {
    if part.of < 2
        || part.of > MAX_PARTS
        || part.index.is_multiple_of(part.of)
        || part.index >= part.of.saturating_mul(MAX_GENERATIONS)
    {
        return Err(format!(
            "part {} of {} is out of range",
            part.index, part.of
        ));
    }
    if !parts::splittable(service, &part.collection) {
        return Err(format!(
            "service {} is not split on {:?}",
            service.id,
            part.collection.chars().take(80).collect::<String>()
        ));
    }
    let allowed = parts::carried_lists(service, &part.collection);
    let mut dataset = Dataset::default();
    for carried in &part.carried {
        let Some(key) = allowed.iter().find(|k| **k == carried.collection) else {
            return Err(format!(
                "a part of {} on {} does not carry {:?}",
                service.id,
                part.collection,
                carried.collection.chars().take(80).collect::<String>()
            ));
        };
        dataset.insert_list(key, ListOutcome::Items(carried.items.clone()));
    }
    if let Some(missing) = allowed
        .iter()
        .find(|k| !part.carried.iter().any(|c| c.collection == **k))
    {
        return Err(format!("the part does not carry {missing}"));
    }
    if part.items.iter().any(|i| !i.is_object()) {
        return Err("the part's items are not resource objects".into());
    }
    let key = parts::subtree(service, &part.collection)
        .into_iter()
        .next()
        .ok_or_else(|| "no such collection".to_string())?;
    dataset.insert_list(key, ListOutcome::Items(std::mem::take(&mut part.items)));
    Ok(dataset)
}

/// The checks a job evaluates: all of them, or for a split job the coordinator's (not depending
/// on the split list) or a part's (depending on it).
pub fn checks_of(
    service: &ServiceDef,
    split_on: Option<&str>,
    is_part: bool,
) -> Vec<&'static Check> {
    match split_on {
        None => service.checks.iter().collect(),
        Some(root) => {
            let dependent = parts::dependent_checks(service, root);
            service
                .checks
                .iter()
                .filter(|c| dependent.iter().any(|d| d.meta.id == c.meta.id) == is_part)
                .collect()
        }
    }
}

/// Whether `job` (a part) may hand items to a continuation: not in the last generation
/// allowed, which must read its whole slice (up to the job's bound, where unread checks end in
/// Error) rather than drop what it had no time for.
pub fn may_continue(job: &ScanJob) -> bool {
    job.part.as_ref().and_then(continuation_index).is_some()
}

/// The index of `part`'s continuation (`index + of`), if within the generations allowed.
fn continuation_index(part: &JobPart) -> Option<u32> {
    let index = part.index.checked_add(part.of)?;
    (index < part.of.saturating_mul(MAX_GENERATIONS)).then_some(index)
}

/// The continuation of `job` (a part) for the items it had no time for.
pub fn continuation(job: &ScanJob, rest: Vec<Value>) -> Option<ScanJob> {
    let part = job.part.as_ref()?;
    let index = continuation_index(part)?;
    Some(job.with_part(Some(JobPart {
        index,
        of: part.of,
        collection: part.collection.clone(),
        items: rest,
        carried: part.carried.clone(),
    })))
}

/// Whether `parent_id` is one of `roots` or below one of them (ARM ids nest).
pub fn under_any(parent_id: &str, roots: &[String]) -> bool {
    let parent = parent_id.to_ascii_lowercase();
    roots.iter().any(|root| {
        parent == *root
            || (parent.starts_with(root.as_str())
                && parent.as_bytes().get(root.len()) == Some(&b'/'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::messages::Trigger;
    use uuid::Uuid;

    fn accounts(n: usize) -> Vec<Value> {
        (0..n)
            .map(|i| serde_json::json!({
                "id": format!("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/a{i:04}"),
                "name": format!("a{i:04}"), "location": "eastus", "kind": "StorageV2",
                "properties": {"minimumTlsVersion": "TLS1_2"}
            }))
            .collect()
    }

    fn storage() -> &'static ServiceDef {
        shared::checks::service("storage").expect("storage")
    }

    #[test]
    fn slices_cover_every_item_once_within_count_and_bytes() {
        let mut dataset = Dataset::default();
        dataset.insert_list("storage.accounts", ListOutcome::Items(accounts(1000)));
        let job = ScanJob::new(
            Uuid::new_v4(),
            "acme",
            Uuid::new_v4(),
            "storage",
            Trigger::Scheduled,
        );
        let split = Split {
            collection: "storage.accounts",
            slice: 150,
        };
        let bound = 64 * 1024;
        let jobs = part_jobs(&job, storage(), &mut dataset, &split, bound).expect("split");
        assert!(
            dataset.items("storage.accounts").is_empty(),
            "the items moved into the parts"
        );
        let mut seen = Vec::new();
        for (i, part_job) in jobs.iter().enumerate() {
            let part = part_job.part.as_ref().expect("part");
            assert_eq!(part.index as usize, i + 1);
            assert_eq!(part.of as usize, jobs.len() + 1);
            assert!(part.items.len() <= 150);
            let bytes = serde_json::to_vec(part_job).expect("json").len();
            assert!(bytes <= bound, "part job of {bytes} bytes");
            assert_eq!(part_job.job_id, job.job_id);
            seen.extend(part.items.iter().map(|i| i["name"].clone()));
        }
        assert_eq!(seen.len(), 1000);
        seen.dedup();
        assert_eq!(seen.len(), 1000);
    }

    #[test]
    fn a_part_is_checked_before_it_runs() {
        let good = JobPart {
            index: 1,
            of: 3,
            collection: "storage.accounts".into(),
            items: accounts(2),
            carried: Vec::new(),
        };
        let dataset = part_dataset(storage(), &mut good.clone()).expect("valid");
        let mut continuation = JobPart {
            index: 4,
            ..good.clone()
        };
        assert!(
            part_dataset(storage(), &mut continuation).is_ok(),
            "part 1 continued as 1 + 3"
        );
        assert_eq!(dataset.items("storage.accounts").len(), 2);
        let cases = [
            JobPart {
                index: 0,
                ..good.clone()
            },
            JobPart {
                index: 3,
                ..good.clone()
            },
            JobPart {
                collection: "storage.file_services".into(),
                ..good.clone()
            },
            JobPart {
                carried: vec![CarriedList {
                    collection: "vm.machines".into(),
                    items: vec![],
                }],
                ..good.clone()
            },
            JobPart {
                items: vec![Value::from(1)],
                ..good.clone()
            },
        ];
        for mut bad in cases {
            assert!(part_dataset(storage(), &mut bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_last_generation_does_not_continue() {
        let job = |index: u32| ScanJob {
            part: Some(JobPart {
                index,
                of: 3,
                collection: "storage.accounts".into(),
                items: accounts(2),
                carried: Vec::new(),
            }),
            ..ScanJob::new(
                uuid::Uuid::new_v4(),
                "org",
                uuid::Uuid::new_v4(),
                "storage",
                Trigger::OnDemand,
            )
        };
        let last = 3 * (MAX_GENERATIONS - 1) + 1;
        assert!(may_continue(&job(1)));
        assert!(may_continue(&job(last - 3)));
        assert_eq!(
            continuation(&job(last - 3), accounts(1))
                .and_then(|j| j.part)
                .map(|p| p.index),
            Some(last)
        );
        assert!(!may_continue(&job(last)), "part {last} is the last allowed");
        assert!(continuation(&job(last), accounts(1)).is_none());
    }

    #[test]
    fn coordinator_and_parts_share_the_checks_out() {
        let all = checks_of(storage(), None, false).len();
        let coordinator = checks_of(storage(), Some("storage.accounts"), false).len();
        let part = checks_of(storage(), Some("storage.accounts"), true).len();
        assert_eq!(coordinator + part, all);
        assert!(part > 0);
    }
}
