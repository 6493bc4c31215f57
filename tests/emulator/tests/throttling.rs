//! ARM throttling: the per-principal and subscription-wide read buckets with their headers, the
//! 429 body and every `Retry-After` form, resource-provider limits, and which requests cost
//! nothing.

mod common;

use std::time::{Duration, Instant};

use azure_emulator::RetryAfterStyle;
use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("{name} header"))
        .to_str()
        .expect("ascii")
        .to_owned()
}

fn reads(response: &reqwest::Response) -> (u64, u64) {
    let number = |name| header(response, name).parse::<u64>().expect("integer");
    (
        number("x-ms-ratelimit-remaining-subscription-reads"),
        number("x-ms-ratelimit-remaining-subscription-global-reads"),
    )
}

fn subscription_path() -> String {
    format!("/subscriptions/{SUB}?api-version=2022-12-01")
}

fn network_path() -> String {
    format!(
        "/subscriptions/{SUB}/providers/Microsoft.Network/networkWatchers?api-version=2024-05-01"
    )
}

fn throttling(bucket: u64, refill: f64) -> impl FnOnce(&mut Value) {
    move |scenario| {
        scenario["throttling"] = json!({ "bucket": bucket, "refill_per_second": refill });
    }
}

fn throttled_message(seconds: u64) -> String {
    format!(
        "Number of 'read' requests for subscription '{SUB}' actor '{READER_OID}' exceeded. Please try again after '{seconds}' seconds after additional tokens are available. Refer to https://aka.ms/arm-throttling for additional information."
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn the_first_read_reports_azures_numbers() {
    let env = Env::start().await;
    let reader = env.reader_token().await;
    let first = env.arm_get(Some(&reader), &subscription_path()).await;
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(reads(&first), (249, 3749));
}

#[tokio::test(flavor = "multi_thread")]
async fn remaining_reads_count_down_per_principal_and_globally() {
    // Azure's bucket, refilled slowly enough for exact counts.
    let env = Env::start_with(unit_scenario_with(throttling(250, 0.001))).await;
    let reader = env.reader_token().await;
    let network = env.arm_token(NETWORK_CLIENT, NETWORK_SECRET).await;

    let first = env.arm_get(Some(&reader), &subscription_path()).await;
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(reads(&first), (249, 3749));
    let second = env.arm_get(Some(&reader), &storage_list_path(SUB)).await;
    assert_eq!(reads(&second), (248, 3748));
    // Another principal has its own bucket but shares the subscription's.
    let other = env.arm_get(Some(&network), &network_path()).await;
    assert_eq!(other.status(), StatusCode::OK);
    assert_eq!(reads(&other), (249, 3747));
}

#[tokio::test(flavor = "multi_thread")]
async fn azures_default_bucket_throttles_after_about_250_reads() {
    let env = Env::start().await;
    let token = env.reader_token().await;
    let path = subscription_path();
    let started = Instant::now();
    let mut passed = 0u64;
    let refused = loop {
        let response = env.arm_get(Some(&token), &path).await;
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            break response;
        }
        assert_eq!(response.status(), StatusCode::OK);
        passed += 1;
        assert!(passed < 1000, "never throttled");
    };
    let elapsed = started.elapsed().as_secs_f64();
    // 250 in the bucket, plus what refilled at 25/s while the requests ran.
    let refilled = (25.0 * elapsed).ceil() as u64;
    assert!(
        (250..=250 + refilled + 1).contains(&passed),
        "{passed} reads passed in {elapsed}s"
    );
    // One token comes back within 40 ms: the wait is rounded up to one second.
    assert_eq!(header(&refused, "retry-after"), "1");
    assert_eq!(reads(&refused).0, 0);
    assert_eq!(header(&refused, "x-ms-failure-cause"), "gateway");
    let message = assert_arm_error(
        refused,
        StatusCode::TOO_MANY_REQUESTS,
        "SubscriptionRequestsThrottled",
    )
    .await;
    assert_eq!(message, throttled_message(1));
    let counters = env.emulator.counters();
    assert_eq!(counters.throttled, 1);
    assert_eq!(counters.throttled_principal(READER_OID), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_small_bucket_throttles_one_principal_and_refills() {
    let env = Env::start_with(unit_scenario_with(throttling(3, 1.0))).await;
    let token = env.reader_token().await;
    let network = env.arm_token(NETWORK_CLIENT, NETWORK_SECRET).await;
    let path = storage_list_path(SUB);
    for expected in [2, 1, 0] {
        let response = env.arm_get(Some(&token), &path).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(reads(&response).0, expected);
    }
    let refused = env.arm_get(Some(&token), &path).await;
    assert_eq!(header(&refused, "retry-after"), "1");
    let body: Value = {
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
        refused.json().await.expect("json")
    };
    assert_eq!(
        body,
        json!({"error": {"code": "SubscriptionRequestsThrottled", "message": throttled_message(1)}})
    );

    // The other principal is not throttled.
    let other = env.arm_get(Some(&network), &network_path()).await;
    assert_eq!(other.status(), StatusCode::OK);
    assert_eq!(reads(&other).0, 2);

    tokio::time::sleep(Duration::from_millis(1050)).await;
    let again = env.arm_get(Some(&token), &path).await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(reads(&again).0, 0);
    let counters = env.emulator.counters();
    assert_eq!(counters.throttled, 1);
    assert_eq!(counters.throttled_principal(READER_OID), 1);
    assert_eq!(counters.throttled_principal(NETWORK_OID), 0);
}

/// Throttles the reader once with `style` (a 2-second wait) and returns the 429.
async fn throttled_with(style: RetryAfterStyle) -> reqwest::Response {
    let mut scenario = unit_scenario_with(throttling(1, 0.5));
    scenario.throttling.retry_after = style;
    let env = Env::start_with(scenario).await;
    let token = env.reader_token().await;
    let path = subscription_path();
    assert_eq!(
        env.arm_get(Some(&token), &path).await.status(),
        StatusCode::OK
    );
    let refused = env.arm_get(Some(&token), &path).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    refused
}

fn millis(response: &reqwest::Response, name: &str) -> u64 {
    let value: u64 = header(response, name).parse().expect("integer");
    assert!((1500..=2000).contains(&value), "{name}: {value}");
    value
}

#[tokio::test(flavor = "multi_thread")]
async fn retry_after_comes_in_every_form_clients_must_parse() {
    let seconds = throttled_with(RetryAfterStyle::Seconds).await;
    assert_eq!(header(&seconds, "retry-after"), "2");
    assert!(seconds.headers().get("retry-after-ms").is_none());
    let message = assert_arm_error(
        seconds,
        StatusCode::TOO_MANY_REQUESTS,
        "SubscriptionRequestsThrottled",
    )
    .await;
    assert_eq!(message, throttled_message(2));

    let date = throttled_with(RetryAfterStyle::HttpDate).await;
    let value = header(&date, "retry-after");
    assert!(value.ends_with(" GMT"), "{value}");
    let at = chrono::DateTime::parse_from_rfc2822(&value).expect("an HTTP date");
    let wait = at.timestamp() - chrono::Utc::now().timestamp();
    assert!((1..=3).contains(&wait), "{value} is {wait}s away");

    let ms = throttled_with(RetryAfterStyle::RetryAfterMs).await;
    millis(&ms, "retry-after-ms");
    assert_eq!(header(&ms, "retry-after"), "2");

    let x_ms = throttled_with(RetryAfterStyle::XMsRetryAfterMs).await;
    millis(&x_ms, "x-ms-retry-after-ms");
    assert_eq!(header(&x_ms, "retry-after"), "2");
    assert!(x_ms.headers().get("retry-after-ms").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn throttling_can_be_turned_off() {
    let env = Env::start_with(unit_scenario_with(|scenario| {
        scenario["throttling"] = json!({ "enabled": false, "bucket": 2 });
    }))
    .await;
    let token = env.reader_token().await;
    for _ in 0..5 {
        let response = env.arm_get(Some(&token), &subscription_path()).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(reads(&response), (1, 29));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_refused_before_throttling_cost_nothing() {
    let env = Env::start_with(unit_scenario_with(|scenario| {
        throttling(2, 0.001)(scenario);
        scenario["subscriptions"][0]["unregistered_providers"] = json!(["Microsoft.Insights"]);
        scenario["faults"] = json!([{ "path_contains": "/resourceGroups/", "status": 503 }]);
    }))
    .await;
    let token = env.reader_token().await;
    // 401: no token; 400: no api-version; 409: unregistered; 503: a gateway fault.
    let unregistered = format!(
        "/subscriptions/{SUB}/providers/Microsoft.Insights/activityLogAlerts?api-version=2020-10-01"
    );
    for _ in 0..3 {
        assert_eq!(
            env.arm_get(None, &subscription_path()).await.status(),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            env.arm_get(Some(&token), &format!("/subscriptions/{SUB}"))
                .await
                .status(),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            env.arm_get(Some(&token), &unregistered).await.status(),
            StatusCode::CONFLICT
        );
        let faulted = env
            .arm_get(
                Some(&token),
                &format!("{}?api-version={API}", resource_group_path("rg1")),
            )
            .await;
        assert_eq!(faulted.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
    let first = env.arm_get(Some(&token), &subscription_path()).await;
    assert_eq!(reads(&first), (1, 29));
}

#[tokio::test(flavor = "multi_thread")]
async fn provider_limits_throttle_lists_with_the_providers_body() {
    let env = Env::start_with(unit_scenario_with(|scenario| {
        throttling(250, 0.001)(scenario);
        scenario["provider_limits"] = json!([
            { "type": "Microsoft.Storage/storageAccounts", "operation": "list", "limit": 2, "per_seconds": 300 }
        ]);
    }))
    .await;
    let token = env.reader_token().await;
    // Two pages of the list.
    let first = env.arm_get(Some(&token), &storage_list_path(SUB)).await;
    assert_eq!(
        header(
            &first,
            "x-ms-ratelimit-remaining-subscription-resource-entities-read"
        ),
        "1"
    );
    let page: Value = first.json().await.expect("json");
    let next = page["nextLink"].as_str().expect("nextLink").to_owned();
    let second = env.get_url(Some(&token), &next).await;
    assert_eq!(second.status(), StatusCode::OK);
    assert_eq!(
        header(
            &second,
            "x-ms-ratelimit-remaining-subscription-resource-entities-read"
        ),
        "0"
    );
    // The third list call is refused by the provider, after ARM charged its own bucket.
    let refused = env.arm_get(Some(&token), &storage_list_path(SUB)).await;
    assert_eq!(header(&refused, "retry-after"), "150");
    assert_eq!(reads(&refused).0, 247);
    assert!(refused.headers().get("x-ms-failure-cause").is_none());
    let message = assert_arm_error(
        refused,
        StatusCode::TOO_MANY_REQUESTS,
        "ResourceRequestsThrottled",
    )
    .await;
    assert_eq!(
        message,
        "Number of requests for action 'Microsoft.Storage/storageAccounts/read' exceeded the limit of '2' for time interval '00:05:00'. Please try again after '150' seconds."
    );
    // Reads of single accounts and lists in a resource group are not lists of the whole type...
    let account = format!(
        "{}/providers/Microsoft.Storage/storageAccounts/sa1?api-version={API}",
        resource_group_path("rg1")
    );
    assert_eq!(
        env.arm_get(Some(&token), &account).await.status(),
        StatusCode::OK
    );
    // ...but a list in a resource group is a list of the type too.
    let in_group = format!(
        "{}/providers/Microsoft.Storage/storageAccounts?api-version={API}",
        resource_group_path("rg2")
    );
    assert_eq!(
        env.arm_get(Some(&token), &in_group).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(env.emulator.counters().throttled, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn provider_read_limits_cover_children() {
    let env = Env::start_with(unit_scenario_with(|scenario| {
        scenario["provider_limits"] = json!([
            { "type": "Microsoft.Storage/storageAccounts", "operation": "read", "limit": 1, "per_seconds": 3600 }
        ]);
    }))
    .await;
    let token = env.reader_token().await;
    let account = format!(
        "{}/providers/Microsoft.Storage/storageAccounts/sa1",
        resource_group_path("rg1")
    );
    let response = env
        .arm_get(Some(&token), &format!("{account}?api-version={API}"))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        header(
            &response,
            "x-ms-ratelimit-remaining-subscription-resource-requests"
        ),
        "0"
    );
    // Lists of the type are not reads.
    assert_eq!(
        env.arm_get(Some(&token), &storage_list_path(SUB))
            .await
            .status(),
        StatusCode::OK
    );
    let child = env
        .arm_get(
            Some(&token),
            &format!("{account}/fileServices/default?api-version={API}"),
        )
        .await;
    assert_eq!(header(&child, "retry-after"), "3600");
    let message = assert_arm_error(
        child,
        StatusCode::TOO_MANY_REQUESTS,
        "ResourceRequestsThrottled",
    )
    .await;
    assert_eq!(
        message,
        "Number of requests for action 'Microsoft.Storage/storageAccounts/read' exceeded the limit of '1' for time interval '01:00:00'. Please try again after '3600' seconds."
    );
}
