//! Exceptions end to end, against real RabbitMQ and Redis and the emulator: a disabled check is
//! served Disabled at once (with what the scan found underneath), stays Disabled through the
//! next scan and is Failed again the moment it is re-enabled; an organization-wide exception
//! covers every connection; an exempted resource turns a one-resource failure into a pass; an
//! expiry passing (an injected clock) brings the check back and writes an "expired" entry. The
//! audit trail exports exactly those events and its hash chain shows any edit or removal.

use std::time::Duration;

use azure_emulator::Scenario;
use e2e::{Fleet, FleetOptions, demo_scenario_json, wait_until};
use serde_json::{Value, json};
use shared::clock::Clock;
use uuid::Uuid;

const SECOND_SUBSCRIPTION: &str = "7b9c1d2e-3f4a-4b5c-9d0e-1f2a3b4c5d6e";

/// The demo scenario with a second subscription (a copy of the first) and a unique secret.
fn two_subscriptions() -> (Scenario, String, Value) {
    let secret = format!("Sec~{}.Zq7_w", Uuid::new_v4().simple());
    let mut demo = demo_scenario_json();
    demo["tenants"][0]["applications"][0]["secrets"][0]["value"] = Value::String(secret.clone());
    let first = demo["subscriptions"][0].clone();
    let first_id = first["id"].as_str().expect("id").to_string();
    let copy: Value = serde_json::from_str(
        &first
            .to_string()
            .replace(&first_id, SECOND_SUBSCRIPTION)
            .replace("Contoso Production", "Contoso Staging"),
    )
    .expect("copy");
    demo["subscriptions"]
        .as_array_mut()
        .expect("subscriptions")
        .push(copy);
    let scenario = Scenario::from_json(&demo.to_string()).expect("scenario");
    (scenario, secret, demo)
}

/// Creates a connection to the second subscription; returns (id, first scan id).
async fn second_connection(
    fleet: &Fleet,
    demo: &Value,
    secret: &str,
    compliance_checks: bool,
) -> (Uuid, Option<Uuid>) {
    let sub = &demo["subscriptions"][0];
    let app = &demo["tenants"][0]["applications"][0];
    let (status, created) = fleet
        .call(
            reqwest::Method::POST,
            "/v1/connections",
            Some(json!({
                "organization_id": "contoso",
                "name": "Contoso Staging",
                "credential_name": "ciphrix-integration",
                "tenant_id": sub["tenant_id"],
                "client_id": app["client_id"],
                "subscription_id": SECOND_SUBSCRIPTION,
                "client_secret": secret,
                "cloud": fleet.cloud_json(),
                "selected_items": {"compliance_checks": compliance_checks},
            })),
        )
        .await
        .expect("create");
    assert_eq!(status, 201, "{created}");
    let id = Uuid::parse_str(created["connection"]["id"].as_str().expect("id")).expect("uuid");
    let scan = created["scan_id"]
        .as_str()
        .and_then(|s| Uuid::parse_str(s).ok());
    (id, scan)
}

async fn results(fleet: &Fleet, connection: Uuid) -> Vec<Value> {
    let (status, body) = fleet
        .call(
            reqwest::Method::GET,
            &format!("/v1/connections/{connection}/results"),
            None,
        )
        .await
        .expect("results");
    assert_eq!(status, 200, "{body}");
    body.as_array().cloned().unwrap_or_default()
}

async fn result_of(fleet: &Fleet, connection: Uuid, check: &str) -> Value {
    results(fleet, connection)
        .await
        .into_iter()
        .find(|r| r["check_id"] == check)
        .unwrap_or_else(|| panic!("no result for {check}"))
}

async fn create(fleet: &Fleet, body: Value) -> (u16, Value) {
    fleet
        .call(
            reqwest::Method::POST,
            "/v1/organizations/contoso/exceptions",
            Some(body),
        )
        .await
        .expect("create exception")
}

