//! Asset inventory routes (issue 15): list a connection's assets with filters and cursor paging,
//! one asset with its change history and the findings the latest results hold about it, export
//! as CSV or JSON, and the organization's owner tag. Organization isolation as everywhere: a
//! connection of another organization is a 404.

use std::collections::HashSet;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use shared::assets::asset_key;
use shared::checks::CheckStatus;
use shared::messages::{Evidence, FindingStatus};
use shared::store::{Asset, AssetChange, ConnectionRecord, StoredCheckResult, asset_tags_match};
use uuid::Uuid;

use super::ApiState;
use super::auth::Caller;
use super::error::{ApiError, ErrorBody};

/// Filters of the inventory (all optional; all given must hold).
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AssetQuery {
    /// Resource type, case-insensitive, e.g. `Microsoft.Storage/storageAccounts`.
    #[serde(rename = "type")]
    pub resource_type: Option<String>,
    /// Region (as Azure spells it, case-insensitive).
    pub region: Option<String>,
    pub resource_group: Option<String>,
    /// `name` (tag present) or `name=value`.
    pub tag: Option<String>,
    /// Value of the organization's owner tag.
    pub owner: Option<String>,
    /// `true`: only removed assets; `false`: only present ones; absent: both.
    pub removed: Option<bool>,
    /// `true`: only assets with a failed finding in the latest results; `false`: only without.
    pub failing: Option<bool>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size (default 100, at most 1000).
    pub limit: Option<usize>,
    /// Export only: `json` (default) or `csv`.
    pub format: Option<String>,
}

/// One page of the inventory.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AssetPage {
    #[schema(value_type = Vec<Object>)]
    pub assets: Vec<serde_json::Value>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// What one check of the latest results saw on an asset.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AssetFinding {
    pub check_id: String,
    pub service: String,
    /// The check's status in the latest results.
    pub check_status: CheckStatus,
    /// The verdict on this asset.
    pub status: FindingStatus,
    pub message: String,
    pub evidence: Vec<Evidence>,
    pub scan_id: Uuid,
    pub finished_at: chrono::DateTime<chrono::Utc>,
}

/// One asset with its history and findings.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AssetDetail {
    pub asset: Asset,
    pub history: Vec<AssetChange>,
    pub findings: Vec<AssetFinding>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AssetIdQuery {
    /// The asset's ARM id (any casing).
    pub id: String,
}

/// The organization's owner tag setting.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OwnerTag {
    /// Tag name assets' owners are read from (case-insensitive); null to unset.
    pub tag: Option<String>,
}

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

/// Lower-case ids of the resources with a failed finding in `latest`.
fn failing_ids(latest: &[StoredCheckResult]) -> HashSet<String> {
    latest
        .iter()
        .flat_map(|r| r.result.findings.iter())
        .filter(|f| f.status == FindingStatus::Failed)
        .map(|f| asset_key(&f.resource_id))
        .collect()
}

/// The assets matching `q`, in key order, and the failing set used.
async fn matching(
    state: &ApiState,
    record: &ConnectionRecord,
    q: &AssetQuery,
) -> Result<Vec<Asset>, ApiError> {
    let store = &state.control.store;
    let owner_tag = store.asset_owner_tag(&record.organization_id).await?;
    let assets = store.assets(record.id, owner_tag.as_deref()).await?;
    let failing = match q.failing {
        Some(_) => failing_ids(&store.latest_results(record.id).await?),
        None => HashSet::new(),
    };
    let eq = |a: Option<&str>, b: &Option<String>| {
        b.as_ref()
            .is_none_or(|b| a.is_some_and(|a| a.eq_ignore_ascii_case(b)))
    };
    Ok(assets
        .into_iter()
        .filter(|a| {
            eq(Some(&a.data.resource_type), &q.resource_type)
                && eq(a.data.location.as_deref(), &q.region)
                && eq(a.data.resource_group.as_deref(), &q.resource_group)
                && eq(a.owner.as_deref(), &q.owner)
                && q.tag.as_ref().is_none_or(|t| asset_tags_match(a, t))
                && q.removed.is_none_or(|r| r == a.removed_at.is_some())
                && q.failing
                    .is_none_or(|f| f == failing.contains(&asset_key(&a.data.id)))
        })
        .collect())
}

