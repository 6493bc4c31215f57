//! Entra ID tokens for service principals, cached across jobs.
//!
//! A worker keeps one `azure_identity::ClientSecretCredential` per (cloud authority, tenant,
//! client id, secret). The credential caches its tokens and refreshes them lazily 300 s
//! before expiry, single-flight, so concurrent jobs of one principal cause one token request per
//! token lifetime. A rotated secret gets a credential of its own; idle ones age out. The
//! HTTP transport under azure_identity is ours: it trusts the operator's extra CA certificates and
//! counts the token requests that really go to Entra.
//!
//! Entra's errors are turned into a [`TokenDiagnosis`]: the `error` field decides the class and
//! `error_codes` only refines the hint, as Microsoft asks (research/arm.md section 4).

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use azure_core::credentials::{Secret, TokenCredential};
use azure_core::http::{
    AsyncRawResponse, ClientOptions, ExponentialRetryOptions, HttpClient, Request, RetryOptions,
    Transport,
};
use azure_identity::{ClientSecretCredential, ClientSecretCredentialOptions};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::cloud::Endpoints;

/// Everything needed to ask Entra for a token on behalf of a connection's service principal.
#[derive(Clone)]
pub struct Principal {
    pub endpoints: Endpoints,
    pub tenant_id: String,
    pub client_id: String,
    pub secret: SecretString,
}

impl fmt::Debug for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Principal")
            .field("authority_host", &self.endpoints.authority_host)
            .field("tenant_id", &self.tenant_id)
            .field("client_id", &self.client_id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// Which credential serves a principal: its cloud, tenant, client id and secret. The secret is
/// represented by its SHA-256 (in memory only), so connections sharing a principal and secret
/// share one credential and its tokens, and a rotated secret gets a credential of its own.
#[derive(Clone, PartialEq, Eq, Hash)]
struct CredentialKey {
    authority_host: String,
    tenant_id: String,
    client_id: String,
    secret_digest: [u8; 32],
}

impl fmt::Debug for CredentialKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialKey")
            .field("authority_host", &self.authority_host)
            .field("tenant_id", &self.tenant_id)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl From<&Principal> for CredentialKey {
    fn from(p: &Principal) -> Self {
        use sha2::Digest;
        Self {
            authority_host: p.endpoints.authority_host.clone(),
            tenant_id: p.tenant_id.to_ascii_lowercase(),
            client_id: p.client_id.to_ascii_lowercase(),
            secret_digest: sha2::Sha256::digest(p.secret.expose_secret().as_bytes()).into(),
        }
    }
}

/// A bearer token. Debug never shows the value.
#[derive(Clone)]
pub struct BearerToken {
    pub value: SecretString,
    pub expires_on: chrono::DateTime<chrono::Utc>,
}

impl BearerToken {
    /// The `oid` claim: the service principal's object id (what RBAC assignments name). Read
    /// without verifying the signature: the token came from Entra over TLS a moment ago.
    pub fn object_id(&self) -> Option<String> {
        use base64::Engine;
        let payload = self.value.expose_secret().split('.').nth(1)?;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload.trim_end_matches('='))
            .ok()?;
        let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
        claims.get("oid")?.as_str().map(str::to_string)
    }
}

impl fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BearerToken")
            .field("expires_on", &self.expires_on)
            .finish_non_exhaustive()
    }
}

/// Counters of token activity, for metrics and benchmarks.
#[derive(Debug, Default)]
pub struct TokenStats {
    /// Token requests that reached Entra (HTTP POSTs).
    pub requests: AtomicU64,
    /// `token()` calls answered without a request to Entra.
    pub cache_hits: AtomicU64,
    /// `token()` calls.
    pub calls: AtomicU64,
}

/// A cached credential and the transport that watches its requests.
#[derive(Debug, Clone)]
struct CredentialEntry {
    credential: Arc<ClientSecretCredential>,
    transport: Arc<WatchingTransport>,
    last_used: std::time::Instant,
}

