//! Throttling settings as scenario files state them: ARM's read buckets and resource
//! providers' own limits, with Azure's public-cloud numbers as defaults (research/arm.md §1).

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

/// How much larger the subscription-wide bucket is than a principal's.
pub const GLOBAL_FACTOR: u64 = 15;

/// ARM read throttling, as the scenario's top-level `throttling` object. On by default with the
/// public cloud's numbers: 250 reads, refilled at 25 per second.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Throttling {
    /// Whether reads are ever refused; when off, the remaining-reads headers report a full bucket.
    pub enabled: bool,
    /// Tokens in a full (subscription, principal) bucket.
    pub bucket: u64,
    /// Tokens added back per second.
    pub refill_per_second: f64,
    /// How 429s say how long to wait.
    pub retry_after: RetryAfterStyle,
}

impl Default for Throttling {
    fn default() -> Self {
        Throttling {
            enabled: true,
            bucket: 250,
            refill_per_second: 25.0,
            retry_after: RetryAfterStyle::Seconds,
        }
    }
}

/// The headers a 429 (or an injected fault with `retry_after`) uses to say how long to wait;
/// Azure services use each of these, so clients must parse them all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetryAfterStyle {
    /// `Retry-After: 3`
    #[default]
    Seconds,
    /// `Retry-After: Tue, 15 Nov 1994 08:12:31 GMT`
    HttpDate,
    /// `retry-after-ms: 2500` and `Retry-After` in seconds.
    RetryAfterMs,
    /// `x-ms-retry-after-ms: 2500` and `Retry-After` in seconds.
    XMsRetryAfterMs,
}

/// A resource provider's own limit for one resource type and operation, per subscription.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderLimit {
    /// The full resource type, e.g. `Microsoft.Storage/storageAccounts`.
    #[serde(rename = "type")]
    pub resource_type: String,
    pub operation: ProviderOperation,
    /// Requests allowed per `per_seconds` (also the bucket size).
    pub limit: u64,
    pub per_seconds: u64,
    /// Kept per subscription AND region (the region of the resource read), as Azure keeps
    /// Storage's and Compute's budgets; a request of no region (a subscription-wide list) has
    /// a bucket of its own.
    #[serde(default)]
    pub per_region: bool,
}

/// What a provider limit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderOperation {
    /// Collection GETs of exactly the type (every page counts).
    List,
    /// Any other GET of the type or of a type below it (children, child lists).
    Read,
}

impl Throttling {
    pub(crate) fn validate(&self) -> anyhow::Result<()> {
        if self.bucket == 0 {
            bail!("throttling.bucket must be at least 1");
        }
        if !(self.refill_per_second.is_finite() && self.refill_per_second > 0.0) {
            bail!("throttling.refill_per_second must be a positive number");
        }
        Ok(())
    }
}

impl ProviderLimit {
    pub(crate) fn validate(&self) -> anyhow::Result<()> {
        let (namespace, rest) = self
            .resource_type
            .split_once('/')
            .context("a provider limit's type must be Namespace/type, e.g. Microsoft.Storage/storageAccounts")?;
        if namespace.is_empty() || rest.is_empty() || rest.split('/').any(str::is_empty) {
            bail!(
                "provider limit type {:?} must be Namespace/type",
                self.resource_type
            );
        }
        if self.limit == 0 || self.per_seconds == 0 {
            bail!(
                "provider limit {}: limit and per_seconds must be at least 1",
                self.resource_type
            );
        }
        Ok(())
    }

    /// Whether a GET of `full_type` (a collection or not) counts against this limit.
    pub(super) fn applies_to(&self, full_type: &str, is_collection: bool) -> bool {
        let same = full_type.eq_ignore_ascii_case(&self.resource_type);
        match self.operation {
            ProviderOperation::List => same && is_collection,
            ProviderOperation::Read => {
                let split = self.resource_type.len();
                let below = full_type
                    .get(..split)
                    .is_some_and(|prefix| prefix.eq_ignore_ascii_case(&self.resource_type))
                    && full_type
                        .get(split..)
                        .is_some_and(|rest| rest.starts_with('/'));
                (same && !is_collection) || below
            }
        }
    }

    /// The RBAC action ARM names in the 429 message.
    pub(crate) fn action(&self) -> String {
        format!("{}/read", self.resource_type)
    }

    /// The window as a .NET TimeSpan, as the 429 message prints it: `00:05:00`, `1.00:00:00`.
    pub(crate) fn interval(&self) -> String {
        let (days, rest) = (self.per_seconds / 86_400, self.per_seconds % 86_400);
        let clock = format!(
            "{:02}:{:02}:{:02}",
            rest / 3600,
            rest % 3600 / 60,
            rest % 60
        );
        if days > 0 {
            format!("{days}.{clock}")
        } else {
            clock
        }
    }

    pub(super) fn refill_per_second(&self) -> f64 {
        self.limit as f64 / self.per_seconds as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn provider_limits_match_lists_and_reads_below_a_type() {
        let list = limit(
            "Microsoft.Storage/storageAccounts",
            ProviderOperation::List,
            1,
        );
        assert!(list.applies_to("microsoft.storage/STORAGEACCOUNTS", true));
        assert!(!list.applies_to("Microsoft.Storage/storageAccounts", false));
        assert!(!list.applies_to("Microsoft.Storage/storageAccounts/fileServices", true));
        let read = limit(
            "Microsoft.Storage/storageAccounts",
            ProviderOperation::Read,
            1,
        );
        assert!(read.applies_to("Microsoft.Storage/storageAccounts", false));
        assert!(!read.applies_to("Microsoft.Storage/storageAccounts", true));
        assert!(read.applies_to("Microsoft.Storage/storageAccounts/fileServices", true));
        assert!(read.applies_to("Microsoft.Storage/storageaccounts/fileServices", false));
        assert!(!read.applies_to("Microsoft.Storage/storageAccountsX", false));
        assert_eq!(read.action(), "Microsoft.Storage/storageAccounts/read");
        assert_eq!(read.interval(), "00:05:00");
        let daily = ProviderLimit {
            per_seconds: 90_061,
            ..read
        };
        assert_eq!(daily.interval(), "1.01:01:01");
    }
}
