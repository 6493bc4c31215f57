//! Connection routes: create, list, show (with status), update, delete, validate, latest
//! results, a check's history, rescan, scan progress, next scan.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shared::azure::Cloud;
use shared::broker::routing;
use shared::messages::RescanRequest;
use shared::store::{
    Capabilities, ConnectionRecord, ConnectionStatus, HistoryEntry, ScanProgress,
    ServedCheckResult, slot_offset,
};
use uuid::Uuid;

use super::ApiState;
use super::auth::Caller;
use super::error::{ApiError, ErrorBody};
use super::input::{Checker, CreateConnection, RescanBody, UpdateConnection, parse_body};
use crate::lifecycle::Outcome;
use crate::scans::resolve_services;

/// A connection as the API shows it: every form field but the secret, plus status.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConnectionView {
    pub id: Uuid,
    pub organization_id: String,
    pub name: String,
    /// The subscription id (the form's connection identifier).
    pub connection_identifier: String,
    pub credential_name: String,
    pub tenant_id: String,
    pub client_id: String,
    pub subscription_id: String,
    pub regions: Vec<String>,
    pub selected_items: Capabilities,
    pub cloud: Cloud,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub status: ConnectionStatus,
}

fn view(record: ConnectionRecord, status: ConnectionStatus) -> ConnectionView {
    ConnectionView {
        id: record.id,
        organization_id: record.organization_id,
        name: record.name,
        connection_identifier: record.subscription_id.clone(),
        credential_name: record.credential_name,
        tenant_id: record.tenant_id,
        client_id: record.client_id,
        subscription_id: record.subscription_id,
        regions: record.regions,
        selected_items: record.capabilities,
        cloud: record.cloud,
        created_at: record.created_at,
        updated_at: record.updated_at,
        status,
    }
}

async fn view_of(state: &ApiState, record: ConnectionRecord) -> Result<ConnectionView, ApiError> {
    let mut status = state.control.store.status(&record, Utc::now()).await?;
    let exceptions = state
        .control
        .store
        .exceptions_of(&record.organization_id)
        .await?;
    state
        .control
        .apply_to_counts(&record, &mut status, &exceptions)
        .await?;
    Ok(view(record, status))
}

/// The connection if it exists and the caller may see it; 404 otherwise, either way (a
/// malformed id names nothing, so it is a 404 too).
async fn visible(
    state: &ApiState,
    caller: &Caller,
    id: &str,
) -> Result<ConnectionRecord, ApiError> {
    let id = super::input::path_id(id)?;
    state
        .control
        .store
        .connection(id)
        .await?
        .filter(|r| caller.may_access(&r.organization_id))
        .ok_or(ApiError::NotFound)
}

/// The answer to create and update.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Saved {
    pub connection: ConnectionView,
    /// Fields whose pasted leading/trailing spaces were removed.
    pub trimmed_fields: Vec<String>,
    /// The scan started because of this change (first scan, or scans resuming), if any.
    pub scan_id: Option<Uuid>,
}

async fn saved(
    state: &ApiState,
    outcome: Outcome,
    trimmed: Vec<String>,
) -> Result<Saved, ApiError> {
    Ok(Saved {
        connection: view_of(state, outcome.record).await?,
        trimmed_fields: trimmed,
        scan_id: outcome.scan_id,
    })
}

