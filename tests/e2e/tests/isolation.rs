//! Organizations never see each other: with organization B's token, every route that names
//! organization A's connection (or A itself) answers exactly what it answers for something that
//! does not exist. Tokens are stored hashed, never in clear.

use std::time::Duration;

use e2e::{Fleet, FleetOptions, demo_with_unique_secret, dump_keys};
use serde_json::{Value, json};
use uuid::Uuid;

async fn call(
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
    let response = request.send().await.expect("call");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn another_organizations_data_answers_404_like_a_missing_one_on_every_route() {
    let (scenario, secret) = demo_with_unique_secret();
    let fleet = Fleet::start(scenario, FleetOptions::default())
        .await
        .expect("fleet");
    let operator = fleet.operator_token.clone();
    let token_for = |org: &'static str| {
        let fleet = &fleet;
        let operator = operator.clone();
        async move {
            let (code, created) = call(
                fleet,
                &operator,
                reqwest::Method::POST,
                &format!("/v1/organizations/{org}/tokens"),
                Some(json!({"name": format!("{org}-ci")})),
            )
            .await;
            assert_eq!(code, 201, "{created}");
            created["token"].as_str().expect("token").to_string()
        }
    };
    let token_a = token_for("contoso").await;
    let token_b = token_for("globex").await;

    // A creates its connection with its own token (organization implied) and it gets scanned.
    let demo = e2e::demo_scenario_json();
    let form = json!({
        "name": "A's subscription", "tenant_id": demo["subscriptions"][0]["tenant_id"],
        "client_id": demo["tenants"][0]["applications"][0]["client_id"],
        "subscription_id": demo["subscriptions"][0]["id"], "client_secret": secret,
        "regions": ["eastus"], "cloud": fleet.cloud_json(),
    });
    let (code, saved) = call(
        &fleet,
        &token_a,
        reqwest::Method::POST,
        "/v1/connections",
        Some(form.clone()),
    )
    .await;
    assert_eq!(code, 201, "{saved}");
    assert_eq!(saved["connection"]["organization_id"], "contoso");
    let a = Uuid::parse_str(saved["connection"]["id"].as_str().expect("id")).expect("uuid");
    let scan = Uuid::parse_str(saved["scan_id"].as_str().expect("scan")).expect("uuid");
    fleet
        .wait_for_scan(a, scan, Duration::from_secs(120))
        .await
        .expect("scan");
    let missing = Uuid::new_v4();

    let routes = |id: Uuid| -> Vec<(reqwest::Method, String, Option<Value>)> {
        vec![
            (reqwest::Method::GET, format!("/v1/connections/{id}"), None),
            (
                reqwest::Method::PATCH,
                format!("/v1/connections/{id}"),
                Some(json!({"name": "mine now"})),
            ),
            (
                reqwest::Method::POST,
                format!("/v1/connections/{id}/validate"),
                None,
            ),
            (
                reqwest::Method::GET,
                format!("/v1/connections/{id}/results"),
                None,
            ),
            (
                reqwest::Method::GET,
                format!("/v1/connections/{id}/checks/storage.min_tls_12/history"),
                None,
            ),
            (
                reqwest::Method::POST,
                format!("/v1/connections/{id}/rescan"),
                None,
            ),
            (
                reqwest::Method::GET,
                format!("/v1/connections/{id}/scans/{scan}"),
                None,
            ),
            (
                reqwest::Method::GET,
                format!("/v1/connections/{id}/next-scan"),
                None,
            ),
            (
                reqwest::Method::DELETE,
                format!("/v1/connections/{id}"),
                None,
            ),
        ]
    };
    for ((method, path, body), (_, missing_path, _)) in routes(a).into_iter().zip(routes(missing)) {
        let (code, other) = call(&fleet, &token_b, method.clone(), &path, body.clone()).await;
        let (missing_code, absent) =
            call(&fleet, &token_b, method.clone(), &missing_path, body).await;
        assert_eq!(
            (code, &other),
            (404, &absent),
            "{method} {path}: B must not learn A's connection exists"
        );
        assert_eq!(missing_code, 404);
    }
    // Organization-level routes.
    for (method, path, body) in [
        (
            reqwest::Method::GET,
            "/v1/connections?organization_id=contoso".to_string(),
            None,
        ),
        (
            reqwest::Method::GET,
            "/v1/organizations/contoso/audit".to_string(),
            None,
        ),
        (
            reqwest::Method::GET,
            "/v1/organizations/contoso/tokens".to_string(),
            None,
        ),
        (
            reqwest::Method::POST,
            "/v1/organizations/contoso/tokens".to_string(),
            Some(json!({"name": "x"})),
        ),
        (
            reqwest::Method::GET,
            "/v1/organizations/globex/tokens".to_string(),
            None,
        ),
    ] {
        let (code, body) = call(&fleet, &token_b, method.clone(), &path, body).await;
        assert_eq!(code, 404, "{method} {path}: {body}");
    }
    // B cannot put a connection into A's organization.
    let mut into_a = form.clone();
    into_a["organization_id"] = json!("contoso");
    let (code, _) = call(
        &fleet,
        &token_b,
        reqwest::Method::POST,
        "/v1/connections",
        Some(into_a),
    )
    .await;
    assert_eq!(code, 422);
    // B's own views show nothing of A.
    let (code, list) = call(
        &fleet,
        &token_b,
        reqwest::Method::GET,
        "/v1/connections",
        None,
    )
    .await;
    assert_eq!((code, list), (200, json!([])));
    let (code, trail) = call(
        &fleet,
        &token_b,
        reqwest::Method::GET,
        "/v1/organizations/globex/audit",
        None,
    )
    .await;
    assert_eq!(code, 200);
    assert!(!trail.to_string().contains(&a.to_string()));

    // A still has everything, untouched by B's attempts.
    let (code, mine) = call(
        &fleet,
        &token_a,
        reqwest::Method::GET,
        &format!("/v1/connections/{a}"),
        None,
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(mine["name"], "A's subscription");
    let (code, list) = call(
        &fleet,
        &token_a,
        reqwest::Method::GET,
        "/v1/connections",
        None,
    )
    .await;
    assert_eq!((code, list.as_array().map(Vec::len)), (200, Some(1)));

    // No token and a wrong token are refused; tokens are stored only as digests.
    let (code, _) = call(
        &fleet,
        "fst_not-a-token",
        reqwest::Method::GET,
        "/v1/checks",
        None,
    )
    .await;
    assert_eq!(code, 401);
    let (code, _) = call(&fleet, &token_a, reqwest::Method::GET, "/v1/checks", None).await;
    assert_eq!(code, 200);
    for (key, value) in dump_keys(&fleet.store, &fleet.prefix).await.expect("dump") {
        for token in [&token_a, &token_b, &operator] {
            assert!(
                !value.contains(token.as_str()) && !key.contains(token.as_str()),
                "a token in clear at {key}"
            );
        }
    }
    let logs = e2e::captured_logs();
    for token in [&token_a, &token_b, &operator] {
        assert!(!logs.contains(token.as_str()), "a token in the logs");
    }
    // Revoked tokens stop working.
    let (_, tokens) = call(
        &fleet,
        &operator,
        reqwest::Method::GET,
        "/v1/organizations/globex/tokens",
        None,
    )
    .await;
    let id = tokens[0]["id"].as_str().expect("token id");
    let (code, _) = call(
        &fleet,
        &operator,
        reqwest::Method::DELETE,
        &format!("/v1/organizations/globex/tokens/{id}"),
        None,
    )
    .await;
    assert_eq!(code, 204);
    let (code, _) = call(
        &fleet,
        &token_b,
        reqwest::Method::GET,
        "/v1/connections",
        None,
    )
    .await;
    assert_eq!(code, 401);
    fleet.shutdown().await.expect("cleanup");
}
