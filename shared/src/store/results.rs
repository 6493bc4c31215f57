//! Results: idempotent ingestion of scan results into latest results, change history, per-scan
//! summaries, status counters and scan progress.
//!
//! Ingestion is one Lua script per result, atomic and idempotent on the job id: a result seen
//! twice (a redelivered job, a redelivered result) changes nothing the second time. History is
//! stored as changes: a check's entry is added only when its status or findings differ from its
//! previous result (compared by fingerprint), so memory grows with what changed, not with time
//! (DESIGN.md "Redis"). A result of an older scan than the stored latest's (late redelivery)
//! does not replace it. The history stream is trimmed by age (`MINID`) to the retention setting.
//!
//! What ingestion keeps per job (the idempotency key, the job's summary in the scans stream) is
//! bounded by [`IDEMPOTENCY_WINDOW`], not by the history retention, so those records grow with
//! the scan rate over a fortnight, not over 400 days (issue 16 item 6). The window equals the
//! life of a scan's progress record: a result whose scan record has expired is refused before
//! its idempotency key is even looked at, so a key older than that protects against nothing,
//! while every redelivery the broker can make (minutes to hours: a redelivered job, a
//! redelivered result, a dead letter replayed by an operator within days) still finds its key.
//!
//! Time never comes from the message: results are ordered by when the scheduler created their
//! scan, retention is counted from the Redis clock, and "last result at" is the scheduler's clock
//! at ingestion. The script refuses, changing nothing, a result for a connection that does not
//! exist or for a scan that was not enqueued for that service (issue 9).

use chrono::{DateTime, Utc};
use redis::AsyncCommands;
use redis::streams::StreamRangeReply;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::fingerprint::{FindingsDigest, Fingerprints};
use super::stored_body::{BodyHead, write_findings};
use super::{StagedJob, Store, StoreError};
use crate::checks::CheckStatus;
use crate::messages::{CheckResult, ScanResult, Trigger};

/// The latest result of a check, as stored and served.
#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema, utoipa::ToSchema,
)]
pub struct StoredCheckResult {
    #[serde(flatten)]
    pub result: CheckResult,
    pub service: String,
    pub scan_id: Uuid,
    pub job_id: Uuid,
    pub finished_at: DateTime<Utc>,
    /// When this result is a transient Error (Azure unavailable or throttling after retries, a
    /// job out of time): the last evaluation that was not, so what is known is not erased.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_good: Option<LastGood>,
}

/// The last evaluation of a check that was not an Error, and when it was made.
#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema, utoipa::ToSchema,
)]
pub struct LastGood {
    pub status: CheckStatus,
    pub reason: String,
    #[serde(default)]
    pub findings: Vec<crate::messages::Finding>,
    /// The scan that made it, and when its job finished.
    pub scan_id: Uuid,
    pub finished_at: DateTime<Utc>,
}

/// What a transient Error keeps of the previous latest result `previous` (a JSON value from the
/// store; anything unreadable keeps nothing).
fn last_good_of(previous: Option<&str>) -> Option<LastGood> {
    let previous: StoredCheckResult = serde_json::from_str(previous?).ok()?;
    if previous.result.status == CheckStatus::Error {
        return previous.last_good;
    }
    Some(LastGood {
        status: previous.result.status,
        reason: previous.result.reason,
        findings: previous.result.findings,
        scan_id: previous.scan_id,
        finished_at: previous.finished_at,
    })
}

