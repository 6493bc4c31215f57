//! Every kind of data source the services need, collected by the worker's collector from the
//! emulator: Microsoft Graph objects and paged collections (429 then success, 403 naming the
//! application permission, foreign and repeating links refused, a cloud without Graph),
//! subscription-scope objects and lists (a `$filter` sent encoded), grandchildren (a 404 is
//! absent, a 403 fails only that parent's child and only the checks that read it), and a
//! resource's diagnostic settings. Then validation's access map: services a custom role cannot
//! read and the Graph permissions granted or missing.
//!
//! The services here are test-only [`ServiceDef`]s with tiny custom checks: the real services
//! come with their own issues; the collector and validation only see collections.

use std::time::Duration;

use azure_emulator::{EmulatorHandle, EmulatorOptions, Fault, Scenario};
use chrono::Utc;
use secrecy::SecretString;
use serde_json::{Value, json};
use shared::azure::cloud::{Cloud, CloudRegistry};
use shared::azure::{ArmClient, Principal, RetrySettings, TokenProvider};
use shared::checks::source::DIAGNOSTIC_SETTINGS_READ;
use shared::checks::{
    Check, CheckMeta, CheckStatus, ChildOutcome, Collection, EvalContext, FetchError, ServiceDef,
    Severity, props, region::RegionFilter,
};
use shared::messages::{Finding, FindingStatus};
use shared::store::{Capabilities, ConnectionRecord, ConnectionState};
use uuid::Uuid;
use worker::collect::{Collected, collect};

const TENANT: &str = "51515151-0000-0000-0000-000000000001";
const SUB: &str = "51515151-0000-0000-0000-0000000000a1";
const SCANNER: &str = "51515151-aaaa-0000-0000-000000000001";
const SCANNER_OID: &str = "51515151-bbbb-0000-0000-000000000001";
const NO_STORAGE: &str = "51515151-aaaa-0000-0000-000000000002";
const NO_STORAGE_OID: &str = "51515151-bbbb-0000-0000-000000000002";
const SECRET: &str = "sources~secret";
const RG: &str = "/resourceGroups/data";

fn server(name: &str) -> String {
    format!("/subscriptions/{SUB}{RG}/providers/Microsoft.Sql/servers/{name}")
}

