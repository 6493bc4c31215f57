//! A connection's life: create, update (a rotated secret), validate, delete. The HTTP API and
//! the planner both go through here, so every path validates the same way, records the same
//! audit entries, and starts scans under the same rules:
//! - a new connection is stored (secret sealed), validated, given its weekly slot, and scanned
//!   at once when it validates;
//! - a connection in a failure state is not scanned; fixing it (new secret, roles granted and a
//!   new validation) resumes scans, with history intact;
//! - deleting removes the record, the sealed secret, results and history; the audit trail stays.

use chrono::Utc;
use secrecy::SecretString;
use serde_json::json;
use shared::azure::ArmClient;
use shared::broker::{Publisher, routing};
use shared::crypto::KeyRing;
use shared::messages::RescanRequest;
use shared::store::{AuditEvent, ConnectionRecord, Store, next_slot_after};
use uuid::Uuid;

use crate::validate::{Validation, validate};

/// What the control plane needs to run a connection's life.
#[derive(Clone)]
pub struct Control {
    pub metrics: std::sync::Arc<crate::metrics::SchedulerMetrics>,
    pub store: Store,
    pub publisher: Publisher,
    pub arm: ArmClient,
    pub keys: KeyRing,
    /// Scan a connection right after it validates on create.
    pub scan_on_create: bool,
}

impl std::fmt::Debug for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Control").finish_non_exhaustive()
    }
}

/// The outcome of creating or updating a connection.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub record: ConnectionRecord,
    pub validation: Validation,
    /// The scan started because of it, if any.
    pub scan_id: Option<Uuid>,
}

impl Control {
    /// Stores a new connection, validates it, plans its week, and scans it if it validated.
    pub async fn create(
        &self,
        mut record: ConnectionRecord,
        secret: &SecretString,
        actor: &str,
    ) -> anyhow::Result<Outcome> {
        record.sealed_secret = self.keys.seal(secret, &record.id.to_string())?;
        self.store.create_connection(&record).await?;
        self.store
            .schedule_at(record.id, next_slot_after(record.id, Utc::now()))
            .await?;
        self.audit(
            &record,
            actor,
            "connection.created",
            json!({"name": record.name, "subscription_id": record.subscription_id}),
        )
        .await?;
        let validation = self
            .validate_and_record(&record, secret.clone(), actor)
            .await?;
        let scan_id = if self.scan_on_create {
            self.scan_if_healthy(&record, &validation).await?
        } else {
            None
        };
        Ok(Outcome {
            record,
            validation,
            scan_id,
        })
    }

    /// Saves changed settings; re-validates when anything that signs in changed (tenant,
    /// client, secret, cloud), and scans again if that brought a failing connection back.
    pub async fn update(
        &self,
        before: &ConnectionRecord,
        mut after: ConnectionRecord,
        new_secret: Option<&SecretString>,
        actor: &str,
    ) -> anyhow::Result<Outcome> {
        if let Some(secret) = new_secret {
            after.sealed_secret = self.keys.seal(secret, &after.id.to_string())?;
            after.secret_version = Uuid::new_v4().to_string();
        }
        after.updated_at = Utc::now();
        self.store.update_connection(&after).await?;
        let changed: Vec<&str> = [
            ("name", before.name != after.name),
            (
                "credential_name",
                before.credential_name != after.credential_name,
            ),
            ("tenant_id", before.tenant_id != after.tenant_id),
            ("client_id", before.client_id != after.client_id),
            ("client_secret", new_secret.is_some()),
            ("regions", before.regions != after.regions),
            ("selected_items", before.capabilities != after.capabilities),
            ("cloud", before.cloud != after.cloud),
        ]
        .into_iter()
        .filter_map(|(field, changed)| changed.then_some(field))
        .collect();
        let action = if new_secret.is_some() {
            "connection.secret_rotated"
        } else {
            "connection.updated"
        };
        self.audit(&after, actor, action, json!({"changed": changed}))
            .await?;

        let signs_in_differently = new_secret.is_some()
            || before.tenant_id != after.tenant_id
            || before.client_id != after.client_id
            || before.cloud != after.cloud;
        if !signs_in_differently {
            let status = self.store.status(&after, Utc::now()).await?;
            let validation = Validation {
                state: status.state,
                diagnosis: status.diagnosis,
                access: status.access,
            };
            return Ok(Outcome {
                record: after,
                validation,
                scan_id: None,
            });
        }
        let was_healthy = self
            .store
            .status(before, Utc::now())
            .await?
            .state
            .is_healthy();
        let secret = self.open_secret(&after)?;
        let validation = self.validate_and_record(&after, secret, actor).await?;
        let scan_id = if !was_healthy {
            // Scans resume now rather than at the next weekly slot.
            self.scan_if_healthy(&after, &validation).await?
        } else {
            None
        };
        Ok(Outcome {
            record: after,
            validation,
            scan_id,
        })
    }

