//! Validating a connection against Azure, as the customer guide's flow expects: sign in as the
//! service principal, read the subscription, read what the principal may do there. The outcome
//! is a connection state with a diagnosis in the troubleshooting guide's words, and an access
//! map saying which services the principal can read: for every service the Azure actions its
//! ARM collections need (from the catalogue) that the principal lacks, and the Microsoft Graph
//! application permissions its Graph collections need that the application was not granted
//! (read from a Graph token's `roles` claim; Graph never fails validation).
//!
//! Used on create, on update (a rotated secret), on demand (`POST .../validate`), and by the
//! planner to re-check connections in a failure state before their weekly scan.

use std::collections::BTreeMap;

use secrecy::SecretString;
use serde_json::Value;
use shared::azure::graph;
use shared::azure::permissions::Effective;
use shared::azure::{ArmClient, ArmError, ArmSession, ErrorClass, Principal, TokenError};
use shared::checks::{self, ServiceDef};
use shared::store::{
    AccessReport, ConnectionRecord, ConnectionState, Diagnosis, GraphAccess, GraphPermissionGrant,
    ServiceAccess,
};

/// Built-in role definition ids (research/arm.md section 5).
pub const READER_ROLE: &str = "acdd72a7-3385-48ef-bd42-f606fba81ae7";
pub const SECURITY_READER_ROLE: &str = "39bc4728-0917-49c7-9d2c-d95423bc2eb4";

const SUBSCRIPTIONS_API: &str = "2022-12-01";
const AUTHORIZATION_API: &str = "2022-04-01";
/// Longest validation waits for the fleet's ARM read budget: past it, the answer is that
/// Azure is throttling (validation is retried), not a request that hangs.
const THROTTLE_BUDGET: std::time::Duration = std::time::Duration::from_secs(10);

/// What validation found.
#[derive(Debug, Clone, PartialEq)]
pub struct Validation {
    pub state: ConnectionState,
    pub diagnosis: Option<Diagnosis>,
    pub access: Option<AccessReport>,
}

impl Validation {
    fn failed(state: ConnectionState, summary: impl Into<String>, remediation: &str) -> Self {
        Self {
            state,
            diagnosis: Some(Diagnosis {
                summary: summary.into(),
                remediation: remediation.to_string(),
                details: BTreeMap::new(),
            }),
            access: None,
        }
    }

