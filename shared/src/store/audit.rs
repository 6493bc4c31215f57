//! The audit trail: an append-only stream per organization of who did what (connections
//! created, updated, validated, deleted; tokens; exceptions created, changed, re-enabled,
//! expired). Nothing in the product edits or deletes it, and deleting a connection leaves its
//! entries in place.
//!
//! It is tamper-evident: every entry carries a sequence number, the previous entry's hash and
//! its own hash, SHA-256 over `seq`, the previous hash and the entry's stored JSON. A head key
//! (`seq:hash` of the last entry) anchors the end, so removing the last entries shows too.
//! Appending is one Lua script that checks the head it was computed against is still the head
//! (compare-and-set): two replicas appending at once never fork the chain, the loser recomputes
//! on the new head and tries again. The hash is computed in Rust (Redis scripts have no
//! SHA-256). [`Store::verify_audit`] walks the chain. Anyone with write access to Redis could
//! rebuild the whole chain, so an auditor keeps the head of each export: a later chain that no
//! longer contains it was rewritten.

use chrono::{DateTime, Utc};
use redis::streams::StreamRangeReply;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{Store, StoreError};

/// One entry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditEvent {
    /// Stream id (ordering); empty before it is stored.
    #[serde(default)]
    pub id: String,
    pub at: DateTime<Utc>,
    /// Who: `operator:<name>`, or `token:<name>` of an organization token.
    pub actor: String,
    /// What: `connection.created`, `connection.secret_rotated`, `exception.created`, ...
    pub action: String,
    pub connection_id: Option<Uuid>,
    /// Free details (never a secret).
    #[serde(default)]
    pub details: serde_json::Value,
    /// Position in the organization's chain, from 1 (absent on entries older than the chain).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// Hash of the previous entry (64 zeros for the first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev_hash: Option<String>,
    /// SHA-256 (hex) over `seq`, `prev_hash` and this entry's stored content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
}

impl AuditEvent {
    pub fn new(
        at: DateTime<Utc>,
        actor: &str,
        action: &str,
        connection_id: Option<Uuid>,
        details: serde_json::Value,
    ) -> Self {
        Self {
            at,
            actor: actor.to_string(),
            action: action.to_string(),
            connection_id,
            details,
            ..Self::default()
        }
    }
}

/// What [`Store::verify_audit`] found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditVerification {
    /// True when every chained entry's hash is right, each links to the one before, the
    /// sequence has no gap and the last entry is the recorded head.
    pub valid: bool,
    /// Entries read.
    pub entries: usize,
    /// Entries written before the trail was chained (leading, unchained).
    pub unchained: usize,
    /// `seq:hash` of the recorded head (keep it: a later trail must still contain it).
    pub head: Option<String>,
    /// What is wrong, one line per problem, naming the entry.
    pub problems: Vec<String>,
}

/// The hash of the first entry's predecessor.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// SHA-256 (hex) of one chain link.
pub fn link_hash(seq: u64, prev: &str, content: &str) -> String {
    let mut h = Sha256::new();
    h.update(format!("{seq}\n{prev}\n").as_bytes());
    h.update(content.as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

const APPEND_SCRIPT: &str = r#"
-- KEYS: 1 audit stream, 2 audit head, 3 a hash of records changed with the entry (or unused)
-- ARGV: 1 expected head ('' = none), 2 seq, 3 prev hash, 4 content, 5 hash,
--       6 record field ('' = none), 7 expected record ('' = absent), 8 new record
local head = redis.call('GET', KEYS[2]) or ''
if head ~= ARGV[1] then return {'head', head} end
if ARGV[6] ~= '' then
  local cur = redis.call('HGET', KEYS[3], ARGV[6]) or ''
  if cur ~= ARGV[7] then return {'stale', cur} end
  redis.call('HSET', KEYS[3], ARGV[6], ARGV[8])
end
local id = redis.call('XADD', KEYS[1], '*', 'seq', ARGV[2], 'prev', ARGV[3], 'hash', ARGV[5],
  'event', ARGV[4])
redis.call('SET', KEYS[2], ARGV[2] .. ':' .. ARGV[5])
return {'ok', id}
"#;

/// A record changed together with the audit entry that describes it (same hash tag).
pub(crate) struct RecordChange<'a> {
    pub key: String,
    pub field: String,
    /// The stored JSON expected now; `None` = the field must not exist.
    pub expected: Option<&'a str>,
    pub new: &'a str,
}

/// The outcome of an append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Appended {
    /// Stored with this stream id.
    Stored(String),
    /// The record changed since it was read; nothing stored.
    Stale,
}

