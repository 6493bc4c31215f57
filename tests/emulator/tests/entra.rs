//! The Entra ID token endpoint: success and each AADSTS error the product must tell apart.

mod common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use reqwest::StatusCode;
use serde_json::Value;

fn claims_of(token: &str) -> Value {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "a JWT has three parts");
    let header: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).expect("b64")).expect("json");
    assert_eq!(header["typ"], "JWT");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).expect("b64")).expect("json")
}

/// Asserts an Entra error body in full and returns it.
async fn assert_entra_error(
    response: reqwest::Response,
    status: StatusCode,
    error: &str,
    code: u64,
) -> Value {
    assert_eq!(response.status(), status);
    let body: Value = response.json().await.expect("error JSON");
    assert_eq!(body["error"], error, "body: {body}");
    assert_eq!(body["error_codes"], serde_json::json!([code]));
    assert_eq!(
        body["error_uri"],
        format!("https://login.microsoftonline.com/error?code={code}")
    );
    let description = body["error_description"].as_str().expect("description");
    assert!(
        description.starts_with(&format!("AADSTS{code}: ")),
        "{description}"
    );
    let trace_id = body["trace_id"].as_str().expect("trace_id");
    let correlation_id = body["correlation_id"].as_str().expect("correlation_id");
    let timestamp = body["timestamp"].as_str().expect("timestamp");
    assert!(
        uuid::Uuid::try_parse(trace_id).is_ok() && uuid::Uuid::try_parse(correlation_id).is_ok()
    );
    assert!(
        chrono::NaiveDateTime::parse_from_str(timestamp, "%Y-%m-%d %H:%M:%SZ").is_ok(),
        "{timestamp}"
    );
    assert!(description.ends_with(&format!(
        "\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}\r\nTimestamp: {timestamp}"
    )));
    body
}

fn form<'a>(client_id: &'a str, secret: &'a str, scope: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("grant_type", "client_credentials"),
        ("client_id", client_id),
        ("client_secret", secret),
        ("scope", scope),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn issues_a_bearer_token_with_app_claims() {
    let env = Env::start().await;
    let response = env
        .request_token(TENANT, &form(READER_CLIENT, READER_SECRET, ARM_SCOPE))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "application/json; charset=utf-8"
    );
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3599);
    assert_eq!(body["ext_expires_in"], 3599);

    let claims = claims_of(body["access_token"].as_str().expect("token"));
    assert_eq!(claims["aud"], "https://management.azure.com");
    assert_eq!(claims["iss"], format!("https://sts.windows.net/{TENANT}/"));
    assert_eq!(claims["appid"], READER_CLIENT);
    assert_eq!(claims["oid"], READER_OID);
    assert_eq!(claims["sub"], READER_OID);
    assert_eq!(claims["tid"], TENANT);
    assert_eq!(claims["idtyp"], "app");
    assert_eq!(claims["ver"], "1.0");
    let (iat, nbf, exp) = (
        claims["iat"].as_i64(),
        claims["nbf"].as_i64(),
        claims["exp"].as_i64(),
    );
    assert_eq!(iat, nbf);
    assert_eq!(exp.zip(iat).map(|(e, i)| e - i), Some(3599));
}

#[tokio::test(flavor = "multi_thread")]
async fn accepts_a_domain_for_the_tenant_and_the_cli_style_scope() {
    let env = Env::start().await;
    let token = env
        .token_for(
            TENANT_DOMAIN,
            READER_CLIENT,
            READER_SECRET,
            "https://management.core.windows.net//.default",
        )
        .await;
    let claims = claims_of(&token);
    assert_eq!(claims["aud"], "https://management.core.windows.net/");
    assert_eq!(claims["tid"], TENANT);
}

