//! The messages that travel on RabbitMQ: scan jobs, scan results and rescan requests.
//!
//! They are the contract between the scheduler, the workers and anyone who publishes a rescan
//! with an AMQP client, so they are versioned JSON with JSON Schemas generated from these types
//! (`shared/schemas/*.json`, kept in sync by a test). Rules every message follows:
//! - a `schema` name and a `version`; a reader refuses versions it does not know;
//! - unknown fields are ignored, so producers can add optional fields without breaking readers;
//! - a job names a connection and a service, never a credential: workers read the (encrypted)
//!   secret from the store.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::checks::CheckStatus;

/// Current version of every message kind. Bump per kind when a change is not backwards compatible.
pub const MESSAGE_VERSION: u32 = 1;

/// A message kind: its schema name (the `schema` field and the AMQP `type` property).
pub trait Message: Serialize + for<'de> Deserialize<'de> {
    const SCHEMA: &'static str;
}

/// What made a scan happen. On-demand jobs travel on their own, higher-priority queue.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// The weekly planner.
    Scheduled,
    /// A rescan request (API, CLI or AMQP) or the first scan of a new connection.
    OnDemand,
}

/// One unit of work: scan one service of one connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(
    title = "scan-job",
    description = "Scan one service of one connection. Carries no credential."
)]
pub struct ScanJob {
    /// Always `scan-job`.
    pub schema: String,
    /// Message version, currently 1.
    pub version: u32,
    /// Unique per (scan, service); ingestion is idempotent on it.
    pub job_id: Uuid,
    /// Groups the jobs of one scan of a connection.
    pub scan_id: Uuid,
    pub organization_id: String,
    pub connection_id: Uuid,
    /// Service id from the check catalogue, e.g. `storage` or `nsg`.
    pub service: String,
    pub trigger: Trigger,
    pub requested_at: DateTime<Utc>,
    /// Set on the part jobs of a service too big for one job (see [`JobPart`]); absent on the
    /// jobs the scheduler enqueues.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part: Option<JobPart>,
}

/// Most parts one job may be split into.
pub const MAX_PARTS: u32 = 4096;
/// Most times a part may hand its unfinished items to a continuation (part `i` continues as
/// `i + parts`, then `i + 2 * parts`, ...).
pub const MAX_GENERATIONS: u32 = 64;
/// Most chunks one part's result may be cut into.
pub const MAX_CHUNKS: u32 = 1024;
/// Default byte bound of a result message (and of a part job's carried data): RabbitMQ 4
/// refuses messages over 16 MiB by default, and a worker or the ingester holds at most a few
/// of these at once.
pub const DEFAULT_MESSAGE_BYTES: usize = 1024 * 1024;

/// One bounded slice of a big service's scan: the items of the collection the job was split on
/// (`collection`), as the coordinating job listed them, plus the other lists the part's checks
/// read. The part reads its slice's children and evaluates the checks that depend on them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct JobPart {
    /// 1-based; part 0 is the coordinating job itself. A continuation of part `i` (the items
    /// part `i` had no time left for) is `i + of`, its own continuation `i + 2 * of`, and so on.
    pub index: u32,
    /// How many parts the job has, the coordinator included.
    pub of: u32,
    /// The collection key the job was split on, e.g. `storage.accounts`.
    pub collection: String,
    /// This part's items of that collection (ARM resource bodies).
    pub items: Vec<Value>,
    /// Other lists the part's checks read, whole.
    #[serde(default)]
    pub carried: Vec<CarriedList>,
}

/// A list carried by a part job so that the part does not read it again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CarriedList {
    pub collection: String,
    pub items: Vec<Value>,
}

/// Where a result message belongs when a job's result travels in several messages: part
/// `part` of `parts`, chunk `chunk` of `chunks` of that part's result. The ingester stages
/// them and ingests one combined result once every chunk of every part is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Fragment {
    pub part: u32,
    pub parts: u32,
    pub chunk: u32,
    pub chunks: u32,
    /// Set when this part handed the items it had no time for to a continuation part (always
    /// `part + parts`), whose pieces the job then waits for too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continued_by: Option<u32>,
    /// On the coordinator's pieces (part 0) of a job whose parts went out while its list was
    /// still being read, before their count was known (they are numbered against `parts` =
    /// [`MAX_PARTS`]): how many parts the job has, part 0 included. The ingester then waits
    /// for parts `0..parts_used` (and their continuations) only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parts_used: Option<u32>,
}

impl Fragment {
    /// Piece `part` of `parts`, in one chunk, not continued (what a part's result is before
    /// chunking).
    pub fn whole(part: u32, parts: u32) -> Self {
        Fragment {
            part,
            parts,
            chunk: 0,
            chunks: 1,
            continued_by: None,
            parts_used: None,
        }
    }

