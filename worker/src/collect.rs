//! Collecting a service's ARM data: each collection fetched once, shared by all of the service's
//! checks (DESIGN.md contract 5).
//!
//! Subscription-level lists are fetched first, all at once; then child collections, for the
//! in-scope parents only (region filtering happens before children are fetched, which saves
//! calls), with bounded parallelism. Every failure is kept in the dataset as data, classified,
//! so one refused collection only affects the checks that read it.

use std::sync::atomic::Ordering;
use std::time::Instant;

use futures_util::{StreamExt, future::join_all, stream};
use serde_json::Value;
use shared::azure::graph::{self, GraphSession};
use shared::azure::{ArmError, ArmSession, ArmStats, ErrorClass};
use shared::checks::region::RegionFilter;
use shared::checks::{
    ChildOutcome, Collection, Dataset, FetchError, ListOutcome, ServiceDef, Source, props,
};
use shared::messages::CollectionUsage;

/// A job's collected data and what it cost.
#[derive(Debug, Default)]
pub struct Collected {
    pub dataset: Dataset,
    pub usage: Vec<CollectionUsage>,
    pub requests: u64,
    pub throttled: u64,
    pub retries: u64,
    pub limiter_wait_ms: u64,
}

impl Collected {
    /// A collection's usage record, its calls (from `stats`, the counters of the session that
    /// fetched it) counted in the job's totals.
    fn record(
        &mut self,
        collection: &Collection,
        stats: &ArmStats,
        items: u64,
        started: Instant,
        outcome: &str,
    ) {
        let requests = stats.requests.load(Ordering::Relaxed);
        self.requests += requests;
        self.throttled += stats.throttled.load(Ordering::Relaxed);
        self.retries += stats.retries.load(Ordering::Relaxed);
        self.limiter_wait_ms += stats.limiter_wait_ms.load(Ordering::Relaxed);
        self.usage.push(CollectionUsage {
            collection: collection.key.to_string(),
            requests,
            items,
            duration_ms: started.elapsed().as_millis() as u64,
            outcome: outcome.to_string(),
        });
    }
}

/// The collections a service's checks read, parents included, in catalogue order.
pub fn needed_collections(service: &ServiceDef) -> Vec<&'static Collection> {
    let mut keys: Vec<&str> = service.checks.iter().flat_map(|c| c.reads()).collect();
    // Ancestors too: a grandchild needs its parent, which needs its own parent.
    let mut i = 0;
    while i < keys.len() {
        if let Some(parent) = service.collection(keys[i]).and_then(|c| c.source.parent())
            && !keys.contains(&parent)
        {
            keys.push(parent);
        }
        i += 1;
    }
    service
        .collections
        .iter()
        .filter(|c| keys.contains(&c.key))
        .collect()
}

/// Fetches everything `service` needs from `subscription_id`.
pub async fn collect(
    session: &ArmSession,
    service: &ServiceDef,
    subscription_id: &str,
    regions: &RegionFilter,
    child_concurrency: usize,
) -> Collected {
    let needed = needed_collections(service);
    let mut collected = collect_roots(session, &needed, subscription_id, regions).await;
    collect_children(
        session,
        service,
        &needed,
        &mut collected,
        child_concurrency,
        |_| true,
        |_| true,
    )
    .await;
    collected
}

