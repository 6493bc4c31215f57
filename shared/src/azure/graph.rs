//! The Microsoft Graph client: tenant-wide reads for the Entra ID checks.
//!
//! Graph is not Resource Manager: another host per cloud (`Endpoints::graph`), another token
//! audience (`Endpoints::graph_scope`), OData paging by an absolute `@odata.nextLink`, its own
//! throttling (429 with `Retry-After`, and some APIs that send none), and a 403
//! `Authorization_RequestDenied` ("Insufficient privileges to complete the operation.") that does
//! not name the application permission it wants, so the caller names it (the collection's
//! permission, e.g. `Policy.Read.All`).
//!
//! Failures use the same [`ArmError`] taxonomy as ARM (access denied, not applicable, transient,
//! configuration, authentication), so retries and classification work alike; [`fetch_error`]
//! words them for results as Graph failures.
//!
//! Every request goes through [`GraphSession::authorized_get`], the only place a token is put on
//! a request: it refuses any URL that is not https on the cloud's Graph origin (a nextLink to
//! another host never gets the token) and caps the body it reads ([`MAX_BODY_BYTES`]), so it can
//! later be replaced by one authorized GET shared with the ARM client.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use reqwest::header::AUTHORIZATION;
use secrecy::ExposeSecret;
use serde_json::Value;
use url::Url;

use super::arm::{ArmClient, ArmSession, ArmStats, RetrySettings, retry_after, strip_query};
use super::errors::{ArmError, ErrorClass};
use super::token::{BearerToken, Principal, TokenProvider};
use crate::checks::FetchError;

/// The Graph API version every path is read from.
pub const GRAPH_VERSION: &str = "v1.0";
/// Safety stop for paging, far above any real tenant (100,000 users at 100 per page is 1,000).
pub const MAX_PAGES: usize = 10_000;
/// Largest response body read from Graph; a page of 999 users with every property is ~2 MB.
pub const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

/// Graph access for one job: one principal, its own counters.
#[derive(Debug, Clone)]
pub struct GraphSession {
    http: reqwest::Client,
    tokens: TokenProvider,
    retry: RetrySettings,
    principal: Arc<Principal>,
    /// The cloud's Graph endpoint, e.g. `https://graph.microsoft.com`.
    base: Url,
    stats: Arc<ArmStats>,
}

impl GraphSession {
    /// A session for `principal` against its cloud's Graph endpoint; a configuration error when
    /// the cloud has none (or it is not an https URL).
    pub fn new(client: &ArmClient, principal: Principal) -> Result<Self, ArmError> {
        let endpoint = principal.endpoints.graph.as_deref().ok_or_else(|| {
            ArmError::protocol(
                "the connection's cloud has no Microsoft Graph endpoint (set `graph` in a custom cloud)",
            )
        })?;
        let base = Url::parse(endpoint).map_err(|e| {
            ArmError::protocol(format!("Microsoft Graph endpoint is not a URL: {e}"))
        })?;
        if base.scheme() != "https" {
            return Err(ArmError::protocol(
                "Microsoft Graph endpoint must use https",
            ));
        }
        Ok(Self {
            http: client.http().clone(),
            tokens: client.tokens().clone(),
            retry: client.retry_settings(),
            principal: Arc::new(principal),
            base,
            stats: Arc::default(),
        })
    }

    /// The Graph session of an ARM session's principal.
    pub fn for_arm(session: &ArmSession) -> Result<Self, ArmError> {
        Self::new(session.client(), session.principal().clone())
    }

    /// The same principal with its own counters (to measure one collection of a job).
    pub fn fork(&self) -> Self {
        Self {
            stats: Arc::default(),
            ..self.clone()
        }
    }

    pub fn stats(&self) -> &ArmStats {
        &self.stats
    }

    /// `{graph}/v1.0{path}`; `path` starts with `/` and may carry an OData query
    /// (`/users?$select=id,accountEnabled`), which is percent-encoded here.
    pub fn url(&self, path: &str) -> Result<String, ArmError> {
        let base = self.base.as_str().trim_end_matches('/');
        let path = if path.starts_with('/') {
            path.to_string()
        } else {
            format!("/{path}")
        };
        Url::parse(&format!("{base}/{GRAPH_VERSION}{path}"))
            .map(String::from)
            .map_err(|e| ArmError::protocol(format!("bad Microsoft Graph path {path:?}: {e}")))
    }

    /// A Graph token for the principal (its `roles` claim lists the application permissions
    /// granted to it, see [`application_permissions`]).
    pub async fn token(&self) -> Result<BearerToken, ArmError> {
        self.tokens
            .graph_token(&self.principal)
            .await
            .map_err(ArmError::from_token)
    }

    /// One object.
    pub async fn get(&self, url: &str) -> Result<Value, ArmError> {
        self.get_with_retries(url).await
    }

