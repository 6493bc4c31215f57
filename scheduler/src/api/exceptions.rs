//! Exception routes (disable a check or exempt resources, with a justification; list, show,
//! change, re-enable) and the audit trail's export and verification.
//!
//! Exceptions live under their organization; an exception for one connection names it in the
//! body, and another organization's connection answers 404 like everywhere else. Bad input is a
//! 422 naming every bad field, and nothing is stored. Who acted is the token that made the call
//! (its id and name) and the person the caller names in `acting_person`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use shared::store::{
    Approver, AuditEvent, AuditVerification, ConnectionRecord, EndReason, Exception,
    ExceptionCategory, ExceptionTerms,
};
use uuid::Uuid;

use super::ApiState;
use super::auth::Caller;
use super::error::{ApiError, ErrorBody};
use super::input::{Checker, is_guid, parse_body};

/// Longest justification accepted.
pub const MAX_JUSTIFICATION: usize = 2000;
/// Most resources one exception may exempt.
pub const MAX_RESOURCES: usize = 100;

/// Body of `POST /v1/organizations/{organization_id}/exceptions`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateException {
    /// The connection it applies to; absent = every connection of the organization.
    pub connection_id: Option<String>,
    /// The check, e.g. `storage.min_tls_12`.
    #[schema(min_length = 1, max_length = 200)]
    pub check_id: String,
    /// ARM ids of the resources to exempt; absent or empty = disable the whole check.
    #[serde(default)]
    #[schema(max_items = 100)]
    pub resources: Vec<String>,
    #[schema(value_type = ExceptionCategory)]
    pub category: String,
    #[schema(min_length = 1, max_length = 2000, pattern = r"\S")]
    pub justification: String,
    /// The person on whose behalf the call is made.
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub acting_person: String,
    /// A ticket or change reference.
    #[schema(max_length = 200)]
    pub ticket: Option<String>,
    /// When it ends by itself (in the future).
    pub expires_at: Option<DateTime<Utc>>,
}

/// Body of `PATCH /v1/organizations/{organization_id}/exceptions/{id}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateException {
    #[schema(min_length = 1, max_length = 2000, pattern = r"\S")]
    pub justification: Option<String>,
    /// A new expiry (in the future).
    pub expires_at: Option<DateTime<Utc>>,
    /// True to remove the expiry.
    #[serde(default)]
    pub remove_expiry: bool,
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub acting_person: String,
}

/// Body of `POST /v1/organizations/{organization_id}/exceptions/{id}/reenable`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReenableBody {
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub acting_person: String,
}

fn own_organization(caller: &Caller, organization_id: &str) -> Result<(), ApiError> {
    if caller.may_access(organization_id) {
        Ok(())
    } else {
        Err(ApiError::NotFound)
    }
}

fn approver(caller: &Caller, person: String) -> Approver {
    Approver {
        person,
        token: caller.actor(),
        token_id: caller.token_id(),
    }
}

fn person(c: &mut Checker, value: &str) -> String {
    let p = c.trim("acting_person", value);
    if p.is_empty() {
        c.problem(
            "acting_person",
            "required: the person on whose behalf you act",
        );
    } else if p.chars().count() > 200 {
        c.problem("acting_person", "at most 200 characters");
    }
    p
}

fn justification(c: &mut Checker, value: &str) -> String {
    let j = c.trim("justification", value);
    if j.is_empty() {
        c.problem("justification", "required");
    } else if j.chars().count() > MAX_JUSTIFICATION {
        c.problem(
            "justification",
            &format!("at most {MAX_JUSTIFICATION} characters"),
        );
    }
    j
}

fn future(c: &mut Checker, at: Option<DateTime<Utc>>, now: DateTime<Utc>) {
    if at.is_some_and(|t| t <= now) {
        c.problem("expires_at", "must be in the future");
    }
}