/// Credentials kept before unused ones are dropped.
const MAX_CREDENTIALS: usize = 1024;
/// A credential unused this long is dropped when the cache is full (its token is stale anyway).
const IDLE_CREDENTIAL: Duration = Duration::from_secs(2 * 3600);

/// Gives out tokens, one cached credential per principal.
#[derive(Debug, Clone)]
pub struct TokenProvider {
    http: reqwest::Client,
    max_body: usize,
    credentials: Arc<Mutex<HashMap<CredentialKey, CredentialEntry>>>,
    stats: Arc<TokenStats>,
    metrics: Arc<crate::metrics::AzureMetrics>,
}

impl TokenProvider {
    /// `http` must already trust the operator's extra CA certificates.
    pub fn new(http: reqwest::Client) -> Self {
        Self {
            http,
            max_body: super::http::DEFAULT_MAX_BODY_BYTES,
            credentials: Arc::default(),
            stats: Arc::default(),
            metrics: Arc::new(crate::metrics::AzureMetrics::unregistered()),
        }
    }

    /// Caps Entra's response bodies at `bytes`.
    pub fn with_max_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes.max(1024);
        self
    }

    /// Counts token requests, cache hits and failures in `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<crate::metrics::AzureMetrics>) -> Self {
        self.metrics = metrics;
        self
    }

    pub fn stats(&self) -> &TokenStats {
        &self.stats
    }

    /// A token for ARM (the cloud's Resource Manager audience).
    pub async fn arm_token(&self, principal: &Principal) -> Result<BearerToken, TokenError> {
        let scope = principal.endpoints.arm_scope.clone();
        self.token(principal, &scope).await
    }

    /// A token for Microsoft Graph (the cloud's Graph audience). A cloud without Graph is a
    /// configuration error.
    pub async fn graph_token(&self, principal: &Principal) -> Result<BearerToken, TokenError> {
        let Some(scope) = principal.endpoints.graph_scope.clone() else {
            return Err(TokenError {
                diagnosis: TokenDiagnosis::Configuration,
                ..TokenError::internal("the connection's cloud has no Microsoft Graph endpoint")
            });
        };
        self.token(principal, &scope).await
    }

    /// A token for `scope` (`<audience>/.default`).
    pub async fn token(
        &self,
        principal: &Principal,
        scope: &str,
    ) -> Result<BearerToken, TokenError> {
        let entry = self.credential(principal)?;
        self.stats.calls.fetch_add(1, Ordering::Relaxed);
        let before = entry.transport.requests.load(Ordering::Relaxed);
        let result = entry.credential.get_token(&[scope], None).await;
        let sent = entry
            .transport
            .requests
            .load(Ordering::Relaxed)
            .saturating_sub(before);
        if sent == 0 {
            self.stats.cache_hits.fetch_add(1, Ordering::Relaxed);
            self.metrics.token_cache_hits.inc();
        } else {
            self.metrics.token_requests.inc_by(sent);
        }
        let token = result.map_err(|e| {
            // The last error response to a request sent since this call began: this call's, the
            // one it waited on, or a concurrent one of the same principal (the same cause).
            // (A call that sent nothing failed on a request it waited on: the latest one.)
            let since = if sent == 0 { 0 } else { before };
            let mut error = TokenError::from_azure(&e, entry.transport.last_error(since));
            if !principal.endpoints.builtin {
                error.redact_remote_text();
            }
            self.metrics
                .token_failures
                .with_label_values(&[error.diagnosis.as_str()])
                .inc();
            error
        })?;
        let expires_on = chrono::DateTime::from_timestamp(token.expires_on.unix_timestamp(), 0)
            .unwrap_or_else(chrono::Utc::now);
        Ok(BearerToken {
            value: SecretString::from(token.token.secret().to_string()),
            expires_on,
        })
    }

    /// Drops the cached credential of `principal`, so the next call asks Entra for a new token
    /// (after ARM said the token expired, or access was just granted).
    pub fn invalidate(&self, principal: &Principal) {
        if let Ok(mut map) = self.credentials.lock() {
            map.remove(&CredentialKey::from(principal));
        }
    }

    fn credential(&self, principal: &Principal) -> Result<CredentialEntry, TokenError> {
        let key = CredentialKey::from(principal);
        let mut map = self
            .credentials
            .lock()
            .map_err(|_| TokenError::internal("credential cache lock poisoned"))?;
        if let Some(existing) = map.get_mut(&key) {
            existing.last_used = std::time::Instant::now();
            return Ok(existing.clone());
        }
        if map.len() >= MAX_CREDENTIALS {
            map.retain(|_, e| e.last_used.elapsed() < IDLE_CREDENTIAL);
        }
        let transport = Arc::new(WatchingTransport {
            inner: self.http.clone(),
            max_body: self.max_body,
            stats: self.stats.clone(),
            requests: AtomicU64::new(0),
            last_error: Mutex::new(None),
        });
        let mut cloud = azure_core::cloud::CustomConfiguration::default();
        cloud.authority_host = principal.endpoints.authority_host.clone();
        let options = ClientSecretCredentialOptions {
            client_options: ClientOptions {
                cloud: Some(Arc::new(cloud.into())),
                transport: Some(Transport::new(transport.clone())),
                retry: RetryOptions::exponential(ExponentialRetryOptions {
                    initial_delay: azure_core::time::Duration::milliseconds(200),
                    max_retries: 3,
                    max_total_elapsed: azure_core::time::Duration::seconds(20),
                    max_delay: azure_core::time::Duration::seconds(5),
                }),
                ..Default::default()
            },
        };
        let credential = ClientSecretCredential::new(
            &principal.tenant_id,
            principal.client_id.clone(),
            Secret::new(principal.secret.expose_secret().to_string()),
            Some(options),
        )
        .map_err(|e| TokenError::from_azure(&e, None))?;
        let entry = CredentialEntry {
            credential,
            transport,
            last_used: std::time::Instant::now(),
        };
        map.insert(key, entry.clone());
        Ok(entry)
    }
}

