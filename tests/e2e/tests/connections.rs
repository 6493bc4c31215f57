//! Connections as customers use them: validation on create with a precise status and
//! diagnosis for each way it can go wrong, the access map of a restricted custom role, secret
//! rotation recovering an expired connection with its history intact, and field-level errors
//! for bad input with nothing stored.

use std::time::Duration;

use e2e::{Fleet, FleetOptions, demo_scenario_json};
use serde_json::{Value, json};
use shared::checks::CheckStatus;
use uuid::Uuid;

const GOOD: &str = "Good~Secret.1";
const SECOND: &str = "Second~Secret.2";

/// The demo world plus principals and a subscription for every failure case.
fn world(secret_expires: &str) -> (Value, Value) {
    let mut w = demo_scenario_json();
    let tenant = w["tenants"][0]["id"].as_str().expect("tenant").to_string();
    let sub = w["subscriptions"][0]["id"]
        .as_str()
        .expect("sub")
        .to_string();
    let demo_app = w["tenants"][0]["applications"][0].clone();
    w["tenants"][0]["applications"][0]["secrets"] = json!([
        {"value": GOOD, "expires_at": secret_expires},
        {"value": SECOND, "expires_at": "{{now+365d}}"}
    ]);
    let app = |client: &str, oid: &str, extra: Value| {
        let mut a = json!({"client_id": client, "object_id": oid, "secrets": [{"value": GOOD}]});
        if let (Some(a), Some(extra)) = (a.as_object_mut(), extra.as_object()) {
            a.extend(extra.clone());
        }
        a
    };
    let apps = w["tenants"][0]["applications"]
        .as_array_mut()
        .expect("apps");
    apps.push(app(
        "aaaaaaaa-0000-0000-0000-0000000000e1",
        "bbbbbbbb-0000-0000-0000-0000000000e1",
        json!({"secrets": [{"value": GOOD, "expires_at": "{{now-10d}}"}]}),
    ));
    apps.push(app(
        "aaaaaaaa-0000-0000-0000-0000000000d1",
        "bbbbbbbb-0000-0000-0000-0000000000d1",
        json!({"enabled": false}),
    ));
    apps.push(app(
        "aaaaaaaa-0000-0000-0000-0000000000a0",
        "bbbbbbbb-0000-0000-0000-0000000000a0",
        json!({}),
    ));
    apps.push(app(
        "aaaaaaaa-0000-0000-0000-0000000000b0",
        "bbbbbbbb-0000-0000-0000-0000000000b0",
        json!({}),
    ));
    let access = w["subscriptions"][0]["access"]
        .as_array_mut()
        .expect("access");
    access.push(json!({"object_id": "bbbbbbbb-0000-0000-0000-0000000000b0", "role": "Network Auditor (custom)",
        "actions": ["Microsoft.Network/*/read", "Microsoft.Resources/subscriptions/read", "Microsoft.Authorization/*/read"]}));
    let subs = w["subscriptions"].as_array_mut().expect("subs");
    subs.push(json!({"id": "7b8c9d0e-1f2a-4b3c-8d4e-5f6a7b8c9d0e", "tenant_id": tenant, "state": "Disabled",
        "access": [{"object_id": demo_app["object_id"], "role": "Reader", "actions": ["*/read"]}]}));
    let ids = json!({
        "tenant": tenant, "sub": sub, "good": demo_app["client_id"],
        "expired": "aaaaaaaa-0000-0000-0000-0000000000e1", "disabled": "aaaaaaaa-0000-0000-0000-0000000000d1",
        "no_roles": "aaaaaaaa-0000-0000-0000-0000000000a0", "network_only": "aaaaaaaa-0000-0000-0000-0000000000b0",
        "disabled_sub": "7b8c9d0e-1f2a-4b3c-8d4e-5f6a7b8c9d0e",
    });
    (w, ids)
}

