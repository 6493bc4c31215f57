//! The Entra ID v2.0 token endpoint (client credentials).
//!
//! `POST /{tenant}/oauth2/v2.0/token` answers like login.microsoftonline.com: a bearer token for
//! a valid app and secret, otherwise the real error body (`error`, an `AADSTSnnnn` description
//! with trace and correlation ids, `error_codes`, ...) with the real status, so that the
//! product's handling of expired, wrong or missing credentials can be tested. Injected faults
//! apply here too, before anything is checked, as Entra's front door would fail.

mod error;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::Utc;
use serde_json::json;
use uuid::Uuid;

use crate::app::AppState;
use crate::faults::Fault;
use crate::jwt::Claims;
use crate::resource_path::percent_decode;
use error::EntraError;

/// Scopes OpenID Connect allows next to a resource's `/.default`; they name no resource.
const OIDC_SCOPES: [&str; 4] = ["openid", "profile", "offline_access", "email"];

pub(crate) async fn token(
    State(state): State<Arc<AppState>>,
    Path(tenant): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let client_request_id = headers
        .get("client-request-id")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| Uuid::try_parse(value).ok());
    let request = TokenRequest::parse(&headers, &body);
    if let Some(client_id) = &request.client_id {
        state.counters.record_token_request(client_id);
    }
    let trace_id = Uuid::new_v4();
    let correlation_id = client_request_id.unwrap_or_else(Uuid::new_v4);
    let mut response = match gateway(&state, uri.path()).await {
        Some(fault) => fault_response(&state, fault, trace_id, correlation_id),
        None => answer(&state, &tenant, &request, trace_id, correlation_id),
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store, no-cache"),
    );
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    if let Ok(value) = HeaderValue::from_str(&trace_id.to_string()) {
        headers.insert("x-ms-request-id", value);
    }
    if let Some(id) = client_request_id
        && let Ok(value) = HeaderValue::from_str(&id.to_string())
    {
        headers.insert("client-request-id", value);
    }
    response
}

/// The fault this request gets, after its latency, if it is one that answers (has a status).
async fn gateway(state: &AppState, path: &str) -> Option<Fault> {
    let fault = state.faults.take(path)?;
    state.counters.record_fault();
    if fault.latency_ms > 0 {
        tokio::time::sleep(fault.latency_duration()).await;
    }
    fault.status.is_some().then_some(fault)
}

fn fault_response(
    state: &AppState,
    fault: Fault,
    trace_id: Uuid,
    correlation_id: Uuid,
) -> Response {
    let status = fault
        .status
        .and_then(|status| StatusCode::from_u16(status).ok())
        .unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    if status == StatusCode::TOO_MANY_REQUESTS {
        state.counters.record_throttled(None);
    }
    let mut response = match fault.body {
        Some(body) => (status, body.to_string()).into_response(),
        None => EntraError::injected(status).into_response(trace_id, correlation_id),
    };
    if let Some(seconds) = fault.retry_after {
        let wait = std::time::Duration::from_secs(seconds);
        let style = state.throttle.retry_after_style();
        for (name, value) in crate::throttle::retry_after_headers(style, wait, Utc::now()) {
            if let Ok(value) = HeaderValue::from_str(&value) {
                response.headers_mut().insert(name, value);
            }
        }
    }
    response
}

fn answer(
    state: &AppState,
    tenant: &str,
    request: &TokenRequest,
    trace_id: Uuid,
    correlation_id: Uuid,
) -> Response {
    match issue(state, tenant, request) {
        Ok(issued) => (
            StatusCode::OK,
            json!({
                "token_type": "Bearer",
                "expires_in": issued.lifetime,
                "ext_expires_in": issued.lifetime,
                "access_token": issued.access_token,
            })
            .to_string(),
        )
            .into_response(),
        Err(error) => {
            tracing::info!(tenant, code = error.code, "token request refused");
            error.into_response(trace_id, correlation_id)
        }
    }
}

/// The form fields of a token request. Client credentials may also come as HTTP Basic
/// authentication (RFC 6749 §2.3.1). Empty fields count as absent.
#[derive(Debug, Default)]
struct TokenRequest {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    scope: Option<String>,
}

impl TokenRequest {
    fn parse(headers: &HeaderMap, body: &[u8]) -> TokenRequest {
        let mut request = TokenRequest::default();
        for (name, value) in url::form_urlencoded::parse(body) {
            if value.is_empty() {
                continue;
            }
            let slot = match name.as_ref() {
                "grant_type" => &mut request.grant_type,
                "client_id" => &mut request.client_id,
                "client_secret" => &mut request.client_secret,
                "scope" => &mut request.scope,
                _ => continue,
            };
            *slot = Some(value.into_owned());
        }
        if let Some((id, secret)) = basic_credentials(headers) {
            request.client_id.get_or_insert(id);
            request.client_secret.get_or_insert(secret);
        }
        request
    }
}

fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let form_decode = |s: &str| percent_decode(&s.replace('+', " "));
    Some((form_decode(id), form_decode(secret))).filter(|(id, _)| !id.is_empty())
}

