//! Connections: the record (what the integration form holds, the client secret sealed), the
//! organization index, and the status a customer sees.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use redis::AsyncCommands;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Store, StoreError};
use crate::azure::Cloud;
use crate::checks::CheckStatus;

/// A connection as stored. The secret is sealed (see `crypto`); Debug hides it anyway.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
pub struct ConnectionRecord {
    pub id: Uuid,
    pub organization_id: String,
    pub name: String,
    pub credential_name: String,
    pub tenant_id: String,
    pub client_id: String,
    pub subscription_id: String,
    /// `crypto::KeyRing::seal` output, bound to the connection id.
    pub sealed_secret: String,
    /// Changes each time the secret is replaced (token cache key).
    pub secret_version: String,
    /// Monitored regions; empty = all.
    pub regions: Vec<String>,
    pub capabilities: Capabilities,
    pub cloud: Cloud,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl std::fmt::Debug for ConnectionRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionRecord")
            .field("id", &self.id)
            .field("organization_id", &self.organization_id)
            .field("subscription_id", &self.subscription_id)
            .field("tenant_id", &self.tenant_id)
            .field("client_id", &self.client_id)
            .field("sealed_secret", &"<sealed>")
            .finish_non_exhaustive()
    }
}

/// "Selected items" of the integration form. Unknown capabilities are refused.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, utoipa::ToSchema,
)]
#[serde(deny_unknown_fields)]
pub struct Capabilities {
    /// Compliance checks (on by default).
    #[serde(default = "yes")]
    pub compliance_checks: bool,
    /// Asset import.
    #[serde(default)]
    pub asset_import: bool,
}

fn yes() -> bool {
    true
}

impl Default for Capabilities {
    fn default() -> Self {
        Self {
            compliance_checks: true,
            asset_import: false,
        }
    }
}

/// The connection states a customer sees (product spec section 3).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionState {
    Pending,
    Connected,
    Active,
    AuthenticationFailed,
    ClientSecretExpired,
    TenantNotFound,
    ApplicationNotFound,
    ApplicationDisabled,
    SubscriptionNotFound,
    SubscriptionDisabled,
    PermissionErrors,
    /// No completed scan for more than 7 days (derived when read).
    Stale,
}

impl ConnectionState {
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionState::Pending => "pending",
            ConnectionState::Connected => "connected",
            ConnectionState::Active => "active",
            ConnectionState::AuthenticationFailed => "authentication_failed",
            ConnectionState::ClientSecretExpired => "client_secret_expired",
            ConnectionState::TenantNotFound => "tenant_not_found",
            ConnectionState::ApplicationNotFound => "application_not_found",
            ConnectionState::ApplicationDisabled => "application_disabled",
            ConnectionState::SubscriptionNotFound => "subscription_not_found",
            ConnectionState::SubscriptionDisabled => "subscription_disabled",
            ConnectionState::PermissionErrors => "permission_errors",
            ConnectionState::Stale => "stale",
        }
    }

    /// The state a token failure puts a connection in (`None`: a passing outage, no change).
    pub fn from_token_diagnosis(d: crate::azure::TokenDiagnosis) -> Option<Self> {
        use crate::azure::TokenDiagnosis as D;
        Some(match d {
            D::WrongSecret
            | D::BlockedByConditionalAccess
            | D::WrongCloud
            | D::Configuration
            | D::Unknown => ConnectionState::AuthenticationFailed,
            D::ExpiredSecret => ConnectionState::ClientSecretExpired,
            D::TenantNotFound | D::MalformedTenant => ConnectionState::TenantNotFound,
            D::AppNotFound => ConnectionState::ApplicationNotFound,
            D::AppDisabled => ConnectionState::ApplicationDisabled,
            D::Transient => return None,
        })
    }

    /// Whether the connection works (scans may run).
    pub fn is_healthy(self) -> bool {
        matches!(
            self,
            ConnectionState::Pending
                | ConnectionState::Connected
                | ConnectionState::Active
                | ConnectionState::Stale
        )
    }

    fn parse(s: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(s.to_string())).ok()
    }
}

/// Why a connection is in a failure state and what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, utoipa::ToSchema)]
pub struct Diagnosis {
    pub summary: String,
    pub remediation: String,
    /// Entra / ARM identifiers for support, when there are some.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub details: BTreeMap<String, String>,
}

