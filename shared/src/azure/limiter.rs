//! One ARM read budget for the whole fleet (DESIGN.md contract 6).
//!
//! ARM limits reads per (subscription, principal): in the public cloud a token bucket of 250
//! refilled at 25/s, elsewhere 12,000 per hour (research/arm.md section 1). Every worker that
//! scans a subscription with the same principal draws from that one bucket, so the fleet keeps
//! the bucket in Redis and every request takes a token first: adding workers adds throughput
//! only up to what Azure allows, never 429s.
//!
//! The bucket is a GCRA (generic cell rate algorithm) in one atomic Lua script, timed by the
//! Redis server's clock so that workers on different hosts agree. It starts from the documented
//! limits and follows Azure when Azure knows better: an `x-ms-ratelimit-remaining-subscription-
//! reads` header lower than our count, or a 429, empties our bucket to match. Resource-provider
//! limits that bite before the subscription limit (Storage list 100 per 5 minutes, Compute list
//! and Network reads) are buckets of their own, taken in addition.
//!
//! Where Azure keeps a provider's budget decides the bucket's key. The subscription bucket is
//! per (endpoint, principal, subscription). Storage's and Compute's budgets are per subscription
//! AND region (research/arm.md section 1.5): their buckets are keyed by (endpoint, principal,
//! subscription, limit, region), the region being the location of the resource the request reads
//! ([`Scope::region`]; the ARM session learns it from the lists it pages through). A request
//! with no region — a subscription-wide list, or a resource whose location is not known yet —
//! draws from that limit's bucket of its own, region `any`: a subscription-wide list is served
//! by one regional front door we cannot name, so it is counted once, apart from the named
//! regions, rather than against all of them.
//!
//! Waits are bounded: a request carries a deadline (the job's time bound, or a short budget for
//! API validation), and a wait that would pass it is refused with [`Throttled`] instead of
//! sleeping past the point where the answer is still wanted.

use std::time::Duration;

use crate::store::RedisConn;

use super::cloud::ThrottleModel;

/// A token bucket: `capacity` tokens, refilled at `per_second`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    pub capacity: f64,
    pub per_second: f64,
}

impl Bucket {
    /// ARM subscription reads per principal, by cloud.
    pub fn subscription_reads(model: ThrottleModel) -> Self {
        match model {
            ThrottleModel::TokenBucket => Bucket {
                capacity: 250.0,
                per_second: 25.0,
            },
            ThrottleModel::Hourly => Bucket {
                capacity: 12_000.0,
                per_second: 12_000.0 / 3600.0,
            },
        }
    }

    fn interval_ms(&self) -> f64 {
        1000.0 / self.per_second.max(1e-6)
    }
}

/// A resource provider's own limit on some requests (per subscription).
#[derive(Debug, Clone, Copy)]
pub struct ProviderLimit {
    pub name: &'static str,
    /// Lower-cased path after the last `/providers/` of the request: the type for lists-only
    /// limits, a prefix otherwise.
    pub path_contains: &'static str,
    /// Only collection GETs (lists) of that type, or every GET under it.
    pub lists_only: bool,
    /// Azure keeps this budget per subscription and region (not per subscription only).
    pub regional: bool,
    pub bucket: Bucket,
}

/// Documented provider limits (research/arm.md section 1.5). The first match applies.
pub const PROVIDER_LIMITS: &[ProviderLimit] = &[
    ProviderLimit {
        name: "storage-list",
        path_contains: "microsoft.storage/storageaccounts",
        lists_only: true,
        regional: true,
        bucket: Bucket {
            capacity: 100.0,
            per_second: 100.0 / 300.0,
        },
    },
    ProviderLimit {
        name: "storage-read",
        path_contains: "microsoft.storage/",
        lists_only: false,
        regional: true,
        bucket: Bucket {
            capacity: 800.0,
            per_second: 800.0 / 300.0,
        },
    },
    ProviderLimit {
        name: "compute-vm-list",
        path_contains: "microsoft.compute/virtualmachines",
        lists_only: true,
        regional: true,
        bucket: Bucket {
            capacity: 900.0,
            per_second: 5.0,
        },
    },
    ProviderLimit {
        name: "compute-vmss-list",
        path_contains: "microsoft.compute/virtualmachinescalesets",
        lists_only: true,
        regional: true,
        bucket: Bucket {
            capacity: 1080.0,
            per_second: 6.0,
        },
    },
    ProviderLimit {
        name: "network-read",
        path_contains: "microsoft.network/",
        lists_only: false,
        regional: false,
        bucket: Bucket {
            capacity: 10_000.0,
            per_second: 10_000.0 / 300.0,
        },
    },
];

