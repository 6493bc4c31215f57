//! Trust boundaries of the fleet (issue 9), end to end: an organization token cannot bring its
//! own cloud endpoints, a cloud on loopback works only when the operator allows it, a 50 MB
//! answer is an Error result, and forged or poisoned results are dead-lettered with their reason
//! and change nothing in the store (history included).

use std::time::Duration;

use chrono::Utc;
use e2e::{Fleet, FleetOptions, demo_with_unique_secret, dump_keys};
use serde_json::{Value, json};
use shared::broker::topology::DEAD_LETTER_REASON_HEADER;
use shared::checks::CheckStatus;
use shared::messages::{ArmUsage, CheckResult, ScanResult, Trigger};
use shared::signing::{SIGNATURE_HEADER, SigningKeys};
use uuid::Uuid;

async fn call_as(
    fleet: &Fleet,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .request(method, fleet.api_url(path))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let value = response.json().await.unwrap_or(Value::Null);
    (status, value)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_organization_token_cannot_bring_its_own_cloud() {
    let (scenario, secret) = demo_with_unique_secret();
    let fleet = Fleet::start(
        scenario,
        FleetOptions {
            workers: 0,
            scan_on_create: false,
            ..Default::default()
        },
    )
    .await
    .expect("fleet");
    let (code, created) = fleet
        .call(
            reqwest::Method::POST,
            "/v1/organizations/contoso/tokens",
            Some(json!({"name": "contoso-ci"})),
        )
        .await
        .expect("token");
    assert_eq!(code, 201, "{created}");
    let token = created["token"].as_str().expect("token").to_string();
    let demo = e2e::demo_scenario_json();
    let form = |cloud: Value| {
        json!({
            "name": "A", "tenant_id": demo["subscriptions"][0]["tenant_id"],
            "client_id": demo["tenants"][0]["applications"][0]["client_id"],
            "subscription_id": demo["subscriptions"][0]["id"], "client_secret": secret,
            "regions": ["eastus"], "cloud": cloud,
        })
    };
    // The emulator's own endpoints, which the fleet can reach: still refused, as endpoints.
    let base = fleet.emulator.base_url();
    let (code, err) = call_as(
        &fleet,
        &token,
        reqwest::Method::POST,
        "/v1/connections",
        Some(form(
            json!({"kind": "custom", "authority_host": base, "resource_manager": base}),
        )),
    )
    .await;
    assert_eq!(code, 422, "{err}");
    assert_eq!(err["fields"][0]["field"], "cloud.authority_host", "{err}");
    let (code, err) = call_as(
        &fleet,
        &token,
        reqwest::Method::POST,
        "/v1/connections",
        Some(form(json!({"kind": "custom", "resource_manager": base}))),
    )
    .await;
    assert_eq!(code, 422, "{err}");
    assert_eq!(
        fleet.emulator.counters().total,
        0,
        "nothing was sent anywhere"
    );
    // The registered cloud (loopback, allowed by the operator) works.
    let (code, saved) = call_as(
        &fleet,
        &token,
        reqwest::Method::POST,
        "/v1/connections",
        Some(form(fleet.cloud_json())),
    )
    .await;
    assert_eq!(code, 201, "{saved}");
    assert_eq!(
        saved["connection"]["status"]["state"], "connected",
        "{saved}"
    );

    // The scheme is case-insensitive; bodies are size-limited.
    let response = reqwest::Client::new()
        .get(fleet.api_url("/v1/connections"))
        .header("authorization", format!("bEaReR {token}"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status().as_u16(), 200);
    let huge = json!({"name": "x".repeat(200 * 1024)});
    let (code, _) = call_as(
        &fleet,
        &token,
        reqwest::Method::POST,
        "/v1/connections",
        Some(huge),
    )
    .await;
    assert_eq!(code, 413);
    fleet.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn a_cloud_on_loopback_needs_the_operators_consent() {
    let json = e2e::clouds_json("https://127.0.0.1:8443");
    let mut azure = shared::config::AzureArgs {
        extra_ca_file: None,
        azure_request_timeout_secs: 5,
        azure_max_body_bytes: 1024 * 1024,
        clouds: Some(json.clone()),
        clouds_file: None,
    };
    assert!(azure.cloud_registry().await.is_ok());
    azure.clouds = Some(json.replace(
        "\"allow_private_addresses\":true",
        "\"allow_private_addresses\":false",
    ));
    let err = azure.cloud_registry().await.expect_err("refused");
    assert!(err.to_string().contains("non-public address"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_50_mb_answer_is_an_error_result_and_the_worker_carries_on() {
    let (scenario, secret) = demo_with_unique_secret();
    let fleet = Fleet::start(scenario, FleetOptions::default())
        .await
        .expect("fleet");
    fleet
        .emulator
        .add_fault(azure_emulator::Fault {
            pad_bytes: Some(50 * 1024 * 1024),
            ..azure_emulator::Fault::status("Microsoft.Storage/storageAccounts", 200)
        })
        .expect("fault");
    let (id, scan) = fleet.create_demo_connection(&secret).await.expect("create");
    let scan = scan.expect("first scan");
    fleet
        .wait_for_scan(id, scan, Duration::from_secs(120))
        .await
        .expect("scan completes");
    let (code, results) = fleet
        .call(
            reqwest::Method::GET,
            &format!("/v1/connections/{id}/results"),
            None,
        )
        .await
        .expect("results");
    assert_eq!(code, 200);
    let results = results.as_array().expect("array").clone();
    let storage: Vec<&Value> = results
        .iter()
        .filter(|r| r["service"] == "storage")
        .collect();
    assert!(!storage.is_empty());
    for r in &storage {
        // Reading stopped at the cap (32 MiB): the worker never held more of this answer.
        assert_eq!(r["status"], "error", "{r}");
        assert!(
            r["reason"].as_str().unwrap_or("").contains("larger than"),
            "{r}"
        );
    }
    // The NSG collections were unaffected.
    assert!(
        results
            .iter()
            .any(|r| r["service"] == "nsg" && r["status"] != "error")
    );
    fleet.shutdown().await.expect("shutdown");
}

fn forged(
    connection_id: Uuid,
    organization_id: &str,
    scan_id: Uuid,
    check_id: &str,
    finished_at: chrono::DateTime<Utc>,
) -> ScanResult {
    ScanResult {
        schema: "scan-result".into(),
        version: 1,
        job_id: Uuid::new_v4(),
        scan_id,
        organization_id: organization_id.into(),
        connection_id,
        service: "storage".into(),
        trigger: Trigger::OnDemand,
        started_at: finished_at - chrono::Duration::seconds(1),
        finished_at,
        worker: "forger".into(),
        arm: ArmUsage::default(),
        checks: vec![CheckResult {
            check_id: check_id.into(),
            status: CheckStatus::Passed,
            reason: "all good, honestly".into(),
            missing_permission: None,
            findings: Vec::new(),
        }],
        connection_error: None,
        fragment: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_results_are_dead_lettered_and_change_nothing() {
    let (scenario, secret) = demo_with_unique_secret();
    let fleet = Fleet::start(scenario, FleetOptions::default())
        .await
        .expect("fleet");
    let (id, scan) = fleet.create_demo_connection(&secret).await.expect("create");
    let scan = scan.expect("first scan");
    fleet
        .wait_for_scan(id, scan, Duration::from_secs(120))
        .await
        .expect("scan completes");
    let record = fleet
        .store
        .connection(id)
        .await
        .expect("redis")
        .expect("record");
    let org = record.organization_id.clone();
    let tag = format!("{{conn:{id}}}");
    let snapshot = || async {
        dump_keys(&fleet.store, &fleet.prefix)
            .await
            .expect("dump")
            .into_iter()
            .filter(|(k, _)| k.contains(&tag))
            .collect::<Vec<_>>()
    };
    let before = snapshot().await;
    assert!(!before.is_empty());

    let now = Utc::now();
    let failing = "storage.secure_transfer_required";
    let stranger = SigningKeys::parse(&SigningKeys::generate("fleet")).expect("keys");
    let body = |r: &ScanResult| serde_json::to_vec(r).expect("json");
    let real = body(&forged(id, &org, scan, failing, now));
    let cases: Vec<(&str, Vec<u8>, Option<String>)> = vec![
        ("unauthenticated", real.clone(), None),
        ("unauthenticated", real.clone(), Some(stranger.sign(&real))),
        (
            "unauthenticated",
            real.clone(),
            Some(format!("fleet:{}", "0".repeat(64))),
        ),
        (
            "no scan",
            body(&forged(id, &org, Uuid::new_v4(), failing, now)),
            Some(String::new()),
        ),
        (
            "does not exist",
            body(&forged(Uuid::new_v4(), &org, scan, failing, now)),
            Some(String::new()),
        ),
        (
            "another organization",
            body(&forged(id, "globex", scan, failing, now)),
            Some(String::new()),
        ),
        (
            "is not a check",
            body(&forged(id, &org, scan, "storage.made_up", now)),
            Some(String::new()),
        ),
        (
            "future",
            body(&forged(
                id,
                &org,
                scan,
                failing,
                "2099-01-01T00:00:00Z".parse().expect("date"),
            )),
            Some(String::new()),
        ),
    ];
    for (_, payload, signature) in &cases {
        // An empty signature stands for "signed with the fleet's real key".
        let signature = match signature.as_deref() {
            Some("") => Some(fleet.result_keys.sign(payload)),
            other => other.map(str::to_string),
        };
        let headers: Vec<(&str, &str)> = signature
            .as_deref()
            .map(|s| vec![(SIGNATURE_HEADER, s)])
            .unwrap_or_default();
        fleet
            .publish_with_headers("scan.result", payload, &headers)
            .await
            .expect("publish");
    }
    let dead = fleet.topology.results().dead_letter_queue();
    let mut reasons = Vec::new();
    for _ in 0..cases.len() {
        let message = fleet
            .take_message(&dead, Duration::from_secs(120))
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
    assert_eq!(
        before,
        snapshot().await,
        "the store is unchanged, history included"
    );
    // Nothing left for a missing connection either.
    let orphans = dump_keys(&fleet.store, &fleet.prefix)
        .await
        .expect("dump")
        .into_iter()
        .filter(|(k, _)| k.contains("{conn:") && !k.contains(&tag))
        .count();
    assert_eq!(orphans, 0);
    fleet.shutdown().await.expect("shutdown");
}
