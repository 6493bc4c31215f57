//! The one HTTP client for Azure calls (Entra tokens and ARM): https only, trusting the system
//! roots plus the operator's extra CA certificates (a PEM bundle; needed behind TLS-inspecting
//! proxies, for Azure Stack Hub, and for the emulator in tests).
//!
//! It is also the one place where a bearer token is put on the wire ([`authorized_get`]: only to
//! the origin the token was issued for) and where response bodies are read with a size cap
//! ([`read_capped`], [`collect_capped`]), so every reader of Azure (ARM, Entra, Graph) gets both.

use std::time::Duration;

use reqwest::header::HeaderMap;
use secrecy::{ExposeSecret, SecretString};
use url::Url;

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

/// Default cap on one response body from Entra ID, Resource Manager or Graph: generous for a list
/// page (ARM pages are a few MiB at most), small enough that a hostile or broken endpoint cannot
/// exhaust a worker's memory.
pub const DEFAULT_MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

/// A response read in full, within the cap.
#[derive(Debug)]
pub struct BoundedResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// Why an authorized GET gave no response. `Send` and `Read` keep reqwest's error, whose text
/// names hosts and TLS details: callers decide whether the cloud is one whose details may be shown.
#[derive(Debug, thiserror::Error)]
pub enum GuardedGetError {
    /// The URL is not on the origin the token was issued for; nothing was sent.
    #[error("refusing to send the token to {target} (it was issued for {issued_for})")]
    ForeignOrigin { target: String, issued_for: String },
    #[error("request failed: {0}")]
    Send(reqwest::Error),
    #[error("response body larger than {limit} bytes; not read further")]
    TooLarge { limit: usize },
    #[error("reading the response body failed: {0}")]
    Read(reqwest::Error),
}

/// Whether a bearer token issued for `issued_for` may be sent to `url`: same scheme, host and port
/// (the URL's origin), and https.
pub fn same_origin(url: &Url, issued_for: &Url) -> bool {
    url.scheme() == "https" && url.origin() == issued_for.origin()
}

/// The one way a bearer token leaves the process: a GET of `url` with `Authorization: Bearer`,
/// sent only when `url` has the origin (scheme, host, port) of `issued_for`, the endpoint the
/// token was issued for (a cloud's Resource Manager, or its Graph endpoint). Anything else
/// (a nextLink, an id taken from response data, a redirect target) to another origin is refused
/// before a byte is sent: [`GuardedGetError::ForeignOrigin`]. The body is read chunk by chunk and
/// reading stops at `max_body` bytes ([`GuardedGetError::TooLarge`]), so memory per request is
/// bounded by the cap whatever the server sends. Redirects are never followed (the client is
/// built without them). Used by the ARM client, and meant for every other authorized reader
/// (Microsoft Graph).
pub async fn authorized_get(
    http: &reqwest::Client,
    url: &Url,
    issued_for: &Url,
    token: &SecretString,
    max_body: usize,
) -> Result<BoundedResponse, GuardedGetError> {
    if !same_origin(url, issued_for) {
        return Err(GuardedGetError::ForeignOrigin {
            target: url.origin().ascii_serialization(),
            issued_for: issued_for.origin().ascii_serialization(),
        });
    }
    let response = http
        .get(url.clone())
        .header(
            reqwest::header::AUTHORIZATION,
            format!("Bearer {}", token.expose_secret()),
        )
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(GuardedGetError::Send)?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = read_capped(response, max_body).await?;
    Ok(BoundedResponse {
        status,
        headers,
        body,
    })
}

/// Reads a response body, stopping at `max` bytes: a declared `Content-Length` over the cap is
/// refused without reading, and a streamed body is refused as soon as it passes the cap.
pub async fn read_capped(
    mut response: reqwest::Response,
    max: usize,
) -> Result<Vec<u8>, GuardedGetError> {
    if response
        .content_length()
        .is_some_and(|len| len > max as u64)
    {
        return Err(GuardedGetError::TooLarge { limit: max });
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(GuardedGetError::Read)? {
        if body.len() + chunk.len() > max {
            return Err(GuardedGetError::TooLarge { limit: max });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// [`read_capped`] for any stream of byte chunks (azure_core's response bodies, under the token
/// credential). `None` when the body passes `max`; reading stops there.
pub async fn collect_capped<S, E>(mut stream: S, max: usize) -> Result<Option<Vec<u8>>, E>
where
    S: futures_util::Stream<Item = Result<bytes::Bytes, E>> + Unpin,
{
    use futures_util::StreamExt;
    let mut body = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        if body.len() + chunk.len() > max {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body))
}
