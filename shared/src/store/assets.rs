//! The asset inventory of a connection (issue 15): incremental ingestion of `asset-batch`
//! messages and the reads the API serves.
//!
//! One Lua script per batch, atomic and idempotent on (scan, batch number), over keys that all
//! carry the connection's `{conn:<id>}` hash tag (Redis Cluster safe):
//! - an unchanged asset costs one `ZADD` (its last-seen mark) and nothing else;
//! - a new or changed asset rewrites its record, and a history entry is added only when
//!   something a customer tracks changed (added, restored, location, SKU, tags, kind,
//!   managed-by, name, resource group); Azure's `changedTime` alone updates the record quietly;
//! - when every batch of the job is in and the job read everything, the assets the scan did not
//!   see are marked removed (history entry), and removed assets older than the history
//!   retention are dropped; the asset job then counts as done in the scan's progress.

use std::collections::HashMap;

use chrono::{DateTime, TimeZone, Utc};
use redis::AsyncCommands;
use redis::streams::StreamRangeReply;
use serde::Serialize;
use uuid::Uuid;

use super::{IngestOutcome, Store, StoreError};
use crate::assets::{AssetBatch, AssetData, asset_key};

/// An asset as served: what Azure said, plus what the product tracks.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema, utoipa::ToSchema)]
pub struct Asset {
    #[serde(flatten)]
    pub data: AssetData,
    /// First import that saw it.
    pub first_seen: DateTime<Utc>,
    /// Last import that saw it (absent once removed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<DateTime<Utc>>,
    /// When a complete import stopped seeing it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub removed_at: Option<DateTime<Utc>>,
    /// The value of the organization's owner tag, if set on the asset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

/// One change of an asset.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema, utoipa::ToSchema)]
pub struct AssetChange {
    /// Stream entry id (ordering).
    pub entry: String,
    /// Lower-case asset id.
    pub asset: String,
    pub scan_id: Option<Uuid>,
    pub at: Option<DateTime<Utc>>,
    /// `added`, `removed`, `restored`, `location`, `sku`, `tags`, `kind`, `managed_by`, `name`,
    /// `resource_group`.
    pub changes: Vec<String>,
    /// The asset after the change (absent for `removed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<AssetData>,
}

const INGEST_ASSETS_SCRIPT: &str = r#"
-- KEYS: 1 connection record, 2 scan progress hash, 3 assets hash, 4 seen zset, 5 removed zset,
--       6 history stream, 7 batches-of-this-scan set, 8 status hash
-- ARGV: 1 seq, 2 total batches (0 = not the last), 3 complete (1/0), 4 retention ms,
--       5 scan id, 6 ingested at (rfc3339), 7 n, then per asset: key, body
-- Returns -1 no such connection, -2 no asset job in this scan, 0 duplicate batch, 1 applied,
-- 2 applied and the scan completed.
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('HEXISTS', KEYS[2], 'service:assets') == 0 then return -2 end
if redis.call('SADD', KEYS[7], ARGV[1]) == 0 then return 0 end
redis.call('EXPIRE', KEYS[7], 14 * 24 * 3600)
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local min_id = string.format('%d-0', math.max(0, now_ms - tonumber(ARGV[4])))
redis.call('HSETNX', KEYS[2], 'assets:started_ms', now_ms)
local function same(a, b)
  if type(a) ~= type(b) then return false end
  if type(a) ~= 'table' then return a == b end
  for k, v in pairs(a) do if not same(v, b[k]) then return false end end
  for k, _ in pairs(b) do if a[k] == nil then return false end end
  return true
end
local function history(key, changes, body)
  local fields = {'asset', key, 'scan_id', ARGV[5], 'at', ARGV[6], 'changes', table.concat(changes, ',')}
  if body then table.insert(fields, 'body'); table.insert(fields, body) end
  redis.call('XADD', KEYS[6], 'MINID', '~', min_id, '*', unpack(fields))
end
local n = tonumber(ARGV[7])
for i = 1, n do
  local key, body = ARGV[7 + (i - 1) * 2 + 1], ARGV[7 + (i - 1) * 2 + 2]
  local old = redis.call('HGET', KEYS[3], key)
  if not old then
    redis.call('HSET', KEYS[3], key, string.format('%d', now_ms) .. '|' .. body)
    history(key, {'added'}, body)
  else
    local bar = string.find(old, '|', 1, true)
    local first, old_body = string.sub(old, 1, bar - 1), string.sub(old, bar + 1)
    local changes = {}
    if redis.call('ZREM', KEYS[5], key) == 1 then table.insert(changes, 'restored') end
    if old_body ~= body then
      redis.call('HSET', KEYS[3], key, first .. '|' .. body)
      local o, b = cjson.decode(old_body), cjson.decode(body)
      for _, f in ipairs({'name', 'resource_group', 'location', 'sku', 'tags', 'kind', 'managed_by'}) do
        if not same(o[f], b[f]) then table.insert(changes, f) end
      end
    end
    if #changes > 0 then history(key, changes, body) end
  end
  redis.call('ZADD', KEYS[4], now_ms, key)
end
if tonumber(ARGV[2]) > 0 then
  redis.call('HSET', KEYS[2], 'assets:total', ARGV[2], 'assets:complete', ARGV[3])
end
local total = tonumber(redis.call('HGET', KEYS[2], 'assets:total'))
local complete = redis.call('HGET', KEYS[2], 'assets:complete') == '1'
-- An incomplete job removes nothing, so it finishes on its last batch whatever came before.
if (not total) or (complete and redis.call('SCARD', KEYS[7]) < total) then return 1 end
if complete then
  local started = redis.call('HGET', KEYS[2], 'assets:started_ms')
  local gone = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', '(' .. started)
  for _, key in ipairs(gone) do
    redis.call('ZREM', KEYS[4], key)
    redis.call('ZADD', KEYS[5], now_ms, key)
    history(key, {'removed'}, nil)
  end
end
local expired = redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', '(' .. (now_ms - tonumber(ARGV[4])))
for _, key in ipairs(expired) do
  redis.call('HDEL', KEYS[3], key)
  redis.call('ZREM', KEYS[5], key)
end
redis.call('HSET', KEYS[8], 'assets_imported_at', ARGV[6])
if redis.call('HGET', KEYS[2], 'service:assets') == 'done' then return 1 end
redis.call('HSET', KEYS[2], 'service:assets', 'done')
local all = redis.call('HGETALL', KEYS[2])
for j = 1, #all, 2 do
  if string.sub(all[j], 1, 8) == 'service:' and all[j + 1] ~= 'done' then return 1 end
end
if redis.call('HGET', KEYS[2], 'completed_at') then return 1 end
redis.call('HSET', KEYS[2], 'completed_at', ARGV[6])
redis.call('HSET', KEYS[8], 'last_completed_scan_id', ARGV[5], 'last_completed_scan_at', ARGV[6])
local state = redis.call('HGET', KEYS[8], 'state')
if (not state) or state == 'pending' or state == 'connected' or state == 'stale' then
  redis.call('HSET', KEYS[8], 'state', 'active')
end
return 2
"#;

/// `(member, score)` pairs of a sorted set.
type Scores = Vec<(String, f64)>;

fn millis(ms: f64) -> Option<DateTime<Utc>> {
    Utc.timestamp_millis_opt(ms as i64).single()
}

impl Store {
    /// Ingests one asset batch. Idempotent on (scan, batch number).
    pub async fn ingest_assets(&self, batch: &AssetBatch) -> Result<IngestOutcome, StoreError> {
        let id = batch.connection_id;
        let retention_ms = u64::try_from(self.retention.history.as_millis()).unwrap_or(u64::MAX);
        let script = redis::Script::new(INGEST_ASSETS_SCRIPT);
        let mut invocation = script.prepare_invoke();
        invocation
            .key(self.keys.record(id))
            .key(self.keys.scan(id, batch.scan_id))
            .key(self.keys.assets(id))
            .key(self.keys.assets_seen(id))
            .key(self.keys.assets_removed(id))
            .key(self.keys.assets_history(id))
            .key(self.keys.asset_batches(id, batch.scan_id))
            .key(self.keys.status(id));
        invocation
            .arg(batch.seq)
            .arg(batch.total_batches.unwrap_or(0))
            .arg(u8::from(batch.complete))
            .arg(retention_ms)
            .arg(batch.scan_id.to_string())
            .arg(Utc::now().to_rfc3339())
            .arg(batch.assets.len());
        for asset in &batch.assets {
            invocation
                .arg(asset_key(&asset.id))
                .arg(serde_json::to_string(asset)?);
        }
        let mut conn = self.conn.clone();
        let code: i64 = invocation.invoke_async(&mut conn).await?;
        Ok(match code {
            -1 => IngestOutcome::Refused("the connection does not exist"),
            -2 => IngestOutcome::Refused("no asset job was enqueued in this scan"),
            0 => IngestOutcome::Duplicate,
            2 => IngestOutcome::Applied {
                scan_completed: true,
            },
            _ => IngestOutcome::Applied {
                scan_completed: false,
            },
        })
    }

    /// Every asset of a connection (removed ones included), sorted by key, with the owner read
    /// from `owner_tag` (case-insensitive tag name).
    pub async fn assets(
        &self,
        id: Uuid,
        owner_tag: Option<&str>,
    ) -> Result<Vec<Asset>, StoreError> {
        let mut conn = self.conn.clone();
        let (records, seen, removed): (HashMap<String, String>, Scores, Scores) = redis::pipe()
            .hgetall(self.keys.assets(id))
            .zrange_withscores(self.keys.assets_seen(id), 0, -1)
            .zrange_withscores(self.keys.assets_removed(id), 0, -1)
            .query_async(&mut conn)
            .await?;
        let seen: HashMap<String, f64> = seen.into_iter().collect();
        let removed: HashMap<String, f64> = removed.into_iter().collect();
        let mut assets: Vec<(String, Asset)> = Vec::with_capacity(records.len());
        for (key, value) in records {
            let Some((first, body)) = value.split_once('|') else {
                return Err(corrupt(&key));
            };
            let data: AssetData = serde_json::from_str(body).map_err(|_| corrupt(&key))?;
            let first_seen = first
                .parse::<f64>()
                .ok()
                .and_then(millis)
                .ok_or_else(|| corrupt(&key))?;
            let owner = owner_tag.and_then(|tag| {
                data.tags
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(tag))
                    .map(|(_, v)| v.clone())
            });
            let asset = Asset {
                first_seen,
                last_seen: seen.get(&key).copied().and_then(millis),
                removed_at: removed.get(&key).copied().and_then(millis),
                owner,
                data,
            };
            assets.push((key, asset));
        }
        assets.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(assets.into_iter().map(|(_, a)| a).collect())
    }

    /// The changes of one asset (by id, any casing), oldest first.
    pub async fn asset_history(
        &self,
        id: Uuid,
        asset_id: &str,
    ) -> Result<Vec<AssetChange>, StoreError> {
        let key = asset_key(asset_id);
        Ok(self
            .asset_changes(id)
            .await?
            .into_iter()
            .filter(|c| c.asset == key)
            .collect())
    }

    /// Every asset change of a connection, oldest first.
    pub async fn asset_changes(&self, id: Uuid) -> Result<Vec<AssetChange>, StoreError> {
        let mut conn = self.conn.clone();
        let reply: StreamRangeReply = conn.xrange_all(self.keys.assets_history(id)).await?;
        Ok(reply
            .ids
            .into_iter()
            .map(|entry| {
                let text = |name: &str| entry.get::<String>(name);
                AssetChange {
                    asset: text("asset").unwrap_or_default(),
                    scan_id: text("scan_id").and_then(|v| Uuid::parse_str(&v).ok()),
                    at: text("at")
                        .and_then(|v| DateTime::parse_from_rfc3339(&v).ok())
                        .map(|t| t.with_timezone(&Utc)),
                    changes: text("changes")
                        .map(|v| v.split(',').map(str::to_string).collect())
                        .unwrap_or_default(),
                    after: text("body").and_then(|v| serde_json::from_str(&v).ok()),
                    entry: entry.id,
                }
            })
            .collect())
    }

    /// Whether the connection has any inventory key at all.
    pub async fn has_inventory(&self, id: Uuid) -> Result<bool, StoreError> {
        let mut conn = self.conn.clone();
        let n: u64 = conn
            .exists(&[
                self.keys.assets(id),
                self.keys.assets_seen(id),
                self.keys.assets_removed(id),
                self.keys.assets_history(id),
            ])
            .await?;
        Ok(n > 0)
    }

    /// The tag name an organization reads asset owners from.
    pub async fn asset_owner_tag(
        &self,
        organization_id: &str,
    ) -> Result<Option<String>, StoreError> {
        let mut conn = self.conn.clone();
        Ok(conn.get(self.keys.asset_owner_tag(organization_id)).await?)
    }

    /// Sets (or with `None` clears) an organization's owner tag name.
    pub async fn set_asset_owner_tag(
        &self,
        organization_id: &str,
        tag: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let key = self.keys.asset_owner_tag(organization_id);
        let _: () = match tag {
            Some(tag) => conn.set(key, tag).await?,
            None => conn.del(key).await?,
        };
        Ok(())
    }

    /// Bytes Redis uses for a connection's inventory keys (`MEMORY USAGE`), for the benchmark.
    pub async fn inventory_bytes(&self, id: Uuid) -> Result<u64, StoreError> {
        let mut conn = self.conn.clone();
        let mut total = 0;
        for key in [
            self.keys.assets(id),
            self.keys.assets_seen(id),
            self.keys.assets_removed(id),
            self.keys.assets_history(id),
        ] {
            let used: Option<u64> = redis::cmd("MEMORY")
                .arg("USAGE")
                .arg(&key)
                .arg("SAMPLES")
                .arg(0)
                .query_async(&mut conn)
                .await?;
            total += used.unwrap_or(0);
        }
        Ok(total)
    }
}

/// Served asset field -> value, for filters (kept here so API and CLI agree).
pub fn asset_tags_match(asset: &Asset, filter: &str) -> bool {
    let (name, value) = filter.split_once('=').unwrap_or((filter, ""));
    asset
        .data
        .tags
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case(name) && (value.is_empty() || v == value))
}

fn corrupt(key: &str) -> StoreError {
    StoreError::Corrupt {
        key: format!("asset {}", key.chars().take(80).collect::<String>()),
        reason: "not `<ms>|<json>`".into(),
    }
}