    /// Why the numbers are not a fragment this build can stage, if they are not.
    pub fn invalid(&self) -> Option<String> {
        if self.parts == 0 || self.parts > MAX_PARTS {
            return Some(format!("parts must be 1..={MAX_PARTS}, got {}", self.parts));
        }
        if self.chunks == 0 || self.chunks > MAX_CHUNKS {
            return Some(format!(
                "chunks must be 1..={MAX_CHUNKS}, got {}",
                self.chunks
            ));
        }
        if let Some(next) = self.continued_by
            && (self.part.is_multiple_of(self.parts)
                || Some(next) != self.part.checked_add(self.parts))
        {
            return Some(format!(
                "part {} cannot be continued by part {next}",
                self.part
            ));
        }
        if let Some(used) = self.parts_used
            && (self.part != 0 || used == 0 || used > self.parts)
        {
            return Some(format!(
                "part {} of {} cannot say the job has {used} parts",
                self.part, self.parts
            ));
        }
        let max_part = self.parts.saturating_mul(MAX_GENERATIONS);
        if self.part >= max_part
            || self.continued_by.is_some_and(|n| n >= max_part)
            || (self.part >= self.parts && self.part.is_multiple_of(self.parts))
            || self.chunk >= self.chunks
        {
            return Some(format!(
                "fragment {}/{} chunk {}/{} is out of range",
                self.part, self.parts, self.chunk, self.chunks
            ));
        }
        None
    }
}

impl Message for ScanJob {
    const SCHEMA: &'static str = "scan-job";
}

/// Outcome of one scan job: every check of the service, with per-resource findings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(title = "scan-result")]
pub struct ScanResult {
    /// Always `scan-result`.
    pub schema: String,
    pub version: u32,
    pub job_id: Uuid,
    pub scan_id: Uuid,
    pub organization_id: String,
    pub connection_id: Uuid,
    pub service: String,
    pub trigger: Trigger,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    /// Which worker produced it (host name and process id), for operators.
    pub worker: String,
    /// How much Azure work the job took.
    pub arm: ArmUsage,
    pub checks: Vec<CheckResult>,
    /// Set when the job could not authenticate at all: every check is `error`, and the
    /// connection needs its owner's attention (e.g. the client secret expired).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_error: Option<ConnectionError>,
    /// Set when this message is one piece of the job's result (a part of a split job, or a
    /// chunk of a result over the message bound).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fragment: Option<Fragment>,
}

/// Why a job could not use the connection's service principal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, utoipa::ToSchema)]
pub struct ConnectionError {
    pub diagnosis: crate::azure::TokenDiagnosis,
    /// Entra's description (never contains the secret).
    pub message: String,
    /// What the customer should do.
    pub remediation: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
}

impl ScanResult {
    /// This result without its checks: ids, times, ARM usage, fragment (what staging keeps of
    /// a piece apart from its checks).
    pub fn envelope(&self) -> ScanResult {
        ScanResult {
            schema: self.schema.clone(),
            version: self.version,
            job_id: self.job_id,
            scan_id: self.scan_id,
            organization_id: self.organization_id.clone(),
            connection_id: self.connection_id,
            service: self.service.clone(),
            trigger: self.trigger,
            started_at: self.started_at,
            finished_at: self.finished_at,
            worker: self.worker.clone(),
            arm: self.arm.clone(),
            checks: Vec::new(),
            connection_error: self.connection_error.clone(),
            fragment: self.fragment,
        }
    }
}

impl ConnectionError {
    pub fn from_token_error(e: &crate::azure::TokenError) -> Self {
        Self {
            diagnosis: e.diagnosis,
            message: e.message.clone(),
            remediation: e.diagnosis.remediation().to_string(),
            trace_id: e.trace_id.clone(),
            correlation_id: e.correlation_id.clone(),
        }
    }
}

impl Message for ScanResult {
    const SCHEMA: &'static str = "scan-result";
}

/// ARM (and Entra) calls made by one job.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ArmUsage {
    /// HTTP requests sent to Resource Manager (every page and retry counts).
    pub requests: u64,
    /// Requests answered 429.
    pub throttled: u64,
    /// Requests retried (5xx, 429, connection errors, expired token).
    pub retries: u64,
    /// Time spent waiting for the fleet-wide ARM read budget, milliseconds.
    #[serde(default)]
    pub limiter_wait_ms: u64,
    /// Time spent collecting, milliseconds.
    pub collect_ms: u64,
    /// Time spent evaluating checks, milliseconds.
    pub evaluate_ms: u64,
    /// Per collection: what it cost.
    pub collections: Vec<CollectionUsage>,
}