/// The subscription lists and Graph collections among `needed`, all at once.
pub async fn collect_roots(
    session: &ArmSession,
    needed: &[&'static Collection],
    subscription_id: &str,
    regions: &RegionFilter,
) -> Collected {
    let mut collected = Collected::default();

    let lists = needed.iter().filter_map(|c| match c.source {
        Source::SubscriptionList {
            provider_path,
            api_version,
            filter,
        } => Some((*c, provider_path, api_version, filter)),
        _ => None,
    });
    let fetched = join_all(lists.map(
        |(collection, provider_path, api_version, filter)| async move {
            let fork = session.fork();
            let started = Instant::now();
            let url = list_url(&fork, subscription_id, provider_path, api_version, filter);
            let outcome = fork.list(&url).await;
            (collection, fork, started, outcome)
        },
    ))
    .await;
    for (collection, fork, started, outcome) in fetched {
        match outcome {
            Ok(items) => {
                let in_scope: Vec<Value> = if collection.regional {
                    items
                        .into_iter()
                        .filter(|i| regions.includes_resource(i))
                        .collect()
                } else {
                    items
                };
                collected.record(
                    collection,
                    fork.stats(),
                    in_scope.len() as u64,
                    started,
                    "ok",
                );
                collected
                    .dataset
                    .insert_list(collection.key, ListOutcome::Items(in_scope));
            }
            Err(err) => {
                tracing::info!(collection = collection.key, error = %err, "collection failed");
                let fetch_error = err.to_fetch_error(collection.permission);
                collected.record(collection, fork.stats(), 0, started, fetch_error.class());
                collected
                    .dataset
                    .insert_list(collection.key, ListOutcome::Failed(fetch_error));
            }
        }
    }

    collect_graph(session, needed, &mut collected).await;
    collected
}

/// The URL of a subscription list.
fn list_url(
    session: &ArmSession,
    subscription_id: &str,
    provider_path: &str,
    api_version: &str,
    filter: Option<&str>,
) -> String {
    let mut path = format!("/subscriptions/{subscription_id}/providers/{provider_path}");
    if let Some(filter) = filter {
        // `$filter` as the Azure SDKs send it: the name as is, the value percent-encoded
        // (spaces as %20, quotes as %27).
        path.push_str("?$filter=");
        path.push_str(&percent_encode(filter));
    }
    session.url(&path, api_version)
}

/// Where [`stream_list`] hands a list's pages.
pub trait PageSink {
    type Error;
    /// One page's in-scope items; an error stops the reading.
    fn page(
        &mut self,
        items: Vec<Value>,
    ) -> impl std::future::Future<Output = Result<(), Self::Error>> + Send;
}

/// Reads `collection` (a subscription list) page by page into `sink`, never holding more than
/// a page, and records what it cost in `collected`. `Ok(Err(_))` is the list's own failure
/// (after the pages before it went to the sink); `Err(_)` is the sink's.
pub async fn stream_list<S: PageSink>(
    session: &ArmSession,
    collection: &'static Collection,
    subscription_id: &str,
    regions: &RegionFilter,
    collected: &mut Collected,
    sink: &mut S,
) -> Result<Result<(), FetchError>, S::Error> {
    let Source::SubscriptionList {
        provider_path,
        api_version,
        filter,
    } = collection.source
    else {
        return Ok(Err(FetchError::Error {
            message: format!("{} is not a subscription list", collection.key),
        }));
    };
    let fork = session.fork();
    let started = Instant::now();
    let url = list_url(&fork, subscription_id, provider_path, api_version, filter);
    let mut pages = fork.pages(&url);
    let mut items = 0u64;
    loop {
        match pages.next().await {
            Ok(Some(page)) => {
                let in_scope: Vec<Value> = if collection.regional {
                    page.into_iter()
                        .filter(|i| regions.includes_resource(i))
                        .collect()
                } else {
                    page
                };
                items += in_scope.len() as u64;
                if let Err(e) = sink.page(in_scope).await {
                    collected.record(collection, fork.stats(), items, started, "stopped");
                    return Err(e);
                }
            }
            Ok(None) => {
                collected.record(collection, fork.stats(), items, started, "ok");
                return Ok(Ok(()));
            }
            Err(err) => {
                tracing::info!(collection = collection.key, error = %err, "collection failed");
                let fetch_error = err.to_fetch_error(collection.permission);
                collected.record(
                    collection,
                    fork.stats(),
                    items,
                    started,
                    fetch_error.class(),
                );
                return Ok(Err(fetch_error));
            }
        }
    }
}

/// The child collections among `needed` that `wanted` selects, for the parents already in
/// `collected` that `parent_wanted` selects (by ARM id), with at most `child_concurrency` reads
/// at once.
pub async fn collect_children(
    session: &ArmSession,
    service: &ServiceDef,
    needed: &[&'static Collection],
    collected: &mut Collected,
    child_concurrency: usize,
    wanted: impl Fn(&str) -> bool,
    parent_wanted: impl Fn(&str) -> bool,
) {
    // Children after their parents: a grandchild's parents are a child collection's items.
    let mut children: Vec<&Collection> = needed
        .iter()
        .copied()
        .filter(|c| c.source.parent().is_some() && wanted(c.key))
        .collect();
    children.sort_by_key(|c| depth(service, c));
    for collection in children {
        let (parent, suffix, api_version, is_list) = match collection.source {
            Source::ChildGet {
                parent,
                suffix,
                api_version,
            } => (parent, suffix, api_version, false),
            Source::ChildList {
                parent,
                suffix,
                api_version,
            } => (parent, suffix, api_version, true),
            _ => continue,
        };
        if let Some(err) = collected.dataset.failure(parent).cloned() {
            collected.dataset.insert_failure(collection.key, err);
            continue;
        }
        let fork = session.fork();
        let started = Instant::now();
        let parents: Vec<&Value> = collected
            .dataset
            .all_items(parent)
            .into_iter()
            .filter(|p| collection.applies_to.is_none_or(|applies| applies(p)))
            .filter(|p| parent_wanted(props::resource_id(p)))
            .collect();
        let requests: Vec<(String, String, ArmSession)> = parents
            .iter()
            .map(|p| {
                let parent_id = props::resource_id(p).to_string();
                let url = fork.url(&format!("{parent_id}{suffix}"), api_version);
                (parent_id, url, fork.clone())
            })
            .collect();
        let outcomes: Vec<(String, ChildOutcome)> = stream::iter(requests.into_iter().map(
            |(parent_id, url, fork)| async move {
                let outcome = if is_list {
                    fork.list(&url).await.map(ChildOutcome::Items)
                } else {
                    fork.get(&url).await.map(ChildOutcome::Object)
                };
                (parent_id, child_outcome(outcome, collection.permission))
            },
        ))
        .buffer_unordered(child_concurrency.max(1))
        .collect()
        .await;
        let items = outcomes.len() as u64;
        for (parent_id, outcome) in outcomes {
            collected
                .dataset
                .insert_child(collection.key, &parent_id, outcome);
        }
        collected.record(collection, fork.stats(), items, started, "ok");
    }
}

/// Microsoft Graph collections, tenant-wide, all at once: one object (`GraphGet`, kept as a
/// one-item list) or every page of a collection (`GraphList`). A cloud without Graph fails them
/// with a reason that says so; a 403 names the collection's application permission.
async fn collect_graph(
    session: &ArmSession,
    needed: &[&'static Collection],
    collected: &mut Collected,
) {
    let wanted: Vec<&Collection> = needed
        .iter()
        .copied()
        .filter(|c| c.source.is_graph())
        .collect();
    if wanted.is_empty() {
        return;
    }
    let graph = match GraphSession::for_arm(session) {
        Ok(graph) => graph,
        Err(e) => {
            let error = FetchError::Error {
                message: format!(
                    "Microsoft Graph cannot be read for this connection: {}",
                    e.message
                ),
            };
            for collection in wanted {
                collected.record(
                    collection,
                    &ArmStats::default(),
                    0,
                    Instant::now(),
                    error.class(),
                );
                collected
                    .dataset
                    .insert_list(collection.key, ListOutcome::Failed(error.clone()));
            }
            return;
        }
    };
    let fetched = join_all(wanted.into_iter().map(|collection| {
        let fork = graph.fork();
        async move {
            let started = Instant::now();
            let outcome = match collection.source {
                Source::GraphGet { path } => match fork.url(path) {
                    Ok(url) => fork.get(&url).await.map(|object| vec![object]),
                    Err(e) => Err(e),
                },
                Source::GraphList { path } => match fork.url(path) {
                    Ok(url) => fork.list(&url).await,
                    Err(e) => Err(e),
                },
                _ => Ok(Vec::new()),
            };
            (collection, fork, started, outcome)
        }
    }))
    .await;
    for (collection, fork, started, outcome) in fetched {
        match outcome {
            Ok(items) => {
                collected.record(collection, fork.stats(), items.len() as u64, started, "ok");
                collected
                    .dataset
                    .insert_list(collection.key, ListOutcome::Items(items));
            }
            Err(err) => {
                tracing::info!(collection = collection.key, error = %err, "Graph collection failed");
                let fetch_error = graph::fetch_error(&err, collection.permission);
                collected.record(collection, fork.stats(), 0, started, fetch_error.class());
                collected
                    .dataset
                    .insert_list(collection.key, ListOutcome::Failed(fetch_error));
            }
        }
    }
}

/// Percent-encodes an OData query value: everything but RFC 3986's unreserved characters.
pub fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// How many parents lie above a collection (a subscription list is 0).
fn depth(service: &ServiceDef, collection: &Collection) -> usize {
    let mut depth = 0;
    let mut current = collection.source.parent();
    while let Some(parent) = current {
        depth += 1;
        current = service.collection(parent).and_then(|p| p.source.parent());
        if depth > 8 {
            break;
        }
    }
    depth
}

/// A child that does not exist (404) is absent, not an error.
fn child_outcome(result: Result<ChildOutcome, ArmError>, permission: &str) -> ChildOutcome {
    match result {
        Ok(outcome) => outcome,
        Err(e) if e.class == ErrorClass::NotApplicable && e.status == Some(404) => {
            ChildOutcome::Absent
        }
        Err(e) => ChildOutcome::Failed(e.to_fetch_error(permission)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odata_values_are_percent_encoded() {
        assert_eq!(
            percent_encode("type eq 'CustomRole'"),
            "type%20eq%20%27CustomRole%27"
        );
        assert_eq!(percent_encode("a&b=c+d/é"), "a%26b%3Dc%2Bd%2F%C3%A9");
    }

    #[test]
    fn every_service_needs_its_parents_too() {
        for service in shared::checks::catalogue() {
            let needed: Vec<&str> = needed_collections(service).iter().map(|c| c.key).collect();
            for c in needed_collections(service) {
                if let Some(parent) = c.source.parent() {
                    assert!(needed.contains(&parent), "{} needs {parent}", c.key);
                    assert!(depth(service, c) <= 3, "{}: parent chain too deep", c.key);
                }
            }
        }
    }
}
