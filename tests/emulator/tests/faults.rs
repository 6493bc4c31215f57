//! Injected faults and latency: from the scenario, through the handle and the admin endpoints,
//! on ARM and on the token endpoint, with the services' own error bodies.

mod common;

use std::time::{Duration, Instant};

use azure_emulator::Fault;
use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

const TOKEN_PATH: &str = "/oauth2/v2.0/token";

fn token_form() -> Vec<(&'static str, &'static str)> {
    vec![
        ("grant_type", "client_credentials"),
        ("client_id", READER_CLIENT),
        ("client_secret", READER_SECRET),
        ("scope", ARM_SCOPE),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn scenario_faults_answer_before_authentication_then_run_out() {
    let env = Env::start_with(unit_scenario_with(|scenario| {
        scenario["faults"] =
            json!([{ "path_contains": "/STORAGEACCOUNTS", "status": 503, "times": 2 }]);
    }))
    .await;
    let path = storage_list_path(SUB);
    // No token at all: the gateway fails before ARM would ask for one.
    let response = env.arm_get(None, &path).await;
    assert_eq!(response.headers()["x-ms-failure-cause"], "gateway");
    let message = assert_arm_error(
        response,
        StatusCode::SERVICE_UNAVAILABLE,
        "ServiceUnavailable",
    )
    .await;
    assert_eq!(
        message,
        "The service is currently unavailable. Please try again later."
    );
    let token = env.reader_token().await;
    let response = env.arm_get(Some(&token), &path).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        response
            .headers()
            .get("x-ms-ratelimit-remaining-subscription-reads")
            .is_none()
    );
    // Used up.
    let response = env.arm_get(Some(&token), &path).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["x-ms-ratelimit-remaining-subscription-reads"],
        "249"
    );
    let counters = env.emulator.counters();
    assert_eq!(counters.faults_injected, 2);
    // Faulted requests never reached authentication.
    assert_eq!(counters.principal(READER_OID), 1);
    assert!(env.emulator.faults().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn gateway_errors_have_codes_that_fit_their_status() {
    let env = Env::start().await;
    let token = env.reader_token().await;
    let cases = [
        (500, "InternalServerError"),
        (502, "BadGateway"),
        (503, "ServiceUnavailable"),
        (504, "GatewayTimeout"),
        (429, "TooManyRequests"),
    ];
    for (status, code) in cases {
        env.emulator
            .add_fault(Fault::status("/providers/Microsoft.Storage/", status).times(1))
            .expect("valid fault");
        let response = env.arm_get(Some(&token), &storage_list_path(SUB)).await;
        let status = StatusCode::from_u16(status).expect("status");
        let message = assert_arm_error(response, status, code).await;
        if code == "GatewayTimeout" {
            assert_eq!(
                message,
                "The gateway did not receive a response from 'Microsoft.Storage' within the specified time period."
            );
        }
    }
    let counters = env.emulator.counters();
    assert_eq!(counters.faults_injected, 5);
    // An injected 429 counts as throttled, for the principal whose token it carried.
    assert_eq!(counters.throttled, 1);
    assert_eq!(counters.throttled_principal(READER_OID), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_admin_endpoints_add_list_and_clear_faults() {
    let env = Env::start().await;
    let token = env.reader_token().await;
    let body = json!({"error": {"code": "Custom", "message": "slow down"}});
    let fault = json!({
        "path_contains": "/subscriptions/",
        "status": 429,
        "body": body,
        "retry_after": 7,
    });
    let added = env
        .http
        .post(env.url("/_emulator/faults"))
        .json(&fault)
        .send()
        .await
        .expect("answered");
    assert_eq!(added.status(), StatusCode::NO_CONTENT);
    let listed: Value = env
        .http
        .get(env.url("/_emulator/faults"))
        .send()
        .await
        .expect("answered")
        .json()
        .await
        .expect("json");
    assert_eq!(listed[0]["path_contains"], "/subscriptions/");
    assert_eq!(listed[0]["times"], Value::Null);

    for _ in 0..2 {
        let response = env.arm_get(Some(&token), &storage_list_path(SUB)).await;
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()["retry-after"], "7");
        assert_eq!(response.json::<Value>().await.expect("json"), body);
    }

    let invalid = env
        .http
        .post(env.url("/_emulator/faults"))
        .json(&json!({"path_contains": "/x", "status": 1000}))
        .send()
        .await
        .expect("answered");
    assert_eq!(invalid.status(), StatusCode::BAD_REQUEST);
    let error: Value = invalid.json().await.expect("json");
    assert!(
        error["error"].as_str().is_some_and(|e| e.contains("1000")),
        "{error}"
    );

    let cleared = env
        .http
        .delete(env.url("/_emulator/faults"))
        .send()
        .await
        .expect("answered");
    assert_eq!(cleared.status(), StatusCode::NO_CONTENT);
    let response = env.arm_get(Some(&token), &storage_list_path(SUB)).await;
    assert_eq!(response.status(), StatusCode::OK);
    // Admin calls are not counted; the two faulted ARM calls are.
    assert_eq!(env.emulator.counters().faults_injected, 2);
    assert_eq!(env.emulator.counters().throttled, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_token_endpoint_fails_like_entra() {
    let env = Env::start().await;
    env.emulator
        .add_fault(Fault::status(TOKEN_PATH, 503).times(1).with_retry_after(2))
        .expect("valid fault");
    env.emulator
        .add_fault(Fault::status(TOKEN_PATH, 500).times(1))
        .expect("valid fault");

    let response = env.request_token(TENANT, &token_form()).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "2");
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"], "temporarily_unavailable");
    assert_eq!(body["error_codes"], json!([90033]));
    let description = body["error_description"].as_str().expect("description");
    assert!(
        description.starts_with(
            "AADSTS90033: A transient error has occurred. Please try again.\r\nTrace ID: "
        ),
        "{description}"
    );
    for field in ["trace_id", "correlation_id", "timestamp", "error_uri"] {
        assert!(body[field].is_string(), "{field} in {body}");
    }

    let response = env.request_token(TENANT, &token_form()).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"], "server_error");
    assert_eq!(body["error_codes"], json!([50000]));

    // Both used up: a token is issued. The faulted requests were still counted as sent.
    env.reader_token().await;
    let counters = env.emulator.counters();
    assert_eq!(counters.token_requests(READER_CLIENT), 3);
    assert_eq!(counters.faults_injected, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn latency_from_faults_and_at_runtime() {
    let env = Env::start().await;
    let token = env.reader_token().await;
    let path = storage_list_path(SUB);

    env.emulator
        .add_fault(Fault::latency("/storageAccounts", Duration::from_millis(300)).times(1))
        .expect("valid fault");
    let started = Instant::now();
    let response = env.arm_get(Some(&token), &path).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(env.emulator.counters().faults_injected, 1);

    env.emulator.set_latency(Duration::from_millis(2000));
    let started = Instant::now();
    assert_eq!(
        env.arm_get(Some(&token), &path).await.status(),
        StatusCode::OK
    );
    assert!(started.elapsed() >= Duration::from_millis(2000));

    let reset = env
        .http
        .put(env.url("/_emulator/latency"))
        .json(&json!({ "arm_latency_ms": 0 }))
        .send()
        .await
        .expect("answered");
    assert_eq!(reset.status(), StatusCode::NO_CONTENT);
    let started = Instant::now();
    assert_eq!(
        env.arm_get(Some(&token), &path).await.status(),
        StatusCode::OK
    );
    assert!(started.elapsed() < Duration::from_millis(2000));
    // The token endpoint is not slowed by the ARM latency.
    env.emulator.set_latency(Duration::from_secs(30));
    let started = Instant::now();
    env.reader_token().await;
    assert!(started.elapsed() < Duration::from_secs(15));
}

#[tokio::test(flavor = "multi_thread")]
async fn faults_cost_no_throttling_tokens() {
    let env = Env::start_with(unit_scenario_with(|scenario| {
        scenario["throttling"] = json!({ "bucket": 1, "refill_per_second": 0.001 });
    }))
    .await;
    let token = env.reader_token().await;
    env.emulator
        .add_fault(Fault::status("/storageAccounts", 502).times(3))
        .expect("valid fault");
    for _ in 0..3 {
        let response = env.arm_get(Some(&token), &storage_list_path(SUB)).await;
        assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    }
    let response = env.arm_get(Some(&token), &storage_list_path(SUB)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["x-ms-ratelimit-remaining-subscription-reads"],
        "0"
    );
    assert!(
        env.emulator
            .add_fault(Fault::status("/x", 503).times(0))
            .is_err()
    );
    env.emulator.clear_faults();
    assert!(env.emulator.faults().is_empty());
}