fn parse_head(head: &str) -> (u64, String) {
    match head.split_once(':') {
        Some((seq, hash)) => (seq.parse().unwrap_or(0), hash.to_string()),
        None => (0, GENESIS_HASH.to_string()),
    }
}

fn event_of(entry: &redis::streams::StreamId) -> Option<AuditEvent> {
    let json: String = entry.get("event")?;
    let mut event: AuditEvent = serde_json::from_str(&json).ok()?;
    event.id = entry.id.clone();
    event.seq = entry.get::<String>("seq").and_then(|s| s.parse().ok());
    event.prev_hash = entry.get("prev");
    event.hash = entry.get("hash");
    Some(event)
}

impl Store {
    /// Appends an entry to the organization's chained trail.
    pub async fn append_audit(
        &self,
        organization_id: &str,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        self.append_chained(organization_id, event, None).await?;
        Ok(())
    }

    /// Appends an entry, optionally changing a record in the same atomic step (compare-and-set
    /// on the record's stored JSON). Retries when another writer moved the head.
    pub(crate) async fn append_chained(
        &self,
        organization_id: &str,
        event: &AuditEvent,
        record: Option<RecordChange<'_>>,
    ) -> Result<Appended, StoreError> {
        let mut stored = event.clone();
        stored.id = String::new();
        stored.seq = None;
        stored.prev_hash = None;
        stored.hash = None;
        let content = serde_json::to_string(&stored)?;
        let stream = self.keys.audit(organization_id);
        let head_key = self.keys.audit_head(organization_id);
        let mut conn = self.conn.clone();
        let mut head: String = redis::cmd("GET")
            .arg(&head_key)
            .query_async::<Option<String>>(&mut conn)
            .await?
            .unwrap_or_default();
        let script = redis::Script::new(APPEND_SCRIPT);
        for _ in 0..100 {
            let (last_seq, prev) = parse_head(&head);
            let seq = last_seq + 1;
            let hash = link_hash(seq, &prev, &content);
            let mut invocation = script.prepare_invoke();
            invocation.key(&stream).key(&head_key);
            match &record {
                Some(r) => invocation.key(&r.key),
                // Unused, but a key of the same slot keeps the script cluster-safe.
                None => invocation.key(&head_key),
            };
            invocation
                .arg(&head)
                .arg(seq)
                .arg(&prev)
                .arg(&content)
                .arg(&hash);
            match &record {
                Some(r) => invocation
                    .arg(&r.field)
                    .arg(r.expected.unwrap_or(""))
                    .arg(r.new),
                None => invocation.arg("").arg("").arg(""),
            };
            let reply: (String, String) = invocation.invoke_async(&mut conn).await?;
            match reply.0.as_str() {
                "ok" => return Ok(Appended::Stored(reply.1)),
                "stale" => return Ok(Appended::Stale),
                _ => head = reply.1,
            }
        }
        Err(StoreError::Corrupt {
            key: head_key,
            reason: "the audit head kept moving; gave up appending".into(),
        })
    }

    /// An organization's trail, oldest first, at most `limit` entries.
    pub async fn audit_trail(
        &self,
        organization_id: &str,
        limit: usize,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let mut out = self.audit_all(organization_id).await?;
        out.truncate(limit);
        Ok(out)
    }

    /// Every entry, oldest first (read a page at a time).
    pub async fn audit_all(&self, organization_id: &str) -> Result<Vec<AuditEvent>, StoreError> {
        Ok(self
            .audit_raw(organization_id)
            .await?
            .iter()
            .filter_map(event_of)
            .collect())
    }

