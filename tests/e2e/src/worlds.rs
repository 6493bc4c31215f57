//! Emulated subscriptions for the benchmarks: many storage accounts (each with a file service)
//! spread over regions, optionally network security groups, and optionally Azure's real
//! provider budgets enforced by the emulator, so that a benchmark can measure the fleet against
//! the floor those budgets set.

use serde_json::{Value, json};

/// ARM's default read bucket per (subscription, principal) in the public cloud.
pub const ARM_BUCKET: (f64, f64) = (250.0, 25.0);
/// The Storage provider's list budget, per subscription and region: 100 per 5 minutes.
pub const STORAGE_LIST_BUCKET: (f64, f64) = (100.0, 100.0 / 300.0);
/// The Storage provider's read budget, per subscription and region: 800 per 5 minutes.
pub const STORAGE_READ_BUCKET: (f64, f64) = (800.0, 800.0 / 300.0);
/// The Network provider's read budget, per subscription: 10,000 per 5 minutes.
pub const NETWORK_READ_BUCKET: (f64, f64) = (10_000.0, 10_000.0 / 300.0);

/// Who owns the subscription and may read it.
pub struct Principal {
    pub tenant: &'static str,
    pub subscription: &'static str,
    pub client: &'static str,
    pub object_id: &'static str,
    pub secret: &'static str,
}

/// A storage-heavy subscription.
pub struct StorageWorld {
    /// Storage accounts per region, in list order.
    pub regions: Vec<(String, usize)>,
    /// Network security groups, spread over the same regions.
    pub nsgs: usize,
    /// Items per page of every list.
    pub page_size: usize,
    /// The emulator enforces the Storage and Network providers' budgets (ARM's is always on).
    pub provider_limits: bool,
}

impl StorageWorld {
    /// `accounts` spread evenly over `regions` (the first regions take the remainder), `nsgs`
    /// NSGs, pages of 100, and the providers' budgets enforced.
    pub fn spread(accounts: usize, regions: &[&str], nsgs: usize) -> Self {
        let n = regions.len().max(1);
        StorageWorld {
            regions: regions
                .iter()
                .enumerate()
                .map(|(i, r)| (r.to_string(), accounts / n + usize::from(i < accounts % n)))
                .collect(),
            nsgs,
            page_size: 100,
            provider_limits: true,
        }
    }

    /// The highest of [`StorageWorld::floors`]: no client can scan faster.
    pub fn floor(&self) -> f64 {
        self.floors().iter().map(|f| f.2).fold(0.0, f64::max)
    }

    /// Accounts in all regions.
    pub fn accounts(&self) -> usize {
        self.regions.iter().map(|(_, n)| n).sum()
    }

    /// The scenario: every fifth account allows TLS 1.0, the rest are locked down; every
    /// account has a file service.
    pub fn scenario(&self, who: &Principal) -> Value {
        let sub = who.subscription;
        let mut resources = Vec::with_capacity(2 * self.accounts() + self.nsgs);
        let mut i = 0usize;
        for (region, count) in &self.regions {
            for _ in 0..*count {
                let id = format!(
                    "/subscriptions/{sub}/resourceGroups/rg{}/providers/Microsoft.Storage/storageAccounts/sa{i:06}",
                    i % 50
                );
                let tls = if i.is_multiple_of(5) {
                    "TLS1_0"
                } else {
                    "TLS1_2"
                };
                resources.push(json!({
                    "id": id, "name": format!("sa{i:06}"), "type": "Microsoft.Storage/storageAccounts",
                    "location": region, "kind": "StorageV2", "tags": {"owner": "team-a", "env": "prod"},
                    "properties": {"minimumTlsVersion": tls, "supportsHttpsTrafficOnly": true,
                                   "allowBlobPublicAccess": false, "allowSharedKeyAccess": false,
                                   "publicNetworkAccess": "Disabled",
                                   "networkAcls": {"defaultAction": "Deny", "bypass": "AzureServices"}}
                }));
                resources.push(json!({
                    "id": format!("{id}/fileServices/default"), "name": "default",
                    "type": "Microsoft.Storage/storageAccounts/fileServices",
                    "properties": {"shareDeleteRetentionPolicy": {"enabled": true, "days": 7},
                                   "protocolSettings": {"smb": {"versions": "SMB3.1.1",
                                                                "channelEncryption": "AES-256-GCM"}}}
                }));
                i += 1;
            }
        }
        for n in 0..self.nsgs {
            let region = &self.regions[n % self.regions.len().max(1)].0;
            resources.push(json!({
                "id": format!("/subscriptions/{sub}/resourceGroups/net/providers/Microsoft.Network/networkSecurityGroups/nsg{n:05}"),
                "name": format!("nsg{n:05}"), "type": "Microsoft.Network/networkSecurityGroups",
                "location": region,
                "properties": {"securityRules": [{
                    "name": "https-in", "properties": {"direction": "Inbound", "access": "Allow",
                        "protocol": "Tcp", "sourceAddressPrefix": "10.0.0.0/8",
                        "destinationPortRange": "443", "priority": 100}}]}
            }));
        }
        let limits = if self.provider_limits {
            let per = |limit: (f64, f64)| (limit.0 as u64, (limit.0 / limit.1).round() as u64);
            let (list, list_per) = per(STORAGE_LIST_BUCKET);
            let (read, read_per) = per(STORAGE_READ_BUCKET);
            let (net, net_per) = per(NETWORK_READ_BUCKET);
            json!([
                {"type": "Microsoft.Storage/storageAccounts", "operation": "list",
                 "limit": list, "per_seconds": list_per, "per_region": true},
                {"type": "Microsoft.Storage/storageAccounts", "operation": "read",
                 "limit": read, "per_seconds": read_per, "per_region": true},
                {"type": "Microsoft.Network/networkSecurityGroups", "operation": "list",
                 "limit": net, "per_seconds": net_per}
            ])
        } else {
            json!([])
        };
        json!({
            "tenants": [{"id": who.tenant, "applications": [
                {"client_id": who.client, "object_id": who.object_id,
                 "secrets": [{"value": who.secret}]}]}],
            "subscriptions": [{"id": sub, "tenant_id": who.tenant, "page_size": self.page_size,
                "access": [{"object_id": who.object_id, "role": "Reader", "actions": ["*/read"]}],
                "resources": resources}],
            "provider_limits": limits
        })
    }