    fn with_details(
        mut self,
        details: impl IntoIterator<Item = (&'static str, Option<String>)>,
    ) -> Self {
        if let Some(d) = self.diagnosis.as_mut() {
            for (k, v) in details {
                if let Some(v) = v {
                    d.details.insert(k.to_string(), v);
                }
            }
        }
        self
    }
}

const ROLES_REMEDIATION: &str = "Assign the built-in Reader and Security Reader roles to the service principal at the subscription scope (Subscription > Access control (IAM) > Add role assignment), then validate again. Role changes can take up to 10 minutes to apply.";

/// Validates a connection with its (opened) secret, against the whole catalogue.
pub async fn validate(
    arm: &ArmClient,
    record: &ConnectionRecord,
    secret: SecretString,
) -> Validation {
    validate_for(arm, record, secret, checks::catalogue()).await
}

/// Validates a connection for `services` (the catalogue, or a test's own services).
pub async fn validate_for(
    arm: &ArmClient,
    record: &ConnectionRecord,
    secret: SecretString,
    services: &[ServiceDef],
) -> Validation {
    let endpoints = match arm.clouds().resolve(&record.cloud) {
        Ok(endpoints) => endpoints,
        Err(e) => {
            return Validation::failed(
                ConnectionState::AuthenticationFailed,
                format!("The connection's cloud is not available: {e}"),
                "Choose a built-in cloud or one the operator registered.",
            );
        }
    };
    let principal = Principal {
        endpoints,
        tenant_id: record.tenant_id.clone(),
        client_id: record.client_id.clone(),
        secret,
    };
    // 1. Sign in.
    let token = match arm.tokens().arm_token(&principal).await {
        Ok(token) => token,
        Err(e) => return from_token_error(&e),
    };
    let Ok(session) = arm
        .session(principal.clone())
        .map(|s| s.with_time_budget(THROTTLE_BUDGET))
    else {
        return Validation::failed(
            ConnectionState::AuthenticationFailed,
            "The cloud's Resource Manager endpoint is not a valid URL",
            "Check the connection's cloud settings.",
        );
    };
    // 2. The subscription: exists, visible, usable.
    let sub = &record.subscription_id;
    let url = session.url(&format!("/subscriptions/{sub}"), SUBSCRIPTIONS_API);
    match session.get(&url).await {
        Ok(body) => {
            if let Some(problem) = subscription_problem(&body, record) {
                return problem;
            }
        }
        Err(e) => return from_subscription_error(&e, sub),
    }
    // 3. What the principal may read: Azure actions, then Graph application permissions.
    let access = access_report(
        &session,
        sub,
        token.object_id().as_deref(),
        services,
        record.capabilities.asset_import,
    )
    .await;
    let access = match access {
        Ok(mut report) => {
            let needed = graph_permissions_needed(services);
            if !needed.is_empty() {
                let (graph, granted) = graph_access(arm, &principal, &needed).await;
                apply_graph(&mut report, services, graph, granted.as_deref());
            }
            Ok(report)
        }
        Err(e) => Err(e),
    };
    match access {
        // Graph never fails validation: the state depends on Azure actions only.
        Ok(report) if report.services.iter().all(|s| !s.missing_actions.is_empty()) => Validation {
            state: ConnectionState::PermissionErrors,
            diagnosis: Some(Diagnosis {
                summary:
                    "The service principal can read none of the services at the subscription scope"
                        .into(),
                remediation: ROLES_REMEDIATION.into(),
                details: BTreeMap::new(),
            }),
            access: Some(report),
        },
        Ok(report) => Validation {
            state: ConnectionState::Connected,
            diagnosis: None,
            access: Some(report),
        },
        Err(e) => Validation {
            // The subscription is readable; only the permission listing is not. Scans will
            // show any missing access check by check.
            state: ConnectionState::Connected,
            diagnosis: Some(Diagnosis {
                summary: format!("Could not read the principal's effective permissions: {e}"),
                remediation: ROLES_REMEDIATION.into(),
                details: BTreeMap::new(),
            }),
            access: None,
        },
    }
}

fn from_token_error(e: &TokenError) -> Validation {
    let state =
        ConnectionState::from_token_diagnosis(e.diagnosis).unwrap_or(ConnectionState::Pending);
    Validation::failed(state, e.message.clone(), e.diagnosis.remediation()).with_details([
        ("error", e.error.clone()),
        (
            "error_codes",
            (!e.error_codes.is_empty()).then(|| {
                e.error_codes
                    .iter()
                    .map(i64::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            }),
        ),
        ("trace_id", e.trace_id.clone()),
        ("correlation_id", e.correlation_id.clone()),
    ])
}

fn subscription_problem(body: &Value, record: &ConnectionRecord) -> Option<Validation> {
    let state = body
        .get("state")
        .and_then(Value::as_str)
        .unwrap_or("Enabled");
    if !matches!(state, "Enabled" | "Warned") {
        return Some(Validation::failed(
            ConnectionState::SubscriptionDisabled,
            format!("The subscription is {state}"),
            "Re-enable the subscription (Cost Management + Billing) or connect another one. Disabled, past-due and deleted subscriptions cannot be scanned.",
        ));
    }
    let tenant = body
        .get("tenantId")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let configured = &record.tenant_id;
    let configured_is_guid = uuid::Uuid::parse_str(configured).is_ok();
    if configured_is_guid && !tenant.is_empty() && !tenant.eq_ignore_ascii_case(configured) {
        return Some(Validation::failed(
            ConnectionState::SubscriptionNotFound,
            format!("The subscription belongs to tenant {tenant}, not {configured}"),
            "Verify the tenant id: it must be the directory the subscription trusts.",
        ));
    }
    None
}

fn from_subscription_error(e: &ArmError, sub: &str) -> Validation {
    let details = [
        ("code", e.code.clone()),
        ("request_id", e.request_id.clone()),
    ];
    let v = match (e.class, e.code.as_deref()) {
        (_, Some("SubscriptionNotFound" | "InvalidSubscriptionId")) => Validation::failed(
            ConnectionState::SubscriptionNotFound,
            format!("Subscription {sub} was not found"),
            "Verify the subscription id (and check for pasted spaces), and that the service principal has a role on it.",
        ),
        (_, Some("InvalidAuthenticationTokenTenant")) => Validation::failed(
            ConnectionState::SubscriptionNotFound,
            "The subscription belongs to another tenant",
            "Verify the tenant id: it must be the directory the subscription trusts.",
        ),
        (ErrorClass::AccessDenied, _) => Validation::failed(
            ConnectionState::PermissionErrors,
            "The service principal has no role on the subscription",
            ROLES_REMEDIATION,
        ),
        (ErrorClass::Transient, _) if e.is_client_throttled() || e.status == Some(429) => {
            Validation::failed(
                ConnectionState::Pending,
                "Azure is throttling reads for this subscription: validation could not read it within its time budget",
                "Nothing to do: validation is retried.",
            )
        }
        (ErrorClass::Transient, _) => Validation::failed(
            ConnectionState::Pending,
            format!("Azure Resource Manager is unavailable: {}", e.message),
            "Nothing to do: validation is retried.",
        ),
        _ => Validation::failed(
            ConnectionState::AuthenticationFailed,
            format!("Azure refused to read the subscription: {e}"),
            "Verify the tenant id, client id and subscription id, and the connection's cloud.",
        ),
    };
    v.with_details(details)
}

/// Roles assigned to the principal and the services it can read.
async fn access_report(
    session: &ArmSession,
    sub: &str,
    object_id: Option<&str>,
    services: &[ServiceDef],
    asset_import: bool,
) -> Result<AccessReport, ArmError> {
    let permissions = session
        .list(&session.url(
            &format!("/subscriptions/{sub}/providers/Microsoft.Authorization/permissions"),
            AUTHORIZATION_API,
        ))
        .await?;
    let effective = Effective::from_list(&permissions);
    let mut roles = Vec::new();
    let (mut reader, mut security_reader) = (false, false);
    if let Some(oid) = object_id {
        // The OData literal's quotes are doubled; the whole value is encoded with the query.
        let filter = format!("principalId eq '{}'", oid.replace('\'', "''"));
        let url = session.url_with_query(
            &format!("/subscriptions/{sub}/providers/Microsoft.Authorization/roleAssignments"),
            &[("$filter", &filter)],
            AUTHORIZATION_API,
        );
        for assignment in session.list(&url).await.unwrap_or_default() {
            let definition = assignment
                .pointer("/properties/roleDefinitionId")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let guid = definition
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_ascii_lowercase();
            let name = match guid.as_str() {
                READER_ROLE => {
                    reader = true;
                    "Reader".to_string()
                }
                SECURITY_READER_ROLE => {
                    security_reader = true;
                    "Security Reader".to_string()
                }
                _ => role_name(session, definition).await.unwrap_or(guid),
            };
            if !roles.contains(&name) {
                roles.push(name);
            }
        }
    }
    let services = service_access(services, |action| effective.allows(action));
    let assets = asset_import.then(|| asset_access(|action| effective.allows(action)));
    Ok(AccessReport {
        reader,
        security_reader,
        roles,
        services,
        over_privileged: effective.can_write(),
        graph: None,
        assets,
    })
}

/// The Azure actions asset import needs: listing resources and resource groups.
pub const ASSET_IMPORT_ACTIONS: [&str; 2] = [
    "Microsoft.Resources/subscriptions/resourceGroups/read",
    "Microsoft.Resources/subscriptions/resources/read",
];

/// Whether asset import can read what it needs, with the actions `allows` refuses.
pub fn asset_access(allows: impl Fn(&str) -> bool) -> ServiceAccess {
    let missing: Vec<String> = ASSET_IMPORT_ACTIONS
        .into_iter()
        .filter(|action| !allows(action))
        .map(str::to_string)
        .collect();
    ServiceAccess {
        service: shared::assets::ASSET_SERVICE.to_string(),
        name: "Asset import".to_string(),
        readable: missing.is_empty(),
        missing_actions: missing,
        missing_graph_permissions: Vec::new(),
    }
}

/// The Azure actions a service's ARM collections need, sorted, without repeats.
pub fn arm_actions_needed(service: &ServiceDef) -> Vec<&'static str> {
    needed_by(service, false)
}

/// The Graph application permissions the services' Graph collections need, sorted.
pub fn graph_permissions_needed(services: &[ServiceDef]) -> Vec<&'static str> {
    let mut all: Vec<&'static str> = services.iter().flat_map(|s| needed_by(s, true)).collect();
    all.sort_unstable();
    all.dedup();
    all
}

