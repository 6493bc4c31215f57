//! The network, edge, messaging and platform services under partial access: a principal whose
//! custom role denies one resource provider gets "Failed - Access Denied" naming the action on
//! exactly that service's checks and real verdicts on the rest; a resource provider that is not
//! registered makes exactly the checks that read it Not applicable, with the reason.

use std::time::Duration;

use e2e::{Fleet, FleetOptions, compare_with_expectations, demo_with_unique_secret};
use serde_json::{Value, json};
use shared::checks::CheckStatus;
use shared::store::StoredCheckResult;

/// The services this file covers.
const SERVICES: [&str; 10] = [
    "appgw",
    "frontdoor",
    "lb",
    "bastion",
    "eventgrid",
    "eventhub",
    "servicebus",
    "appconfig",
    "aiml",
    "media",
];

/// Runs the demo's first scan with `change` applied to the demo subscription; returns the
/// latest results and the demo's expectations.
async fn scan_with(change: impl FnOnce(&mut Value)) -> (Vec<StoredCheckResult>, Value) {
    let (scenario, secret) = demo_with_unique_secret();
    let mut raw = serde_json::to_value(&scenario).expect("json");
    change(&mut raw["subscriptions"][0]);
    let expectations = e2e::demo_scenario_json()["expectations"].clone();
    let scenario = azure_emulator::Scenario::from_json(&raw.to_string()).expect("scenario");
    let fleet = Fleet::start(scenario, FleetOptions::default())
        .await
        .expect("fleet");
    let (id, scan) = fleet.create_demo_connection(&secret).await.expect("create");
    fleet
        .wait_for_scan(id, scan.expect("first scan"), Duration::from_secs(120))
        .await
        .expect("scan completes");
    let latest = fleet.store.latest_results(id).await.expect("results");
    fleet.shutdown().await.expect("cleanup");
    (latest, expectations)
}

fn result<'a>(latest: &'a [StoredCheckResult], check_id: &str) -> &'a StoredCheckResult {
    latest
        .iter()
        .find(|r| r.result.check_id == check_id)
        .unwrap_or_else(|| panic!("no result for {check_id}"))
}

/// The demo expectations of this file's services, except the checks `skip` selects.
fn expectations_except(expectations: &Value, skip: impl Fn(&str) -> bool) -> Value {
    let kept: serde_json::Map<String, Value> = expectations
        .as_object()
        .expect("expectations")
        .iter()
        .filter(|(id, _)| SERVICES.iter().any(|s| id.starts_with(&format!("{s}."))))
        .filter(|(id, _)| !skip(id))
        .map(|(id, e)| (id.clone(), e.clone()))
        .collect();
    Value::Object(kept)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_role_without_event_hubs_denies_exactly_the_event_hubs_checks() {
    let (latest, expectations) = scan_with(|subscription| {
        subscription["access"] = json!([{
            "object_id": "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b",
            "role": "Contoso Scanner (custom role: Reader without Event Hubs)",
            "actions": ["*/read"],
            "not_actions": ["Microsoft.EventHub/*"]
        }]);
    })
    .await;
    let eventhub = shared::checks::service("eventhub").expect("service");
    for check in eventhub.checks {
        let r = result(&latest, check.meta.id);
        assert_eq!(
            r.result.status,
            CheckStatus::FailedAccessDenied,
            "{}",
            check.meta.id
        );
        assert_eq!(
            r.result.missing_permission.as_deref(),
            Some("Microsoft.EventHub/namespaces/read"),
            "{}",
            check.meta.id
        );
        assert!(
            r.result
                .reason
                .contains("Microsoft.EventHub/namespaces/read"),
            "{}",
            r.result.reason
        );
    }
    let rest = expectations_except(&expectations, |id| id.starts_with("eventhub."));
    assert_eq!(rest.as_object().map(|o| o.len()), Some(40));
    let mismatches = compare_with_expectations(&latest, &rest);
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unregistered_providers_make_exactly_their_checks_not_applicable() {
    let (latest, expectations) = scan_with(|subscription| {
        subscription["unregistered_providers"] = json!(["Microsoft.Media", "Microsoft.Cdn"]);
    })
    .await;
    // Front Door's WAF policies live in Microsoft.Network: those checks still decide.
    let cdn_checks = [
        "frontdoor.waf_attached",
        "frontdoor.custom_domain_tls12",
        "frontdoor.access_logs",
    ];
    let media = shared::checks::service("media").expect("service");
    let unregistered: Vec<(&str, &str)> = media
        .checks
        .iter()
        .map(|c| (c.meta.id, "Microsoft.Media"))
        .chain(cdn_checks.iter().map(|id| (*id, "Microsoft.Cdn")))
        .collect();
    for (check_id, namespace) in &unregistered {
        let r = result(&latest, check_id);
        assert_eq!(r.result.status, CheckStatus::NotApplicable, "{check_id}");
        assert!(
            r.result
                .reason
                .contains(&format!("Resource provider {namespace} is not registered")),
            "{check_id}: {}",
            r.result.reason
        );
        assert!(r.result.findings.is_empty());
    }
    let rest = expectations_except(&expectations, |id| {
        unregistered.iter().any(|(u, _)| *u == id)
    });
    assert_eq!(rest.as_object().map(|o| o.len()), Some(37));
    let mismatches = compare_with_expectations(&latest, &rest);
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}