/// Create a connection (the integration form); it is validated against Azure at once.
#[utoipa::path(
    post, path = "/v1/connections", tag = "connections",
    request_body = CreateConnection,
    responses(
        (status = 201, description = "Stored and validated; `connection.status` says how validation went", body = Saved),
        (status = 400, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Bad fields; nothing stored", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn create(
    State(state): State<ApiState>,
    caller: Caller,
    body: Bytes,
) -> Result<(StatusCode, Json<Saved>), ApiError> {
    let form: CreateConnection = parse_body(&body)?;
    let valid = form.check(caller.organization(), state.control.arm.clouds())?;
    if !caller.may_access(&valid.organization_id) {
        return Err(ApiError::NotFound);
    }
    let store = &state.control.store;
    let duplicate = store
        .connections_of(&valid.organization_id)
        .await?
        .into_iter()
        .any(|c| c.subscription_id == valid.subscription_id);
    if duplicate {
        return Err(ApiError::field(
            "subscription_id",
            "this organization already has a connection for this subscription",
        ));
    }
    let now = Utc::now();
    let record = ConnectionRecord {
        id: Uuid::new_v4(),
        organization_id: valid.organization_id,
        name: valid.name,
        credential_name: valid.credential_name,
        tenant_id: valid.tenant_id,
        client_id: valid.client_id,
        subscription_id: valid.subscription_id,
        sealed_secret: String::new(),
        secret_version: Uuid::new_v4().to_string(),
        regions: valid.regions,
        capabilities: valid.capabilities,
        cloud: valid.cloud,
        created_at: now,
        updated_at: now,
    };
    let outcome = state
        .control
        .create(record, &valid.client_secret, &caller.actor())
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(saved(&state, outcome, valid.trimmed).await?),
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ListQuery {
    /// Required for operator tokens; organization tokens see their own organization.
    pub organization_id: Option<String>,
}

/// List an organization's connections with their status.
#[utoipa::path(
    get, path = "/v1/connections", tag = "connections",
    params(ListQuery),
    responses(
        (status = 200, body = Vec<ConnectionView>),
        (status = 400, description = "An operator token without organization_id", body = ErrorBody),
        (status = 404, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<ApiState>,
    caller: Caller,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Vec<ConnectionView>>, ApiError> {
    let Query(query) = query?;
    let org = query
        .organization_id
        .or_else(|| caller.organization().map(str::to_string))
        .ok_or_else(|| ApiError::BadRequest("organization_id is required".into()))?;
    if !caller.may_access(&org) {
        return Err(ApiError::NotFound);
    }
    let records = state.control.store.connections_of(&org).await?;
    let mut statuses = state.control.store.statuses(&records, Utc::now()).await?;
    let exceptions = state.control.store.exceptions_of(&org).await?;
    for (record, status) in records.iter().zip(statuses.iter_mut()) {
        state
            .control
            .apply_to_counts(record, status, &exceptions)
            .await?;
    }
    Ok(Json(
        records
            .into_iter()
            .zip(statuses)
            .map(|(record, status)| view(record, status))
            .collect(),
    ))
}

/// A connection and its status (never its secret).
#[utoipa::path(
    get, path = "/v1/connections/{id}", tag = "connections",
    params(("id" = Uuid, Path, description = "Connection id")),
    responses((status = 200, body = ConnectionView), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
pub async fn show(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<ConnectionView>, ApiError> {
    let record = visible(&state, &caller, &id).await?;
    Ok(Json(view_of(&state, record).await?))
}

/// Change settings; `{"client_secret": "..."}` rotates the secret. Changes to how the principal
/// signs in are validated at once; a connection that was failing resumes scanning.
#[utoipa::path(
    patch, path = "/v1/connections/{id}", tag = "connections",
    params(("id" = Uuid, Path, description = "Connection id")),
    request_body = UpdateConnection,
    responses(
        (status = 200, body = Saved),
        (status = 400, description = "Not JSON", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, description = "Bad fields; nothing changed", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn update(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Saved>, ApiError> {
    let before = visible(&state, &caller, &id).await?;
    let changes: UpdateConnection = parse_body(&body)?;
    let mut c = Checker::default();
    let mut after = before.clone();
    if let Some(name) = &changes.name {
        after.name = c.name(name);
    }
    if let Some(v) = &changes.credential_name {
        after.credential_name = c.trim("credential_name", v);
    }
    if let Some(v) = &changes.tenant_id {
        after.tenant_id = c.tenant(v);
    }
    if let Some(v) = &changes.client_id {
        after.client_id = c.guid("client_id", v, "Application (client) ID");
    }
    if let Some(v) = &changes.subscription_id {
        let sub = c.trim("subscription_id", v).to_ascii_lowercase();
        if sub != before.subscription_id {
            c.problem(
                "subscription_id",
                "a connection's subscription cannot change; create a new connection",
            );
        }
    }
    let secret = changes.client_secret.as_ref().map(|s| c.secret(s));
    let clouds = state.control.arm.clouds();
    let endpoints = if changes.cloud.is_some() {
        let (cloud, endpoints) = c.cloud(changes.cloud.clone(), clouds);
        after.cloud = cloud;
        endpoints
    } else {
        clouds.resolve(&after.cloud).ok()
    };
    if let Some(regions) = &changes.regions {
        after.regions = c.regions(endpoints.as_ref(), regions);
    }
    if let Some(caps) = changes.selected_items {
        after.capabilities = caps;
    }
    let trimmed = c.finish()?;
    let outcome = state
        .control
        .update(&before, after, secret.as_ref(), &caller.actor())
        .await?;
    Ok(Json(saved(&state, outcome, trimmed).await?))
}

/// Delete a connection: its record, sealed secret, results and history. The audit trail stays.
#[utoipa::path(
    delete, path = "/v1/connections/{id}", tag = "connections",
    params(("id" = Uuid, Path, description = "Connection id")),
    responses((status = 204), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
pub async fn delete(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let record = visible(&state, &caller, &id).await?;
    state.control.delete(&record, &caller.actor()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Validate the connection against Azure again (after granting roles, re-enabling the app...).
#[utoipa::path(
    post, path = "/v1/connections/{id}/validate", tag = "connections",
    params(("id" = Uuid, Path, description = "Connection id")),
    responses((status = 200, body = ConnectionView), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
pub async fn validate(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<ConnectionView>, ApiError> {
    let record = visible(&state, &caller, &id).await?;
    let was_healthy = state
        .control
        .store
        .status(&record, Utc::now())
        .await?
        .state
        .is_healthy();
    let validation = state.control.revalidate(&record, &caller.actor()).await?;
    if !was_healthy {
        state.control.scan_if_healthy(&record, &validation).await?;
    }
    Ok(Json(view_of(&state, record).await?))
}

/// Latest result of every check, with findings and evidence, and the exceptions in force
/// applied (a disabled check shows Disabled and what the scan found underneath).
#[utoipa::path(
    get, path = "/v1/connections/{id}/results", tag = "results",
    params(("id" = Uuid, Path, description = "Connection id")),
    responses((status = 200, body = Vec<ServedCheckResult>), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
pub async fn results(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Vec<ServedCheckResult>>, ApiError> {
    let record = visible(&state, &caller, &id).await?;
    Ok(Json(state.control.served_results(&record).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct HistoryQuery {
    /// Entries to return, newest first (default 50, at most 1000).
    pub limit: Option<usize>,
}

/// A check's history: one entry each time its result changed, newest first.
#[utoipa::path(
    get, path = "/v1/connections/{id}/checks/{check_id}/history", tag = "results",
    params(
        ("id" = Uuid, Path, description = "Connection id"),
        ("check_id" = String, Path, description = "Check id, e.g. storage.min_tls_12"),
        HistoryQuery
    ),
    responses(
        (status = 200, body = Vec<HistoryEntry>),
        (status = 400, description = "A malformed query", body = ErrorBody),
        (status = 404, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn history(
    State(state): State<ApiState>,
    caller: Caller,
    Path((id, check_id)): Path<(String, String)>,
    query: Result<Query<HistoryQuery>, QueryRejection>,
) -> Result<Json<Vec<HistoryEntry>>, ApiError> {
    let Query(query) = query?;
    let record = visible(&state, &caller, &id).await?;
    if shared::checks::check(&check_id).is_none() {
        return Err(ApiError::NotFound);
    }
    let limit = query.limit.unwrap_or(50).clamp(1, 1000);
    Ok(Json(
        state
            .control
            .store
            .history(record.id, &check_id, limit)
            .await?,
    ))
}

/// Accepted rescan.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RescanAccepted {
    pub scan_id: Uuid,
    pub services: Vec<String>,
}

/// Ask for a rescan now. The API publishes a `rescan-request` message, the same one any AMQP
/// client may publish; its request id is the scan id.
#[utoipa::path(
    post, path = "/v1/connections/{id}/rescan", tag = "scans",
    params(("id" = Uuid, Path, description = "Connection id")),
    request_body(content = Option<RescanBody>, description = "Services to scan; default all"),
    responses(
        (status = 202, body = RescanAccepted),
        (status = 400, description = "Not JSON", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "The connection cannot be scanned now", body = ErrorBody),
        (status = 422, body = ErrorBody),
        (status = 503, description = "The message broker blocks publishes (resource alarm); retry after `Retry-After` seconds", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn rescan(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<RescanAccepted>), ApiError> {
    let record = visible(&state, &caller, &id).await?;
    let requested = if body.is_empty() {
        None
    } else {
        parse_body::<RescanBody>(&body)?.services
    };
    let services = resolve_services(requested.as_deref())
        .map_err(|e| ApiError::field("services", &e.to_string()))?;
    if !record.capabilities.compliance_checks {
        return Err(ApiError::Conflict(
            "compliance checks are not selected for this connection".into(),
        ));
    }
    let status = state.control.store.status(&record, Utc::now()).await?;
    if !status.state.is_healthy() {
        return Err(ApiError::Conflict(format!(
            "the connection is {}; fix it (see its diagnosis) and validate it first",
            status.state.as_str()
        )));
    }
    let scan_id = Uuid::new_v4();
    let mut request = RescanRequest::new(
        record.id,
        Some(services.iter().map(|s| s.to_string()).collect()),
    );
    request.request_id = Some(scan_id);
    request.organization_id = Some(record.organization_id.clone());
    request.requested_by = Some(caller.actor());
    state
        .control
        .publisher
        // Under a resource alarm the broker stops reading publishes: say so (503) rather than
        // hold the caller through the publisher's retries.
        .publish_unless_blocked(routing::RESCAN, &request, scan_id)
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(RescanAccepted {
            scan_id,
            services: services.iter().map(|s| s.to_string()).collect(),
        }),
    ))
}

/// Progress of one scan.
#[utoipa::path(
    get, path = "/v1/connections/{id}/scans/{scan_id}", tag = "scans",
    params(
        ("id" = Uuid, Path, description = "Connection id"),
        ("scan_id" = Uuid, Path, description = "Scan id")
    ),
    responses((status = 200, body = ScanProgress), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
pub async fn scan_progress(
    State(state): State<ApiState>,
    caller: Caller,
    Path((id, scan_id)): Path<(String, String)>,
) -> Result<Json<ScanProgress>, ApiError> {
    let record = visible(&state, &caller, &id).await?;
    state
        .control
        .store
        .scan_progress(record.id, super::input::path_id(&scan_id)?)
        .await?
        .map(Json)
        .ok_or(ApiError::NotFound)
}

/// When the connection is scanned next.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NextScan {
    pub next_scan_at: Option<DateTime<Utc>>,
    /// The connection's weekly slot, e.g. "Tuesday 14:05 UTC".
    pub weekly_slot: String,
}

/// The next scheduled scan (answered directly: nobody needs to email support for it).
#[utoipa::path(
    get, path = "/v1/connections/{id}/next-scan", tag = "scans",
    params(("id" = Uuid, Path, description = "Connection id")),
    responses((status = 200, body = NextScan), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
pub async fn next_scan(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<NextScan>, ApiError> {
    let record = visible(&state, &caller, &id).await?;
    let status = state.control.store.status(&record, Utc::now()).await?;
    Ok(Json(NextScan {
        next_scan_at: status.next_scan_at,
        weekly_slot: describe_slot(slot_offset(record.id)),
    }))
}

fn describe_slot(offset: i64) -> String {
    const DAYS: [&str; 7] = [
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ];
    let day = DAYS[((offset / 86_400) as usize).min(6)];
    let seconds = offset % 86_400;
    format!("{day} {:02}:{:02} UTC", seconds / 3600, seconds % 3600 / 60)
}

#[cfg(test)]
mod tests {
    #[test]
    fn slots_read_like_a_weekly_time() {
        assert_eq!(super::describe_slot(0), "Monday 00:00 UTC");
        assert_eq!(
            super::describe_slot(86_400 + 14 * 3600 + 5 * 60 + 59),
            "Tuesday 14:05 UTC"
        );
        assert_eq!(super::describe_slot(7 * 86_400 - 1), "Sunday 23:59 UTC");
    }
}
