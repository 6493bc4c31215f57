//! Resource-provider registration: 409 MissingSubscriptionRegistration under unregistered
//! namespaces, and the subscription's provider list.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn scenario() -> azure_emulator::Scenario {
    unit_scenario_with(|scenario| {
        scenario["subscriptions"][0]["unregistered_providers"] =
            json!(["Microsoft.Network", "Microsoft.Compute"]);
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn gets_under_an_unregistered_namespace_are_409() {
    let env = Env::start_with(scenario()).await;
    let token = env.reader_token().await;
    // Any casing of the namespace, lists and single resources alike.
    for path in [
        format!(
            "/subscriptions/{SUB}/providers/microsoft.network/networkWatchers?api-version=2024-05-01"
        ),
        format!(
            "{}/providers/Microsoft.Network/networkWatchers/nw1?api-version=2024-05-01",
            resource_group_path("NetworkWatcherRG")
        ),
    ] {
        let response = env.arm_get(Some(&token), &path).await;
        assert_eq!(response.status(), StatusCode::CONFLICT);
        let message = "The subscription is not registered to use namespace 'Microsoft.Network'. See https://aka.ms/rps-not-found for how to register subscriptions.";
        assert_eq!(
            response.json::<Value>().await.expect("json"),
            json!({"error": {
                "code": "MissingSubscriptionRegistration",
                "message": message,
                "details": [{
                    "code": "MissingSubscriptionRegistration",
                    "target": "Microsoft.Network",
                    "message": message,
                }],
            }})
        );
    }
    // An extension resource under a registered resource but in an unregistered namespace.
    let response = env
        .arm_get(
            Some(&token),
            &format!(
                "{}/providers/Microsoft.Storage/storageAccounts/sa1/providers/Microsoft.Compute/things?api-version=1",
                resource_group_path("rg1")
            ),
        )
        .await;
    let message = assert_arm_error(
        response,
        StatusCode::CONFLICT,
        "MissingSubscriptionRegistration",
    )
    .await;
    assert!(message.contains("'Microsoft.Compute'"));
    // Other namespaces work.
    assert_eq!(
        env.arm_get(Some(&token), &storage_list_path(SUB))
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_principal_without_the_action_gets_403_before_409() {
    let env = Env::start_with(unit_scenario_with(|scenario| {
        scenario["subscriptions"][0]["unregistered_providers"] = json!(["Microsoft.Storage"]);
    }))
    .await;
    let token = env.arm_token(NETWORK_CLIENT, NETWORK_SECRET).await;
    let response = env.arm_get(Some(&token), &storage_list_path(SUB)).await;
    assert_arm_error(response, StatusCode::FORBIDDEN, "AuthorizationFailed").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn lists_providers_with_their_registration_state() {
    let env = Env::start_with(scenario()).await;
    let token = env.reader_token().await;
    let response = env
        .arm_get(
            Some(&token),
            &format!("/subscriptions/{SUB}/providers?api-version=2021-04-01"),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response
            .headers()
            .contains_key("x-ms-ratelimit-remaining-subscription-reads")
    );
    let body: Value = response.json().await.expect("json");
    let states: Vec<(String, String, String)> = body["value"]
        .as_array()
        .expect("value")
        .iter()
        .map(|provider| {
            (
                provider["id"].as_str().expect("id").to_owned(),
                provider["namespace"]
                    .as_str()
                    .expect("namespace")
                    .to_owned(),
                provider["registrationState"]
                    .as_str()
                    .expect("state")
                    .to_owned(),
            )
        })
        .collect();
    let expected: Vec<(String, String, String)> = [
        ("Microsoft.Storage", "Registered"),
        ("Microsoft.Network", "NotRegistered"),
        ("Microsoft.Security", "Registered"),
        ("Microsoft.Compute", "NotRegistered"),
    ]
    .iter()
    .map(|(namespace, state)| {
        (
            format!("/subscriptions/{SUB}/providers/{namespace}"),
            (*namespace).to_owned(),
            (*state).to_owned(),
        )
    })
    .collect();
    assert_eq!(states, expected);
    assert_eq!(
        body["value"][0]["resourceTypes"],
        json!([
            {"resourceType": "storageAccounts", "locations": ["eastus", "westeurope", "northeurope"]},
            {"resourceType": "storageAccounts/fileServices", "locations": []},
        ])
    );

    // One provider; a namespace the subscription has nothing in is registered.
    let response = env
        .arm_get(
            Some(&token),
            &format!("/subscriptions/{SUB}/providers/microsoft.compute?api-version=2021-04-01"),
        )
        .await;
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["namespace"], "Microsoft.Compute");
    assert_eq!(body["registrationState"], "NotRegistered");
    let response = env
        .arm_get(
            Some(&token),
            &format!("/subscriptions/{SUB}/providers/Microsoft.Web?api-version=2021-04-01"),
        )
        .await;
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["registrationState"], "Registered");

    // Reading providers needs Microsoft.Resources/subscriptions/providers/read.
    let network = env.arm_token(NETWORK_CLIENT, NETWORK_SECRET).await;
    let response = env
        .arm_get(
            Some(&network),
            &format!("/subscriptions/{SUB}/providers?api-version=2021-04-01"),
        )
        .await;
    let message = assert_arm_error(response, StatusCode::FORBIDDEN, "AuthorizationFailed").await;
    assert!(message.contains("'Microsoft.Resources/subscriptions/providers/read'"));
}
