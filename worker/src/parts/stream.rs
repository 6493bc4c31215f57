//! A big list split while it is read: the coordinating job hands each full slice of the split
//! list to a part job as soon as the pages holding it are in, so it never holds a subscription's
//! whole list (10,000 storage accounts are tens of MiB as parsed JSON; an ARM page is a hundred
//! or so).
//!
//! The split is decided as the list grows: once its items cost more child reads than one job
//! makes ([`Split::of`]), every full slice goes out as a signed part job numbered against
//! [`MAX_PARTS`] (their count is not known yet), and the coordinator's result says how many parts
//! it used (`Fragment::parts_used`) so that the ingester knows when all are in. A list that ends
//! below that stays whole and the job goes on unsplit (or split in memory on another list, see
//! [`super::part_jobs`]).

use std::collections::VecDeque;
use std::future::Future;

use serde_json::Value;
use shared::broker::{BrokerError, Publisher, routing};
use shared::checks::parts::Split;
use shared::checks::{Dataset, ServiceDef};
use shared::messages::{CarriedList, JobPart, MAX_PARTS, ScanJob};
use shared::signing::SigningKeys;

use crate::collect::PageSink;

/// Where a streamed split's part jobs go.
pub trait PartOut: Sync {
    fn send(&self, part: &ScanJob) -> impl Future<Output = Result<(), BrokerError>> + Send;
}

/// Part jobs published on the job queue of their trigger, signed with the fleet's keys (they
/// carry Azure data) and confirmed one by one.
pub struct PublishedParts<'a> {
    pub publisher: &'a Publisher,
    pub keys: &'a SigningKeys,
}

impl PartOut for PublishedParts<'_> {
    async fn send(&self, part: &ScanJob) -> Result<(), BrokerError> {
        self.publisher
            .publish_signed(routing::job(part.trigger), part, part.job_id, self.keys)
            .await
    }
}

/// Why a streamed split stopped.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// A part job could not be published: the job is returned to the queue.
    #[error("part job not published: {0}")]
    Publish(#[from] BrokerError),
    /// The list needs more parts than a job may have.
    #[error("the list needs more than {MAX_PARTS} parts")]
    TooManyParts,
    /// One item is over a part job's byte bound (no message may grow past it), found after
    /// parts went out.
    #[error("one item of {bytes} bytes is over the part job's bound of {budget} bytes")]
    ItemTooBig { bytes: usize, budget: usize },
}

/// How a streamed list ended.
#[derive(Debug)]
pub enum Streamed {
    /// Never big enough to split: every item, for the job's own dataset.
    Whole(Vec<Value>),
    /// Split: the coordinator and this many parts.
    Split { parts_used: u32 },
}

/// The pure half: cuts items into slices of at most `slice` items and about `budget` bytes,
/// once the items seen cost more than `part_reads` child reads.
#[derive(Debug, Default)]
pub struct Slicer {
    split: Option<Split>,
    collection: &'static str,
    children: usize,
    part_reads: usize,
    budget: usize,
    /// Items not in a slice yet, with their JSON sizes.
    buffer: VecDeque<(Value, usize)>,
    seen: usize,
}

impl Slicer {
    pub fn new(
        collection: &'static str,
        children: usize,
        part_reads: usize,
        budget: usize,
    ) -> Self {
        Self {
            split: None,
            collection,
            children,
            part_reads,
            budget,
            buffer: VecDeque::new(),
            seen: 0,
        }
    }

    /// Takes a page's items; returns the slices now full (none before the split is certain).
    pub fn push(&mut self, items: Vec<Value>) -> Result<Vec<Vec<Value>>, StreamError> {
        self.seen += items.len();
        self.buffer.extend(items.into_iter().map(|item| {
            let len = json_len(&item);
            (item, len)
        }));
        if self.split.is_none() {
            self.split = Split::of(self.collection, self.seen, self.children, self.part_reads);
        }
        self.cut(false)
    }