/// An ARM resource id: `/subscriptions/<guid>/...` in name/value pairs after the provider
/// namespace, no empty segment, no spaces.
pub fn arm_subscription(id: &str) -> Option<String> {
    if id.len() > 1024 || id.chars().any(char::is_whitespace) {
        return None;
    }
    let segments: Vec<&str> = id.strip_prefix('/')?.split('/').collect();
    if segments.len() < 4
        || !segments.len().is_multiple_of(2)
        || !segments[0].eq_ignore_ascii_case("subscriptions")
        || !is_guid(&segments[1].to_ascii_lowercase())
        || segments.iter().any(|s| s.is_empty())
        || !segments.iter().any(|s| s.eq_ignore_ascii_case("providers"))
    {
        return None;
    }
    Some(segments[1].to_ascii_lowercase())
}

/// A created or changed exception.
async fn store_new(
    state: &ApiState,
    caller: &Caller,
    organization_id: &str,
    form: CreateException,
) -> Result<Exception, ApiError> {
    let now = state.control.clock.now();
    let mut c = Checker::default();
    let connection = match form.connection_id.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(id) => match Uuid::parse_str(id) {
            Err(_) => {
                c.problem("connection_id", "must be a connection id (a UUID)");
                None
            }
            Ok(id) => Some(
                state
                    .control
                    .store
                    .connection(id)
                    .await?
                    .filter(|r| r.organization_id == organization_id)
                    .ok_or(ApiError::NotFound)?,
            ),
        },
    };
    let check_id = c.trim("check_id", &form.check_id);
    match shared::checks::check(&check_id) {
        None => c.problem("check_id", "no such check (see GET /v1/checks)"),
        Some(_) => {
            if let Some(record) = &connection {
                check_service(state, &mut c, record, &check_id).await?;
            }
        }
    }
    let mut resources = Vec::new();
    if form.resources.len() > MAX_RESOURCES {
        c.problem("resources", &format!("at most {MAX_RESOURCES} resources"));
    }
    for (i, r) in form.resources.iter().enumerate() {
        let field = format!("resources[{i}]");
        let r = c.trim(&field, r);
        match arm_subscription(&r) {
            None => c.problem(
                &field,
                "must be an Azure resource id (/subscriptions/<id>/resourceGroups/<group>/providers/...)",
            ),
            Some(sub) if connection.as_ref().is_some_and(|rec| rec.subscription_id != sub) => c
                .problem(
                    &field,
                    "is not a resource of the connection's subscription",
                ),
            Some(_) => {
                if !resources.iter().any(|x: &String| x.eq_ignore_ascii_case(&r)) {
                    resources.push(r);
                }
            }
        }
    }
    let category = ExceptionCategory::parse(form.category.trim());
    if category.is_none() {
        c.problem(
            "category",
            &format!(
                "one of {}",
                ExceptionCategory::ALL.map(|c| c.as_str()).join(", ")
            ),
        );
    }
    let justification = justification(&mut c, &form.justification);
    let person = person(&mut c, &form.acting_person);
    let ticket = form
        .ticket
        .as_deref()
        .map(|t| c.trim("ticket", t))
        .filter(|t| !t.is_empty());
    if ticket.as_ref().is_some_and(|t| t.chars().count() > 200) {
        c.problem("ticket", "at most 200 characters");
    }
    future(&mut c, form.expires_at, now);
    c.finish()?;
    let exception = Exception::new(
        organization_id,
        connection.map(|r| r.id),
        check_id,
        resources,
        category.unwrap_or(ExceptionCategory::Other),
        justification,
        ticket,
        form.expires_at,
        approver(caller, person),
        now,
    );
    state.control.create_exception(&exception).await?;
    Ok(exception)
}

/// The check's service must be one the connection is scanned for.
async fn check_service(
    state: &ApiState,
    c: &mut Checker,
    record: &ConnectionRecord,
    check_id: &str,
) -> Result<(), ApiError> {
    let service = check_id.split('.').next().unwrap_or_default();
    if !record.capabilities.compliance_checks {
        c.problem(
            "check_id",
            "the connection does not run compliance checks (selected_items)",
        );
        return Ok(());
    }
    let status = state
        .control
        .store
        .status(record, state.control.clock.now())
        .await?;
    if let Some(access) = status.access
        && !access.services.iter().any(|s| s.service == service)
    {
        c.problem(
            "check_id",
            &format!("the connection has no {service} service"),
        );
    }
    Ok(())
}

