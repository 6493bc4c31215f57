//! Exceptions as the control plane runs them: creating, changing, re-enabling and expiring
//! exceptions, each stored with its audit entry in one atomic step and recorded in the history
//! of every check it touches; serving latest results with the exceptions in force applied; and
//! the sweep that expires exceptions whose expiry passed (so the "expired" audit entry exists
//! even when nobody reads the results). Reads also expire what is due first, so an expiry
//! takes effect at once. Every replica may sweep: expiring is a compare-and-set, so an
//! exception expires once.

use std::time::Duration;

use serde_json::json;
use shared::store::{
    Approver, AuditEvent, ConnectionRecord, ConnectionStatus, EndReason, Exception,
    ExceptionChange, ServedCheckResult, apply_exceptions,
};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::lifecycle::Control;

/// The approver of what the fleet does by itself (expiry).
fn system() -> Approver {
    Approver {
        person: "system".into(),
        token: "system:expiry".into(),
        token_id: None,
    }
}

fn audit_event(
    action: &str,
    at: chrono::DateTime<chrono::Utc>,
    by: &Approver,
    before: Option<&Exception>,
    after: &Exception,
) -> AuditEvent {
    AuditEvent::new(
        at,
        &by.token,
        action,
        after.connection_id,
        json!({
            "exception_id": after.id,
            "check_id": after.check_id,
            "scope": after.scope(),
            "person": by.person,
            "token_id": by.token_id,
            "before": before,
            "after": after,
        }),
    )
}

impl Control {
    /// A connection's latest results with the exceptions in force now applied.
    pub async fn served_results(
        &self,
        record: &ConnectionRecord,
    ) -> anyhow::Result<Vec<ServedCheckResult>> {
        self.expire_due(&record.organization_id).await?;
        let exceptions = self.store.exceptions_of(&record.organization_id).await?;
        let latest = self.store.latest_results(record.id).await?;
        Ok(apply_exceptions(
            record.id,
            latest,
            &exceptions,
            self.clock.now(),
        ))
    }

    /// A connection's counts per result as served, with the exceptions in force applied (the
    /// stored counters count what the scans found). Reads the latest results only when an
    /// exception in force covers the connection.
    pub async fn apply_to_counts(
        &self,
        record: &ConnectionRecord,
        status: &mut ConnectionStatus,
        exceptions: &[Exception],
    ) -> anyhow::Result<()> {
        let now = self.clock.now();
        if !exceptions
            .iter()
            .any(|e| e.in_force(now) && e.connection_id.is_none_or(|c| c == record.id))
        {
            return Ok(());
        }
        let latest = self.store.latest_results(record.id).await?;
        for count in status.counts.values_mut() {
            *count = 0;
        }
        for served in apply_exceptions(record.id, latest, exceptions, now) {
            *status
                .counts
                .entry(served.latest.result.status)
                .or_insert(0) += 1;
        }
        Ok(())
    }

    /// Stores a new exception (with its `exception.created` audit entry) and records it in the
    /// history of the checks it applies to.
    pub async fn create_exception(&self, exception: &Exception) -> anyhow::Result<()> {
        let event = audit_event(
            "exception.created",
            exception.created_at,
            &exception.created_by,
            None,
            exception,
        );
        if !self.store.save_exception(exception, None, &event).await? {
            anyhow::bail!("exception {} already exists", exception.id);
        }
        let what = if exception.resources.is_empty() {
            "disabled"
        } else {
            "exempted"
        };
        self.record_history(exception, what, &exception.created_by)
            .await
    }

    /// Replaces an exception read as `expected` (its stored JSON) with `after`; false when it
    /// changed meanwhile (nothing stored; read it again).
    pub async fn change_exception(
        &self,
        before: &Exception,
        expected: &str,
        after: &Exception,
        action: &str,
        by: &Approver,
    ) -> anyhow::Result<bool> {
        let event = audit_event(action, after.updated_at, by, Some(before), after);
        if !self
            .store
            .save_exception(after, Some(expected), &event)
            .await?
        {
            return Ok(false);
        }
        let what = match action {
            "exception.reenabled" => "enabled",
            "exception.expired" => "expired",
            _ => "changed",
        };
        self.record_history(after, what, by).await?;
        Ok(true)
    }