    /// Whether the list is split (so far).
    pub fn is_split(&self) -> bool {
        self.split.is_some()
    }

    /// Items held, not yet in a slice.
    pub fn held(&self) -> usize {
        self.buffer.len()
    }

    /// The end of the list: the last slices of a split list, or (`Streamed::Whole`) every
    /// item of one that never grew big enough.
    pub fn finish(mut self) -> Result<Result<Vec<Vec<Value>>, Vec<Value>>, StreamError> {
        if self.split.is_some() {
            self.cut(true).map(Ok)
        } else {
            Ok(Err(self.buffer.into_iter().map(|(item, _)| item).collect()))
        }
    }

    fn cut(&mut self, at_end: bool) -> Result<Vec<Vec<Value>>, StreamError> {
        let Some(split) = &self.split else {
            return Ok(Vec::new());
        };
        let mut slices = Vec::new();
        loop {
            let (mut n, mut bytes, mut full) = (0usize, 0usize, false);
            for (_, len) in &self.buffer {
                if n > 0 && (n >= split.slice || bytes + len > self.budget) {
                    full = true;
                    break;
                }
                n += 1;
                bytes += len;
            }
            if !(full || n >= split.slice || (at_end && n > 0)) {
                break;
            }
            if bytes > self.budget {
                return Err(StreamError::ItemTooBig {
                    bytes,
                    budget: self.budget,
                });
            }
            slices.push(self.buffer.drain(..n).map(|(item, _)| item).collect());
        }
        Ok(slices)
    }
}

/// A coordinating job's [`PageSink`] for the split list: slices go out as part jobs as they
/// fill.
pub struct StreamSplit<'a, P: PartOut> {
    slicer: Slicer,
    sender: Sender<'a, P>,
}

/// Makes and sends the part jobs of one streamed split.
struct Sender<'a, P: PartOut> {
    job: &'a ScanJob,
    collection: &'static str,
    carried: Vec<CarriedList>,
    out: &'a P,
    published: u32,
}

impl<P: PartOut> Sender<'_, P> {
    async fn send(&mut self, items: Vec<Value>) -> Result<(), StreamError> {
        let index = self.published + 1;
        if index >= MAX_PARTS {
            return Err(StreamError::TooManyParts);
        }
        let part = self.job.with_part(Some(JobPart {
            index,
            of: MAX_PARTS,
            collection: self.collection.to_string(),
            items,
            carried: self.carried.clone(),
        }));
        self.out.send(&part).await?;
        self.published = index;
        Ok(())
    }
}

impl<'a, P: PartOut> StreamSplit<'a, P> {
    /// The sink for `split_on` of `job`, whose items cost `children` reads each; `None` when
    /// the lists every part would carry (already in `dataset`) leave too little of the message
    /// bound for a slice.
    pub fn new(
        job: &'a ScanJob,
        service: &ServiceDef,
        (split_on, children): (&'static str, usize),
        part_reads: usize,
        bound: usize,
        dataset: &Dataset,
        out: &'a P,
    ) -> Option<Self> {
        let carried = super::carried(service, split_on, dataset);
        let budget = super::slice_budget(&carried, bound)?;
        Some(Self {
            slicer: Slicer::new(split_on, children, part_reads, budget),
            sender: Sender {
                job,
                collection: split_on,
                carried,
                out,
                published: 0,
            },
        })
    }

    /// Whether the list is split (so far).
    pub fn is_split(&self) -> bool {
        self.slicer.is_split()
    }

    /// How many parts this job has so far, the coordinator included.
    pub fn parts_used(&self) -> u32 {
        self.sender.published + 1
    }

    /// The end of the list: its last parts go out, or its items come back if it was never
    /// split. On an error, [`Self::parts_used`] still says how many parts went out.
    pub async fn finish(&mut self) -> Result<Streamed, StreamError> {
        match std::mem::take(&mut self.slicer).finish()? {
            Ok(slices) => {
                for slice in slices {
                    self.sender.send(slice).await?;
                }
                Ok(Streamed::Split {
                    parts_used: self.parts_used(),
                })
            }
            Err(items) => Ok(Streamed::Whole(items)),
        }
    }
}

impl<P: PartOut> PageSink for StreamSplit<'_, P> {
    type Error = StreamError;

