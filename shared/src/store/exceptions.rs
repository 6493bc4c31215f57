//! Exceptions: a customer switches a check off (or exempts named resources of it) for one
//! connection or a whole organization, with a category, a justification, who approved it and an
//! optional expiry.
//!
//! Exceptions are applied when results are read ([`apply_exceptions`]), never written into the
//! stored results: the latest results stay what the scans found, an exception takes effect (and
//! ends) at once without waiting for a scan, and what the scan found is always shown underneath.
//! Every change of an exception is stored together with its audit entry in one atomic script
//! (the exception hash shares the audit trail's hash tag), so the record and the trail never
//! disagree; an ended exception is kept (ended, with who and why), never deleted.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::audit::{Appended, RecordChange};
use super::{AuditEvent, Store, StoreError, StoredCheckResult};
use crate::checks::CheckStatus;
use crate::messages::FindingStatus;

/// Why a check is switched off.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ExceptionCategory {
    BusinessJustification,
    Operational,
    GovernancePolicy,
    RiskAccepted,
    /// Mitigated by a compensating control.
    CompensatingControl,
    Other,
}

impl ExceptionCategory {
    pub const ALL: [ExceptionCategory; 6] = [
        ExceptionCategory::BusinessJustification,
        ExceptionCategory::Operational,
        ExceptionCategory::GovernancePolicy,
        ExceptionCategory::RiskAccepted,
        ExceptionCategory::CompensatingControl,
        ExceptionCategory::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ExceptionCategory::BusinessJustification => "business_justification",
            ExceptionCategory::Operational => "operational",
            ExceptionCategory::GovernancePolicy => "governance_policy",
            ExceptionCategory::RiskAccepted => "risk_accepted",
            ExceptionCategory::CompensatingControl => "compensating_control",
            ExceptionCategory::Other => "other",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == value)
    }
}

/// Who did something: the person the caller names, and the API token that made the call (its
/// id and name, never the token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Approver {
    /// The acting person, as named by the caller (the platform calls on behalf of its users).
    pub person: String,
    /// How the token appears in the audit trail: `operator:<name>`, `token:<name>`, or
    /// `system:expiry`.
    pub token: String,
    /// The token's id (absent for the configured operator token and the system).
    pub token_id: Option<Uuid>,
}

/// How an exception ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// Someone re-enabled the check.
    Reenabled,
    /// Its expiry passed.
    Expired,
}

/// One version of an exception's changeable terms (the first is its creation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ExceptionTerms {
    pub at: DateTime<Utc>,
    pub by: Approver,
    pub justification: String,
    pub expires_at: Option<DateTime<Utc>>,
}

/// A disabled check, or exempted resources of one check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Exception {
    pub id: Uuid,
    pub organization_id: String,
    /// The connection it applies to; absent = every connection of the organization.
    pub connection_id: Option<Uuid>,
    pub check_id: String,
    /// ARM ids of the exempted resources; empty = the whole check is disabled.
    pub resources: Vec<String>,
    pub category: ExceptionCategory,
    pub justification: String,
    /// A ticket or change reference.
    pub ticket: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub created_by: Approver,
    pub updated_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub ended_by: Option<Approver>,
    pub end_reason: Option<EndReason>,
    /// Every version of the justification and expiry, oldest first.
    pub revisions: Vec<ExceptionTerms>,
}

