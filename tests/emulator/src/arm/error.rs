//! ARM error responses.
//!
//! ARM answers failures with `{"error":{"code":...,"message":...}}` and a status; clients branch
//! on the code, and people read the message, so both are copied from real ARM responses (see
//! research/arm.md §3). Each constructor here is one error ARM really returns.

use axum::http::StatusCode;
use serde_json::{Value, json};

/// The audiences ARM accepts, in the order ARM lists them.
pub(crate) const ARM_AUDIENCES: [&str; 4] = [
    "https://management.core.windows.net/",
    "https://management.core.windows.net",
    "https://management.azure.com/",
    "https://management.azure.com",
];

#[derive(Debug)]
pub(crate) struct ArmError {
    pub(crate) status: StatusCode,
    pub(crate) code: &'static str,
    pub(crate) message: String,
    /// Raised by ARM's front door rather than a resource provider (`x-ms-failure-cause: gateway`).
    pub(crate) from_gateway: bool,
    /// Extra response headers, e.g. `WWW-Authenticate`.
    pub(crate) headers: Vec<(&'static str, String)>,
    /// `error.details`, for the errors where ARM lists them.
    pub(crate) details: Vec<Value>,
    /// A whole body to send instead of the envelope (an injected fault's).
    pub(crate) raw_body: Option<Value>,
    /// Send a streamed empty page padded to this many bytes instead of any body.
    pub(crate) pad_bytes: Option<u64>,
}

impl ArmError {
    fn new(status: StatusCode, code: &'static str, message: String) -> ArmError {
        ArmError {
            status,
            code,
            message,
            from_gateway: true,
            headers: Vec::new(),
            details: Vec::new(),
            raw_body: None,
            pad_bytes: None,
        }
    }

    pub(crate) fn with_headers(mut self, headers: Vec<(&'static str, String)>) -> ArmError {
        self.headers.extend(headers);
        self
    }

    fn raised_by_provider(mut self) -> ArmError {
        self.from_gateway = false;
        self
    }

    pub(crate) fn body(&self) -> Value {
        if let Some(body) = &self.raw_body {
            return body.clone();
        }
        let mut body = json!({ "error": { "code": self.code, "message": self.message } });
        if !self.details.is_empty() {
            body["error"]["details"] = Value::Array(self.details.clone());
        }
        body
    }

    /// A 401 with the `WWW-Authenticate` challenge that tells clients which tenant to ask.
    fn unauthorized(
        code: &'static str,
        message: String,
        tenant: &str,
        description: &str,
    ) -> ArmError {
        let mut error = ArmError::new(StatusCode::UNAUTHORIZED, code, message);
        error.headers.push((
            "www-authenticate",
            format!(
                "Bearer authorization_uri=\"https://login.windows.net/{tenant}\", error=\"invalid_token\", error_description=\"{description}\""
            ),
        ));
        error
    }

    pub(crate) fn missing_authorization(tenant: &str) -> ArmError {
        ArmError::unauthorized(
            "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is missing.".to_owned(),
            tenant,
            "The authentication failed because of missing 'Authorization' header.",
        )
    }

    pub(crate) fn malformed_authorization(tenant: &str) -> ArmError {
        let message =
            "Authentication failed. The 'Authorization' header is provided in an invalid format.";
        ArmError::unauthorized("AuthenticationFailed", message.to_owned(), tenant, message)
    }

    pub(crate) fn invalid_token(tenant: &str) -> ArmError {
        let message = "The access token is invalid.";
        ArmError::unauthorized(
            "InvalidAuthenticationToken",
            message.to_owned(),
            tenant,
            message,
        )
    }

    /// Times are in .NET's general format, as ARM prints them: `5/15/2023 9:03:40 AM`.
    pub(crate) fn expired_token(tenant: &str, expiry: i64, now: i64) -> ArmError {
        let message = format!(
            "The access token expiry UTC time '{}' is earlier than current UTC time '{}'.",
            dotnet_time(expiry),
            dotnet_time(now)
        );
        ArmError::unauthorized(
            "ExpiredAuthenticationToken",
            message.clone(),
            tenant,
            &message,
        )
    }

    pub(crate) fn wrong_audience(tenant: &str, audience: &str) -> ArmError {
        let allowed = ARM_AUDIENCES
            .iter()
            .map(|a| format!("'{a}'"))
            .collect::<Vec<_>>()
            .join(",");
        let message = format!(
            "The access token has been obtained for wrong audience or resource '{audience}'. It should exactly match with one of the allowed audiences {allowed}."
        );
        ArmError::unauthorized(
            "InvalidAuthenticationTokenAudience",
            message.clone(),
            tenant,
            &message,
        )
    }

    pub(crate) fn wrong_tenant(token_tenant: &str, subscription_tenant: &str) -> ArmError {
        let message = format!(
            "The access token is from the wrong issuer 'https://sts.windows.net/{token_tenant}/'. It must match the tenant 'https://sts.windows.net/{subscription_tenant}/' associated with this subscription. Please use the authority (URL) 'https://login.windows.net/{subscription_tenant}' to get the token. Note, if the subscription is transferred to another tenant there is no impact to the services, but information about new tenant could take time to propagate (up to an hour). If you just transferred your subscription and see this error message, please try back later."
        );
        ArmError::unauthorized(
            "InvalidAuthenticationTokenTenant",
            message,
            subscription_tenant,
            "The access token is from the wrong issuer. It must match the tenant associated with this subscription. Please use correct authority to get the token.",
        )
    }

    pub(crate) fn missing_api_version() -> ArmError {
        ArmError::new(
            StatusCode::BAD_REQUEST,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests."
                .to_owned(),
        )
    }

    pub(crate) fn invalid_subscription_id(id: &str) -> ArmError {
        ArmError::new(
            StatusCode::BAD_REQUEST,
            "InvalidSubscriptionId",
            format!("The provided subscription identifier '{id}' is malformed or invalid."),
        )
    }

    pub(crate) fn subscription_not_found(id: &str) -> ArmError {
        ArmError::new(
            StatusCode::NOT_FOUND,
            "SubscriptionNotFound",
            format!("The subscription '{id}' could not be found."),
        )
    }

    pub(crate) fn authorization_failed(object_id: &str, action: &str, scope: &str) -> ArmError {
        ArmError::new(
            StatusCode::FORBIDDEN,
            "AuthorizationFailed",
            format!(
                "The client '{object_id}' with object id '{object_id}' does not have authorization to perform action '{action}' over scope '{scope}' or the scope is invalid. If access was recently granted, please refresh your credentials."
            ),
        )
    }

    pub(crate) fn resource_not_found(
        qualified_name: &str,
        resource_group: Option<&str>,
    ) -> ArmError {
        let place = match resource_group {
            Some(group) => format!(" under resource group '{group}'"),
            None => String::new(),
        };
        ArmError::new(
            StatusCode::NOT_FOUND,
            "ResourceNotFound",
            format!(
                "The Resource '{qualified_name}'{place} was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix"
            ),
        )
    }

    /// `relative_type` is the type of what was asked for, without namespace
    /// (`networkWatchers/flowLogs`), as ARM prints it.
    pub(crate) fn parent_not_found(relative_type: &str, parent_id: &str) -> ArmError {
        ArmError::new(
            StatusCode::NOT_FOUND,
            "ParentResourceNotFound",
            format!(
                "Failed to perform 'read' on resource(s) of type '{relative_type}', because the parent resource '{parent_id}' could not be found."
            ),
        )
    }

    /// ARM's own read throttling (research/arm.md §1.4).
    pub(crate) fn subscription_throttled(
        subscription: &str,
        principal: &str,
        seconds: u64,
    ) -> ArmError {
        ArmError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "SubscriptionRequestsThrottled",
            format!(
                "Number of 'read' requests for subscription '{subscription}' actor '{principal}' exceeded. Please try again after '{seconds}' seconds after additional tokens are available. Refer to https://aka.ms/arm-throttling for additional information."
            ),
        )
    }