/// Two SQL servers with three databases: TDE on `sql1/app`, none on `sql1/audit` (404), and
/// `sql2/db2` is refused by a fault (403). Subscription-scope Defender, Monitor and policy
/// objects, a diagnostic setting on `sql1`, and a directory in Graph.
fn world() -> Value {
    let sub = format!("/subscriptions/{SUB}");
    let db = |server_name: &str, name: &str| {
        json!({"id": format!("{}/databases/{name}", server(server_name)), "name": name,
               "type": "Microsoft.Sql/servers/databases", "location": "eastus",
               "properties": {"status": "Online"}})
    };
    let users: Vec<Value> = (0..5)
        .map(|i| {
            json!({"id": format!("00000000-0000-0000-0000-00000000010{i}"),
                   "displayName": format!("User {i}"),
                   "userPrincipalName": format!("user{i}@contoso.onmicrosoft.com"),
                   "accountEnabled": true})
        })
        .collect();
    json!({
        "tenants": [{
            "id": TENANT,
            "applications": [
                {"client_id": SCANNER, "object_id": SCANNER_OID, "display_name": "scanner",
                 "secrets": [{"value": SECRET}],
                 "graph_permissions": ["Policy.Read.All", "Directory.Read.All"]},
                {"client_id": NO_STORAGE, "object_id": NO_STORAGE_OID, "display_name": "no storage",
                 "secrets": [{"value": SECRET}]}
            ],
            "graph": {
                "page_size": 2,
                "objects": {
                    "/policies/authorizationPolicy": {
                        "@odata.type": "#microsoft.graph.authorizationPolicy",
                        "id": "authorizationPolicy",
                        "displayName": "Authorization Policy",
                        "allowInvitesFrom": "everyone",
                        "guestUserRoleId": "10dae51f-b6af-4016-8d66-8c2a99b929b3",
                        "defaultUserRolePermissions": {
                            "allowedToCreateApps": true,
                            "allowedToCreateSecurityGroups": true,
                            "permissionGrantPoliciesAssigned": ["ManagePermissionGrantsForSelf.microsoft-user-default-legacy"]
                        }
                    }
                },
                "collections": {
                    "/users": users,
                    "/reports/authenticationMethods/userRegistrationDetails": [
                        {"id": "00000000-0000-0000-0000-000000000100", "isAdmin": true,
                         "isMfaRegistered": false}
                    ]
                }
            }
        }],
        "subscriptions": [{
            "id": SUB, "tenant_id": TENANT, "display_name": "Sources",
            "access": [
                {"object_id": SCANNER_OID, "role": "Reader", "actions": ["*/read"]},
                {"object_id": NO_STORAGE_OID, "role": "Reader without storage",
                 "actions": ["*/read"], "not_actions": ["Microsoft.Storage/*"]}
            ],
            "resources": [
                {"id": server("sql1"), "name": "sql1", "type": "Microsoft.Sql/servers",
                 "location": "eastus", "properties": {"minimalTlsVersion": "1.2"}},
                {"id": server("sql2"), "name": "sql2", "type": "Microsoft.Sql/servers",
                 "location": "westeurope", "properties": {"minimalTlsVersion": "1.2"}},
                db("sql1", "app"), db("sql1", "audit"), db("sql2", "db2"),
                {"id": format!("{}/databases/app/transparentDataEncryption/Current", server("sql1")),
                 "name": "Current", "type": "Microsoft.Sql/servers/databases/transparentDataEncryption",
                 "properties": {"state": "Enabled"}},
                {"id": format!("{}/providers/Microsoft.Insights/diagnosticSettings/to-workspace", server("sql1")),
                 "name": "to-workspace", "type": "Microsoft.Insights/diagnosticSettings",
                 "properties": {"workspaceId": format!("{sub}{RG}/providers/Microsoft.OperationalInsights/workspaces/logs"),
                                "logs": [{"category": null, "categoryGroup": "audit", "enabled": true}],
                                "metrics": []}},
                {"id": format!("{sub}/providers/Microsoft.Security/pricings/VirtualMachines"),
                 "name": "VirtualMachines", "type": "Microsoft.Security/pricings",
                 "properties": {"pricingTier": "Standard", "subPlan": "P2"}},
                {"id": format!("{sub}/providers/Microsoft.Security/pricings/SqlServers"),
                 "name": "SqlServers", "type": "Microsoft.Security/pricings",
                 "properties": {"pricingTier": "Free"}},
                {"id": format!("{sub}/providers/Microsoft.Security/securityContacts/default"),
                 "name": "default", "type": "Microsoft.Security/securityContacts",
                 "properties": {"emails": "secops@contoso.com", "isEnabled": true,
                                "notificationsByRole": {"state": "On", "roles": ["Owner"]},
                                "notificationsSources": [{"sourceType": "Alert", "minimalSeverity": "High"}]}},
                {"id": format!("{sub}/providers/Microsoft.Security/autoProvisioningSettings/default"),
                 "name": "default", "type": "Microsoft.Security/autoProvisioningSettings",
                 "properties": {"autoProvision": "On"}},
                {"id": format!("{sub}/providers/Microsoft.Insights/diagnosticSettings/activity-log"),
                 "name": "activity-log", "type": "Microsoft.Insights/diagnosticSettings",
                 "properties": {"storageAccountId": format!("{sub}{RG}/providers/Microsoft.Storage/storageAccounts/logs"),
                                "logs": [{"category": "Administrative", "enabled": true},
                                         {"category": "Security", "enabled": true}]}},
                {"id": format!("{sub}{RG}/providers/Microsoft.Insights/activityLogAlerts/policy-write"),
                 "name": "policy-write", "type": "Microsoft.Insights/ActivityLogAlerts", "location": "Global",
                 "properties": {"enabled": true, "scopes": [sub],
                                "condition": {"allOf": [
                                    {"field": "category", "equals": "Administrative"},
                                    {"field": "operationName", "equals": "Microsoft.Authorization/policyAssignments/write"}]},
                                "actions": {"actionGroups": []}}},
                {"id": format!("{sub}/providers/Microsoft.Authorization/policyAssignments/SecurityCenterBuiltIn"),
                 "name": "SecurityCenterBuiltIn", "type": "Microsoft.Authorization/policyAssignments",
                 "properties": {"displayName": "ASC Default", "enforcementMode": "Default",
                                "policyDefinitionId": "/providers/Microsoft.Authorization/policySetDefinitions/1f3afdf9-d0c9-4c3d-847f-89da613e70a8"}}
            ]
        }]
    })
}