/// What the service principal may read, found when the connection was validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, utoipa::ToSchema)]
pub struct AccessReport {
    /// The built-in Reader role is assigned at the subscription scope.
    pub reader: bool,
    /// The built-in Security Reader role is assigned at the subscription scope.
    pub security_reader: bool,
    /// Names of the roles assigned (built-in or custom).
    pub roles: Vec<String>,
    /// Every service, and whether its checks can read what they need.
    pub services: Vec<ServiceAccess>,
    /// The principal can also write or delete: more than a scanner needs.
    pub over_privileged: bool,
    /// The Microsoft Graph application permissions the catalogue's checks need, each granted or
    /// not; absent when no check reads Graph.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graph: Option<GraphAccess>,
    /// Asset import: whether the principal can list the subscription's resources and resource
    /// groups; absent when the connection does not select asset import.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assets: Option<ServiceAccess>,
}

/// One service's readability.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, utoipa::ToSchema)]
pub struct ServiceAccess {
    pub service: String,
    pub name: String,
    /// The principal holds every Azure action and (when they could be read) every Graph
    /// application permission the service's checks need.
    pub readable: bool,
    /// Azure actions the checks need that the principal lacks, e.g.
    /// `Microsoft.Storage/storageAccounts/read`.
    pub missing_actions: Vec<String>,
    /// Microsoft Graph application permissions the checks need that the application has not
    /// been granted, e.g. `Policy.Read.All`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing_graph_permissions: Vec<String>,
}

/// The Microsoft Graph application permissions of the connection's application, read from the
/// `roles` claim of a Graph token. Graph never fails validation: a problem is reported here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, utoipa::ToSchema)]
pub struct GraphAccess {
    /// Whether the granted permissions could be read (see `problem` when not).
    pub checked: bool,
    /// Every permission the catalogue's Graph collections need, and whether it is granted.
    pub permissions: Vec<GraphPermissionGrant>,
    /// Why the permissions could not be read (no Graph endpoint in the cloud, no Graph token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// One Microsoft Graph application permission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, utoipa::ToSchema)]
pub struct GraphPermissionGrant {
    /// E.g. `Policy.Read.All`.
    pub permission: String,
    /// Null when it could not be checked.
    pub granted: Option<bool>,
}

/// What the status page of a connection shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, utoipa::ToSchema)]
pub struct ConnectionStatus {
    pub state: ConnectionState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diagnosis: Option<Diagnosis>,
    pub last_result_at: Option<DateTime<Utc>>,
    pub last_completed_scan_id: Option<Uuid>,
    pub last_completed_scan_at: Option<DateTime<Utc>>,
    pub next_scan_at: Option<DateTime<Utc>>,
    /// Latest result of every check, counted by status.
    pub counts: BTreeMap<CheckStatus, u64>,
    /// When the connection was last validated (create, update, validate, weekly re-check).
    pub validated_at: Option<DateTime<Utc>>,
    /// What the principal may read, as found by the last successful validation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<AccessReport>,
}

/// A connection with no completed scan for longer than this is Stale.
pub const STALE_AFTER: chrono::Duration = chrono::Duration::days(7);

impl Store {
    /// Stores a new connection, indexes it under its organization, state Pending.
    pub async fn create_connection(&self, record: &ConnectionRecord) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let json = serde_json::to_string(record)?;
        // One connection per (organization, subscription), also under concurrent creates: the
        // first to claim the subscription wins. A claim left by a connection that no longer
        // exists is taken over.
        let owner_key = self
            .keys
            .subscription_owner(&record.organization_id, &record.subscription_id);
        let claimed: Option<String> = redis::cmd("SET")
            .arg(&owner_key)
            .arg(record.id.to_string())
            .arg("NX")
            .query_async(&mut conn)
            .await?;
        if claimed.is_none() {
            let holder: Option<String> = conn.get(&owner_key).await?;
            let live = match holder.as_deref().and_then(|h| Uuid::parse_str(h).ok()) {
                Some(id) => conn.exists(self.keys.record(id)).await?,
                None => false,
            };
            if live {
                return Err(StoreError::DuplicateSubscription {
                    existing: holder.unwrap_or_default(),
                });
            }
            let _: () = conn.set(&owner_key, record.id.to_string()).await?;
        }
        let _: () = redis::pipe()
            .atomic()
            .set(self.keys.record(record.id), json)
            .hset(
                self.keys.status(record.id),
                "state",
                ConnectionState::Pending.as_str(),
            )
            .query_async(&mut conn)
            .await?;
        self.batch(vec![
            redis::Cmd::sadd(
                self.keys.organization_connections(&record.organization_id),
                record.id.to_string(),
            ),
            redis::Cmd::sadd(self.keys.organizations(), &record.organization_id),
        ])
        .await?;
        Ok(())
    }

