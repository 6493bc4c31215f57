//! Asset import (issue 15): the inventory's record of one Azure resource, the `asset-batch`
//! message a worker publishes per page of the subscription's resources, and the bounds both
//! sides hold them to.
//!
//! An asset job is one more job of a scan (service id [`ASSET_SERVICE`]) when the connection
//! selects `asset_import`. The worker streams `GET /subscriptions/{s}/resourcegroups` and
//! `GET /subscriptions/{s}/resources?$expand=createdTime,changedTime` page by page and publishes
//! each page as one or more batches of at most [`MAX_BATCH_ASSETS`] assets, signed like scan
//! results; the last batch says how many there were, so the ingester knows when the inventory
//! is complete and which assets the scan did not see. Every batch is checked against the bounds
//! here before anything is written ([`AssetBatch::validate`]).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::messages::{MESSAGE_VERSION, Message, Trigger};

/// The service id of the asset job in scans and scan progress.
pub const ASSET_SERVICE: &str = "assets";
/// Most assets in one batch.
pub const MAX_BATCH_ASSETS: usize = 500;
/// Largest batch message body, bytes (500 assets at their largest allowed tags stay under it
/// only when few carry many tags; the worker splits earlier by size).
pub const MAX_BATCH_BYTES: usize = 4 * 1024 * 1024;
/// Most batches in one asset job (`MAX_BATCH_ASSETS` * this = 1,000,000 assets).
pub const MAX_BATCHES: u32 = 2_000;
/// Longest resource id.
pub const MAX_ID_CHARS: usize = 1_024;
/// Longest name, type, region, kind, managed-by, resource group.
pub const MAX_FIELD_CHARS: usize = 512;
/// Most tags on one asset (Azure allows 50).
pub const MAX_TAGS: usize = 64;
/// Longest tag name (Azure: 512) and value (Azure: 256).
pub const MAX_TAG_NAME_CHARS: usize = 512;
pub const MAX_TAG_VALUE_CHARS: usize = 256;
/// Largest SKU object, bytes of JSON.
pub const MAX_SKU_BYTES: usize = 1_024;

/// What Azure says about one resource (or resource group), as the inventory keeps it.
#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, utoipa::ToSchema, Default,
)]
pub struct AssetData {
    /// Full ARM id as Azure spells it.
    pub id: String,
    pub name: String,
    /// e.g. `Microsoft.Storage/storageAccounts`; `Microsoft.Resources/resourceGroups` for groups.
    #[serde(rename = "type")]
    pub resource_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_by: Option<String>,
    /// Azure's creation time (`$expand=createdTime`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_time: Option<DateTime<Utc>>,
    /// Azure's last change time (`$expand=changedTime`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed_time: Option<DateTime<Utc>>,
}

/// One page (or part of a page) of a connection's resources.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(
    title = "asset-batch",
    description = "Part of an asset job's inventory; signed like scan results."
)]
pub struct AssetBatch {
    /// Always `asset-batch`.
    pub schema: String,
    pub version: u32,
    /// The asset job's id (the scan's job for service `assets`).
    pub job_id: Uuid,
    pub scan_id: Uuid,
    pub organization_id: String,
    pub connection_id: Uuid,
    pub trigger: Trigger,
    /// 0-based position of this batch in the job.
    pub seq: u32,
    /// Set on the job's last batch: how many batches the job published (this one included).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_batches: Option<u32>,
    /// On the last batch: whether every resource was read. When false (a read failed), assets
    /// the scan did not see are not marked removed.
    #[serde(default)]
    pub complete: bool,
    /// On the last batch of an incomplete job: why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub worker: String,
    pub assets: Vec<AssetData>,
}

impl Message for AssetBatch {
    const SCHEMA: &'static str = "asset-batch";
}

