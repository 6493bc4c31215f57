//! API authentication: every call but the health probes carries `Authorization: Bearer <token>`.
//!
//! Today there is one kind of caller, the operator, whose token is given by configuration; only
//! its SHA-256 digest is kept in memory and tokens are compared in constant time. Organization-
//! scoped tokens stored hashed in Redis come next; handlers already receive a [`Caller`] and ask
//! it which organizations it may see.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use sha2::{Digest, Sha256};

use super::ApiState;
use super::error::ApiError;

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// Sees and manages every organization.
    Operator,
}

impl Caller {
    /// Whether the caller may see this organization's data.
    pub fn may_access(&self, _organization_id: &str) -> bool {
        match self {
            Caller::Operator => true,
        }
    }
}

/// SHA-256 of a token.
pub fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

impl FromRequestParts<ApiState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(ApiError::Unauthorized)?;
        if constant_time_eq(&digest(token), &state.operator_token_digest) {
            Ok(Caller::Operator)
        } else {
            Err(ApiError::Unauthorized)
        }
    }
}