/// A connection's assets, filtered, in id order, a page at a time.
#[utoipa::path(
    get, path = "/v1/connections/{id}/assets", tag = "assets",
    params(("id" = Uuid, Path, description = "Connection id"), AssetQuery),
    responses(
        (status = 200, body = AssetPage),
        (status = 400, description = "A malformed query", body = ErrorBody),
        (status = 404, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    query: Result<Query<AssetQuery>, QueryRejection>,
) -> Result<Json<AssetPage>, ApiError> {
    let Query(q) = query?;
    let record = visible(&state, &caller, &id).await?;
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let cursor = q.cursor.as_deref().map(asset_key);
    let all = matching(&state, &record, &q).await?;
    let mut page: Vec<Asset> = all
        .into_iter()
        .filter(|a| cursor.as_ref().is_none_or(|c| asset_key(&a.data.id) > *c))
        .take(limit + 1)
        .collect();
    let next_cursor = (page.len() > limit).then(|| {
        page.truncate(limit);
        page.last()
            .map(|a| asset_key(&a.data.id))
            .unwrap_or_default()
    });
    let assets = page
        .iter()
        .map(serde_json::to_value)
        .collect::<Result<_, _>>()
        .map_err(|e| ApiError::Internal(e.into()))?;
    Ok(Json(AssetPage {
        assets,
        next_cursor,
    }))
}

/// One asset: what the inventory holds, its changes, and every check of the latest results
/// whose findings name it, with the verdict and evidence.
#[utoipa::path(
    get, path = "/v1/connections/{id}/asset", tag = "assets",
    params(("id" = Uuid, Path, description = "Connection id"), AssetIdQuery),
    responses(
        (status = 200, body = AssetDetail),
        (status = 400, description = "A malformed query", body = ErrorBody),
        (status = 404, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn show(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    query: Result<Query<AssetIdQuery>, QueryRejection>,
) -> Result<Json<AssetDetail>, ApiError> {
    let Query(q) = query?;
    let record = visible(&state, &caller, &id).await?;
    let store = &state.control.store;
    let owner_tag = store.asset_owner_tag(&record.organization_id).await?;
    let key = asset_key(&q.id);
    let asset = store
        .assets(record.id, owner_tag.as_deref())
        .await?
        .into_iter()
        .find(|a| asset_key(&a.data.id) == key)
        .ok_or(ApiError::NotFound)?;
    let history = store.asset_history(record.id, &q.id).await?;
    let findings = store
        .latest_results(record.id)
        .await?
        .into_iter()
        .flat_map(|r| {
            let (check_id, service, status) = (
                r.result.check_id.clone(),
                r.service.clone(),
                r.result.status,
            );
            let (scan_id, finished_at) = (r.scan_id, r.finished_at);
            r.result
                .findings
                .into_iter()
                .filter(|f| asset_key(&f.resource_id) == key)
                .map(move |f| AssetFinding {
                    check_id: check_id.clone(),
                    service: service.clone(),
                    check_status: status,
                    status: f.status,
                    message: f.message,
                    evidence: f.evidence,
                    scan_id,
                    finished_at,
                })
                .collect::<Vec<_>>()
        })
        .collect();
    Ok(Json(AssetDetail {
        asset,
        history,
        findings,
    }))
}

/// The whole filtered inventory as one JSON array or CSV file.
#[utoipa::path(
    get, path = "/v1/connections/{id}/assets/export", tag = "assets",
    params(("id" = Uuid, Path, description = "Connection id"), AssetQuery),
    responses(
        (status = 200, description = "JSON array or CSV",
         content((Vec<Object> = "application/json"), (String = "text/csv"))),
        (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn export(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    query: Result<Query<AssetQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query?;
    let record = visible(&state, &caller, &id).await?;
    let format = q.format.clone().unwrap_or_else(|| "json".into());
    if format != "json" && format != "csv" {
        return Err(ApiError::BadRequest("format: json or csv".into()));
    }
    let assets = matching(&state, &record, &q).await?;
    if format == "csv" {
        return Ok((
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            assets_csv(&assets),
        )
            .into_response());
    }
    Ok(Json(assets).into_response())
}

/// Sets the organization's owner tag name.
#[utoipa::path(
    put, path = "/v1/organizations/{organization_id}/asset-owner-tag", tag = "assets",
    params(("organization_id" = String, Path)),
    request_body = OwnerTag,
    responses((status = 200, body = OwnerTag), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
pub async fn set_owner_tag(
    State(state): State<ApiState>,
    caller: Caller,
    Path(organization_id): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<OwnerTag>), ApiError> {
    if !caller.may_access(&organization_id) {
        return Err(ApiError::NotFound);
    }
    let wanted: OwnerTag =
        serde_json::from_slice(&body).map_err(|e| ApiError::BadRequest(format!("body: {e}")))?;
    let tag = wanted
        .tag
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty());
    if tag.is_some_and(|t| {
        t.chars().count() > shared::assets::MAX_TAG_NAME_CHARS || t.chars().any(char::is_control)
    }) {
        return Err(ApiError::BadRequest(
            "tag: at most 512 printable characters".into(),
        ));
    }
    state
        .control
        .store
        .set_asset_owner_tag(&organization_id, tag)
        .await?;
    Ok((
        StatusCode::OK,
        Json(OwnerTag {
            tag: tag.map(str::to_string),
        }),
    ))
}

/// CSV of assets, one row each (tags as `name=value;...`, SKU as JSON), RFC 4180 quoting.
pub fn assets_csv(assets: &[Asset]) -> String {
    let mut out = String::from(
        "id,name,type,resource_group,location,tags,sku,kind,managed_by,created_time,changed_time,first_seen,last_seen,removed_at,owner\n",
    );
    let time =
        |t: Option<chrono::DateTime<chrono::Utc>>| t.map(|t| t.to_rfc3339()).unwrap_or_default();
    for a in assets {
        let d = &a.data;
        let tags: Vec<String> = d.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let row = [
            d.id.clone(),
            d.name.clone(),
            d.resource_type.clone(),
            d.resource_group.clone().unwrap_or_default(),
            d.location.clone().unwrap_or_default(),
            tags.join(";"),
            d.sku.as_ref().map(|s| s.to_string()).unwrap_or_default(),
            d.kind.clone().unwrap_or_default(),
            d.managed_by.clone().unwrap_or_default(),
            time(d.created_time),
            time(d.changed_time),
            a.first_seen.to_rfc3339(),
            time(a.last_seen),
            time(a.removed_at),
            a.owner.clone().unwrap_or_default(),
        ];
        let cells: Vec<String> = row.iter().map(|c| csv_cell(c)).collect();
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

/// One CSV cell, quoted when needed; a leading `=`, `+`, `-` or `@` is prefixed with `'` so a
/// spreadsheet does not run a tag value as a formula.
fn csv_cell(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@']) {
        format!("'{value}")
    } else {
        value.to_string()
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}
