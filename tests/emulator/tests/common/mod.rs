//! Shared helpers for the emulator's integration tests: start an emulator on the unit scenario,
//! and talk to it over https the way the product would, trusting only its CA.
#![allow(dead_code)]

use azure_emulator::{EmulatorHandle, EmulatorOptions, Scenario};
use reqwest::StatusCode;
use serde_json::Value;

pub const TENANT: &str = "11111111-1111-1111-1111-111111111111";
pub const TENANT_DOMAIN: &str = "contoso.onmicrosoft.com";
pub const OTHER_TENANT: &str = "22222222-2222-2222-2222-222222222222";
pub const SUB: &str = "00000000-0000-0000-0000-0000000000a1";
pub const OTHER_SUB: &str = "00000000-0000-0000-0000-0000000000b2";

pub const READER_CLIENT: &str = "aaaaaaaa-0000-0000-0000-000000000001";
pub const READER_OID: &str = "bbbbbbbb-0000-0000-0000-000000000001";
/// Has characters that must be URL-encoded in a form.
pub const READER_SECRET: &str = "reader~secret+/=";
pub const READER_EXPIRED_SECRET: &str = "old~secret";
pub const NETWORK_CLIENT: &str = "aaaaaaaa-0000-0000-0000-000000000002";
pub const NETWORK_OID: &str = "bbbbbbbb-0000-0000-0000-000000000002";
pub const NETWORK_SECRET: &str = "network~secret";
pub const DISABLED_CLIENT: &str = "aaaaaaaa-0000-0000-0000-000000000003";
pub const DISABLED_SECRET: &str = "disabled~secret";
pub const FABRIKAM_CLIENT: &str = "aaaaaaaa-0000-0000-0000-000000000005";
pub const FABRIKAM_SECRET: &str = "fabrikam~secret";

pub const ARM_SCOPE: &str = "https://management.azure.com/.default";
pub const API: &str = "2023-05-01";

pub fn unit_scenario() -> Scenario {
    Scenario::from_file(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/unit.json"))
        .expect("unit scenario loads")
}

/// The unit scenario with its JSON edited first, so tests exercise the scenario format.
pub fn unit_scenario_with(edit: impl FnOnce(&mut Value)) -> Scenario {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/unit.json");
    let text = std::fs::read_to_string(path).expect("unit scenario readable");
    let mut json: Value = serde_json::from_str(&text).expect("unit scenario JSON");
    edit(&mut json);
    Scenario::from_json(&json.to_string()).expect("edited scenario loads")
}

/// An https client that trusts the emulator's CA.
pub fn client_for(ca_pem: &str) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(ca_pem.as_bytes()).expect("CA PEM parses");
    reqwest::Client::builder()
        .add_root_certificate(ca)
        .no_proxy()
        .build()
        .expect("client builds")
}

pub struct Env {
    pub emulator: EmulatorHandle,
    pub http: reqwest::Client,
}

impl Env {
    pub async fn start() -> Env {
        Env::start_with(unit_scenario()).await
    }

    pub async fn start_with(scenario: Scenario) -> Env {
        let emulator = azure_emulator::start(scenario, EmulatorOptions::default())
            .await
            .expect("emulator starts");
        let http = client_for(emulator.ca_pem());
        Env { emulator, http }
    }

    pub fn url(&self, path_and_query: &str) -> String {
        format!("{}{path_and_query}", self.emulator.base_url())
    }

    pub async fn request_token(&self, tenant: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(self.url(&format!("/{tenant}/oauth2/v2.0/token")))
            .form(form)
            .send()
            .await
            .expect("token request is answered")
    }

    /// A token for `scope`, asserting success.
    pub async fn token_for(
        &self,
        tenant: &str,
        client_id: &str,
        secret: &str,
        scope: &str,
    ) -> String {
        let response = self
            .request_token(
                tenant,
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", client_id),
                    ("client_secret", secret),
                    ("scope", scope),
                ],
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.expect("token JSON");
        body["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    /// An ARM token for an application of the main tenant.
    pub async fn arm_token(&self, client_id: &str, secret: &str) -> String {
        self.token_for(TENANT, client_id, secret, ARM_SCOPE).await
    }

    pub async fn reader_token(&self) -> String {
        self.arm_token(READER_CLIENT, READER_SECRET).await
    }

    pub async fn arm_get(&self, token: Option<&str>, path_and_query: &str) -> reqwest::Response {
        self.get_url(token, &self.url(path_and_query)).await
    }

    pub async fn get_url(&self, token: Option<&str>, url: &str) -> reqwest::Response {
        let mut request = self.http.get(url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("ARM request is answered")
    }
}

/// Asserts an ARM error response and returns its message.
pub async fn assert_arm_error(
    response: reqwest::Response,
    status: StatusCode,
    code: &str,
) -> String {
    assert_eq!(response.status(), status, "status of {}", response.url());
    let content_type = response.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert_eq!(content_type, "application/json; charset=utf-8");
    let body: Value = response.json().await.expect("ARM error JSON");
    assert_eq!(body["error"]["code"], code, "body: {body}");
    body["error"]["message"]
        .as_str()
        .expect("message")
        .to_owned()
}

pub fn storage_list_path(subscription: &str) -> String {
    format!(
        "/subscriptions/{subscription}/providers/Microsoft.Storage/storageAccounts?api-version={API}"
    )
}

pub fn resource_group_path(group: &str) -> String {
    format!("/subscriptions/{SUB}/resourceGroups/{group}")
}
