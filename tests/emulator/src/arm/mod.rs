//! Azure Resource Manager: every request that is not Entra or an emulator admin call.
//!
//! A request goes through the same stages as in ARM, in this order, and the first failing stage
//! answers: the bearer token (401s), the api-version (400), the subscription and its tenant
//! (404/401), the principal's permission for the action (403), then the answer itself (the
//! subscription, a resource, or a page of a list; 404s for what does not exist). Later
//! behaviours (throttling with 429, injected faults, unregistered providers) slot in between
//! authorization and the answer, in [`serve`].

mod answers;
mod auth;
mod error;
mod paging;

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use uuid::Uuid;

use crate::app::AppState;
use crate::authz;
use crate::resource_path::{ArmPath, Target};
use error::ArmError;
use paging::Listing;

/// The action ARM checks for `GET /subscriptions/{id}`.
const READ_SUBSCRIPTION: &str = "Microsoft.Resources/subscriptions/read";

/// Remaining subscription reads reported to clients (a full bucket, until throttling exists).
const REMAINING_SUBSCRIPTION_READS: u64 = 249;

/// Facts gathered while serving that shape the response headers.
#[derive(Debug, Default)]
struct ResponseMeta {
    /// Set once the request is charged to a subscription's read budget.
    remaining_subscription_reads: Option<u64>,
}

pub(crate) async fn handle(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let mut meta = ResponseMeta::default();
    if !state.world.arm_latency.is_zero() {
        tokio::time::sleep(state.world.arm_latency).await;
    }
    let outcome = serve(&state, &request, &mut meta);
    if let Err(error) = &outcome {
        tracing::debug!(
            path = request.uri().path(),
            code = error.code,
            "ARM request refused"
        );
    }
    respond(outcome, &meta, request.headers())
}

fn serve(state: &AppState, request: &Request, meta: &mut ResponseMeta) -> Result<Value, ArmError> {
    let path = ArmPath::parse(request.uri().path());
    let target = Target::parse(&path);
    let subscription = target
        .subscription()
        .and_then(|id| state.world.subscription(id));
    // The tenant a 401 challenge points to: the subscription's, as ARM's tenant discovery does.
    let challenge_tenant =
        subscription.map_or("common", |entry| entry.subscription.tenant_id.as_str());

    // 1. Authentication.
    let claims = auth::verified_claims(state, request.headers(), challenge_tenant)?;
    state.counters.record_principal(&claims.oid);
    auth::check_usable(&claims, challenge_tenant)?;
    if request.method() != Method::GET {
        return Err(ArmError::method_not_allowed(request.method().as_str()));
    }

    // 2. api-version.
    let query = QueryParameters::parse(request.uri().query());
    let api_version = query
        .api_version
        .as_deref()
        .ok_or_else(ArmError::missing_api_version)?;
    let authority = request_authority(request, &state.base_url);
    let listing = Listing {
        authority: &authority,
        path: request.uri().path(),
        api_version,
        skip_token: query.skip_token.as_deref(),
    };

    // 3. Subscription.
    let subscription_id = match &target {
        Target::Subscriptions => return answers::subscriptions(&state.world, &claims, &listing),
        Target::Unknown { subscription: None } => {
            return Err(ArmError::not_modelled(&path.display()));
        }
        other => other.subscription().unwrap_or_default(),
    };
    if !is_guid(subscription_id) {
        return Err(ArmError::invalid_subscription_id(subscription_id));
    }
    let entry = subscription.ok_or_else(|| ArmError::subscription_not_found(subscription_id))?;
    let subscription_tenant = &entry.subscription.tenant_id;
    if !subscription_tenant.eq_ignore_ascii_case(&claims.tid) {
        return Err(ArmError::wrong_tenant(&claims.tid, subscription_tenant));
    }
    meta.remaining_subscription_reads = Some(REMAINING_SUBSCRIPTION_READS);

    // 4. Authorization.
    let (action, scope) = match &target {
        Target::Provider(provider) => (provider.read_action(), provider.authorization_scope()),
        Target::Subscription { subscription } => (
            READ_SUBSCRIPTION.to_owned(),
            format!("/subscriptions/{subscription}"),
        ),
        _ => return Err(ArmError::not_modelled(&path.display())),
    };
    if !authz::is_allowed(&entry.subscription.access, &claims.oid, &action) {
        return Err(ArmError::authorization_failed(&claims.oid, &action, &scope));
    }

    // 5. The answer.
    match &target {
        Target::Provider(provider) => answers::provider_path(entry, provider, &listing),
        _ => Ok(answers::subscription(entry)),
    }
}

fn respond(
    outcome: Result<Value, ArmError>,
    meta: &ResponseMeta,
    request_headers: &HeaderMap,
) -> Response {
    let (status, body, gateway, extra) = match outcome {
        Ok(body) => (axum::http::StatusCode::OK, body, false, Vec::new()),
        Err(error) => (
            error.status,
            error.body(),
            error.from_gateway,
            error.headers,
        ),
    };
    let mut response = (status, body.to_string()).into_response();
    let request_id = Uuid::new_v4();
    // ARM keeps the client's correlation id when it sends one.
    let correlation_id = request_headers
        .get("x-ms-correlation-request-id")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| Uuid::try_parse(value).ok())
        .unwrap_or_else(Uuid::new_v4);
    let routing_id = format!(
        "LOCAL:{}:{request_id}",
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
    );

    let headers = response.headers_mut();
    let mut set = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    };
    set(
        header::CONTENT_TYPE.as_str(),
        "application/json; charset=utf-8".to_owned(),
    );
    set(header::CACHE_CONTROL.as_str(), "no-cache".to_owned());
    set(header::PRAGMA.as_str(), "no-cache".to_owned());
    set(header::EXPIRES.as_str(), "-1".to_owned());
    set("x-ms-request-id", request_id.to_string());
    set("x-ms-correlation-request-id", correlation_id.to_string());
    set("x-ms-routing-request-id", routing_id);
    if let Some(remaining) = meta.remaining_subscription_reads {
        set(
            "x-ms-ratelimit-remaining-subscription-reads",
            remaining.to_string(),
        );
    }
    if gateway {
        set("x-ms-failure-cause", "gateway".to_owned());
    }
    for (name, value) in extra {
        set(name, value);
    }
    response
}

/// The query parameters ARM itself reads.
#[derive(Debug, Default)]
struct QueryParameters {
    api_version: Option<String>,
    skip_token: Option<String>,
}

impl QueryParameters {
    fn parse(query: Option<&str>) -> QueryParameters {
        let mut parameters = QueryParameters::default();
        for (name, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            if value.is_empty() {
                continue;
            }
            if name == "api-version" {
                parameters.api_version = Some(value.into_owned());
            } else if name.eq_ignore_ascii_case("$skipToken") {
                parameters.skip_token = Some(value.into_owned());
            }
        }
        parameters
    }
}

/// `host[:port]` as the client addressed it, for absolute links; the emulator's own address
/// when the request does not say or says something that is not a host.
fn request_authority(request: &Request, base_url: &str) -> String {
    let stated = request
        .uri()
        .authority()
        .map(|a| a.as_str().to_owned())
        .or_else(|| {
            request
                .headers()
                .get(header::HOST)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned)
        });
    let is_host = |s: &String| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
    };
    stated
        .filter(is_host)
        .unwrap_or_else(|| base_url.trim_start_matches("https://").to_owned())
}

fn is_guid(id: &str) -> bool {
    id.len() == 36 && Uuid::try_parse(id).is_ok()
}
