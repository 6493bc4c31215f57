//! Microsoft.Authorization: a principal's own permissions, role assignments filtered by
//! principal, and role definitions, answered from the subscription's access entries.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

const READER_ROLE: &str = "acdd72a7-3385-48ef-bd42-f606fba81ae7";
const SECURITY_READER_ROLE: &str = "39bc4728-0917-49c7-9d2c-d95423bc2eb4";
const LONELY_CLIENT: &str = "aaaaaaaa-0000-0000-0000-000000000006";
const LONELY_OID: &str = "bbbbbbbb-0000-0000-0000-000000000006";
const LONELY_SECRET: &str = "lonely~secret";
const CUSTOM_ROLE: &str = "00000000-1111-2222-3333-444444444444";

/// The unit scenario, where the reader also holds Security Reader and a role with an explicit
/// definition id, and an application holds no role at all.
fn scenario() -> azure_emulator::Scenario {
    unit_scenario_with(|scenario| {
        let access = scenario["subscriptions"][0]["access"]
            .as_array_mut()
            .expect("access");
        access.push(json!({
            "object_id": READER_OID, "role": "security reader",
            "actions": ["Microsoft.Security/*/read"]
        }));
        access.push(json!({
            "object_id": READER_OID, "role": "Scanner Extras",
            "role_definition_id": format!("/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{CUSTOM_ROLE}"),
            "actions": ["Microsoft.Web/sites/config/list/action"], "not_actions": ["Microsoft.Web/sites/delete"]
        }));
        scenario["tenants"][0]["applications"]
            .as_array_mut()
            .expect("applications")
            .push(json!({
                "client_id": LONELY_CLIENT, "object_id": LONELY_OID,
                "secrets": [{ "value": LONELY_SECRET }]
            }));
    })
}

