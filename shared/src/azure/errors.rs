//! The ARM error taxonomy: every failure of an ARM call becomes one class that says what to do
//! with it (research/arm.md section 3).
//!
//! - access denied: a 403 naming the missing action; the check is "Failed - Access Denied";
//! - not applicable: nothing of that kind can exist (provider not registered, not found);
//! - transient: retry (429, 5xx, expired token, network);
//! - configuration: our request or the connection's settings are wrong (audience, tenant,
//!   api-version);
//! - authentication: no token could be had (the diagnosis says why).

use serde::Deserialize;
use serde_json::Value;

use super::token::TokenError;
use crate::checks::FetchError;

/// The code of an [`ArmError`] for a request our limiter held back past its deadline.
pub const CLIENT_THROTTLED: &str = "ClientThrottled";

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    AccessDenied,
    NotApplicable,
    Transient,
    Configuration,
    Authentication,
}

/// A failed ARM call, with what Azure said and the ids to quote to Azure support.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", self.describe())]
pub struct ArmError {
    pub class: ErrorClass,
    /// HTTP status, when Azure answered.
    pub status: Option<u16>,
    /// ARM `error.code`, e.g. `AuthorizationFailed`.
    pub code: Option<String>,
    pub message: String,
    /// For access denied: the action the principal lacks, parsed from the message.
    pub action: Option<String>,
    /// For not-registered providers: the namespace, e.g. `Microsoft.Network`.
    pub target: Option<String>,
    pub request_id: Option<String>,
    /// Seconds Azure asked us to wait (429).
    pub retry_after: Option<std::time::Duration>,
    /// Set when the failure was getting a token.
    pub token: Option<Box<TokenError>>,
}

impl ArmError {
    fn describe(&self) -> String {
        let mut s = String::new();
        if let Some(status) = self.status {
            s.push_str(&format!("HTTP {status} "));
        }
        if let Some(code) = &self.code {
            s.push_str(code);
            s.push_str(": ");
        }
        s.push_str(&self.message);
        if let Some(id) = &self.request_id {
            s.push_str(&format!(" (x-ms-request-id {id})"));
        }
        s
    }

    /// Builds the error from an ARM response.
    pub fn from_response(
        status: u16,
        body: &[u8],
        request_id: Option<String>,
        retry_after: Option<std::time::Duration>,
    ) -> Self {
        let parsed = parse_error_body(body);
        let (code, message, target) = match parsed {
            Some(e) => (Some(e.code), e.message, e.target),
            None => (
                None,
                format!(
                    "unexpected response body: {}",
                    String::from_utf8_lossy(&body[..body.len().min(300)])
                ),
                None,
            ),
        };
        let class = classify(status, code.as_deref());
        let action = (class == ErrorClass::AccessDenied)
            .then(|| quoted_after(&message, "perform action '"))
            .flatten();
        let target = target.or_else(|| {
            (code.as_deref() == Some("MissingSubscriptionRegistration"))
                .then(|| quoted_after(&message, "namespace '"))
                .flatten()
        });
        Self {
            class,
            status: Some(status),
            code,
            message,
            action,
            target,
            request_id,
            retry_after,
            token: None,
        }
    }

    /// A network-level failure (connect, timeout, reset).
    pub fn network(message: impl Into<String>) -> Self {
        Self {
            class: ErrorClass::Transient,
            status: None,
            code: None,
            message: message.into(),
            action: None,
            target: None,
            request_id: None,
            retry_after: None,
            token: None,
        }
    }

    /// A response that is not what ARM promises (bad JSON, paging loop, foreign nextLink).
    pub fn protocol(message: impl Into<String>) -> Self {
        Self {
            class: ErrorClass::Configuration,
            ..Self::network(message)
        }
    }

    pub fn from_token(err: TokenError) -> Self {
        let class = if err.diagnosis.is_transient() {
            ErrorClass::Transient
        } else {
            ErrorClass::Authentication
        };
        Self {
            class,
            message: format!("could not get a token: {}", err.message),
            token: Some(Box::new(err)),
            ..Self::network("")
        }
    }

    /// Azure's read budget would not give this request a token before its deadline (the
    /// job's time bound, or validation's short budget): it was not sent. Transient, but not
    /// retried within the request — the deadline is what ran out.
    pub fn client_throttled(throttled: &super::limiter::Throttled) -> Self {
        Self {
            code: Some(CLIENT_THROTTLED.to_string()),
            message: format!(
                "Azure is throttling reads for this subscription (the {} budget has no read left \
                 for {} s, past the time this work may take); retried on the next scan",
                throttled.bucket,
                throttled.next_token_in.as_secs_f64().ceil()
            ),
            ..Self::network("")
        }
    }