/// One change in a check's history.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema, utoipa::ToSchema)]
pub struct HistoryEntry {
    /// Stream entry id (ordering).
    pub id: String,
    pub scan_id: Option<Uuid>,
    pub job_id: Option<Uuid>,
    pub status: Option<CheckStatus>,
    pub finished_at: Option<DateTime<Utc>>,
    pub fingerprint: String,
    pub result: Option<StoredCheckResult>,
    /// For entries made by an exception (disabled, changed, enabled, expired).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exception: Option<super::ExceptionChange>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IngestOutcome {
    /// Stored.
    Applied { scan_completed: bool },
    /// This job's result was already ingested; nothing changed.
    Duplicate,
    /// Not a result of a job the scheduler enqueued; nothing changed.
    Refused(&'static str),
}

/// Progress of one scan of a connection.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema, utoipa::ToSchema)]
pub struct ScanProgress {
    pub scan_id: Uuid,
    pub trigger: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub services_total: usize,
    pub services_done: usize,
    pub pending: Vec<String>,
}

/// How long scan progress records live.
const SCAN_PROGRESS_TTL_SECS: i64 = 14 * 24 * 3600;

/// How long a job's idempotency key and its summary are kept after ingestion: as long as the
/// scan progress record that a result must match (a redelivery after that is refused anyway).
pub const IDEMPOTENCY_WINDOW: std::time::Duration =
    std::time::Duration::from_secs(SCAN_PROGRESS_TTL_SECS as u64);

/// What every ingestion script starts with: the checks that refuse a result, and the two halves
/// of ingesting one (a check's latest result and history, then the job's own records).
///
/// KEYS: 1 jobs zset, 2 latest hash, 3 fingerprint hash, 4 status hash, 5 scans stream,
///       6 scan progress hash, 7 history stream, 8 connection record (, 9 staging hash,
///       10 a check's findings)
/// ARGV: 1 job id, 2 (unused), 3 service, 4 summary json, 5 retention ms, 6 idempotency ms,
///       7 ingested at (rfc3339, scheduler clock), 8 scan id, 9 n checks, then per check (see
///       [`CheckArgs`]): id, status, fingerprint, earlier kind of fingerprint or '', head of the
///       stored text, its last good head's length, findings text, '1' to keep the last good
///       evaluation, the last good evaluation read by the ingester or ''.
///
/// Time comes from the store, never from the message: retention is trimmed from Redis TIME, and
/// results are ordered by when the scheduler created their scan.
const INGEST_PRELUDE: &str = r#"
local job_id = ARGV[1]
-- -1 no such connection, -2 no such scan for this service, 0 the job is already ingested.
local function refusal()
  if redis.call('EXISTS', KEYS[8]) == 0 then return -1 end
  if redis.call('HEXISTS', KEYS[6], 'service:' .. ARGV[3]) == 0 then return -2 end
  if redis.call('ZSCORE', KEYS[1], job_id) then return 0 end
  return nil
end
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local min_id = string.format('%d-0', math.max(0, now_ms - tonumber(ARGV[5])))
-- A check's fingerprint entry, split: 'ms|status|fp' from earlier builds, and since stored
-- texts carry offsets (stored_body.rs) 'ms|status|fp|g|fs|fe|ls'.
local function entry_of(check_id)
  local entry = redis.call('HGET', KEYS[3], check_id)
  if not entry then return nil end
  local e = {}
  for v in string.gmatch(entry, '[^|]+') do e[#e + 1] = v end
  return e
end
-- The last good evaluation that a transient Error keeps, sliced out of the stored text; for a
-- text stored without offsets, the one the ingester read (or nil). Offsets that do not fit the
-- text (a value changed behind the store's back) keep nothing rather than a broken text.
local function last_good(check_id, e, legacy_lg)
  if not e[4] then
    if legacy_lg ~= '' then return legacy_lg end
    return nil
  end
  local text = redis.call('HGET', KEYS[2], check_id)
  local g, fs, fe, ls = tonumber(e[4]), tonumber(e[5]), tonumber(e[6]), tonumber(e[7])
  if not (text and g and fs and fe and ls) then return nil end
  if e[2] ~= 'error' then
    if g < 1 or fs <= g or fe < fs or fe > #text or string.sub(text, fs, fs) ~= '['
      or string.sub(text, fe, fe) ~= ']' then return nil end
    return string.sub(text, 1, g) .. ',"findings":' .. string.sub(text, fs, fe) .. '}'
  end
  if ls > fe and ls < #text and string.sub(text, ls, ls) == '{' then
    return string.sub(text, ls, #text - 1)
  end
  return nil
end
-- One check: latest result, fingerprint entry, counters, and a history entry if it changed.
-- head: the stored text up to the findings' '['; g: where its last good head ends; findings:
-- the findings' text; keep: '1' when a transient Error keeps the last good evaluation.
local function apply_check(check_id, status, fp, fp_legacy, head, g, findings, keep, legacy_lg)
  local finished_ms = tonumber(redis.call('HGET', KEYS[6], 'created_ms')) or now_ms
  local e = entry_of(check_id)
  if e and (tonumber(e[1]) or -1) > finished_ms then return end
  local lg = nil
  if keep == '1' and e then lg = last_good(check_id, e, legacy_lg) end
  local fs = #head
  local fe = fs + #findings + 1
  local body, ls = nil, 0
  if lg then
    body = head .. findings .. '],"last_good":' .. lg .. '}'
    ls = fe + 14
  else
    body = head .. findings .. ']}'
  end
  redis.call('HSET', KEYS[2], check_id, body)
  redis.call('HSET', KEYS[3], check_id,
    string.format('%d|%s|%s|%s|%d|%d|%d', finished_ms, status, fp, g, fs, fe, ls))
  local prev_status, prev_fp = nil, nil
  if e then prev_status, prev_fp = e[2], e[3] end
  if prev_status then redis.call('HINCRBY', KEYS[4], 'count:' .. prev_status, -1) end
  redis.call('HINCRBY', KEYS[4], 'count:' .. status, 1)
  if prev_status ~= status or (prev_fp ~= fp and (fp_legacy == '' or prev_fp ~= fp_legacy)) then
    redis.call('XADD', KEYS[7], 'MINID', '~', min_id, '*', 'check_id', check_id,
      'scan_id', ARGV[8], 'job_id', job_id, 'status', status, 'fingerprint', fp,
      'finished_at', ARGV[7], 'result', body)
  end
end
-- The i-th check of ARGV (9 arguments each, in apply_check's order).
local function apply_argv_check(i)
  local b = 9 + (i - 1) * 9
  apply_check(ARGV[b + 1], ARGV[b + 2], ARGV[b + 3], ARGV[b + 4], ARGV[b + 5], ARGV[b + 6],
    ARGV[b + 7], ARGV[b + 8], ARGV[b + 9])
end
-- The job's records: idempotency key, summary, scan progress. Returns 1, or 2 when the scan
-- is now complete.
local function finish_job()
  -- Idempotency keys and job summaries live for the idempotency window only (module doc).
  local job_min_ms = math.max(0, now_ms - tonumber(ARGV[6]))
  redis.call('ZADD', KEYS[1], now_ms, job_id)
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. job_min_ms)
  -- Exact trimming: this stream is small, and '~' would keep a whole node (100 entries) alive.
  redis.call('XADD', KEYS[5], 'MINID', string.format('%d-0', job_min_ms), '*', 'job_id', job_id,
    'scan_id', ARGV[8],
    'service', ARGV[3], 'finished_at', ARGV[7], 'summary', ARGV[4])
  redis.call('HSET', KEYS[4], 'last_result_at', ARGV[7])
  local field = 'service:' .. ARGV[3]
  if redis.call('HEXISTS', KEYS[6], field) == 1 then
    redis.call('HSET', KEYS[6], field, 'done')
    local all = redis.call('HGETALL', KEYS[6])
    local pending = 0
    for j = 1, #all, 2 do
      if string.sub(all[j], 1, 8) == 'service:' and all[j + 1] ~= 'done' then pending = pending + 1 end
    end
    if pending == 0 and not redis.call('HGET', KEYS[6], 'completed_at') then
      redis.call('HSET', KEYS[6], 'completed_at', ARGV[7])
      redis.call('HSET', KEYS[4], 'last_completed_scan_id', ARGV[8], 'last_completed_scan_at', ARGV[7])
      local state = redis.call('HGET', KEYS[4], 'state')
      if (not state) or state == 'pending' or state == 'connected' or state == 'stale' then
        redis.call('HSET', KEYS[4], 'state', 'active')
      end
      return 2
    end
  end
  return 1
end
"#;

/// A whole result in one atomic step. Returns 0 duplicate, 1 applied, 2 applied and scan
/// completed, -1 no such connection, -2 no such scan for this service.
static INGEST_WHOLE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "{INGEST_PRELUDE}
local refused = refusal()
if refused then return refused end
for i = 1, tonumber(ARGV[9]) do apply_argv_check(i) end
return finish_job()
"
    )
});

/// One check of a combined result (ARGV holds one; its findings are in the temporary key
/// KEYS[10], which is dropped, and ARGV[16] says how many bytes they must be), marked
/// `a:<check id>` in the staging hash so that a retry after a failure part-way does not apply
/// it twice. Returns 3 applied (or already), the refusals of [`INGEST_PRELUDE`], -3 when the
/// staged pieces are gone, or -4 when the findings' text is not all there (it expired).
pub(super) static INGEST_CHECK: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "{INGEST_PRELUDE}
local refused = refusal()
if refused then return refused end
if redis.call('EXISTS', KEYS[9]) == 0 then return -3 end
local mark = 'a:' .. ARGV[10]
if redis.call('HEXISTS', KEYS[9], mark) == 0 then
  local findings = redis.call('GET', KEYS[10]) or ''
  if #findings ~= tonumber(ARGV[16]) then
    redis.call('DEL', KEYS[10])
    return -4
  end
  apply_check(ARGV[10], ARGV[11], ARGV[12], ARGV[13], ARGV[14], ARGV[15], findings, ARGV[17],
    ARGV[18])
  redis.call('HSET', KEYS[9], mark, '1')
end
redis.call('DEL', KEYS[10])
return 3
"
    )
});

