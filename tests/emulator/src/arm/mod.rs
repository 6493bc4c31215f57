//! Azure Resource Manager: every request that is not Entra or an emulator admin call.
//!
//! A request goes through the same stages as in ARM, in this order, and the first failing stage
//! answers (see [`serve`]):
//!
//! 0. the gateway: injected faults and latency (any status; before anything else, so faults
//!    cost no throttling tokens);
//! 1. the bearer token (401s);
//! 2. the api-version (400);
//! 3. the subscription and its tenant (400/404/401);
//! 4. the principal's permission for the action (403);
//! 5. the registration of the provider namespaces in the path (409);
//! 6. throttling: the subscription's read buckets, then resource-provider limits (429);
//! 7. the answer itself: the subscription, its providers, the authorization endpoints, a
//!    resource, or a page of a list (404s for what does not exist).

mod answers;
mod auth;
mod authorization;
mod error;
mod paging;
mod response;

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, header};
use axum::response::Response;
use chrono::Utc;
use serde_json::Value;
use uuid::Uuid;

use crate::app::AppState;
use crate::authz;
use crate::jwt::Claims;
use crate::resource_path::{ArmPath, Target};
use crate::scenario::Paging;
use crate::throttle::{retry_after_headers, retry_after_seconds};
use crate::world::SubscriptionEntry;
use authorization::Endpoint;
use error::ArmError;
use paging::Listing;
use response::{ResponseMeta, respond};

/// The action ARM checks for `GET /subscriptions/{id}`.
const READ_SUBSCRIPTION: &str = "Microsoft.Resources/subscriptions/read";
/// The action ARM checks for `GET /subscriptions/{id}/providers[/{namespace}]`.
const READ_PROVIDERS: &str = "Microsoft.Resources/subscriptions/providers/read";
/// The action ARM checks for `GET /subscriptions/{id}/resources`.
const READ_RESOURCES: &str = "Microsoft.Resources/subscriptions/resources/read";
/// The action ARM checks for `GET /subscriptions/{id}/resourcegroups`.
const READ_RESOURCE_GROUPS: &str = "Microsoft.Resources/subscriptions/resourceGroups/read";

pub(crate) async fn handle(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let (parts, _body) = request.into_parts();
    let mut meta = ResponseMeta::default();
    let outcome = serve(&state, &parts, &mut meta).await;
    if let Err(error) = &outcome {
        tracing::debug!(
            path = parts.uri.path(),
            code = error.code,
            status = error.status.as_u16(),
            "ARM request refused"
        );
    }
    respond(outcome, &meta, &parts.headers)
}

