//! The weekly schedule: every connection has a slot in the week, derived from its id, so scans
//! of many connections spread evenly over the week instead of starting at the same minute.
//!
//! The schedule is a sorted set (connection -> next scan time). A planner replica claims a due
//! connection with an atomic compare-and-set that moves it to a short lease, enqueues the scan,
//! then moves it to next week's slot. Two replicas never both win a claim; a replica that dies
//! after claiming leaves the lease to expire, and the next claim re-enqueues the same scan (same
//! slot, so the same scan and job ids, which ingestion deduplicates).

use chrono::{DateTime, Utc};
use redis::AsyncCommands;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{Store, StoreError};

pub const WEEK_SECS: i64 = 7 * 24 * 3600;
/// 1970-01-05T00:00:00Z, a Monday: weeks start on Monday 00:00 UTC.
const FIRST_MONDAY: i64 = 4 * 24 * 3600;

/// The connection's offset in the week, in seconds from Monday 00:00 UTC.
pub fn slot_offset(connection_id: Uuid) -> i64 {
    let digest = Sha256::digest(connection_id.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    (u64::from_be_bytes(first) % WEEK_SECS as u64) as i64
}

/// The connection's first slot strictly after `t`.
pub fn next_slot_after(connection_id: Uuid, t: DateTime<Utc>) -> DateTime<Utc> {
    let ts = t.timestamp();
    let week_start = (ts - FIRST_MONDAY).div_euclid(WEEK_SECS) * WEEK_SECS + FIRST_MONDAY;
    let mut slot = week_start + slot_offset(connection_id);
    if slot <= ts {
        slot += WEEK_SECS;
    }
    DateTime::from_timestamp(slot, 0).unwrap_or(t)
}

/// A won claim on a due connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claim {
    pub connection_id: Uuid,
    /// The slot being scanned (unix seconds); the scan id derives from it.
    pub slot: i64,
}

const CLAIM_SCRIPT: &str = r#"
-- KEYS: 1 schedule zset, 2 claims hash. ARGV: 1 member, 2 expected score, 3 lease until
local s = redis.call('ZSCORE', KEYS[1], ARGV[1])
if (not s) or tonumber(s) ~= tonumber(ARGV[2]) then return false end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
local slot = redis.call('HGET', KEYS[2], ARGV[1])
if not slot then
  slot = ARGV[2]
  redis.call('HSET', KEYS[2], ARGV[1], slot)
end
return slot
"#;

impl Store {
    /// Sets when a connection is next scanned.
    pub async fn schedule_at(&self, id: Uuid, at: DateTime<Utc>) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let _: () = conn
            .zadd(self.keys.schedule(), id.to_string(), at.timestamp())
            .await?;
        Ok(())
    }

    /// Connections whose next scan is due, with their current score.
    pub async fn due_connections(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<(Uuid, i64)>, StoreError> {
        let mut conn = self.conn.clone();
        let rows: Vec<(String, f64)> = conn
            .zrangebyscore_limit_withscores(
                self.keys.schedule(),
                "-inf",
                now.timestamp(),
                0,
                limit as isize,
            )
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(id, score)| Some((Uuid::parse_str(&id).ok()?, score as i64)))
            .collect())
    }

    /// Claims a due connection if its score is still `expected`; the winner holds a lease until
    /// `lease_until`. Returns the claimed slot.
    pub async fn claim_due(
        &self,
        id: Uuid,
        expected: i64,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<Claim>, StoreError> {
        let mut conn = self.conn.clone();
        let slot: Option<String> = redis::Script::new(CLAIM_SCRIPT)
            .key(self.keys.schedule())
            .key(self.keys.schedule_claims())
            .arg(id.to_string())
            .arg(expected)
            .arg(lease_until.timestamp())
            .invoke_async(&mut conn)
            .await?;
        Ok(slot.and_then(|s| s.parse::<i64>().ok()).map(|slot| Claim {
            connection_id: id,
            slot,
        }))
    }

    /// The claimed scan is enqueued: schedule the next one and drop the claim.
    pub async fn complete_claim(
        &self,
        claim: Claim,
        next: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let member = claim.connection_id.to_string();
        let _: () = redis::pipe()
            .atomic()
            .zadd(self.keys.schedule(), &member, next.timestamp())
            .hdel(self.keys.schedule_claims(), &member)
            .query_async(&mut conn)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_stable_and_inside_the_week() {
        let id = Uuid::new_v4();
        assert_eq!(slot_offset(id), slot_offset(id));
        assert!((0..WEEK_SECS).contains(&slot_offset(id)));
    }

    #[test]
    fn next_slot_is_the_same_weekly_time_strictly_later() {
        let id = Uuid::new_v4();
        let now = Utc::now();
        let first = next_slot_after(id, now);
        assert!(first > now && first - now <= chrono::Duration::seconds(WEEK_SECS));
        let second = next_slot_after(id, first);
        assert_eq!((second - first).num_seconds(), WEEK_SECS);
        assert_eq!(
            (first.timestamp() - FIRST_MONDAY).rem_euclid(WEEK_SECS),
            slot_offset(id)
        );
    }

    #[test]
    fn slots_spread_over_the_week() {
        // 2,000 connections over 7 day-long buckets: each day gets a fair share.
        let mut per_day = [0usize; 7];
        for _ in 0..2000 {
            per_day[(slot_offset(Uuid::new_v4()) / (24 * 3600)) as usize] += 1;
        }
        for n in per_day {
            assert!((200..=380).contains(&n), "{per_day:?}");
        }
    }
}