/// The cost and outcome of one collection (e.g. `storage.accounts`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CollectionUsage {
    pub collection: String,
    pub requests: u64,
    pub items: u64,
    pub duration_ms: u64,
    /// `ok`, or the error class that stopped it (`access_denied`, `not_applicable`, `error`).
    pub outcome: String,
}

/// The result of one check in one scan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, utoipa::ToSchema)]
pub struct CheckResult {
    /// Stable check id, `service.name`, e.g. `storage.min_tls_12`.
    pub check_id: String,
    pub status: CheckStatus,
    /// Why the check ended this way, in words a customer can act on.
    pub reason: String,
    /// For `failed_access_denied`: the Azure action the principal lacks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing_permission: Option<String>,
    /// One finding per in-scope resource the check looked at.
    #[serde(default)]
    pub findings: Vec<Finding>,
}

/// What a check saw on one resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, utoipa::ToSchema)]
pub struct Finding {
    /// Full ARM resource id (or a synthetic id for subscription-wide settings).
    pub resource_id: String,
    pub resource_name: String,
    pub resource_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    pub status: FindingStatus,
    /// The properties the decision rests on and the values seen.
    #[serde(default)]
    pub evidence: Vec<Evidence>,
    /// One sentence about this resource.
    pub message: String,
}

/// Per-resource verdict.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum FindingStatus {
    Passed,
    Failed,
    /// The data about this resource could not be read (403).
    AccessDenied,
    /// The resource is in scope but the check does not apply to it (e.g. a blob-only account for
    /// a file-share check).
    NotApplicable,
    /// The data about this resource could not be read for another reason.
    Error,
}

/// One observed property: where it is, what it was, what was expected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, utoipa::ToSchema)]
pub struct Evidence {
    /// Path in the ARM resource body, e.g. `properties.minimumTlsVersion`.
    pub property: String,
    /// The value seen; `null` when the property is absent.
    pub value: Value,
    /// The condition that passes, e.g. `TLS1_2 or TLS1_3`.
    pub expected: String,
}

/// Ask for a rescan of a connection, all services or some. Anyone with broker access may publish
/// it (routing key `scan.rescan` on the fleet exchange).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(title = "rescan-request")]
pub struct RescanRequest {
    /// Always `rescan-request`.
    pub schema: String,
    pub version: u32,
    pub connection_id: Uuid,
    /// When set, must match the connection's organization (a guard for multi-tenant publishers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<String>,
    /// Service ids to scan; absent or empty = every service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub services: Option<Vec<String>>,
    /// Optional idempotency key: the same request id is turned into jobs once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<Uuid>,
    /// Free text: who asked (user, system), for the logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_by: Option<String>,
}

impl Message for RescanRequest {
    const SCHEMA: &'static str = "rescan-request";
}

/// Why a message could not be read. The consumer dead-letters it with this text.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("not JSON or not the {schema} shape: {source}")]
    Malformed {
        schema: &'static str,
        source: serde_json::Error,
    },
    #[error("expected schema {expected:?}, got {got:?}")]
    WrongSchema { expected: &'static str, got: String },
    #[error("{schema} version {got} is not supported (this build reads version {supported})")]
    UnsupportedVersion {
        schema: &'static str,
        got: u64,
        supported: u32,
    },
}

/// Parses a message body, checking its schema name and version first so that a newer or foreign
/// message gets a precise reason instead of a field error.
pub fn decode<M: Message>(body: &[u8]) -> Result<M, DecodeError> {
    let raw: Value = serde_json::from_slice(body).map_err(|source| DecodeError::Malformed {
        schema: M::SCHEMA,
        source,
    })?;
    let schema = raw.get("schema").and_then(Value::as_str).unwrap_or("");
    if schema != M::SCHEMA {
        return Err(DecodeError::WrongSchema {
            expected: M::SCHEMA,
            got: schema.to_string(),
        });
    }
    let version = raw.get("version").and_then(Value::as_u64).unwrap_or(0);
    if version != u64::from(MESSAGE_VERSION) {
        return Err(DecodeError::UnsupportedVersion {
            schema: M::SCHEMA,
            got: version,
            supported: MESSAGE_VERSION,
        });
    }
    serde_json::from_value(raw).map_err(|source| DecodeError::Malformed {
        schema: M::SCHEMA,
        source,
    })
}

/// Serializes a message. Serialization of these plain types cannot fail in practice; the error is
/// still surfaced rather than unwrapped.
pub fn encode<M: Message>(message: &M) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec(message)
}

