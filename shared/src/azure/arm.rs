//! The Azure Resource Manager client: authenticated GETs, nextLink paging, retries.
//!
//! One [`ArmClient`] per process (it holds the HTTP connection pool and the token provider); one
//! [`ArmSession`] per job (it binds a principal and counts the job's calls). Behaviour:
//! - paging follows `nextLink` until it is absent, null or empty; empty pages with a nextLink go
//!   on; a repeated nextLink is an error, never a loop; a nextLink to another host is refused
//!   (the bearer token must not leave the cloud's ARM endpoint);
//! - transient failures (429, 5xx, network) are retried with backon's exponential backoff with
//!   jitter, and a 429 waits what `Retry-After` / `retry-after-ms` / `x-ms-retry-after-ms` say;
//! - a 401 `ExpiredAuthenticationToken` gets a fresh token and one immediate retry;
//! - every response's `x-ms-request-id` is logged and kept in errors;
//! - the session remembers the `location` of every resource its lists return, so that a later
//!   read of that resource or of its children draws from the right regional provider budget;
//! - a session may carry a deadline: a limiter wait that would pass it fails the request with
//!   a throttling error (`ClientThrottled`) instead of waiting, and a retry wait that would pass
//!   it is not taken (the last error stands).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use reqwest::header::{HeaderMap, RETRY_AFTER};
use serde_json::Value;
use tracing::Instrument;
use url::Url;

use super::cloud::CloudRegistry;
use super::errors::ArmError;
use super::http::{DEFAULT_MAX_BODY_BYTES, GuardedGetError, authorized_get, same_origin};
use super::limiter::{ReadLimiter, Scope, subscription_of};
use super::token::{Principal, TokenProvider};
use crate::metrics::{AzureMetrics, status_class};

/// Retry settings for ARM calls.
#[derive(Debug, Clone, Copy)]
pub struct RetrySettings {
    /// Retries after the first attempt, for transient errors.
    pub max_retries: usize,
    pub min_delay: Duration,
    pub max_delay: Duration,
    /// Longest `Retry-After` honoured for one wait.
    pub max_retry_after: Duration,
}

impl Default for RetrySettings {
    fn default() -> Self {
        Self {
            max_retries: 6,
            min_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(120),
        }
    }
}

/// Safety stop for paging, far above any real collection.
const MAX_PAGES: usize = 10_000;

/// Most resource locations one session remembers (Azure's data is hostile: bounded memory).
const MAX_LOCATIONS: usize = 200_000;

/// Calls made by one session (one job).
#[derive(Debug, Default)]
pub struct ArmStats {
    pub requests: AtomicU64,
    pub throttled: AtomicU64,
    pub retries: AtomicU64,
    /// Time spent waiting for the fleet-wide read budget, milliseconds.
    pub limiter_wait_ms: AtomicU64,
}

/// Process-wide ARM access: HTTP pool + token cache + the fleet-wide read limiter.
#[derive(Debug, Clone)]
pub struct ArmClient {
    http: reqwest::Client,
    tokens: TokenProvider,
    retry: RetrySettings,
    limiter: Option<ReadLimiter>,
    metrics: Arc<AzureMetrics>,
    /// Largest response body read (bytes); a larger one is an error for that request.
    max_body: usize,
    /// The operator's registered clouds (connections name theirs).
    clouds: Arc<CloudRegistry>,
}

impl ArmClient {
    pub fn new(http: reqwest::Client, tokens: TokenProvider, retry: RetrySettings) -> Self {
        Self {
            http,
            tokens,
            retry,
            limiter: None,
            metrics: Arc::new(AzureMetrics::unregistered()),
            max_body: DEFAULT_MAX_BODY_BYTES,
            clouds: Arc::default(),
        }
    }

    /// The operator's registered clouds, which connections may name.
    pub fn with_clouds(mut self, clouds: CloudRegistry) -> Self {
        self.clouds = Arc::new(clouds);
        self
    }

    pub fn clouds(&self) -> &CloudRegistry {
        &self.clouds
    }