/// The provider limit a GET of `path` falls under, if any: lists-only limits match a collection
/// GET of exactly that type; others match any GET under their provider path.
pub fn provider_limit(path: &str) -> Option<&'static ProviderLimit> {
    let lower = path.trim_end_matches('/').to_ascii_lowercase();
    let (_, after) = lower.rsplit_once("/providers/")?;
    PROVIDER_LIMITS.iter().find(|limit| {
        if limit.lists_only {
            after == limit.path_contains
        } else {
            after.starts_with(limit.path_contains)
        }
    })
}

const ACQUIRE: &str = r#"
-- GCRA. KEYS[1]: bucket. ARGV: 1 emission interval (ms), 2 capacity. Returns ms to wait (0 = taken).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - interval * tonumber(ARGV[2])
if allow_at > now then return math.ceil(allow_at - now) end
redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.ceil(new_tat - now) + 1000)
return 0
"#;

const OBSERVE: &str = r#"
-- Azure says `remaining` tokens are left: never believe we have more.
-- KEYS[1]: bucket. ARGV: 1 emission interval (ms), 2 capacity, 3 remaining.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local remaining = math.max(0, math.min(tonumber(ARGV[3]), tonumber(ARGV[2])))
local target = now + (tonumber(ARGV[2]) - remaining) * interval
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if target > tat then
  redis.call('SET', KEYS[1], tostring(target), 'PX', math.ceil(target - now) + 1000)
  return 1
end
return 0
"#;

const AVAILABLE: &str = r#"
-- KEYS[1]: bucket. ARGV: 1 emission interval (ms), 2 capacity. Returns tokens left (string).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local used = (tat - now) / tonumber(ARGV[1])
return tostring(math.max(0, tonumber(ARGV[2]) - used))
"#;

/// The fleet-wide limiter (one per process, shared by all jobs).
#[derive(Clone)]
pub struct ReadLimiter {
    redis: RedisConn,
    prefix: String,
}

impl std::fmt::Debug for ReadLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadLimiter")
            .field("prefix", &self.prefix)
            .finish()
    }
}

/// Whose budget a request draws from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// `tenant/client` of the principal.
    pub principal: String,
    /// The subscription in the URL, or `None` for tenant-level requests.
    pub subscription: Option<String>,
    pub model: ThrottleModel,
    /// The Resource Manager endpoint (`host[:port]`) the requests go to: budgets of different
    /// clouds never mix, and a 429 from one endpoint drains that endpoint's bucket only.
    pub endpoint: String,
    /// The (lower-cased) region of the resource the request reads, when known: regional
    /// provider limits are kept per region.
    pub region: Option<String>,
}

impl Scope {
    fn key(&self, prefix: &str, bucket: &str) -> String {
        let sub = self.subscription.as_deref().unwrap_or("tenant");
        format!(
            "{prefix}limit:{bucket}:{}:{}:{sub}",
            self.endpoint, self.principal
        )
    }

    /// The bucket of a provider limit: per region where Azure keeps it per region.
    fn provider_key(&self, prefix: &str, limit: &ProviderLimit) -> String {
        let base = self.key(prefix, limit.name);
        if limit.regional {
            format!("{base}:{}", self.region.as_deref().unwrap_or("any"))
        } else {
            base
        }
    }
}

/// A token would come later than the request's deadline: the request is not sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Throttled {
    /// The budget that is exhausted (`reads` for the subscription's, else the provider limit).
    pub bucket: &'static str,
    /// How long the next token is away.
    pub next_token_in: Duration,
    /// Time already waited for this request.
    pub waited: Duration,
}

/// The subscription id in an ARM path, if any.
pub fn subscription_of(path: &str) -> Option<String> {
    let mut parts = path.split('/').filter(|p| !p.is_empty());
    while let Some(p) = parts.next() {
        if p.eq_ignore_ascii_case("subscriptions") {
            return parts.next().map(str::to_ascii_lowercase);
        }
    }
    None
}

impl ReadLimiter {
    pub fn new(redis: RedisConn, key_prefix: &str) -> Self {
        Self {
            redis,
            prefix: key_prefix.to_string(),
        }
    }

    /// Takes one token for a GET of `path` (subscription bucket, then the provider's), waiting
    /// until `deadline` at most. Returns the time waited, or [`Throttled`] when a token would
    /// come after the deadline. If Redis is unreachable the request goes ahead unthrottled
    /// (ARM's own 429s still apply): a Redis outage must not stop scans.
    pub async fn acquire(
        &self,
        scope: &Scope,
        path: &str,
        deadline: Option<tokio::time::Instant>,
    ) -> Result<Duration, Throttled> {
        let subscription = Bucket::subscription_reads(scope.model);
        let mut waited = self
            .take(
                &scope.key(&self.prefix, "reads"),
                "reads",
                subscription,
                deadline,
                Duration::ZERO,
            )
            .await?;
        if scope.subscription.is_some()
            && let Some(limit) = provider_limit(path)
        {
            waited = self
                .take(
                    &scope.provider_key(&self.prefix, limit),
                    limit.name,
                    limit.bucket,
                    deadline,
                    waited,
                )
                .await?;
        }
        Ok(waited)
    }

