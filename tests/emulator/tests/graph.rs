//! Microsoft Graph v1.0 as the emulator serves it: tokens for Graph's audience carry the
//! application's permissions in `roles`; objects and paged collections from the tenant's
//! scenario data; Graph's own 401, 403, 404 and 429 bodies and headers.

mod common;

use base64::Engine;
use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";

fn scenario() -> azure_emulator::Scenario {
    unit_scenario_with(|json| {
        let tenant = &mut json["tenants"][0];
        tenant["applications"][0]["graph_permissions"] =
            json!(["Policy.Read.All", "User.Read.All"]);
        let users: Vec<Value> = (0..5)
            .map(|i| json!({"id": format!("user-{i}"), "accountEnabled": true}))
            .collect();
        tenant["graph"] = json!({
            "page_size": 2,
            "objects": {
                "/policies/identitySecurityDefaultsEnforcementPolicy": {
                    "id": "00000000-0000-0000-0000-000000000005",
                    "displayName": "Security Defaults",
                    "isEnabled": true
                }
            },
            "collections": {
                "/users": users,
                "/directoryRoles(roleTemplateId='62e90394-69f5-4237-9190-012177145e10')/members": [
                    {"@odata.type": "#microsoft.graph.user", "id": "user-0"}
                ]
            }
        });
    })
}

fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("payload");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("claims")
}

async fn graph_token(env: &Env) -> String {
    env.token_for(TENANT, READER_CLIENT, READER_SECRET, GRAPH_SCOPE)
        .await
}

/// Asserts a Graph error and returns its body.
async fn graph_error(response: reqwest::Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(response.status(), status, "status of {}", response.url());
    assert!(response.headers().contains_key("request-id"));
    let body: Value = response.json().await.expect("Graph error JSON");
    assert_eq!(body["error"]["code"], code, "{body}");
    let inner = &body["error"]["innerError"];
    for key in ["date", "request-id", "client-request-id"] {
        assert!(inner[key].is_string(), "{key} in {body}");
    }
    body
}

