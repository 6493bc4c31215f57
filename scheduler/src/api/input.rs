//! Reading and checking what callers send: the integration form's fields, trimmed of pasted
//! spaces (the response says which were trimmed), with one field-level error per problem, all
//! reported at once, and nothing stored when there is any.

use axum::body::Bytes;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use shared::azure::cloud::CloudRegistry;
use shared::azure::{Cloud, Endpoints, regions};
use shared::store::Capabilities;
use uuid::Uuid;

use super::error::{ApiError, FieldError};

/// An id in a path; a malformed one names nothing, so it is a 404 like a missing one.
pub fn path_id(value: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(value.trim()).map_err(|_| ApiError::NotFound)
}

/// Parses a JSON body; a field of the wrong type or an unknown field is a field-level error.
pub fn parse_body<T: DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    if body.is_empty() {
        return Err(ApiError::BadRequest("a JSON body is required".into()));
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let field = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            ApiError::BadRequest(format!("the body is not valid JSON: {inner}"))
        } else {
            ApiError::Invalid(vec![FieldError {
                field: if field == "." { "body".into() } else { field },
                problem: strip_position(&inner.to_string()),
            }])
        }
    })
}

/// serde's messages end with " at line 1 column 42"; the field path says more.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

/// Body of `POST /v1/connections`: the integration form.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateConnection {
    /// The organization; required for operator tokens, implied by organization tokens.
    #[schema(pattern = r"^\s*[A-Za-z0-9_-]{1,64}\s*$")]
    pub organization_id: Option<String>,
    /// Connection name, e.g. "Production Azure Subscription".
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: String,
    /// The subscription id again (the form's "connection identifier"); must equal it if given.
    #[schema(
        pattern = r"^\s*[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\s*$"
    )]
    pub connection_identifier: Option<String>,
    /// The service principal's display name.
    #[serde(default)]
    pub credential_name: String,
    /// Directory (tenant) id: a GUID or a verified domain name. Surrounding spaces are trimmed.
    #[schema(
        pattern = r"^\s*([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)\s*$"
    )]
    pub tenant_id: String,
    /// Application (client) id. Surrounding spaces are trimmed.
    #[schema(
        pattern = r"^\s*[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\s*$"
    )]
    pub client_id: String,
    /// The subscription id. Unique per organization. Surrounding spaces are trimmed.
    #[schema(
        pattern = r"^\s*[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\s*$"
    )]
    pub subscription_id: String,
    /// The client secret's value. Write-only: never returned. Surrounding spaces are trimmed.
    #[schema(value_type = String, format = Password, write_only, min_length = 1, max_length = 1024, pattern = r"\S")]
    pub client_secret: SecretString,
    /// Regions to monitor (Azure region names); empty = all.
    #[serde(default)]
    pub regions: Vec<String>,
    /// Capabilities; compliance checks are on by default.
    pub selected_items: Option<Capabilities>,
    /// Azure public cloud by default.
    pub cloud: Option<Cloud>,
}

/// Body of `PATCH /v1/connections/{id}`: only the fields to change. Rotating the secret is
/// `{"client_secret": "..."}`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateConnection {
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: Option<String>,
    pub credential_name: Option<String>,
    #[schema(
        pattern = r"^\s*([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)\s*$"
    )]
    pub tenant_id: Option<String>,
    #[schema(
        pattern = r"^\s*[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\s*$"
    )]
    pub client_id: Option<String>,
    /// The subscription of a connection cannot change (create another connection instead);
    /// given, it must equal the current one.
    #[schema(
        pattern = r"^\s*[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\s*$"
    )]
    pub subscription_id: Option<String>,
    #[schema(value_type = Option<String>, format = Password, write_only, min_length = 1, max_length = 1024, pattern = r"\S")]
    pub client_secret: Option<SecretString>,
    pub regions: Option<Vec<String>>,
    pub selected_items: Option<Capabilities>,
    pub cloud: Option<Cloud>,
}

/// Body of `POST /v1/connections/{id}/rescan`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RescanBody {
    /// Service ids; absent or empty = every service.
    pub services: Option<Vec<String>>,
}

/// Body of `POST /v1/organizations/{organization_id}/tokens`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    /// A label for people (shown in the audit trail).
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: String,
}

/// Collects trimmed fields and problems while checking a form.
#[derive(Debug, Default)]
pub struct Checker {
    pub errors: Vec<FieldError>,
    pub trimmed: Vec<String>,
}

impl Checker {
    pub fn problem(&mut self, field: &str, text: &str) {
        self.errors.push(FieldError {
            field: field.to_string(),
            problem: text.to_string(),
        });
    }

    /// Trims `value`, noting `field` if anything was removed.
    pub fn trim(&mut self, field: &str, value: &str) -> String {
        let t = value.trim();
        if t.len() != value.len() {
            self.trimmed.push(field.to_string());
        }
        t.to_string()
    }

