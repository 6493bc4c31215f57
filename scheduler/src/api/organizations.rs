//! Organization routes: API tokens (operators create and revoke them; the token is shown once)
//! and the organization's audit trail (readable and exportable by its members and operators).

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use shared::store::{ApiToken, AuditEvent};

use super::ApiState;
use super::auth::Caller;
use super::error::{ApiError, ErrorBody};
use super::input::{Checker, CreateToken, parse_body};

/// A new token: the only time it is shown.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CreatedToken {
    /// Give it to the organization; it is not stored in clear and cannot be shown again.
    pub token: String,
    pub record: ApiToken,
}

fn operator_only(caller: &Caller) -> Result<(), ApiError> {
    // Organization tokens cannot mint tokens; to them the route does not exist.
    if caller.is_operator() {
        Ok(())
    } else {
        Err(ApiError::NotFound)
    }
}

/// Create an API token scoped to one organization (operators only).
#[utoipa::path(
    post, path = "/v1/organizations/{organization_id}/tokens", tag = "organizations",
    params(("organization_id" = String, Path)),
    request_body = CreateToken,
    responses(
        (status = 201, body = CreatedToken),
        (status = 400, description = "Not JSON", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn create_token(
    State(state): State<ApiState>,
    caller: Caller,
    Path(organization_id): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    operator_only(&caller)?;
    let form: CreateToken = parse_body(&body)?;
    let mut c = Checker::default();
    let org = c.organization(&organization_id);
    let name = c.name(&form.name);
    c.finish()?;
    let (token, record) = state
        .control
        .store
        .create_api_token(Some(&org), &name)
        .await?;
    state
        .control
        .store
        .append_audit(
            &org,
            &AuditEvent {
                id: String::new(),
                at: state.control.clock.now(),
                actor: caller.actor(),
                action: "token.created".into(),
                connection_id: None,
                details: serde_json::json!({"token_id": record.id, "name": record.name}),
                ..AuditEvent::default()
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(CreatedToken { token, record })))
}

/// List an organization's tokens (never the tokens themselves; operators only).
#[utoipa::path(
    get, path = "/v1/organizations/{organization_id}/tokens", tag = "organizations",
    params(("organization_id" = String, Path)),
    responses((status = 200, body = Vec<ApiToken>), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
pub async fn list_tokens(
    State(state): State<ApiState>,
    caller: Caller,
    Path(organization_id): Path<String>,
) -> Result<Json<Vec<ApiToken>>, ApiError> {
    operator_only(&caller)?;
    Ok(Json(
        state
            .control
            .store
            .api_tokens(Some(&organization_id))
            .await?,
    ))
}

/// Revoke a token (operators only).
#[utoipa::path(
    delete, path = "/v1/organizations/{organization_id}/tokens/{token_id}", tag = "organizations",
    params(("organization_id" = String, Path), ("token_id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
pub async fn revoke_token(
    State(state): State<ApiState>,
    caller: Caller,
    Path((organization_id, token_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    operator_only(&caller)?;
    let token_id = super::input::path_id(&token_id)?;
    if !state
        .control
        .store
        .revoke_api_token(Some(&organization_id), token_id)
        .await?
    {
        return Err(ApiError::NotFound);
    }
    state
        .control
        .store
        .append_audit(
            &organization_id,
            &AuditEvent {
                id: String::new(),
                at: state.control.clock.now(),
                actor: caller.actor(),
                action: "token.revoked".into(),
                connection_id: None,
                details: serde_json::json!({"token_id": token_id}),
                ..AuditEvent::default()
            },
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct AuditQuery {
    /// Entries to return, oldest first (default 1000, at most 10000).
    pub limit: Option<usize>,
}

/// The organization's audit trail, oldest first (append-only; nothing is ever edited).
#[utoipa::path(
    get, path = "/v1/organizations/{organization_id}/audit", tag = "organizations",
    params(("organization_id" = String, Path), AuditQuery),
    responses(
        (status = 200, body = Vec<AuditEvent>),
        (status = 400, description = "A malformed query", body = ErrorBody),
        (status = 404, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn audit(
    State(state): State<ApiState>,
    caller: Caller,
    Path(organization_id): Path<String>,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Json<Vec<AuditEvent>>, ApiError> {
    let Query(query) = query?;
    if !caller.may_access(&organization_id) {
        return Err(ApiError::NotFound);
    }
    let limit = query.limit.unwrap_or(1000).clamp(1, 10_000);
    Ok(Json(
        state
            .control
            .store
            .audit_trail(&organization_id, limit)
            .await?,
    ))
}
