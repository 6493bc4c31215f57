//! The ARM client against the emulator: paging edge cases, retries of 5xx and timeouts, every
//! form of Retry-After on 429s, the error classes, and the fleet-wide read limiter.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::json;
use shared::azure::ErrorClass;
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

fn with(
    mut world: serde_json::Value,
    pointer: &str,
    value: serde_json::Value,
) -> serde_json::Value {
    // Sets `value` at `pointer`; the parent must exist.
    let (parent, key) = pointer.rsplit_once('/').expect("pointer");
    world
        .pointer_mut(parent)
        .and_then(|p| p.as_object_mut())
        .expect("parent object")
        .insert(key.to_string(), value);
    world
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_follows_next_links_to_the_end_in_every_form() {
    for quirk in [
        "standard",
        "empty_string_next_link",
        "null_next_link",
        "empty_pages",
    ] {
        let azure = Azure::start(with(world(7, 2), "/subscriptions/0/paging", json!(quirk))).await;
        let session = azure.arm().session(azure.reader()).expect("session");
        let items = session
            .list(&session.url(&storage_list(), "2025-01-01"))
            .await
            .unwrap_or_else(|e| panic!("{quirk}: {e}"));
        let names: Vec<&str> = items.iter().filter_map(|i| i["name"].as_str()).collect();
        assert_eq!(
            names,
            [
                "sa0000", "sa0001", "sa0002", "sa0003", "sa0004", "sa0005", "sa0006"
            ],
            "{quirk}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeating_next_link_stops_with_an_error_instead_of_looping() {
    let azure = Azure::start(with(
        world(7, 2),
        "/subscriptions/0/paging",
        json!("repeating_next_link"),
    ))
    .await;
    let session = azure.arm().session(azure.reader()).expect("session");
    let err = session
        .list(&session.url(&storage_list(), "2025-01-01"))
        .await
        .expect_err("loop detected");
    assert!(err.message.contains("paging loop"), "{err}");
    assert!(azure.emulator.counters().total < 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_are_retried() {
    let azure = Azure::start(world(3, 10)).await;
    add_fault(
        &azure,
        json!({"path_contains": "storageAccounts", "status": 503, "times": 2}),
    )
    .await;
    let session = azure.arm().session(azure.reader()).expect("session");
    let items = session
        .list(&session.url(&storage_list(), "2025-01-01"))
        .await
        .expect("retried");
    assert_eq!(items.len(), 3);
    assert_eq!(
        session
            .stats()
            .retries
            .load(std::sync::atomic::Ordering::Relaxed),
        2
    );

    add_fault(
        &azure,
        json!({"path_contains": "storageAccounts", "status": 500}),
    )
    .await;
    let err = session
        .list(&session.url(&storage_list(), "2025-01-01"))
        .await
        .expect_err("down");
    assert_eq!(err.class, ErrorClass::Transient);
    assert_eq!(err.status, Some(500));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_hangs_times_out_and_is_retried() {
    let azure = Azure::start(world(2, 10)).await;
    add_fault(
        &azure,
        json!({"path_contains": "storageAccounts", "latency_ms": 30000, "times": 1}),
    )
    .await;
    let http = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(azure.emulator.ca_pem().as_bytes()).expect("ca"),
        )
        .timeout(Duration::from_millis(800))
        .build()
        .expect("client");
    let arm = shared::azure::ArmClient::new(http, azure.tokens.clone(), fast_retries());
    let session = arm.session(azure.reader()).expect("session");
    let started = Instant::now();
    let items = session
        .list(&session.url(&storage_list(), "2025-01-01"))
        .await
        .expect("retried");
    assert_eq!(items.len(), 2);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "did not wait for the hung call"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_waits_what_azure_asks_in_every_form() {
    for style in [
        "seconds",
        "http_date",
        "retry_after_ms",
        "x_ms_retry_after_ms",
    ] {
        // A tiny bucket so the fourth request is throttled: capacity 3, one token per second.
        let w = with(
            world(8, 2),
            "/throttling",
            json!({"enabled": true, "bucket": 3, "refill_per_second": 1.0, "retry_after": style}),
        );
        let azure = Azure::start(w).await;
        let session = azure.arm().session(azure.reader()).expect("session");
        let started = Instant::now();
        let items = session
            .list(&session.url(&storage_list(), "2025-01-01"))
            .await
            .unwrap_or_else(|e| panic!("{style}: {e}"));
        assert_eq!(items.len(), 8, "{style}");
        let throttled = session
            .stats()
            .throttled
            .load(std::sync::atomic::Ordering::Relaxed);
        assert!(throttled >= 1, "{style}: no 429 seen");
        assert!(
            started.elapsed() >= Duration::from_millis(900),
            "{style}: did not wait"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_land_in_their_class() {
    let w = with(
        world(2, 10),
        "/subscriptions/0/unregistered_providers",
        json!(["Microsoft.Network"]),
    );
    let azure = Azure::start(w).await;
    let arm = azure.arm();
    // Access denied names the missing action.
    let network_only = arm
        .session(azure.principal(TENANT, NETWORK_ONLY, "network~secret"))
        .expect("session");
    let err = network_only
        .list(&network_only.url(&storage_list(), "2025-01-01"))
        .await
        .expect_err("403");
    assert_eq!(err.class, ErrorClass::AccessDenied);
    assert_eq!(
        err.action.as_deref(),
        Some("Microsoft.Storage/storageAccounts/read")
    );
    // An unregistered provider means nothing of that kind exists.
    let reader = arm.session(azure.reader()).expect("session");
    let nsgs = format!("/subscriptions/{SUB}/providers/Microsoft.Network/networkSecurityGroups");
    let err = reader
        .list(&reader.url(&nsgs, "2024-05-01"))
        .await
        .expect_err("409");
    assert_eq!(err.class, ErrorClass::NotApplicable);
    assert_eq!(err.target.as_deref(), Some("Microsoft.Network"));
    // A missing resource, a wrong subscription, a missing api-version.
    let missing = format!(
        "/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/nope"
    );
    let err = reader
        .get(&reader.url(&missing, "2025-01-01"))
        .await
        .expect_err("404");
    assert_eq!(err.class, ErrorClass::NotApplicable);
    let other = format!("/subscriptions/{}", Uuid::new_v4());
    let err = reader
        .get(&reader.url(&other, "2022-12-01"))
        .await
        .expect_err("404");
    assert_eq!(err.code.as_deref(), Some("SubscriptionNotFound"));
    let err = reader
        .get(&azure.url(&format!("/subscriptions/{SUB}")))
        .await
        .expect_err("400");
    assert_eq!(err.class, ErrorClass::Configuration);
    // A wrong secret is an authentication error carrying the diagnosis.
    let wrong = arm
        .session(azure.principal(TENANT, READER, "nope"))
        .expect("session");
    let err = wrong
        .list(&wrong.url(&storage_list(), "2025-01-01"))
        .await
        .expect_err("401");
    assert_eq!(err.class, ErrorClass::Authentication);
    assert!(err.token.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_links_to_other_hosts_never_get_the_token() {
    let azure = Azure::start(world(1, 10)).await;
    let session = azure.arm().session(azure.reader()).expect("session");
    let err = session
        .list("https://evil.example.com/subscriptions/x?api-version=1")
        .await
        .expect_err("refused");
    assert!(err.message.contains("refusing to send the token"), "{err}");
    assert_eq!(azure.emulator.counters().total, 0);
}

/// Reads `accounts` one by one from `clients` in parallel; returns (elapsed, 429s received).
async fn read_accounts(
    azure: &Azure,
    clients: &[shared::azure::ArmClient],
    accounts: std::ops::Range<usize>,
) -> (Duration, u64) {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (i, arm) in clients.iter().enumerate() {
        let session = arm.session(azure.reader()).expect("session");
        let urls: Vec<String> = accounts
            .clone()
            .filter(|n| n % clients.len() == i)
            .map(|n| {
                session.url(
                    &format!("/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/sa{n:04}"),
                    "2025-01-01",
                )
            })
            .collect();
        tasks.push(tokio::spawn(async move {
            for url in urls {
                session.get(&url).await.expect("get");
            }
            session
                .stats()
                .throttled
                .load(std::sync::atomic::Ordering::Relaxed)
        }));
    }
    let mut throttled = 0;
    for t in tasks {
        throttled += t.await.expect("join");
    }
    (started.elapsed(), throttled)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn clients_sharing_the_limiter_stay_inside_azures_budget() {
    // 300 reads against Azure's real bucket (250, 25/s): the bound is (300 - 250) / 25 = 2 s.
    let azure = Azure::start(world(300, 100)).await;
    let prefix = format!("limiter-test-{}:", Uuid::new_v4().simple());
    let limited = [
        azure.arm_with_limiter(&prefix).await,
        azure.arm_with_limiter(&prefix).await,
    ];
    let (elapsed, throttled) = read_accounts(&azure, &limited, 0..300).await;
    assert_eq!(
        throttled, 0,
        "the shared limiter kept both clients inside the bucket"
    );
    assert!(
        elapsed >= Duration::from_millis(1900),
        "faster than Azure allows: {elapsed:?}"
    );
    clean_redis(&prefix).await;

    // Without the limiter the same work runs into Azure's wall (so the assertion above can fail).
    let azure = Azure::start(world(300, 100)).await;
    let unlimited = [azure.arm(), azure.arm()];
    let (_, throttled) = read_accounts(&azure, &unlimited, 0..300).await;
    assert!(
        throttled > 0,
        "unlimited clients should have been throttled"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_limiter_follows_what_azure_says_is_left() {
    let azure = Azure::start(world(300, 100)).await;
    // Another tool using the same principal spends most of the budget first.
    let (_, throttled) = read_accounts(&azure, &[azure.arm()], 0..240).await;
    assert_eq!(throttled, 0);
    // Our limiter believes 250 tokens are left; the first answer's header says about 10.
    let prefix = format!("limiter-test-{}:", Uuid::new_v4().simple());
    let limited = [azure.arm_with_limiter(&prefix).await];
    let (elapsed, throttled) = read_accounts(&azure, &limited, 240..300).await;
    assert!(
        throttled <= 1,
        "{throttled} 429s after the header said the budget was low"
    );
    assert!(
        elapsed >= Duration::from_millis(1500),
        "did not slow down: {elapsed:?}"
    );
    clean_redis(&prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resource_provider_limits_pace_requests_before_azure_has_to() {
    // Storage allows 100 account lists per 5 minutes: the 101st waits for a token (~3 s).
    let conn = shared::store::RedisConn::connect(&["redis://127.0.0.1:6379/"], false)
        .await
        .expect("redis");
    let prefix = format!("limiter-test-{}:", Uuid::new_v4().simple());
    let limiter = shared::azure::limiter::ReadLimiter::new(conn, &prefix);
    let scope = shared::azure::limiter::Scope {
        principal: "tenant/client".into(),
        subscription: Some(SUB.into()),
        model: shared::azure::cloud::ThrottleModel::TokenBucket,
        endpoint: "management.azure.com".into(),
        region: None,
    };
    let list = storage_list();
    let mut waited = Duration::ZERO;
    for _ in 0..100 {
        waited += limiter
            .acquire(&scope, &list, None)
            .await
            .expect("no deadline");
    }
    // The first 100 lists only waited on the subscription bucket (250 burst): nothing.
    assert!(waited < Duration::from_millis(100), "{waited:?}");
    let started = Instant::now();
    limiter
        .acquire(&scope, &list, None)
        .await
        .expect("no deadline");
    let wait = started.elapsed();
    assert!(
        wait >= Duration::from_millis(2500) && wait < Duration::from_secs(30),
        "{wait:?}"
    );
    // Other reads are not held back by the storage list budget.
    let started = Instant::now();
    limiter
        .acquire(
            &scope,
            &format!("/subscriptions/{SUB}/providers/Microsoft.Network/networkSecurityGroups"),
            None,
        )
        .await
        .expect("no deadline");
    // Well under the 2.5 s a read held back by the storage budget would wait.
    assert!(started.elapsed() < Duration::from_millis(2000));
    clean_redis(&prefix).await;
}

fn limiter_scope(region: Option<&str>) -> shared::azure::limiter::Scope {
    shared::azure::limiter::Scope {
        principal: "tenant/client".into(),
        subscription: Some(SUB.into()),
        model: shared::azure::cloud::ThrottleModel::TokenBucket,
        endpoint: "management.azure.com".into(),
        region: region.map(str::to_string),
    }
}

async fn limiter_at(prefix: &str) -> shared::azure::limiter::ReadLimiter {
    let conn = shared::store::RedisConn::connect(&["redis://127.0.0.1:6379/"], false)
        .await
        .expect("redis");
    shared::azure::limiter::ReadLimiter::new(conn, prefix)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_budgets_are_kept_per_region() {
    // Storage allows 100 account lists per 5 minutes per subscription AND region.
    let prefix = format!("limiter-test-{}:", Uuid::new_v4().simple());
    let limiter = limiter_at(&prefix).await;
    let list = format!(
        "/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts"
    );
    let soon = || Some(tokio::time::Instant::now() + Duration::from_millis(500));
    let east = limiter_scope(Some("eastus"));
    for i in 0..100 {
        limiter
            .acquire(&east, &list, None)
            .await
            .unwrap_or_else(|t| panic!("list {i} in eastus held back: {t:?}"));
    }
    // One region does not get more than its budget...
    let refused = limiter
        .acquire(&east, &list, soon())
        .await
        .expect_err("the 101st eastus list has no token");
    assert_eq!(refused.bucket, "storage-list");
    assert!(
        refused.next_token_in > Duration::from_millis(500),
        "{refused:?}"
    );
    // ...a second region has a budget of its own...
    let west = limiter_scope(Some("westeurope"));
    for i in 0..100 {
        limiter
            .acquire(&west, &list, soon())
            .await
            .unwrap_or_else(|t| panic!("list {i} in westeurope held back: {t:?}"));
    }
    // ...and so do requests of no known region, apart from both.
    limiter
        .acquire(&limiter_scope(None), &list, soon())
        .await
        .expect("region-less lists draw from their own bucket");
    clean_redis(&prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_limiter_wait_past_the_deadline_fails_the_request_as_throttled() {
    let azure = Azure::start(world(3, 10)).await;
    let prefix = format!("limiter-test-{}:", Uuid::new_v4().simple());
    let limiter = limiter_at(&prefix).await;
    // Another worker has used this subscription's whole storage list budget.
    let scope = shared::azure::limiter::Scope {
        endpoint: shared::azure::arm::endpoint_key(
            &url::Url::parse(&azure.emulator.base_url()).expect("url"),
        ),
        principal: format!("{}/{}", TENANT, READER),
        region: None,
        ..limiter_scope(None)
    };
    for _ in 0..100 {
        limiter
            .acquire(&scope, &storage_list(), None)
            .await
            .expect("no deadline");
    }
    let session = azure
        .arm_with_limiter(&prefix)
        .await
        .session(azure.reader())
        .expect("session")
        .with_time_budget(Duration::from_millis(800));
    let err = session
        .list(&session.url(&storage_list(), "2025-01-01"))
        .await
        .expect_err("no token before the deadline");
    assert!(err.is_client_throttled(), "{err}");
    assert_eq!(err.class, ErrorClass::Transient);
    assert_eq!(
        session
            .stats()
            .requests
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
    match err.to_fetch_error("Microsoft.Storage/storageAccounts/read") {
        shared::checks::FetchError::Error { message } => {
            assert!(message.starts_with("Azure is throttling"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    // Without a deadline the same session waits for its token instead.
    let unbounded = azure
        .arm_with_limiter(&prefix)
        .await
        .session(azure.reader())
        .expect("session");
    let items = unbounded
        .list(&unbounded.url(&storage_list(), "2025-01-01"))
        .await
        .expect("waited for a token");
    assert_eq!(items.len(), 3);
    clean_redis(&prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_learns_where_listed_resources_live() {
    let azure = Azure::start(world(3, 2)).await;
    let session = azure.arm().session(azure.reader()).expect("session");
    let items = session
        .list(&session.url(&storage_list(), "2025-01-01"))
        .await
        .expect("list");
    let id = items[0]["id"].as_str().expect("id");
    assert_eq!(
        session
            .location_of(&format!("{id}/blobServices/default"))
            .as_deref(),
        Some("eastus")
    );
    assert_eq!(session.fork().location_of(id).as_deref(), Some("eastus"));
    assert_eq!(session.location_of(&storage_list()), None);
}