    /// Replaces a connection record (e.g. a rotated secret).
    pub async fn update_connection(&self, record: &ConnectionRecord) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let key = self.keys.record(record.id);
        // XX: only while the record exists, so an update racing a delete cannot resurrect it.
        let written: Option<String> = redis::cmd("SET")
            .arg(&key)
            .arg(serde_json::to_string(record)?)
            .arg("XX")
            .query_async(&mut conn)
            .await?;
        match written {
            Some(_) => Ok(()),
            None => Err(StoreError::Gone { key }),
        }
    }

    pub async fn connection(&self, id: Uuid) -> Result<Option<ConnectionRecord>, StoreError> {
        let mut conn = self.conn.clone();
        let key = self.keys.record(id);
        let raw: Option<String> = conn.get(&key).await?;
        raw.map(|json| {
            serde_json::from_str(&json).map_err(|e| StoreError::Corrupt {
                key,
                reason: e.to_string(),
            })
        })
        .transpose()
    }

    /// An organization's connections, by creation time.
    pub async fn connections_of(
        &self,
        organization_id: &str,
    ) -> Result<Vec<ConnectionRecord>, StoreError> {
        let mut conn = self.conn.clone();
        let ids: Vec<String> = conn
            .smembers(self.keys.organization_connections(organization_id))
            .await?;
        // One round trip for all records where the deployment allows (not MGET: on Redis
        // Cluster the records live in different slots).
        let keys: Vec<String> = ids
            .iter()
            .filter_map(|s| Uuid::parse_str(s).ok())
            .map(|id| self.keys.record(id))
            .collect();
        let replies = self
            .batch(keys.iter().map(redis::Cmd::get).collect())
            .await?;
        let raw: Vec<Option<String>> = replies
            .into_iter()
            .map(redis::from_redis_value)
            .collect::<Result<_, _>>()?;
        let mut out = Vec::with_capacity(raw.len());
        for (key, json) in keys.into_iter().zip(raw) {
            let Some(json) = json else { continue };
            out.push(
                serde_json::from_str(&json).map_err(|e| StoreError::Corrupt {
                    key,
                    reason: e.to_string(),
                })?,
            );
        }
        out.sort_by_key(|r: &ConnectionRecord| r.created_at);
        Ok(out)
    }

    /// Every organization that has (or had) connections.
    pub async fn organizations(&self) -> Result<Vec<String>, StoreError> {
        let mut conn = self.conn.clone();
        let mut orgs: Vec<String> = conn.smembers(self.keys.organizations()).await?;
        orgs.sort();
        Ok(orgs)
    }

    /// Removes a connection and everything stored about it (results, history, schedule).
    pub async fn delete_connection(&self, record: &ConnectionRecord) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let scans: Vec<String> = conn.smembers(self.keys.scan_ids(record.id)).await?;
        let mut keys = self.keys.connection_keys(record.id);
        keys.extend(
            scans
                .iter()
                .filter_map(|s| Uuid::parse_str(s).ok())
                .map(|scan| self.keys.scan(record.id, scan)),
        );
        // All of the connection's keys share its hash tag: one atomic DEL, also on a cluster.
        let _: () = redis::pipe()
            .atomic()
            .del(&keys)
            .query_async(&mut conn)
            .await?;
        self.batch(vec![
            redis::Cmd::srem(
                self.keys.organization_connections(&record.organization_id),
                record.id.to_string(),
            ),
            redis::Cmd::zrem(self.keys.schedule(), record.id.to_string()),
            redis::Cmd::hdel(self.keys.schedule_claims(), record.id.to_string()),
        ])
        .await?;
        // Free the subscription for a new connection, unless another one holds it already.
        let _: i64 = redis::Script::new(
            "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0",
        )
        .key(
            self.keys
                .subscription_owner(&record.organization_id, &record.subscription_id),
        )
        .arg(record.id.to_string())
        .invoke_async(&mut conn)
        .await?;
        Ok(())
    }

    /// Sets the connection's state and diagnosis.
    pub async fn set_state(
        &self,
        id: Uuid,
        state: ConnectionState,
        diagnosis: Option<&Diagnosis>,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let key = self.keys.status(id);
        let mut pipe = redis::pipe();
        pipe.atomic().hset(&key, "state", state.as_str());
        match diagnosis {
            Some(d) => pipe.hset(&key, "diagnosis", serde_json::to_string(d)?),
            None => pipe.hdel(&key, "diagnosis"),
        };
        let _: () = pipe.query_async(&mut conn).await?;
        Ok(())
    }

    /// Records a validation: the state it led to, its diagnosis, and what the principal may
    /// read (kept from the last successful validation when this one could not tell).
    pub async fn record_validation(
        &self,
        id: Uuid,
        state: ConnectionState,
        diagnosis: Option<&Diagnosis>,
        access: Option<&AccessReport>,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let key = self.keys.status(id);
        let mut pipe = redis::pipe();
        pipe.atomic().hset(&key, "state", state.as_str()).hset(
            &key,
            "validated_at",
            at.to_rfc3339(),
        );
        match diagnosis {
            Some(d) => pipe.hset(&key, "diagnosis", serde_json::to_string(d)?),
            None => pipe.hdel(&key, "diagnosis"),
        };
        if let Some(a) = access {
            pipe.hset(&key, "access", serde_json::to_string(a)?);
        }
        let _: () = pipe.query_async(&mut conn).await?;
        Ok(())
    }

    /// The status page of a connection (Stale derived from the last completed scan).
    pub async fn status(
        &self,
        record: &ConnectionRecord,
        now: DateTime<Utc>,
    ) -> Result<ConnectionStatus, StoreError> {
        let mut statuses = self.statuses(std::slice::from_ref(record), now).await?;
        Ok(statuses
            .pop()
            .unwrap_or_else(|| status_from(record, BTreeMap::new(), None, now)))
    }

    /// The status pages of many connections, in one round trip.
    pub async fn statuses(
        &self,
        records: &[ConnectionRecord],
        now: DateTime<Utc>,
    ) -> Result<Vec<ConnectionStatus>, StoreError> {
        if records.is_empty() {
            return Ok(Vec::new());
        }
        let mut cmds = Vec::with_capacity(records.len() * 2);
        for record in records {
            cmds.push(redis::Cmd::hgetall(self.keys.status(record.id)));
            cmds.push(redis::Cmd::zscore(
                self.keys.schedule(),
                record.id.to_string(),
            ));
        }
        let replies = self.batch(cmds).await?;
        let mut out = Vec::with_capacity(records.len());
        for (record, pair) in records.iter().zip(replies.chunks(2)) {
            let fields: BTreeMap<String, String> = match pair.first() {
                Some(v) => redis::from_redis_value(v.clone())?,
                None => BTreeMap::new(),
            };
            let next: Option<f64> = match pair.get(1) {
                Some(v) => redis::from_redis_value(v.clone())?,
                None => None,
            };
            out.push(status_from(record, fields, next, now));
        }
        Ok(out)
    }
}