/// azure_identity's transport for one credential: our reqwest client (trusting the operator's
/// CAs), counting requests and keeping the last error response.
///
/// azure_identity 1.0 cannot read real Entra error bodies: it deserialises
/// `error_description` as a borrowed string, and real descriptions contain escaped line breaks
/// ("\r\nTrace ID: ..."), so every Entra error surfaces as a data-conversion error without the
/// response. Keeping the body here lets [`TokenError`] diagnose from Entra's own answer.
#[derive(Debug)]
struct WatchingTransport {
    inner: reqwest::Client,
    /// Largest response body read from Entra.
    max_body: usize,
    stats: Arc<TokenStats>,
    requests: AtomicU64,
    /// The last error response and the number of the request that got it.
    last_error: Mutex<Option<(u64, u16, Vec<u8>)>>,
}

impl WatchingTransport {
    /// The last error response of a request sent after the first `since` ones, left in place:
    /// every caller that waited on it, or failed alongside it, reads it. Neither taking it nor
    /// clearing it when a request starts will do: with several jobs of one connection signing
    /// in at once, either left some of them a generic diagnosis ("Authentication failed").
    fn last_error(&self, since: u64) -> Option<(u16, Vec<u8>)> {
        self.last_error
            .lock()
            .ok()
            .and_then(|e| e.clone())
            .filter(|(seq, ..)| *seq > since)
            .map(|(_, status, body)| (status, body))
    }
}

