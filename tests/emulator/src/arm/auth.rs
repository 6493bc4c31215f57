//! Bearer-token checks on ARM requests.
//!
//! ARM first wants an `Authorization: Bearer` header holding a token it can validate, then a
//! token that has not expired and was issued for ARM. Each failure has its own 401 code, which
//! the product must tell apart (an expired token is refreshed, a wrong audience is a
//! configuration error).

use axum::http::{HeaderMap, header};
use chrono::Utc;

use super::error::{ARM_AUDIENCES, ArmError};
use crate::app::AppState;
use crate::jwt::Claims;

/// The claims of the request's bearer token, if it is one this emulator issued.
/// `tenant` is the tenant named in the 401 challenge.
pub(crate) fn verified_claims(
    state: &AppState,
    headers: &HeaderMap,
    tenant: &str,
) -> Result<Claims, ArmError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| ArmError::missing_authorization(tenant))?;
    let value = value
        .to_str()
        .map_err(|_| ArmError::malformed_authorization(tenant))?;
    let (scheme, token) = value
        .trim()
        .split_once(' ')
        .ok_or_else(|| ArmError::malformed_authorization(tenant))?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ArmError::malformed_authorization(tenant));
    }
    state
        .signer
        .verify(token.trim())
        .map_err(|_| ArmError::invalid_token(tenant))
}

/// Whether a valid token may be used for ARM now.
pub(crate) fn check_usable(claims: &Claims, tenant: &str) -> Result<(), ArmError> {
    let now = Utc::now().timestamp();
    if claims.exp <= now {
        return Err(ArmError::expired_token(tenant, claims.exp, now));
    }
    if !ARM_AUDIENCES.contains(&claims.aud.as_str()) {
        return Err(ArmError::wrong_audience(tenant, &claims.aud));
    }
    Ok(())
}