    /// Validates a stored connection again and records the result.
    pub async fn revalidate(
        &self,
        record: &ConnectionRecord,
        actor: &str,
    ) -> anyhow::Result<Validation> {
        let secret = self.open_secret(record)?;
        self.validate_and_record(record, secret, actor).await
    }

    /// Deletes a connection and everything stored about it except the audit trail.
    pub async fn delete(&self, record: &ConnectionRecord, actor: &str) -> anyhow::Result<()> {
        self.store.delete_connection(record).await?;
        self.audit(
            record,
            actor,
            "connection.deleted",
            json!({"name": record.name, "subscription_id": record.subscription_id}),
        )
        .await?;
        Ok(())
    }

    /// Requests an on-demand scan if the connection is healthy; returns its id.
    ///
    /// The request goes through the rescan queue like any other, so once this returns the scan
    /// happens even if this process dies now: the rescan consumer publishes the jobs (again, if
    /// an earlier delivery was interrupted) and marks the scan enqueued.
    pub async fn scan_if_healthy(
        &self,
        record: &ConnectionRecord,
        validation: &Validation,
    ) -> anyhow::Result<Option<Uuid>> {
        if !validation.state.is_healthy() || !record.capabilities.compliance_checks {
            return Ok(None);
        }
        let scan_id = Uuid::new_v4();
        let mut request = RescanRequest::new(record.id, None);
        request.request_id = Some(scan_id);
        request.organization_id = Some(record.organization_id.clone());
        request.requested_by = Some("connection validation".to_string());
        self.publisher
            .publish(routing::RESCAN, &request, scan_id)
            .await?;
        Ok(Some(scan_id))
    }

    fn open_secret(&self, record: &ConnectionRecord) -> anyhow::Result<SecretString> {
        Ok(self
            .keys
            .open(&record.sealed_secret, &record.id.to_string())?)
    }

    async fn validate_and_record(
        &self,
        record: &ConnectionRecord,
        secret: SecretString,
        actor: &str,
    ) -> anyhow::Result<Validation> {
        let validation = validate(&self.arm, record, secret).await;
        self.metrics
            .validations
            .with_label_values(&[validation.state.as_str()])
            .inc();
        self.store
            .record_validation(
                record.id,
                validation.state,
                validation.diagnosis.as_ref(),
                validation.access.as_ref(),
                Utc::now(),
            )
            .await?;
        self.audit(
            record,
            actor,
            "connection.validated",
            json!({"state": validation.state, "diagnosis": validation.diagnosis.as_ref().map(|d| &d.summary)}),
        )
        .await?;
        tracing::info!(connection_id = %record.id, state = ?validation.state, "connection validated");
        Ok(validation)
    }

    async fn audit(
        &self,
        record: &ConnectionRecord,
        actor: &str,
        action: &str,
        details: serde_json::Value,
    ) -> anyhow::Result<()> {
        self.store
            .append_audit(
                &record.organization_id,
                &AuditEvent {
                    id: String::new(),
                    at: Utc::now(),
                    actor: actor.to_string(),
                    action: action.to_string(),
                    connection_id: Some(record.id),
                    details,
                },
            )
            .await?;
        Ok(())
    }
}
