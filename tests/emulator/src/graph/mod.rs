//! Microsoft Graph v1.0, for the Entra ID checks: `GET /v1.0/{path}` on the same https server
//! (a custom cloud's `graph` endpoint is the emulator's base URL; the public cloud's Graph
//! audience `https://graph.microsoft.com` is accepted too).
//!
//! Answers come from the token's tenant's `graph` data in the scenario: an object, or a
//! collection paged with `$top` / `$skiptoken` and an absolute `@odata.nextLink`, as Graph does.
//! A request goes through Graph's stages in order, the first failing one answering with Graph's
//! real error body (`{"error":{"code","message","innerError":{date, request-id,
//! client-request-id}}}`):
//!
//! 0. the gateway: injected faults (a 429 gets Graph's throttling body and `Retry-After`);
//! 1. the bearer token: present, issued here, not expired, for a Graph audience (401
//!    `InvalidAuthenticationToken`); then the tenant's Graph throttling, when the scenario sets
//!    one (429 `TooManyRequests`, `Retry-After` in seconds);
//! 2. the application permission the path needs, from the token's `roles` claim (403
//!    `Authorization_RequestDenied`, "Insufficient privileges to complete the operation.");
//! 3. the object or collection (404 `Request_ResourceNotFound`).

mod error;
mod permissions;

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::app::AppState;
use crate::jwt::Claims;
use crate::resource_path::percent_decode;
use crate::scenario::{DEFAULT_GRAPH_PAGE_SIZE, GraphData};
use error::GraphError;

/// The path prefix of Graph v1.0 requests.
pub(crate) const PREFIX: &str = "/v1.0";
/// Graph's largest `$top`.
const MAX_TOP: usize = 999;
/// Audiences Graph accepts besides the emulator's own base URL: the clouds' Graph hosts and
/// Graph's application id.
const GRAPH_AUDIENCES: [&str; 4] = [
    "https://graph.microsoft.com",
    "https://graph.microsoft.us",
    "https://microsoftgraph.chinacloudapi.cn",
    "00000003-0000-0000-c000-000000000000",
];
const SKIP_TOKEN_PREFIX: &str = "emulator-graph-offset:";

/// Whether a token audience is Microsoft Graph's (a real cloud's, or the emulator's base URL
/// as a custom cloud's Graph endpoint).
pub(crate) fn is_graph_audience(audience: &str, base_url: &str) -> bool {
    let audience = audience.trim_end_matches('/');
    GRAPH_AUDIENCES
        .iter()
        .any(|known| known.eq_ignore_ascii_case(audience))
        || audience.eq_ignore_ascii_case(base_url.trim_end_matches('/'))
}

/// A Graph path as a lookup key: decoded, lower case, no trailing slash.
pub(crate) fn path_key(path: &str) -> String {
    percent_decode(path.trim_end_matches('/')).to_lowercase()
}

pub(crate) async fn handle(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let (parts, _body) = request.into_parts();
    let client_request_id = parts
        .headers
        .get("client-request-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| Uuid::try_parse(v).ok())
        .unwrap_or_else(Uuid::new_v4);
    let request_id = Uuid::new_v4();
    let outcome = serve(&state, &parts).await;
    let (status, body, extra) = match outcome {
        Ok(body) => (StatusCode::OK, body, Vec::new()),
        Err(error) => {
            tracing::debug!(
                path = parts.uri.path(),
                code = error.code,
                status = error.status.as_u16(),
                "Graph request refused"
            );
            let body = error.body(request_id, client_request_id);
            (error.status, body, error.headers)
        }
    };
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    let mut set = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    };
    set(
        header::CONTENT_TYPE.as_str(),
        "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8".to_owned(),
    );
    set(header::CACHE_CONTROL.as_str(), "no-cache".to_owned());
    set("request-id", request_id.to_string());
    set("client-request-id", client_request_id.to_string());
    set(
        "x-ms-ags-diagnostic",
        r#"{"ServerInfo":{"DataCenter":"Local","Slice":"E","Ring":"1","ScaleUnit":"000","RoleInstance":"azure-emulator"}}"#.to_owned(),
    );
    for (name, value) in extra {
        set(name, value);
    }
    response
}