fn fields(body: &Value) -> Vec<String> {
    body["fields"]
        .as_array()
        .map(|f| {
            f.iter()
                .filter_map(|f| f["field"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

async fn audit_actions(fleet: &Fleet, query: &str) -> Vec<String> {
    let (status, body) = fleet
        .call(
            reqwest::Method::GET,
            &format!("/v1/organizations/contoso/audit/export?{query}"),
            None,
        )
        .await
        .expect("export");
    assert_eq!(status, 200, "{body}");
    body.as_array()
        .expect("entries")
        .iter()
        .map(|e| e["action"].as_str().unwrap_or_default().to_string())
        .collect()
}

async fn verify(fleet: &Fleet) -> Value {
    let (status, body) = fleet
        .call(
            reqwest::Method::GET,
            "/v1/organizations/contoso/audit/verify",
            None,
        )
        .await
        .expect("verify");
    assert_eq!(status, 200, "{body}");
    body
}

fn encode(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        .replace('+', "%2B")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_disabled_check_is_served_disabled_at_once_and_re_enabling_brings_it_back() {
    let (scenario, secret, demo) = two_subscriptions();
    let fleet = Fleet::start(scenario, FleetOptions::default())
        .await
        .expect("fleet");
    let (conn, scan) = fleet.create_demo_connection(&secret).await.expect("create");
    fleet
        .wait_for_scan(conn, scan.expect("scan"), Duration::from_secs(120))
        .await
        .expect("first scan");
    let check = "nsg.db_admin_ports_internet";
    assert_eq!(result_of(&fleet, conn, check).await["status"], "failed");

    let (status, exception) = create(
        &fleet,
        json!({
            "connection_id": conn,
            "check_id": check,
            "category": "compensating_control",
            "justification": "Admin ports are only reachable through the bastion's just-in-time rules",
            "acting_person": "ana.lima@contoso.example",
            "ticket": "CHG-1042",
        }),
    )
    .await;
    assert_eq!(status, 201, "{exception}");
    assert_eq!(
        exception["created_by"]["person"],
        "ana.lima@contoso.example"
    );
    assert_eq!(exception["created_by"]["token"], "operator:configured");
    let id = exception["id"].as_str().expect("id").to_string();

    // At once: Disabled, with the justification and what the scan found underneath.
    let served = result_of(&fleet, conn, check).await;
    assert_eq!(served["status"], "disabled", "{served}");
    assert_eq!(served["scanned_status"], "failed");
    assert_eq!(served["exception"]["category"], "compensating_control");
    assert_eq!(served["exception"]["would_be"], "Failed, 3 resources");
    assert!(
        served["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("bastion"),
        "{served}"
    );
    // Nothing is hidden: the failing findings are still there.
    let failing = served["findings"]
        .as_array()
        .map(|f| f.iter().filter(|f| f["status"] == "failed").count());
    assert_eq!(failing, Some(3), "{served}");

    // The connection's counts per result count it as Disabled too.
    let (_, view) = fleet
        .call(
            reqwest::Method::GET,
            &format!("/v1/connections/{conn}"),
            None,
        )
        .await
        .expect("show");
    assert_eq!(view["status"]["counts"]["disabled"], 1, "{view}");

    // The next scan keeps it Disabled.
    let rescan = fleet.rescan(conn, Some(&["nsg"])).await.expect("rescan");
    fleet
        .wait_for_scan(conn, rescan, Duration::from_secs(120))
        .await
        .expect("rescan");
    let served = result_of(&fleet, conn, check).await;
    assert_eq!(served["status"], "disabled");
    assert_eq!(served["scan_id"], json!(rescan));

    // Re-enabled: Failed again at once.
    let (status, ended) = fleet
        .call(
            reqwest::Method::POST,
            &format!("/v1/organizations/contoso/exceptions/{id}/reenable"),
            Some(json!({"acting_person": "ana.lima@contoso.example"})),
        )
        .await
        .expect("reenable");
    assert_eq!(status, 200, "{ended}");
    assert_eq!(ended["end_reason"], "reenabled");
    let served = result_of(&fleet, conn, check).await;
    assert_eq!(served["status"], "failed");
    assert!(served.get("exception").is_none());

    // Both are entries in the check's history, newest first.
    let (_, history) = fleet
        .call(
            reqwest::Method::GET,
            &format!("/v1/connections/{conn}/checks/{check}/history"),
            None,
        )
        .await
        .expect("history");
    let events: Vec<(String, String)> = history
        .as_array()
        .expect("history")
        .iter()
        .filter(|h| !h["exception"].is_null())
        .map(|h| {
            (
                h["exception"]["event"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                h["status"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(
        events,
        vec![
            ("enabled".to_string(), "failed".to_string()),
            ("disabled".to_string(), "disabled".to_string())
        ]
    );

    // Bad input: a 422 naming the field, nothing stored.
    let long = "x".repeat(2001);
    let past = encode(chrono::Utc::now() - chrono::Duration::hours(1)).replace("%2B", "+");
    for (body, field) in [
        (
            json!({"check_id": "storage.nope", "category": "operational", "justification": "j", "acting_person": "p"}),
            "check_id",
        ),
        (
            json!({"check_id": check, "category": "because", "justification": "j", "acting_person": "p"}),
            "category",
        ),
        (
            json!({"check_id": check, "category": "operational", "justification": "  ", "acting_person": "p"}),
            "justification",
        ),
        (
            json!({"check_id": check, "category": "operational", "justification": long, "acting_person": "p"}),
            "justification",
        ),
        (
            json!({"check_id": check, "category": "operational", "justification": "j", "acting_person": "p", "expires_at": past}),
            "expires_at",
        ),
        (
            json!({"check_id": check, "category": "operational", "justification": "j", "acting_person": "p", "resources": ["nsg-open"]}),
            "resources[0]",
        ),
        (
            json!({"check_id": check, "category": "operational", "justification": "j", "acting_person": ""}),
            "acting_person",
        ),
    ] {
        let (status, body) = create(&fleet, body).await;
        assert_eq!(status, 422, "{field}: {body}");
        assert_eq!(fields(&body), vec![field.to_string()], "{body}");
    }
    // A check of a service the connection does not have (this one runs no compliance checks).
    let (other, _) = second_connection(&fleet, &demo, &secret, false).await;
    let (status, body) = create(
        &fleet,
        json!({"connection_id": other, "check_id": check, "category": "operational", "justification": "j", "acting_person": "p"}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(fields(&body), vec!["check_id"]);
    let (_, all) = fleet
        .call(
            reqwest::Method::GET,
            "/v1/organizations/contoso/exceptions?state=all",
            None,
        )
        .await
        .expect("list");
    assert_eq!(all.as_array().map(Vec::len), Some(1), "{all}");

    // Another organization's connection answers 404, as everywhere.
    let (_, token) = fleet
        .call(
            reqwest::Method::POST,
            "/v1/organizations/globex/tokens",
            Some(json!({"name": "globex-portal"})),
        )
        .await
        .expect("token");
    let globex = token["token"].as_str().expect("token").to_string();
    let http = reqwest::Client::new();
    for (method, path, body) in [
        (
            reqwest::Method::POST,
            "/v1/organizations/globex/exceptions".to_string(),
            Some(
                json!({"connection_id": conn, "check_id": check, "category": "operational", "justification": "j", "acting_person": "p"}),
            ),
        ),
        (
            reqwest::Method::GET,
            "/v1/organizations/contoso/exceptions".to_string(),
            None,
        ),
        (
            reqwest::Method::GET,
            format!("/v1/organizations/contoso/exceptions/{id}"),
            None,
        ),
        (
            reqwest::Method::GET,
            "/v1/organizations/contoso/audit/verify".to_string(),
            None,
        ),
    ] {
        let mut request = http
            .request(method, fleet.api_url(&path))
            .bearer_auth(&globex);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let status = request.send().await.expect("call").status().as_u16();
        assert_eq!(status, 404, "{path}");
    }

    // A deleted connection's exceptions stay in the audit trail.
    let (status, _) = fleet
        .call(
            reqwest::Method::DELETE,
            &format!("/v1/connections/{conn}"),
            None,
        )
        .await
        .expect("delete");
    assert_eq!(status, 204);
    let actions = audit_actions(&fleet, "action=exception.").await;
    assert_eq!(actions, vec!["exception.created", "exception.reenabled"]);
    assert_eq!(verify(&fleet).await["valid"], true);
    fleet.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn organization_wide_exceptions_exemptions_expiry_and_a_tamper_evident_trail() {
    let (scenario, secret, demo) = two_subscriptions();
    let clock = Clock::adjustable();
    let fleet = Fleet::start(
        scenario,
        FleetOptions {
            clock: clock.clone(),
            ..FleetOptions::default()
        },
    )
    .await
    .expect("fleet");
    let (first, scan) = fleet.create_demo_connection(&secret).await.expect("create");
    fleet
        .wait_for_scan(first, scan.expect("scan"), Duration::from_secs(120))
        .await
        .expect("first scan");
    let (second, scan) = second_connection(&fleet, &demo, &secret, true).await;
    fleet
        .wait_for_scan(second, scan.expect("scan"), Duration::from_secs(120))
        .await
        .expect("second scan");
    let period_start = clock.now();

    // Organization-wide: both connections.
    let (status, org_wide) = create(
        &fleet,
        json!({
            "check_id": "storage.min_tls_12",
            "category": "business_justification",
            "justification": "Legacy log shippers speak TLS 1.0 until their replacement in Q3",
            "acting_person": "ciso@contoso.example",
        }),
    )
    .await;
    assert_eq!(status, 201, "{org_wide}");
    for conn in [first, second] {
        let served = result_of(&fleet, conn, "storage.min_tls_12").await;
        assert_eq!(served["status"], "disabled", "{served}");
        assert_eq!(served["exception"]["scope"], "organization");
    }

    // A resource exemption: the check's one failing resource -> a pass with one exemption.
    let check = "nsg.all_ports_internet";
    let failing = result_of(&fleet, first, check).await;
    assert_eq!(failing["status"], "failed");
    let resource = failing["findings"]
        .as_array()
        .and_then(|f| f.iter().find(|f| f["status"] == "failed"))
        .and_then(|f| f["resource_id"].as_str())
        .expect("failing resource")
        .to_string();
    let (status, exemption) = create(
        &fleet,
        json!({
            "connection_id": first,
            "check_id": check,
            "resources": [resource],
            "category": "risk_accepted",
            "justification": "Honeypot NSG, open on purpose",
            "acting_person": "soc@contoso.example",
        }),
    )
    .await;
    assert_eq!(status, 201, "{exemption}");
    let served = result_of(&fleet, first, check).await;
    assert_eq!(served["status"], "passed", "{served}");
    assert_eq!(served["finding_counts"]["exempted"], 1);
    assert_eq!(served["finding_counts"]["failed"], 0);
    assert_eq!(
        served["exempted_findings"][0]["resource_id"],
        json!(resource)
    );
    assert_eq!(served["exempted_findings"][0]["status"], "failed");
    assert_eq!(result_of(&fleet, second, check).await["status"], "failed");

    // An expiry: in force, then the (injected) clock passes it and the check is back.
    let expiring = "storage.key_rotation";
    let (status, temporary) = create(
        &fleet,
        json!({
            "connection_id": first,
            "check_id": expiring,
            "category": "operational",
            "justification": "Key rotation automation is being migrated",
            "acting_person": "ops@contoso.example",
            "expires_at": clock.now() + chrono::Duration::hours(1),
        }),
    )
    .await;
    assert_eq!(status, 201, "{temporary}");
    assert_eq!(
        result_of(&fleet, first, expiring).await["status"],
        "disabled"
    );
    let (_, expiring_soon) = fleet
        .call(
            reqwest::Method::GET,
            &format!(
                "/v1/organizations/contoso/exceptions?expiring_before={}",
                encode(clock.now() + chrono::Duration::hours(2))
            ),
            None,
        )
        .await
        .expect("list");
    assert_eq!(
        expiring_soon.as_array().map(Vec::len),
        Some(1),
        "{expiring_soon}"
    );
    clock.advance(chrono::Duration::hours(2));
    assert_eq!(result_of(&fleet, first, expiring).await["status"], "failed");
    let period_end = clock.now() + chrono::Duration::seconds(1);

    // The export for the period lists exactly those events.
    let query = format!(
        "from={}&to={}&action=exception.",
        encode(period_start),
        encode(period_end)
    );
    let actions = audit_actions(&fleet, &query).await;
    assert_eq!(
        actions,
        vec![
            "exception.created",
            "exception.created",
            "exception.created",
            "exception.expired"
        ]
    );
    let (status, csv) = fleet
        .call(
            reqwest::Method::GET,
            &format!("/v1/organizations/contoso/audit/export?{query}&format=csv"),
            None,
        )
        .await
        .expect("csv");
    assert_eq!(status, 200);
    let csv = csv.as_str().expect("csv text").to_string();
    assert_eq!(csv.lines().count(), 5, "{csv}");
    assert!(csv.contains("ciso@contoso.example") && csv.contains("exception.expired"));
    // "Every disabled check in force on a date, with its justification and who approved it."
    let (_, in_force) = fleet
        .call(
            reqwest::Method::GET,
            &format!(
                "/v1/organizations/contoso/exceptions?in_force_on={}",
                period_start.format("%Y-%m-%d")
            ),
            None,
        )
        .await
        .expect("in force");
    assert_eq!(in_force.as_array().map(Vec::len), Some(3), "{in_force}");

    // The chain is whole; an edit or a removal made directly in Redis is found.
    assert_eq!(verify(&fleet).await["valid"], true);
    let key = fleet.store.keys().audit("contoso");
    let mut redis = fleet.store.redis();
    let entries: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
        .arg(&key)
        .arg("-")
        .arg("+")
        .query_async(&mut redis)
        .await
        .expect("xrange");
    let rewrite = |edit: bool| {
        let mut pipe = redis::pipe();
        pipe.atomic().del(&key);
        for (id, fields) in &entries {
            let mut cmd = redis::cmd("XADD");
            cmd.arg(&key).arg(id);
            for (name, value) in fields {
                let value = if edit && name == "event" && value.contains("Honeypot") {
                    value.replace("Honeypot NSG", "Approved NSG")
                } else {
                    value.clone()
                };
                cmd.arg(name).arg(value);
            }
            pipe.add_command(cmd);
        }
        pipe
    };
    let _: () = rewrite(true).query_async(&mut redis).await.expect("edit");
    let verdict = verify(&fleet).await;
    assert_eq!(verdict["valid"], false, "{verdict}");
    assert!(
        verdict["problems"].to_string().contains("edited"),
        "{verdict}"
    );
    let _: () = rewrite(false)
        .query_async(&mut redis)
        .await
        .expect("restore");
    assert_eq!(verify(&fleet).await["valid"], true);
    let removed = &entries[entries.len() / 2].0;
    let _: i64 = redis::cmd("XDEL")
        .arg(&key)
        .arg(removed)
        .query_async(&mut redis)
        .await
        .expect("xdel");
    let verdict = verify(&fleet).await;
    assert_eq!(verdict["valid"], false, "{verdict}");

    // The sweep would have expired it too; exactly one expired entry either way.
    wait_until("the sweep to settle", Duration::from_secs(120), || async {
        audit_actions(&fleet, "action=exception.expired")
            .await
            .len()
            == 1
    })
    .await;
    fleet.shutdown().await.expect("shutdown");
}
