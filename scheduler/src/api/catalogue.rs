//! `GET /v1/checks`: the check catalogue (every service and check with its metadata).

use axum::Json;
use serde::Serialize;
use shared::checks::{Severity, catalogue, framework};

use super::auth::Caller;

/// A benchmark control a check maps to.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FrameworkView {
    pub benchmark: &'static str,
    pub version: &'static str,
    pub control: &'static str,
}

/// A check's metadata.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CheckView {
    pub id: &'static str,
    pub title: &'static str,
    pub severity: Severity,
    pub description: &'static str,
    pub remediation: &'static str,
    pub frameworks: Vec<FrameworkView>,
    /// What its data needs: Azure actions, or Microsoft Graph application permissions.
    pub permissions: Vec<&'static str>,
    /// The collections (`service.what`) it reads; each is fetched once per job.
    pub collections: Vec<&'static str>,
}

/// A service and its checks.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ServiceView {
    pub id: &'static str,
    pub name: &'static str,
    pub checks: Vec<CheckView>,
}

/// Every service and check, with metadata.
#[utoipa::path(
    get, path = "/v1/checks", tag = "catalogue",
    responses((status = 200, body = Vec<ServiceView>)),
    security(("bearer" = []))
)]
pub async fn list(_caller: Caller) -> Json<Vec<ServiceView>> {
    Json(services())
}

/// The catalogue as the API and `scheduler catalogue` show it: metadata, plus what is derived
/// from the rest of the catalogue (framework controls from the mapping tables, permissions and
/// collections from what each check reads).
pub fn services() -> Vec<ServiceView> {
    catalogue()
        .iter()
        .map(|s| ServiceView {
            id: s.id,
            name: s.name,
            checks: s
                .checks
                .iter()
                .map(|c| CheckView {
                    id: c.meta.id,
                    title: c.meta.title,
                    severity: c.meta.severity,
                    description: c.meta.description,
                    remediation: c.meta.remediation,
                    frameworks: framework::refs_of(c.meta.id)
                        .iter()
                        .map(|f| FrameworkView {
                            benchmark: f.benchmark,
                            version: f.version,
                            control: f.control,
                        })
                        .collect(),
                    permissions: s.permissions_of(c),
                    collections: c.reads(),
                })
                .collect(),
        })
        .collect()
}