/// Create an exception: disable a check, or exempt named resources of it, for one connection or
/// the whole organization. It applies to the latest results at once.
#[utoipa::path(
    post, path = "/v1/organizations/{organization_id}/exceptions", tag = "exceptions",
    params(("organization_id" = String, Path)),
    request_body = CreateException,
    responses(
        (status = 201, body = Exception),
        (status = 400, description = "Not JSON", body = ErrorBody),
        (status = 404, description = "No such organization or connection", body = ErrorBody),
        (status = 422, description = "Bad fields; nothing stored", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn create(
    State(state): State<ApiState>,
    caller: Caller,
    Path(organization_id): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<Exception>), ApiError> {
    own_organization(&caller, &organization_id)?;
    let form: CreateException = parse_body(&body)?;
    let exception = store_new(&state, &caller, &organization_id, form).await?;
    Ok((StatusCode::CREATED, Json(exception)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ListQuery {
    /// Exceptions applying to this connection (its own and the organization-wide ones).
    pub connection_id: Option<Uuid>,
    pub check_id: Option<String>,
    pub category: Option<ExceptionCategory>,
    /// In force now and expiring before this time.
    pub expiring_before: Option<DateTime<Utc>>,
    /// In force at some moment of this day (`2026-12-01`) or at this time (RFC 3339); the
    /// answer shows the terms then (every disabled check on date D, with its justification
    /// and who approved it).
    pub in_force_on: Option<String>,
    /// `in_force` (default), `ended` or `all`.
    pub state: Option<String>,
}

/// An exception as listed: the record, and the justification in force at the time asked
/// about.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ListedException {
    #[serde(flatten)]
    pub exception: Exception,
    /// In force at the time asked about (now, or `in_force_on`).
    pub in_force: bool,
    /// The justification at that time.
    pub justification_then: String,
}

/// The moments at which an exception may start being in force within `[start, end)`.
fn in_force_during(
    e: &Exception,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    std::iter::once(start)
        .chain(std::iter::once(e.created_at))
        .chain(e.revisions.iter().map(|r| r.at))
        .filter(|t| *t >= start && *t < end)
        .find(|t| e.in_force_at(*t))
}

fn parse_moment(value: &str) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        let t = t.with_timezone(&Utc);
        return Some((t, t + chrono::Duration::milliseconds(1)));
    }
    let day = NaiveDate::parse_from_str(value, "%Y-%m-%d").ok()?;
    let start = day.and_hms_opt(0, 0, 0)?.and_utc();
    Some((start, start + chrono::Duration::days(1)))
}

/// List an organization's exceptions (filters: connection, check, category, expiring before,
/// in force on a date).
#[utoipa::path(
    get, path = "/v1/organizations/{organization_id}/exceptions", tag = "exceptions",
    params(("organization_id" = String, Path), ListQuery),
    responses(
        (status = 200, body = Vec<ListedException>),
        (status = 400, description = "A malformed query", body = ErrorBody),
        (status = 404, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<ApiState>,
    caller: Caller,
    Path(organization_id): Path<String>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Vec<ListedException>>, ApiError> {
    let Query(q) = query?;
    own_organization(&caller, &organization_id)?;
    state.control.expire_due(&organization_id).await?;
    let now = state.control.clock.now();
    let window = match q.in_force_on.as_deref() {
        None => None,
        Some(v) => Some(parse_moment(v.trim()).ok_or_else(|| {
            ApiError::BadRequest("in_force_on: a date (2026-12-01) or an RFC 3339 time".into())
        })?),
    };
    let wanted = q.state.as_deref().unwrap_or("in_force");
    if !["in_force", "ended", "all"].contains(&wanted) {
        return Err(ApiError::BadRequest("state: in_force, ended or all".into()));
    }
    let mut out = Vec::new();
    for e in state.control.store.exceptions_of(&organization_id).await? {
        let at = match window {
            Some((start, end)) => match in_force_during(&e, start, end) {
                Some(t) => t,
                None => continue,
            },
            None => now,
        };
        let in_force = e.in_force_at(at);
        if window.is_none() {
            let keep = match wanted {
                "in_force" => in_force,
                "ended" => !in_force,
                _ => true,
            };
            if !keep {
                continue;
            }
        }
        if q.connection_id
            .is_some_and(|c| e.connection_id.is_some_and(|own| own != c))
            || q.check_id.as_ref().is_some_and(|c| c != &e.check_id)
            || q.category.is_some_and(|c| c != e.category)
            || q.expiring_before
                .is_some_and(|b| !(in_force && e.expires_at.is_some_and(|x| x < b)))
        {
            continue;
        }
        let justification_then = e
            .terms_at(at)
            .map(|t| t.justification.clone())
            .unwrap_or_else(|| e.justification.clone());
        out.push(ListedException {
            exception: e,
            in_force,
            justification_then,
        });
    }
    Ok(Json(out))
}

async fn find(
    state: &ApiState,
    caller: &Caller,
    organization_id: &str,
    id: &str,
) -> Result<(Exception, String), ApiError> {
    own_organization(caller, organization_id)?;
    let id = super::input::path_id(id)?;
    state.control.expire_due(organization_id).await?;
    state
        .control
        .store
        .exception(organization_id, id)
        .await?
        .ok_or(ApiError::NotFound)
}

/// One exception, with every version of its terms.
#[utoipa::path(
    get, path = "/v1/organizations/{organization_id}/exceptions/{exception_id}", tag = "exceptions",
    params(("organization_id" = String, Path), ("exception_id" = Uuid, Path)),
    responses((status = 200, body = Exception), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
pub async fn show(
    State(state): State<ApiState>,
    caller: Caller,
    Path((organization_id, id)): Path<(String, String)>,
) -> Result<Json<Exception>, ApiError> {
    Ok(Json(find(&state, &caller, &organization_id, &id).await?.0))
}

/// Change an exception's justification or expiry (each version is kept).
#[utoipa::path(
    patch, path = "/v1/organizations/{organization_id}/exceptions/{exception_id}", tag = "exceptions",
    params(("organization_id" = String, Path), ("exception_id" = Uuid, Path)),
    request_body = UpdateException,
    responses(
        (status = 200, body = Exception),
        (status = 400, description = "Not JSON", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "It has ended, or changed meanwhile", body = ErrorBody),
        (status = 422, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn update(
    State(state): State<ApiState>,
    caller: Caller,
    Path((organization_id, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<Exception>, ApiError> {
    let (before, json) = find(&state, &caller, &organization_id, &id).await?;
    let form: UpdateException = parse_body(&body)?;
    let now = state.control.clock.now();
    let mut c = Checker::default();
    let person = person(&mut c, &form.acting_person);
    let mut after = before.clone();
    if let Some(j) = &form.justification {
        after.justification = justification(&mut c, j);
    }
    if form.remove_expiry && form.expires_at.is_some() {
        c.problem(
            "remove_expiry",
            "give expires_at or remove_expiry, not both",
        );
    }
    future(&mut c, form.expires_at, now);
    if form.expires_at.is_some() {
        after.expires_at = form.expires_at;
    } else if form.remove_expiry {
        after.expires_at = None;
    }
    c.finish()?;
    if !before.in_force(now) {
        return Err(ApiError::Conflict("the exception has ended".into()));
    }
    let by = approver(&caller, person);
    after.updated_at = now;
    after.revisions.push(ExceptionTerms {
        at: now,
        by: by.clone(),
        justification: after.justification.clone(),
        expires_at: after.expires_at,
    });
    commit(&state, &before, &json, after, "exception.changed", &by).await
}

/// Stores a change made to `before` (read as `json`); 409 when it changed meanwhile.
async fn commit(
    state: &ApiState,
    before: &Exception,
    json: &str,
    after: Exception,
    action: &str,
    by: &Approver,
) -> Result<Json<Exception>, ApiError> {
    if !state
        .control
        .change_exception(before, json, &after, action, by)
        .await?
    {
        return Err(ApiError::Conflict(
            "the exception changed meanwhile; read it again".into(),
        ));
    }
    Ok(Json(after))
}

/// Re-enable the check: end the exception now. The real status is served at once.
#[utoipa::path(
    post, path = "/v1/organizations/{organization_id}/exceptions/{exception_id}/reenable", tag = "exceptions",
    params(("organization_id" = String, Path), ("exception_id" = Uuid, Path)),
    request_body = ReenableBody,
    responses(
        (status = 200, body = Exception),
        (status = 400, description = "Not JSON", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "It has already ended", body = ErrorBody),
        (status = 422, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn reenable(
    State(state): State<ApiState>,
    caller: Caller,
    Path((organization_id, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<Exception>, ApiError> {
    let (before, json) = find(&state, &caller, &organization_id, &id).await?;
    let form: ReenableBody = parse_body(&body)?;
    let mut c = Checker::default();
    let person = person(&mut c, &form.acting_person);
    c.finish()?;
    let now = state.control.clock.now();
    if !before.in_force(now) {
        return Err(ApiError::Conflict("the exception has already ended".into()));
    }
    let by = approver(&caller, person);
    let mut after = before.clone();
    after.ended_at = Some(now);
    after.ended_by = Some(by.clone());
    after.end_reason = Some(EndReason::Reenabled);
    after.updated_at = now;
    commit(&state, &before, &json, after, "exception.reenabled", &by).await
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ExportQuery {
    /// From this time (inclusive).
    pub from: Option<DateTime<Utc>>,
    /// Until this time (exclusive).
    pub to: Option<DateTime<Utc>>,
    /// Only actions starting with this, e.g. `exception.`.
    pub action: Option<String>,
    /// `json` (default) or `csv`.
    pub format: Option<String>,
}

/// Export the audit trail for a period, as JSON or CSV (with each entry's chain hashes).
#[utoipa::path(
    get, path = "/v1/organizations/{organization_id}/audit/export", tag = "organizations",
    params(("organization_id" = String, Path), ExportQuery),
    responses(
        (status = 200, description = "JSON (array of entries) or CSV",
         content((Vec<AuditEvent> = "application/json"), (String = "text/csv"))),
        (status = 400, description = "A malformed query", body = ErrorBody),
        (status = 404, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn export(
    State(state): State<ApiState>,
    caller: Caller,
    Path(organization_id): Path<String>,
    query: Result<Query<ExportQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query?;
    own_organization(&caller, &organization_id)?;
    state.control.expire_due(&organization_id).await?;
    let events = state
        .control
        .store
        .audit_between(&organization_id, q.from, q.to, q.action.as_deref())
        .await?;
    match q.format.as_deref().unwrap_or("json") {
        "json" => Ok(Json(events).into_response()),
        "csv" => Ok((
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            crate::exceptions::audit_csv(&events),
        )
            .into_response()),
        _ => Err(ApiError::BadRequest("format: json or csv".into())),
    }
}

/// Verify the audit trail's hash chain: every entry unedited, none removed.
#[utoipa::path(
    get, path = "/v1/organizations/{organization_id}/audit/verify", tag = "organizations",
    params(("organization_id" = String, Path)),
    responses((status = 200, body = AuditVerification), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
pub async fn verify(
    State(state): State<ApiState>,
    caller: Caller,
    Path(organization_id): Path<String>,
) -> Result<Json<AuditVerification>, ApiError> {
    own_organization(&caller, &organization_id)?;
    Ok(Json(
        state.control.store.verify_audit(&organization_id).await?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_ids_must_be_arm_ids() {
        let sub = "11111111-2222-3333-4444-555555555555";
        assert_eq!(
            arm_subscription(&format!(
                "/subscriptions/{sub}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st"
            )),
            Some(sub.to_string())
        );
        for bad in [
            "st".to_string(),
            format!("/subscriptions/{sub}"),
            "/subscriptions/nope/resourceGroups/rg/providers/A/b/c".to_string(),
            format!("/subscriptions/{sub}/resourceGroups/rg/providers/A/b"),
            format!("/subscriptions/{sub}/resourceGroups//providers/A/b/c"),
            format!("/subscriptions/{sub}/resourceGroups/r g/providers/A/b/c"),
        ] {
            assert_eq!(arm_subscription(&bad), None, "{bad}");
        }
    }

    #[test]
    fn days_cover_the_whole_day() {
        let (start, end) = parse_moment("2026-12-01").expect("date");
        assert_eq!(end - start, chrono::Duration::days(1));
        assert!(parse_moment("2026-12-01T10:00:00Z").is_some());
        assert!(parse_moment("yesterday").is_none());
    }
}