/// The end of a combined result, once every check is in: the job's records, and the staged
/// pieces dropped. Returns as [`INGEST_WHOLE`].
pub(super) static INGEST_FINISH: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "{INGEST_PRELUDE}
local refused = refusal()
if refused then return refused end
local done = finish_job()
redis.call('DEL', KEYS[9])
return done
"
    )
});

fn history_entry(entry: redis::streams::StreamId) -> HistoryEntry {
    let text = |name: &str| entry.get::<String>(name);
    HistoryEntry {
        scan_id: text("scan_id").and_then(|v| Uuid::parse_str(&v).ok()),
        job_id: text("job_id").and_then(|v| Uuid::parse_str(&v).ok()),
        status: text("status")
            .and_then(|v| serde_json::from_value(serde_json::Value::String(v)).ok()),
        finished_at: text("finished_at")
            .and_then(|v| DateTime::parse_from_rfc3339(&v).ok())
            .map(|t| t.with_timezone(&Utc)),
        fingerprint: text("fingerprint").unwrap_or_default(),
        result: text("result").and_then(|v| serde_json::from_str(&v).ok()),
        exception: text("exception").and_then(|v| serde_json::from_str(&v).ok()),
        id: entry.id,
    }
}

#[derive(Serialize)]
struct ScanSummary<'a> {
    trigger: Trigger,
    worker: &'a str,
    counts: std::collections::BTreeMap<&'static str, usize>,
    arm_requests: u64,
    arm_throttled: u64,
    collect_ms: u64,
}