    async fn page(&mut self, items: Vec<Value>) -> Result<(), StreamError> {
        for slice in self.slicer.push(items)? {
            self.sender.send(slice).await?;
        }
        Ok(())
    }
}

/// Serialized length of `value` plus a comma.
pub(super) fn json_len(value: &Value) -> usize {
    shared::json_size::json_len(value).saturating_add(1)
}
#[cfg(test)]
mod tests {
    use super::*;
    use shared::messages::Trigger;
    use std::sync::Mutex;

    fn accounts(from: usize, n: usize) -> Vec<Value> {
        (from..from + n)
            .map(|i| serde_json::json!({
                "id": format!("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/a{i:05}"),
                "name": format!("a{i:05}"), "location": "eastus",
                "properties": {"minimumTlsVersion": "TLS1_2"}
            }))
            .collect()
    }

    fn names(items: &[Value]) -> Vec<String> {
        items.iter().map(|i| i["name"].to_string()).collect()
    }

    #[test]
    fn a_list_that_stays_small_comes_back_whole_in_order() {
        let mut slicer = Slicer::new("storage.accounts", 1, 500, 1 << 20);
        for page in 0..5 {
            assert!(
                slicer
                    .push(accounts(page * 100, 100))
                    .expect("push")
                    .is_empty()
            );
        }
        assert!(!slicer.is_split(), "500 reads are not over 500");
        let whole = slicer.finish().expect("finish").expect_err("not split");
        assert_eq!(names(&whole), names(&accounts(0, 500)));
    }

    #[test]
    fn slices_go_out_as_pages_come_and_the_slicer_holds_less_than_a_slice() {
        // 2 child reads per item, 300 reads per part: slices of 150 items.
        let mut slicer = Slicer::new("storage.accounts", 2, 300, 1 << 20);
        let mut slices = slicer.push(accounts(0, 100)).expect("push");
        assert!(slices.is_empty(), "200 reads: not split yet");
        slices.extend(slicer.push(accounts(100, 100)).expect("push"));
        assert!(slicer.is_split());
        assert_eq!(
            slices.len(),
            1,
            "one full slice as soon as the split is certain"
        );
        for page in 2..100 {
            slices.extend(slicer.push(accounts(page * 100, 100)).expect("push"));
            assert!(slicer.held() < 150, "{} items held", slicer.held());
        }
        slices.extend(slicer.finish().expect("finish").expect("split"));
        assert!(slices.iter().all(|s| !s.is_empty() && s.len() <= 150));
        assert_eq!(slices.len(), 10_000usize.div_ceil(150));
        let all: Vec<Value> = slices.into_iter().flatten().collect();
        assert_eq!(
            names(&all),
            names(&accounts(0, 10_000)),
            "every item once, in order"
        );
    }

    #[test]
    fn slices_stay_within_the_byte_budget() {
        let one = json_len(&accounts(0, 1)[0]);
        let budget = one * 10 + one / 2;
        let mut slicer = Slicer::new("storage.accounts", 1, 10, budget);
        let mut slices = slicer.push(accounts(0, 95)).expect("push");
        slices.extend(slicer.finish().expect("finish").expect("split"));
        assert_eq!(slices.len(), 10);
        for slice in &slices {
            let bytes: usize = slice.iter().map(json_len).sum();
            assert!(bytes <= budget, "{bytes} > {budget}");
        }
    }