struct Azure {
    emulator: EmulatorHandle,
    arm: ArmClient,
    clouds: CloudRegistry,
}

impl Azure {
    async fn start() -> Self {
        Self::start_with(world()).await
    }

    async fn start_with(world: Value) -> Self {
        let scenario = Scenario::from_json(&world.to_string()).expect("scenario");
        let emulator = azure_emulator::start(scenario, EmulatorOptions::default())
            .await
            .expect("emulator");
        let cert = reqwest::Certificate::from_pem(emulator.ca_pem().as_bytes()).expect("ca");
        let http = reqwest::Client::builder()
            .https_only(true)
            .add_root_certificate(cert)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .expect("client");
        let retries = RetrySettings {
            max_retries: 4,
            min_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(200),
            max_retry_after: Duration::from_secs(5),
        };
        // The emulator registered by the operator twice: with Microsoft Graph and without.
        let base = emulator.base_url();
        let cloud = |graph: bool| {
            let mut c = json!({
                "authority_host": base,
                "resource_manager": base,
                "arm_audience": "https://management.azure.com/",
                "throttle_model": "token_bucket",
                "allow_private_addresses": true,
            });
            if graph {
                c["graph"] = json!(base);
            }
            c
        };
        let clouds = CloudRegistry::parse(
            &json!({ "emulator": cloud(false), "emulator-graph": cloud(true) }).to_string(),
        )
        .expect("registry");
        let arm = ArmClient::new(http.clone(), TokenProvider::new(http), retries)
            .with_clouds(clouds.clone());
        Self {
            emulator,
            arm,
            clouds,
        }
    }

    /// The emulator's registered cloud, with or without its Graph endpoint.
    fn cloud(&self, with_graph: bool) -> Cloud {
        Cloud::Registered {
            name: if with_graph {
                "emulator-graph"
            } else {
                "emulator"
            }
            .into(),
        }
    }

    fn principal(&self, client: &str, with_graph: bool) -> Principal {
        Principal {
            endpoints: self
                .clouds
                .resolve(&self.cloud(with_graph))
                .expect("registered"),
            tenant_id: TENANT.into(),
            client_id: client.into(),
            secret: SecretString::from(SECRET.to_string()),
        }
    }

    async fn collect(&self, service: &ServiceDef, with_graph: bool) -> Collected {
        let session = self
            .arm
            .session(self.principal(SCANNER, with_graph))
            .expect("session");
        collect(
            &session,
            service,
            SUB,
            &RegionFilter::new(Vec::<String>::new()),
            4,
        )
        .await
    }

    fn record(&self, client: &str, with_graph: bool) -> ConnectionRecord {
        ConnectionRecord {
            id: Uuid::new_v4(),
            organization_id: "sources".into(),
            name: "sources".into(),
            credential_name: "sources".into(),
            tenant_id: TENANT.into(),
            client_id: client.into(),
            subscription_id: SUB.into(),
            sealed_secret: String::new(),
            secret_version: "1".into(),
            regions: Vec::new(),
            capabilities: Capabilities::default(),
            cloud: self.cloud(with_graph),
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }
}

const META: CheckMeta = CheckMeta {
    id: "sources.placeholder",
    title: "Test check",
    severity: Severity::Low,
    description: "A test-only check.",
    remediation: "None.",
};

const fn meta(id: &'static str) -> CheckMeta {
    CheckMeta { id, ..META }
}

/// One finding per database from its TDE child: enabled passes, absent is not applicable, a
/// refused read is reported as such.
fn tde_findings(ctx: &EvalContext<'_>) -> Vec<Finding> {
    ctx.all_items("t.databases")
        .into_iter()
        .map(|db| match ctx.child("t.tde", props::resource_id(db)) {
            Some(ChildOutcome::Object(tde)) => props::verdict(
                db,
                props::prop_str(tde, "properties.state") == Some("Enabled"),
                Vec::new(),
                "TDE on",
                "TDE off",
            ),
            Some(ChildOutcome::Failed(err)) => props::unreadable(db, "its TDE", err),
            _ => props::finding(db, FindingStatus::NotApplicable, Vec::new(), "no TDE"),
        })
        .collect()
}

/// Every item of the collections a check reads passes (the check only proves the data came).
fn all_pass(keys: &'static [&'static str]) -> impl Fn(&EvalContext<'_>) -> Vec<Finding> {
    move |ctx| {
        keys.iter()
            .flat_map(|key| ctx.all_items(key))
            .map(|item| props::finding(item, FindingStatus::Passed, Vec::new(), "read"))
            .collect()
    }
}