    pub fn name(&mut self, value: &str) -> String {
        let name = self.trim("name", value);
        if name.is_empty() {
            self.problem("name", "required");
        } else if name.chars().count() > 200 {
            self.problem("name", "at most 200 characters");
        }
        name
    }

    pub fn organization(&mut self, value: &str) -> String {
        let org = self.trim("organization_id", value);
        if org.is_empty() {
            self.problem("organization_id", "required");
        } else if org.len() > 64
            || !org
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            self.problem(
                "organization_id",
                "use letters, digits, '-' or '_' (at most 64)",
            );
        }
        org
    }

    pub fn tenant(&mut self, value: &str) -> String {
        let tenant = self.trim("tenant_id", value).to_ascii_lowercase();
        if !is_tenant(&tenant) {
            self.problem(
                "tenant_id",
                "must be a GUID (Directory (tenant) ID) or a verified domain name",
            );
        }
        tenant
    }

    pub fn guid(&mut self, field: &str, value: &str, what: &str) -> String {
        let v = self.trim(field, value).to_ascii_lowercase();
        if !is_guid(&v) {
            self.problem(field, &format!("must be a GUID ({what})"));
        }
        v
    }

    pub fn secret(&mut self, value: &SecretString) -> SecretString {
        let raw = value.expose_secret();
        let trimmed = raw.trim();
        if trimmed.len() != raw.len() {
            self.trimmed.push("client_secret".to_string());
        }
        if trimmed.is_empty() {
            self.problem("client_secret", "required");
        } else if trimmed.len() > 1024 {
            self.problem("client_secret", "too long to be a client secret");
        }
        SecretString::from(trimmed.to_string())
    }

    /// Regions of `cloud` (not checked when the cloud itself is refused), normalised and
    /// deduplicated.
    pub fn regions(&mut self, cloud: Option<&Endpoints>, values: &[String]) -> Vec<String> {
        let mut out = Vec::new();
        for (i, region) in values.iter().enumerate() {
            let r = shared::checks::region::normalize(region);
            if let Some(cloud) = cloud
                && !regions::is_known(cloud, &r)
            {
                self.problem(
                    &format!("regions[{i}]"),
                    &format!("{region:?} is not a region of the {} cloud", cloud.name),
                );
            } else if !out.contains(&r) {
                out.push(r);
            }
        }
        out
    }

    /// A built-in or operator-registered cloud; endpoints in the input are refused (whoever
    /// calls: clouds are the operator's configuration).
    pub fn cloud(
        &mut self,
        cloud: Option<Cloud>,
        clouds: &CloudRegistry,
    ) -> (Cloud, Option<Endpoints>) {
        let cloud = cloud.unwrap_or_default();
        match clouds.accept_input(&cloud) {
            Ok(endpoints) => (cloud, Some(endpoints)),
            Err(e) => {
                self.problem(&e.field, &e.problem);
                (cloud, None)
            }
        }
    }

    pub fn finish(self) -> Result<Vec<String>, ApiError> {
        if self.errors.is_empty() {
            Ok(self.trimmed)
        } else {
            Err(ApiError::Invalid(self.errors))
        }
    }
}

pub fn is_guid(value: &str) -> bool {
    value.len() == 36 && Uuid::parse_str(value).is_ok()
}

/// A tenant is a GUID or a verified domain name (`contoso.onmicrosoft.com`).
pub fn is_tenant(value: &str) -> bool {
    is_guid(value)
        || (value.contains('.')
            && value.len() <= 253
            && value.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                    && !label.starts_with('-')
                    && !label.ends_with('-')
            }))
}

/// A create form, checked.
#[derive(Debug)]
pub struct ValidCreate {
    pub organization_id: String,
    pub name: String,
    pub credential_name: String,
    pub tenant_id: String,
    pub client_id: String,
    pub subscription_id: String,
    pub client_secret: SecretString,
    pub regions: Vec<String>,
    pub capabilities: Capabilities,
    pub cloud: Cloud,
    pub trimmed: Vec<String>,
}