#[async_trait::async_trait]
impl HttpClient for WatchingTransport {
    async fn execute_request(&self, request: &Request) -> azure_core::Result<AsyncRawResponse> {
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        let seq = self.requests.fetch_add(1, Ordering::Relaxed) + 1;
        let response = self.inner.execute_request(request).await?;
        let (status, headers, body) = response.deconstruct();
        let Some(bytes) = super::http::collect_capped(body, self.max_body).await? else {
            return Err(azure_core::Error::with_message(
                azure_core::error::ErrorKind::Io,
                format!(
                    "token response larger than {} bytes; not read",
                    self.max_body
                ),
            ));
        };
        if !status.is_success()
            && let Ok(mut last) = self.last_error.lock()
        {
            *last = Some((seq, u16::from(status), bytes.clone()));
        }
        Ok(AsyncRawResponse::from_bytes(status, headers, bytes))
    }
}

/// What went wrong getting a token, in terms a customer can act on.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum TokenDiagnosis {
    /// The secret value is wrong (often the secret's id pasted instead of its value).
    WrongSecret,
    /// The client secret has expired.
    ExpiredSecret,
    /// No application with this client id in the tenant.
    AppNotFound,
    /// The application or its service principal is disabled.
    AppDisabled,
    /// The tenant does not exist (or belongs to another cloud).
    TenantNotFound,
    /// The tenant id is not a GUID or domain name.
    MalformedTenant,
    /// A Conditional Access policy blocked the token.
    BlockedByConditionalAccess,
    /// The tenant lives in another national cloud.
    WrongCloud,
    /// The scope or resource asked for is wrong for this cloud.
    Configuration,
    /// Entra was unavailable or busy; retry later.
    Transient,
    /// Anything else.
    Unknown,
}

impl TokenDiagnosis {
    /// The machine name, as in JSON and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenDiagnosis::WrongSecret => "wrong_secret",
            TokenDiagnosis::ExpiredSecret => "expired_secret",
            TokenDiagnosis::AppNotFound => "app_not_found",
            TokenDiagnosis::AppDisabled => "app_disabled",
            TokenDiagnosis::TenantNotFound => "tenant_not_found",
            TokenDiagnosis::MalformedTenant => "malformed_tenant",
            TokenDiagnosis::BlockedByConditionalAccess => "blocked_by_conditional_access",
            TokenDiagnosis::WrongCloud => "wrong_cloud",
            TokenDiagnosis::Configuration => "configuration",
            TokenDiagnosis::Transient => "transient",
            TokenDiagnosis::Unknown => "unknown",
        }
    }

    /// What the customer should do, in the words of the troubleshooting guide.
    pub fn remediation(self) -> &'static str {
        match self {
            TokenDiagnosis::WrongSecret => {
                "The client secret is not valid. Copy the secret's Value (not its Secret ID) from Entra ID > App registrations > Certificates & secrets, check for pasted spaces, and update it here."
            }
            TokenDiagnosis::ExpiredSecret => {
                "The client secret has expired. Create a new secret in Entra ID > App registrations > Certificates & secrets and update it here; history is kept."
            }
            TokenDiagnosis::AppNotFound => {
                "No application with this client id exists in this tenant. Verify the client id and the tenant id (Entra ID > App registrations > Overview), and check for pasted spaces."
            }
            TokenDiagnosis::AppDisabled => {
                "The application or its service principal is disabled. In Entra ID > Enterprise applications, open the app and set 'Enabled for users to sign-in' to Yes."
            }
            TokenDiagnosis::TenantNotFound => {
                "The tenant was not found. Verify the tenant (directory) id and that the connection's cloud matches the tenant's cloud."
            }
            TokenDiagnosis::MalformedTenant => {
                "The tenant id is not a valid GUID or domain name. Copy the Directory (tenant) ID from Entra ID > Overview and check for pasted spaces."
            }
            TokenDiagnosis::BlockedByConditionalAccess => {
                "A Conditional Access policy blocks this service principal. Exclude it from the policy or allow the scanner's network location."
            }
            TokenDiagnosis::WrongCloud => {
                "The tenant belongs to another Azure cloud. Set the connection's cloud (public, China, US Government) to the tenant's cloud."
            }
            TokenDiagnosis::Configuration => {
                "The token request was refused for this cloud's endpoints. Check the connection's cloud settings."
            }
            TokenDiagnosis::Transient => {
                "Entra ID is temporarily unavailable. The scan will be retried."
            }
            TokenDiagnosis::Unknown => {
                "Authentication failed. Verify the tenant id, client id and secret, and check for pasted spaces."
            }
        }
    }

    pub fn is_transient(self) -> bool {
        matches!(self, TokenDiagnosis::Transient)
    }
}