/// The summary of a job kept in the scans stream.
pub(super) fn summary_of(
    result: &ScanResult,
    counts: std::collections::BTreeMap<&'static str, usize>,
) -> Result<String, StoreError> {
    Ok(serde_json::to_string(&ScanSummary {
        trigger: result.trigger,
        worker: &result.worker,
        counts,
        arm_requests: result.arm.requests,
        arm_throttled: result.arm.throttled,
        collect_ms: result.arm.collect_ms,
    })?)
}

/// A check's arguments to an ingestion script but its findings (see [`INGEST_PRELUDE`]).
pub(super) struct CheckArgs {
    id: String,
    status: &'static str,
    fingerprints: Fingerprints,
    head: BodyHead,
    /// A transient Error keeps the last good evaluation.
    keeps_last_good: bool,
    /// The last good evaluation as the ingester read it from a text stored without offsets.
    legacy_last_good: String,
}

impl CheckArgs {
    pub(super) fn push(&self, invocation: &mut redis::ScriptInvocation<'_>, findings: &[u8]) {
        invocation
            .arg(&self.id)
            .arg(self.status)
            .arg(&self.fingerprints.current)
            .arg(self.fingerprints.legacy.as_deref().unwrap_or(""))
            .arg(&self.head.text)
            .arg(self.head.good_head_len)
            .arg(findings)
            .arg(if self.keeps_last_good { "1" } else { "0" })
            .arg(&self.legacy_last_good);
    }
}

/// What the ingester knows of a check's stored result before storing the next: its fingerprint
/// entry (see `apply_check`).
pub(super) struct StoredEntry(pub(super) Option<String>);

impl StoredEntry {
    /// Stored by an earlier build: no offsets, and the earlier kind of fingerprint.
    pub(super) fn is_legacy(&self) -> bool {
        self.0.as_deref().is_some_and(|e| e.split('|').count() < 7)
    }
}

/// What an ingestion script's answer means.
pub(super) fn outcome_of(code: i64) -> IngestOutcome {
    match code {
        -1 => IngestOutcome::Refused("the connection does not exist"),
        -2 => IngestOutcome::Refused("no scan of this connection was enqueued for this service"),
        0 => IngestOutcome::Duplicate,
        2 => IngestOutcome::Applied {
            scan_completed: true,
        },
        _ => IngestOutcome::Applied {
            scan_completed: false,
        },
    }
}

