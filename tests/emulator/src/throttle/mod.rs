//! ARM request throttling, modelled on Azure's token buckets (research/arm.md §1).
//!
//! Azure gives each (subscription, principal) a bucket of read tokens that refills at a fixed
//! rate, plus a subscription-wide bucket 15 times larger shared by all principals; a read is
//! refused with 429 while either is empty. Some resource providers add their own buckets per
//! resource type and operation. Clients must read the remaining-budget headers and honour
//! `Retry-After` in each of the forms Azure sends it, so this module computes both from the real
//! bucket state rather than from constants. Refused requests consume nothing, as in Azure.

mod bucket;
mod retry_after;
mod settings;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bucket::TokenBucket;
pub(crate) use retry_after::{retry_after_headers, retry_after_seconds};
pub use settings::{GLOBAL_FACTOR, ProviderLimit, ProviderOperation, RetryAfterStyle, Throttling};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum BucketKey {
    Principal {
        subscription: String,
        principal: String,
    },
    Subscription(String),
    Provider {
        subscription: String,
        limit: usize,
        /// For per-region limits: the region of the resource read, if any.
        region: Option<String>,
    },
    /// Microsoft Graph: per application per tenant.
    Graph {
        tenant: String,
        application: String,
    },
}

/// The subscription read budgets after a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ReadBudget {
    /// `x-ms-ratelimit-remaining-subscription-reads`
    pub(crate) remaining: u64,
    /// `x-ms-ratelimit-remaining-subscription-global-reads`
    pub(crate) global_remaining: u64,
}

/// A refused request: how long until it would pass, and the budgets meanwhile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Refused<T> {
    pub(crate) wait: Duration,
    pub(crate) budget: T,
}

/// What a request left of a provider limit it counted against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ProviderBudget {
    pub(crate) operation: ProviderOperation,
    pub(crate) remaining: u64,
}

/// A provider limit that refused a request.
#[derive(Debug)]
pub(crate) struct ProviderRefusal<'a> {
    pub(crate) limit: &'a ProviderLimit,
    pub(crate) wait: Duration,
}

/// Every bucket, created full on first use.
pub(crate) struct Throttle {
    settings: Throttling,
    limits: Vec<ProviderLimit>,
    buckets: Mutex<HashMap<BucketKey, TokenBucket>>,
}

