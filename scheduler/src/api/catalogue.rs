//! `GET /v1/checks`: the check catalogue (every service and check with its metadata).

use axum::Json;
use serde::Serialize;
use shared::checks::{Severity, catalogue};

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
    /// Azure actions its data needs.
    pub permissions: Vec<&'static str>,
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
    Json(
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
                        frameworks: c
                            .meta
                            .frameworks
                            .iter()
                            .map(|f| FrameworkView {
                                benchmark: f.benchmark,
                                version: f.version,
                                control: f.control,
                            })
                            .collect(),
                        permissions: c.meta.permissions.to_vec(),
                    })
                    .collect(),
            })
            .collect(),
    )
}
