//! Entra ID error responses.
//!
//! Entra answers a refused token request with an OAuth `error`, an `AADSTSnnnn` description
//! followed by trace id, correlation id and timestamp, `error_codes`, and an `error_uri`; the
//! product branches on `error` and shows the code, so both are copied from real responses (see
//! research/arm.md §4). Each constructor here is one error Entra really returns.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde_json::json;
use uuid::Uuid;

/// An Entra ID error: OAuth `error`, AADSTS code and message, HTTP status.
#[derive(Debug)]
pub(crate) struct EntraError {
    pub(crate) status: StatusCode,
    pub(crate) error: &'static str,
    pub(crate) code: u32,
    pub(crate) message: String,
    /// The `suberror` some refusals add (e.g. `message_only` for Conditional Access).
    pub(crate) suberror: Option<&'static str>,
}

impl EntraError {
    fn new(status: StatusCode, error: &'static str, code: u32, message: String) -> EntraError {
        EntraError {
            status,
            error,
            code,
            message,
            suberror: None,
        }
    }

    pub(crate) fn malformed_tenant(tenant: &str) -> EntraError {
        EntraError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900023,
            format!(
                "Specified tenant identifier '{tenant}' is neither a valid DNS name, nor a valid external domain."
            ),
        )
    }

    pub(crate) fn unknown_tenant(tenant: &str) -> EntraError {
        EntraError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            90002,
            format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant."
            ),
        )
    }

    pub(crate) fn missing_parameter(name: &str) -> EntraError {
        EntraError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
            format!("The request body must contain the following parameter: '{name}'."),
        )
    }

    pub(crate) fn unsupported_grant_type(grant_type: &str) -> EntraError {
        EntraError::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
            format!("The app requested an unsupported grant type '{grant_type}'."),
        )
    }

    pub(crate) fn invalid_scope(scope: &str) -> EntraError {
        EntraError::new(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            70011,
            format!(
                "The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid."
            ),
        )
    }

    pub(crate) fn incompatible_scopes(scope: &str) -> EntraError {
        EntraError::new(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            70011,
            format!(
                "The provided value for the input parameter 'scope' is not valid. One or more scopes in '{scope}' are not compatible with each other."
            ),
        )
    }

    pub(crate) fn unknown_application(client_id: &str, tenant: &str) -> EntraError {
        EntraError::new(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            format!(
                "Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
            ),
        )
    }

    pub(crate) fn disabled_application(client_id: &str, display_name: &str) -> EntraError {
        EntraError::new(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            7000112,
            format!("Application '{client_id}'({display_name}) is disabled."),
        )
    }

    pub(crate) fn missing_secret() -> EntraError {
        EntraError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.".to_owned(),
        )
    }

    pub(crate) fn invalid_secret(client_id: &str) -> EntraError {
        EntraError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000215,
            format!(
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."
            ),
        )
    }

    pub(crate) fn expired_secret(client_id: &str) -> EntraError {
        EntraError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000222,
            format!(
                "The provided client secret keys for app '{client_id}' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds."
            ),
        )
    }

    /// A tenant of a national cloud asked for at the public cloud's endpoint (the wording of a
    /// real response; research/arm.md §4, §6).
    pub(crate) fn national_cloud_tenant(tenant: &str, cloud: &str) -> EntraError {
        EntraError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            90038,
            format!(
                "Tenant '{tenant}' request is being redirected to the National Cloud '{cloud}'."
            ),
        )
    }

    pub(crate) fn blocked_by_conditional_access() -> EntraError {
        let mut error = EntraError::new(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            53003,
            "Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.".to_owned(),
        );
        error.suberror = Some("message_only");
        error
    }

    /// An injected fault's answer: what Entra sends with `status` when it is unwell.
    pub(crate) fn injected(status: StatusCode) -> EntraError {
        let transient = "A transient error has occurred. Please try again.".to_owned();
        match status.as_u16() {
            500 => EntraError::new(
                status,
                "server_error",
                50000,
                "There was an error issuing a token or an issue with our sign-in service."
                    .to_owned(),
            ),
            429 => EntraError::new(status, "temporarily_unavailable", 90024, transient),
            code if code > 500 => {
                EntraError::new(status, "temporarily_unavailable", 90033, transient)
            }
            _ => EntraError::new(
                status,
                "invalid_request",
                90023,
                "The request is not valid.".to_owned(),
            ),
        }
    }

    pub(crate) fn into_response(self, trace_id: Uuid, correlation_id: Uuid) -> Response {
        let timestamp = Utc::now().format("%Y-%m-%d %H:%M:%SZ").to_string();
        let code = self.code;
        let mut body = json!({
            "error": self.error,
            "error_description": format!(
                "AADSTS{code}: {}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}\r\nTimestamp: {timestamp}",
                self.message
            ),
            "error_codes": [code],
            "timestamp": timestamp,
            "trace_id": trace_id.to_string(),
            "correlation_id": correlation_id.to_string(),
            "error_uri": format!("https://login.microsoftonline.com/error?code={code}"),
        });
        if let Some(suberror) = self.suberror {
            body["suberror"] = suberror.into();
        }
        (self.status, body.to_string()).into_response()
    }
}