async fn serve(
    state: &AppState,
    request: &axum::http::request::Parts,
) -> Result<Value, GraphError> {
    let full_path = request.uri.path();
    // 0. The gateway.
    gateway(state, request).await?;
    // 1. The token.
    let claims = authenticate(state, &request.headers)?;
    state.counters.record_principal(&claims.oid);
    if request.method != Method::GET {
        return Err(GraphError::method_not_allowed(request.method.as_str()));
    }
    let path = full_path.get(PREFIX.len()..).unwrap_or_default();
    let world = state.world();
    let tenant = world
        .tenant(&claims.tid)
        .ok_or_else(GraphError::invalid_tenant)?;
    let data = &tenant.graph;
    // Graph's throttling, per application in the tenant.
    if let Some(limit) = data.throttling
        && let Err(wait) = state.throttle.charge_graph(
            &tenant.id,
            &claims.appid,
            limit.limit,
            limit.per_seconds,
            std::time::Instant::now(),
        )
    {
        state.counters.record_throttled(Some(&claims.oid));
        let seconds = crate::throttle::retry_after_seconds(wait);
        let mut error = GraphError::injected(StatusCode::TOO_MANY_REQUESTS);
        error.headers.push(("retry-after", seconds.to_string()));
        return Err(error);
    }
    // 2. The application permission.
    let needed = permissions::needed(data, path);
    if !needed
        .iter()
        .any(|permission| permissions::granted(&claims.roles, permission))
    {
        return Err(GraphError::insufficient_privileges());
    }
    // 3. The answer.
    let key = path_key(path);
    let authority = crate::arm::request_authority(request, &state.base_url);
    let context = format!(
        "https://{authority}{PREFIX}/$metadata#{}",
        path.trim_start_matches('/')
    );
    if let Some((_, object)) = data.objects.iter().find(|(p, _)| path_key(p) == key) {
        let mut object = object.clone();
        if let Some(map) = object.as_object_mut() {
            map.entry("@odata.context")
                .or_insert_with(|| Value::String(format!("{context}/$entity")));
        }
        return Ok(object);
    }
    if let Some((_, items)) = data.collections.iter().find(|(p, _)| path_key(p) == key) {
        let query = Query::parse(request.uri.query());
        return page(items, data, &query, &authority, path, &context);
    }
    Err(GraphError::not_found(path))
}

/// Stage 0: injected faults, with Graph's bodies.
async fn gateway(state: &AppState, request: &axum::http::request::Parts) -> Result<(), GraphError> {
    let Some(fault) = state.faults.take(request.uri.path()) else {
        return Ok(());
    };
    state.counters.record_fault();
    if fault.latency_ms > 0 {
        tokio::time::sleep(fault.latency_duration()).await;
    }
    let Some(status) = fault.status else {
        return Ok(());
    };
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if status == StatusCode::TOO_MANY_REQUESTS {
        let principal = bearer(&request.headers)
            .and_then(|token| state.signer.verify(token).ok())
            .map(|v| v.claims.oid);
        state.counters.record_throttled(principal.as_deref());
    }
    let mut error = match fault.body {
        Some(body) => GraphError::raw(status, body),
        None => GraphError::injected(status),
    };
    if let Some(seconds) = fault.retry_after {
        // Graph always says it in seconds.
        error.headers.push(("retry-after", seconds.to_string()));
    }
    Err(error)
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
        .filter(|t| !t.is_empty())
}

/// Stage 1: a token this emulator issued, unexpired, for Graph.
fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Claims, GraphError> {
    let token = bearer(headers).ok_or_else(GraphError::empty_token)?;
    let verified = state
        .signer
        .verify(token)
        .map_err(|_| GraphError::invalid_token())?;
    if verified.retired || verified.claims.exp <= Utc::now().timestamp() {
        return Err(GraphError::expired_token());
    }
    if !is_graph_audience(&verified.claims.aud, &state.base_url) {
        return Err(GraphError::invalid_audience());
    }
    Ok(verified.claims)
}