fn databases_pass(ctx: &EvalContext<'_>) -> Vec<Finding> {
    all_pass(&["t.databases"])(ctx)
}

fn settings_pass(ctx: &EvalContext<'_>) -> Vec<Finding> {
    all_pass(SETTINGS)(ctx)
}

fn graph_pass(ctx: &EvalContext<'_>) -> Vec<Finding> {
    all_pass(&["t.authorization_policy", "t.users"])(ctx)
}

fn registration_pass(ctx: &EvalContext<'_>) -> Vec<Finding> {
    all_pass(&["t.registration"])(ctx)
}

const SETTINGS: &[&str] = &[
    "t.pricings",
    "t.security_contacts",
    "t.auto_provisioning",
    "t.activity_log_settings",
    "t.activity_log_alerts",
    "t.policy_assignments",
    "t.custom_roles",
    "t.server_diagnostics",
];

static COLLECTIONS: [Collection; 14] = [
    Collection::list(
        "t.servers",
        "Microsoft.Sql/servers",
        "2021-11-01",
        "Microsoft.Sql/servers/read",
    ),
    Collection::child_list(
        "t.databases",
        "t.servers",
        "/databases",
        "2021-11-01",
        "Microsoft.Sql/servers/databases/read",
    ),
    Collection::child(
        "t.tde",
        "t.databases",
        "/transparentDataEncryption/current",
        "2021-11-01",
        "Microsoft.Sql/servers/databases/transparentDataEncryption/read",
    ),
    Collection::diagnostic_settings("t.server_diagnostics", "t.servers"),
    Collection::list(
        "t.pricings",
        "Microsoft.Security/pricings",
        "2024-01-01",
        "Microsoft.Security/pricings/read",
    )
    .global(),
    Collection::list(
        "t.security_contacts",
        "Microsoft.Security/securityContacts",
        "2023-12-01-preview",
        "Microsoft.Security/securityContacts/read",
    )
    .global(),
    Collection::list(
        "t.auto_provisioning",
        "Microsoft.Security/autoProvisioningSettings",
        "2017-08-01-preview",
        "Microsoft.Security/autoProvisioningSettings/read",
    )
    .global(),
    Collection::list(
        "t.activity_log_settings",
        "Microsoft.Insights/diagnosticSettings",
        "2021-05-01-preview",
        DIAGNOSTIC_SETTINGS_READ,
    )
    .global(),
    Collection::list(
        "t.activity_log_alerts",
        "Microsoft.Insights/activityLogAlerts",
        "2020-10-01",
        "Microsoft.Insights/activityLogAlerts/read",
    )
    .global(),
    Collection::list(
        "t.policy_assignments",
        "Microsoft.Authorization/policyAssignments",
        "2022-06-01",
        "Microsoft.Authorization/policyAssignments/read",
    )
    .global(),
    Collection::list(
        "t.custom_roles",
        "Microsoft.Authorization/roleDefinitions",
        "2022-04-01",
        "Microsoft.Authorization/roleDefinitions/read",
    )
    .global()
    .filtered("type eq 'CustomRole'"),
    Collection::graph_get(
        "t.authorization_policy",
        "/policies/authorizationPolicy",
        "Policy.Read.All",
    ),
    Collection::graph_list("t.users", "/users", "Directory.Read.All"),
    Collection::graph_list(
        "t.registration",
        "/reports/authenticationMethods/userRegistrationDetails",
        "AuditLog.Read.All",
    ),
];

static CHECKS: [Check; 5] = [
    Check::custom(meta("t.tde_enabled"), &["t.tde"], tde_findings),
    Check::custom(meta("t.databases_listed"), &["t.databases"], databases_pass),
    Check::custom(meta("t.settings_read"), SETTINGS, settings_pass),
    Check::custom(
        meta("t.directory_read"),
        &["t.authorization_policy", "t.users"],
        graph_pass,
    ),
    Check::custom(
        meta("t.mfa_registration"),
        &["t.registration"],
        registration_pass,
    ),
];