    pub fn is_retryable(&self) -> bool {
        self.class == ErrorClass::Transient && self.code.as_deref() != Some(CLIENT_THROTTLED)
    }

    /// The request was not sent because the read budget ran out before its deadline.
    pub fn is_client_throttled(&self) -> bool {
        self.code.as_deref() == Some(CLIENT_THROTTLED)
    }

    /// The form the check layer understands.
    pub fn to_fetch_error(&self, permission: &str) -> FetchError {
        match self.class {
            ErrorClass::AccessDenied => FetchError::AccessDenied {
                action: self
                    .action
                    .clone()
                    .unwrap_or_else(|| permission.to_string()),
                message: self.describe(),
            },
            ErrorClass::NotApplicable => FetchError::NotApplicable {
                reason: match (self.code.as_deref(), &self.target) {
                    (Some("MissingSubscriptionRegistration"), Some(ns)) => format!(
                        "Resource provider {ns} is not registered in this subscription: no resources of this kind exist"
                    ),
                    (Some("DisallowedProvider"), _) => {
                        "This subscription's offer does not allow this resource provider"
                            .to_string()
                    }
                    _ => format!("Not found: {}", self.message),
                },
            },
            _ if self.is_client_throttled() => FetchError::Error {
                message: self.message.clone(),
            },
            _ if self.status == Some(429) => FetchError::Error {
                message: format!(
                    "Azure is throttling reads for this subscription (retried on the next scan): {}",
                    self.describe()
                ),
            },
            _ => FetchError::Error {
                message: format!("Azure Resource Manager call failed: {}", self.describe()),
            },
        }
    }
}

/// The taxonomy table. `code` wins over `status` where ARM is specific.
pub fn classify(status: u16, code: Option<&str>) -> ErrorClass {
    use ErrorClass::*;
    match code {
        Some("AuthorizationFailed" | "LinkedAuthorizationFailed" | "LinkedAccessCheckFailed") => {
            AccessDenied
        }
        Some(
            "MissingSubscriptionRegistration"
            | "DisallowedProvider"
            | "DisallowedOperation"
            | "SubscriptionNotFound"
            | "ResourceGroupNotFound"
            | "ResourceNotFound"
            | "ParentResourceNotFound"
            | "NotFound"
            | "ReadOnlyDisabledSubscription",
        ) => NotApplicable,
        Some(
            "SubscriptionRequestsThrottled"
            | "ResourceRequestsThrottled"
            | "TooManyRequests"
            | "RetryableErrorDueToAnotherOperation"
            | "ExpiredAuthenticationToken"
            | "InternalServerError"
            | "ServiceUnavailable"
            | "GatewayTimeout"
            | "BadGateway",
        ) => Transient,
        Some(
            "InvalidAuthenticationToken"
            | "InvalidAuthenticationTokenAudience"
            | "InvalidAuthenticationTokenTenant"
            | "AuthenticationFailed"
            | "InvalidSubscriptionId"
            | "NoRegisteredProviderFound"
            | "InvalidApiVersionParameter"
            | "MissingApiVersionParameter"
            | "InvalidResourceType",
        ) => Configuration,
        _ => match status {
            403 => AccessDenied,
            404 => NotApplicable,
            408 | 429 | 500..=599 => Transient,
            _ => Configuration,
        },
    }
}

#[derive(Deserialize)]
struct Envelope {
    error: Option<ErrorBody>,
    code: Option<String>,
    message: Option<String>,
}

#[derive(Deserialize)]
struct ErrorBody {
    code: Option<String>,
    message: Option<String>,
    target: Option<String>,
    #[serde(default)]
    details: Vec<Value>,
}

struct ParsedError {
    code: String,
    message: String,
    target: Option<String>,
}

/// Lenient: the OData envelope `{"error":{...}}`, or `code`/`message` at the top level.
fn parse_error_body(body: &[u8]) -> Option<ParsedError> {
    let env: Envelope = serde_json::from_slice(body).ok()?;
    match env.error {
        Some(e) => {
            let target = e.target.or_else(|| {
                e.details
                    .iter()
                    .find_map(|d| d.get("target").and_then(Value::as_str).map(str::to_string))
            });
            Some(ParsedError {
                code: e.code.unwrap_or_default(),
                message: e.message.unwrap_or_default(),
                target,
            })
        }
        None => Some(ParsedError {
            code: env.code?,
            message: env.message.unwrap_or_default(),
            target: None,
        }),
    }
}