/// The OData query options the emulator reads.
#[derive(Debug, Default)]
struct Query {
    top: Option<usize>,
    skip_token: Option<String>,
    /// Every other option, kept for the next link (`$select`, `$filter`, ...).
    others: Vec<(String, String)>,
}

impl Query {
    fn parse(query: Option<&str>) -> Query {
        let mut out = Query::default();
        for (name, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            if name.eq_ignore_ascii_case("$top") {
                out.top = value.trim().parse().ok();
            } else if name.eq_ignore_ascii_case("$skiptoken") {
                out.skip_token = Some(value.into_owned());
            } else {
                out.others.push((name.into_owned(), value.into_owned()));
            }
        }
        out
    }
}

/// One page of a collection and, unless it is the last, the absolute link to the next.
fn page(
    items: &[Value],
    data: &GraphData,
    query: &Query,
    authority: &str,
    path: &str,
    context: &str,
) -> Result<Value, GraphError> {
    let size = query
        .top
        .or(data.page_size)
        .unwrap_or(DEFAULT_GRAPH_PAGE_SIZE)
        .clamp(1, MAX_TOP);
    let offset = match &query.skip_token {
        None => 0,
        Some(token) => decode_skip_token(token).ok_or_else(GraphError::bad_skip_token)?,
    };
    let end = offset.saturating_add(size).min(items.len());
    let value: Vec<Value> = items.get(offset..end).unwrap_or_default().to_vec();
    let mut body = json!({ "@odata.context": context, "value": value });
    if end < items.len() {
        let mut link = format!("https://{authority}{PREFIX}{path}?");
        for (name, value) in &query.others {
            link.push_str(&format!("{}={}&", encode(name), encode(value)));
        }
        if let Some(top) = query.top {
            link.push_str(&format!("$top={top}&"));
        }
        link.push_str("$skiptoken=");
        link.push_str(&URL_SAFE_NO_PAD.encode(format!("{SKIP_TOKEN_PREFIX}{end}")));
        body["@odata.nextLink"] = Value::String(link);
    }
    Ok(body)
}

fn decode_skip_token(token: &str) -> Option<usize> {
    let bytes = URL_SAFE_NO_PAD.decode(token.trim()).ok()?;
    String::from_utf8(bytes)
        .ok()?
        .strip_prefix(SKIP_TOKEN_PREFIX)?
        .parse()
        .ok()
}

/// Percent-encodes a query name or value, keeping `$` (Graph's links keep `$top`, `$select`).
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'$' | b',') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audiences() {
        assert!(is_graph_audience(
            "https://graph.microsoft.com/",
            "https://localhost:1"
        ));
        assert!(is_graph_audience(
            "https://localhost:1",
            "https://localhost:1/"
        ));
        assert!(!is_graph_audience(
            "https://management.azure.com",
            "https://localhost:1"
        ));
    }

    #[test]
    fn pages_and_links() {
        let items: Vec<Value> = (0..5).map(|i| json!({ "id": i })).collect();
        let data = GraphData {
            page_size: Some(2),
            ..GraphData::default()
        };
        let query = Query::parse(Some("$select=id,displayName"));
        let first = page(&items, &data, &query, "localhost:1", "/users", "ctx").expect("page");
        assert_eq!(first["value"].as_array().map(Vec::len), Some(2));
        let link = first["@odata.nextLink"].as_str().expect("link");
        assert!(
            link.starts_with("https://localhost:1/v1.0/users?$select=id,displayName&$skiptoken=")
        );
        let token = link.rsplit('=').next().expect("token");
        let query = Query::parse(Some(&format!("$skiptoken={token}")));
        let second = page(&items, &data, &query, "localhost:1", "/users", "ctx").expect("page");
        assert_eq!(second["value"][0]["id"], 2);
        let query = Query::parse(Some("$top=10"));
        let all = page(&items, &data, &query, "localhost:1", "/users", "ctx").expect("page");
        assert_eq!(all["value"].as_array().map(Vec::len), Some(5));
        assert!(all.get("@odata.nextLink").is_none());
        let bad = Query::parse(Some("$skiptoken=garbage"));
        assert!(page(&items, &data, &bad, "localhost:1", "/users", "ctx").is_err());
    }
}
