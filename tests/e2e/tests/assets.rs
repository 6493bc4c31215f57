//! Asset import end to end (issue 15): a scan of a connection that selects asset import fills the
//! inventory from the emulator's `/resourcegroups` and `/resources?$expand=...` (every field), a
//! second scan after the scenario changes records exactly the changes, an asset's findings are
//! those of the latest results, exports parse, other organizations get 404, and with asset import
//! off no resources read is made and no inventory key exists.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use e2e::{Fleet, FleetOptions, demo_scenario_json, wait_until};
use serde_json::{Value, json};
use uuid::Uuid;

const SCAN_TIMEOUT: Duration = Duration::from_secs(120);

/// The demo scenario with a unique secret and three extra storage accounts carrying every field
/// the inventory keeps; one is outside the monitored regions.
fn scenario_json() -> (Value, String) {
    let secret = format!("Sec~{}.{}", Uuid::new_v4().simple(), "Zq7_w");
    let mut demo = demo_scenario_json();
    demo["tenants"][0]["applications"][0]["secrets"][0]["value"] = Value::String(secret.clone());
    let sub = demo["subscriptions"][0]["id"]
        .as_str()
        .expect("sub")
        .to_string();
    let resources = demo["subscriptions"][0]["resources"]
        .as_array_mut()
        .expect("resources");
    resources.push(account(
        &sub,
        "inv1",
        "eastus",
        json!({"owner": "ana", "env": "prod"}),
    ));
    resources.push(account(&sub, "inv2", "westeurope", json!({"owner": "bo"})));
    resources.push(account(&sub, "invfar", "japaneast", json!({})));
    (demo, secret)
}

fn account(sub: &str, name: &str, location: &str, tags: Value) -> Value {
    json!({
        "id": format!("/subscriptions/{sub}/resourceGroups/rg-inventory/providers/Microsoft.Storage/storageAccounts/{name}"),
        "name": name, "type": "Microsoft.Storage/storageAccounts", "location": location,
        "tags": tags, "sku": {"name": "Standard_GRS", "tier": "Standard"}, "kind": "StorageV2",
        "managedBy": format!("/subscriptions/{sub}/resourceGroups/rg-inventory/providers/Microsoft.Databricks/workspaces/w1"),
        "createdTime": "2024-03-01T10:00:00Z", "changedTime": "2024-04-01T10:00:00Z",
        "properties": {"minimumTlsVersion": "TLS1_2", "supportsHttpsTrafficOnly": true}
    })
}

fn scenario(json: &Value) -> azure_emulator::Scenario {
    azure_emulator::Scenario::from_json(&json.to_string()).expect("scenario")
}

/// Ids (lower case) of what `/resources` and `/resourcegroups` list in the monitored regions.
fn expected_ids(demo: &Value, regions: &[&str]) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    let mut groups: BTreeMap<String, String> = BTreeMap::new();
    for r in demo["subscriptions"][0]["resources"]
        .as_array()
        .expect("resources")
    {
        let id = r["id"].as_str().expect("id");
        let lower = id.to_ascii_lowercase();
        let after: Vec<&str> = lower.split("/providers/").collect();
        // Top level in a resource group: one provider segment with namespace/type/name.
        if after.len() != 2
            || after[1].split('/').count() != 3
            || !lower.contains("/resourcegroups/")
        {
            continue;
        }
        let location = r["location"]
            .as_str()
            .map(|l| l.to_ascii_lowercase().replace(' ', ""));
        let parts: Vec<&str> = lower.split('/').collect();
        if let Some(i) = parts.iter().position(|p| *p == "resourcegroups") {
            let group = format!("{}/{}", parts[..=i].join("/"), parts[i + 1]);
            groups
                .entry(group)
                .or_insert(location.clone().unwrap_or_default());
        }
        if location
            .as_deref()
            .is_none_or(|l| l == "global" || regions.contains(&l))
        {
            ids.insert(lower);
        }
    }
    for (group, location) in groups {
        if location.is_empty() || location == "global" || regions.contains(&location.as_str()) {
            ids.insert(group);
        }
    }
    ids
}