    /// Caps every response body at `bytes` (default [`DEFAULT_MAX_BODY_BYTES`]).
    pub fn with_max_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes.max(1024);
        self
    }

    /// Counts requests, 429s, retries and limiter waits in `metrics` (token counts too).
    pub fn with_metrics(mut self, metrics: Arc<AzureMetrics>) -> Self {
        self.tokens = self.tokens.with_metrics(metrics.clone());
        self.metrics = metrics;
        self
    }

    /// Every request first takes a token from the fleet-wide budget.
    pub fn with_limiter(mut self, limiter: ReadLimiter) -> Self {
        self.limiter = Some(limiter);
        self
    }

    pub fn tokens(&self) -> &TokenProvider {
        &self.tokens
    }

    /// The HTTP client (shared with the Microsoft Graph client: one pool, one trust store).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub fn retry_settings(&self) -> RetrySettings {
        self.retry
    }

    /// A session for one principal against its cloud's Resource Manager.
    pub fn session(&self, principal: Principal) -> Result<ArmSession, ArmError> {
        let base = Url::parse(&principal.endpoints.resource_manager).map_err(|e| {
            ArmError::protocol(format!("Resource Manager endpoint is not a URL: {e}"))
        })?;
        Ok(ArmSession {
            client: self.clone(),
            principal: Arc::new(principal),
            base,
            stats: Arc::default(),
            locations: Arc::default(),
            deadline: None,
        })
    }
}

/// ARM access for one job: one principal, its own counters.
#[derive(Debug, Clone)]
pub struct ArmSession {
    client: ArmClient,
    principal: Arc<Principal>,
    base: Url,
    stats: Arc<ArmStats>,
    /// Lower-cased resource id -> lower-cased location, learnt from lists (shared by forks).
    locations: Arc<Mutex<HashMap<String, String>>>,
    /// Limiter waits that would end after this fail the request instead.
    deadline: Option<tokio::time::Instant>,
}

impl ArmSession {
    /// Bounds limiter waits: a request whose read token would come after `deadline` fails with
    /// a `ClientThrottled` error (the job's time bound; a short budget for validation).
    pub fn with_deadline(mut self, deadline: tokio::time::Instant) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// [`ArmSession::with_deadline`] `budget` from now.
    pub fn with_time_budget(self, budget: Duration) -> Self {
        self.with_deadline(tokio::time::Instant::now() + budget)
    }

    /// Records that the resource `id` lives in `location` (the lists of a session do this by
    /// themselves); a caller that learnt a location elsewhere may tell the session.
    pub fn remember_location(&self, id: &str, location: &str) {
        let id = id.trim().trim_end_matches('/').to_ascii_lowercase();
        let location: String = location
            .chars()
            .filter(|c| !c.is_whitespace())
            .flat_map(char::to_lowercase)
            .collect();
        if id.is_empty() || location.is_empty() || location.len() > 64 || id.len() > 2048 {
            return;
        }
        let Ok(mut map) = self.locations.lock() else {
            return;
        };
        if map.len() < MAX_LOCATIONS || map.contains_key(&id) {
            map.insert(id, location);
        }
    }

    /// Records the `location` of every resource object in `items` that has an `id` and one: the
    /// session's own lists do this for each page; a part job does it for the slice of a list it
    /// was handed, so that its child reads draw from their region's budget.
    pub fn remember_locations_of(&self, items: &[Value]) {
        for item in items {
            if let (Some(id), Some(location)) = (
                item.get("id").and_then(Value::as_str),
                item.get("location").and_then(Value::as_str),
            ) {
                self.remember_location(id, location);
            }
        }
    }

    /// The location of the resource `path` reads, or of its nearest known parent.
    pub fn location_of(&self, path: &str) -> Option<String> {
        let lower = path.trim_end_matches('/').to_ascii_lowercase();
        let map = self.locations.lock().ok()?;
        if map.is_empty() {
            return None;
        }
        let mut candidate = lower.as_str();
        loop {
            if let Some(location) = map.get(candidate) {
                return Some(location.clone());
            }
            candidate = &candidate[..candidate.rfind('/')?];
            if candidate.is_empty() {
                return None;
            }
        }
    }