    async fn audit_raw(
        &self,
        organization_id: &str,
    ) -> Result<Vec<redis::streams::StreamId>, StoreError> {
        const PAGE: usize = 1000;
        let key = self.keys.audit(organization_id);
        let mut conn = self.conn.clone();
        let mut out = Vec::new();
        let mut start = "-".to_string();
        loop {
            let reply: StreamRangeReply = redis::cmd("XRANGE")
                .arg(&key)
                .arg(&start)
                .arg("+")
                .arg("COUNT")
                .arg(PAGE)
                .query_async(&mut conn)
                .await?;
            let n = reply.ids.len();
            if let Some(last) = reply.ids.last() {
                start = format!("({}", last.id);
            }
            out.extend(reply.ids);
            if n < PAGE {
                return Ok(out);
            }
        }
    }

    /// Entries whose time is within `[from, to)`, optionally only actions starting with
    /// `action_prefix`, oldest first.
    pub async fn audit_between(
        &self,
        organization_id: &str,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        action_prefix: Option<&str>,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        Ok(self
            .audit_all(organization_id)
            .await?
            .into_iter()
            .filter(|e| from.is_none_or(|f| e.at >= f) && to.is_none_or(|t| e.at < t))
            .filter(|e| action_prefix.is_none_or(|p| e.action.starts_with(p)))
            .collect())
    }

    /// Walks the organization's chain: every hash recomputed, every link and sequence number
    /// checked, and the last entry compared with the recorded head.
    pub async fn verify_audit(
        &self,
        organization_id: &str,
    ) -> Result<AuditVerification, StoreError> {
        let raw = self.audit_raw(organization_id).await?;
        let mut conn = self.conn.clone();
        let head: Option<String> = redis::cmd("GET")
            .arg(self.keys.audit_head(organization_id))
            .query_async(&mut conn)
            .await?;
        let mut problems = Vec::new();
        let mut unchained = 0;
        let mut last: Option<(u64, String)> = None;
        for entry in &raw {
            let field = |name: &str| entry.get::<String>(name);
            let (Some(seq), Some(prev), Some(hash), Some(content)) = (
                field("seq").and_then(|s| s.parse::<u64>().ok()),
                field("prev"),
                field("hash"),
                field("event"),
            ) else {
                if last.is_none() {
                    unchained += 1;
                } else {
                    problems.push(format!("entry {}: not chained", entry.id));
                }
                continue;
            };
            let (want_seq, want_prev) = match &last {
                Some((s, h)) => (s + 1, h.clone()),
                None => (1, GENESIS_HASH.to_string()),
            };
            if seq != want_seq {
                problems.push(format!(
                    "entry {}: sequence {seq} where {want_seq} was expected (entries missing)",
                    entry.id
                ));
            }
            if prev != want_prev {
                problems.push(format!(
                    "entry {} (seq {seq}): does not link to the entry before it",
                    entry.id
                ));
            }
            if link_hash(seq, &prev, &content) != hash {
                problems.push(format!(
                    "entry {} (seq {seq}): content does not match its hash (edited)",
                    entry.id
                ));
            }
            last = Some((seq, hash));
        }
        let end = last.as_ref().map(|(s, h)| format!("{s}:{h}"));
        if end != head {
            problems.push(format!(
                "the last entry ({}) is not the recorded head ({}): entries removed at the end",
                end.as_deref().unwrap_or("none"),
                head.as_deref().unwrap_or("none")
            ));
        }
        Ok(AuditVerification {
            valid: problems.is_empty(),
            entries: raw.len(),
            unchained,
            head,
            problems,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_depend_on_position_predecessor_and_content() {
        let a = link_hash(1, GENESIS_HASH, "{}");
        assert_eq!(a.len(), 64);
        assert_ne!(a, link_hash(2, GENESIS_HASH, "{}"));
        assert_ne!(a, link_hash(1, &a, "{}"));
        assert_ne!(a, link_hash(1, GENESIS_HASH, "{ }"));
        assert_eq!(parse_head(&format!("7:{a}")), (7, a));
        assert_eq!(parse_head(""), (0, GENESIS_HASH.to_string()));
    }
}
