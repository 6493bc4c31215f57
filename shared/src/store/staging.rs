//! Pieces of one job's result waiting for the others (see [`crate::fragments`]).
//!
//! A split job's parts run on any worker and a big result travels in chunks, so the ingester
//! receives a job's result as pieces in any order, each possibly more than once. Each piece is
//! kept (once) in a hash per job under the connection's hash tag, its envelope (ids, times, ARM
//! usage) in one field and each of its checks in a field of its own, so that the ingester can
//! later read, combine and store one check at a time (a subscription's whole result is hundreds
//! of MiB once parsed; one check's is what the API serves anyway). The script that stores a piece
//! also says whether every chunk of every part is now in (following each part's continuations,
//! the parts that took over the items it had no time for; for a split streamed from its list,
//! only as many parts as the coordinator's pieces say it used). Then the caller combines the pieces and
//! ingests one result as usual (idempotent on the job id), and drops the staging hash. Staging
//! expires on its own after [`STAGING_TTL`], so pieces of a job that never completes (its
//! connection was deleted, a part was dead-lettered) do not stay.

use std::time::Duration;

use uuid::Uuid;

use std::collections::BTreeMap;

use crate::messages::{CheckResult, Fragment, ScanResult};

use super::{Store, StoreError};

/// How long pieces wait for the rest of their job.
pub const STAGING_TTL: Duration = Duration::from_secs(3 * 24 * 3600);

/// Most bytes staged for one job (every piece is bounded; this bounds their number too).
pub const MAX_STAGED_BYTES: u64 = 512 * 1024 * 1024;

/// What staging a piece did.
#[derive(Debug)]
pub enum Staged {
    /// More pieces are missing.
    Waiting,
    /// Every piece is in (read them with [`Store::staged_job`]).
    Complete,
    /// The piece contradicts pieces already staged (another number of parts or chunks).
    Refused(String),
}

/// A complete job's staged pieces, as [`Store::staged_job`] found them.
#[derive(Debug)]
pub struct StagedJob {
    key: String,
    /// Every piece's envelope (its checks left out).
    pub envelopes: Vec<ScanResult>,
    /// Check id -> the fields of its pieces, in part and chunk order.
    checks: BTreeMap<String, Vec<PieceOf>>,
    /// Checks inside whole pieces staged by a build before per-check fields (a job staged
    /// across an upgrade): check id -> (part, chunk, check).
    legacy: BTreeMap<String, Vec<(u32, u32, CheckResult)>>,
}

impl StagedJob {
    /// The ids of the checks the pieces hold.
    pub fn check_ids(&self) -> impl Iterator<Item = &str> {
        self.checks.keys().map(String::as_str)
    }

    /// The staging hash (its `a:<check id>` fields mark checks already ingested).
    pub(super) fn key(&self) -> &str {
        &self.key
    }

    /// Where the pieces of a check are, in part and chunk order (read each with
    /// [`Store::staged_piece`]).
    pub(super) fn pieces_of(&self, check_id: &str) -> Vec<StagedPiece<'_>> {
        let fields = self.checks.get(check_id).into_iter().flatten();
        let held = self.legacy.get(check_id).into_iter().flatten();
        let mut pieces: Vec<StagedPiece<'_>> = fields
            .map(|p| StagedPiece {
                part: p.part,
                chunk: p.chunk,
                source: PieceSource::Field(&p.field),
            })
            .chain(held.map(|(part, chunk, check)| StagedPiece {
                part: *part,
                chunk: *chunk,
                source: PieceSource::Held(check),
            }))
            .collect();
        pieces.sort_by_key(|p| (p.part, p.chunk));
        pieces
    }
}

/// One staged piece of a check.
pub(super) struct StagedPiece<'a> {
    pub part: u32,
    pub chunk: u32,
    source: PieceSource<'a>,
}

