//! API errors as JSON: a machine code, a message, and field-level problems for bad input.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

/// One problem with one input field.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct FieldError {
    /// The field, as a JSON path (`regions[1]`, `cloud.resource_manager`).
    pub field: String,
    pub problem: String,
}

/// Every error response.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// `unauthorized`, `not_found`, `invalid_input`, `bad_request`, `conflict`, `internal`.
    pub error: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldError>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("missing or invalid bearer token")]
    Unauthorized,
    #[error("not found")]
    NotFound,
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Conflict(String),
    /// A dependency cannot take the request now (answered 503 with `Retry-After`).
    #[error("{0}")]
    Unavailable(String),
    #[error("internal error")]
    Internal(anyhow::Error),
}

impl From<anyhow::Error> for ApiError {
    /// Store outcomes that are the caller's business keep their meaning through `anyhow`.
    fn from(e: anyhow::Error) -> Self {
        match e.downcast::<shared::store::StoreError>() {
            Ok(store) => store.into(),
            Err(other) => ApiError::Internal(other),
        }
    }
}

impl ApiError {
    pub fn field(field: &str, problem: &str) -> Self {
        ApiError::Invalid(vec![FieldError {
            field: field.to_string(),
            problem: problem.to_string(),
        }])
    }
}

impl From<axum::extract::rejection::QueryRejection> for ApiError {
    fn from(e: axum::extract::rejection::QueryRejection) -> Self {
        ApiError::BadRequest(e.body_text())
    }
}

impl From<shared::store::StoreError> for ApiError {
    fn from(e: shared::store::StoreError) -> Self {
        use shared::store::StoreError;
        match e {
            StoreError::DuplicateSubscription { .. } => ApiError::field(
                "subscription_id",
                "this organization already has a connection for this subscription",
            ),
            // Deleted meanwhile: as if it had never been there.
            StoreError::Gone { .. } => ApiError::NotFound,
            other => ApiError::Internal(other.into()),
        }
    }
}

impl From<shared::broker::BrokerError> for ApiError {
    fn from(e: shared::broker::BrokerError) -> Self {
        match e {
            shared::broker::BrokerError::Blocked => ApiError::Unavailable(
                "the message broker is blocking publishes (a memory or disk alarm); no rescan \
                 was requested: retry later"
                    .into(),
            ),
            other => ApiError::Internal(other.into()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_input"),
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::Internal(e) => {
                tracing::error!(error = %e, "API request failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
        };
        let message = self.to_string();
        let fields = match self {
            ApiError::Invalid(fields) => fields,
            _ => Vec::new(),
        };
        let mut response = (
            status,
            Json(ErrorBody {
                error: code.to_string(),
                message,
                fields,
            }),
        )
            .into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("30"),
            );
        }
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}
