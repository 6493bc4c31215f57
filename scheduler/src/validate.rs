//! Validating a connection against Azure, as the customer guide's flow expects: sign in as the
//! service principal, read the subscription, read what the principal may do there. The outcome
//! is a connection state with a diagnosis in the troubleshooting guide's words, and an access
//! map saying which services the principal can read.
//!
//! Used on create, on update (a rotated secret), on demand (`POST .../validate`), and by the
//! planner to re-check connections in a failure state before their weekly scan.

use std::collections::BTreeMap;

use secrecy::SecretString;
use serde_json::Value;
use shared::azure::permissions::Effective;
use shared::azure::{ArmClient, ArmError, ArmSession, ErrorClass, Principal, TokenError};
use shared::checks;
use shared::store::{AccessReport, ConnectionRecord, ConnectionState, Diagnosis, ServiceAccess};

/// Built-in role definition ids (research/arm.md section 5).
pub const READER_ROLE: &str = "acdd72a7-3385-48ef-bd42-f606fba81ae7";
pub const SECURITY_READER_ROLE: &str = "39bc4728-0917-49c7-9d2c-d95423bc2eb4";

const SUBSCRIPTIONS_API: &str = "2022-12-01";
const AUTHORIZATION_API: &str = "2022-04-01";

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

/// Validates a connection with its (opened) secret.
pub async fn validate(
    arm: &ArmClient,
    record: &ConnectionRecord,
    secret: SecretString,
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
    let Ok(session) = arm.session(principal) else {
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
    // 3. What the principal may read.
    let access = access_report(&session, sub, token.object_id().as_deref()).await;
    match access {
        Ok(report) if report.services.iter().all(|s| !s.readable) => Validation {
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
    let services = checks::catalogue()
        .iter()
        .map(|service| {
            let mut missing: Vec<String> = service
                .collections
                .iter()
                .map(|c| c.permission.to_string())
                .filter(|action| !effective.allows(action))
                .collect();
            missing.sort();
            missing.dedup();
            ServiceAccess {
                service: service.id.to_string(),
                name: service.name.to_string(),
                readable: missing.is_empty(),
                missing_actions: missing,
            }
        })
        .collect();
    Ok(AccessReport {
        reader,
        security_reader,
        roles,
        services,
        over_privileged: effective.can_write(),
    })
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
