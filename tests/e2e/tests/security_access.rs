//! Security posture and identity without Microsoft Graph permissions: the demo principal keeps
//! Reader-level access to the subscription, but its application is granted no Graph application
//! permission. Every Entra ID check that reads Graph ends "Failed - Access Denied" naming the
//! Graph permission it needs, the validation's access map says which ones are missing, and the
//! Defender, Security Center and Monitor checks (and Entra's ARM-based custom-role check) still
//! pass or fail exactly as the demo scenario expects.

use std::time::Duration;

use e2e::{Fleet, FleetOptions, compare_with_expectations, demo_scenario_json};
use serde_json::{Value, json};
use shared::checks::{CheckStatus, service};
use uuid::Uuid;

const SERVICES: [&str; 4] = ["defender", "securitycenter", "monitor", "entra"];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_graph_permissions_entra_checks_are_access_denied_and_the_rest_still_judge() {
    let secret = format!("Sec~{}.Gx4_q", Uuid::new_v4().simple());
    let mut demo = demo_scenario_json();
    demo["tenants"][0]["applications"][0]["secrets"][0]["value"] = json!(secret);
    demo["tenants"][0]["applications"][0]["graph_permissions"] = json!([]);
    let scenario = azure_emulator::Scenario::from_json(&demo.to_string()).expect("scenario");
    let fleet = Fleet::start(scenario, FleetOptions::default())
        .await
        .expect("fleet");
    let (id, scan) = fleet.create_demo_connection(&secret).await.expect("create");
    fleet
        .wait_for_scan(id, scan.expect("first scan"), Duration::from_secs(120))
        .await
        .expect("scan completes");
    let latest = fleet.store.latest_results(id).await.expect("results");
    let result = |check_id: &str| {
        latest
            .iter()
            .find(|r| r.result.check_id == check_id)
            .map(|r| r.result.clone())
            .unwrap_or_else(|| panic!("no result for {check_id}"))
    };

    // Every Graph-backed Entra ID check: access denied, naming the Graph permission.
    let entra = service("entra").expect("entra service");
    let mut denied = 0;
    for check in entra.checks {
        let permissions = entra.permissions_of(check);
        let r = result(check.meta.id);
        let graph = check
            .reads()
            .iter()
            .any(|key| entra.collection(key).is_some_and(|c| c.source.is_graph()));
        if graph {
            denied += 1;
            assert_eq!(
                r.status,
                CheckStatus::FailedAccessDenied,
                "{}: {}",
                check.meta.id,
                r.reason
            );
            let missing = r.missing_permission.clone().unwrap_or_default();
            assert!(
                ["Policy.Read.All", "AuditLog.Read.All", "Directory.Read.All"]
                    .contains(&missing.as_str()),
                "{}: names {missing}",
                check.meta.id
            );
            assert_eq!(Some(missing.as_str()), permissions.first().copied());
            assert!(r.reason.contains(&missing), "{}", r.reason);
        }
    }
    assert_eq!(denied, 8, "8 of the 9 Entra ID checks read Graph");

    // The custom-role check reads Resource Manager and still judges, like the other services.
    let expectations = demo_scenario_json()["expectations"].clone();
    let judged: serde_json::Map<String, Value> = expectations
        .as_object()
        .expect("expectations")
        .iter()
        .filter(|(check_id, _)| {
            let service_id = check_id.split('.').next().unwrap_or_default();
            SERVICES.contains(&service_id)
                && (service_id != "entra" || *check_id == "entra.no_custom_owner_roles")
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert_eq!(judged.len(), 7 + 5 + 6 + 1);
    let mismatches = compare_with_expectations(&latest, &Value::Object(judged));
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));

    // The validation's access map says which Graph permissions are missing.
    let (code, body) = fleet
        .call(reqwest::Method::GET, &format!("/v1/connections/{id}"), None)
        .await
        .expect("api");
    assert_eq!(code, 200, "{body}");
    let access = &body["status"]["access"];
    let services = access["services"].as_array().cloned().unwrap_or_default();
    let entry = |id: &str| {
        services
            .iter()
            .find(|s| s["service"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("no access entry for {id}: {access}"))
    };
    let entra_access = entry("entra");
    assert_eq!(entra_access["readable"], false, "{entra_access}");
    let missing: Vec<&str> = entra_access["missing_graph_permissions"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for p in ["Policy.Read.All", "AuditLog.Read.All", "Directory.Read.All"] {
        assert!(missing.contains(&p), "{p} missing from {entra_access}");
    }
    for id in ["defender", "securitycenter", "monitor"] {
        assert_eq!(entry(id)["readable"], true, "{id}: {}", entry(id));
    }

    fleet.shutdown().await.expect("cleanup");
}
