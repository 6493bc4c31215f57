//! Tokens against the emulator's Entra endpoint: one credential per principal and secret
//! version, one token request for many concurrent callers, a rotated secret replacing the cached
//! credential, a fresh token after ARM says the token expired, and a precise diagnosis for every
//! Entra error.

mod common;

use std::sync::atomic::Ordering;

use common::*;
use serde_json::json;
use shared::azure::TokenDiagnosis;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_callers_of_one_principal_cause_one_token_request() {
    let azure = Azure::start(world(1, 10)).await;
    let principal = azure.reader();
    let calls = (0..20).map(|_| {
        let tokens = azure.tokens.clone();
        let principal = principal.clone();
        tokio::spawn(async move { tokens.arm_token(&principal).await })
    });
    for call in calls {
        call.await.expect("join").expect("token");
    }
    let counters = azure.emulator.counters();
    assert_eq!(
        counters.token_requests_by_client.get(READER).copied(),
        Some(1)
    );
    let stats = azure.tokens.stats();
    assert_eq!(stats.requests.load(Ordering::Relaxed), 1);
    assert_eq!(stats.calls.load(Ordering::Relaxed), 20);
    assert_eq!(stats.cache_hits.load(Ordering::Relaxed), 19);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_secret_replaces_the_cached_credential() {
    let azure = Azure::start(world(1, 10)).await;
    let old = azure.principal(TENANT, READER, "old~secret");
    let err = azure
        .tokens
        .arm_token(&old)
        .await
        .expect_err("expired secret");
    assert_eq!(err.diagnosis, TokenDiagnosis::ExpiredSecret);
    // The customer pastes the new secret: new secret version, new credential, new token.
    let new = azure.reader();
    azure
        .tokens
        .arm_token(&new)
        .await
        .expect("token with the new secret");
    azure.tokens.arm_token(&new).await.expect("cached");
    assert_eq!(
        azure
            .emulator
            .counters()
            .token_requests_by_client
            .get(READER)
            .copied(),
        Some(2)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_gets_a_fresh_one_and_the_call_succeeds() {
    let azure = Azure::start(world(3, 10)).await;
    let session = azure.arm().session(azure.reader()).expect("session");
    let url = session.url(
        &format!("/subscriptions/{SUB}/providers/Microsoft.Storage/storageAccounts"),
        "2025-01-01",
    );
    assert_eq!(session.list(&url).await.expect("list").len(), 3);
    // ARM now considers every token issued so far expired (clock skew, revocation).
    azure
        .http
        .post(azure.url("/_emulator/tokens/expire"))
        .send()
        .await
        .expect("expire")
        .error_for_status()
        .expect("expired");
    assert_eq!(session.list(&url).await.expect("list again").len(), 3);
    assert_eq!(
        azure
            .emulator
            .counters()
            .token_requests_by_client
            .get(READER)
            .copied(),
        Some(2),
        "one fresh token"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_entra_error_gets_its_diagnosis() {
    let azure = Azure::start(world(1, 10)).await;
    let cases = [
        (
            TENANT,
            READER,
            "not~the~secret",
            TokenDiagnosis::WrongSecret,
        ),
        (TENANT, READER, "old~secret", TokenDiagnosis::ExpiredSecret),
        (
            TENANT,
            "aaaaaaaa-0000-0000-0000-00000000ffff",
            "x",
            TokenDiagnosis::AppNotFound,
        ),
        (
            TENANT,
            DISABLED,
            "disabled~secret",
            TokenDiagnosis::AppDisabled,
        ),
        (
            TENANT,
            BLOCKED,
            "blocked~secret",
            TokenDiagnosis::BlockedByConditionalAccess,
        ),
        (
            "44444444-4444-4444-4444-444444444444",
            READER,
            "x",
            TokenDiagnosis::TenantNotFound,
        ),
        (
            "33333333-3333-3333-3333-333333333333",
            READER,
            "x",
            TokenDiagnosis::WrongCloud,
        ),
        ("not_a-tenant", READER, "x", TokenDiagnosis::MalformedTenant),
    ];
    for (tenant, client, secret, expected) in cases {
        let err = azure
            .tokens
            .arm_token(&azure.principal(tenant, client, secret))
            .await
            .expect_err("must fail");
        assert_eq!(err.diagnosis, expected, "{tenant} {client}: {err}");
        assert!(!err.diagnosis.remediation().is_empty());
        if expected != TokenDiagnosis::MalformedTenant {
            assert!(
                err.trace_id.is_some() && err.correlation_id.is_some(),
                "{err:?}"
            );
            assert!(!err.error_codes.is_empty());
        }
        assert!(!format!("{err:?} {err}").contains(secret) || secret == "x");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entra_outages_are_retried_then_reported_as_transient() {
    let azure = Azure::start(world(1, 10)).await;
    let fault = |times: Option<u32>| {
        let mut f = json!({"path_contains": "/oauth2/v2.0/token", "status": 503});
        if let Some(t) = times {
            f["times"] = json!(t);
        }
        f
    };
    let add = |f: serde_json::Value| {
        let http = azure.http.clone();
        let url = azure.url("/_emulator/faults");
        async move {
            http.post(url)
                .json(&f)
                .send()
                .await
                .expect("fault")
                .error_for_status()
                .expect("ok");
        }
    };
    add(fault(Some(1))).await;
    azure
        .tokens
        .arm_token(&azure.reader())
        .await
        .expect("retried past one 503");

    add(fault(None)).await;
    let other = azure.principal(TENANT, NETWORK_ONLY, "network~secret");
    let err = azure
        .tokens
        .arm_token(&other)
        .await
        .expect_err("Entra down");
    assert_eq!(err.diagnosis, TokenDiagnosis::Transient, "{err}");
}