async fn serve(
    state: &AppState,
    request: &Parts,
    meta: &mut ResponseMeta,
) -> Result<Value, ArmError> {
    let path = ArmPath::parse(request.uri.path());
    let target = Target::parse(&path);

    // 0. The gateway.
    gateway(state, request, &target).await?;

    let world = state.world();
    let subscription = target.subscription().and_then(|id| world.subscription(id));
    // The tenant a 401 challenge points to: the subscription's, as ARM's tenant discovery does.
    let challenge_tenant =
        subscription.map_or("common", |entry| entry.subscription.tenant_id.as_str());

    // 1. Authentication.
    let token = auth::verified_claims(state, &request.headers, challenge_tenant)?;
    state.counters.record_principal(&token.claims.oid);
    auth::check_usable(&token, challenge_tenant)?;
    let claims = token.claims;
    if request.method != Method::GET {
        return Err(ArmError::method_not_allowed(request.method.as_str()));
    }

    // 2. api-version.
    let query = QueryParameters::parse(request.uri.query());
    let api_version = query
        .api_version
        .as_deref()
        .ok_or_else(ArmError::missing_api_version)?;
    let authority = request_authority(request, &state.base_url);
    let mut listing = Listing {
        authority: &authority,
        path: request.uri.path(),
        api_version,
        skip_token: query.skip_token.as_deref(),
        paging: Paging::Standard,
        expand: query.expand.as_deref(),
    };

    // 3. Subscription.
    let subscription_id = match &target {
        Target::Subscriptions => return answers::subscriptions(&world, &claims, &listing),
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
    listing.paging = entry.subscription.paging;

    // 4. Authorization.
    let endpoint = match &target {
        Target::Provider(provider) => Endpoint::parse(provider),
        _ => None,
    };
    authorize(entry, &claims, &target, endpoint.as_ref(), &path)?;

    // 5. Provider registration.
    if let Target::Provider(provider) = &target {
        for namespace in provider.namespaces() {
            if let Some(configured) = entry.unregistered(namespace) {
                return Err(ArmError::missing_registration(configured));
            }
        }
    }

    // 6. Throttling.
    charge(state, entry, &claims, &target, &path, meta)?;

    // 7. The answer.
    match (&target, &endpoint) {
        (Target::Provider(_), Some(endpoint)) => {
            authorization::answer(entry, endpoint, &claims.oid, query.filter.as_deref())
        }
        (Target::Provider(provider), None) => answers::provider_path(entry, provider, &listing),
        (Target::Providers { .. }, _) => Ok(answers::providers(entry)),
        (Target::Resources { .. }, _) => {
            answers::resources(entry, &listing, listing.expand.unwrap_or_default())
        }
        (Target::ResourceGroups { .. }, _) => answers::resource_groups(entry, &listing),
        (Target::ProviderNamespace { namespace, .. }, _) => Ok(answers::provider(entry, namespace)),
        _ => Ok(answers::subscription(entry)),
    }
}

/// Stage 0: what ARM's front door does before looking at the request. The scenario's latency
/// applies to every request; a fault may add to it, and answer instead of ARM.
async fn gateway(state: &AppState, request: &Parts, target: &Target) -> Result<(), ArmError> {
    let path = request.uri.path();
    // The emulator's own (unknown) admin paths land here too; faults are not for them.
    let fault = if path.starts_with(crate::app::ADMIN_PREFIX) {
        None
    } else {
        state.faults.take(path)
    };
    let extra = fault
        .as_ref()
        .map_or(std::time::Duration::ZERO, |fault| fault.latency_duration());
    let latency = state.arm_latency().saturating_add(extra);
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let Some(fault) = fault else {
        return Ok(());
    };
    state.counters.record_fault();
    let Some(status) = fault.status else {
        return Ok(());
    };
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if status == StatusCode::TOO_MANY_REQUESTS {
        let principal = auth::principal_of(state, &request.headers);
        state.counters.record_throttled(principal.as_deref());
    }
    let namespace = match target {
        Target::Provider(provider) => provider.namespace.as_str(),
        _ => "Microsoft.Resources",
    };
    let mut error = match fault.body {
        Some(body) => ArmError::injected_body(status, body),
        None => ArmError::injected(status, namespace),
    };
    error.pad_bytes = fault.pad_bytes;
    let headers = fault.retry_after.map_or_else(Vec::new, |seconds| {
        let wait = std::time::Duration::from_secs(seconds);
        retry_after_headers(state.throttle.retry_after_style(), wait, Utc::now())
    });
    Err(error.with_headers(headers))
}

/// Stage 4: the principal must hold the action the request needs.
fn authorize(
    entry: &SubscriptionEntry,
    claims: &Claims,
    target: &Target,
    endpoint: Option<&Endpoint>,
    path: &ArmPath,
) -> Result<(), ArmError> {
    let subscription_scope = format!("/subscriptions/{}", entry.subscription.id);
    let (action, scope) = match target {
        Target::Provider(provider) => (provider.read_action(), provider.authorization_scope()),
        Target::Subscription { .. } => (READ_SUBSCRIPTION.to_owned(), subscription_scope),
        Target::Providers { .. } | Target::ProviderNamespace { .. } => {
            (READ_PROVIDERS.to_owned(), subscription_scope)
        }
        Target::Resources { .. } => (READ_RESOURCES.to_owned(), subscription_scope),
        Target::ResourceGroups { .. } => (READ_RESOURCE_GROUPS.to_owned(), subscription_scope),
        _ => return Err(ArmError::not_modelled(&path.display())),
    };
    let grants = &entry.subscription.access;
    let allowed = if endpoint.is_some_and(Endpoint::needs_only_a_grant) {
        authz::has_any_grant(grants, &claims.oid)
    } else {
        authz::is_allowed(grants, &claims.oid, &action)
    };
    if allowed {
        Ok(())
    } else {
        Err(ArmError::authorization_failed(&claims.oid, &action, &scope))
    }
}

/// Stage 6: one token from the principal's and the subscription's read buckets, then from the
/// provider limits the request counts against.
fn charge(
    state: &AppState,
    entry: &SubscriptionEntry,
    claims: &Claims,
    target: &Target,
    path: &ArmPath,
    meta: &mut ResponseMeta,
) -> Result<(), ArmError> {
    let now = Instant::now();
    let subscription = entry.subscription.id.as_str();
    let style = state.throttle.retry_after_style();
    match state.throttle.charge_read(subscription, &claims.oid, now) {
        Ok(budget) => meta.read_budget = Some(budget),
        Err(refused) => {
            meta.read_budget = Some(refused.budget);
            state.counters.record_throttled(Some(&claims.oid));
            let seconds = retry_after_seconds(refused.wait);
            return Err(
                ArmError::subscription_throttled(subscription, &claims.oid, seconds)
                    .with_headers(retry_after_headers(style, refused.wait, Utc::now())),
            );
        }
    }
    let Target::Provider(provider) = target else {
        return Ok(());
    };
    let full_type = provider.full_type();
    let region = entry.location_of(path);
    match state.throttle.charge_provider(
        subscription,
        &full_type,
        provider.is_collection(),
        region.as_deref(),
        now,
    ) {
        Ok(budgets) => {
            meta.provider_budgets = budgets;
            Ok(())
        }
        Err(refusal) => {
            state.counters.record_throttled(Some(&claims.oid));
            let limit = refusal.limit;
            let seconds = retry_after_seconds(refusal.wait);
            Err(ArmError::resource_throttled(
                &limit.action(),
                limit.limit,
                &limit.interval(),
                seconds,
            )
            .with_headers(retry_after_headers(style, refusal.wait, Utc::now())))
        }
    }
}

/// The query parameters ARM itself reads.
#[derive(Debug, Default)]
struct QueryParameters {
    api_version: Option<String>,
    skip_token: Option<String>,
    filter: Option<String>,
    expand: Option<String>,
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
            } else if name.eq_ignore_ascii_case("$filter") {
                parameters.filter = Some(value.into_owned());
            } else if name.eq_ignore_ascii_case("$expand") {
                parameters.expand = Some(value.into_owned());
            }
        }
        parameters
    }
}

/// `host[:port]` as the client addressed it, for absolute links; the emulator's own address
/// when the request does not say or says something that is not a host.
pub(crate) fn request_authority(request: &Parts, base_url: &str) -> String {
    let stated = request
        .uri
        .authority()
        .map(|a| a.as_str().to_owned())
        .or_else(|| {
            request
                .headers
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