struct Issued {
    access_token: String,
    lifetime: u64,
}

fn issue(
    state: &AppState,
    tenant_name: &str,
    request: &TokenRequest,
) -> Result<Issued, EntraError> {
    if !is_well_formed_tenant(tenant_name) {
        return Err(EntraError::malformed_tenant(tenant_name));
    }
    let world = state.world();
    let tenant = world
        .tenant(tenant_name)
        .ok_or_else(|| EntraError::unknown_tenant(tenant_name))?;
    if let Some(cloud) = &tenant.national_cloud {
        return Err(EntraError::national_cloud_tenant(tenant_name, cloud));
    }

    let grant_type = request
        .grant_type
        .as_deref()
        .ok_or_else(|| EntraError::missing_parameter("grant_type"))?;
    if grant_type != "client_credentials" {
        return Err(EntraError::unsupported_grant_type(grant_type));
    }
    let client_id = request
        .client_id
        .as_deref()
        .ok_or_else(|| EntraError::missing_parameter("client_id"))?;
    let scope = request
        .scope
        .as_deref()
        .ok_or_else(|| EntraError::missing_parameter("scope"))?;
    let audience = audience_of(scope)?;

    let app = tenant
        .application(client_id)
        .ok_or_else(|| EntraError::unknown_application(client_id, tenant_name))?;
    if !app.enabled {
        return Err(EntraError::disabled_application(
            &app.client_id,
            &app.display_name,
        ));
    }
    let secret = request
        .client_secret
        .as_deref()
        .ok_or_else(EntraError::missing_secret)?;
    let now = Utc::now();
    let matching: Vec<_> = app.secrets.iter().filter(|s| s.value == secret).collect();
    if matching.is_empty() {
        return Err(EntraError::invalid_secret(&app.client_id));
    }
    if matching.iter().all(|s| s.is_expired_at(now)) {
        return Err(EntraError::expired_secret(&app.client_id));
    }
    if app.conditional_access_blocked {
        return Err(EntraError::blocked_by_conditional_access());
    }

    let lifetime = world.token_lifetime_seconds;
    let mut claims = Claims::app_only(
        &audience,
        &tenant.id,
        &app.client_id,
        &app.object_id,
        now.timestamp(),
        lifetime,
    );
    // Entra puts the app roles granted on the token's resource in `roles`; the emulator models
    // app roles for Microsoft Graph only (ARM authorizes by RBAC, not by roles).
    if crate::graph::is_graph_audience(&audience, &state.base_url) {
        claims = claims.with_roles(&app.graph_permissions);
    }
    Ok(Issued {
        access_token: state.signer.sign(&claims),
        lifetime,
    })
}

/// The audience a client-credentials scope asks for: exactly one `{resource}/.default`.
fn audience_of(scope: &str) -> Result<String, EntraError> {
    let resources: Vec<&str> = scope
        .split_whitespace()
        .filter(|s| !OIDC_SCOPES.iter().any(|oidc| s.eq_ignore_ascii_case(oidc)))
        .collect();
    match resources.as_slice() {
        [one] => one
            .strip_suffix("/.default")
            .filter(|resource| !resource.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| EntraError::invalid_scope(one)),
        [] => Err(EntraError::invalid_scope(scope)),
        _ => Err(EntraError::incompatible_scopes(scope)),
    }
}

/// A tenant in a token URL must be a GUID or look like a domain name.
fn is_well_formed_tenant(tenant: &str) -> bool {
    let is_guid = tenant.len() == 36 && Uuid::try_parse(tenant).is_ok();
    let labels: Vec<&str> = tenant.split('.').collect();
    let is_domain = labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    is_guid || is_domain
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_syntax() {
        assert!(is_well_formed_tenant(
            "72f988bf-86f1-41af-91ab-2d7cd011db47"
        ));
        assert!(is_well_formed_tenant("contoso.onmicrosoft.com"));
        assert!(!is_well_formed_tenant(
            "72f988bf-86f1-41af-91ab-2d7cd011db4"
        ));
        assert!(!is_well_formed_tenant("undefined"));
        assert!(!is_well_formed_tenant("bad_name.com"));
        assert!(!is_well_formed_tenant("-x.com"));
    }

    #[test]
    fn scopes() {
        assert_eq!(
            audience_of("https://management.azure.com/.default")
                .ok()
                .as_deref(),
            Some("https://management.azure.com")
        );
        assert_eq!(
            audience_of("https://management.core.windows.net//.default")
                .ok()
                .as_deref(),
            Some("https://management.core.windows.net/")
        );
        assert_eq!(
            audience_of("openid https://graph.microsoft.com/.default")
                .ok()
                .as_deref(),
            Some("https://graph.microsoft.com")
        );
        assert!(audience_of("https://management.azure.com/user_impersonation").is_err());
        assert!(audience_of("/.default").is_err());
        let two = audience_of(
            "https://management.azure.com/.default https://graph.microsoft.com/.default",
        );
        assert!(two.is_err_and(|e| e.message.contains("not compatible")));
    }
}