    /// A collection, every page, following `@odata.nextLink` until it is absent.
    pub async fn list(&self, url: &str) -> Result<Vec<Value>, ArmError> {
        let mut items = Vec::new();
        let mut seen = HashSet::new();
        let mut next = Some(url.to_string());
        while let Some(page_url) = next.take() {
            if !seen.insert(page_url.clone()) {
                return Err(ArmError::protocol(format!(
                    "paging loop: @odata.nextLink repeats {}",
                    strip_query(&page_url)
                )));
            }
            if seen.len() > MAX_PAGES {
                return Err(ArmError::protocol(format!(
                    "more than {MAX_PAGES} pages at {}",
                    strip_query(url)
                )));
            }
            let page = self.get_with_retries(&page_url).await?;
            match page.get("value") {
                Some(Value::Array(values)) => items.extend(values.iter().cloned()),
                Some(Value::Null) | None => {}
                Some(_) => {
                    return Err(ArmError::protocol(format!(
                        "Microsoft Graph collection has a non-array `value` at {}",
                        strip_query(&page_url)
                    )));
                }
            }
            next = page
                .get("@odata.nextLink")
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string);
        }
        Ok(items)
    }

    async fn get_with_retries(&self, url: &str) -> Result<Value, ArmError> {
        let settings = self.retry;
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
                // Graph's own wait wins over our backoff, as long as retries remain.
                planned.map(|d| {
                    err.retry_after
                        .map(|ra| ra.min(settings.max_retry_after))
                        .unwrap_or(d)
                })
            })
            .notify(|err, wait| {
                self.stats.retries.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    url = %strip_query(url),
                    wait_ms = wait.as_millis() as u64,
                    error = %err,
                    "Microsoft Graph call failed, retrying"
                );
            })
            .await
    }

    /// One attempt; a 401 for an expired token is answered with a fresh token and one resend.
    async fn get_once(&self, url: &str) -> Result<Value, ArmError> {
        match self.authorized_get(url).await {
            Err(e) if is_expired_token(&e) => {
                tracing::info!("Microsoft Graph says the token expired; fetching a new one");
                self.tokens.invalidate(&self.principal);
                self.stats.retries.fetch_add(1, Ordering::Relaxed);
                self.authorized_get(url).await
            }
            other => other,
        }
    }

    /// The one place a Graph token is attached: https on the Graph origin only, body capped.
    async fn authorized_get(&self, url: &str) -> Result<Value, ArmError> {
        let parsed =
            Url::parse(url).map_err(|e| ArmError::protocol(format!("bad URL {url:?}: {e}")))?;
        if parsed.scheme() != "https" || parsed.origin() != self.base.origin() {
            return Err(ArmError::protocol(format!(
                "refusing to send the token to {} (not the Microsoft Graph endpoint {})",
                parsed.origin().ascii_serialization(),
                self.base.origin().ascii_serialization()
            )));
        }
        let token = self.token().await?;
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        let started = std::time::Instant::now();
        let mut response = self
            .http
            .get(parsed)
            .header(
                AUTHORIZATION,
                format!("Bearer {}", token.value.expose_secret()),
            )
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| ArmError::network(format!("{}: {e}", strip_query(url))))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let request_id = headers
            .get("request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| ArmError::network(format!("reading body: {e}")))?
        {
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(ArmError::protocol(format!(
                    "Microsoft Graph response over {MAX_BODY_BYTES} bytes at {}",
                    strip_query(url)
                )));
            }
            body.extend_from_slice(&chunk);
        }
        tracing::debug!(
            url = %strip_query(url),
            status,
            request_id = request_id.as_deref().unwrap_or(""),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "Graph GET"
        );
        if (200..300).contains(&status) {
            return serde_json::from_slice(&body).map_err(|e| {
                ArmError::protocol(format!(
                    "Microsoft Graph response is not JSON at {}: {e}",
                    strip_query(url)
                ))
            });
        }
        if status == 429 {
            self.stats.throttled.fetch_add(1, Ordering::Relaxed);
        }
        Err(graph_error(
            status,
            &body,
            request_id,
            retry_after(&headers),
        ))
    }
}

/// A Graph error response in the shared taxonomy. Graph's codes differ from ARM's: a 403
/// `Authorization_RequestDenied` is access denied, a 404 `Request_ResourceNotFound` not
/// applicable, 429 / 503 / 504 transient; a 401 is a configuration problem except an expired
/// token (handled by one refresh).
pub fn graph_error(
    status: u16,
    body: &[u8],
    request_id: Option<String>,
    retry_after: Option<Duration>,
) -> ArmError {
    let mut error = ArmError::from_response(status, body, request_id, retry_after);
    error.class = match (status, error.code.as_deref()) {
        (403, _) | (_, Some("Authorization_RequestDenied")) => ErrorClass::AccessDenied,
        (404, _) => ErrorClass::NotApplicable,
        (408 | 429 | 500..=599, _) => ErrorClass::Transient,
        (401, _) => ErrorClass::Configuration,
        _ => error.class,
    };
    // Graph never names the permission; the caller's collection does.
    error.action = None;
    error
}