impl Exception {
    /// A new exception in force from `now`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        organization_id: &str,
        connection_id: Option<Uuid>,
        check_id: String,
        resources: Vec<String>,
        category: ExceptionCategory,
        justification: String,
        ticket: Option<String>,
        expires_at: Option<DateTime<Utc>>,
        by: Approver,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            id: Uuid::new_v4(),
            organization_id: organization_id.to_string(),
            connection_id,
            check_id,
            resources,
            category,
            justification: justification.clone(),
            ticket,
            expires_at,
            created_at: now,
            created_by: by.clone(),
            updated_at: now,
            ended_at: None,
            ended_by: None,
            end_reason: None,
            revisions: vec![ExceptionTerms {
                at: now,
                by,
                justification,
                expires_at,
            }],
        }
    }

    /// `organization` or `connection`.
    pub fn scope(&self) -> &'static str {
        if self.connection_id.is_some() {
            "connection"
        } else {
            "organization"
        }
    }

    /// In force now: not ended and not past its expiry.
    pub fn in_force(&self, now: DateTime<Utc>) -> bool {
        self.ended_at.is_none() && self.expires_at.is_none_or(|e| e > now)
    }

    /// Was in force at `t` (for audits of the past): created before, not ended or expired by
    /// then under the terms in force at `t`.
    pub fn in_force_at(&self, t: DateTime<Utc>) -> bool {
        self.created_at <= t
            && self.ended_at.is_none_or(|e| e > t)
            && self
                .terms_at(t)
                .is_some_and(|r| r.expires_at.is_none_or(|e| e > t))
    }

    /// The terms in force at `t`.
    pub fn terms_at(&self, t: DateTime<Utc>) -> Option<&ExceptionTerms> {
        self.revisions.iter().rev().find(|r| r.at <= t)
    }

    /// Not ended yet but past its expiry.
    pub fn is_due(&self, now: DateTime<Utc>) -> bool {
        self.ended_at.is_none() && self.expires_at.is_some_and(|e| e <= now)
    }

    /// Applies to this connection's check.
    pub fn covers(&self, connection_id: Uuid, check_id: &str) -> bool {
        self.check_id == check_id && self.connection_id.is_none_or(|c| c == connection_id)
    }

    pub fn exempts(&self, resource_id: &str) -> bool {
        self.resources
            .iter()
            .any(|r| r.eq_ignore_ascii_case(resource_id))
    }
}

/// The exception that disables a served result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AppliedException {
    pub exception_id: Uuid,
    /// `organization` or `connection`.
    pub scope: String,
    pub category: ExceptionCategory,
    pub justification: String,
    pub approved_by: Approver,
    pub ticket: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    /// What the last scan found underneath, e.g. "Failed, 3 resources".
    pub would_be: String,
}

/// A finding of an exempted resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ExemptedFinding {
    pub resource_id: String,
    /// What the scan found on it.
    pub status: FindingStatus,
    pub exception_id: Uuid,
    pub category: ExceptionCategory,
    pub justification: String,
}

/// Findings of a served result by verdict; exempted findings are counted only as exempted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FindingCounts {
    pub passed: usize,
    pub failed: usize,
    pub access_denied: usize,
    pub not_applicable: usize,
    pub error: usize,
    pub exempted: usize,
}

/// A latest result as served: `status` and `reason` with the exceptions in force applied, and
/// what the scan found underneath.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ServedCheckResult {
    #[serde(flatten)]
    pub latest: StoredCheckResult,
    /// The status the last scan found, before exceptions.
    pub scanned_status: CheckStatus,
    /// The exception disabling the check, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exception: Option<AppliedException>,
    /// Findings of exempted resources (they stay in `findings` as scanned, and do not make the
    /// check Failed).
    #[serde(default)]
    pub exempted_findings: Vec<ExemptedFinding>,
    pub finding_counts: FindingCounts,
}

/// "Failed, 3 resources", "Passed", ...
pub fn describe(result: &StoredCheckResult) -> String {
    let failing = result
        .result
        .findings
        .iter()
        .filter(|f| f.status == FindingStatus::Failed)
        .count();
    match result.result.status {
        CheckStatus::Failed if failing > 0 => format!(
            "Failed, {failing} resource{}",
            if failing == 1 { "" } else { "s" }
        ),
        status => status.to_string(),
    }
}