    /// Ends every exception of the organization whose expiry passed; returns how many.
    pub async fn expire_due(&self, organization_id: &str) -> anyhow::Result<usize> {
        let now = self.clock.now();
        let mut expired = 0;
        for e in self.store.exceptions_of(organization_id).await? {
            if !e.is_due(now) {
                continue;
            }
            let Some((current, json)) = self.store.exception(organization_id, e.id).await? else {
                continue;
            };
            if !current.is_due(now) {
                continue;
            }
            let mut after = current.clone();
            let by = system();
            after.ended_at = current.expires_at;
            after.ended_by = Some(by.clone());
            after.end_reason = Some(EndReason::Expired);
            after.updated_at = now;
            // Another replica may win the race: then it has expired it, once.
            if self
                .change_exception(&current, &json, &after, "exception.expired", &by)
                .await?
            {
                expired += 1;
            }
        }
        Ok(expired)
    }

    /// Adds an entry to the history of the exception's check on every connection it covers,
    /// with the status served after the change.
    async fn record_history(
        &self,
        exception: &Exception,
        what: &str,
        by: &Approver,
    ) -> anyhow::Result<()> {
        let org = &exception.organization_id;
        let connections: Vec<Uuid> = self
            .store
            .connections_of(org)
            .await?
            .into_iter()
            .map(|c| c.id)
            .filter(|id| exception.connection_id.is_none_or(|c| c == *id))
            .collect();
        let exceptions = self.store.exceptions_of(org).await?;
        let now = self.clock.now();
        let change = ExceptionChange {
            event: what.to_string(),
            exception_id: exception.id,
            category: exception.category,
            justification: exception.justification.clone(),
            by: by.person.clone(),
        };
        for connection in connections {
            let latest: Vec<_> = self
                .store
                .latest_results(connection)
                .await?
                .into_iter()
                .filter(|r| r.result.check_id == exception.check_id)
                .collect();
            let status = apply_exceptions(connection, latest, &exceptions, now)
                .first()
                .map(|r| r.latest.result.status)
                .or_else(|| {
                    (exception.in_force(now) && exception.resources.is_empty())
                        .then_some(shared::checks::CheckStatus::Disabled)
                });
            self.store
                .append_exception_history(connection, &exception.check_id, status, now, &change)
                .await?;
        }
        Ok(())
    }
}

/// Expires due exceptions of every organization every `interval` until `shutdown`.
pub async fn sweep(control: Control, interval: Duration, shutdown: CancellationToken) {
    loop {
        match control.store.exception_organizations().await {
            Ok(orgs) => {
                for org in orgs {
                    match control.expire_due(&org).await {
                        Ok(0) => {}
                        Ok(n) => {
                            tracing::info!(organization = %org, expired = n, "exceptions expired")
                        }
                        Err(e) => {
                            tracing::warn!(organization = %org, error = %e, "expiry sweep failed")
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "expiry sweep cannot list organizations"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(interval) => {}
        }
    }
}

/// One CSV cell.
pub fn cell(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_string()
    }
}

/// The audit entries as CSV, one line per entry.
pub fn audit_csv(events: &[AuditEvent]) -> String {
    let mut out = String::from(
        "seq,at,action,actor,token_id,person,connection_id,exception_id,check_id,category,justification,expires_at,details,prev_hash,hash\n",
    );
    for e in events {
        let d = &e.details;
        let after = &d["after"];
        let s = |v: &serde_json::Value| match v {
            serde_json::Value::Null => String::new(),
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let row = [
            e.seq.map(|s| s.to_string()).unwrap_or_default(),
            e.at.to_rfc3339(),
            e.action.clone(),
            e.actor.clone(),
            s(&d["token_id"]),
            s(&d["person"]),
            e.connection_id.map(|c| c.to_string()).unwrap_or_default(),
            s(&d["exception_id"]),
            s(&d["check_id"]),
            s(&after["category"]),
            s(&after["justification"]),
            s(&after["expires_at"]),
            d.to_string(),
            e.prev_hash.clone().unwrap_or_default(),
            e.hash.clone().unwrap_or_default(),
        ];
        out.push_str(&row.iter().map(|v| cell(v)).collect::<Vec<_>>().join(","));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_quoted_when_needed() {
        assert_eq!(cell("plain"), "plain");
        assert_eq!(cell("a,b"), "\"a,b\"");
        assert_eq!(cell("say \"hi\"\n"), "\"say \"\"hi\"\"\n\"");
    }
}
