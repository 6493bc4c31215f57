//! Azure clouds: the endpoints and token audiences of each, per connection.
//!
//! The product knows "a cloud with these endpoints", nothing more: the public cloud is the
//! default, Azure China and Azure US Government are built in, and anything else (Azure Stack Hub,
//! a test emulator) is a custom cloud given by its endpoints. Every endpoint must be https.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use url::Url;

/// Which ARM throttling model applies (research/arm.md section 1).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ThrottleModel {
    /// Public cloud since 2024: token bucket of 250 reads, refilled 25/s, per (subscription,
    /// principal).
    TokenBucket,
    /// Sovereign and custom clouds: 12,000 reads per hour per (subscription, principal).
    Hourly,
}

/// A connection's cloud.
#[derive(
    Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema, utoipa::ToSchema,
)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Cloud {
    #[default]
    Public,
    China,
    UsGovernment,
    /// Endpoints given explicitly (Azure Stack Hub, emulators).
    Custom(CustomCloud),
}

/// Endpoints of a custom cloud. Audiences default to the endpoint itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, utoipa::ToSchema)]
pub struct CustomCloud {
    /// Entra ID authority host, e.g. `https://login.microsoftonline.com`.
    pub authority_host: String,
    /// Resource Manager endpoint, e.g. `https://management.azure.com`.
    pub resource_manager: String,
    /// Microsoft Graph endpoint, if the cloud has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graph: Option<String>,
    /// Token audience for ARM; defaults to `resource_manager`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arm_audience: Option<String>,
    /// Token audience for Graph; defaults to `graph`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graph_audience: Option<String>,
    /// The cloud's region names (Azure Stack Hub's are chosen by its operator); when absent,
    /// the Azure public cloud's region names are accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regions: Option<Vec<String>>,
    /// How its Resource Manager limits reads; the hourly model when absent (as documented for
    /// clouds other than the public one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throttle_model: Option<ThrottleModel>,
}

/// Resolved endpoints of a cloud, normalised without trailing slashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    pub authority_host: String,
    pub resource_manager: String,
    pub graph: Option<String>,
    /// Scope requested for ARM tokens (`<audience>/.default`).
    pub arm_scope: String,
    pub graph_scope: Option<String>,
    pub throttle_model: ThrottleModel,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{field}: {problem}")]
pub struct CloudError {
    pub field: &'static str,
    pub problem: String,
}

impl Cloud {
    /// Checks that every endpoint is an absolute https URL.
    pub fn validate(&self) -> Result<(), CloudError> {
        let Cloud::Custom(custom) = self else {
            return Ok(());
        };
        let fields: [(&'static str, Option<&String>); 5] = [
            ("cloud.authority_host", Some(&custom.authority_host)),
            ("cloud.resource_manager", Some(&custom.resource_manager)),
            ("cloud.graph", custom.graph.as_ref()),
            ("cloud.arm_audience", custom.arm_audience.as_ref()),
            ("cloud.graph_audience", custom.graph_audience.as_ref()),
        ];
        for (field, value) in fields {
            let Some(value) = value else { continue };
            let url = Url::parse(value).map_err(|e| CloudError {
                field,
                problem: format!("not a URL: {e}"),
            })?;
            if url.scheme() != "https" {
                return Err(CloudError {
                    field,
                    problem: "must use https".to_string(),
                });
            }
            if url.host_str().is_none_or(str::is_empty) {
                return Err(CloudError {
                    field,
                    problem: "has no host".to_string(),
                });
            }
        }
        Ok(())
    }

    pub fn endpoints(&self) -> Endpoints {
        match self {
            Cloud::Public => builtin(
                "https://login.microsoftonline.com",
                "https://management.azure.com",
                "https://graph.microsoft.com",
                ThrottleModel::TokenBucket,
            ),
            Cloud::China => builtin(
                "https://login.chinacloudapi.cn",
                "https://management.chinacloudapi.cn",
                "https://microsoftgraph.chinacloudapi.cn",
                ThrottleModel::Hourly,
            ),
            Cloud::UsGovernment => builtin(
                "https://login.microsoftonline.us",
                "https://management.usgovcloudapi.net",
                "https://graph.microsoft.us",
                ThrottleModel::Hourly,
            ),
            Cloud::Custom(c) => {
                let graph = c.graph.as_deref().map(trim);
                let arm_audience = c.arm_audience.as_deref().unwrap_or(&c.resource_manager);
                let graph_audience = c.graph_audience.as_deref().or(graph.as_deref());
                Endpoints {
                    authority_host: trim(&c.authority_host),
                    resource_manager: trim(&c.resource_manager),
                    arm_scope: scope(arm_audience),
                    graph_scope: graph_audience.map(scope),
                    graph,
                    throttle_model: c.throttle_model.unwrap_or(ThrottleModel::Hourly),
                }
            }
        }
    }

    /// A short label for logs and metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Cloud::Public => "public",
            Cloud::China => "china",
            Cloud::UsGovernment => "us_government",
            Cloud::Custom(_) => "custom",
        }
    }
}

fn builtin(authority: &str, arm: &str, graph: &str, throttle_model: ThrottleModel) -> Endpoints {
    Endpoints {
        authority_host: authority.to_string(),
        resource_manager: arm.to_string(),
        graph: Some(graph.to_string()),
        arm_scope: scope(arm),
        graph_scope: Some(scope(graph)),
        throttle_model,
    }
}

fn trim(url: &str) -> String {
    url.trim().trim_end_matches('/').to_string()
}

/// `https://management.azure.com/` -> `https://management.azure.com/.default`.
fn scope(audience: &str) -> String {
    format!("{}/.default", trim(audience))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_clouds_have_their_documented_endpoints() {
        let public = Cloud::Public.endpoints();
        assert_eq!(public.arm_scope, "https://management.azure.com/.default");
        assert_eq!(public.authority_host, "https://login.microsoftonline.com");
        assert_eq!(public.throttle_model, ThrottleModel::TokenBucket);
        let china = Cloud::China.endpoints();
        assert_eq!(
            china.resource_manager,
            "https://management.chinacloudapi.cn"
        );
        assert_eq!(china.throttle_model, ThrottleModel::Hourly);
        assert_eq!(
            Cloud::UsGovernment.endpoints().authority_host,
            "https://login.microsoftonline.us"
        );
    }

    #[test]
    fn custom_clouds_must_be_https() {
        let mut custom = CustomCloud {
            authority_host: "https://login.local:8443/".into(),
            resource_manager: "https://arm.local:8443".into(),
            graph: None,
            arm_audience: None,
            graph_audience: None,
            regions: None,
            throttle_model: None,
        };
        let cloud = Cloud::Custom(custom.clone());
        assert!(cloud.validate().is_ok());
        let e = cloud.endpoints();
        assert_eq!(e.authority_host, "https://login.local:8443");
        assert_eq!(e.arm_scope, "https://arm.local:8443/.default");
        custom.resource_manager = "http://arm.local".into();
        let err = Cloud::Custom(custom).validate().unwrap_err();
        assert_eq!(err.field, "cloud.resource_manager");
    }

    #[test]
    fn serializes_with_a_kind_tag() {
        let json = serde_json::to_value(Cloud::UsGovernment).expect("json");
        assert_eq!(json, serde_json::json!({"kind": "us_government"}));
        let back: Cloud =
            serde_json::from_value(serde_json::json!({"kind": "public"})).expect("parse");
        assert_eq!(back, Cloud::Public);
    }
}