#[tokio::test(flavor = "multi_thread")]
async fn accepts_client_credentials_in_basic_auth() {
    let env = Env::start().await;
    let response = env
        .http
        .post(env.url(&format!("/{TENANT}/oauth2/v2.0/token")))
        .basic_auth(READER_CLIENT, Some("reader~secret%2B%2F%3D"))
        .form(&[("grant_type", "client_credentials"), ("scope", ARM_SCOPE)])
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_tenant_is_900023() {
    let env = Env::start().await;
    let tenant = "11111111-1111-1111-1111-11111111111"; // one digit short
    let response = env
        .request_token(tenant, &form(READER_CLIENT, READER_SECRET, ARM_SCOPE))
        .await;
    let body =
        assert_entra_error(response, StatusCode::BAD_REQUEST, "invalid_request", 900023).await;
    assert!(body["error_description"].as_str().is_some_and(|d| d.contains(&format!(
        "Specified tenant identifier '{tenant}' is neither a valid DNS name, nor a valid external domain."
    ))));
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_tenant_is_90002() {
    let env = Env::start().await;
    for tenant in [
        "33333333-3333-3333-3333-333333333333",
        "nowhere.onmicrosoft.com",
    ] {
        let response = env
            .request_token(tenant, &form(READER_CLIENT, READER_SECRET, ARM_SCOPE))
            .await;
        let body =
            assert_entra_error(response, StatusCode::BAD_REQUEST, "invalid_request", 90002).await;
        assert!(
            body["error_description"]
                .as_str()
                .is_some_and(|d| d.contains(&format!("Tenant '{tenant}' not found.")))
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_client_is_700016() {
    let env = Env::start().await;
    // The app exists, but in another tenant.
    let response = env
        .request_token(TENANT, &form(FABRIKAM_CLIENT, FABRIKAM_SECRET, ARM_SCOPE))
        .await;
    let body = assert_entra_error(
        response,
        StatusCode::BAD_REQUEST,
        "unauthorized_client",
        700016,
    )
    .await;
    assert!(body["error_description"].as_str().is_some_and(|d| {
        d.contains(&format!(
        "Application with identifier '{FABRIKAM_CLIENT}' was not found in the directory '{TENANT}'."
    ))
    }));
}

#[tokio::test(flavor = "multi_thread")]
async fn disabled_application_is_7000112() {
    let env = Env::start().await;
    let response = env
        .request_token(TENANT, &form(DISABLED_CLIENT, DISABLED_SECRET, ARM_SCOPE))
        .await;
    let body = assert_entra_error(
        response,
        StatusCode::BAD_REQUEST,
        "unauthorized_client",
        7000112,
    )
    .await;
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| d.contains(&format!(
                "Application '{DISABLED_CLIENT}'(switched-off) is disabled."
            )))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_secret_is_7000218() {
    let env = Env::start().await;
    let response = env
        .request_token(
            TENANT,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", READER_CLIENT),
                ("scope", ARM_SCOPE),
            ],
        )
        .await;
    assert_entra_error(
        response,
        StatusCode::BAD_REQUEST,
        "invalid_request",
        7000218,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_secret_is_7000215() {
    let env = Env::start().await;
    let response = env
        .request_token(TENANT, &form(READER_CLIENT, "not-the-secret", ARM_SCOPE))
        .await;
    let body = assert_entra_error(
        response,
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        7000215,
    )
    .await;
    assert!(body["error_description"].as_str().is_some_and(|d| d.contains(&format!(
        "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{READER_CLIENT}'."
    ))));
}

#[tokio::test(flavor = "multi_thread")]
async fn expired_secret_is_7000222() {
    let env = Env::start().await;
    let response = env
        .request_token(
            TENANT,
            &form(READER_CLIENT, READER_EXPIRED_SECRET, ARM_SCOPE),
        )
        .await;
    let body = assert_entra_error(
        response,
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        7000222,
    )
    .await;
    assert!(body["error_description"].as_str().is_some_and(|d| d.starts_with(&format!(
        "AADSTS7000222: The provided client secret keys for app '{READER_CLIENT}' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.\r\n"
    ))));
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_scopes_are_70011() {
    let env = Env::start().await;
    for scope in [
        "https://management.azure.com/user_impersonation",
        "https://management.azure.com/.default https://graph.microsoft.com/.default",
    ] {
        let response = env
            .request_token(TENANT, &form(READER_CLIENT, READER_SECRET, scope))
            .await;
        assert_entra_error(response, StatusCode::BAD_REQUEST, "invalid_scope", 70011).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn other_grant_types_are_unsupported() {
    let env = Env::start().await;
    let response = env
        .request_token(
            TENANT,
            &[
                ("grant_type", "password"),
                ("client_id", READER_CLIENT),
                ("client_secret", READER_SECRET),
                ("scope", ARM_SCOPE),
            ],
        )
        .await;
    let body = assert_entra_error(
        response,
        StatusCode::BAD_REQUEST,
        "unsupported_grant_type",
        70003,
    )
    .await;
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| d.contains("unsupported grant type 'password'"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_parameters_are_900144_and_correlation_ids_are_echoed() {
    let env = Env::start().await;
    let correlation = "5a2f6c1e-0000-4000-8000-000000000001";
    let response = env
        .http
        .post(env.url(&format!("/{TENANT}/oauth2/v2.0/token")))
        .header("client-request-id", correlation)
        .form(&[
            ("client_id", READER_CLIENT),
            ("client_secret", READER_SECRET),
            ("scope", ARM_SCOPE),
        ])
        .send()
        .await
        .expect("answered");
    let body =
        assert_entra_error(response, StatusCode::BAD_REQUEST, "invalid_request", 900144).await;
    assert_eq!(body["correlation_id"], correlation);
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| d.contains("parameter: 'grant_type'"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn conditional_access_blocks_with_53003() {
    let env = Env::start_with(unit_scenario_with(|scenario| {
        scenario["tenants"][0]["applications"][0]["conditional_access_blocked"] =
            serde_json::json!(true);
    }))
    .await;
    let response = env
        .request_token(TENANT, &form(READER_CLIENT, READER_SECRET, ARM_SCOPE))
        .await;
    let body = assert_entra_error(response, StatusCode::BAD_REQUEST, "invalid_grant", 53003).await;
    assert!(body["error_description"].as_str().is_some_and(|d| d.starts_with(
        "AADSTS53003: Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.\r\nTrace ID: "
    )));
    assert_eq!(body["suberror"], "message_only");
    // The secret is checked first: a wrong one is still 7000215.
    let response = env
        .request_token(TENANT, &form(READER_CLIENT, "wrong", ARM_SCOPE))
        .await;
    assert_entra_error(
        response,
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        7000215,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn national_cloud_tenants_are_90038() {
    let env = Env::start_with(unit_scenario_with(|scenario| {
        scenario["tenants"][0]["national_cloud"] = serde_json::json!("AzureChinaCloud");
    }))
    .await;
    for tenant in [TENANT, TENANT_DOMAIN] {
        let response = env
            .request_token(tenant, &form(READER_CLIENT, READER_SECRET, ARM_SCOPE))
            .await;
        let body =
            assert_entra_error(response, StatusCode::BAD_REQUEST, "invalid_request", 90038).await;
        assert!(body["error_description"].as_str().is_some_and(|d| d.starts_with(&format!(
            "AADSTS90038: Tenant '{tenant}' request is being redirected to the National Cloud 'AzureChinaCloud'.\r\n"
        ))));
        assert!(body.get("suberror").is_none());
    }
}
