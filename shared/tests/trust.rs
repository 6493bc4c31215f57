//! Trust boundaries of the Azure access layer (issue 9): the bearer token never leaves the origin
//! it was issued for, response bodies are read with a cap, and one cloud's throttling never
//! drains another cloud's read budget.

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;
use shared::azure::ErrorClass;
use shared::azure::arm::endpoint_key;
use shared::azure::cloud::ThrottleModel;
use shared::azure::limiter::{ReadLimiter, Scope};
use shared::azure::{ArmClient, TokenProvider};
use uuid::Uuid;

fn storage_list() -> String {
    format!("/subscriptions/{SUB}/providers/Microsoft.Storage/storageAccounts")
}

async fn add_fault(azure: &Azure, fault: serde_json::Value) {
    azure
        .http
        .post(azure.url("/_emulator/faults"))
        .json(&fault)
        .send()
        .await
        .expect("fault")
        .error_for_status()
        .expect("fault accepted");
}

/// Two emulators (two origins) and one HTTP client that trusts both, so a request to the second
/// would really be made if the guard let it through.
async fn two_hosts() -> (Azure, Azure, reqwest::Client) {
    let first = Azure::start(world(2, 10)).await;
    let second = Azure::start(world(2, 10)).await;
    let mut builder = reqwest::Client::builder()
        .https_only(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(5));
    for azure in [&first, &second] {
        builder = builder.add_root_certificate(
            reqwest::Certificate::from_pem(azure.emulator.ca_pem().as_bytes()).expect("ca"),
        );
    }
    (first, second, builder.build().expect("client"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_links_and_child_ids_to_another_host_never_get_the_token() {
    let (azure, other, http) = two_hosts().await;
    // The other host is reachable with this client: only the guard keeps requests away from it.
    let probe = http
        .get(other.url("/_emulator/requests"))
        .send()
        .await
        .expect("reachable");
    assert!(probe.status().is_success());
    let arm = ArmClient::new(http.clone(), TokenProvider::new(http), fast_retries());
    let session = arm.session(azure.reader()).expect("session");

    // A page whose nextLink points at the other host.
    let foreign = other.url(&format!("{}?api-version=2025-01-01", storage_list()));
    add_fault(
        &azure,
        json!({"path_contains": "storageAccounts", "status": 200, "times": 1,
               "body": {"value": [], "nextLink": foreign}}),
    )
    .await;
    let err = session
        .list(&session.url(&storage_list(), "2025-01-01"))
        .await
        .expect_err("foreign nextLink refused");
    assert!(err.message.contains("refusing to send the token"), "{err}");
    assert_eq!(err.class, ErrorClass::Configuration);

    // A single GET, and a role-definition style id, straight at the other host.
    let err = session.get(&foreign).await.expect_err("refused");
    assert!(err.message.contains("refusing to send the token"), "{err}");

    // A child id taken from response data that names another host: built from segments, it
    // stays under this cloud's Resource Manager.
    let child = session.url(
        &format!("{}/fileServices/default", other.url("/subscriptions/x")),
        "2025-01-01",
    );
    assert!(child.starts_with(&azure.emulator.base_url()), "{child}");
    let _ = session.get(&child).await;
    let sneaky = session.url("@evil.example/subscriptions/x", "1");
    assert!(sneaky.starts_with(&azure.emulator.base_url()), "{sneaky}");
    // OData values are encoded, whatever they contain.
    let filtered = session.url_with_query(
        "/subscriptions/x/providers/p",
        &[("$filter", "principalId eq 'a&b=c'")],
        "1",
    );
    assert!(
        filtered.contains("%24filter=principalId+eq+%27a%26b%3Dc%27"),
        "{filtered}"
    );

    // The other host saw no request at all, so no Authorization header.
    assert_eq!(other.emulator.counters().total, 0);
    assert!(azure.emulator.counters().total > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_50_mb_response_is_an_error_not_a_memory_spike() {
    let azure = Azure::start(world(2, 10)).await;
    add_fault(
        &azure,
        json!({"path_contains": "storageAccounts", "status": 200, "times": 1,
               "pad_bytes": 50 * 1024 * 1024}),
    )
    .await;
    // Default cap (32 MiB): reading stops at the cap, so at most 32 MiB is ever held for this
    // request, whatever the server sends (bounded by construction).
    let session = azure.arm().session(azure.reader()).expect("session");
    let err = session
        .list(&session.url(&storage_list(), "2025-01-01"))
        .await
        .expect_err("too large");
    assert!(err.message.contains("larger than"), "{err}");
    assert_eq!(err.class, ErrorClass::Configuration, "not retried");
    // A smaller configured cap applies the same way, and normal pages pass under it.
    add_fault(
        &azure,
        json!({"path_contains": "storageAccounts", "status": 200, "times": 1,
               "pad_bytes": 300 * 1024}),
    )
    .await;
    let small = azure.arm().with_max_body(256 * 1024);
    let session = small.session(azure.reader()).expect("session");
    let err = session
        .list(&session.url(&storage_list(), "2025-01-01"))
        .await
        .expect_err("too large");
    assert!(err.message.contains("larger than 262144 bytes"), "{err}");
    let items = session
        .list(&session.url(&storage_list(), "2025-01-01"))
        .await
        .expect("normal page");
    assert_eq!(items.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_from_one_cloud_leaves_another_clouds_bucket_full() {
    let (first, second, _) = two_hosts().await;
    let prefix = format!("trust-{}:", Uuid::new_v4().simple());
    let conn = shared::store::RedisConn::connect(&["redis://127.0.0.1:6379/"], false)
        .await
        .expect("redis");
    let limiter = ReadLimiter::new(conn, &prefix);
    // The same principal and subscription in both clouds (a fake cloud naming a victim's ids).
    add_fault(
        &first,
        json!({"path_contains": "storageAccounts", "status": 429, "times": 1, "retry_after": 0}),
    )
    .await;
    let arm = first.arm().with_limiter(limiter.clone());
    let session = arm.session(first.reader()).expect("session");
    session
        .list(&session.url(&storage_list(), "2025-01-01"))
        .await
        .expect("retried after the 429");
    let scope = |azure: &Azure| Scope {
        principal: format!("{}/{}", TENANT, READER),
        subscription: Some(SUB.to_string()),
        model: ThrottleModel::TokenBucket,
        endpoint: endpoint_key(&url::Url::parse(&azure.emulator.base_url()).expect("url")),
        region: None,
    };
    let drained = limiter.available(&scope(&first)).await.expect("redis");
    let untouched = limiter.available(&scope(&second)).await.expect("redis");
    assert!(
        drained < 100.0,
        "the 429 drained the first cloud's bucket: {drained}"
    );
    assert!(
        untouched >= 249.9,
        "the second cloud's bucket is full: {untouched}"
    );
    clean_redis(&prefix).await;
}
