//! Test support for the Azure access tests: an in-process emulator with a small world, and the
//! product's HTTP client, token provider and ARM client pointed at it as a custom cloud.

#![allow(dead_code)]

use std::time::Duration;

use azure_emulator::{EmulatorHandle, EmulatorOptions, Scenario};
use secrecy::SecretString;
use serde_json::{Value, json};
use shared::azure::cloud::{Cloud, CloudRegistry, CustomCloud, RegisteredCloud};
use shared::azure::limiter::ReadLimiter;
use shared::azure::{ArmClient, Principal, RetrySettings, TokenProvider};

pub const TENANT: &str = "11111111-1111-1111-1111-111111111111";
pub const SUB: &str = "00000000-0000-0000-0000-0000000000a1";
pub const READER: &str = "aaaaaaaa-0000-0000-0000-000000000001";
pub const READER_OID: &str = "bbbbbbbb-0000-0000-0000-000000000001";
pub const READER_SECRET: &str = "reader~secret+/=";
pub const NETWORK_ONLY: &str = "aaaaaaaa-0000-0000-0000-000000000002";
pub const DISABLED: &str = "aaaaaaaa-0000-0000-0000-000000000003";
pub const BLOCKED: &str = "aaaaaaaa-0000-0000-0000-000000000004";

/// A world with `accounts` storage accounts (each with a file service) and a few principals.
pub fn world(accounts: usize, page_size: usize) -> Value {
    let resources: Vec<Value> = (0..accounts)
        .flat_map(|i| {
            let id = format!(
                "/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/sa{i:04}"
            );
            [
                json!({"id": id, "name": format!("sa{i:04}"), "type": "Microsoft.Storage/storageAccounts",
                       "location": "eastus", "kind": "StorageV2", "properties": {"minimumTlsVersion": "TLS1_2"}}),
                json!({"id": format!("{id}/fileServices/default"), "name": "default",
                       "type": "Microsoft.Storage/storageAccounts/fileServices", "properties": {}}),
            ]
        })
        .collect();
    json!({
        "tenants": [{
            "id": TENANT,
            "domains": ["contoso.onmicrosoft.com"],
            "applications": [
                {"client_id": READER, "object_id": READER_OID, "display_name": "reader",
                 "secrets": [{"value": "old~secret", "expires_at": "{{now-1d}}"},
                             {"value": READER_SECRET, "expires_at": "{{now+365d}}"}]},
                {"client_id": NETWORK_ONLY, "object_id": "bbbbbbbb-0000-0000-0000-000000000002",
                 "secrets": [{"value": "network~secret"}]},
                {"client_id": DISABLED, "object_id": "bbbbbbbb-0000-0000-0000-000000000003",
                 "enabled": false, "secrets": [{"value": "disabled~secret"}]},
                {"client_id": BLOCKED, "object_id": "bbbbbbbb-0000-0000-0000-000000000004",
                 "conditional_access_blocked": true, "secrets": [{"value": "blocked~secret"}]}
            ]
        }, {
            "id": "33333333-3333-3333-3333-333333333333",
            "national_cloud": "AzureChinaCloud",
            "applications": []
        }],
        "subscriptions": [{
            "id": SUB, "tenant_id": TENANT, "display_name": "Test", "state": "Enabled",
            "page_size": page_size,
            "access": [
                {"object_id": READER_OID, "role": "Reader", "actions": ["*/read"]},
                {"object_id": "bbbbbbbb-0000-0000-0000-000000000002", "role": "Network reader",
                 "actions": ["Microsoft.Network/*/read"]}
            ],
            "resources": resources
        }]
    })
}

pub struct Azure {
    pub emulator: EmulatorHandle,
    pub http: reqwest::Client,
    pub tokens: TokenProvider,
}

impl Azure {
    pub async fn start(world: Value) -> Self {
        let scenario = Scenario::from_json(&world.to_string()).expect("scenario");
        let emulator = azure_emulator::start(scenario, EmulatorOptions::default())
            .await
            .expect("emulator");
        let cert = reqwest::Certificate::from_pem(emulator.ca_pem().as_bytes()).expect("ca");
        let http = reqwest::Client::builder()
            .https_only(true)
            .add_root_certificate(cert)
            .timeout(Duration::from_secs(5))
            .build()
            .expect("client");
        let tokens = TokenProvider::new(http.clone());
        Self {
            emulator,
            http,
            tokens,
        }
    }

    /// The emulator as the operator would register it (loopback allowed).
    pub fn registry(&self) -> CloudRegistry {
        CloudRegistry::default()
            .with(
                "emulator",
                RegisteredCloud {
                    cloud: CustomCloud {
                        authority_host: self.emulator.base_url(),
                        resource_manager: self.emulator.base_url(),
                        graph: None,
                        arm_audience: Some("https://management.azure.com/".into()),
                        graph_audience: None,
                        regions: None,
                        throttle_model: Some(shared::azure::cloud::ThrottleModel::TokenBucket),
                    },
                    allow_private_addresses: true,
                },
            )
            .expect("registry")
    }

    pub fn cloud(&self) -> Cloud {
        Cloud::Registered {
            name: "emulator".into(),
        }
    }

    pub fn endpoints(&self) -> shared::azure::Endpoints {
        self.registry().resolve(&self.cloud()).expect("registered")
    }

    pub fn principal(&self, tenant: &str, client: &str, secret: &str) -> Principal {
        Principal {
            endpoints: self.endpoints(),
            tenant_id: tenant.into(),
            client_id: client.into(),
            secret: SecretString::from(secret.to_string()),
        }
    }

    pub fn reader(&self) -> Principal {
        self.principal(TENANT, READER, READER_SECRET)
    }

    /// An ARM client with fast retries (tests should not wait for real backoff).
    pub fn arm(&self) -> ArmClient {
        ArmClient::new(self.http.clone(), self.tokens.clone(), fast_retries())
    }

    pub async fn arm_with_limiter(&self, prefix: &str) -> ArmClient {
        let conn = shared::store::RedisConn::connect(&["redis://127.0.0.1:6379/"], false)
            .await
            .expect("redis");
        self.arm().with_limiter(ReadLimiter::new(conn, prefix))
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.emulator.base_url())
    }
}

pub fn fast_retries() -> RetrySettings {
    RetrySettings {
        max_retries: 4,
        min_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(200),
        max_retry_after: Duration::from_secs(5),
    }
}

/// Deletes every Redis key under `prefix`.
pub async fn clean_redis(prefix: &str) {
    let client = redis::Client::open("redis://127.0.0.1:6379/").expect("redis url");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("redis");
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut conn)
        .await
        .expect("keys");
    if !keys.is_empty() {
        let _: () = redis::cmd("DEL")
            .arg(keys)
            .query_async(&mut conn)
            .await
            .expect("del");
    }
}
