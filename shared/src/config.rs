//! Settings both binaries share, as clap argument groups that also read environment variables
//! (`FLEET_*`), so the same names work on a command line, in compose files and in Kubernetes.
//!
//! Values that may carry credentials (broker and Redis URLs, the secret key ring) never print in
//! clear: their Debug and Display redact the sensitive parts.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use url::Url;

use crate::crypto::KeyRing;

/// A URL whose password must not reach logs.
#[derive(Clone, PartialEq, Eq)]
pub struct SensitiveUrl(String);

impl SensitiveUrl {
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The URL with its password replaced by `***`.
    pub fn redacted(&self) -> String {
        self.0
            .split(',')
            .map(|part| match Url::parse(part.trim()) {
                Ok(mut url) if url.password().is_some() => {
                    let _ = url.set_password(Some("***"));
                    url.to_string()
                }
                Ok(url) => url.to_string(),
                Err(_) => "<unparseable url>".to_string(),
            })
            .collect::<Vec<_>>()
            .join(",")
    }
}

impl FromStr for SensitiveUrl {
    type Err = String;

    /// One URL, or several separated by commas (cluster seed nodes); each must parse.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            Url::parse(part).map_err(|e| format!("not a URL: {e}"))?;
        }
        Ok(Self(s.trim().to_string()))
    }
}

impl fmt::Debug for SensitiveUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Display for SensitiveUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// RabbitMQ.
#[derive(Debug, Clone, clap::Args)]
pub struct BrokerArgs {
    /// AMQP URL of the broker (vhost as the path, `%2f` for `/`).
    #[arg(
        long,
        env = "FLEET_AMQP_URL",
        default_value = "amqp://guest:guest@127.0.0.1:5672/%2f"
    )]
    pub amqp_url: SensitiveUrl,
    /// Prefix of every exchange and queue name (lets several fleets or tests share a broker).
    #[arg(long, env = "FLEET_QUEUE_PREFIX", default_value = "")]
    pub queue_prefix: String,
}

/// Redis.
#[derive(Debug, Clone, clap::Args)]
pub struct RedisArgs {
    /// Redis URL (`redis://[:password@]host:port/db`, `rediss://` for TLS); for Redis Cluster,
    /// comma-separated seed node URLs.
    #[arg(
        long,
        env = "FLEET_REDIS_URL",
        default_value = "redis://127.0.0.1:6379/"
    )]
    pub redis_url: SensitiveUrl,
    /// Use the Redis Cluster client (implied by several URLs).
    #[arg(long, env = "FLEET_REDIS_CLUSTER", default_value_t = false, action = clap::ArgAction::Set)]
    pub redis_cluster: bool,
    /// Prefix of every Redis key.
    #[arg(long, env = "FLEET_KEY_PREFIX", default_value = "fleet:")]
    pub key_prefix: String,
}

/// Encryption of client secrets at rest.
#[derive(Debug, Clone, clap::Args)]
pub struct SecretArgs {
    /// Key ring `id:base64key[,id:base64key...]`; the first key encrypts, all decrypt. Keys are
    /// 32 random bytes (`openssl rand -base64 32`).
    #[arg(long, env = "FLEET_SECRET_KEYS", value_parser = parse_key_ring, hide_env_values = true)]
    pub secret_keys: KeyRing,
}

/// Authentication of scan results between workers and schedulers.
#[derive(Debug, Clone, clap::Args)]
pub struct SigningArgs {
    /// Result-signing key ring `id:base64key[,id:base64key...]` (32+ random bytes each); the
    /// first key signs, all verify. Workers and schedulers need the same ring.
    #[arg(long, env = "FLEET_RESULT_KEYS", value_parser = parse_signing_keys, hide_env_values = true)]
    pub result_keys: crate::signing::SigningKeys,
}

fn parse_signing_keys(spec: &str) -> Result<crate::signing::SigningKeys, String> {
    crate::signing::SigningKeys::parse(spec).map_err(|e| e.to_string())
}

fn parse_key_ring(spec: &str) -> Result<KeyRing, String> {
    KeyRing::parse(spec).map_err(|e| e.to_string())
}

/// Azure access.
#[derive(Debug, Clone, clap::Args)]
pub struct AzureArgs {
    /// PEM bundle of extra CA certificates to trust for Entra ID and ARM (TLS-inspecting
    /// proxies, Azure Stack Hub, the emulator).
    #[arg(long, env = "FLEET_EXTRA_CA_FILE")]
    pub extra_ca_file: Option<String>,
    /// Timeout of one HTTP request to Azure, in seconds.
    #[arg(long, env = "FLEET_AZURE_REQUEST_TIMEOUT_SECS", default_value_t = 60)]
    pub azure_request_timeout_secs: u64,
    /// Largest response body read from Entra ID, Resource Manager or Graph, in bytes; a larger
    /// one fails that request (the collection's checks are Error).
    #[arg(long, env = "FLEET_AZURE_MAX_BODY_BYTES", default_value_t = crate::azure::http::DEFAULT_MAX_BODY_BYTES)]
    pub azure_max_body_bytes: usize,
    /// The operator's registered clouds, as JSON: `{"name": {"authority_host": "https://...",
    /// "resource_manager": "https://...", "arm_audience": ..., "regions": [...],
    /// "throttle_model": "hourly", "allow_private_addresses": false}}`.
    #[arg(long, env = "FLEET_CLOUDS")]
    pub clouds: Option<String>,
    /// A file holding the registered clouds' JSON (instead of `FLEET_CLOUDS`).
    #[arg(long, env = "FLEET_CLOUDS_FILE")]
    pub clouds_file: Option<String>,
}

impl AzureArgs {
    /// The registered clouds, checked (URL rules, and the addresses their hosts resolve to).
    pub async fn cloud_registry(&self) -> anyhow::Result<crate::azure::cloud::CloudRegistry> {
        use anyhow::Context;
        let json = match (&self.clouds, &self.clouds_file) {
            (Some(_), Some(_)) => anyhow::bail!("set FLEET_CLOUDS or FLEET_CLOUDS_FILE, not both"),
            (Some(json), None) => json.clone(),
            (None, Some(path)) => std::fs::read_to_string(path)
                .with_context(|| format!("cannot read FLEET_CLOUDS_FILE {path}"))?,
            (None, None) => return Ok(Default::default()),
        };
        let registry = crate::azure::cloud::CloudRegistry::parse(&json)?;
        registry.check_addresses().await?;
        Ok(registry)
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.azure_request_timeout_secs.max(1))
    }
}

/// Logs.
#[derive(Debug, Clone, clap::Args)]
pub struct LogArgs {
    /// `text` for people, `json` for log pipelines. Levels come from `RUST_LOG`.
    #[arg(long, env = "FLEET_LOG_FORMAT", default_value = "text")]
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_never_print_their_password() {
        let url: SensitiveUrl = "amqp://fleet:p4ssw0rd@rabbit:5672/%2f"
            .parse()
            .expect("url");
        assert!(!format!("{url:?}").contains("p4ssw0rd"));
        assert!(!url.to_string().contains("p4ssw0rd"));
        assert!(url.expose().contains("p4ssw0rd"));
        let nodes: SensitiveUrl = "redis://:pw1@a:7000, redis://:pw2@b:7001"
            .parse()
            .expect("nodes");
        assert_eq!(nodes.redacted(), "redis://:***@a:7000,redis://:***@b:7001");
        assert!("not a url".parse::<SensitiveUrl>().is_err());
    }
}
