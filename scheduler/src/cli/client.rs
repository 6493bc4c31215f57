//! A small client of the scheduler's HTTP API, for the CLI.

use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::Value;
use uuid::Uuid;

use super::ApiArgs;

pub struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Client {
    pub fn new(api: &ApiArgs) -> anyhow::Result<Self> {
        let token = api
            .token
            .clone()
            .context("an API token is needed: set FLEET_API_TOKEN")?;
        Ok(Self {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()?,
            base: api.api_url.trim_end_matches('/').to_string(),
            token,
        })
    }

    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("cannot reach the API at {}", self.base))?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if !status.is_success() {
            bail!("API answered {status}: {}", describe_error(&text));
        }
        if text.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).context("API answered something that is not JSON")
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.call(reqwest::Method::GET, path, None).await
    }

    /// A GET whose answer is passed on as text (exports: CSV or JSON as served).
    pub async fn get_text(&self, path: &str) -> anyhow::Result<String> {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .with_context(|| format!("cannot reach the API at {}", self.base))?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if !status.is_success() {
            bail!("API answered {status}: {}", describe_error(&text));
        }
        Ok(text)
    }

    /// Polls a scan until it has completed.
    pub async fn wait_for_scan(&self, id: Uuid, scan_id: Uuid, timeout: u64) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout);
        loop {
            if let Ok(progress) = self
                .get(&format!("/v1/connections/{id}/scans/{scan_id}"))
                .await
                && progress.get("completed_at").is_some_and(|v| !v.is_null())
            {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                bail!("scan {scan_id} did not complete within {timeout} s");
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

/// An API error body as one readable line, with its field problems.
fn describe_error(text: &str) -> String {
    let Ok(body) = serde_json::from_str::<Value>(text) else {
        return text.to_string();
    };
    let mut out = body["message"].as_str().unwrap_or(text).to_string();
    if let Some(fields) = body["fields"].as_array() {
        for f in fields {
            out.push_str(&format!(
                "\n  {}: {}",
                f["field"].as_str().unwrap_or("?"),
                f["problem"].as_str().unwrap_or("?")
            ));
        }
    }
    out
}