fn needed_by(service: &ServiceDef, graph: bool) -> Vec<&'static str> {
    let mut needed: Vec<&'static str> = service
        .collections
        .iter()
        .filter(|c| c.source.is_graph() == graph)
        .map(|c| c.permission)
        .collect();
    needed.sort_unstable();
    needed.dedup();
    needed
}

/// Every service with the Azure actions it needs that `allows` refuses (Graph is added by
/// [`apply_graph`]).
pub fn service_access(
    services: &[ServiceDef],
    allows: impl Fn(&str) -> bool,
) -> Vec<ServiceAccess> {
    services
        .iter()
        .map(|service| {
            let missing: Vec<String> = arm_actions_needed(service)
                .into_iter()
                .filter(|action| !allows(action))
                .map(str::to_string)
                .collect();
            ServiceAccess {
                service: service.id.to_string(),
                name: service.name.to_string(),
                readable: missing.is_empty(),
                missing_actions: missing,
                missing_graph_permissions: Vec::new(),
            }
        })
        .collect()
}

/// The application's Graph permissions from a Graph token's `roles` claim, with the granted list
/// when it could be read. A cloud without Graph or a refused token is a reported problem.
async fn graph_access(
    arm: &ArmClient,
    principal: &Principal,
    needed: &[&str],
) -> (GraphAccess, Option<Vec<String>>) {
    let unchecked = |problem: String| GraphAccess {
        checked: false,
        permissions: needed
            .iter()
            .map(|p| GraphPermissionGrant {
                permission: p.to_string(),
                granted: None,
            })
            .collect(),
        problem: Some(problem),
    };
    if principal.endpoints.graph_scope.is_none() || principal.endpoints.graph.is_none() {
        return (
            unchecked(
                "The connection's cloud has no Microsoft Graph endpoint: checks that read the directory cannot run".to_string(),
            ),
            None,
        );
    }
    let token = match arm.tokens().graph_token(principal).await {
        Ok(token) => token,
        Err(e) => {
            return (
                unchecked(format!(
                    "Could not get a Microsoft Graph token: {}",
                    e.message
                )),
                None,
            );
        }
    };
    let granted = graph::application_permissions(&token);
    let access = GraphAccess {
        checked: true,
        permissions: needed
            .iter()
            .map(|p| GraphPermissionGrant {
                permission: p.to_string(),
                granted: Some(graph::permission_granted(&granted, p)),
            })
            .collect(),
        problem: None,
    };
    (access, Some(granted))
}

