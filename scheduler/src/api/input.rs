//! Reading and checking what callers send: the integration form fields, trimmed of pasted
//! spaces (the response says which were trimmed), with one field-level error per problem and
//! nothing stored when there is any.

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use shared::azure::Cloud;
use shared::store::Capabilities;
use uuid::Uuid;

use super::error::FieldError;

/// Body of `POST /v1/connections`: the integration form.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateConnection {
    /// Required for operator tokens.
    pub organization_id: Option<String>,
    pub name: String,
    /// The subscription id again (the form's "connection identifier"); must equal it if given.
    pub connection_identifier: Option<String>,
    /// The service principal's display name.
    #[serde(default)]
    pub credential_name: String,
    pub tenant_id: String,
    pub client_id: String,
    pub subscription_id: String,
    pub client_secret: SecretString,
    #[serde(default)]
    pub regions: Vec<String>,
    pub selected_items: Option<Capabilities>,
    pub cloud: Option<Cloud>,
}

/// A validated form, trimmed.
#[derive(Debug)]
pub struct ValidConnection {
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
    /// Fields whose leading/trailing spaces were removed.
    pub trimmed: Vec<String>,
}

/// Trims `value`, noting `field` if anything was removed.
fn trim(field: &str, value: &str, trimmed: &mut Vec<String>) -> String {
    let t = value.trim();
    if t.len() != value.len() {
        trimmed.push(field.to_string());
    }
    t.to_string()
}

fn is_guid(value: &str) -> bool {
    value.len() == 36 && Uuid::parse_str(value).is_ok()
}

/// A tenant is a GUID or a verified domain name (`contoso.onmicrosoft.com`).
fn is_tenant(value: &str) -> bool {
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

impl CreateConnection {
    /// Checks every field; returns all problems at once.
    pub fn validate(self, default_org: Option<&str>) -> Result<ValidConnection, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut trimmed = Vec::new();
        let mut problem = |field: &str, text: &str| {
            errors.push(FieldError {
                field: field.to_string(),
                problem: text.to_string(),
            })
        };
        let organization_id = match self.organization_id.as_deref().or(default_org) {
            Some(org) => trim("organization_id", org, &mut trimmed),
            None => String::new(),
        };
        if organization_id.is_empty() {
            problem("organization_id", "required");
        } else if !organization_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            || organization_id.len() > 64
        {
            problem(
                "organization_id",
                "use letters, digits, '-' or '_' (at most 64)",
            );
        }
        let name = trim("name", &self.name, &mut trimmed);
        if name.is_empty() {
            problem("name", "required");
        }
        let credential_name = trim("credential_name", &self.credential_name, &mut trimmed);
        let tenant_id = trim("tenant_id", &self.tenant_id, &mut trimmed).to_ascii_lowercase();
        if !is_tenant(&tenant_id) {
            problem(
                "tenant_id",
                "must be a GUID (Directory (tenant) ID) or a verified domain name",
            );
        }
        let client_id = trim("client_id", &self.client_id, &mut trimmed).to_ascii_lowercase();
        if !is_guid(&client_id) {
            problem("client_id", "must be a GUID (Application (client) ID)");
        }
        let subscription_id =
            trim("subscription_id", &self.subscription_id, &mut trimmed).to_ascii_lowercase();
        if !is_guid(&subscription_id) {
            problem("subscription_id", "must be a GUID");
        }
        if let Some(identifier) = &self.connection_identifier {
            let identifier =
                trim("connection_identifier", identifier, &mut trimmed).to_ascii_lowercase();
            if identifier != subscription_id {
                problem("connection_identifier", "must equal the subscription id");
            }
        }
        let secret = self.client_secret.expose_secret();
        let secret_trimmed = secret.trim();
        if secret_trimmed.len() != secret.len() {
            trimmed.push("client_secret".to_string());
        }
        if secret_trimmed.is_empty() {
            problem("client_secret", "required");
        }
        let client_secret = SecretString::from(secret_trimmed.to_string());
        let mut regions = Vec::new();
        for (i, region) in self.regions.iter().enumerate() {
            let r = shared::checks::region::normalize(region);
            if r.is_empty() || !r.chars().all(|c| c.is_ascii_alphanumeric()) {
                problem(&format!("regions[{i}]"), "not an Azure region name");
            } else if !regions.contains(&r) {
                regions.push(r);
            }
        }
        let cloud = self.cloud.unwrap_or_default();
        if let Err(e) = cloud.validate() {
            problem(e.field, &e.problem);
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(ValidConnection {
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

/// Body of `POST /v1/connections/{id}/rescan`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RescanBody {
    /// Service ids; absent or empty = all.
    pub services: Option<Vec<String>>,
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

    #[test]
    fn accepts_a_good_form_and_reports_trimmed_fields() {
        let mut f = form();
        f.client_id = format!(" {} ", f.client_id);
        f.client_secret = SecretString::from("s3cret \n".to_string());
        let v = f.validate(None).expect("valid");
        assert_eq!(v.trimmed, vec!["client_id", "client_secret"]);
        assert_eq!(v.client_secret.expose_secret(), "s3cret");
        assert_eq!(v.regions, vec!["eastus"]);
        assert!(v.capabilities.compliance_checks);
    }

    #[test]
    fn reports_every_bad_field() {
        let mut f = form();
        f.tenant_id = "not a tenant".into();
        f.client_id = "1234".into();
        f.connection_identifier = Some("99999999-2222-3333-4444-555555555555".into());
        f.client_secret = SecretString::from("   ".to_string());
        f.organization_id = None;
        let errors = f.validate(None).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "organization_id",
                "tenant_id",
                "client_id",
                "connection_identifier",
                "client_secret"
            ]
        );
    }

    #[test]
    fn tenants_may_be_domains() {
        assert!(is_tenant("contoso.onmicrosoft.com"));
        assert!(!is_tenant("contoso"));
        assert!(!is_tenant("72f988bf-86f1-41af-91ab-2d7cd011db4"));
    }
}