    #[test]
    fn an_item_over_the_bound_stops_a_split_but_not_a_whole_list() {
        let one = json_len(&accounts(0, 1)[0]);
        let mut big = accounts(5, 1);
        big[0]["properties"]["padding"] = Value::String("x".repeat(one * 20));
        // Unsplit, it is the job's own data: no message carries it.
        let mut slicer = Slicer::new("storage.accounts", 1, 10, one * 10);
        assert!(slicer.push(big.clone()).expect("push").is_empty());
        assert_eq!(
            slicer.finish().expect("finish").expect_err("whole").len(),
            1
        );
        // Split, it would make a part job over the bound: the list fails instead.
        let mut slicer = Slicer::new("storage.accounts", 1, 10, one * 10);
        let mut items = accounts(0, 5);
        items.extend(big);
        items.extend(accounts(6, 20));
        assert!(matches!(
            slicer.push(items),
            Err(StreamError::ItemTooBig { .. })
        ));
    }

    #[derive(Default)]
    struct Kept {
        parts: Mutex<Vec<ScanJob>>,
        fail_after: Option<usize>,
    }

    impl PartOut for Kept {
        async fn send(&self, part: &ScanJob) -> Result<(), BrokerError> {
            let mut parts = self.parts.lock().expect("lock");
            if self.fail_after.is_some_and(|n| parts.len() >= n) {
                return Err(BrokerError::Blocked);
            }
            parts.push(part.clone());
            Ok(())
        }
    }

    fn job() -> ScanJob {
        ScanJob::new(
            uuid::Uuid::new_v4(),
            "acme",
            uuid::Uuid::new_v4(),
            "storage",
            Trigger::Scheduled,
        )
    }

    fn storage() -> &'static ServiceDef {
        shared::checks::service("storage").expect("storage")
    }

    /// Storage accounts at one read each, 100 reads per part.
    fn accounts_sink<'a>(
        job: &'a ScanJob,
        dataset: &Dataset,
        out: &'a Kept,
    ) -> StreamSplit<'a, Kept> {
        StreamSplit::new(
            job,
            storage(),
            ("storage.accounts", 1),
            100,
            1 << 20,
            dataset,
            out,
        )
        .expect("sink")
    }

    #[tokio::test]
    async fn a_streamed_split_numbers_its_parts_against_the_most_parts() {
        let (job, out) = (job(), Kept::default());
        let dataset = Dataset::default();
        let mut sink = accounts_sink(&job, &dataset, &out);
        for page in 0..10 {
            sink.page(accounts(page * 100, 100)).await.expect("page");
        }
        sink.page(accounts(1000, 30)).await.expect("page");
        let Streamed::Split { parts_used } = sink.finish().await.expect("finish") else {
            panic!("not split");
        };
        let parts = out.parts.into_inner().expect("lock");
        assert_eq!(parts_used as usize, parts.len() + 1);
        assert_eq!(parts.len(), 11);
        for (i, part_job) in parts.iter().enumerate() {
            let part = part_job.part.as_ref().expect("part");
            assert_eq!(part.index as usize, i + 1);
            assert_eq!(part.of, MAX_PARTS);
            assert_eq!(part.collection, "storage.accounts");
            assert_eq!(part_job.job_id, job.job_id);
            assert!(super::super::part_dataset(storage(), &mut part.clone()).is_ok());
        }
        assert_eq!(parts[10].part.as_ref().map(|p| p.items.len()), Some(30));
    }

    #[tokio::test]
    async fn a_part_that_cannot_be_published_stops_the_list() {
        let (job, out) = (
            job(),
            Kept {
                fail_after: Some(2),
                ..Kept::default()
            },
        );
        let dataset = Dataset::default();
        let mut sink = accounts_sink(&job, &dataset, &out);
        let mut failed = None;
        for page in 0..10 {
            if let Err(e) = sink.page(accounts(page * 100, 100)).await {
                failed = Some(page);
                assert!(matches!(e, StreamError::Publish(_)), "{e}");
                break;
            }
        }
        assert_eq!(failed, Some(2), "the third part fails");
        assert_eq!(out.parts.lock().expect("lock").len(), 2);
    }
}