    pub fn stats(&self) -> &ArmStats {
        &self.stats
    }

    /// The same principal with its own counters (to measure one collection of a job).
    pub fn fork(&self) -> Self {
        Self {
            stats: Arc::default(),
            ..self.clone()
        }
    }

    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    /// The process-wide client this session uses.
    pub fn client(&self) -> &ArmClient {
        &self.client
    }

    /// `{arm}{path}?api-version={v}`, built from segments: each `/`-separated part of `path`
    /// (ids taken from Azure's data included) becomes one percent-encoded path segment under the
    /// Resource Manager endpoint, so nothing in `path` can change the host; a query in `path` is
    /// re-encoded pair by pair.
    pub fn url(&self, path: &str, api_version: &str) -> String {
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let pairs: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        self.url_with_query(path, &pairs, api_version)
    }

    /// Like [`ArmSession::url`], with query parameters given as decoded pairs (an OData
    /// `$filter` value is encoded here, whatever it contains).
    pub fn url_with_query(&self, path: &str, query: &[(&str, &str)], api_version: &str) -> String {
        let mut url = self.base.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments
                .pop_if_empty()
                .extend(path.split('/').filter(|s| !s.is_empty()));
        }
        {
            let mut pairs = url.query_pairs_mut();
            pairs.clear();
            for (k, v) in query {
                pairs.append_pair(k, v);
            }
            pairs.append_pair("api-version", api_version);
        }
        url.to_string()
    }

    /// One object.
    pub async fn get(&self, url: &str) -> Result<Value, ArmError> {
        self.get_with_retries(url).await
    }

    /// A collection, every page.
    pub async fn list(&self, url: &str) -> Result<Vec<Value>, ArmError> {
        let mut items = Vec::new();
        let mut pages = self.pages(url);
        while let Some(page) = pages.next().await? {
            self.remember_locations_of(&page);
            items.extend(page);
        }
        Ok(items)
    }

    /// A collection page by page, for a caller that hands each page on instead of holding
    /// the whole list (a subscription can have tens of thousands of resources). Unlike
    /// [`Self::list`], it does not learn the items' locations: a caller that reads their
    /// children calls [`Self::remember_locations_of`].
    pub fn pages(&self, url: &str) -> Pages<'_> {
        Pages {
            session: self,
            first: url.to_string(),
            next: Some(url.to_string()),
            seen: HashSet::new(),
        }
    }

    async fn get_with_retries(&self, url: &str) -> Result<Value, ArmError> {
        let template = path_template(
            Url::parse(url)
                .map(|u| u.path().to_string())
                .unwrap_or_default()
                .as_str(),
        );
        let span = tracing::info_span!(
            "arm_call",
            otel.kind = "client",
            http.request.method = "GET",
            url.template = %template,
            http.response.status_code = tracing::field::Empty,
            azure.error_code = tracing::field::Empty,
            retries = tracing::field::Empty,
            throttled = tracing::field::Empty,
            limiter_wait_ms = tracing::field::Empty,
        );
        let (retries0, throttled0, waited0) = (
            self.stats.retries.load(Ordering::Relaxed),
            self.stats.throttled.load(Ordering::Relaxed),
            self.stats.limiter_wait_ms.load(Ordering::Relaxed),
        );
        let result = self
            .get_with_retries_inner(url)
            .instrument(span.clone())
            .await;
        span.record(
            "retries",
            self.stats.retries.load(Ordering::Relaxed) - retries0,
        );
        span.record(
            "throttled",
            self.stats.throttled.load(Ordering::Relaxed) - throttled0,
        );
        span.record(
            "limiter_wait_ms",
            self.stats.limiter_wait_ms.load(Ordering::Relaxed) - waited0,
        );
        match &result {
            Ok(_) => {
                span.record("http.response.status_code", 200);
            }
            Err(e) => {
                if let Some(status) = e.status {
                    span.record("http.response.status_code", status);
                }
                if let Some(code) = &e.code {
                    span.record("azure.error_code", code.as_str());
                }
            }
        }
        result
    }

    async fn get_with_retries_inner(&self, url: &str) -> Result<Value, ArmError> {
        let settings = self.client.retry;
        let backoff = ExponentialBuilder::default()
            .with_min_delay(settings.min_delay)
            .with_max_delay(settings.max_delay)
            .with_max_times(settings.max_retries)
            .with_jitter();
        (|| self.get_once(url))
            .retry(backoff)
            .sleep(tokio::time::sleep)
            .when(ArmError::is_retryable)
            .adjust(|err, planned| {
                // Azure's own wait wins over our backoff, as long as retries remain; a wait
                // past the session's deadline ends the retries (the last error stands).
                let wait = planned.map(|d| {
                    err.retry_after
                        .map(|ra| ra.min(settings.max_retry_after))
                        .unwrap_or(d)
                })?;
                match self.deadline {
                    Some(deadline) if tokio::time::Instant::now() + wait > deadline => None,
                    _ => Some(wait),
                }
            })
            .notify(|err, wait| {
                self.stats.retries.fetch_add(1, Ordering::Relaxed);
                self.client.metrics.arm_retries.inc();
                tracing::warn!(
                    url = %strip_query(url),
                    wait_ms = wait.as_millis() as u64,
                    error = %err,
                    "ARM call failed, retrying"
                );
            })
            .await
    }

    /// One attempt; a 401 for an expired token is answered with a fresh token and one resend.
    async fn get_once(&self, url: &str) -> Result<Value, ArmError> {
        match self.send(url).await {
            Err(e) if e.code.as_deref() == Some("ExpiredAuthenticationToken") => {
                tracing::info!("ARM says the token expired; fetching a new one");
                self.client.tokens.invalidate(&self.principal);
                self.stats.retries.fetch_add(1, Ordering::Relaxed);
                self.send(url).await
            }
            other => other,
        }
    }

    fn scope(&self, path: &str) -> Scope {
        Scope {
            principal: format!(
                "{}/{}",
                self.principal.tenant_id.to_ascii_lowercase(),
                self.principal.client_id.to_ascii_lowercase()
            ),
            subscription: subscription_of(path),
            model: self.principal.endpoints.throttle_model,
            endpoint: endpoint_key(&self.base),
            region: self.location_of(path),
        }
    }

    async fn send(&self, url: &str) -> Result<Value, ArmError> {
        let target = Url::parse(url)
            .map_err(|e| ArmError::protocol(format!("bad URL {:?}: {e}", strip_query(url))))?;
        if !same_origin(&target, &self.base) {
            // Refused before taking a read token or a bearer token; `authorized_get` would
            // refuse it too.
            return Err(self.transport_error(
                url,
                GuardedGetError::ForeignOrigin {
                    target: target.origin().ascii_serialization(),
                    issued_for: self.base.origin().ascii_serialization(),
                },
            ));
        }
        let path = Url::parse(url)
            .map(|u| u.path().to_string())
            .unwrap_or_default();
        let scope = self.scope(&path);
        if let Some(limiter) = &self.client.limiter {
            let waited = match limiter.acquire(&scope, &path, self.deadline).await {
                Ok(waited) => waited,
                Err(throttled) => {
                    self.client
                        .metrics
                        .limiter_wait
                        .inc_by(throttled.waited.as_secs_f64());
                    return Err(ArmError::client_throttled(&throttled));
                }
            };
            self.stats
                .limiter_wait_ms
                .fetch_add(waited.as_millis() as u64, Ordering::Relaxed);
            self.client
                .metrics
                .limiter_wait
                .inc_by(waited.as_secs_f64());
        }
        let token = self
            .client
            .tokens
            .arm_token(&self.principal)
            .await
            .map_err(ArmError::from_token)?;
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        let started = std::time::Instant::now();
        let metrics = &self.client.metrics;
        let response = authorized_get(
            &self.client.http,
            &target,
            &self.base,
            &token.value,
            self.client.max_body,
        )
        .await;
        let response = match response {
            Ok(r) => r,
            Err(e) => {
                metrics.arm_requests.with_label_values(&["error"]).inc();
                return Err(self.transport_error(url, e));
            }
        };
        let status = response.status;
        metrics
            .arm_requests
            .with_label_values(&[status_class(status)])
            .inc();
        metrics
            .arm_request_duration
            .observe(started.elapsed().as_secs_f64());
        if status == 429 {
            metrics.arm_throttled.inc();
        }
        let headers = response.headers;
        let request_id = header_str(&headers, "x-ms-request-id");
        let body = response.body;
        tracing::debug!(
            url = %strip_query(url),
            status,
            request_id = request_id.as_deref().unwrap_or(""),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "ARM GET"
        );
        if let Some(limiter) = &self.client.limiter {
            if status == 429 {
                limiter.observe_remaining(&scope, 0).await;
            } else if let Some(remaining) =
                header_str(&headers, "x-ms-ratelimit-remaining-subscription-reads")
                    .and_then(|v| v.trim().parse::<u64>().ok())
            {
                limiter.observe_remaining(&scope, remaining).await;
            }
        }
        if (200..300).contains(&status) {
            return serde_json::from_slice(&body).map_err(|e| {
                ArmError::protocol(format!("response is not JSON at {}: {e}", strip_query(url)))
            });
        }
        if status == 429 {
            self.stats.throttled.fetch_add(1, Ordering::Relaxed);
        }
        let mut error = ArmError::from_response(status, &body, request_id, retry_after(&headers));
        if !self.principal.endpoints.builtin && error.code.is_none() {
            // Never reflect a custom host's raw body.
            error.message = format!("unexpected response body ({} bytes)", body.len());
        }
        Err(error)
    }

    /// An ARM error for a request that got no usable response. Details (host names, TLS and
    /// connect errors) are shown for the built-in clouds only: for a custom cloud they would
    /// tell whoever reads the diagnosis what answers at that address.
    fn transport_error(&self, url: &str, e: GuardedGetError) -> ArmError {
        let builtin = self.principal.endpoints.builtin;
        match e {
            GuardedGetError::ForeignOrigin { .. } => ArmError::protocol(e.to_string()),
            GuardedGetError::TooLarge { limit } => ArmError::protocol(format!(
                "response larger than {limit} bytes at {}; not read",
                path_template(
                    Url::parse(url)
                        .map(|u| u.path().to_string())
                        .unwrap_or_default()
                        .as_str()
                )
            )),
            GuardedGetError::Send(inner) | GuardedGetError::Read(inner) => {
                tracing::debug!(url = %strip_query(url), error = %error_chain(&inner), "ARM request failed");
                if builtin {
                    ArmError::network(format!("{}: {}", strip_query(url), error_chain(&inner)))
                } else if inner.is_timeout() {
                    ArmError::network(
                        "the cloud's Resource Manager endpoint did not answer in time",
                    )
                } else {
                    ArmError::network("the cloud's Resource Manager endpoint could not be reached")
                }
            }
        }
    }
}