impl AssetBatch {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        job_id: Uuid,
        scan_id: Uuid,
        organization_id: &str,
        connection_id: Uuid,
        trigger: Trigger,
        seq: u32,
        worker: &str,
        assets: Vec<AssetData>,
    ) -> Self {
        Self {
            schema: Self::SCHEMA.to_string(),
            version: MESSAGE_VERSION,
            job_id,
            scan_id,
            organization_id: organization_id.to_string(),
            connection_id,
            trigger,
            seq,
            total_batches: None,
            complete: false,
            error: None,
            worker: worker.to_string(),
            assets,
        }
    }

    /// Why this batch is not one a worker of this fleet produces for `subscription_id`, if it
    /// is not (the ingester dead-letters it with this reason and writes nothing).
    pub fn validate(&self, subscription_id: &str) -> Result<(), String> {
        if self.assets.len() > MAX_BATCH_ASSETS {
            return Err(format!(
                "{} assets in one batch (at most {MAX_BATCH_ASSETS})",
                self.assets.len()
            ));
        }
        if self.seq >= MAX_BATCHES {
            return Err(format!("batch number {} is too high", self.seq));
        }
        if let Some(total) = self.total_batches
            && (total == 0 || total > MAX_BATCHES || self.seq + 1 != total)
        {
            return Err(format!(
                "total_batches {total} does not fit batch number {}",
                self.seq
            ));
        }
        if self.error.as_ref().is_some_and(|e| e.len() > 1_024) {
            return Err("error text too long".into());
        }
        for asset in &self.assets {
            validate_asset(asset, subscription_id)?;
        }
        Ok(())
    }
}

/// Why `asset` is outside the bounds, if it is.
pub fn validate_asset(asset: &AssetData, subscription_id: &str) -> Result<(), String> {
    let short: String = asset.id.chars().take(80).collect();
    if asset.id.is_empty() || asset.id.chars().count() > MAX_ID_CHARS {
        return Err(format!("asset id {short:?} is empty or too long"));
    }
    if asset.id.chars().any(char::is_control) {
        return Err(format!("asset id {short:?} has control characters"));
    }
    let prefix = format!("/subscriptions/{subscription_id}/");
    if !asset
        .id
        .get(..prefix.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(&prefix))
    {
        return Err(format!(
            "asset id {short:?} is not in the connection's subscription"
        ));
    }
    let fields = [
        Some(&asset.name),
        Some(&asset.resource_type),
        asset.resource_group.as_ref(),
        asset.location.as_ref(),
        asset.kind.as_ref(),
        asset.managed_by.as_ref(),
    ];
    if fields
        .iter()
        .flatten()
        .any(|f| f.chars().count() > MAX_FIELD_CHARS)
    {
        return Err(format!(
            "asset {short:?} has a field over {MAX_FIELD_CHARS} characters"
        ));
    }
    if asset.tags.len() > MAX_TAGS {
        return Err(format!("asset {short:?} has more than {MAX_TAGS} tags"));
    }
    if asset.tags.iter().any(|(k, v)| {
        k.chars().count() > MAX_TAG_NAME_CHARS || v.chars().count() > MAX_TAG_VALUE_CHARS
    }) {
        return Err(format!("asset {short:?} has a tag over the length limits"));
    }
    if let Some(sku) = &asset.sku
        && (!sku.is_object() || sku.to_string().len() > MAX_SKU_BYTES)
    {
        return Err(format!("asset {short:?} has an invalid SKU"));
    }
    Ok(())
}

/// The inventory's key for an asset: its id in lower case (ARM ids are case-insensitive).
pub fn asset_key(id: &str) -> String {
    id.to_ascii_lowercase()
}