fn authorization_path(rest: &str) -> String {
    format!("/subscriptions/{SUB}/providers/Microsoft.Authorization/{rest}")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_principal_reads_its_own_effective_permissions() {
    let env = Env::start_with(scenario()).await;
    let token = env.reader_token().await;
    let path = authorization_path("permissions?api-version=2022-04-01");
    let response = env.arm_get(Some(&token), &path).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.json::<Value>().await.expect("json"),
        json!({"value": [
            {"actions": ["*/read"], "notActions": [], "dataActions": [], "notDataActions": []},
            {"actions": ["Microsoft.Security/*/read"], "notActions": [], "dataActions": [], "notDataActions": []},
            {"actions": ["Microsoft.Web/sites/config/list/action"], "notActions": ["Microsoft.Web/sites/delete"], "dataActions": [], "notDataActions": []},
        ]})
    );

    // A principal whose only role does not cover Microsoft.Authorization still sees its own.
    let network = env.arm_token(NETWORK_CLIENT, NETWORK_SECRET).await;
    let response = env.arm_get(Some(&network), &path).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.json::<Value>().await.expect("json")["value"],
        json!([{"actions": ["Microsoft.Network/*/read"], "notActions": [], "dataActions": [], "notDataActions": []}])
    );

    // A principal with no role gets 403.
    let lonely = env.arm_token(LONELY_CLIENT, LONELY_SECRET).await;
    let response = env.arm_get(Some(&lonely), &path).await;
    let message = assert_arm_error(response, StatusCode::FORBIDDEN, "AuthorizationFailed").await;
    assert_eq!(
        message,
        format!(
            "The client '{LONELY_OID}' with object id '{LONELY_OID}' does not have authorization to perform action 'Microsoft.Authorization/permissions/read' over scope '/subscriptions/{SUB}' or the scope is invalid. If access was recently granted, please refresh your credentials."
        )
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn role_assignments_of_a_principal() {
    let env = Env::start_with(scenario()).await;
    let token = env.reader_token().await;
    let path = authorization_path(&format!(
        "roleAssignments?api-version=2022-04-01&$filter=principalId%20eq%20'{READER_OID}'"
    ));
    let response = env.arm_get(Some(&token), &path).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("json");
    let assignments = body["value"].as_array().expect("value");
    assert_eq!(assignments.len(), 3);
    let first = &assignments[0];
    let name = first["name"].as_str().expect("name");
    assert!(uuid::Uuid::try_parse(name).is_ok());
    assert_eq!(
        first["id"],
        format!("/subscriptions/{SUB}/providers/Microsoft.Authorization/roleAssignments/{name}")
    );
    assert_eq!(first["type"], "Microsoft.Authorization/roleAssignments");
    let role_ids: Vec<&str> = assignments
        .iter()
        .map(|a| {
            a["properties"]["roleDefinitionId"]
                .as_str()
                .expect("roleDefinitionId")
        })
        .collect();
    let definition = |guid: &str| {
        format!("/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{guid}")
    };
    assert_eq!(
        role_ids,
        vec![
            definition(READER_ROLE),
            definition(SECURITY_READER_ROLE),
            definition(CUSTOM_ROLE)
        ]
    );
    let properties = &first["properties"];
    assert_eq!(properties["principalId"], READER_OID);
    assert_eq!(properties["principalType"], "ServicePrincipal");
    assert_eq!(properties["scope"], format!("/subscriptions/{SUB}"));

    // The names are stable, and each assignment can be read by name.
    let again: Value = env
        .arm_get(Some(&token), &path)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(again, body);
    let single = env
        .arm_get(
            Some(&token),
            &authorization_path(&format!("roleAssignments/{name}?api-version=2022-04-01")),
        )
        .await;
    assert_eq!(single.json::<Value>().await.expect("json"), *first);

    // Without a filter: everyone's. An unknown filter is refused.
    let all: Value = env
        .arm_get(
            Some(&token),
            &authorization_path("roleAssignments?api-version=2022-04-01"),
        )
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(all["value"].as_array().map(Vec::len), Some(4));
    let response = env
        .arm_get(
            Some(&token),
            &authorization_path("roleAssignments?api-version=2022-04-01&$filter=foo"),
        )
        .await;
    assert_arm_error(response, StatusCode::BAD_REQUEST, "UnsupportedQuery").await;

    // Listing assignments needs Microsoft.Authorization/roleAssignments/read.
    let network = env.arm_token(NETWORK_CLIENT, NETWORK_SECRET).await;
    let response = env.arm_get(Some(&network), &path).await;
    let message = assert_arm_error(response, StatusCode::FORBIDDEN, "AuthorizationFailed").await;
    assert!(message.contains("'Microsoft.Authorization/roleAssignments/read'"));
}

#[tokio::test(flavor = "multi_thread")]
async fn role_definitions_built_in_and_custom() {
    let env = Env::start_with(scenario()).await;
    let token = env.reader_token().await;
    let get =
        |guid: &str| authorization_path(&format!("roleDefinitions/{guid}?api-version=2022-04-01"));

    let reader: Value = env
        .arm_get(Some(&token), &get(READER_ROLE))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        reader["id"],
        format!(
            "/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{READER_ROLE}"
        )
    );
    assert_eq!(reader["name"], READER_ROLE);
    assert_eq!(reader["type"], "Microsoft.Authorization/roleDefinitions");
    let properties = &reader["properties"];
    assert_eq!(properties["roleName"], "Reader");
    assert_eq!(properties["type"], "BuiltInRole");
    assert_eq!(properties["assignableScopes"], json!(["/"]));
    assert_eq!(
        properties["permissions"],
        json!([{"actions": ["*/read"], "notActions": [], "dataActions": [], "notDataActions": []}])
    );

    let security: Value = env
        .arm_get(Some(&token), &get(SECURITY_READER_ROLE))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(security["properties"]["roleName"], "Security Reader");
    let actions = &security["properties"]["permissions"][0]["actions"];
    assert!(
        actions
            .as_array()
            .is_some_and(|a| a.contains(&json!("Microsoft.Security/*/read")))
    );

    let custom: Value = env
        .arm_get(Some(&token), &get(&CUSTOM_ROLE.to_uppercase()))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(custom["name"], CUSTOM_ROLE);
    assert_eq!(custom["properties"]["roleName"], "Scanner Extras");
    assert_eq!(custom["properties"]["type"], "CustomRole");
    assert_eq!(
        custom["properties"]["assignableScopes"],
        json!([format!("/subscriptions/{SUB}")])
    );
    assert_eq!(
        custom["properties"]["permissions"][0]["notActions"],
        json!(["Microsoft.Web/sites/delete"])
    );

    // The unit scenario's "Network Reader" gets a derived, stable id.
    let all: Value = env
        .arm_get(
            Some(&token),
            &authorization_path(
                "roleDefinitions?api-version=2022-04-01&$filter=roleName%20eq%20'Network%20Reader'",
            ),
        )
        .await
        .json()
        .await
        .expect("json");
    let network = &all["value"][0];
    assert_eq!(network["properties"]["roleName"], "Network Reader");
    let guid = network["name"].as_str().expect("name");
    assert!(uuid::Uuid::try_parse(guid).is_ok());
    assert_eq!(
        env.arm_get(Some(&token), &get(guid)).await.status(),
        StatusCode::OK
    );

    let missing = "99999999-9999-9999-9999-999999999999";
    let response = env.arm_get(Some(&token), &get(missing)).await;
    let message = assert_arm_error(
        response,
        StatusCode::NOT_FOUND,
        "RoleDefinitionDoesNotExist",
    )
    .await;
    assert_eq!(
        message,
        format!("The specified role definition with ID '{missing}' does not exist.")
    );
}
