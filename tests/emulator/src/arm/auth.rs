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
use crate::jwt::Verified;

/// The token of an `Authorization: Bearer <token>` header.
fn bearer_token(headers: &HeaderMap) -> Option<Result<&str, ()>> {
    let value = headers.get(header::AUTHORIZATION)?;
    let parsed = value.to_str().ok().and_then(|value| {
        let (scheme, token) = value.trim().split_once(' ')?;
        scheme
            .eq_ignore_ascii_case("bearer")
            .then_some(token.trim())
    });
    Some(parsed.ok_or(()))
}

/// The request's bearer token, if it is one this emulator issued.
/// `tenant` is the tenant named in the 401 challenge.
pub(crate) fn verified_claims(
    state: &AppState,
    headers: &HeaderMap,
    tenant: &str,
) -> Result<Verified, ArmError> {
    let token = bearer_token(headers)
        .ok_or_else(|| ArmError::missing_authorization(tenant))?
        .map_err(|()| ArmError::malformed_authorization(tenant))?;
    state
        .signer
        .verify(token)
        .map_err(|_| ArmError::invalid_token(tenant))
}

/// The principal (`oid`) of the request's token, if it carries one this emulator issued; for
/// counting requests that never reach authentication.
pub(crate) fn principal_of(state: &AppState, headers: &HeaderMap) -> Option<String> {
    let token = bearer_token(headers)?.ok()?;
    state.signer.verify(token).ok().map(|v| v.claims.oid)
}

/// Whether a valid token may be used for ARM now. A token issued before
/// `EmulatorHandle::expire_tokens` is expired whatever its `exp`, as if ARM's clock ran ahead:
/// the message then shows a current time just past the expiry.
pub(crate) fn check_usable(token: &Verified, tenant: &str) -> Result<(), ArmError> {
    let claims = &token.claims;
    let now = Utc::now().timestamp();
    if claims.exp <= now {
        return Err(ArmError::expired_token(tenant, claims.exp, now));
    }
    if token.retired {
        let skewed_now = now.max(claims.exp.saturating_add(1));
        return Err(ArmError::expired_token(tenant, claims.exp, skewed_now));
    }
    if !ARM_AUDIENCES.contains(&claims.aud.as_str()) {
        return Err(ArmError::wrong_audience(tenant, &claims.aud));
    }
    Ok(())
}