/// A status page from the stored status hash and schedule score.
fn status_from(
    record: &ConnectionRecord,
    fields: BTreeMap<String, String>,
    next: Option<f64>,
    now: DateTime<Utc>,
) -> ConnectionStatus {
    let time = |name: &str| {
        fields
            .get(name)
            .and_then(|v| DateTime::parse_from_rfc3339(v).ok())
            .map(|t| t.with_timezone(&Utc))
    };
    let mut state = fields
        .get("state")
        .and_then(|s| ConnectionState::parse(s))
        .unwrap_or(ConnectionState::Pending);
    let last_completed_scan_at = time("last_completed_scan_at");
    let reference = last_completed_scan_at.unwrap_or(record.created_at);
    if matches!(state, ConnectionState::Active | ConnectionState::Connected)
        && now - reference > STALE_AFTER
    {
        state = ConnectionState::Stale;
    }
    let counts = CheckStatus::ALL
        .iter()
        .filter_map(|s| {
            let n = fields
                .get(&format!("count:{}", s.as_str()))
                .and_then(|v| v.parse::<i64>().ok())?;
            (n > 0).then_some((*s, n as u64))
        })
        .collect();
    ConnectionStatus {
        state,
        diagnosis: fields
            .get("diagnosis")
            .and_then(|d| serde_json::from_str(d).ok()),
        last_result_at: time("last_result_at"),
        last_completed_scan_id: fields
            .get("last_completed_scan_id")
            .and_then(|v| Uuid::parse_str(v).ok()),
        last_completed_scan_at,
        next_scan_at: next.and_then(|s| DateTime::from_timestamp(s as i64, 0)),
        counts,
        validated_at: time("validated_at"),
        access: fields
            .get("access")
            .and_then(|a| serde_json::from_str(a).ok()),
    }
}