/// The text between `prefix` and the next `'` in `message`.
fn quoted_after(message: &str, prefix: &str) -> Option<String> {
    let start = message.find(prefix)? + prefix.len();
    let end = message[start..].find('\'')? + start;
    Some(message[start..end].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every code of research/arm.md section 3 lands in its class.
    #[test]
    fn taxonomy_table() {
        use ErrorClass::*;
        let table: &[(u16, &str, ErrorClass)] = &[
            (401, "ExpiredAuthenticationToken", Transient),
            (401, "InvalidAuthenticationToken", Configuration),
            (401, "InvalidAuthenticationTokenAudience", Configuration),
            (401, "InvalidAuthenticationTokenTenant", Configuration),
            (403, "AuthorizationFailed", AccessDenied),
            (403, "LinkedAuthorizationFailed", AccessDenied),
            (404, "SubscriptionNotFound", NotApplicable),
            (400, "InvalidSubscriptionId", Configuration),
            (404, "ResourceGroupNotFound", NotApplicable),
            (404, "ResourceNotFound", NotApplicable),
            (404, "ParentResourceNotFound", NotApplicable),
            (409, "MissingSubscriptionRegistration", NotApplicable),
            (400, "NoRegisteredProviderFound", Configuration),
            (400, "DisallowedOperation", NotApplicable),
            (400, "DisallowedProvider", NotApplicable),
            (409, "ReadOnlyDisabledSubscription", NotApplicable),
            (429, "SubscriptionRequestsThrottled", Transient),
            (429, "ResourceRequestsThrottled", Transient),
            (429, "TooManyRequests", Transient),
            (429, "RetryableErrorDueToAnotherOperation", Transient),
            (500, "InternalServerError", Transient),
            (503, "ServiceUnavailable", Transient),
            (504, "GatewayTimeout", Transient),
            (502, "", Transient),
            (403, "SomethingNew", AccessDenied),
            (400, "MissingApiVersionParameter", Configuration),
        ];
        for (status, code, class) in table {
            let code = (!code.is_empty()).then_some(*code);
            assert_eq!(classify(*status, code), *class, "{status} {code:?}");
        }
    }

    #[test]
    fn access_denied_names_the_action() {
        let body = br#"{"error":{"code":"AuthorizationFailed","message":"The client 'a' with object id 'a' does not have authorization to perform action 'Microsoft.Storage/storageAccounts/read' over scope '/subscriptions/s' or the scope is invalid. If access was recently granted, please refresh your credentials."}}"#;
        let err = ArmError::from_response(403, body, Some("rid".into()), None);
        assert_eq!(err.class, ErrorClass::AccessDenied);
        assert_eq!(
            err.action.as_deref(),
            Some("Microsoft.Storage/storageAccounts/read")
        );
        assert!(err.to_string().contains("x-ms-request-id rid"));
        match err.to_fetch_error("fallback") {
            FetchError::AccessDenied { action, .. } => {
                assert_eq!(action, "Microsoft.Storage/storageAccounts/read")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unregistered_provider_is_not_applicable_with_the_namespace() {
        let body = br#"{"error":{"code":"MissingSubscriptionRegistration","message":"The subscription is not registered to use namespace 'Microsoft.Network'. See https://aka.ms/rps-not-found for how to register subscriptions.","details":[{"code":"MissingSubscriptionRegistration","target":"Microsoft.Network","message":"..."}]}}"#;
        let err = ArmError::from_response(409, body, None, None);
        assert_eq!(err.class, ErrorClass::NotApplicable);
        assert_eq!(err.target.as_deref(), Some("Microsoft.Network"));
        assert!(matches!(
            err.to_fetch_error("x"),
            FetchError::NotApplicable { reason } if reason.contains("Microsoft.Network")
        ));
    }

    #[test]
    fn odd_bodies_still_classify_by_status() {
        let err = ArmError::from_response(503, b"<html>busy</html>", None, None);
        assert_eq!(err.class, ErrorClass::Transient);
        assert!(err.message.contains("unexpected response body"));
        let err =
            ArmError::from_response(404, br#"{"code":"NotFound","message":"gone"}"#, None, None);
        assert_eq!(err.code.as_deref(), Some("NotFound"));
        assert_eq!(err.class, ErrorClass::NotApplicable);
    }
}
