//! The ARM response: status and JSON body, with the headers ARM puts on every answer (request,
//! correlation and routing ids, caching) and those that depend on what happened (remaining
//! throttling budgets, `x-ms-failure-cause`, `Retry-After`, `WWW-Authenticate`).

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use uuid::Uuid;

use super::error::ArmError;
use crate::throttle::{ProviderBudget, ProviderOperation, ReadBudget};

/// Facts gathered while serving that shape the response headers.
#[derive(Debug, Default)]
pub(crate) struct ResponseMeta {
    /// Set once the request reached the subscription's read budget.
    pub(crate) read_budget: Option<ReadBudget>,
    /// The provider limits the request counted against.
    pub(crate) provider_budgets: Vec<ProviderBudget>,
}

/// `{"value":[],"pad":"xxx..."}` of about `bytes` bytes, streamed in 64 KiB chunks (no
/// `Content-Length`), produced as it is sent: the emulator never holds it whole.
fn padded_page(bytes: u64) -> axum::body::Body {
    const CHUNK: u64 = 64 * 1024;
    let head = bytes::Bytes::from_static(br#"{"value":[],"pad":""#);
    let tail = bytes::Bytes::from_static(br#""}"#);
    let filler = bytes::Bytes::from(vec![b'x'; CHUNK as usize]);
    let chunks = bytes.div_ceil(CHUNK);
    let stream = futures_util::stream::iter(
        std::iter::once(head)
            .chain((0..chunks).map(move |_| filler.clone()))
            .chain(std::iter::once(tail))
            .map(Ok::<_, std::io::Error>),
    );
    axum::body::Body::from_stream(stream)
}

pub(crate) fn respond(
    outcome: Result<Value, ArmError>,
    meta: &ResponseMeta,
    request_headers: &HeaderMap,
) -> Response {
    let (status, body, gateway, extra, pad) = match outcome {
        Ok(body) => (StatusCode::OK, body, false, Vec::new(), None),
        Err(error) => {
            let body = error.body();
            (
                error.status,
                body,
                error.from_gateway,
                error.headers,
                error.pad_bytes,
            )
        }
    };
    let mut response = match pad {
        Some(bytes) => (status, padded_page(bytes)).into_response(),
        None => (status, body.to_string()).into_response(),
    };
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
    if let Some(budget) = meta.read_budget {
        set(
            "x-ms-ratelimit-remaining-subscription-reads",
            budget.remaining.to_string(),
        );
        set(
            "x-ms-ratelimit-remaining-subscription-global-reads",
            budget.global_remaining.to_string(),
        );
    }
    for budget in &meta.provider_budgets {
        // `entities-read` counts collection calls; `resource-requests` the other reads.
        let name = match budget.operation {
            ProviderOperation::List => {
                "x-ms-ratelimit-remaining-subscription-resource-entities-read"
            }
            ProviderOperation::Read => "x-ms-ratelimit-remaining-subscription-resource-requests",
        };
        set(name, budget.remaining.to_string());
    }
    if gateway {
        set("x-ms-failure-cause", "gateway".to_owned());
    }
    for (name, value) in extra {
        set(name, value);
    }
    response
}
