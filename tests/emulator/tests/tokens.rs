//! Tokens that ARM says have expired before their `exp`: through the handle and the admin
//! endpoint; tokens issued afterwards work.

mod common;

use common::*;
use reqwest::StatusCode;

async fn assert_expired(env: &Env, token: &str) {
    let response = env.arm_get(Some(token), &storage_list_path(SUB)).await;
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(
        challenge.starts_with(&format!(
            "Bearer authorization_uri=\"https://login.windows.net/{TENANT}\", error=\"invalid_token\""
        )),
        "{challenge}"
    );
    let message = assert_arm_error(
        response,
        StatusCode::UNAUTHORIZED,
        "ExpiredAuthenticationToken",
    )
    .await;
    assert!(
        message.starts_with("The access token expiry UTC time '")
            && message.contains("' is earlier than current UTC time '"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn expired_by_the_handle() {
    let env = Env::start().await;
    let old = env.reader_token().await;
    let path = storage_list_path(SUB);
    assert_eq!(
        env.arm_get(Some(&old), &path).await.status(),
        StatusCode::OK
    );

    env.emulator.expire_tokens();
    assert_expired(&env, &old).await;
    let new = env.reader_token().await;
    assert_eq!(
        env.arm_get(Some(&new), &path).await.status(),
        StatusCode::OK
    );
    // Still counted for the principal, like every authenticated refusal.
    assert_eq!(env.emulator.counters().principal(READER_OID), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn expired_by_the_admin_endpoint() {
    let env = Env::start().await;
    let old = env.reader_token().await;
    let response = env
        .http
        .post(env.url("/_emulator/tokens/expire"))
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_expired(&env, &old).await;
    let new = env.reader_token().await;
    assert_eq!(
        env.arm_get(Some(&new), &storage_list_path(SUB))
            .await
            .status(),
        StatusCode::OK
    );
    // Expiring again catches the newer token too.
    env.emulator.expire_tokens();
    assert_expired(&env, &new).await;
    assert_expired(&env, &old).await;
}
