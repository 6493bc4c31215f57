//! The one HTTP client for Azure calls (Entra tokens and ARM): https only, trusting the system
//! roots plus the operator's extra CA certificates (a PEM bundle; needed behind TLS-inspecting
//! proxies, for Azure Stack Hub, and for the emulator in tests).

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum HttpSetupError {
    #[error("cannot read the extra CA certificates file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("the extra CA certificates in {path} are not a valid PEM bundle: {source}")]
    Pem {
        path: String,
        source: reqwest::Error,
    },
    #[error("the extra CA certificates file {path} holds no certificate")]
    Empty { path: String },
    #[error("cannot build the HTTP client: {0}")]
    Build(reqwest::Error),
}

/// Builds the client. `extra_ca_file` is a PEM bundle path (may hold several certificates).
pub fn build_client(
    extra_ca_file: Option<&str>,
    request_timeout: Duration,
) -> Result<reqwest::Client, HttpSetupError> {
    let mut builder = reqwest::Client::builder()
        .https_only(true)
        .connect_timeout(Duration::from_secs(10))
        .timeout(request_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("azure-scan-fleet/", env!("CARGO_PKG_VERSION")));
    if let Some(path) = extra_ca_file {
        let pem = std::fs::read(path).map_err(|source| HttpSetupError::Read {
            path: path.to_string(),
            source,
        })?;
        let certs =
            reqwest::Certificate::from_pem_bundle(&pem).map_err(|source| HttpSetupError::Pem {
                path: path.to_string(),
                source,
            })?;
        if certs.is_empty() {
            return Err(HttpSetupError::Empty {
                path: path.to_string(),
            });
        }
        for cert in certs {
            builder = builder.add_root_certificate(cert);
        }
    }
    builder.build().map_err(HttpSetupError::Build)
}