/// A token failure with Entra's identifiers, so support can find the sign-in in Entra's logs.
#[derive(Debug, Clone, thiserror::Error)]
#[error("token request failed ({diagnosis:?}): {message}")]
pub struct TokenError {
    pub diagnosis: TokenDiagnosis,
    pub http_status: Option<u16>,
    /// Entra's `error` field, e.g. `invalid_client`.
    pub error: Option<String>,
    pub error_codes: Vec<i64>,
    pub trace_id: Option<String>,
    pub correlation_id: Option<String>,
    /// Entra's description (it never contains the secret), or our own words.
    pub message: String,
}

#[derive(Deserialize)]
struct EntraErrorBody {
    error: Option<String>,
    error_description: Option<String>,
    #[serde(default)]
    error_codes: Vec<i64>,
    trace_id: Option<String>,
    correlation_id: Option<String>,
}

impl TokenError {
    fn internal(message: &str) -> Self {
        Self {
            diagnosis: TokenDiagnosis::Unknown,
            http_status: None,
            error: None,
            error_codes: Vec::new(),
            trace_id: None,
            correlation_id: None,
            message: message.to_string(),
        }
    }

    /// Classifies an azure_identity error from Entra's response: the one the transport kept,
    /// or the one inside the error's wrapping.
    pub fn from_azure(err: &azure_core::Error, response: Option<(u16, Vec<u8>)>) -> Self {
        if let Some((status, body)) = response.or_else(|| http_response_of(err)) {
            if let Ok(parsed) = serde_json::from_slice::<EntraErrorBody>(&body) {
                return Self::from_entra(status, parsed);
            }
            let diagnosis = if status >= 500 || status == 429 {
                TokenDiagnosis::Transient
            } else {
                TokenDiagnosis::Unknown
            };
            return Self {
                diagnosis,
                http_status: Some(status),
                message: format!("Entra ID answered HTTP {status}"),
                ..Self::internal("")
            };
        }
        let text = err.to_string();
        let diagnosis = match err.kind() {
            azure_core::error::ErrorKind::Io | azure_core::error::ErrorKind::Connection => {
                TokenDiagnosis::Transient
            }
            _ if text.contains("invalid tenant ID") => TokenDiagnosis::MalformedTenant,
            _ if text.contains("retry policy expired") => TokenDiagnosis::Transient,
            _ => TokenDiagnosis::Unknown,
        };
        Self {
            diagnosis,
            message: first_line(&text),
            ..Self::internal("")
        }
    }

    /// For a cloud that is not one of Microsoft's: keep the classification and short ids, drop
    /// the host's own words and any connect or TLS detail (which would tell a reader what
    /// answers at that address).
    pub fn redact_remote_text(&mut self) {
        self.message = match self.http_status {
            Some(status) => format!(
                "the cloud's authority host answered HTTP {status} ({})",
                self.diagnosis.as_str()
            ),
            None => format!(
                "no usable answer from the cloud's authority host ({})",
                self.diagnosis.as_str()
            ),
        };
        let short = |v: &mut Option<String>| {
            if let Some(text) = v {
                *text = text.chars().take(64).collect();
            }
        };
        short(&mut self.error);
        short(&mut self.trace_id);
        short(&mut self.correlation_id);
    }

