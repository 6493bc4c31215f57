//! Microsoft Graph error responses: `{"error":{"code","message","innerError":{...}}}` with the
//! codes and messages Graph really sends (Microsoft Graph docs, "Microsoft Graph error
//! responses and resource types" and "throttling").

use axum::http::StatusCode;
use chrono::Utc;
use serde_json::{Value, json};
use uuid::Uuid;

#[derive(Debug)]
pub(crate) struct GraphError {
    pub(crate) status: StatusCode,
    pub(crate) code: &'static str,
    message: String,
    /// Extra response headers, e.g. `Retry-After`.
    pub(crate) headers: Vec<(&'static str, String)>,
    /// A whole body to send instead (an injected fault's).
    raw_body: Option<Value>,
}

impl GraphError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> GraphError {
        GraphError {
            status,
            code,
            message: message.into(),
            headers: Vec::new(),
            raw_body: None,
        }
    }

    pub(crate) fn body(&self, request_id: Uuid, client_request_id: Uuid) -> Value {
        if let Some(body) = &self.raw_body {
            return body.clone();
        }
        let mut inner = json!({
            "date": Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string(),
            "request-id": request_id.to_string(),
            "client-request-id": client_request_id.to_string(),
        });
        if self.status == StatusCode::TOO_MANY_REQUESTS {
            inner["code"] = json!("429");
            inner["status"] = json!("429");
            inner["message"] = json!("Please retry after");
        }
        json!({ "error": { "code": self.code, "message": self.message, "innerError": inner } })
    }

    pub(crate) fn raw(status: StatusCode, body: Value) -> GraphError {
        let mut error = GraphError::new(status, "InjectedFault", "");
        error.raw_body = Some(body);
        error
    }

    /// The body Graph sends with an injected status.
    pub(crate) fn injected(status: StatusCode) -> GraphError {
        match status.as_u16() {
            429 => GraphError::new(status, "TooManyRequests", "Please retry again later."),
            503 => GraphError::new(
                status,
                "serviceNotAvailable",
                "The service is temporarily unavailable. Please retry later.",
            ),
            504 => GraphError::new(
                status,
                "UnknownError",
                "The request timed out before the service answered.",
            ),
            403 => GraphError::insufficient_privileges(),
            404 => GraphError::new(status, "Request_ResourceNotFound", "Resource not found."),
            _ => GraphError::new(status, "generalException", "An unspecified error occurred."),
        }
    }

    pub(crate) fn empty_token() -> GraphError {
        GraphError::new(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "Access token is empty.",
        )
    }

    pub(crate) fn invalid_token() -> GraphError {
        GraphError::new(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "Access token validation failure.",
        )
    }

    pub(crate) fn expired_token() -> GraphError {
        GraphError::new(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "Lifetime validation failed, the token is expired.",
        )
    }

    pub(crate) fn invalid_audience() -> GraphError {
        GraphError::new(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "Access token validation failure. Invalid audience.",
        )
    }

    pub(crate) fn invalid_tenant() -> GraphError {
        GraphError::new(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "Access token validation failure. Invalid tenant.",
        )
    }

    pub(crate) fn insufficient_privileges() -> GraphError {
        GraphError::new(
            StatusCode::FORBIDDEN,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        )
    }

    pub(crate) fn not_found(path: &str) -> GraphError {
        GraphError::new(
            StatusCode::NOT_FOUND,
            "Request_ResourceNotFound",
            format!(
                "Resource '{}' does not exist or one of its queried reference-property objects are not present.",
                path.trim_start_matches('/')
            ),
        )
    }

    pub(crate) fn bad_skip_token() -> GraphError {
        GraphError::new(
            StatusCode::BAD_REQUEST,
            "Directory_ExpiredPageToken",
            "The specified page token value has expired and can no longer be included in your request.",
        )
    }

    pub(crate) fn method_not_allowed(method: &str) -> GraphError {
        GraphError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "Request_BadRequest",
            format!("The emulator serves Microsoft Graph reads only, not {method}."),
        )
    }
}