    /// A resource provider's own limit (research/arm.md §1.4); `interval` is a .NET TimeSpan.
    pub(crate) fn resource_throttled(
        action: &str,
        limit: u64,
        interval: &str,
        seconds: u64,
    ) -> ArmError {
        ArmError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "ResourceRequestsThrottled",
            format!(
                "Number of requests for action '{action}' exceeded the limit of '{limit}' for time interval '{interval}'. Please try again after '{seconds}' seconds."
            ),
        )
        .raised_by_provider()
    }

    /// `namespace` as the subscription's configuration spells it.
    pub(crate) fn missing_registration(namespace: &str) -> ArmError {
        let message = format!(
            "The subscription is not registered to use namespace '{namespace}'. See https://aka.ms/rps-not-found for how to register subscriptions."
        );
        let mut error = ArmError::new(
            StatusCode::CONFLICT,
            "MissingSubscriptionRegistration",
            message.clone(),
        );
        error.details.push(json!({
            "code": "MissingSubscriptionRegistration",
            "target": namespace,
            "message": message,
        }));
        error
    }

    /// An injected fault's answer: the body ARM's gateway sends with `status`. `namespace` is
    /// the provider the request was for, named by gateway timeouts.
    pub(crate) fn injected(status: StatusCode, namespace: &str) -> ArmError {
        let (code, message) = match status.as_u16() {
            429 => (
                "TooManyRequests",
                "The request is being throttled as the limit has been reached for operation type - 'Read'. For more information, see - https://aka.ms/srpthrottlinglimits".to_owned(),
            ),
            500 => (
                "InternalServerError",
                "Encountered internal server error. Please try again later.".to_owned(),
            ),
            502 => (
                "BadGateway",
                format!("The gateway received an invalid response from '{namespace}'."),
            ),
            503 => (
                "ServiceUnavailable",
                "The service is currently unavailable. Please try again later.".to_owned(),
            ),
            504 => (
                "GatewayTimeout",
                format!(
                    "The gateway did not receive a response from '{namespace}' within the specified time period."
                ),
            ),
            other => {
                let code = match other {
                    400 => "BadRequest",
                    401 => "Unauthorized",
                    403 => "Forbidden",
                    404 => "NotFound",
                    408 => "RequestTimeout",
                    409 => "Conflict",
                    _ if other >= 500 => "InternalServerError",
                    _ => "BadRequest",
                };
                let reason = status.canonical_reason().unwrap_or("an injected fault");
                (code, format!("The request failed: {other} {reason}."))
            }
        };
        let mut error = ArmError::new(status, code, message);
        if status.as_u16() < 400 {
            error.raw_body = Some(json!({}));
            error.from_gateway = false;
        }
        error
    }