    /// The reads a scan of the storage (and, with NSGs, nsg) service needs, per budget they
    /// draw from, and the fastest any client can make them: `max(0, reads - bucket) / refill`
    /// for each budget. Returns (budget, reads, floor seconds) rows.
    pub fn floors(&self) -> Vec<(String, usize, f64)> {
        let floor = |reads: usize, (capacity, per_second): (f64, f64)| {
            (reads as f64 - capacity).max(0.0) / per_second
        };
        let list_pages = self.accounts().div_ceil(self.page_size);
        // The nsg service also lists virtual networks and network watchers (one empty page
        // each here).
        let network_reads = if self.nsgs > 0 {
            self.nsgs.div_ceil(self.page_size) + 2
        } else {
            0
        };
        let total = list_pages + self.accounts() + network_reads;
        let mut rows = vec![
            (
                "ARM reads (250, 25/s)".to_string(),
                total,
                floor(total, ARM_BUCKET),
            ),
            (
                "Storage lists, no region (100 / 5 min)".to_string(),
                list_pages,
                floor(list_pages, STORAGE_LIST_BUCKET),
            ),
        ];
        for (region, accounts) in &self.regions {
            rows.push((
                format!("Storage reads, {region} (800 / 5 min)"),
                *accounts,
                floor(*accounts, STORAGE_READ_BUCKET),
            ));
        }
        if self.nsgs > 0 {
            rows.push((
                "Network reads (10,000 / 5 min)".to_string(),
                network_reads,
                floor(network_reads, NETWORK_READ_BUCKET),
            ));
        }
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_floor_is_set_by_the_tightest_budget() {
        let three = StorageWorld::spread(2000, &["eastus", "westeurope", "southeastasia"], 500);
        assert_eq!(
            three.regions,
            [
                ("eastus".to_string(), 667),
                ("westeurope".to_string(), 667),
                ("southeastasia".to_string(), 666)
            ]
        );
        let floors = three.floors();
        // 20 + 2,000 + 7 reads against ARM's bucket: (2,027 - 250) / 25 = 71.08 s; no region
        // passes its 800.
        assert_eq!(floors[0].1, 2027);
        assert!((three.floor() - 71.08).abs() < 1e-9);
        assert!(floors[1..].iter().all(|(_, _, f)| *f == 0.0));

        // (4,000 - 800) / (800 / 300) = 1,200 s.
        let one = StorageWorld::spread(4000, &["eastus"], 0);
        assert!((one.floor() - 1200.0).abs() < 1e-6, "{:?}", one.floors());
    }

    #[test]
    fn the_scenario_loads_in_the_emulator() {
        let world = StorageWorld {
            page_size: 2,
            ..StorageWorld::spread(5, &["eastus", "westeurope"], 2)
        };
        let who = Principal {
            tenant: "11111111-1111-1111-1111-111111111111",
            subscription: "00000000-0000-0000-0000-0000000000e1",
            client: "aaaaaaaa-0000-0000-0000-0000000000e1",
            object_id: "bbbbbbbb-0000-0000-0000-0000000000e1",
            secret: "s",
        };
        let scenario = world.scenario(&who);
        azure_emulator::Scenario::from_json(&scenario.to_string()).expect("valid scenario");
        let resources = scenario["subscriptions"][0]["resources"]
            .as_array()
            .expect("resources");
        assert_eq!(resources.len(), 2 * 5 + 2);
        assert_eq!(resources[6]["location"], "westeurope");
    }
}