/// Records a scan about to be enqueued, only while its connection exists. HSETNX: re-enqueuing
/// the same scan keeps what is already done. KEYS: record, scan, scan ids. ARGV: scan id, TTL
/// (s), trigger, created_at, created_ms, then one `service:<id>` field per service.
const START_SCAN: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
for i = 6, #ARGV do redis.call('HSETNX', KEYS[2], ARGV[i], 'pending') end
redis.call('HSETNX', KEYS[2], 'trigger', ARGV[3])
redis.call('HSETNX', KEYS[2], 'created_at', ARGV[4])
redis.call('HSETNX', KEYS[2], 'created_ms', ARGV[5])
redis.call('EXPIRE', KEYS[2], ARGV[2])
redis.call('SADD', KEYS[3], ARGV[1])
redis.call('EXPIRE', KEYS[3], ARGV[2])
return 1
"#;

impl Store {
    /// Ingests one scan result, atomically. Idempotent on `job_id`.
    pub async fn ingest(&self, result: &ScanResult) -> Result<IngestOutcome, StoreError> {
        self.note_connection_error(result).await?;
        let mut counts = std::collections::BTreeMap::new();
        for c in &result.checks {
            *counts.entry(c.status.as_str()).or_insert(0) += 1;
        }
        let summary = summary_of(result, counts)?;
        // When the result was ingested, by the scheduler's clock (never the message's).
        let ingested_at = Utc::now().to_rfc3339();
        let script = redis::Script::new(&INGEST_WHOLE);
        let mut invocation = script.prepare_invoke();
        self.ingestion_args(&mut invocation, result, &summary, &ingested_at, None);
        invocation.arg(result.checks.len());
        let ids: Vec<&str> = result.checks.iter().map(|c| c.check_id.as_str()).collect();
        let entries = self.stored_entries(result.connection_id, &ids).await?;
        for (check, entry) in result.checks.iter().zip(entries) {
            let mut digest = FindingsDigest::new(entry.is_legacy());
            check.findings.iter().for_each(|f| digest.add(f));
            let mut findings = Vec::new();
            write_findings(&check.findings, &mut 0, &mut findings)?;
            let args = self.check_args(result, check, digest, &entry).await?;
            args.push(&mut invocation, &findings);
        }
        let code: i64 = invocation.invoke_async(&mut self.conn.clone()).await?;
        Ok(outcome_of(code))
    }

