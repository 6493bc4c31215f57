//! Connection routes: create, list, show (with status), delete, latest results, a check's
//! history, rescan, scan progress.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shared::azure::Cloud;
use shared::broker::routing;
use shared::messages::{RescanRequest, Trigger};
use shared::store::{
    Capabilities, ConnectionRecord, ConnectionStatus, HistoryEntry, ScanProgress,
    StoredCheckResult, next_slot_after,
};
use uuid::Uuid;

use super::ApiState;
use super::auth::Caller;
use super::error::ApiError;
use super::input::{CreateConnection, RescanBody};
use crate::scans::{enqueue_scan, resolve_services};

/// A connection as the API shows it: every form field but the secret, plus status.
#[derive(Debug, Serialize, Deserialize)]
pub struct ConnectionView {
    pub id: Uuid,
    pub organization_id: String,
    pub name: String,
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

/// The connection if it exists and the caller may see it; 404 otherwise, either way.
async fn visible(
    state: &ApiState,
    caller: &Caller,
    id: Uuid,
) -> Result<ConnectionRecord, ApiError> {
    state
        .store
        .connection(id)
        .await?
        .filter(|r| caller.may_access(&r.organization_id))
        .ok_or(ApiError::NotFound)
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Created {
    pub connection: ConnectionView,
    /// Fields whose pasted leading/trailing spaces were removed.
    pub trimmed_fields: Vec<String>,
    /// The first scan, when one was enqueued.
    pub scan_id: Option<Uuid>,
}

pub async fn create(
    State(state): State<ApiState>,
    caller: Caller,
    body: Result<Json<CreateConnection>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    let Json(body) = body.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let valid = body.validate(None).map_err(ApiError::Invalid)?;
    if !caller.may_access(&valid.organization_id) {
        return Err(ApiError::NotFound);
    }
    let duplicate = state
        .store
        .connections_of(&valid.organization_id)
        .await?
        .into_iter()
        .any(|c| c.subscription_id == valid.subscription_id);
    if duplicate {
        return Err(ApiError::Invalid(vec![super::error::FieldError {
            field: "subscription_id".into(),
            problem: "this organization already has a connection for this subscription".into(),
        }]));
    }
    let id = Uuid::new_v4();
    let now = Utc::now();
    let sealed_secret = state
        .keys
        .seal(&valid.client_secret, &id.to_string())
        .map_err(|e| ApiError::Internal(e.into()))?;
    let record = ConnectionRecord {
        id,
        organization_id: valid.organization_id,
        name: valid.name,
        credential_name: valid.credential_name,
        tenant_id: valid.tenant_id,
        client_id: valid.client_id,
        subscription_id: valid.subscription_id,
        sealed_secret,
        secret_version: Uuid::new_v4().to_string(),
        regions: valid.regions,
        capabilities: valid.capabilities,
        cloud: valid.cloud,
        created_at: now,
        updated_at: now,
    };
    state.store.create_connection(&record).await?;
    state
        .store
        .schedule_at(id, next_slot_after(id, now))
        .await?;
    let mut scan_id = None;
    if state.scan_on_create && record.capabilities.compliance_checks {
        let first = Uuid::new_v4();
        let services = resolve_services(None).map_err(|e| ApiError::Internal(e.into()))?;
        enqueue_scan(
            &state.store,
            &state.publisher,
            &record,
            first,
            &services,
            Trigger::OnDemand,
        )
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
        scan_id = Some(first);
    }
    tracing::info!(connection_id = %id, organization_id = %record.organization_id, "connection created");
    let status = state.store.status(&record, now).await?;
    Ok((
        StatusCode::CREATED,
        Json(Created {
            connection: view(record, status),
            trimmed_fields: valid.trimmed,
            scan_id,
        }),
    ))
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    pub organization_id: Option<String>,
}

pub async fn list(
    State(state): State<ApiState>,
    caller: Caller,
    Query(query): Query<ListQuery>,
) -> Result<Json<Vec<ConnectionView>>, ApiError> {
    let org = query
        .organization_id
        .ok_or_else(|| ApiError::BadRequest("organization_id is required".into()))?;
    if !caller.may_access(&org) {
        return Ok(Json(Vec::new()));
    }
    let now = Utc::now();
    let mut out = Vec::new();
    for record in state.store.connections_of(&org).await? {
        let status = state.store.status(&record, now).await?;
        out.push(view(record, status));
    }
    Ok(Json(out))
}

pub async fn show(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<ConnectionView>, ApiError> {
    let record = visible(&state, &caller, id).await?;
    let status = state.store.status(&record, Utc::now()).await?;
    Ok(Json(view(record, status)))
}

pub async fn delete(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    let record = visible(&state, &caller, id).await?;
    state.store.delete_connection(&record).await?;
    tracing::info!(connection_id = %id, "connection deleted");
    Ok(StatusCode::NO_CONTENT)
}

pub async fn results(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<Vec<StoredCheckResult>>, ApiError> {
    let record = visible(&state, &caller, id).await?;
    Ok(Json(state.store.latest_results(record.id).await?))
}

#[derive(Debug, Deserialize)]
pub struct HistoryQuery {
    pub limit: Option<usize>,
}

pub async fn history(
    State(state): State<ApiState>,
    caller: Caller,
    Path((id, check_id)): Path<(Uuid, String)>,
    Query(query): Query<HistoryQuery>,
) -> Result<Json<Vec<HistoryEntry>>, ApiError> {
    let record = visible(&state, &caller, id).await?;
    if shared::checks::check(&check_id).is_none() {
        return Err(ApiError::NotFound);
    }
    let limit = query.limit.unwrap_or(50).clamp(1, 1000);
    Ok(Json(
        state.store.history(record.id, &check_id, limit).await?,
    ))
}

#[derive(Debug, Serialize, Deserialize)]
pub struct RescanAccepted {
    pub scan_id: Uuid,
    pub services: Vec<String>,
}

/// Publishes a rescan request (the same message any AMQP client may publish); the scheduler's
/// rescan consumer turns it into jobs. The request id is the scan id.
pub async fn rescan(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    body: Option<Json<RescanBody>>,
) -> Result<(StatusCode, Json<RescanAccepted>), ApiError> {
    let record = visible(&state, &caller, id).await?;
    let requested = body.and_then(|Json(b)| b.services);
    let services =
        resolve_services(requested.as_deref()).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    if !record.capabilities.compliance_checks {
        return Err(ApiError::Conflict(
            "compliance checks are not selected for this connection".into(),
        ));
    }
    let mut request = RescanRequest::new(
        record.id,
        Some(services.iter().map(|s| s.to_string()).collect()),
    );
    let scan_id = Uuid::new_v4();
    request.request_id = Some(scan_id);
    request.organization_id = Some(record.organization_id.clone());
    request.requested_by = Some(format!("api:{caller:?}"));
    state
        .publisher
        .publish(routing::RESCAN, &request, scan_id)
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(RescanAccepted {
            scan_id,
            services: services.iter().map(|s| s.to_string()).collect(),
        }),
    ))
}

pub async fn scan_progress(
    State(state): State<ApiState>,
    caller: Caller,
    Path((id, scan_id)): Path<(Uuid, Uuid)>,
) -> Result<Json<ScanProgress>, ApiError> {
    let record = visible(&state, &caller, id).await?;
    state
        .store
        .scan_progress(record.id, scan_id)
        .await?
        .map(Json)
        .ok_or(ApiError::NotFound)
}