async fn start(world: Value) -> Fleet {
    let scenario = azure_emulator::Scenario::from_json(&world.to_string()).expect("scenario");
    Fleet::start(scenario, FleetOptions::default())
        .await
        .expect("fleet")
}

fn form(
    fleet: &Fleet,
    org: &str,
    tenant: &Value,
    client: &Value,
    sub: &Value,
    secret: &str,
) -> Value {
    json!({
        "organization_id": org, "name": format!("{org} subscription"),
        "tenant_id": tenant, "client_id": client, "subscription_id": sub,
        "client_secret": secret, "regions": ["eastus", "westeurope"], "cloud": fleet.cloud_json(),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_way_validation_fails_gets_its_status_and_diagnosis() {
    let (w, ids) = world("{{now+365d}}");
    let fleet = start(w).await;
    let random = json!(Uuid::new_v4().to_string());
    let cases = [
        (
            "wrong-secret",
            &ids["tenant"],
            &ids["good"],
            &ids["sub"],
            "not-the-secret",
            "authentication_failed",
            "wrong_secret",
        ),
        (
            "expired-secret",
            &ids["tenant"],
            &ids["expired"],
            &ids["sub"],
            GOOD,
            "client_secret_expired",
            "expired_secret",
        ),
        (
            "unknown-tenant",
            &random,
            &ids["good"],
            &ids["sub"],
            GOOD,
            "tenant_not_found",
            "tenant_not_found",
        ),
        (
            "unknown-app",
            &ids["tenant"],
            &random,
            &ids["sub"],
            GOOD,
            "application_not_found",
            "app_not_found",
        ),
        (
            "disabled-app",
            &ids["tenant"],
            &ids["disabled"],
            &ids["sub"],
            GOOD,
            "application_disabled",
            "app_disabled",
        ),
        (
            "disabled-sub",
            &ids["tenant"],
            &ids["good"],
            &ids["disabled_sub"],
            GOOD,
            "subscription_disabled",
            "Disabled",
        ),
        (
            "unknown-sub",
            &ids["tenant"],
            &ids["good"],
            &random,
            GOOD,
            "subscription_not_found",
            "was not found",
        ),
        (
            "no-roles",
            &ids["tenant"],
            &ids["no_roles"],
            &ids["sub"],
            GOOD,
            "permission_errors",
            "no role",
        ),
    ];
    for (org, tenant, client, sub, secret, state, evidence) in cases {
        let (code, saved) = fleet
            .call(
                reqwest::Method::POST,
                "/v1/connections",
                Some(form(&fleet, org, tenant, client, sub, secret)),
            )
            .await
            .expect("create");
        assert_eq!(code, 201, "{org}: {saved}");
        let status = &saved["connection"]["status"];
        assert_eq!(status["state"], state, "{org}: {status}");
        let summary = status["diagnosis"]["summary"].as_str().unwrap_or_default();
        assert!(summary.contains(evidence), "{org}: {summary}");
        assert!(
            !status["diagnosis"]["remediation"]
                .as_str()
                .unwrap_or_default()
                .is_empty(),
            "{org}"
        );
        assert!(
            saved["scan_id"].is_null(),
            "{org}: a failing connection is not scanned"
        );
    }
    fleet.shutdown().await.expect("cleanup");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_restricted_custom_role_is_connected_with_its_access_map() {
    let (w, ids) = world("{{now+365d}}");
    let fleet = start(w).await;
    let body = form(
        &fleet,
        "netops",
        &ids["tenant"],
        &ids["network_only"],
        &ids["sub"],
        GOOD,
    );
    let (code, saved) = fleet
        .call(reqwest::Method::POST, "/v1/connections", Some(body))
        .await
        .expect("create");
    assert_eq!(code, 201, "{saved}");
    let status = &saved["connection"]["status"];
    assert_eq!(status["state"], "connected");
    let access = &status["access"];
    assert_eq!(access["reader"], false);
    assert_eq!(access["roles"], json!(["Network Auditor (custom)"]));
    let service = |id: &str| {
        access["services"]
            .as_array()
            .and_then(|s| s.iter().find(|x| x["service"] == id))
            .cloned()
            .expect("service")
    };
    assert_eq!(service("nsg")["readable"], true);
    assert_eq!(service("storage")["readable"], false);
    assert!(
        service("storage")["missing_actions"]
            .to_string()
            .contains("Microsoft.Storage/storageAccounts/read")
    );

    // Its first scan: storage checks say Access Denied naming the action; NSG checks run.
    let id = Uuid::parse_str(saved["connection"]["id"].as_str().expect("id")).expect("uuid");
    let scan = Uuid::parse_str(
        saved["scan_id"]
            .as_str()
            .expect("a connected connection is scanned"),
    )
    .expect("uuid");
    fleet
        .wait_for_scan(id, scan, Duration::from_secs(120))
        .await
        .expect("scan");
    for r in fleet.store.latest_results(id).await.expect("results") {
        if r.service == "storage" {
            assert_eq!(
                r.result.status,
                CheckStatus::FailedAccessDenied,
                "{}",
                r.result.check_id
            );
            assert!(
                r.result
                    .missing_permission
                    .as_deref()
                    .unwrap_or_default()
                    .starts_with("Microsoft.Storage/")
            );
        } else {
            assert_ne!(r.result.status, CheckStatus::Error, "{}", r.result.check_id);
        }
    }
    fleet.shutdown().await.expect("cleanup");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rotating_the_secret_recovers_an_expired_connection_with_its_history() {
    // The first secret expires 20 s from now (time for the first scan, even on a loaded machine);
    // the app also has a second, valid secret.
    let expires_at = chrono::Utc::now() + chrono::Duration::seconds(20);
    let (mut w, ids) = world("{{now+20s}}");
    w["token_lifetime_seconds"] = json!(1);
    let fleet = start(w).await;
    let body = form(
        &fleet,
        "contoso",
        &ids["tenant"],
        &ids["good"],
        &ids["sub"],
        GOOD,
    );
    let (_, saved) = fleet
        .call(reqwest::Method::POST, "/v1/connections", Some(body))
        .await
        .expect("create");
    let id = Uuid::parse_str(saved["connection"]["id"].as_str().expect("id")).expect("uuid");
    let scan = Uuid::parse_str(saved["scan_id"].as_str().expect("first scan")).expect("uuid");
    fleet
        .wait_for_scan(id, scan, Duration::from_secs(120))
        .await
        .expect("first scan");

    // The secret expires; the weekly scan (here: the planner, made due now) finds out.
    e2e::wait_until(
        "the secret has expired",
        Duration::from_secs(120),
        || async { chrono::Utc::now() > expires_at + chrono::Duration::seconds(2) },
    )
    .await;
    fleet
        .store
        .schedule_at(id, chrono::Utc::now() - chrono::Duration::seconds(1))
        .await
        .expect("due");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let (_, c) = fleet
            .call(reqwest::Method::GET, &format!("/v1/connections/{id}"), None)
            .await
            .expect("get");
        if c["status"]["state"] == "client_secret_expired" {
            assert!(
                c["status"]["diagnosis"]["remediation"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("new secret")
            );
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never noticed the expiry: {c}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // While expired, rescans are refused with a reason.
    let (code, refused) = fleet
        .call(
            reqwest::Method::POST,
            &format!("/v1/connections/{id}/rescan"),
            None,
        )
        .await
        .expect("rescan");
    assert_eq!(code, 409, "{refused}");

    // The customer pastes the new secret (with a stray space): re-validated, scans resume.
    let (code, saved) = fleet
        .call(
            reqwest::Method::PATCH,
            &format!("/v1/connections/{id}"),
            Some(json!({"client_secret": format!("{SECOND} ")})),
        )
        .await
        .expect("rotate");
    assert_eq!(code, 200, "{saved}");
    assert_eq!(saved["trimmed_fields"], json!(["client_secret"]));
    assert_eq!(saved["connection"]["status"]["state"], "connected");
    let scan = Uuid::parse_str(saved["scan_id"].as_str().expect("scans resume")).expect("uuid");
    fleet
        .wait_for_scan(id, scan, Duration::from_secs(120))
        .await
        .expect("scan after rotation");
    let (_, c) = fleet
        .call(reqwest::Method::GET, &format!("/v1/connections/{id}"), None)
        .await
        .expect("get");
    assert_eq!(c["status"]["state"], "active");

    // History kept across it all: first result, the error while expired, and the result again.
    let history = fleet
        .store
        .history(id, "storage.min_tls_12", 10)
        .await
        .expect("history");
    let statuses: Vec<_> = history.iter().filter_map(|h| h.status).collect();
    assert_eq!(
        statuses,
        vec![CheckStatus::Failed, CheckStatus::Error, CheckStatus::Failed]
    );
    // And the audit trail tells the story.
    let (_, trail) = fleet
        .call(
            reqwest::Method::GET,
            "/v1/organizations/contoso/audit",
            None,
        )
        .await
        .expect("audit");
    let actions: Vec<&str> = trail
        .as_array()
        .expect("trail")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert!(
        actions.starts_with(&["connection.created", "connection.validated"]),
        "{actions:?}"
    );
    assert!(
        actions.contains(&"connection.secret_rotated"),
        "{actions:?}"
    );
    fleet.shutdown().await.expect("cleanup");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_input_gets_field_level_errors_and_stores_nothing() {
    let (w, ids) = world("{{now+365d}}");
    let fleet = start(w).await;
    let good = form(
        &fleet,
        "acme",
        &ids["tenant"],
        &ids["good"],
        &ids["sub"],
        GOOD,
    );
    let with = |key: &str, value: Value| {
        let mut f = good.clone();
        f[key] = value;
        f
    };
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "malformed tenant",
            with("tenant_id", json!("72f988bf-86f1-41af-91ab")),
            "tenant_id",
        ),
        (
            "malformed client",
            with("client_id", json!("not-a-guid")),
            "client_id",
        ),
        (
            "malformed subscription",
            with("subscription_id", json!("1234")),
            "subscription_id",
        ),
        (
            "identifier differs",
            with("connection_identifier", json!(Uuid::new_v4().to_string())),
            "connection_identifier",
        ),
        (
            "empty secret",
            with("client_secret", json!("   ")),
            "client_secret",
        ),
        (
            "unknown region",
            with("regions", json!(["eastus", "middleearth"])),
            "regions[1]",
        ),
        (
            "unknown capability",
            with(
                "selected_items",
                json!({"compliance_checks": true, "mind_reading": true}),
            ),
            "selected_items.mind_reading",
        ),
        (
            "unknown field",
            with("client_secrte", json!("x")),
            "client_secrte",
        ),
        ("wrong type", with("regions", json!("eastus")), "regions"),
        (
            "custom endpoints",
            with(
                "cloud",
                json!({"kind": "custom", "authority_host": "https://login.example", "resource_manager": "https://arm.example"}),
            ),
            "cloud.authority_host",
        ),
        (
            "unregistered cloud",
            with("cloud", json!({"kind": "registered", "name": "elsewhere"})),
            "cloud.name",
        ),
        ("missing name", with("name", json!("")), "name"),
    ];
    for (what, body, field) in cases {
        let (code, err) = fleet
            .call(reqwest::Method::POST, "/v1/connections", Some(body))
            .await
            .expect("post");
        assert_eq!(code, 422, "{what}: {err}");
        let fields: Vec<&str> = err["fields"]
            .as_array()
            .expect("fields")
            .iter()
            .filter_map(|f| f["field"].as_str())
            .collect();
        assert!(fields.contains(&field), "{what}: {fields:?} {err}");
        assert!(
            !err.to_string().contains(GOOD),
            "{what}: the secret came back"
        );
    }
    let (code, _) = fleet
        .call(
            reqwest::Method::POST,
            "/v1/connections",
            Some(json!("not an object")),
        )
        .await
        .expect("post");
    assert_eq!(code, 422);
    // Nothing was stored for any of them.
    let (_, list) = fleet
        .call(
            reqwest::Method::GET,
            "/v1/connections?organization_id=acme",
            None,
        )
        .await
        .expect("list");
    assert_eq!(list, json!([]));
    let keys = e2e::dump_keys(&fleet.store, &fleet.prefix)
        .await
        .expect("keys");
    assert!(keys.iter().all(|(k, _)| !k.contains("{conn:")), "{keys:?}");

    // Spaces pasted around ids are trimmed and reported; a second connection to the same
    // subscription in one organization is refused.
    let spaced = with(
        "client_id",
        json!(format!("  {}  ", ids["good"].as_str().expect("id"))),
    );
    let (code, saved) = fleet
        .call(reqwest::Method::POST, "/v1/connections", Some(spaced))
        .await
        .expect("post");
    assert_eq!(code, 201, "{saved}");
    assert_eq!(saved["trimmed_fields"], json!(["client_id"]));
    let (code, err) = fleet
        .call(reqwest::Method::POST, "/v1/connections", Some(good.clone()))
        .await
        .expect("post");
    assert_eq!(code, 422);
    assert_eq!(err["fields"][0]["field"], "subscription_id");
    fleet.shutdown().await.expect("cleanup");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_connection_without_a_completed_scan_for_a_week_is_stale() {
    let (w, ids) = world("{{now+365d}}");
    let fleet = start(w).await;
    let body = form(
        &fleet,
        "contoso",
        &ids["tenant"],
        &ids["good"],
        &ids["sub"],
        GOOD,
    );
    let (_, saved) = fleet
        .call(reqwest::Method::POST, "/v1/connections", Some(body))
        .await
        .expect("create");
    let id = Uuid::parse_str(saved["connection"]["id"].as_str().expect("id")).expect("uuid");
    let scan = Uuid::parse_str(saved["scan_id"].as_str().expect("scan")).expect("uuid");
    fleet
        .wait_for_scan(id, scan, Duration::from_secs(120))
        .await
        .expect("scan");
    let state = || async {
        let (_, c) = fleet
            .call(reqwest::Method::GET, &format!("/v1/connections/{id}"), None)
            .await
            .expect("get");
        c["status"]["state"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(state().await, "active");
    // Eight days pass without a completed scan.
    let mut redis = fleet.store.redis();
    let eight_days_ago = (chrono::Utc::now() - chrono::Duration::days(8)).to_rfc3339();
    let _: () = redis::cmd("HSET")
        .arg(fleet.store.keys().status(id))
        .arg("last_completed_scan_at")
        .arg(&eight_days_ago)
        .query_async(&mut redis)
        .await
        .expect("age the last scan");
    assert_eq!(state().await, "stale");
    // The census counts it, for the dashboards and the stale-connections alert.
    e2e::wait_until(
        "the census to count the stale connection",
        Duration::from_secs(120),
        || async {
            let text = reqwest::get(fleet.api_url("/metrics"))
                .await
                .expect("metrics")
                .text()
                .await
                .expect("text");
            text.lines().any(|l| l == "fleet_connections_stale 1")
        },
    )
    .await;
    // The next completed scan makes it active again.
    let scan = fleet.rescan(id, None).await.expect("rescan");
    fleet
        .wait_for_scan(id, scan, Duration::from_secs(120))
        .await
        .expect("scan");
    assert_eq!(state().await, "active");
    fleet.shutdown().await.expect("cleanup");
}