fn is_expired_token(e: &ArmError) -> bool {
    e.status == Some(401)
        && e.code.as_deref() == Some("InvalidAuthenticationToken")
        && e.message.to_ascii_lowercase().contains("expired")
}

/// The form the check layer understands, for a collection that needs `permission`.
pub fn fetch_error(err: &ArmError, permission: &str) -> FetchError {
    match err.class {
        ErrorClass::AccessDenied => FetchError::AccessDenied {
            action: permission.to_string(),
            message: format!(
                "Microsoft Graph refused the read: the application needs the {permission} application permission (admin-consented). {err}"
            ),
        },
        ErrorClass::NotApplicable => FetchError::NotApplicable {
            reason: format!("Not found in Microsoft Graph: {}", err.message),
        },
        _ => FetchError::Error {
            message: format!("Microsoft Graph call failed: {err}"),
        },
    }
}

/// The application permissions a Graph token carries (its `roles` claim, as Entra ID issues
/// it for client credentials). Read without verifying the signature: the token came from Entra
/// over TLS a moment ago.
pub fn application_permissions(token: &BearerToken) -> Vec<String> {
    use base64::Engine;
    let Some(payload) = token.value.expose_secret().split('.').nth(1) else {
        return Vec::new();
    };
    let Ok(bytes) =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('='))
    else {
        return Vec::new();
    };
    let Ok(claims) = serde_json::from_slice::<Value>(&bytes) else {
        return Vec::new();
    };
    claims
        .get("roles")
        .and_then(Value::as_array)
        .map(|roles| {
            roles
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Whether granted application permissions cover `needed`: the permission itself, or its
/// `ReadWrite` form (`Policy.ReadWrite.All` covers `Policy.Read.All`). Case-insensitive.
pub fn permission_granted(granted: &[String], needed: &str) -> bool {
    let read_write = needed.replacen(".Read.", ".ReadWrite.", 1);
    granted
        .iter()
        .any(|g| g.eq_ignore_ascii_case(needed) || g.eq_ignore_ascii_case(&read_write))
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    #[test]
    fn graph_errors_are_classified() {
        let denied = br#"{"error":{"code":"Authorization_RequestDenied","message":"Insufficient privileges to complete the operation.","innerError":{"date":"2024-01-01T00:00:00","request-id":"r","client-request-id":"c"}}}"#;
        let e = graph_error(403, denied, Some("r".into()), None);
        assert_eq!(e.class, ErrorClass::AccessDenied);
        let f = fetch_error(&e, "Policy.Read.All");
        assert!(
            matches!(&f, FetchError::AccessDenied { action, .. } if action == "Policy.Read.All")
        );
        assert!(f.reason().contains("Policy.Read.All"));

        let throttled = br#"{"error":{"code":"TooManyRequests","message":"Please retry again later.","innerError":{"code":"429"}}}"#;
        let e = graph_error(429, throttled, None, Some(Duration::from_secs(2)));
        assert!(e.is_retryable());
        assert_eq!(e.retry_after, Some(Duration::from_secs(2)));

        let missing = br#"{"error":{"code":"Request_ResourceNotFound","message":"Resource 'x' does not exist."}}"#;
        let e = graph_error(404, missing, None, None);
        assert!(matches!(
            fetch_error(&e, "Directory.Read.All"),
            FetchError::NotApplicable { .. }
        ));

        let expired = br#"{"error":{"code":"InvalidAuthenticationToken","message":"Lifetime validation failed, the token is expired."}}"#;
        let e = graph_error(401, expired, None, None);
        assert!(is_expired_token(&e) && !e.is_retryable());
        assert!(matches!(
            fetch_error(&e, "Policy.Read.All"),
            FetchError::Error { message } if message.contains("Microsoft Graph")
        ));
    }

    #[test]
    fn roles_claim_and_read_write_cover_reads() {
        use base64::Engine;
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"aud":"https://graph.microsoft.com","roles":["Policy.ReadWrite.All","Directory.Read.All"]}"#);
        let token = BearerToken {
            value: SecretString::from(format!("e30.{payload}.sig")),
            expires_on: chrono::Utc::now(),
        };
        let roles = application_permissions(&token);
        assert_eq!(roles, ["Policy.ReadWrite.All", "Directory.Read.All"]);
        assert!(permission_granted(&roles, "Policy.Read.All"));
        assert!(permission_granted(&roles, "directory.read.all"));
        assert!(!permission_granted(&roles, "AuditLog.Read.All"));
        let opaque = BearerToken {
            value: SecretString::from("opaque".to_string()),
            expires_on: chrono::Utc::now(),
        };
        assert!(application_permissions(&opaque).is_empty());
    }
}