impl Throttle {
    pub(crate) fn new(settings: Throttling, limits: Vec<ProviderLimit>) -> Throttle {
        Throttle {
            settings,
            limits,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn retry_after_style(&self) -> RetryAfterStyle {
        self.settings.retry_after
    }

    fn with_buckets<T>(&self, f: impl FnOnce(&mut HashMap<BucketKey, TokenBucket>) -> T) -> T {
        // Buckets are plain numbers; a panic elsewhere cannot leave them inconsistent.
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut buckets)
    }

    /// Charges one read to the principal's and the subscription's buckets, or refuses it if
    /// either is empty (charging neither).
    pub(crate) fn charge_read(
        &self,
        subscription: &str,
        principal: &str,
        now: Instant,
    ) -> Result<ReadBudget, Refused<ReadBudget>> {
        let bucket = self.settings.bucket;
        if !self.settings.enabled {
            return Ok(ReadBudget {
                remaining: bucket - 1,
                global_remaining: bucket.saturating_mul(GLOBAL_FACTOR) - 1,
            });
        }
        let capacity = bucket as f64;
        let refill = self.settings.refill_per_second;
        let factor = GLOBAL_FACTOR as f64;
        let own_key = BucketKey::Principal {
            subscription: subscription.to_lowercase(),
            principal: principal.to_lowercase(),
        };
        let global_key = BucketKey::Subscription(subscription.to_lowercase());
        self.with_buckets(|buckets| {
            let mut own = buckets
                .remove(&own_key)
                .unwrap_or_else(|| TokenBucket::full(capacity, refill, now));
            let mut global = buckets
                .remove(&global_key)
                .unwrap_or_else(|| TokenBucket::full(capacity * factor, refill * factor, now));
            own.refresh(now);
            global.refresh(now);
            let wait = own.wait().max(global.wait());
            if wait.is_zero() {
                own.take();
                global.take();
            }
            let budget = ReadBudget {
                remaining: own.remaining(),
                global_remaining: global.remaining(),
            };
            buckets.insert(own_key, own);
            buckets.insert(global_key, global);
            if wait.is_zero() {
                Ok(budget)
            } else {
                Err(Refused { wait, budget })
            }
        })
    }

    /// Charges one Microsoft Graph request to the application's bucket in the tenant (`limit`
    /// requests, refilled over `per_seconds`), or says how long until one would pass.
    pub(crate) fn charge_graph(
        &self,
        tenant: &str,
        application: &str,
        limit: u64,
        per_seconds: u64,
        now: Instant,
    ) -> Result<(), Duration> {
        let key = BucketKey::Graph {
            tenant: tenant.to_lowercase(),
            application: application.to_lowercase(),
        };
        let capacity = limit.max(1) as f64;
        let refill = capacity / per_seconds.max(1) as f64;
        self.with_buckets(|buckets| {
            let bucket = buckets
                .entry(key)
                .or_insert_with(|| TokenBucket::full(capacity, refill, now));
            bucket.refresh(now);
            let wait = bucket.wait();
            if wait.is_zero() {
                bucket.take();
                Ok(())
            } else {
                Err(wait)
            }
        })
    }

    /// Charges a GET of `full_type` to every provider limit it counts against, or refuses it
    /// naming the first empty one (charging none).
    pub(crate) fn charge_provider(
        &self,
        subscription: &str,
        full_type: &str,
        is_collection: bool,
        region: Option<&str>,
        now: Instant,
    ) -> Result<Vec<ProviderBudget>, ProviderRefusal<'_>> {
        let matching: Vec<(usize, &ProviderLimit)> = self
            .limits
            .iter()
            .enumerate()
            .filter(|(_, limit)| limit.applies_to(full_type, is_collection))
            .collect();
        if matching.is_empty() {
            return Ok(Vec::new());
        }
        let subscription = subscription.to_lowercase();
        let region_key = |limit: &ProviderLimit| {
            limit
                .per_region
                .then(|| region.map(str::to_lowercase))
                .flatten()
        };
        self.with_buckets(|buckets| {
            let mut refusal = None;
            for &(index, limit) in &matching {
                let bucket = buckets
                    .entry(BucketKey::Provider {
                        subscription: subscription.clone(),
                        limit: index,
                        region: region_key(limit),
                    })
                    .or_insert_with(|| {
                        TokenBucket::full(limit.limit as f64, limit.refill_per_second(), now)
                    });
                bucket.refresh(now);
                let wait = bucket.wait();
                if refusal.is_none() && !wait.is_zero() {
                    refusal = Some(ProviderRefusal { limit, wait });
                }
            }
            if let Some(refusal) = refusal {
                return Err(refusal);
            }
            Ok(matching
                .iter()
                .filter_map(|&(index, limit)| {
                    let bucket = buckets.get_mut(&BucketKey::Provider {
                        subscription: subscription.clone(),
                        limit: index,
                        region: region_key(limit),
                    })?;
                    bucket.take();
                    Some(ProviderBudget {
                        operation: limit.operation,
                        remaining: bucket.remaining(),
                    })
                })
                .collect())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUB: &str = "sub";

    fn throttle(bucket: u64, refill: f64) -> Throttle {
        Throttle::new(
            Throttling {
                bucket,
                refill_per_second: refill,
                ..Throttling::default()
            },
            Vec::new(),
        )
    }

    #[test]
    fn a_bucket_empties_refills_and_says_how_long_to_wait() {
        let throttle = throttle(3, 2.0);
        let start = Instant::now();
        let remaining: Vec<u64> = (0..3)
            .map(|_| {
                throttle
                    .charge_read(SUB, "a", start)
                    .expect("within budget")
                    .remaining
            })
            .collect();
        assert_eq!(remaining, vec![2, 1, 0]);
        let refused = throttle.charge_read(SUB, "A", start).expect_err("empty");
        assert_eq!(refused.wait, Duration::from_millis(500));
        assert_eq!(refused.budget.remaining, 0);
        // Refused requests cost nothing: after the wait one read passes.
        let later = start + Duration::from_millis(500);
        assert_eq!(
            throttle.charge_read(SUB, "a", later).map(|b| b.remaining),
            Ok(0)
        );
        // Refill never overflows the bucket.
        let much_later = start + Duration::from_secs(3600);
        assert_eq!(
            throttle
                .charge_read(SUB, "a", much_later)
                .map(|b| b.remaining),
            Ok(2)
        );
    }

    #[test]
    fn principals_have_their_own_buckets_and_share_the_global_one() {
        let throttle = throttle(2, 0.001);
        let now = Instant::now();
        let mut global = Vec::new();
        // 15 principals drain the global bucket of 30 (15 x 2).
        for principal in 0..GLOBAL_FACTOR {
            for _ in 0..2 {
                let budget = throttle
                    .charge_read(SUB, &principal.to_string(), now)
                    .expect("within budget");
                global.push(budget.global_remaining);
            }
        }
        assert_eq!(global.first(), Some(&29));
        assert_eq!(global.last(), Some(&0));
        // A fresh principal with a full bucket is refused by the global bucket.
        let refused = throttle.charge_read(SUB, "fresh", now).expect_err("global");
        assert_eq!(refused.budget.remaining, 2);
        assert_eq!(refused.budget.global_remaining, 0);
        // Another subscription is untouched.
        assert!(throttle.charge_read("other", "fresh", now).is_ok());
    }

    #[test]
    fn disabled_throttling_never_refuses() {
        let throttle = Throttle::new(
            Throttling {
                enabled: false,
                bucket: 1,
                ..Throttling::default()
            },
            Vec::new(),
        );
        let now = Instant::now();
        for _ in 0..10 {
            assert_eq!(
                throttle.charge_read(SUB, "a", now),
                Ok(ReadBudget {
                    remaining: 0,
                    global_remaining: 14
                })
            );
        }
    }

    fn limit(resource_type: &str, operation: ProviderOperation, limit: u64) -> ProviderLimit {
        ProviderLimit {
            resource_type: resource_type.into(),
            operation,
            limit,
            per_seconds: 300,
            per_region: false,
        }
    }

    #[test]
    fn provider_buckets_refuse_without_charging() {
        let throttle = Throttle::new(
            Throttling::default(),
            vec![
                limit(
                    "Microsoft.Storage/storageAccounts",
                    ProviderOperation::List,
                    2,
                ),
                limit(
                    "Microsoft.Storage/storageAccounts",
                    ProviderOperation::Read,
                    1,
                ),
            ],
        );
        let now = Instant::now();
        let list = |now| {
            throttle.charge_provider(SUB, "Microsoft.Storage/storageAccounts", true, None, now)
        };
        assert_eq!(
            list(now).expect("first")[0],
            ProviderBudget {
                operation: ProviderOperation::List,
                remaining: 1
            }
        );
        assert!(list(now).is_ok());
        let refused = list(now).expect_err("third");
        assert_eq!(refused.limit.operation, ProviderOperation::List);
        assert_eq!(refused.wait, Duration::from_secs(150));
        // Reads have their own bucket.
        let read = throttle
            .charge_provider(SUB, "Microsoft.Storage/storageAccounts", false, None, now)
            .expect("read");
        assert_eq!(read[0].remaining, 0);
        assert!(
            throttle
                .charge_provider(SUB, "Microsoft.Network/networkWatchers", false, None, now)
                .is_ok_and(|budgets| budgets.is_empty())
        );
    }

    #[test]
    fn per_region_provider_limits_give_each_region_its_own_budget() {
        let throttle = Throttle::new(
            Throttling::default(),
            vec![ProviderLimit {
                per_region: true,
                ..limit(
                    "Microsoft.Storage/storageAccounts",
                    ProviderOperation::Read,
                    2,
                )
            }],
        );
        let now = Instant::now();
        let read = |region| {
            throttle.charge_provider(
                SUB,
                "Microsoft.Storage/storageAccounts/blobServices",
                false,
                region,
                now,
            )
        };
        assert!(read(Some("eastus")).is_ok());
        assert!(read(Some("EastUS")).is_ok());
        // One region does not get more than its budget...
        let refused = read(Some("eastus")).expect_err("eastus is empty");
        assert_eq!(refused.wait, Duration::from_secs(150));
        // ...another region has its own, and so do reads of no region.
        assert_eq!(
            read(Some("westeurope")).expect("westeurope")[0].remaining,
            1
        );
        assert_eq!(read(None).expect("no region")[0].remaining, 1);
    }
}
