//! API errors as JSON: a machine code, a message, and field-level problems for bad input.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// One problem with one input field.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub problem: String,
}

#[derive(Debug, Serialize)]
struct Body<'a> {
    error: &'a str,
    message: String,
    #[serde(skip_serializing_if = "<[FieldError]>::is_empty")]
    fields: &'a [FieldError],
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("missing or invalid bearer token")]
    Unauthorized,
    #[error("not found")]
    NotFound,
    #[error("invalid request")]
    Invalid(Vec<FieldError>),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Conflict(String),
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl From<shared::store::StoreError> for ApiError {
    fn from(e: shared::store::StoreError) -> Self {
        ApiError::Internal(e.into())
    }
}

impl From<shared::broker::BrokerError> for ApiError {
    fn from(e: shared::broker::BrokerError) -> Self {
        ApiError::Internal(e.into())
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
            ApiError::Internal(e) => {
                tracing::error!(error = %e, "API request failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
        };
        let fields: &[FieldError] = match &self {
            ApiError::Invalid(fields) => fields,
            _ => &[],
        };
        let mut response = (
            status,
            Json(Body {
                error: code,
                message: self.to_string(),
                fields,
            }),
        )
            .into_response();
        if matches!(self, ApiError::Unauthorized) {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}