/// The endpoint part of a limiter key: `host[:port]` of the Resource Manager, lower-cased, so
/// each cloud's budget (and each 429 or remaining-reads header) is its own.
pub fn endpoint_key(base: &Url) -> String {
    let host = base.host_str().unwrap_or("").to_ascii_lowercase();
    match base.port() {
        Some(port) => format!("{host}:{port}"),
        None => host,
    }
}

/// How long Azure asks us to wait: `retry-after-ms`, `x-ms-retry-after-ms`, then `Retry-After`
/// in seconds or as an HTTP date (the order the Azure SDKs use).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    for name in ["retry-after-ms", "x-ms-retry-after-ms"] {
        if let Some(ms) = header_str(headers, name).and_then(|v| v.trim().parse::<u64>().ok()) {
            return Some(Duration::from_millis(ms));
        }
    }
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim().to_string();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(&value).ok()?;
    let wait = when.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

fn header_str(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// An ARM path with its ids replaced by placeholders, for span names and metrics:
/// `/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Storage/storageAccounts/{name}/fileServices/{name}`.
pub fn path_template(path: &str) -> String {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let mut out = Vec::with_capacity(segments.len());
    let mut after_provider = None::<usize>;
    for (i, segment) in segments.iter().enumerate() {
        let previous = i.checked_sub(1).map(|p| segments[p].to_ascii_lowercase());
        let templated = match previous.as_deref() {
            Some("subscriptions") => "{subscriptionId}".to_string(),
            Some("resourcegroups") => "{resourceGroupName}".to_string(),
            Some("providers") => {
                after_provider = Some(i);
                segment.to_string()
            }
            _ => match after_provider {
                // After the namespace: type, name, type, name, ...
                Some(ns) if (i - ns) % 2 == 0 => "{name}".to_string(),
                _ => segment.to_string(),
            },
        };
        out.push(templated);
    }
    format!("/{}", out.join("/"))
}

/// The URL without its query (no api-version noise or skip tokens in logs).
pub fn strip_query(url: &str) -> &str {
    url.split('?').next().unwrap_or(url)
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// The pages of one collection, in order (see [`ArmSession::pages`]). A `nextLink` that repeats
/// or more than [`MAX_PAGES`] pages end the list with a protocol error, as a hostile or broken
/// server could otherwise page forever.
pub struct Pages<'a> {
    session: &'a ArmSession,
    first: String,
    next: Option<String>,
    seen: HashSet<String>,
}

impl Pages<'_> {
    /// The next page's items, or `None` after the last page.
    pub async fn next(&mut self) -> Result<Option<Vec<Value>>, ArmError> {
        let Some(page_url) = self.next.take() else {
            return Ok(None);
        };
        if !self.seen.insert(page_url.clone()) {
            return Err(ArmError::protocol(format!(
                "paging loop: nextLink repeats {}",
                strip_query(&page_url)
            )));
        }
        if self.seen.len() > MAX_PAGES {
            return Err(ArmError::protocol(format!(
                "more than {MAX_PAGES} pages at {}",
                strip_query(&self.first)
            )));
        }
        let mut page = self.session.get_with_retries(&page_url).await?;
        self.next = page
            .get("nextLink")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        // Moved out of the page, not copied: a page can hold thousands of resources.
        match page.get_mut("value").map(Value::take) {
            Some(Value::Array(values)) => Ok(Some(values)),
            Some(Value::Null) | None => Ok(Some(Vec::new())),
            Some(_) => Err(ArmError::protocol(format!(
                "collection response has a non-array `value` at {}",
                strip_query(&page_url)
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn paths_become_templates() {
        assert_eq!(
            path_template("/subscriptions/abc/providers/Microsoft.Storage/storageAccounts"),
            "/subscriptions/{subscriptionId}/providers/Microsoft.Storage/storageAccounts"
        );
        assert_eq!(
            path_template(
                "/subscriptions/abc/resourceGroups/rg1/providers/Microsoft.Storage/storageAccounts/sa1/fileServices/default"
            ),
            "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Storage/storageAccounts/{name}/fileServices/{name}"
        );
        assert_eq!(
            path_template(
                "/subscriptions/abc/resourceGroups/NetworkWatcherRG/providers/Microsoft.Network/networkWatchers/nw/flowLogs"
            ),
            "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Network/networkWatchers/{name}/flowLogs"
        );
        assert_eq!(
            path_template("/subscriptions/abc"),
            "/subscriptions/{subscriptionId}"
        );
    }

    #[test]
    fn retry_after_reads_every_form() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        h.insert("x-ms-retry-after-ms", HeaderValue::from_static("1500"));
        assert_eq!(retry_after(&h), Some(Duration::from_millis(1500)));
        h.insert("retry-after-ms", HeaderValue::from_static("250"));
        assert_eq!(retry_after(&h), Some(Duration::from_millis(250)));

        let mut h = HeaderMap::new();
        let later = (chrono::Utc::now() + chrono::Duration::seconds(30)).to_rfc2822();
        h.insert(RETRY_AFTER, HeaderValue::from_str(&later).expect("header"));
        let wait = retry_after(&h).expect("date form");
        assert!(wait > Duration::from_secs(25) && wait <= Duration::from_secs(31));
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
        assert_eq!(retry_after(&HeaderMap::new()), None);
    }
}
