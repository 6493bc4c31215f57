//! `GET /v1/checks`: the check catalogue (every service and check with its metadata).

use axum::Json;
use serde::Serialize;
use shared::checks::{CheckMeta, catalogue};

use super::auth::Caller;

#[derive(Serialize)]
pub struct ServiceView {
    id: &'static str,
    name: &'static str,
    checks: Vec<CheckMeta>,
}

pub async fn list(_caller: Caller) -> Json<Vec<ServiceView>> {
    Json(
        catalogue()
            .iter()
            .map(|s| ServiceView {
                id: s.id,
                name: s.name,
                checks: s.checks.iter().map(|c| c.meta).collect(),
            })
            .collect(),
    )
}