    /// The fingerprint entries of checks of a connection, in the order of `ids`.
    pub(super) async fn stored_entries(
        &self,
        id: Uuid,
        ids: &[&str],
    ) -> Result<Vec<StoredEntry>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let values: Vec<Option<String>> = redis::cmd("HMGET")
            .arg(self.keys.fingerprints(id))
            .arg(ids)
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(values.into_iter().map(StoredEntry).collect())
    }

    /// A check's arguments to an ingestion script, its findings digested already. A transient
    /// Error (Azure unavailable or throttling after retries, a job out of time) keeps the last
    /// good evaluation; a sign-in failure that needs the customer is news of its own, carried by
    /// the connection error. The script slices it out of the stored text, except from a text
    /// stored by an earlier build, which is read here.
    pub(super) async fn check_args(
        &self,
        result: &ScanResult,
        check: &CheckResult,
        digest: FindingsDigest,
        entry: &StoredEntry,
    ) -> Result<CheckArgs, StoreError> {
        let keeps_last_good =
            check.status == CheckStatus::Error && result.connection_error.is_none();
        let mut legacy_last_good = String::new();
        if keeps_last_good && entry.is_legacy() {
            let previous: Option<String> = self
                .conn
                .clone()
                .hget(self.keys.latest(result.connection_id), &check.check_id)
                .await?;
            if let Some(good) = last_good_of(previous.as_deref()) {
                legacy_last_good = serde_json::to_string(&good)?;
            }
        }
        Ok(CheckArgs {
            id: check.check_id.clone(),
            status: check.status.as_str(),
            fingerprints: digest.finish(check.status, check.missing_permission.as_deref()),
            head: BodyHead::new(result, check)?,
            keeps_last_good,
            legacy_last_good,
        })
    }

    /// A sign-in failure in `result` becomes the connection's state and diagnosis, unless the
    /// connection was validated since the job started. Before the results, so that the script
    /// does not mark the scan's connection active.
    pub(super) async fn note_connection_error(
        &self,
        result: &ScanResult,
    ) -> Result<(), StoreError> {
        let id = result.connection_id;
        let Some(error) = &result.connection_error else {
            return Ok(());
        };
        let Some(state) = super::ConnectionState::from_token_diagnosis(error.diagnosis) else {
            return Ok(());
        };
        if self.validated_since(id, result.started_at).await? {
            return Ok(());
        }
        let diagnosis = super::Diagnosis {
            summary: error.message.clone(),
            remediation: error.remediation.clone(),
            details: [
                ("trace_id", error.trace_id.clone()),
                ("correlation_id", error.correlation_id.clone()),
            ]
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k.to_string(), v)))
            .collect(),
        };
        // Only while the connection exists: a late result of a deleted one writes nothing.
        let _: i64 = redis::Script::new(
            "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end \
             redis.call('HSET', KEYS[2], 'state', ARGV[1], 'diagnosis', ARGV[2]) return 1",
        )
        .key(self.keys.record(id))
        .key(self.keys.status(id))
        .arg(state.as_str())
        .arg(serde_json::to_string(&diagnosis)?)
        .invoke_async(&mut self.conn.clone())
        .await?;
        Ok(())
    }

    /// The keys and the arguments before the check count that every ingestion script takes
    /// (see [`INGEST_PRELUDE`]); the staging hash last for a combined result.
    pub(super) fn ingestion_args(
        &self,
        invocation: &mut redis::ScriptInvocation<'_>,
        result: &ScanResult,
        summary: &str,
        ingested_at: &str,
        staged: Option<&StagedJob>,
    ) {
        let id = result.connection_id;
        invocation
            .key(self.keys.ingested_jobs(id))
            .key(self.keys.latest(id))
            .key(self.keys.fingerprints(id))
            .key(self.keys.status(id))
            .key(self.keys.scans(id))
            .key(self.keys.scan(id, result.scan_id))
            .key(self.keys.history(id))
            .key(self.keys.record(id));
        if let Some(staged) = staged {
            invocation.key(staged.key());
        }
        let retention_ms = u64::try_from(self.retention.history.as_millis()).unwrap_or(u64::MAX);
        invocation
            .arg(result.job_id.to_string())
            .arg(0)
            .arg(&result.service)
            .arg(summary)
            .arg(retention_ms)
            .arg(u64::try_from(IDEMPOTENCY_WINDOW.as_millis()).unwrap_or(u64::MAX))
            .arg(ingested_at)
            .arg(result.scan_id.to_string());
    }

    /// Whether the connection was validated after `t` (a sign-in failure seen by a job that
    /// started before the customer rotated the secret must not undo the new validation).
    async fn validated_since(&self, id: Uuid, t: DateTime<Utc>) -> Result<bool, StoreError> {
        let mut conn = self.conn.clone();
        let validated: Option<String> = conn.hget(self.keys.status(id), "validated_at").await?;
        Ok(validated
            .and_then(|v| DateTime::parse_from_rfc3339(&v).ok())
            .is_some_and(|v| v.with_timezone(&Utc) > t))
    }

    /// Latest result of every check of a connection, sorted by check id.
    pub async fn latest_results(&self, id: Uuid) -> Result<Vec<StoredCheckResult>, StoreError> {
        let mut conn = self.conn.clone();
        let key = self.keys.latest(id);
        let raw: std::collections::BTreeMap<String, String> = conn.hgetall(&key).await?;
        raw.into_values()
            .map(|json| {
                serde_json::from_str(&json).map_err(|e| StoreError::Corrupt {
                    key: key.clone(),
                    reason: e.to_string(),
                })
            })
            .collect()
    }

    /// A check's history, newest first: its entries of the connection's history stream, read
    /// backwards a page at a time until `limit` are found.
    pub async fn history(
        &self,
        id: Uuid,
        check_id: &str,
        limit: usize,
    ) -> Result<Vec<HistoryEntry>, StoreError> {
        const PAGE: usize = 500;
        let mut conn = self.conn.clone();
        let key = self.keys.history(id);
        let mut out = Vec::new();
        let mut end = "+".to_string();
        loop {
            let reply: StreamRangeReply = conn.xrevrange_count(&key, &end, "-", PAGE).await?;
            let page = reply.ids.len();
            let mut last = None;
            for entry in reply.ids {
                last = Some(entry.id.clone());
                if entry.get::<String>("check_id").as_deref() == Some(check_id) {
                    out.push(history_entry(entry));
                    if out.len() >= limit {
                        return Ok(out);
                    }
                }
            }
            match last {
                // Continue below the oldest id seen (exclusive range).
                Some(id) if page == PAGE => end = format!("({id}"),
                _ => return Ok(out),
            }
        }
    }

    /// Number of entries in a check's history.
    pub async fn history_len(&self, id: Uuid, check_id: &str) -> Result<usize, StoreError> {
        Ok(self.history(id, check_id, usize::MAX).await?.len())
    }

    /// Number of ingested job results (scan summaries) of a connection.
    pub async fn scan_summaries_len(&self, id: Uuid) -> Result<usize, StoreError> {
        let mut conn = self.conn.clone();
        Ok(conn.xlen(self.keys.scans(id)).await?)
    }

    /// Whether a scan `scan_id` of connection `id` was enqueued with `service` in it.
    pub async fn scan_names_service(
        &self,
        id: Uuid,
        scan_id: Uuid,
        service: &str,
    ) -> Result<bool, StoreError> {
        let mut conn = self.conn.clone();
        Ok(conn
            .hexists(self.keys.scan(id, scan_id), format!("service:{service}"))
            .await?)
    }

    /// Records that a scan with these services is about to be enqueued; [`StoreError::Gone`]
    /// when the connection was deleted meanwhile (nothing is written: a scan record must not
    /// outlive its connection).
    pub async fn start_scan(
        &self,
        id: Uuid,
        scan_id: Uuid,
        services: &[&str],
        trigger: Trigger,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let script = redis::Script::new(START_SCAN);
        let mut invocation = script.prepare_invoke();
        invocation
            .key(self.keys.record(id))
            .key(self.keys.scan(id, scan_id))
            .key(self.keys.scan_ids(id))
            .arg(scan_id.to_string())
            .arg(SCAN_PROGRESS_TTL_SECS)
            .arg(serde_json::to_value(trigger)?.as_str().unwrap_or(""))
            .arg(Utc::now().to_rfc3339())
            // The scheduler's clock orders results (a message's own timestamps never do).
            .arg(Utc::now().timestamp_millis());
        for service in services {
            invocation.arg(format!("service:{service}"));
        }
        let started: i64 = invocation.invoke_async(&mut conn).await?;
        if started == 0 {
            return Err(StoreError::Gone {
                key: self.keys.record(id),
            });
        }
        Ok(())
    }

    pub async fn scan_progress(
        &self,
        id: Uuid,
        scan_id: Uuid,
    ) -> Result<Option<ScanProgress>, StoreError> {
        let mut conn = self.conn.clone();
        let fields: std::collections::BTreeMap<String, String> =
            conn.hgetall(self.keys.scan(id, scan_id)).await?;
        if fields.is_empty() {
            return Ok(None);
        }
        let time = |name: &str| {
            fields
                .get(name)
                .and_then(|v| DateTime::parse_from_rfc3339(v).ok())
                .map(|t| t.with_timezone(&Utc))
        };
        let services: Vec<(&str, bool)> = fields
            .iter()
            .filter_map(|(k, v)| k.strip_prefix("service:").map(|s| (s, v == "done")))
            .collect();
        Ok(Some(ScanProgress {
            scan_id,
            trigger: fields.get("trigger").cloned(),
            created_at: time("created_at"),
            completed_at: time("completed_at"),
            services_total: services.len(),
            services_done: services.iter().filter(|(_, done)| *done).count(),
            pending: services
                .iter()
                .filter(|(_, done)| !done)
                .map(|(s, _)| s.to_string())
                .collect(),
        }))
    }

    /// Marks a rescan request id as handled; false if it already was.
    pub async fn claim_rescan_request(&self, request_id: Uuid) -> Result<bool, StoreError> {
        let mut conn = self.conn.clone();
        let set: Option<String> = redis::cmd("SET")
            .arg(self.keys.rescan_request(request_id))
            .arg("1")
            .arg("NX")
            .arg("EX")
            .arg(7 * 24 * 3600)
            .query_async(&mut conn)
            .await?;
        Ok(set.is_some())
    }
}