static SERVICE: ServiceDef = ServiceDef {
    id: "sources",
    name: "Every source kind",
    collections: &COLLECTIONS,
    checks: &CHECKS,
    none_in_scope: "Nothing in scope",
};

static GRAPH_CHECKS: [Check; 1] = [Check::custom(
    meta("t.directory_read"),
    &["t.authorization_policy", "t.users"],
    graph_pass,
)];

static GRAPH_ONLY: ServiceDef = ServiceDef {
    id: "sources_graph",
    name: "Graph only",
    collections: &COLLECTIONS,
    checks: &GRAPH_CHECKS,
    none_in_scope: "Nothing in scope",
};

fn result(collected: &Collected, id: &str) -> shared::messages::CheckResult {
    let ctx = EvalContext::new(&collected.dataset, Utc::now(), SUB);
    let check = CHECKS.iter().find(|c| c.meta.id == id).expect("test check");
    shared::checks::run_check(&SERVICE, check, &ctx)
}

fn names(items: Vec<&Value>) -> Vec<String> {
    let mut names: Vec<String> = items
        .into_iter()
        .map(|i| props::resource_name(i).to_string())
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arm_sources_grandchildren_and_diagnostic_settings() {
    let azure = Azure::start().await;
    let tde_db2 = format!("{}/databases/db2/transparentDataEncryption", server("sql2"));
    let denied = json!({"error": {"code": "AuthorizationFailed", "message": format!(
        "The client '{SCANNER_OID}' with object id '{SCANNER_OID}' does not have authorization to perform action 'Microsoft.Sql/servers/databases/transparentDataEncryption/read' over scope '{tde_db2}/current' or the scope is invalid. If access was recently granted, please refresh your credentials.")}});
    azure
        .emulator
        .add_fault(Fault::status(tde_db2.as_str(), 403).with_body(denied))
        .expect("fault");

    let collected = azure.collect(&SERVICE, true).await;
    let data = &collected.dataset;

    // Grandchildren: databases of both servers, TDE of each database.
    assert_eq!(
        names(data.all_items("t.databases")),
        ["app", "audit", "db2"]
    );
    let app = format!("{}/databases/app", server("sql1"));
    let audit = format!("{}/databases/audit", server("sql1"));
    let db2 = format!("{}/databases/db2", server("sql2"));
    assert!(
        matches!(data.child("t.tde", &app), Some(ChildOutcome::Object(o)) if o["properties"]["state"] == "Enabled")
    );
    assert!(
        matches!(data.child("t.tde", &audit), Some(ChildOutcome::Absent)),
        "a grandchild 404 is absent"
    );
    assert!(matches!(
        data.child("t.tde", &db2),
        Some(ChildOutcome::Failed(FetchError::AccessDenied { action, .. }))
            if action == "Microsoft.Sql/servers/databases/transparentDataEncryption/read"
    ));
    assert!(
        data.failure("t.tde").is_none(),
        "one parent's 403 is not the collection's"
    );

    // Only the check that reads the refused grandchild ends Failed - Access Denied.
    let tde = result(&collected, "t.tde_enabled");
    assert_eq!(tde.status, CheckStatus::FailedAccessDenied, "{tde:?}");
    assert_eq!(
        tde.missing_permission.as_deref(),
        Some("Microsoft.Sql/servers/databases/transparentDataEncryption/read")
    );
    assert_eq!(
        result(&collected, "t.databases_listed").status,
        CheckStatus::Passed
    );

    // A resource's diagnostic settings: one list per server (empty where there are none).
    assert!(
        matches!(data.child("t.server_diagnostics", &server("sql1")), Some(ChildOutcome::Items(i)) if i.len() == 1 && i[0]["properties"]["logs"][0]["categoryGroup"] == "audit")
    );
    assert!(
        matches!(data.child("t.server_diagnostics", &server("sql2")), Some(ChildOutcome::Items(i)) if i.is_empty())
    );

    // Subscription-scope objects and lists.
    assert_eq!(
        names(data.all_items("t.pricings")),
        ["SqlServers", "VirtualMachines"]
    );
    assert_eq!(names(data.all_items("t.security_contacts")), ["default"]);
    assert_eq!(names(data.all_items("t.auto_provisioning")), ["default"]);
    assert_eq!(
        names(data.all_items("t.activity_log_settings")),
        ["activity-log"]
    );
    assert_eq!(
        names(data.all_items("t.activity_log_alerts")),
        ["policy-write"]
    );
    assert_eq!(
        names(data.all_items("t.policy_assignments")),
        ["SecurityCenterBuiltIn"]
    );
    // The `$filter` went encoded and was applied: only the custom role, not Reader.
    let roles = data.all_items("t.custom_roles");
    assert_eq!(roles.len(), 1, "{roles:?}");
    assert_eq!(
        roles[0]["properties"]["roleName"], "Reader without storage",
        "{roles:?}"
    );
    assert_eq!(roles[0]["properties"]["type"], "CustomRole");
    assert_eq!(
        result(&collected, "t.settings_read").status,
        CheckStatus::Passed
    );
    azure.emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graph_objects_pages_throttling_and_missing_permissions() {
    let azure = Azure::start().await;
    // Graph throttles the first read of the policy, saying when to come back.
    azure
        .emulator
        .add_fault(
            Fault::status("/v1.0/policies/authorizationPolicy", 429)
                .times(1)
                .with_retry_after(1),
        )
        .expect("fault");

    let collected = azure.collect(&SERVICE, true).await;
    let data = &collected.dataset;

    // 429 then success: the object is there, the wait was counted.
    let policy = data.items("t.authorization_policy");
    assert_eq!(policy.len(), 1, "a Graph object is a one-item collection");
    assert_eq!(policy[0]["id"], "authorizationPolicy");
    assert_eq!(collected.throttled, 1);
    assert!(collected.retries >= 1);

    // Paging: five users, two per page, three requests.
    let users = data.items("t.users");
    assert_eq!(users.len(), 5);
    assert_eq!(
        users[4]["userPrincipalName"],
        "user4@contoso.onmicrosoft.com"
    );
    assert_eq!(azure.emulator.counters().endpoint("GET /v1.0/users"), 3);
    let usage = collected
        .usage
        .iter()
        .find(|u| u.collection == "t.users")
        .expect("usage");
    assert_eq!((usage.requests, usage.items), (3, 5));

    // 403: the application lacks AuditLog.Read.All, and the check says so.
    assert!(matches!(
        data.failure("t.registration"),
        Some(FetchError::AccessDenied { action, .. }) if action == "AuditLog.Read.All"
    ));
    let mfa = result(&collected, "t.mfa_registration");
    assert_eq!(mfa.status, CheckStatus::FailedAccessDenied);
    assert_eq!(mfa.missing_permission.as_deref(), Some("AuditLog.Read.All"));
    assert!(mfa.reason.contains("AuditLog.Read.All"), "{}", mfa.reason);
    assert_eq!(
        result(&collected, "t.directory_read").status,
        CheckStatus::Passed
    );

    // Graph says the cached token expired: one fresh token, and the reads go on (a service
    // reading Graph only, so no ARM call refreshes the token first).
    azure.emulator.expire_tokens();
    let again = azure.collect(&GRAPH_ONLY, true).await;
    assert!(again.retries >= 1, "the expired token was replaced");
    assert_eq!(again.dataset.items("t.users").len(), 5);
    assert_eq!(again.dataset.items("t.authorization_policy").len(), 1);
    azure.emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graph_throttling_is_waited_out() {
    // Three requests a second at most: the three pages of users and the policy need a wait.
    let mut w = world();
    w["tenants"][0]["graph"]["throttling"] = json!({"limit": 3, "per_seconds": 1});
    let azure = Azure::start_with(w).await;
    let collected = azure.collect(&GRAPH_ONLY, true).await;
    assert_eq!(collected.dataset.items("t.users").len(), 5);
    assert_eq!(collected.dataset.items("t.authorization_policy").len(), 1);
    assert!(collected.throttled >= 1, "{collected:?}");
    assert_eq!(
        azure.emulator.counters().throttled_principal(SCANNER_OID),
        collected.throttled
    );
    azure.emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graph_links_to_other_hosts_or_repeating_are_refused() {
    let azure = Azure::start().await;
    let base = azure.emulator.base_url();
    let port = azure.emulator.local_addr().port();
    // A page whose next link leaves the Graph endpoint (same machine, other origin).
    let foreign = format!("https://127.0.0.1:{port}/v1.0/users?$skiptoken=abc");
    azure
        .emulator
        .add_fault(
            Fault::status("/v1.0/users", 200)
                .times(1)
                .with_body(json!({"value": [{"id": "x"}], "@odata.nextLink": foreign})),
        )
        .expect("fault");
    let session = azure
        .arm
        .session(azure.principal(SCANNER, true))
        .expect("session");
    let graph = shared::azure::GraphSession::for_arm(&session).expect("graph");
    let url = graph.url("/users").expect("url");
    let err = graph.list(&url).await.expect_err("foreign link");
    assert!(err.message.contains("refusing to send the token"), "{err}");
    assert_eq!(azure.emulator.counters().endpoint("GET /v1.0/users"), 1);

    // A next link that points back to the page itself.
    azure
        .emulator
        .add_fault(
            Fault::status("/v1.0/users", 200)
                .times(1)
                .with_body(json!({"value": [], "@odata.nextLink": format!("{base}/v1.0/users")})),
        )
        .expect("fault");
    let err = graph.list(&url).await.expect_err("loop");
    assert!(err.message.contains("paging loop"), "{err}");
    azure.emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cloud_without_graph_fails_only_the_graph_collections() {
    let azure = Azure::start().await;
    let collected = azure.collect(&SERVICE, false).await;
    let data = &collected.dataset;
    for key in ["t.authorization_policy", "t.users", "t.registration"] {
        assert!(
            matches!(data.failure(key), Some(FetchError::Error { message }) if message.contains("no Microsoft Graph endpoint")),
            "{key}: {:?}",
            data.failure(key)
        );
    }
    assert_eq!(
        result(&collected, "t.directory_read").status,
        CheckStatus::Error
    );
    assert_eq!(
        result(&collected, "t.databases_listed").status,
        CheckStatus::Passed
    );
    azure.emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_access_map_names_what_a_custom_role_cannot_read() {
    let azure = Azure::start().await;
    let secret = || SecretString::from(SECRET.to_string());

    // The real catalogue: `*/read` without `Microsoft.Storage/*` cannot read storage.
    let v =
        scheduler::validate::validate(&azure.arm, &azure.record(NO_STORAGE, true), secret()).await;
    assert_eq!(v.state, ConnectionState::Connected, "{v:?}");
    let access = v.access.expect("access map");
    assert_eq!(access.roles, ["Reader without storage"]);
    let storage = access
        .services
        .iter()
        .find(|s| s.service == "storage")
        .expect("storage");
    assert!(!storage.readable);
    assert!(
        storage
            .missing_actions
            .contains(&"Microsoft.Storage/storageAccounts/read".to_string()),
        "{storage:?}"
    );
    let nsg = access
        .services
        .iter()
        .find(|s| s.service == "nsg")
        .expect("nsg");
    assert!(nsg.readable && nsg.missing_actions.is_empty(), "{nsg:?}");

    // A catalogue with Graph collections: the permissions granted and missing.
    let v = scheduler::validate::validate_for(
        &azure.arm,
        &azure.record(SCANNER, true),
        secret(),
        std::slice::from_ref(&SERVICE),
    )
    .await;
    let access = v.access.expect("access map");
    let graph = access.graph.expect("graph access");
    assert!(graph.checked, "{graph:?}");
    let granted = |p: &str| {
        graph
            .permissions
            .iter()
            .find(|g| g.permission == p)
            .and_then(|g| g.granted)
    };
    assert_eq!(granted("Policy.Read.All"), Some(true));
    assert_eq!(granted("Directory.Read.All"), Some(true));
    assert_eq!(granted("AuditLog.Read.All"), Some(false));
    let service = &access.services[0];
    assert_eq!(service.missing_graph_permissions, ["AuditLog.Read.All"]);
    assert!(service.missing_actions.is_empty(), "{service:?}");
    assert!(!service.readable);
    assert_eq!(v.state, ConnectionState::Connected);

    // No Graph in the cloud: reported, never a failure.
    let v = scheduler::validate::validate_for(
        &azure.arm,
        &azure.record(SCANNER, false),
        secret(),
        std::slice::from_ref(&SERVICE),
    )
    .await;
    assert_eq!(v.state, ConnectionState::Connected);
    let graph = v.access.and_then(|a| a.graph).expect("graph access");
    assert!(!graph.checked);
    assert!(
        graph
            .problem
            .as_deref()
            .is_some_and(|p| p.contains("no Microsoft Graph endpoint")),
        "{graph:?}"
    );
    azure.emulator.shutdown().await;
}
