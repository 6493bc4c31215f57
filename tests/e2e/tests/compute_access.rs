//! Access denial is per collection: a principal whose custom role reads everything except
//! `Microsoft.Web/*` gets "Failed - Access Denied" on every App Service check, naming the
//! action the site list needs; a provider the subscription is not registered for (409
//! MissingSubscriptionRegistration, here `Microsoft.App`) makes its service's checks Not
//! applicable; the other compute and automation services of the same scan pass and fail exactly
//! as in the demo.

use std::time::Duration;

use azure_emulator::Scenario;
use e2e::{Fleet, FleetOptions, demo_scenario_json};
use serde_json::{Value, json};
use shared::checks::CheckStatus;
use uuid::Uuid;

const OTHER_SERVICES: [&str; 5] = ["vm", "vmss", "aks", "acr", "automation"];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_web_reads_deny_only_app_service_and_an_unregistered_provider_is_not_applicable() {
    let secret = format!("Sec~{}.Zq7_w", Uuid::new_v4().simple());
    let mut demo = demo_scenario_json();
    demo["tenants"][0]["applications"][0]["secrets"][0]["value"] = Value::String(secret.clone());
    let principal = demo["subscriptions"][0]["access"][0]["object_id"].clone();
    demo["subscriptions"][0]["access"] = json!([{
        "object_id": principal,
        "role": "Compute Scanner (custom role: Reader without App Service)",
        "actions": ["*/read"],
        "not_actions": ["Microsoft.Web/*"],
    }]);
    demo["subscriptions"][0]["unregistered_providers"] = json!(["Microsoft.App"]);
    let scenario = Scenario::from_json(&demo.to_string()).expect("scenario loads");
    let fleet = Fleet::start(scenario, FleetOptions::default())
        .await
        .expect("fleet");
    let (id, scan) = fleet.create_demo_connection(&secret).await.expect("create");
    let scan = scan.expect("a first scan is enqueued on create");
    fleet
        .wait_for_scan(id, scan, Duration::from_secs(120))
        .await
        .expect("scan completes");
    let latest = fleet.store.latest_results(id).await.expect("results");
    let result_of = |check_id: &str| {
        latest
            .iter()
            .find(|r| r.result.check_id == check_id)
            .unwrap_or_else(|| panic!("no result for {check_id}"))
    };

    let app_service = shared::checks::service("appservice").expect("App Service");
    assert_eq!(app_service.checks.len(), 7);
    for check in app_service.checks {
        let result = result_of(check.meta.id);
        assert_eq!(
            result.result.status,
            CheckStatus::FailedAccessDenied,
            "{}: {}",
            check.meta.id,
            result.result.reason
        );
        assert_eq!(
            result.result.missing_permission.as_deref(),
            Some("Microsoft.Web/sites/read"),
            "{}",
            check.meta.id
        );
        assert!(result.result.reason.contains("Microsoft.Web/sites/read"));
        assert!(result.result.findings.is_empty());
    }

    let container_apps = shared::checks::service("containerapps").expect("Container Apps");
    for check in container_apps.checks {
        let result = result_of(check.meta.id);
        assert_eq!(
            result.result.status,
            CheckStatus::NotApplicable,
            "{}",
            check.meta.id
        );
        assert!(
            result
                .result
                .reason
                .contains("Microsoft.App is not registered"),
            "{}",
            result.result.reason
        );
    }

    // The other services read as in the demo: same statuses, same resources per outcome.
    let expectations: serde_json::Map<String, Value> = demo["expectations"]
        .as_object()
        .expect("expectations")
        .iter()
        .filter(|(check_id, _)| {
            OTHER_SERVICES
                .iter()
                .any(|s| check_id.starts_with(&format!("{s}.")))
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert_eq!(
        expectations.len(),
        29,
        "41 compute checks minus 7 App Service and 5 Container Apps"
    );
    for e in expectations.values() {
        assert!(e["status"] == "passed" || e["status"] == "failed", "{e}");
    }
    let mismatches = e2e::compare_with_expectations(&latest, &Value::Object(expectations));
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));

    // No Microsoft.Web call got past the 403 of the site list: children are never asked for.
    let counters = fleet.emulator.counters();
    let web_calls: Vec<&String> = counters
        .by_endpoint
        .keys()
        .filter(|k| k.contains("Microsoft.Web/sites/"))
        .collect();
    assert!(web_calls.is_empty(), "{web_calls:?}");
    let sub = demo["subscriptions"][0]["id"]
        .as_str()
        .expect("subscription id");
    assert_eq!(
        counters.endpoint(&format!(
            "GET /subscriptions/{sub}/providers/Microsoft.Web/sites"
        )),
        1,
        "the site list is asked once, and a 403 is not retried"
    );
}
