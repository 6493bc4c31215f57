//! API authentication: every call but the health probes and the OpenAPI document carries
//! `Authorization: Bearer <token>`.
//!
//! Two kinds of callers: operators (the token given by configuration, or operator tokens made
//! with the API) see every organization; organization tokens see their own organization only.
//! Stored tokens are kept as SHA-256 digests (see `shared::store::tokens`); the configured
//! operator token is compared by digest in constant time. Handlers ask the [`Caller`] whether it
//! may see an organization, and answer 404 when not, exactly as for something missing.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use sha2::{Digest, Sha256};

use super::ApiState;
use super::error::ApiError;

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// Sees and manages every organization.
    Operator {
        name: String,
        /// The stored token's id (none for the configured operator token).
        token_id: Option<uuid::Uuid>,
    },
    /// Sees one organization.
    Organization {
        organization_id: String,
        name: String,
        token_id: Option<uuid::Uuid>,
    },
}

impl Caller {
    /// Whether the caller may see this organization's data.
    pub fn may_access(&self, organization_id: &str) -> bool {
        match self {
            Caller::Operator { .. } => true,
            Caller::Organization {
                organization_id: own,
                ..
            } => own == organization_id,
        }
    }

    pub fn is_operator(&self) -> bool {
        matches!(self, Caller::Operator { .. })
    }

    /// The caller's organization, for organization tokens.
    pub fn organization(&self) -> Option<&str> {
        match self {
            Caller::Operator { .. } => None,
            Caller::Organization {
                organization_id, ..
            } => Some(organization_id),
        }
    }

    /// The id of the token that made the call (never the token).
    pub fn token_id(&self) -> Option<uuid::Uuid> {
        match self {
            Caller::Operator { token_id, .. } | Caller::Organization { token_id, .. } => *token_id,
        }
    }

    /// How the caller appears in the audit trail.
    pub fn actor(&self) -> String {
        match self {
            Caller::Operator { name, .. } => format!("operator:{name}"),
            Caller::Organization { name, .. } => format!("token:{name}"),
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
            // RFC 9110: the scheme is case-insensitive.
            .and_then(|v| v.trim_start().split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .filter(|t| !t.is_empty())
            .ok_or(ApiError::Unauthorized)?;
        if constant_time_eq(&digest(token), &state.operator_token_digest) {
            return Ok(Caller::Operator {
                name: "configured".to_string(),
                token_id: None,
            });
        }
        match state.control.store.api_token(token).await? {
            Some(record) => Ok(match record.organization_id {
                Some(organization_id) => Caller::Organization {
                    organization_id,
                    name: record.name,
                    token_id: Some(record.id),
                },
                None => Caller::Operator {
                    name: record.name,
                    token_id: Some(record.id),
                },
            }),
            None => Err(ApiError::Unauthorized),
        }
    }
}