impl ScanJob {
    /// This job with `part` in place of its own, without copying its own part's items (a part
    /// job's slice can be megabytes).
    pub fn with_part(&self, part: Option<JobPart>) -> Self {
        Self {
            schema: self.schema.clone(),
            version: self.version,
            job_id: self.job_id,
            scan_id: self.scan_id,
            organization_id: self.organization_id.clone(),
            connection_id: self.connection_id,
            service: self.service.clone(),
            trigger: self.trigger,
            requested_at: self.requested_at,
            part,
        }
    }

    pub fn new(
        scan_id: Uuid,
        organization_id: &str,
        connection_id: Uuid,
        service: &str,
        trigger: Trigger,
    ) -> Self {
        Self {
            schema: Self::SCHEMA.to_string(),
            version: MESSAGE_VERSION,
            job_id: job_id_for(scan_id, service),
            scan_id,
            organization_id: organization_id.to_string(),
            connection_id,
            service: service.to_string(),
            trigger,
            requested_at: Utc::now(),
            part: None,
        }
    }
}

/// Job ids are derived from (scan, service), so enqueuing the same scan twice yields the same
/// job ids and ingestion keeps one result.
pub fn job_id_for(scan_id: Uuid, service: &str) -> Uuid {
    Uuid::new_v5(&scan_id, service.as_bytes())
}

impl RescanRequest {
    pub fn new(connection_id: Uuid, services: Option<Vec<String>>) -> Self {
        Self {
            schema: Self::SCHEMA.to_string(),
            version: MESSAGE_VERSION,
            connection_id,
            organization_id: None,
            services,
            request_id: Some(Uuid::new_v4()),
            requested_by: None,
        }
    }
}

/// The JSON Schemas of the three messages, by file name. `shared/schemas/` holds these exactly.
pub fn json_schemas() -> Vec<(&'static str, Value)> {
    vec![
        ("scan-job.json", schemars::schema_for!(ScanJob).to_value()),
        (
            "scan-result.json",
            schemars::schema_for!(ScanResult).to_value(),
        ),
        (
            "rescan-request.json",
            schemars::schema_for!(RescanRequest).to_value(),
        ),
        (
            "asset-batch.json",
            schemars::schema_for!(crate::assets::AssetBatch).to_value(),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job() -> ScanJob {
        ScanJob::new(
            Uuid::new_v4(),
            "acme",
            Uuid::new_v4(),
            "storage",
            Trigger::Scheduled,
        )
    }

    #[test]
    fn job_round_trips_and_ignores_unknown_fields() {
        let job = job();
        let mut raw = serde_json::to_value(&job).expect("serialize");
        raw["added_in_a_later_minor"] = Value::from(true);
        let back: ScanJob = decode(&serde_json::to_vec(&raw).expect("bytes")).expect("decode");
        assert_eq!(back, job);
    }

    #[test]
    fn job_ids_are_stable_per_scan_and_service() {
        let scan = Uuid::new_v4();
        assert_eq!(job_id_for(scan, "nsg"), job_id_for(scan, "nsg"));
        assert_ne!(job_id_for(scan, "nsg"), job_id_for(scan, "storage"));
    }

    #[test]
    fn refuses_other_versions_and_schemas_with_a_reason() {
        let mut raw = serde_json::to_value(job()).expect("serialize");
        raw["version"] = Value::from(2);
        let err = decode::<ScanJob>(&serde_json::to_vec(&raw).expect("bytes")).unwrap_err();
        assert!(
            err.to_string().contains("version 2 is not supported"),
            "{err}"
        );

        let err = decode::<ScanJob>(br#"{"schema":"rescan-request","version":1}"#).unwrap_err();
        assert!(err.to_string().contains("expected schema"), "{err}");

        let err = decode::<ScanJob>(b"not json").unwrap_err();
        assert!(matches!(err, DecodeError::Malformed { .. }));
    }

    #[test]
    fn rescan_request_needs_only_a_connection() {
        let id = Uuid::new_v4();
        let body = format!(r#"{{"schema":"rescan-request","version":1,"connection_id":"{id}"}}"#);
        let req: RescanRequest = decode(body.as_bytes()).expect("decode");
        assert_eq!(req.connection_id, id);
        assert!(req.services.is_none());
    }

    #[test]
    fn committed_schemas_match_the_code() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas");
        for (file, schema) in json_schemas() {
            let path = dir.join(file);
            let expected = serde_json::to_string_pretty(&schema).expect("pretty") + "\n";
            if std::env::var_os("UPDATE_SCHEMAS").is_some() {
                std::fs::create_dir_all(&dir).expect("mkdir");
                std::fs::write(&path, &expected).expect("write");
            }
            let committed = std::fs::read_to_string(&path).unwrap_or_default();
            assert_eq!(
                committed, expected,
                "{file} is out of date: run `UPDATE_SCHEMAS=1 cargo test -p shared messages`"
            );
        }
    }
}