impl CreateConnection {
    /// Checks every field; `organization` is the caller's own organization, if it has one.
    pub fn check(
        self,
        organization: Option<&str>,
        clouds: &CloudRegistry,
    ) -> Result<ValidCreate, ApiError> {
        let mut c = Checker::default();
        let organization_id = match (self.organization_id.as_deref(), organization) {
            (Some(given), Some(own)) if given.trim() != own => {
                c.problem("organization_id", "must be your own organization");
                own.to_string()
            }
            (given, own) => c.organization(given.or(own).unwrap_or_default()),
        };
        let name = c.name(&self.name);
        let credential_name = c.trim("credential_name", &self.credential_name);
        let tenant_id = c.tenant(&self.tenant_id);
        let client_id = c.guid("client_id", &self.client_id, "Application (client) ID");
        let subscription_id = c.guid("subscription_id", &self.subscription_id, "subscription ID");
        if let Some(identifier) = &self.connection_identifier {
            let identifier = c
                .trim("connection_identifier", identifier)
                .to_ascii_lowercase();
            if identifier != subscription_id {
                c.problem("connection_identifier", "must equal the subscription id");
            }
        }
        let client_secret = c.secret(&self.client_secret);
        let (cloud, endpoints) = c.cloud(self.cloud, clouds);
        let regions = c.regions(endpoints.as_ref(), &self.regions);
        let trimmed = c.finish()?;
        Ok(ValidCreate {
            organization_id,
            name,
            credential_name,
            tenant_id,
            client_id,
            subscription_id,
            client_secret,
            regions,
            capabilities: self.selected_items.unwrap_or_default(),
            cloud,
            trimmed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> CreateConnection {
        CreateConnection {
            organization_id: Some("acme".into()),
            name: "Production".into(),
            connection_identifier: None,
            credential_name: "ciphrix-integration".into(),
            tenant_id: "72f988bf-86f1-41af-91ab-2d7cd011db47".into(),
            client_id: "0b9d7f5e-32a3-4b8d-9a6f-1c2d3e4f5a6b".into(),
            subscription_id: "11111111-2222-3333-4444-555555555555".into(),
            client_secret: SecretString::from("s3cret".to_string()),
            regions: vec!["East US".into()],
            selected_items: None,
            cloud: None,
        }
    }

    fn fields(err: ApiError) -> Vec<String> {
        match err {
            ApiError::Invalid(f) => f.into_iter().map(|f| f.field).collect(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn accepts_a_good_form_and_reports_trimmed_fields() {
        let mut f = form();
        f.client_id = format!(" {} ", f.client_id);
        f.client_secret = SecretString::from("s3cret \n".to_string());
        let v = f.check(None, &CloudRegistry::default()).expect("valid");
        assert_eq!(v.trimmed, vec!["client_id", "client_secret"]);
        assert_eq!(v.client_secret.expose_secret(), "s3cret");
        assert_eq!(v.regions, vec!["eastus"]);
        assert!(v.capabilities.compliance_checks);
    }

    #[test]
    fn reports_every_bad_field_at_once() {
        let mut f = form();
        f.tenant_id = "not a tenant".into();
        f.client_id = "1234".into();
        f.connection_identifier = Some("99999999-2222-3333-4444-555555555555".into());
        f.client_secret = SecretString::from("   ".to_string());
        f.organization_id = None;
        f.regions = vec!["eastus".into(), "atlantis".into()];
        assert_eq!(
            fields(f.check(None, &CloudRegistry::default()).unwrap_err()),
            vec![
                "organization_id",
                "tenant_id",
                "client_id",
                "connection_identifier",
                "client_secret",
                "regions[1]"
            ]
        );
    }

    #[test]
    fn organization_tokens_create_in_their_own_organization_only() {
        let v = form()
            .check(Some("acme"), &CloudRegistry::default())
            .expect("own");
        assert_eq!(v.organization_id, "acme");
        let mut f = form();
        f.organization_id = None;
        assert_eq!(
            f.check(Some("acme"), &CloudRegistry::default())
                .expect("implied")
                .organization_id,
            "acme"
        );
        assert_eq!(
            fields(
                form()
                    .check(Some("globex"), &CloudRegistry::default())
                    .unwrap_err()
            ),
            vec!["organization_id"]
        );
    }

    #[test]
    fn regions_belong_to_the_connections_cloud() {
        let mut f = form();
        f.cloud = Some(Cloud::China);
        f.regions = vec!["chinaeast2".into(), "eastus".into()];
        assert_eq!(
            fields(f.check(None, &CloudRegistry::default()).unwrap_err()),
            vec!["regions[1]"]
        );
    }

    #[test]
    fn bodies_report_the_failing_field() {
        let body = Bytes::from_static(
            br#"{"name":"x","selected_items":{"compliance_checks":true,"flux":true}}"#,
        );
        let err = parse_body::<CreateConnection>(&body).unwrap_err();
        match err {
            ApiError::Invalid(f) => {
                assert_eq!(f[0].field, "selected_items.flux");
                assert!(f[0].problem.contains("unknown field `flux`"), "{:?}", f[0]);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse_body::<CreateConnection>(&Bytes::from_static(b"{not json")),
            Err(ApiError::BadRequest(_))
        ));
    }

    #[test]
    fn tenants_may_be_domains() {
        assert!(is_tenant("contoso.onmicrosoft.com"));
        assert!(!is_tenant("contoso"));
        assert!(!is_tenant("72f988bf-86f1-41af-91ab-2d7cd011db4"));
    }
}