    /// An injected fault with its own body.
    pub(crate) fn injected_body(status: StatusCode, body: Value) -> ArmError {
        let mut error = ArmError::new(status, "InjectedFault", String::new());
        error.raw_body = Some(body);
        error.from_gateway = status.as_u16() >= 400;
        error
    }

    pub(crate) fn role_definition_not_found(id: &str) -> ArmError {
        ArmError::new(
            StatusCode::NOT_FOUND,
            "RoleDefinitionDoesNotExist",
            format!("The specified role definition with ID '{id}' does not exist."),
        )
        .raised_by_provider()
    }

    pub(crate) fn role_assignment_not_found(name: &str) -> ArmError {
        ArmError::new(
            StatusCode::NOT_FOUND,
            "RoleAssignmentNotFound",
            format!("The role assignment '{name}' is not found."),
        )
        .raised_by_provider()
    }

    /// A `$filter` the authorization provider does not understand (or the emulator does not
    /// model).
    pub(crate) fn unsupported_filter(filter: &str, supported: &str) -> ArmError {
        ArmError::new(
            StatusCode::BAD_REQUEST,
            "UnsupportedQuery",
            format!("The filter '{filter}' is not supported. Supported filters are {supported}."),
        )
        .raised_by_provider()
    }

    pub(crate) fn invalid_skip_token() -> ArmError {
        ArmError::new(
            StatusCode::BAD_REQUEST,
            "InvalidSkipToken",
            "The provided skip token is invalid.".to_owned(),
        )
        .raised_by_provider()
    }

    pub(crate) fn method_not_allowed(method: &str) -> ArmError {
        ArmError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            format!("The requested resource does not support http method '{method}'."),
        )
    }

    /// Paths the emulator does not model: not an Azure error, so the message says so plainly.
    pub(crate) fn not_modelled(path: &str) -> ArmError {
        ArmError::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("The Azure emulator does not serve the path '{path}'."),
        )
    }
}

fn dotnet_time(unix_seconds: i64) -> String {
    chrono::DateTime::from_timestamp(unix_seconds, 0)
        .map(|t| t.format("%-m/%-d/%Y %-I:%M:%S %p").to_string())
        .unwrap_or_else(|| unix_seconds.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotnet_times() {
        // 2023-05-15T09:03:40Z and 21:03:40Z
        assert_eq!(dotnet_time(1_684_141_420), "5/15/2023 9:03:40 AM");
        assert_eq!(dotnet_time(1_684_184_620), "5/15/2023 9:03:40 PM");
    }

    #[test]
    fn audience_message_lists_arm_audiences() {
        let error = ArmError::wrong_audience("t", "https://graph.microsoft.com");
        assert!(error.message.ends_with(
            "one of the allowed audiences 'https://management.core.windows.net/','https://management.core.windows.net','https://management.azure.com/','https://management.azure.com'."
        ));
        assert_eq!(error.headers[0].0, "www-authenticate");
    }

    #[test]
    fn registration_errors_carry_details() {
        let body = ArmError::missing_registration("Microsoft.Network").body();
        assert_eq!(body["error"]["details"][0]["target"], "Microsoft.Network");
        assert_eq!(
            body["error"]["details"][0]["message"],
            body["error"]["message"]
        );
        assert!(
            ArmError::invalid_skip_token()
                .body()
                .pointer("/error/details")
                .is_none()
        );
    }

    #[test]
    fn injected_codes_fit_the_status() {
        let code = |status: u16| {
            ArmError::injected(
                StatusCode::from_u16(status).expect("status"),
                "Microsoft.Storage",
            )
            .code
        };
        assert_eq!(code(429), "TooManyRequests");
        assert_eq!(code(500), "InternalServerError");
        assert_eq!(code(502), "BadGateway");
        assert_eq!(code(503), "ServiceUnavailable");
        assert_eq!(code(504), "GatewayTimeout");
        assert_eq!(code(507), "InternalServerError");
        assert_eq!(code(404), "NotFound");
    }
}