/// Reads one ARM list item (`/resources` or `/resourcegroups`) into an asset; `None` when it
/// has no usable id. Azure's data is not trusted: values of the wrong type are left out.
pub fn from_arm(item: &Value) -> Option<AssetData> {
    let text = |name: &str| item.get(name).and_then(Value::as_str).map(str::to_string);
    let id = text("id")?;
    let resource_type = text("type").unwrap_or_default();
    let is_group = resource_type.eq_ignore_ascii_case("Microsoft.Resources/resourceGroups");
    let resource_group = if is_group {
        text("name")
    } else {
        resource_group_of(&id)
    };
    let tags = item
        .get("tags")
        .and_then(Value::as_object)
        .map(|tags| {
            tags.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                .collect()
        })
        .unwrap_or_default();
    let time = |name: &str| {
        text(name)
            .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
            .map(|t| t.with_timezone(&Utc))
    };
    Some(AssetData {
        name: text("name").unwrap_or_default(),
        resource_type,
        resource_group,
        location: text("location"),
        tags,
        sku: item.get("sku").filter(|s| s.is_object()).cloned(),
        kind: text("kind"),
        managed_by: text("managedBy"),
        created_time: time("createdTime"),
        changed_time: time("changedTime"),
        id,
    })
}

/// The resource group named in an ARM id.
pub fn resource_group_of(id: &str) -> Option<String> {
    let mut parts = id.split('/');
    while let Some(part) = parts.next() {
        if part.eq_ignore_ascii_case("resourceGroups") {
            return parts.next().map(str::to_string);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUB: &str = "00000000-0000-0000-0000-000000000001";

    fn asset(id: &str) -> AssetData {
        AssetData {
            id: id.to_string(),
            name: "a".into(),
            resource_type: "Microsoft.Storage/storageAccounts".into(),
            ..AssetData::default()
        }
    }

    #[test]
    fn reads_every_field_from_arm() {
        let item = serde_json::json!({
            "id": format!("/subscriptions/{SUB}/resourceGroups/rg1/providers/Microsoft.Storage/storageAccounts/sa1"),
            "name": "sa1", "type": "Microsoft.Storage/storageAccounts", "location": "westeurope",
            "tags": {"owner": "ana", "n": 3}, "sku": {"name": "Standard_LRS"}, "kind": "StorageV2",
            "managedBy": "x", "createdTime": "2024-01-02T03:04:05Z", "changedTime": "2024-02-02T03:04:05.5Z"
        });
        let a = from_arm(&item).expect("asset");
        assert_eq!(a.resource_group.as_deref(), Some("rg1"));
        assert_eq!(a.tags.len(), 1, "non-string tag values are left out");
        assert_eq!(a.kind.as_deref(), Some("StorageV2"));
        assert_eq!(a.managed_by.as_deref(), Some("x"));
        assert!(a.created_time.is_some() && a.changed_time.is_some());
        assert!(validate_asset(&a, SUB).is_ok());
    }

    #[test]
    fn refuses_hostile_batches() {
        let ok = asset(&format!("/subscriptions/{SUB}/resourceGroups/rg/x"));
        let mut batch = AssetBatch::new(
            Uuid::new_v4(),
            Uuid::new_v4(),
            "o",
            Uuid::new_v4(),
            Trigger::OnDemand,
            0,
            "w",
            vec![ok.clone(); MAX_BATCH_ASSETS + 1],
        );
        assert!(
            batch
                .validate(SUB)
                .unwrap_err()
                .contains("assets in one batch")
        );
        batch.assets = vec![asset("/subscriptions/other/resourceGroups/rg/x")];
        assert!(batch.validate(SUB).unwrap_err().contains("subscription"));
        let mut long = ok.clone();
        long.name = "n".repeat(MAX_FIELD_CHARS + 1);
        batch.assets = vec![long];
        assert!(batch.validate(SUB).is_err());
        let mut tags = ok.clone();
        tags.tags
            .insert("k".into(), "v".repeat(MAX_TAG_VALUE_CHARS + 1));
        batch.assets = vec![tags];
        assert!(batch.validate(SUB).is_err());
        batch.assets = vec![ok];
        batch.total_batches = Some(5);
        assert!(batch.validate(SUB).is_err(), "total must follow seq");
        batch.total_batches = Some(1);
        assert!(batch.validate(SUB).is_ok());
    }
}