async fn create(fleet: &Fleet, demo: &Value, secret: &str, asset_import: bool) -> (Uuid, Uuid) {
    let sub = &demo["subscriptions"][0];
    let body = json!({
        "organization_id": demo["demo"]["organization_id"],
        "name": "inventory", "credential_name": "c",
        "tenant_id": sub["tenant_id"],
        "client_id": demo["tenants"][0]["applications"][0]["client_id"],
        "subscription_id": sub["id"], "client_secret": secret,
        "regions": ["eastus", "westeurope"], "cloud": fleet.cloud_json(),
        "selected_items": {"compliance_checks": true, "asset_import": asset_import},
    });
    let (code, created) = fleet
        .call(reqwest::Method::POST, "/v1/connections", Some(body))
        .await
        .expect("create");
    assert_eq!(code, 201, "{created}");
    // Validation says whether asset import can list resources and groups (only when selected).
    let access = &created["connection"]["status"]["access"];
    if asset_import {
        assert_eq!(access["assets"]["readable"], true, "{access}");
        assert_eq!(access["assets"]["missing_actions"], json!([]));
    } else {
        assert!(access.get("assets").is_none(), "{access}");
    }
    let id = Uuid::parse_str(created["connection"]["id"].as_str().expect("id")).expect("uuid");
    let scan = Uuid::parse_str(created["scan_id"].as_str().expect("scan")).expect("uuid");
    (id, scan)
}

/// Every asset through cursor paging, `limit` at a time.
async fn all_assets(fleet: &Fleet, id: Uuid, filter: &str, limit: usize) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/v1/connections/{id}/assets?limit={limit}{filter}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={}", urlencode(c)));
        }
        let (code, page) = fleet
            .call(reqwest::Method::GET, &path, None)
            .await
            .expect("list");
        assert_eq!(code, 200, "{page}");
        out.extend(page["assets"].as_array().expect("assets").iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return out,
        }
    }
}

/// RFC 4180: rows of cells, quoted cells may hold commas, quotes (doubled) and newlines.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let (mut rows, mut row, mut cell) = (Vec::new(), Vec::new(), String::new());
    let (mut quoted, mut chars) = (false, text.chars().peekable());
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => cell.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut cell)),
            (false, '\n') => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => cell.push(c),
        }
    }
    rows
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn ids_of(assets: &[Value]) -> BTreeSet<String> {
    assets
        .iter()
        .map(|a| a["id"].as_str().expect("id").to_ascii_lowercase())
        .collect()
}

fn resource_calls(fleet: &Fleet) -> u64 {
    fleet
        .emulator
        .counters()
        .by_endpoint
        .iter()
        .filter(|(k, _)| {
            let k = k.to_ascii_lowercase();
            k.ends_with("/resources") || k.ends_with("/resourcegroups")
        })
        .map(|(_, n)| n)
        .sum()
}

/// The `scheduler` binary of this workspace, built if needed (as tests/cli.rs does).
fn scheduler_binary() -> std::path::PathBuf {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let status = std::process::Command::new(env!("CARGO"))
        .args(["build", "--quiet", "-p", "scheduler", "--bin", "scheduler"])
        .current_dir(&root)
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building the scheduler binary");
    std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
        .join("debug")
        .join("scheduler")
}

