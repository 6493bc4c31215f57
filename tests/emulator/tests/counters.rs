//! Request counters, on the handle and on the admin endpoints, and running outside `#[tokio::test]`.

mod common;

use azure_emulator::{Counters, EmulatorOptions};
use common::*;
use reqwest::StatusCode;

#[tokio::test(flavor = "multi_thread")]
async fn counts_requests_per_endpoint_principal_and_client() {
    let env = Env::start().await;
    let token = env.reader_token().await;
    let refused = env
        .request_token(
            TENANT,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", READER_CLIENT),
                ("client_secret", "wrong"),
                ("scope", ARM_SCOPE),
            ],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let network = env.arm_token(NETWORK_CLIENT, NETWORK_SECRET).await;

    let list = storage_list_path(SUB);
    for _ in 0..3 {
        env.arm_get(Some(&token), &list).await;
    }
    env.arm_get(Some(&network), &list).await; // 403, still counted for the principal
    env.arm_get(None, &list).await; // 401, no principal

    let counters = env.emulator.counters();
    let token_path = format!("POST /{TENANT}/oauth2/v2.0/token");
    let list_key = format!("GET /subscriptions/{SUB}/providers/Microsoft.Storage/storageAccounts");
    assert_eq!(counters.endpoint(&token_path), 3);
    assert_eq!(counters.endpoint(&list_key), 5);
    assert_eq!(counters.total, 8);
    assert_eq!(counters.principal(READER_OID), 3);
    assert_eq!(counters.principal(NETWORK_OID), 1);
    assert_eq!(counters.token_requests(READER_CLIENT), 2);
    assert_eq!(counters.token_requests(NETWORK_CLIENT), 1);

    // The admin endpoint shows the same, and is not counted itself.
    let response = env
        .http
        .get(env.url("/_emulator/requests"))
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::OK);
    let served: Counters = response.json().await.expect("counters JSON");
    assert_eq!(served, counters);
    assert_eq!(env.emulator.counters(), counters);

    let response = env
        .http
        .post(env.url("/_emulator/reset"))
        .send()
        .await
        .expect("answered");
    assert!(response.status().is_success());
    assert_eq!(env.emulator.counters(), Counters::default());

    env.arm_get(Some(&token), &list).await;
    assert_eq!(env.emulator.counters().total, 1);
    env.emulator.reset_counters();
    assert_eq!(env.emulator.counters().total, 0);
}

#[test]
fn works_from_a_plain_multi_thread_runtime() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let emulator = runtime
        .block_on(azure_emulator::start(
            unit_scenario(),
            EmulatorOptions::default(),
        ))
        .expect("starts");
    let http = client_for(emulator.ca_pem());
    let url = format!(
        "{}/subscriptions/{SUB}?api-version=2022-12-01",
        emulator.base_url()
    );
    let status = runtime
        .block_on(async { http.get(&url).send().await.map(|r| r.status()) })
        .expect("answered");
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(emulator.counters().total, 1);
    runtime.block_on(emulator.shutdown());
    let after = runtime.block_on(async { http.get(&url).send().await });
    assert!(after.is_err(), "the server stops on shutdown");
}