#[tokio::test(flavor = "multi_thread")]
async fn graph_tokens_carry_the_application_permissions() {
    let env = Env::start_with(scenario()).await;
    let token = graph_token(&env).await;
    let graph = claims(&token);
    assert_eq!(graph["aud"], "https://graph.microsoft.com");
    assert_eq!(graph["roles"], json!(["Policy.Read.All", "User.Read.All"]));
    // The emulator's own base URL is a custom cloud's Graph audience.
    let own = env
        .token_for(
            TENANT,
            READER_CLIENT,
            READER_SECRET,
            &format!("{}/.default", env.emulator.base_url()),
        )
        .await;
    assert_eq!(claims(&own)["roles"], graph["roles"]);
    // ARM tokens have no roles: ARM authorizes by RBAC.
    assert!(claims(&env.reader_token().await).get("roles").is_none());
    // An application without Graph permissions gets a token without `roles`.
    let none = env
        .token_for(TENANT, NETWORK_CLIENT, NETWORK_SECRET, GRAPH_SCOPE)
        .await;
    assert!(claims(&none).get("roles").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn objects_and_pages_in_graph_shapes() {
    let env = Env::start_with(scenario()).await;
    let token = graph_token(&env).await;
    let response = env
        .arm_get(
            Some(&token),
            "/v1.0/policies/identitySecurityDefaultsEnforcementPolicy",
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()["content-type"].to_str().expect("ascii");
    assert!(content_type.starts_with("application/json;odata.metadata=minimal"));
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["isEnabled"], true);
    assert!(
        body["@odata.context"].as_str().is_some_and(|c| c.ends_with(
            "/v1.0/$metadata#policies/identitySecurityDefaultsEnforcementPolicy/$entity"
        )),
        "{body}"
    );

    // Pages of two, absolute links that keep the query, until there is no link.
    let mut url = env.url("/v1.0/users?$select=id,accountEnabled");
    let mut ids = Vec::new();
    let mut pages = 0;
    loop {
        let page: Value = env
            .get_url(Some(&token), &url)
            .await
            .json()
            .await
            .expect("page");
        pages += 1;
        for user in page["value"].as_array().expect("value") {
            ids.push(user["id"].as_str().expect("id").to_owned());
        }
        match page["@odata.nextLink"].as_str() {
            Some(next) => {
                assert!(
                    next.starts_with(&env.url("/v1.0/users?$select=id,accountEnabled&$skiptoken=")),
                    "{next}"
                );
                url = next.to_owned();
            }
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(ids, ["user-0", "user-1", "user-2", "user-3", "user-4"]);
    // `$top` overrides the page size.
    let all: Value = env
        .arm_get(Some(&token), "/v1.0/users?$top=10")
        .await
        .json()
        .await
        .expect("page");
    assert_eq!(all["value"].as_array().map(Vec::len), Some(5));
    assert!(all.get("@odata.nextLink").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn graph_refusals_have_graph_bodies() {
    let env = Env::start_with(scenario()).await;
    let token = graph_token(&env).await;

    // No permission for directory roles (needs RoleManagement.Read.Directory or
    // Directory.Read.All).
    let members =
        "/v1.0/directoryRoles(roleTemplateId='62e90394-69f5-4237-9190-012177145e10')/members";
    let body = graph_error(
        env.arm_get(Some(&token), members).await,
        StatusCode::FORBIDDEN,
        "Authorization_RequestDenied",
    )
    .await;
    assert_eq!(
        body["error"]["message"],
        "Insufficient privileges to complete the operation."
    );

    // Not in the directory.
    graph_error(
        env.arm_get(Some(&token), "/v1.0/policies/authorizationPolicy")
            .await,
        StatusCode::NOT_FOUND,
        "Request_ResourceNotFound",
    )
    .await;

    // Tokens: none, for ARM, expired.
    let arm = env.reader_token().await;
    let cases = [
        (None, false, "Access token is empty."),
        (Some(arm.as_str()), false, "Invalid audience"),
        (Some(token.as_str()), true, "the token is expired"),
    ];
    for (token, expire_first, message) in cases {
        if expire_first {
            env.emulator.expire_tokens();
        }
        let body = graph_error(
            env.arm_get(token, "/v1.0/users").await,
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
        )
        .await;
        let text = body["error"]["message"].as_str().unwrap_or_default();
        assert!(text.contains(message), "{message}: {body}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn graph_throttling_says_when_to_come_back() {
    let env = Env::start_with(scenario()).await;
    let token = graph_token(&env).await;
    env.emulator
        .add_fault(
            azure_emulator::Fault::status("/v1.0/users", 429)
                .times(1)
                .with_retry_after(7),
        )
        .expect("fault");
    let response = env.arm_get(Some(&token), "/v1.0/users").await;
    assert_eq!(response.headers()["retry-after"], "7");
    let body = graph_error(response, StatusCode::TOO_MANY_REQUESTS, "TooManyRequests").await;
    assert_eq!(body["error"]["innerError"]["status"], "429");
    assert_eq!(env.emulator.counters().throttled_principal(READER_OID), 1);
    // The next request passes.
    assert_eq!(
        env.arm_get(Some(&token), "/v1.0/users").await.status(),
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn graph_throttles_each_application_by_its_bucket() {
    let env = Env::start_with(unit_scenario_with(|json| {
        let tenant = &mut json["tenants"][0];
        tenant["applications"][0]["graph_permissions"] = json!(["User.Read.All"]);
        tenant["graph"] = json!({
            "collections": {"/users": []},
            "throttling": {"limit": 2, "per_seconds": 20}
        });
    }))
    .await;
    let token = graph_token(&env).await;
    for _ in 0..2 {
        assert_eq!(
            env.arm_get(Some(&token), "/v1.0/users").await.status(),
            StatusCode::OK
        );
    }
    let refused = env.arm_get(Some(&token), "/v1.0/users").await;
    let wait: u64 = refused.headers()["retry-after"]
        .to_str()
        .ok()
        .and_then(|s| s.parse().ok())
        .expect("Retry-After in seconds");
    assert!((1..=10).contains(&wait), "{wait}");
    graph_error(refused, StatusCode::TOO_MANY_REQUESTS, "TooManyRequests").await;
    assert_eq!(env.emulator.counters().throttled_principal(READER_OID), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_directory_is_served_to_the_demo_application() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/demo.json");
    let demo = azure_emulator::fragments::load_with_fragments(std::path::Path::new(path))
        .expect("demo scenario with its fragments");
    let tenant = &demo["tenants"][0];
    let app = &tenant["applications"][0];
    assert!(app["graph_permissions"].is_array(), "{app}");
    let scenario = azure_emulator::Scenario::from_file(path).expect("demo loads");
    let env = Env::start_with(scenario).await;
    let token = env
        .token_for(
            tenant["id"].as_str().expect("tenant"),
            app["client_id"].as_str().expect("client"),
            app["secrets"][0]["value"].as_str().expect("secret"),
            GRAPH_SCOPE,
        )
        .await;
    let graph = &tenant["graph"];
    let objects = graph["objects"].as_object().expect("objects");
    let collections = graph["collections"].as_object().expect("collections");
    for (path, expected) in objects.iter().chain(collections.iter()) {
        let response = env.arm_get(Some(&token), &format!("/v1.0{path}")).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let body: Value = response.json().await.expect("JSON");
        match expected.as_array() {
            Some(items) => assert_eq!(
                body["value"].as_array().map(Vec::len),
                Some(items.len()),
                "{path}"
            ),
            None => assert_eq!(body["id"], expected["id"], "{path}"),
        }
    }
}