/// Applies the exceptions in force at `now` to a connection's latest results. A connection-wide
/// exception wins over an organization-wide one; whole-check exceptions over resource ones.
pub fn apply_exceptions(
    connection_id: Uuid,
    latest: Vec<StoredCheckResult>,
    exceptions: &[Exception],
    now: DateTime<Utc>,
) -> Vec<ServedCheckResult> {
    latest
        .into_iter()
        .map(|r| apply_one(connection_id, r, exceptions, now))
        .collect()
}

fn apply_one(
    connection_id: Uuid,
    mut latest: StoredCheckResult,
    exceptions: &[Exception],
    now: DateTime<Utc>,
) -> ServedCheckResult {
    let scanned_status = latest.result.status;
    let mut in_force: Vec<&Exception> = exceptions
        .iter()
        .filter(|e| e.covers(connection_id, &latest.result.check_id) && e.in_force(now))
        .collect();
    // Connection scope first, then oldest first.
    in_force.sort_by_key(|e| (e.connection_id.is_none(), e.created_at));
    let mut counts = FindingCounts::default();
    let mut exempted = Vec::new();
    for f in &latest.result.findings {
        let exemption = in_force
            .iter()
            .find(|e| !e.resources.is_empty() && e.exempts(&f.resource_id));
        if let Some(e) = exemption {
            counts.exempted += 1;
            exempted.push(ExemptedFinding {
                resource_id: f.resource_id.clone(),
                status: f.status,
                exception_id: e.id,
                category: e.category,
                justification: e.justification.clone(),
            });
            continue;
        }
        match f.status {
            FindingStatus::Passed => counts.passed += 1,
            FindingStatus::Failed => counts.failed += 1,
            FindingStatus::AccessDenied => counts.access_denied += 1,
            FindingStatus::NotApplicable => counts.not_applicable += 1,
            FindingStatus::Error => counts.error += 1,
        }
    }
    let whole = in_force.iter().find(|e| e.resources.is_empty());
    let exception = whole.map(|e| AppliedException {
        exception_id: e.id,
        scope: e.scope().to_string(),
        category: e.category,
        justification: e.justification.clone(),
        approved_by: e.created_by.clone(),
        ticket: e.ticket.clone(),
        expires_at: e.expires_at,
        would_be: describe(&latest),
    });
    if let Some(applied) = &exception {
        latest.result.status = CheckStatus::Disabled;
        latest.result.reason = format!(
            "Disabled ({}): {}; would be: {}",
            applied.category.as_str(),
            applied.justification,
            applied.would_be
        );
    } else if scanned_status == CheckStatus::Failed
        && counts.exempted > 0
        && counts.failed == 0
        && counts.access_denied == 0
        && counts.error == 0
    {
        latest.result.status = CheckStatus::Passed;
        latest.result.reason = format!(
            "Passed: {} resource{} exempted, none failing; would be: {}",
            counts.exempted,
            if counts.exempted == 1 { "" } else { "s" },
            describe(&latest)
        );
    } else if counts.exempted > 0 {
        latest.result.reason = format!(
            "{} ({} resource{} exempted)",
            latest.result.reason,
            counts.exempted,
            if counts.exempted == 1 { "" } else { "s" }
        );
    }
    ServedCheckResult {
        latest,
        scanned_status,
        exception,
        exempted_findings: exempted,
        finding_counts: counts,
    }
}

/// An exception event in a check's history.
#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema, schemars::JsonSchema,
)]
pub struct ExceptionChange {
    /// `disabled`, `exempted`, `changed`, `enabled` (re-enabled), `expired`.
    pub event: String,
    pub exception_id: Uuid,
    #[schemars(with = "String")]
    pub category: ExceptionCategory,
    pub justification: String,
    /// The acting person.
    pub by: String,
}