enum PieceSource<'a> {
    /// A field of the staging hash.
    Field(&'a str),
    /// Read already (inside a whole piece staged by an earlier build).
    Held(&'a CheckResult),
}

#[derive(Debug)]
struct PieceOf {
    part: u32,
    chunk: u32,
    field: String,
}

/// KEYS: staging hash, ingested jobs. ARGV: part, job id, most chunks a part has. 1 when the
/// part's every chunk is staged or the job is ingested (a count out of bounds: 0, run it).
const PART_RESULT_IN: &str = r#"
if redis.call('ZSCORE', KEYS[2], ARGV[2]) then return 1 end
local n = tonumber(redis.call('HGET', KEYS[1], 'n:' .. ARGV[1]))
if not n or n > tonumber(ARGV[3]) then return 0 end
for c = 0, n - 1 do
  if redis.call('HEXISTS', KEYS[1], 'p:' .. ARGV[1] .. ':' .. c) == 0 then return 0 end
end
return 1
"#;

const STAGE: &str = r#"
-- KEYS[1]: staging hash of one job. ARGV: 1 piece field (p:<part>:<chunk>), 2 piece JSON,
-- 3 parts, 4 part, 5 chunks, 6 ttl ms, 7 max staged bytes, 8 continuation part or '',
-- 9 parts used (part 0 of a streamed split) or '', 10 n checks, then per check: field
-- (r:<part>:<chunk>:<check id>), check JSON.
-- Returns {code, detail}: code 0 waiting, 1 complete, 2 refused.
local key = KEYS[1]
local parts = tonumber(ARGV[3])
local known = redis.call('HGET', key, 'parts')
if known and tonumber(known) ~= parts then
  return {2, 'the job has ' .. known .. ' parts, this piece says ' .. ARGV[3]}
end
local nfield = 'n:' .. ARGV[4]
local kn = redis.call('HGET', key, nfield)
if kn and kn ~= ARGV[5] then
  return {2, 'part ' .. ARGV[4] .. ' has ' .. kn .. ' chunks, this piece says ' .. ARGV[5]}
end
local cfield = 'c:' .. ARGV[4]
local kc = redis.call('HGET', key, cfield)
if kc and kc ~= ARGV[8] then
  return {2, 'part ' .. ARGV[4] .. ' is continued by ' .. kc .. ', this piece says ' .. ARGV[8]}
end
if redis.call('HEXISTS', key, ARGV[1]) == 0 then
  local n = tonumber(ARGV[10])
  local bytes = tonumber(redis.call('HGET', key, 'bytes') or '0') + string.len(ARGV[2])
  for i = 1, n do bytes = bytes + string.len(ARGV[10 + 2 * i]) end
  if bytes > tonumber(ARGV[7]) then
    return {2, 'the job staged more than ' .. ARGV[7] .. ' bytes'}
  end
  for i = 1, n do redis.call('HSET', key, ARGV[9 + 2 * i], ARGV[10 + 2 * i]) end
  redis.call('HSET', key, ARGV[1], ARGV[2], 'parts', parts, nfield, ARGV[5], 'bytes', bytes)
  if ARGV[8] ~= '' then redis.call('HSET', key, cfield, ARGV[8]) end
  -- (the first coordinator's count stands: a re-run one's pieces are not kept either)
  if ARGV[9] ~= '' then redis.call('HSETNX', key, 'u', ARGV[9]) end
end
redis.call('PEXPIRE', key, ARGV[6])
-- Every part, and every continuation it declared (each a higher number: no cycles). Part 0
-- comes first: it says how many parts a streamed split used.
local last = parts - 1
for p = 0, parts - 1 do
  if p > last then break end
  local q = tostring(p)
  while q do
    local n = redis.call('HGET', key, 'n:' .. q)
    if not n then return {0, ''} end
    for c = 0, tonumber(n) - 1 do
      if redis.call('HEXISTS', key, 'p:' .. q .. ':' .. c) == 0 then return {0, ''} end
    end
    local next = redis.call('HGET', key, 'c:' .. q)
    if next and tonumber(next) <= tonumber(q) then return {2, 'a continuation goes backwards'} end
    q = next
  end
  if p == 0 then
    local used = tonumber(redis.call('HGET', key, 'u') or '')
    if used then last = math.min(last, used - 1) end
  end
end
return {1, ''}
"#;

impl Store {
    /// Stages one piece of a job's result; idempotent (a piece staged twice is kept once).
    pub async fn stage_fragment(
        &self,
        result: &ScanResult,
        fragment: Fragment,
    ) -> Result<Staged, StoreError> {
        if let Some(reason) = fragment.invalid() {
            return Ok(Staged::Refused(reason));
        }
        let key = self.keys.staging(result.connection_id, result.job_id);
        let field = format!("p:{}:{}", fragment.part, fragment.chunk);
        let envelope = serde_json::to_string(&result.envelope())?;
        let ttl_ms = u64::try_from(STAGING_TTL.as_millis()).unwrap_or(u64::MAX);
        let mut conn = self.conn.clone();
        let script = redis::Script::new(STAGE);
        let mut invocation = script.prepare_invoke();
        invocation
            .key(&key)
            .arg(&field)
            .arg(&envelope)
            .arg(fragment.parts)
            .arg(fragment.part)
            .arg(fragment.chunks)
            .arg(ttl_ms)
            .arg(MAX_STAGED_BYTES)
            .arg(
                fragment
                    .continued_by
                    .map(|n| n.to_string())
                    .unwrap_or_default(),
            )
            .arg(
                fragment
                    .parts_used
                    .map(|n| n.to_string())
                    .unwrap_or_default(),
            )
            .arg(result.checks.len());
        for check in &result.checks {
            invocation
                .arg(format!(
                    "r:{}:{}:{}",
                    fragment.part, fragment.chunk, check.check_id
                ))
                .arg(serde_json::to_string(check)?);
        }
        let (code, detail): (i64, String) = invocation.invoke_async(&mut conn).await?;
        Ok(match code {
            0 => Staged::Waiting,
            2 => Staged::Refused(detail),
            _ => Staged::Complete,
        })
    }

    /// The pieces of a complete job: their envelopes, and where each check's pieces are.
    pub async fn staged_job(
        &self,
        connection_id: Uuid,
        job_id: Uuid,
    ) -> Result<StagedJob, StoreError> {
        let key = self.keys.staging(connection_id, job_id);
        let mut conn = self.conn.clone();
        let fields: Vec<String> = redis::cmd("HKEYS").arg(&key).query_async(&mut conn).await?;
        let envelope_fields: Vec<&String> = fields.iter().filter(|f| f.starts_with("p:")).collect();
        let mut envelopes = Vec::with_capacity(envelope_fields.len());
        if !envelope_fields.is_empty() {
            let values: Vec<Option<String>> = redis::cmd("HMGET")
                .arg(&key)
                .arg(&envelope_fields)
                .query_async(&mut conn)
                .await?;
            for (field, value) in envelope_fields.iter().zip(values) {
                let Some(value) = value else { continue };
                envelopes.push(serde_json::from_str::<ScanResult>(&value).map_err(|e| {
                    StoreError::Corrupt {
                        key: format!("{key} {field}"),
                        reason: e.to_string(),
                    }
                })?);
            }
        }
        let mut checks: BTreeMap<String, Vec<PieceOf>> = BTreeMap::new();
        for field in fields {
            let Some(rest) = field.strip_prefix("r:") else {
                continue;
            };
            let mut it = rest.splitn(3, ':');
            let (Some(part), Some(chunk), Some(check)) = (
                it.next().and_then(|p| p.parse().ok()),
                it.next().and_then(|c| c.parse().ok()),
                it.next(),
            ) else {
                continue;
            };
            checks
                .entry(check.to_string())
                .or_default()
                .push(PieceOf { part, chunk, field });
        }
        for pieces in checks.values_mut() {
            pieces.sort_by_key(|p| (p.part, p.chunk));
        }
        let mut legacy: BTreeMap<String, Vec<(u32, u32, CheckResult)>> = BTreeMap::new();
        for envelope in &mut envelopes {
            let (part, chunk) = envelope.fragment.map_or((0, 0), |f| (f.part, f.chunk));
            for check in std::mem::take(&mut envelope.checks) {
                checks.entry(check.check_id.clone()).or_default();
                legacy
                    .entry(check.check_id.clone())
                    .or_default()
                    .push((part, chunk, check));
            }
        }
        Ok(StagedJob {
            key,
            envelopes,
            checks,
            legacy,
        })
    }

    /// One staged piece of a check (`None` when it is gone: the job was ingested meanwhile).
    pub(super) async fn staged_piece(
        &self,
        job: &StagedJob,
        piece: &StagedPiece<'_>,
    ) -> Result<Option<CheckResult>, StoreError> {
        let field = match piece.source {
            PieceSource::Held(check) => return Ok(Some(check.clone())),
            PieceSource::Field(field) => field,
        };
        let value: Option<String> = redis::cmd("HGET")
            .arg(&job.key)
            .arg(field)
            .query_async(&mut self.conn.clone())
            .await?;
        let Some(value) = value else { return Ok(None) };
        serde_json::from_str(&value)
            .map(Some)
            .map_err(|e| StoreError::Corrupt {
                key: format!("{} {field}", job.key),
                reason: e.to_string(),
            })
    }

    /// Drops a job's staged pieces once its combined result is ingested.
    pub async fn drop_staged(&self, connection_id: Uuid, job_id: Uuid) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        redis::cmd("DEL")
            .arg(self.keys.staging(connection_id, job_id))
            .query_async::<i64>(&mut conn)
            .await?;
        Ok(())
    }

    /// Whether part `part` of a job (0: the job itself, or a split job's coordinator) has its
    /// whole result in: every chunk of it staged, or the job ingested. A redelivered part, or a
    /// part a re-run coordinator published again, then needs no Azure read: its result would
    /// change nothing.
    pub async fn part_result_in(
        &self,
        connection_id: Uuid,
        job_id: Uuid,
        part: u32,
    ) -> Result<bool, StoreError> {
        let done: i64 = redis::Script::new(PART_RESULT_IN)
            .key(self.keys.staging(connection_id, job_id))
            .key(self.keys.ingested_jobs(connection_id))
            .arg(part)
            .arg(job_id.to_string())
            .arg(crate::messages::MAX_CHUNKS)
            .invoke_async(&mut self.conn.clone())
            .await?;
        Ok(done == 1)
    }

    /// Whether the result of `job_id` was already ingested (a late piece then changes nothing).
    pub async fn job_ingested(
        &self,
        connection_id: Uuid,
        job_id: Uuid,
    ) -> Result<bool, StoreError> {
        let mut conn = self.conn.clone();
        let score: Option<f64> = redis::cmd("ZSCORE")
            .arg(self.keys.ingested_jobs(connection_id))
            .arg(job_id.to_string())
            .query_async(&mut conn)
            .await?;
        Ok(score.is_some())
    }
}