/// Runs `scheduler <args>` against the fleet with the operator token; returns stdout.
fn cli(fleet: &Fleet, args: &[&str]) -> String {
    let output = std::process::Command::new(scheduler_binary())
        .args(args)
        .env("FLEET_API_URL", format!("http://{}", fleet.api))
        .env("FLEET_API_TOKEN", &fleet.operator_token)
        .output()
        .expect("the CLI runs");
    assert!(
        output.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn asset_import_fills_tracks_and_joins_the_inventory() {
    let (demo, secret) = scenario_json();
    let fleet = Fleet::start(scenario(&demo), FleetOptions::default())
        .await
        .expect("fleet");
    let (id, scan) = create(&fleet, &demo, &secret, true).await;
    fleet
        .wait_for_scan(id, scan, SCAN_TIMEOUT)
        .await
        .expect("first scan");
    assert!(resource_calls(&fleet) >= 2, "resources and groups are read");

    // Every listed resource and group in the monitored regions, paged 7 at a time.
    let regions = ["eastus", "westeurope"];
    let assets = all_assets(&fleet, id, "", 7).await;
    let expected = expected_ids(&demo, &regions);
    let got = ids_of(&assets);
    assert_eq!(
        (
            got.difference(&expected).collect::<Vec<_>>(),
            expected.difference(&got).collect::<Vec<_>>()
        ),
        (vec![], vec![])
    );
    assert!(
        !ids_of(&assets).iter().any(|i| i.ends_with("/invfar")),
        "region selection applies"
    );

    // Every field of one asset, from the scenario.
    let sub = demo["subscriptions"][0]["id"].as_str().expect("sub");
    let inv1 = format!(
        "/subscriptions/{sub}/resourceGroups/rg-inventory/providers/Microsoft.Storage/storageAccounts/inv1"
    );
    let a = assets
        .iter()
        .find(|a| a["id"] == inv1.as_str())
        .expect("inv1 listed");
    assert_eq!(a["name"], "inv1");
    assert_eq!(a["type"], "Microsoft.Storage/storageAccounts");
    assert_eq!(a["resource_group"], "rg-inventory");
    assert_eq!(a["location"], "eastus");
    assert_eq!(a["tags"], json!({"owner": "ana", "env": "prod"}));
    assert_eq!(
        a["sku"],
        json!({"name": "Standard_GRS", "tier": "Standard"})
    );
    assert_eq!(a["kind"], "StorageV2");
    assert!(
        a["managed_by"]
            .as_str()
            .expect("managed_by")
            .ends_with("/workspaces/w1")
    );
    assert_eq!(a["created_time"], "2024-03-01T10:00:00Z");
    assert_eq!(a["changed_time"], "2024-04-01T10:00:00Z");
    assert!(a["first_seen"].is_string() && a["last_seen"].is_string());
    assert!(a.get("removed_at").is_none());
    let group = assets
        .iter()
        .find(|a| a["type"] == "Microsoft.Resources/resourceGroups" && a["name"] == "rg-inventory")
        .expect("the resource group is an asset");
    assert_eq!(group["location"], "eastus");

    // Owner from the organization's tag, and the filters.
    let (code, _) = fleet
        .call(
            reqwest::Method::PUT,
            "/v1/organizations/contoso/asset-owner-tag",
            Some(json!({"tag": "Owner"})),
        )
        .await
        .expect("owner tag");
    assert_eq!(code, 200);
    let owned = all_assets(&fleet, id, "&owner=ana", 100).await;
    assert_eq!(ids_of(&owned), BTreeSet::from([inv1.to_ascii_lowercase()]));
    assert_eq!(owned[0]["owner"], "ana");
    let tagged = all_assets(&fleet, id, "&tag=owner", 100).await;
    assert_eq!(tagged.len(), 2);
    let in_rg = all_assets(
        &fleet,
        id,
        "&resource_group=RG-INVENTORY&type=microsoft.storage/storageaccounts&region=westeurope",
        100,
    )
    .await;
    assert_eq!(in_rg.len(), 1);
    assert_eq!(in_rg[0]["name"], "inv2");

    // Findings: exactly the checks of the latest results whose findings name the asset.
    let (_, results) = fleet
        .call(
            reqwest::Method::GET,
            &format!("/v1/connections/{id}/results"),
            None,
        )
        .await
        .expect("results");
    let mut failed_resources = BTreeSet::new();
    let mut by_resource: BTreeMap<String, BTreeSet<(String, String)>> = BTreeMap::new();
    for check in results.as_array().expect("results") {
        for f in check["findings"].as_array().into_iter().flatten() {
            let rid = f["resource_id"].as_str().expect("rid").to_ascii_lowercase();
            let status = f["status"].as_str().expect("status").to_string();
            if status == "failed" {
                failed_resources.insert(rid.clone());
            }
            by_resource.entry(rid).or_default().insert((
                check["check_id"].as_str().expect("check").to_string(),
                status,
            ));
        }
    }
    let asset_ids = ids_of(&assets);
    let failing_asset = failed_resources
        .iter()
        .find(|r| asset_ids.contains(*r))
        .expect("the demo fails a check on some asset")
        .clone();
    let original_id = assets
        .iter()
        .find(|a| a["id"].as_str().expect("id").to_ascii_lowercase() == failing_asset)
        .and_then(|a| a["id"].as_str())
        .expect("asset")
        .to_string();
    let (code, detail) = fleet
        .call(
            reqwest::Method::GET,
            &format!("/v1/connections/{id}/asset?id={}", urlencode(&original_id)),
            None,
        )
        .await
        .expect("show");
    assert_eq!(code, 200, "{detail}");
    let seen: BTreeSet<(String, String)> = detail["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            assert!(f["evidence"].is_array());
            (
                f["check_id"].as_str().expect("c").to_string(),
                f["status"].as_str().expect("s").to_string(),
            )
        })
        .collect();
    assert_eq!(seen, by_resource[&failing_asset]);
    assert_eq!(detail["history"][0]["changes"], json!(["added"]));
    let failing = ids_of(&all_assets(&fleet, id, "&failing=true", 100).await);
    let expected_failing: BTreeSet<String> =
        asset_ids.intersection(&failed_resources).cloned().collect();
    assert_eq!(failing, expected_failing);
    let passing = ids_of(&all_assets(&fleet, id, "&failing=false", 100).await);
    assert_eq!(passing.len() + failing.len(), asset_ids.len());

    // Exports parse.
    let csv = reqwest::Client::new()
        .get(fleet.api_url(&format!("/v1/connections/{id}/assets/export?format=csv")))
        .bearer_auth(&fleet.operator_token)
        .send()
        .await
        .expect("csv")
        .text()
        .await
        .expect("text");
    let mut lines = parse_csv(&csv).into_iter();
    let headers = lines.next().expect("header");
    assert_eq!(headers[0], "id");
    let rows: Vec<Vec<String>> = lines.collect();
    assert!(rows.iter().all(|r| r.len() == headers.len()));
    assert_eq!(rows.len(), asset_ids.len());
    let row = rows.iter().find(|r| r[0] == inv1).expect("inv1 row");
    assert_eq!(row[5], "env=prod;owner=ana");
    assert_eq!(row[6], r#"{"name":"Standard_GRS","tier":"Standard"}"#);
    assert_eq!(row[14], "ana");
    let (code, exported) = fleet
        .call(
            reqwest::Method::GET,
            &format!("/v1/connections/{id}/assets/export?format=json"),
            None,
        )
        .await
        .expect("json");
    assert_eq!(code, 200);
    assert_eq!(ids_of(exported.as_array().expect("array")), asset_ids);

    // The CLI: list with a filter, show one asset, export as CSV.
    let sid = id.to_string();
    let listed: Value = serde_json::from_str(&cli(
        &fleet,
        &["assets", "list", &sid, "--owner", "ana", "--json"],
    ))
    .expect("list --json");
    assert_eq!(
        ids_of(listed.as_array().expect("array")),
        BTreeSet::from([inv1.to_ascii_lowercase()])
    );
    let table = cli(
        &fleet,
        &[
            "assets",
            "list",
            &sid,
            "--type",
            "Microsoft.Storage/storageAccounts",
        ],
    );
    assert!(table.contains("/inv1") && table.contains("/inv2") && table.contains("ana"));
    let shown: Value = serde_json::from_str(&cli(
        &fleet,
        &["assets", "show", &sid, "--asset", &original_id, "--json"],
    ))
    .expect("show --json");
    assert_eq!(shown["findings"], detail["findings"]);
    let exported_csv = cli(&fleet, &["assets", "export", &sid, "--format", "csv"]);
    assert_eq!(parse_csv(&exported_csv).len(), asset_ids.len() + 1);

    // Another organization's token sees nothing: 404 as for a missing connection.
    let (code, created) = fleet
        .call(
            reqwest::Method::POST,
            "/v1/organizations/globex/tokens",
            Some(json!({"name": "g"})),
        )
        .await
        .expect("token");
    assert_eq!(code, 201, "{created}");
    let other = created["token"].as_str().expect("token").to_string();
    for path in [
        format!("/v1/connections/{id}/assets"),
        format!("/v1/connections/{id}/assets/export"),
        format!("/v1/connections/{id}/asset?id={}", urlencode(&inv1)),
    ] {
        let code = reqwest::Client::new()
            .get(fleet.api_url(&path))
            .bearer_auth(&other)
            .send()
            .await
            .expect("call")
            .status()
            .as_u16();
        assert_eq!(code, 404, "{path}");
    }

    // The scenario changes: one account added, one removed, one retagged.
    let mut changed = demo.clone();
    let resources = changed["subscriptions"][0]["resources"]
        .as_array_mut()
        .expect("resources");
    resources.push(account(sub, "inv3", "westeurope", json!({})));
    resources.retain(|r| !r["id"].as_str().is_some_and(|i| i.ends_with("/inv2")));
    for r in resources.iter_mut() {
        if r["id"] == inv1.as_str() {
            r["tags"] = json!({"owner": "cy", "env": "prod"});
            r["changedTime"] = json!("2024-05-01T10:00:00Z");
        }
    }
    fleet
        .emulator
        .replace_scenario(scenario(&changed))
        .expect("replace");
    let second = fleet.rescan(id, None).await.expect("rescan");
    fleet
        .wait_for_scan(id, second, SCAN_TIMEOUT)
        .await
        .expect("second scan");

    let changes = fleet.store.asset_changes(id).await.expect("changes");
    let mut of_second: Vec<(String, Vec<String>)> = changes
        .iter()
        .filter(|c| c.scan_id == Some(second))
        .map(|c| {
            (
                c.asset.rsplit('/').next().unwrap_or_default().to_string(),
                c.changes.clone(),
            )
        })
        .collect();
    of_second.sort();
    assert_eq!(
        of_second,
        vec![
            ("inv1".to_string(), vec!["tags".to_string()]),
            ("inv2".to_string(), vec!["removed".to_string()]),
            ("inv3".to_string(), vec!["added".to_string()]),
        ]
    );
    let removed = all_assets(&fleet, id, "&removed=true", 100).await;
    assert_eq!(removed.len(), 1);
    assert!(removed[0]["id"].as_str().expect("id").ends_with("/inv2"));
    assert!(removed[0]["removed_at"].is_string());
    let present = all_assets(&fleet, id, "&removed=false", 100).await;
    let mut expected = expected_ids(&changed, &regions);
    assert_eq!(ids_of(&present), expected);
    expected.insert(removed[0]["id"].as_str().expect("id").to_ascii_lowercase());
    assert_eq!(ids_of(&all_assets(&fleet, id, "", 100).await), expected);
    let inv1_now = all_assets(&fleet, id, "&owner=cy", 100).await;
    assert_eq!(inv1_now.len(), 1);
    assert_eq!(inv1_now[0]["changed_time"], "2024-05-01T10:00:00Z");

    // A third scan with nothing changed writes no history.
    let before = fleet.store.asset_changes(id).await.expect("changes").len();
    let third = fleet.rescan(id, None).await.expect("rescan");
    fleet
        .wait_for_scan(id, third, SCAN_TIMEOUT)
        .await
        .expect("third scan");
    assert_eq!(
        fleet.store.asset_changes(id).await.expect("changes").len(),
        before
    );
    fleet.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn asset_import_off_reads_no_resources_and_keeps_no_inventory() {
    let (demo, secret) = scenario_json();
    let fleet = Fleet::start(scenario(&demo), FleetOptions::default())
        .await
        .expect("fleet");
    let (id, scan) = create(&fleet, &demo, &secret, false).await;
    fleet
        .wait_for_scan(id, scan, SCAN_TIMEOUT)
        .await
        .expect("scan");
    assert!(fleet.emulator.counters().total > 0, "the scan read Azure");
    assert_eq!(resource_calls(&fleet), 0);
    assert!(!fleet.store.has_inventory(id).await.expect("store"));
    let progress = fleet
        .store
        .scan_progress(id, scan)
        .await
        .expect("p")
        .expect("scan");
    assert!(!progress.pending.iter().any(|s| s == "assets"));

    // Turned on later (PATCH), the next scan imports.
    let (code, body) = fleet
        .call(
            reqwest::Method::PATCH,
            &format!("/v1/connections/{id}"),
            Some(json!({"selected_items": {"compliance_checks": true, "asset_import": true}})),
        )
        .await
        .expect("patch");
    assert_eq!(code, 200, "{body}");
    let next = fleet.rescan(id, None).await.expect("rescan");
    fleet
        .wait_for_scan(id, next, SCAN_TIMEOUT)
        .await
        .expect("scan");
    assert!(resource_calls(&fleet) >= 2);
    wait_until("the inventory exists", Duration::from_secs(10), || async {
        fleet.store.has_inventory(id).await.unwrap_or(false)
    })
    .await;
    fleet.shutdown().await.expect("shutdown");
}

/// Hostile asset batches on the results queue are dead-lettered with their reason and change
/// nothing: unsigned, too many assets, an asset of another subscription, too many tags, and a
/// batch for a scan that enqueued no asset job.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hostile_asset_batches_are_dead_lettered_and_change_nothing() {
    use shared::assets::{AssetBatch, AssetData};
    use shared::broker::topology::DEAD_LETTER_REASON_HEADER;
    use shared::messages::Trigger;
    use shared::signing::SIGNATURE_HEADER;

    let (demo, secret) = scenario_json();
    let fleet = Fleet::start(scenario(&demo), FleetOptions::default())
        .await
        .expect("fleet");
    let (id, scan) = create(&fleet, &demo, &secret, true).await;
    fleet
        .wait_for_scan(id, scan, SCAN_TIMEOUT)
        .await
        .expect("scan");
    let snapshot = || async {
        let assets = fleet.store.assets(id, None).await.expect("assets");
        let changes = fleet.store.asset_changes(id).await.expect("changes");
        (
            serde_json::to_string(&assets).expect("json"),
            serde_json::to_string(&changes).expect("json"),
        )
    };
    let before = snapshot().await;
    let sub = demo["subscriptions"][0]["id"].as_str().expect("sub");
    let org = demo["demo"]["organization_id"].as_str().expect("org");
    let asset = |id: String| AssetData {
        name: "x".into(),
        resource_type: "Microsoft.Storage/storageAccounts".into(),
        id,
        ..Default::default()
    };
    let ours = |n: usize| {
        format!(
            "/subscriptions/{sub}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/h{n}"
        )
    };
    let batch = |scan_id: Uuid, assets: Vec<AssetData>| {
        let mut b = AssetBatch::new(
            Uuid::new_v4(),
            scan_id,
            org,
            id,
            Trigger::OnDemand,
            0,
            "evil",
            assets,
        );
        b.total_batches = Some(1);
        b.complete = true;
        serde_json::to_vec(&b).expect("json")
    };
    let mut tagged = asset(ours(1));
    tagged.tags = (0..65)
        .map(|i| (format!("t{i}"), "v".to_string()))
        .collect();
    let cases: Vec<(&str, Vec<u8>, bool)> = vec![
        ("unauthenticated", batch(scan, vec![asset(ours(0))]), false),
        (
            "501 assets in one batch",
            batch(scan, (0..501).map(|n| asset(ours(n))).collect()),
            true,
        ),
        (
            "is not in the connection's subscription",
            batch(
                scan,
                vec![asset(
                    "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/A.B/c/d"
                        .into(),
                )],
            ),
            true,
        ),
        ("more than 64 tags", batch(scan, vec![tagged]), true),
        (
            "no asset job was enqueued",
            batch(Uuid::new_v4(), vec![asset(ours(2))]),
            true,
        ),
    ];
    for (_, payload, signed) in &cases {
        let signature = fleet.result_keys.sign(payload);
        let headers: Vec<(&str, &str)> = if *signed {
            vec![(SIGNATURE_HEADER, signature.as_str())]
        } else {
            Vec::new()
        };
        fleet
            .publish_with_headers("scan.result", payload, &headers)
            .await
            .expect("publish");
    }
    let dead = fleet.topology.results().dead_letter_queue();
    let mut reasons = Vec::new();
    for _ in 0..cases.len() {
        let message = fleet
            .take_message(&dead, Duration::from_secs(30))
            .await
            .expect("amqp")
            .expect("dead-lettered");
        let reason = message
            .properties
            .headers()
            .as_ref()
            .and_then(|h| match h.inner().get(DEAD_LETTER_REASON_HEADER) {
                Some(lapin::types::AMQPValue::LongString(s)) => Some(s.to_string()),
                _ => None,
            })
            .unwrap_or_default();
        reasons.push(reason);
    }
    for (expected, _, _) in &cases {
        assert!(
            reasons.iter().any(|r| r.contains(expected)),
            "no dead letter says {expected:?}: {reasons:?}"
        );
    }
    assert_eq!(before, snapshot().await, "the inventory is unchanged");
    fleet.shutdown().await.expect("shutdown");
}