impl Store {
    /// Every exception of an organization (ended ones too), oldest first.
    pub async fn exceptions_of(&self, organization_id: &str) -> Result<Vec<Exception>, StoreError> {
        let mut conn = self.conn.clone();
        let key = self.keys.exceptions(organization_id);
        let raw: BTreeMap<String, String> = conn.hgetall(&key).await?;
        let mut out = raw
            .into_values()
            .map(|json| {
                serde_json::from_str::<Exception>(&json).map_err(|e| StoreError::Corrupt {
                    key: key.clone(),
                    reason: e.to_string(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        out.sort_by_key(|e| (e.created_at, e.id));
        Ok(out)
    }

    /// One exception with its stored JSON (for compare-and-set).
    pub async fn exception(
        &self,
        organization_id: &str,
        id: Uuid,
    ) -> Result<Option<(Exception, String)>, StoreError> {
        let mut conn = self.conn.clone();
        let key = self.keys.exceptions(organization_id);
        let raw: Option<String> = conn.hget(&key, id.to_string()).await?;
        raw.map(|json| {
            serde_json::from_str::<Exception>(&json)
                .map(|e| (e, json.clone()))
                .map_err(|e| StoreError::Corrupt {
                    key: key.clone(),
                    reason: e.to_string(),
                })
        })
        .transpose()
    }

    /// Stores a new or changed exception and its audit entry atomically; `expected` is the
    /// stored JSON it was read as (`None` for a new one). False when it changed meanwhile
    /// (nothing stored).
    pub async fn save_exception(
        &self,
        exception: &Exception,
        expected: Option<&str>,
        event: &AuditEvent,
    ) -> Result<bool, StoreError> {
        let org = &exception.organization_id;
        let json = serde_json::to_string(exception)?;
        let outcome = self
            .append_chained(
                org,
                event,
                Some(RecordChange {
                    key: self.keys.exceptions(org),
                    field: exception.id.to_string(),
                    expected,
                    new: &json,
                }),
            )
            .await?;
        if outcome == Appended::Stale {
            return Ok(false);
        }
        let mut conn = self.conn.clone();
        let _: () = conn.sadd(self.keys.exception_organizations(), org).await?;
        Ok(true)
    }

    /// Organizations that have exceptions.
    pub async fn exception_organizations(&self) -> Result<Vec<String>, StoreError> {
        let mut conn = self.conn.clone();
        Ok(conn.smembers(self.keys.exception_organizations()).await?)
    }

    /// Adds an exception event to a check's history (status = the status served after it).
    pub async fn append_exception_history(
        &self,
        connection_id: Uuid,
        check_id: &str,
        status: Option<CheckStatus>,
        at: DateTime<Utc>,
        change: &ExceptionChange,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let min = (at
            - chrono::Duration::from_std(self.retention.history).unwrap_or(chrono::Duration::MAX))
        .timestamp_millis()
        .max(0);
        let _: String = redis::cmd("XADD")
            .arg(self.keys.history(connection_id))
            .arg("MINID")
            .arg("~")
            .arg(format!("{min}-0"))
            .arg("*")
            .arg("check_id")
            .arg(check_id)
            .arg("status")
            .arg(status.map(|s| s.as_str()).unwrap_or(""))
            .arg("finished_at")
            .arg(at.to_rfc3339())
            .arg("exception")
            .arg(serde_json::to_string(change)?)
            .query_async(&mut conn)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::{CheckResult, Finding};

    fn finding(id: &str, status: FindingStatus) -> Finding {
        Finding {
            resource_id: id.into(),
            resource_name: id.rsplit('/').next().unwrap_or(id).into(),
            resource_type: "t".into(),
            location: None,
            status,
            evidence: vec![],
            message: "m".into(),
        }
    }

    fn latest(status: CheckStatus, findings: Vec<Finding>) -> StoredCheckResult {
        StoredCheckResult {
            result: CheckResult {
                check_id: "storage.min_tls_12".into(),
                status,
                reason: "r".into(),
                missing_permission: None,
                findings,
            },
            service: "storage".into(),
            scan_id: Uuid::nil(),
            job_id: Uuid::nil(),
            finished_at: Utc::now(),
            last_good: None,
        }
    }

    fn exception(connection: Option<Uuid>, resources: &[&str]) -> Exception {
        let by = Approver {
            person: "ana".into(),
            token: "token:portal".into(),
            token_id: None,
        };
        Exception::new(
            "acme",
            connection,
            "storage.min_tls_12".into(),
            resources.iter().map(|r| r.to_string()).collect(),
            ExceptionCategory::Operational,
            "legacy clients".into(),
            None,
            None,
            by,
            Utc::now(),
        )
    }

    #[test]
    fn a_disabled_check_shows_what_the_scan_found() {
        let conn = Uuid::new_v4();
        let r = latest(
            CheckStatus::Failed,
            vec![
                finding("/a", FindingStatus::Failed),
                finding("/b", FindingStatus::Failed),
                finding("/c", FindingStatus::Failed),
            ],
        );
        let served = apply_exceptions(conn, vec![r], &[exception(Some(conn), &[])], Utc::now());
        assert_eq!(served[0].latest.result.status, CheckStatus::Disabled);
        assert_eq!(served[0].scanned_status, CheckStatus::Failed);
        let applied = served[0].exception.as_ref().expect("applied");
        assert_eq!(applied.would_be, "Failed, 3 resources");
        assert!(served[0].latest.result.reason.contains("legacy clients"));
        // Another connection's exception does not apply; an expired one neither.
        let other = apply_exceptions(
            conn,
            served.iter().map(|s| s.latest.clone()).collect(),
            &[exception(Some(Uuid::new_v4()), &[])],
            Utc::now(),
        );
        assert!(other[0].exception.is_none());
        let mut expired = exception(None, &[]);
        expired.expires_at = Some(Utc::now() - chrono::Duration::seconds(1));
        let r = latest(
            CheckStatus::Failed,
            vec![finding("/a", FindingStatus::Failed)],
        );
        let served = apply_exceptions(conn, vec![r], &[expired], Utc::now());
        assert_eq!(served[0].latest.result.status, CheckStatus::Failed);
    }

    #[test]
    fn exempted_resources_do_not_fail_the_check() {
        let conn = Uuid::new_v4();
        let r = latest(
            CheckStatus::Failed,
            vec![
                finding("/subscriptions/s/x/A", FindingStatus::Failed),
                finding("/subscriptions/s/x/b", FindingStatus::Passed),
            ],
        );
        let e = exception(None, &["/subscriptions/S/x/a"]);
        let served = apply_exceptions(conn, vec![r.clone()], std::slice::from_ref(&e), Utc::now());
        assert_eq!(served[0].latest.result.status, CheckStatus::Passed);
        assert_eq!(served[0].finding_counts.exempted, 1);
        assert_eq!(served[0].finding_counts.failed, 0);
        assert_eq!(served[0].finding_counts.passed, 1);
        assert_eq!(served[0].exempted_findings[0].exception_id, e.id);
        // A second failing resource keeps it Failed.
        let mut r2 = r;
        r2.result
            .findings
            .push(finding("/subscriptions/s/x/c", FindingStatus::Failed));
        let served = apply_exceptions(conn, vec![r2], &[e], Utc::now());
        assert_eq!(served[0].latest.result.status, CheckStatus::Failed);
    }

    #[test]
    fn the_past_is_judged_by_the_terms_then() {
        let mut e = exception(None, &[]);
        let t0 = e.created_at;
        let later = t0 + chrono::Duration::days(10);
        e.revisions.push(ExceptionTerms {
            at: t0 + chrono::Duration::days(5),
            by: e.created_by.clone(),
            justification: "changed".into(),
            expires_at: Some(t0 + chrono::Duration::days(6)),
        });
        assert!(e.in_force_at(t0 + chrono::Duration::days(1)));
        assert_eq!(
            e.terms_at(t0 + chrono::Duration::days(1))
                .map(|t| t.justification.as_str()),
            Some("legacy clients")
        );
        assert!(!e.in_force_at(later));
        assert!(!e.in_force_at(t0 - chrono::Duration::days(1)));
    }
}