/// Adds the Graph permissions each service lacks (when they could be read) to the report.
pub fn apply_graph(
    report: &mut AccessReport,
    services: &[ServiceDef],
    graph: GraphAccess,
    granted: Option<&[String]>,
) {
    if let Some(granted) = granted {
        for access in &mut report.services {
            let Some(service) = services.iter().find(|s| s.id == access.service) else {
                continue;
            };
            access.missing_graph_permissions = needed_by(service, true)
                .into_iter()
                .filter(|p| !graph::permission_granted(granted, p))
                .map(str::to_string)
                .collect();
            access.readable =
                access.missing_actions.is_empty() && access.missing_graph_permissions.is_empty();
        }
    }
    report.graph = Some(graph);
}

async fn role_name(session: &ArmSession, definition_id: &str) -> Option<String> {
    if definition_id.is_empty() {
        return None;
    }
    let body = session
        .get(&session.url(definition_id, AUTHORIZATION_API))
        .await
        .ok()?;
    body.pointer("/properties/roleName")
        .and_then(Value::as_str)
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asset_access_names_the_listing_actions_it_lacks() {
        let all = asset_access(|_| true);
        assert!(all.readable && all.missing_actions.is_empty());
        assert_eq!(all.service, "assets");
        let groups_only = asset_access(|a| a.ends_with("/resourceGroups/read"));
        assert!(!groups_only.readable);
        assert_eq!(
            groups_only.missing_actions,
            vec!["Microsoft.Resources/subscriptions/resources/read".to_string()]
        );
    }
}