    /// Azure reported `remaining` subscription reads (a header, or 0 after a 429).
    pub async fn observe_remaining(&self, scope: &Scope, remaining: u64) {
        let bucket = Bucket::subscription_reads(scope.model);
        let mut conn = self.redis.clone();
        let result: Result<i64, _> = redis::Script::new(OBSERVE)
            .key(scope.key(&self.prefix, "reads"))
            .arg(bucket.interval_ms())
            .arg(bucket.capacity)
            .arg(remaining)
            .invoke_async(&mut conn)
            .await;
        match result {
            Ok(1) => tracing::debug!(remaining, "ARM budget is lower than ours; following it"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "cannot update the ARM read budget"),
        }
    }

    /// Reads left in the subscription bucket of `scope` now (its capacity when untouched), by the
    /// Redis clock; for tests and diagnostics.
    pub async fn available(&self, scope: &Scope) -> Result<f64, redis::RedisError> {
        let bucket = Bucket::subscription_reads(scope.model);
        let mut conn = self.redis.clone();
        let left: String = redis::Script::new(AVAILABLE)
            .key(scope.key(&self.prefix, "reads"))
            .arg(bucket.interval_ms())
            .arg(bucket.capacity)
            .invoke_async(&mut conn)
            .await?;
        Ok(left.parse().unwrap_or(0.0))
    }

    /// Waits for one token of `bucket` at `key`; `waited` is carried in and returned grown.
    async fn take(
        &self,
        key: &str,
        name: &'static str,
        bucket: Bucket,
        deadline: Option<tokio::time::Instant>,
        mut waited: Duration,
    ) -> Result<Duration, Throttled> {
        let mut conn = self.redis.clone();
        loop {
            let result: Result<u64, _> = redis::Script::new(ACQUIRE)
                .key(key)
                .arg(bucket.interval_ms())
                .arg(bucket.capacity)
                .invoke_async(&mut conn)
                .await;
            match result {
                Ok(0) => return Ok(waited),
                Ok(ms) => {
                    let next_token_in = Duration::from_millis(ms);
                    if deadline.is_some_and(|d| tokio::time::Instant::now() + next_token_in > d) {
                        return Err(Throttled {
                            bucket: name,
                            next_token_in,
                            waited,
                        });
                    }
                    let wait = Duration::from_millis(ms.min(5_000));
                    tokio::time::sleep(wait).await;
                    waited += wait;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "ARM read limiter unavailable; going ahead");
                    return Ok(waited);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_limits_match_lists_and_reads() {
        let list = "/subscriptions/s/providers/Microsoft.Storage/storageAccounts";
        assert_eq!(provider_limit(list).map(|l| l.name), Some("storage-list"));
        let child = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/a/fileServices/default";
        assert_eq!(provider_limit(child).map(|l| l.name), Some("storage-read"));
        let nsg = "/subscriptions/s/providers/Microsoft.Network/networkSecurityGroups";
        assert_eq!(provider_limit(nsg).map(|l| l.name), Some("network-read"));
        let vms = "/subscriptions/s/providers/Microsoft.Compute/virtualMachines";
        assert_eq!(provider_limit(vms).map(|l| l.name), Some("compute-vm-list"));
        let vmss = "/subscriptions/s/providers/Microsoft.Compute/virtualMachineScaleSets";
        assert_eq!(
            provider_limit(vmss).map(|l| l.name),
            Some("compute-vmss-list")
        );
        let one_vm =
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1";
        assert_eq!(provider_limit(one_vm).map(|l| l.name), None);
        assert!(provider_limit("/subscriptions/s").is_none());
    }

    #[test]
    fn finds_the_subscription_in_a_path() {
        assert_eq!(
            subscription_of("/subscriptions/ABC/providers/x").as_deref(),
            Some("abc")
        );
        assert_eq!(
            subscription_of("/providers/Microsoft.ResourceGraph/resources"),
            None
        );
    }

    #[test]
    fn buckets_follow_the_cloud() {
        let public = Bucket::subscription_reads(ThrottleModel::TokenBucket);
        assert_eq!((public.capacity, public.per_second), (250.0, 25.0));
        assert_eq!(public.interval_ms(), 40.0);
        let hourly = Bucket::subscription_reads(ThrottleModel::Hourly);
        assert_eq!(hourly.capacity, 12_000.0);
        assert!((hourly.interval_ms() - 300.0).abs() < 1e-9);
    }
}
