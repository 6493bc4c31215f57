//! Every Redis key the fleet uses, in one place.
//!
//! All keys of one connection share the hash tag `{conn:<id>}`, so the multi-key operations on a
//! connection (the ingest script touches up to ~20 keys) stay atomic on Redis Cluster too. Keys
//! that span connections (the schedule, an organization's index) are single keys.

use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_string(),
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    fn conn(&self, id: Uuid, suffix: &str) -> String {
        format!("{}{{conn:{id}}}:{suffix}", self.prefix)
    }

    /// Every fixed key of one connection (scan progress keys are listed in [`Keys::scan_ids`]).
    pub fn connection_keys(&self, id: Uuid) -> Vec<String> {
        vec![
            self.record(id),
            self.status(id),
            self.latest(id),
            self.fingerprints(id),
            self.history(id),
            self.scans(id),
            self.ingested_jobs(id),
            self.scan_ids(id),
            self.assets(id),
            self.assets_seen(id),
            self.assets_removed(id),
            self.assets_history(id),
        ]
    }

    /// Hash: asset key (lower-case id) -> `<first seen ms>|<asset JSON>` (asset import).
    pub fn assets(&self, id: Uuid) -> String {
        self.conn(id, "assets")
    }

    /// Sorted set: asset key -> last seen (ms) of the assets present in Azure.
    pub fn assets_seen(&self, id: Uuid) -> String {
        self.conn(id, "assets:seen")
    }

    /// Sorted set: asset key -> removed at (ms) of the assets a complete import did not see.
    pub fn assets_removed(&self, id: Uuid) -> String {
        self.conn(id, "assets:removed")
    }

    /// Stream: one entry per asset change (added, removed, restored, location, sku, tags, ...).
    pub fn assets_history(&self, id: Uuid) -> String {
        self.conn(id, "assets:history")
    }

    /// Set: the asset batches of one scan already ingested (expires with the scan's progress).
    pub fn asset_batches(&self, id: Uuid, scan_id: Uuid) -> String {
        self.conn(id, &format!("scan:{scan_id}:assetbatches"))
    }

    /// String: the tag name an organization reads asset owners from.
    pub fn asset_owner_tag(&self, organization_id: &str) -> String {
        format!("{}org:{{{organization_id}}}:assets:ownertag", self.prefix)
    }

    /// Set: ids of the scans with a progress record (so deletion needs no SCAN, which Redis
    /// Cluster cannot do across nodes).
    pub fn scan_ids(&self, id: Uuid) -> String {
        self.conn(id, "scanids")
    }

    /// JSON of the connection record (client secret sealed).
    pub fn record(&self, id: Uuid) -> String {
        self.conn(id, "record")
    }

    /// Hash: state, diagnosis, last result / completed scan, `count:<status>` counters.
    pub fn status(&self, id: Uuid) -> String {
        self.conn(id, "status")
    }

    /// Hash: check id -> latest result JSON.
    pub fn latest(&self, id: Uuid) -> String {
        self.conn(id, "latest")
    }

    /// Hash: check id -> `<finished ms>|<status>|<fingerprint>|<g>|<fs>|<fe>|<ls>` of the latest
    /// result: its offsets are described in `stored_body.rs` (earlier builds wrote the first three).
    pub fn fingerprints(&self, id: Uuid) -> String {
        self.conn(id, "fp")
    }

    /// Stream: one entry each time one of the connection's check results changes (the check id
    /// is a field). One stream per connection, not per check: a stream's fixed overhead (~4 KiB)
    /// would otherwise dominate, as most checks change rarely.
    pub fn history(&self, id: Uuid) -> String {
        self.conn(id, "history")
    }

    /// Stream: one summary entry per ingested job.
    pub fn scans(&self, id: Uuid) -> String {
        self.conn(id, "scans")
    }

    /// Sorted set: ingested job ids scored by finish time (idempotency).
    pub fn ingested_jobs(&self, id: Uuid) -> String {
        self.conn(id, "jobs")
    }

    /// Hash: the staged pieces of one job's result (expires by itself).
    pub fn staging(&self, id: Uuid, job_id: Uuid) -> String {
        self.conn(id, &format!("staging:{job_id}"))
    }

    /// Hash: progress of one scan (`service:<id>` -> pending|done, trigger, times).
    pub fn scan(&self, id: Uuid, scan_id: Uuid) -> String {
        self.conn(id, &format!("scan:{scan_id}"))
    }

    /// String: the id of the organization's connection for a subscription (one per
    /// subscription, claimed atomically at creation).
    pub fn subscription_owner(&self, organization_id: &str, subscription_id: &str) -> String {
        format!(
            "{}org:{{{organization_id}}}:subscription:{}",
            self.prefix,
            subscription_id.to_ascii_lowercase()
        )
    }

    /// Set of an organization's connection ids.
    pub fn organization_connections(&self, organization_id: &str) -> String {
        format!("{}org:{{{organization_id}}}:connections", self.prefix)
    }

    /// Set of organization ids that have connections.
    pub fn organizations(&self) -> String {
        format!("{}organizations", self.prefix)
    }

    /// Sorted set: connection id -> next scheduled scan (unix seconds).
    pub fn schedule(&self) -> String {
        format!("{}{{schedule}}", self.prefix)
    }

    /// Hash: connection id -> slot (unix seconds) of a claimed, not yet enqueued scan.
    pub fn schedule_claims(&self) -> String {
        format!("{}{{schedule}}:claims", self.prefix)
    }

    /// JSON of an API token's record, by the token's SHA-256.
    pub fn api_token(&self, digest: &str) -> String {
        format!("{}apitoken:{digest}", self.prefix)
    }

    /// Hash of an organization's (or the operators') token ids -> digests.
    pub fn api_tokens_of(&self, organization_id: Option<&str>) -> String {
        match organization_id {
            Some(org) => format!("{}org:{{{org}}}:tokens", self.prefix),
            None => format!("{}operator:tokens", self.prefix),
        }
    }

    /// Stream: an organization's audit trail.
    pub fn audit(&self, organization_id: &str) -> String {
        format!("{}org:{{{organization_id}}}:audit", self.prefix)
    }

    /// String `<seq>:<hash>` of the last entry of an organization's audit trail (the chain's
    /// head; same hash tag as the trail, so an append updates both atomically).
    pub fn audit_head(&self, organization_id: &str) -> String {
        format!("{}org:{{{organization_id}}}:audit:head", self.prefix)
    }

    /// Hash: an organization's exceptions (id -> JSON), ended ones included (same hash tag as
    /// the audit trail: an exception and its audit entry change in one atomic script).
    pub fn exceptions(&self, organization_id: &str) -> String {
        format!("{}org:{{{organization_id}}}:exceptions", self.prefix)
    }

    /// Set of organization ids that have exceptions (for the expiry sweep).
    pub fn exception_organizations(&self) -> String {
        format!("{}exceptions:organizations", self.prefix)
    }

    /// Marker of an already handled rescan request id.
    pub fn rescan_request(&self, request_id: Uuid) -> String {
        format!("{}rescan:{request_id}", self.prefix)
    }
}