    fn from_entra(status: u16, body: EntraErrorBody) -> Self {
        let code = body.error_codes.first().copied();
        let diagnosis = diagnose(body.error.as_deref(), code, status);
        Self {
            diagnosis,
            http_status: Some(status),
            error: body.error,
            error_codes: body.error_codes,
            trace_id: body.trace_id,
            correlation_id: body.correlation_id,
            message: body
                .error_description
                .as_deref()
                .map(first_line)
                .unwrap_or_else(|| format!("Entra ID answered HTTP {status}")),
        }
    }
}

/// `error` decides the class; `error_codes[0]` picks the hint within it.
fn diagnose(error: Option<&str>, code: Option<i64>, status: u16) -> TokenDiagnosis {
    use TokenDiagnosis::*;
    match (error, code) {
        (_, Some(53003)) => BlockedByConditionalAccess,
        (_, Some(90038)) => WrongCloud,
        (_, Some(90024 | 90033 | 50033)) => Transient,
        (Some("invalid_client"), Some(7000222)) => ExpiredSecret,
        (Some("invalid_client"), _) => WrongSecret,
        (Some("unauthorized_client"), Some(7000112)) => AppDisabled,
        (Some("unauthorized_client"), _) => AppNotFound,
        (Some("invalid_request"), Some(90002)) => TenantNotFound,
        (Some("invalid_request"), Some(900023)) => MalformedTenant,
        (Some("invalid_request"), Some(7000218)) => WrongSecret,
        (Some("invalid_request"), Some(700016)) => AppNotFound,
        (Some("invalid_scope" | "invalid_resource"), _) => Configuration,
        (Some("temporarily_unavailable" | "server_error"), _) => Transient,
        _ if status >= 500 || status == 429 => Transient,
        _ => Unknown,
    }
}

fn http_response_of(err: &azure_core::Error) -> Option<(u16, Vec<u8>)> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = current {
        if let Some(az) = e.downcast_ref::<azure_core::Error>()
            && let azure_core::error::ErrorKind::HttpResponse {
                status,
                raw_response: Some(raw),
                ..
            } = az.kind()
        {
            return Some((u16::from(*status), raw.body().as_ref().to_vec()));
        }
        current = e.source();
    }
    None
}

fn first_line(text: &str) -> String {
    text.lines()
        .next()
        .unwrap_or_default()
        .trim()
        .chars()
        .take(500)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_field_decides_and_codes_refine() {
        use TokenDiagnosis::*;
        let cases = [
            (Some("invalid_client"), Some(7000215), 401, WrongSecret),
            (Some("invalid_client"), Some(7000222), 401, ExpiredSecret),
            (Some("unauthorized_client"), Some(700016), 400, AppNotFound),
            (Some("unauthorized_client"), Some(7000112), 400, AppDisabled),
            (Some("invalid_request"), Some(90002), 400, TenantNotFound),
            (Some("invalid_request"), Some(900023), 400, MalformedTenant),
            (Some("invalid_request"), Some(90038), 400, WrongCloud),
            (
                Some("invalid_request"),
                Some(53003),
                400,
                BlockedByConditionalAccess,
            ),
            (Some("invalid_scope"), Some(70011), 400, Configuration),
            (Some("temporarily_unavailable"), None, 503, Transient),
            (None, None, 503, Transient),
            (Some("invalid_grant"), Some(1), 400, Unknown),
        ];
        for (error, code, status, expected) in cases {
            assert_eq!(
                diagnose(error, code, status),
                expected,
                "{error:?} {code:?}"
            );
        }
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let p = Principal {
            endpoints: crate::azure::cloud::Cloud::Public
                .builtin_endpoints()
                .expect("built in"),
            tenant_id: "t".into(),
            client_id: "c".into(),
            secret: SecretString::from("hunter2-secret".to_string()),
        };
        assert!(!format!("{p:?}").contains("hunter2"));
    }
}
