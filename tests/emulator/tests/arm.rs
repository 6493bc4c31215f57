//! Azure Resource Manager: authentication, api-version, subscriptions, authorization, resources,
//! children and paging, each answered with ARM's own bodies and headers.

mod common;

use std::time::Duration;

use common::*;
use reqwest::StatusCode;
use serde_json::Value;

fn ids(page: &Value) -> Vec<String> {
    page["value"]
        .as_array()
        .expect("value array")
        .iter()
        .map(|item| {
            item["id"]
                .as_str()
                .expect("id")
                .rsplit('/')
                .next()
                .expect("name")
                .to_owned()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn gets_the_subscription_with_arm_headers() {
    let env = Env::start().await;
    let token = env.reader_token().await;
    let response = env
        .arm_get(
            Some(&token),
            &format!("/subscriptions/{SUB}?api-version=2022-12-01"),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "application/json; charset=utf-8");
    assert_eq!(
        headers["x-ms-ratelimit-remaining-subscription-reads"],
        "249"
    );
    for name in ["x-ms-request-id", "x-ms-correlation-request-id"] {
        let value = headers[name].to_str().expect("ascii");
        assert!(uuid::Uuid::try_parse(value).is_ok(), "{name}: {value}");
    }
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["id"], format!("/subscriptions/{SUB}"));
    assert_eq!(body["subscriptionId"], SUB);
    assert_eq!(body["tenantId"], TENANT);
    assert_eq!(body["displayName"], "Demo");
    assert_eq!(body["state"], "Enabled");
    assert_eq!(body["authorizationSource"], "RoleBased");
    assert_eq!(
        body["subscriptionPolicies"],
        serde_json::json!({"locationPlacementId":"Public_2014-09-01","quotaId":"PayAsYouGo_2014-09-01","spendingLimit":"Off"})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn keeps_the_clients_correlation_id() {
    let env = Env::start().await;
    let token = env.reader_token().await;
    let correlation = "0f6d2b4c-1111-4222-8333-444455556666";
    let response = env
        .http
        .get(env.url(&format!("/subscriptions/{SUB}?api-version=2022-12-01")))
        .bearer_auth(&token)
        .header("x-ms-correlation-request-id", correlation)
        .send()
        .await
        .expect("answered");
    assert_eq!(
        response.headers()["x-ms-correlation-request-id"],
        correlation
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn lists_page_by_next_link() {
    let env = Env::start().await;
    let token = env.reader_token().await;
    let first_path = storage_list_path(SUB);
    let mut url = env.url(&first_path);
    let mut pages = Vec::new();
    loop {
        let response = env.get_url(Some(&token), &url).await;
        assert_eq!(response.status(), StatusCode::OK, "{url}");
        let page: Value = response.json().await.expect("json");
        let next = page
            .get("nextLink")
            .and_then(Value::as_str)
            .map(str::to_owned);
        pages.push(ids(&page));
        match next {
            Some(next) => {
                let expected_prefix = format!(
                    "{}/subscriptions/{SUB}/providers/Microsoft.Storage/storageAccounts?api-version={API}&%24skipToken=",
                    env.emulator.base_url()
                );
                assert!(next.starts_with(&expected_prefix), "{next}");
                url = next;
            }
            None => break,
        }
        assert!(pages.len() < 10, "paging does not end");
    }
    // Page size 2 (the subscription's), scenario order, resources from every resource group.
    assert_eq!(
        pages,
        vec![vec!["sa1", "sa2"], vec!["sa3", "sa4"], vec!["sa5"]]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn lists_a_resource_group_case_insensitively() {
    let env = Env::start().await;
    let token = env.reader_token().await;
    let response = env
        .arm_get(
            Some(&token),
            &format!(
                "{}/providers/microsoft.storage/STORAGEACCOUNTS?api-version={API}",
                resource_group_path("rg2")
            ),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let page: Value = response.json().await.expect("json");
    assert_eq!(ids(&page), vec!["sa3", "sa4"]);
    assert!(page.get("nextLink").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn gets_resources_and_children_as_stored() {
    let env = Env::start().await;
    let token = env.reader_token().await;
    let scenario = unit_scenario();
    let stored = |id: &str| {
        scenario.subscriptions[0]
            .resources
            .iter()
            .find(|r| r["id"] == id)
            .cloned()
            .expect("stored")
    };

    let account = format!(
        "{}/providers/Microsoft.Storage/storageAccounts/sa1",
        resource_group_path("rg1")
    );
    let response = env
        .arm_get(Some(&token), &format!("{account}?api-version={API}"))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.json::<Value>().await.expect("json"),
        stored(&account)
    );

    // A singleton child, asked for in another casing: the stored casing comes back.
    let file_services = format!("{account}/fileServices/default");
    let response = env
        .arm_get(
            Some(&token),
            &format!("{}?api-version={API}", file_services.to_uppercase()),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.json::<Value>().await.expect("json"),
        stored(&file_services)
    );

    // A subscription-level resource.
    let pricing =
        format!("/subscriptions/{SUB}/providers/Microsoft.Security/pricings/VirtualMachines");
    let response = env
        .arm_get(Some(&token), &format!("{pricing}?api-version=2024-01-01"))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread")]
async fn lists_children_of_a_parent() {
    let env = Env::start().await;
    let token = env.reader_token().await;
    let watchers = format!(
        "{}/providers/Microsoft.Network/networkWatchers",
        resource_group_path("NetworkWatcherRG")
    );

    let response = env
        .arm_get(
            Some(&token),
            &format!("{watchers}/nw1/flowLogs?api-version=2024-05-01"),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        ids(&response.json::<Value>().await.expect("json")),
        vec!["fl1", "fl2"]
    );

    let response = env
        .arm_get(
            Some(&token),
            &format!("{watchers}/nw2/flowLogs?api-version=2024-05-01"),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.json::<Value>().await.expect("json"),
        serde_json::json!({ "value": [] })
    );

    let response = env
        .arm_get(
            Some(&token),
            &format!("{watchers}/nw9/flowLogs?api-version=2024-05-01"),
        )
        .await;
    let message = assert_arm_error(response, StatusCode::NOT_FOUND, "ParentResourceNotFound").await;
    assert_eq!(
        message,
        format!(
            "Failed to perform 'read' on resource(s) of type 'networkWatchers/flowLogs', because the parent resource '{watchers}/nw9' could not be found."
        )
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_resources_and_subscriptions_are_404() {
    let env = Env::start().await;
    let token = env.reader_token().await;
    let response = env
        .arm_get(
            Some(&token),
            &format!(
                "{}/providers/Microsoft.Storage/storageAccounts/sa9?api-version={API}",
                resource_group_path("rg1")
            ),
        )
        .await;
    let message = assert_arm_error(response, StatusCode::NOT_FOUND, "ResourceNotFound").await;
    assert_eq!(
        message,
        "The Resource 'Microsoft.Storage/storageAccounts/sa9' under resource group 'rg1' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix"
    );

    let missing = "00000000-0000-0000-0000-00000000dead";
    let response = env.arm_get(Some(&token), &storage_list_path(missing)).await;
    let message = assert_arm_error(response, StatusCode::NOT_FOUND, "SubscriptionNotFound").await;
    assert_eq!(
        message,
        format!("The subscription '{missing}' could not be found.")
    );

    let response = env
        .arm_get(
            Some(&token),
            &format!("/subscriptions/not-a-guid?api-version={API}"),
        )
        .await;
    assert_arm_error(response, StatusCode::BAD_REQUEST, "InvalidSubscriptionId").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_api_version_is_400() {
    let env = Env::start().await;
    let token = env.reader_token().await;
    let response = env
        .arm_get(Some(&token), &format!("/subscriptions/{SUB}"))
        .await;
    let message = assert_arm_error(
        response,
        StatusCode::BAD_REQUEST,
        "MissingApiVersionParameter",
    )
    .await;
    assert_eq!(
        message,
        "The api-version query parameter (?api-version=) is required for all requests."
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_or_invalid_tokens_are_401_with_a_challenge() {
    let env = Env::start().await;
    let path = storage_list_path(SUB);

    let response = env.arm_get(None, &path).await;
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(challenge.starts_with(&format!(
        "Bearer authorization_uri=\"https://login.windows.net/{TENANT}\", error=\"invalid_token\""
    )), "{challenge}");
    assert_arm_error(response, StatusCode::UNAUTHORIZED, "AuthenticationFailed").await;

    let response = env.arm_get(Some("not.a.token"), &path).await;
    assert!(response.headers().contains_key("www-authenticate"));
    let message = assert_arm_error(
        response,
        StatusCode::UNAUTHORIZED,
        "InvalidAuthenticationToken",
    )
    .await;
    assert_eq!(message, "The access token is invalid.");

    // A token from another emulator process is not valid here.
    let other = Env::start().await;
    let foreign = other.reader_token().await;
    let response = env.arm_get(Some(&foreign), &path).await;
    assert_arm_error(
        response,
        StatusCode::UNAUTHORIZED,
        "InvalidAuthenticationToken",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn expired_tokens_are_401() {
    let mut scenario = unit_scenario();
    scenario.token_lifetime_seconds = 1;
    let env = Env::start_with(scenario).await;
    let token = env.reader_token().await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let response = env.arm_get(Some(&token), &storage_list_path(SUB)).await;
    assert!(response.headers().contains_key("www-authenticate"));
    let message = assert_arm_error(
        response,
        StatusCode::UNAUTHORIZED,
        "ExpiredAuthenticationToken",
    )
    .await;
    assert!(
        message.starts_with("The access token expiry UTC time '"),
        "{message}"
    );
    assert!(
        message.contains("' is earlier than current UTC time '"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_for_another_audience_are_401() {
    let env = Env::start().await;
    let token = env
        .token_for(
            TENANT,
            READER_CLIENT,
            READER_SECRET,
            "https://graph.microsoft.com/.default",
        )
        .await;
    let response = env.arm_get(Some(&token), &storage_list_path(SUB)).await;
    let message = assert_arm_error(
        response,
        StatusCode::UNAUTHORIZED,
        "InvalidAuthenticationTokenAudience",
    )
    .await;
    assert_eq!(
        message,
        "The access token has been obtained for wrong audience or resource 'https://graph.microsoft.com'. It should exactly match with one of the allowed audiences 'https://management.core.windows.net/','https://management.core.windows.net','https://management.azure.com/','https://management.azure.com'."
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_from_another_tenant_are_401() {
    let env = Env::start().await;
    let token = env
        .token_for(OTHER_TENANT, FABRIKAM_CLIENT, FABRIKAM_SECRET, ARM_SCOPE)
        .await;
    let response = env.arm_get(Some(&token), &storage_list_path(SUB)).await;
    let message = assert_arm_error(
        response,
        StatusCode::UNAUTHORIZED,
        "InvalidAuthenticationTokenTenant",
    )
    .await;
    assert!(message.starts_with(&format!(
        "The access token is from the wrong issuer 'https://sts.windows.net/{OTHER_TENANT}/'. It must match the tenant 'https://sts.windows.net/{TENANT}/' associated with this subscription."
    )));
    // The same token works on its own tenant's subscription.
    let response = env
        .arm_get(
            Some(&token),
            &format!("/subscriptions/{OTHER_SUB}?api-version=2022-12-01"),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread")]
async fn principals_without_the_action_get_403() {
    let env = Env::start().await;
    let token = env.arm_token(NETWORK_CLIENT, NETWORK_SECRET).await;

    let response = env.arm_get(Some(&token), &storage_list_path(SUB)).await;
    assert_eq!(response.headers()["x-ms-failure-cause"], "gateway");
    let message = assert_arm_error(response, StatusCode::FORBIDDEN, "AuthorizationFailed").await;
    assert_eq!(
        message,
        format!(
            "The client '{NETWORK_OID}' with object id '{NETWORK_OID}' does not have authorization to perform action 'Microsoft.Storage/storageAccounts/read' over scope '/subscriptions/{SUB}' or the scope is invalid. If access was recently granted, please refresh your credentials."
        )
    );

    let response = env
        .arm_get(
            Some(&token),
            &format!("/subscriptions/{SUB}?api-version=2022-12-01"),
        )
        .await;
    let message = assert_arm_error(response, StatusCode::FORBIDDEN, "AuthorizationFailed").await;
    assert!(
        message.contains("'Microsoft.Resources/subscriptions/read' over scope '/subscriptions/")
    );

    // What the grant covers works.
    let response = env
        .arm_get(Some(&token), &format!("/subscriptions/{SUB}/providers/Microsoft.Network/networkWatchers?api-version=2024-05-01"))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        ids(&response.json::<Value>().await.expect("json")),
        vec!["nw1", "nw2"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn lists_the_subscriptions_a_principal_can_see() {
    let env = Env::start().await;
    let token = env.reader_token().await;
    let response = env
        .arm_get(Some(&token), "/subscriptions?api-version=2022-12-01")
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let page: Value = response.json().await.expect("json");
    assert_eq!(ids(&page), vec![SUB.to_owned()]);
}
