//! API bearer tokens, stored hashed.
//!
//! A token is 32 random bytes (base64url, prefixed `fst_`), shown once when created. Only its
//! SHA-256 is stored: random tokens need no slow hash, and a leaked store reveals no usable
//! token. A token is scoped to one organization, or is an operator token (all organizations).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{Store, StoreError};

/// What a token is (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ApiToken {
    pub id: Uuid,
    /// The organization it is scoped to; `None` for an operator token.
    pub organization_id: Option<String>,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

/// Hex SHA-256 of a token.
pub fn token_digest(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Store {
    /// Creates a token; returns it (the only time it exists in clear) and its record.
    pub async fn create_api_token(
        &self,
        organization_id: Option<&str>,
        name: &str,
    ) -> Result<(String, ApiToken), StoreError> {
        let token = format!("fst_{}", URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>()));
        let record = ApiToken {
            id: Uuid::new_v4(),
            organization_id: organization_id.map(str::to_string),
            name: name.to_string(),
            created_at: Utc::now(),
        };
        let digest = token_digest(&token);
        self.batch(vec![
            redis::Cmd::set(
                self.keys.api_token(&digest),
                serde_json::to_string(&record)?,
            ),
            redis::Cmd::hset(
                self.keys.api_tokens_of(organization_id),
                record.id.to_string(),
                &digest,
            ),
        ])
        .await?;
        Ok((token, record))
    }

    /// The token's record, if the token exists.
    pub async fn api_token(&self, token: &str) -> Result<Option<ApiToken>, StoreError> {
        let mut conn = self.conn.clone();
        let key = self.keys.api_token(&token_digest(token));
        let raw: Option<String> = conn.get(&key).await?;
        raw.map(|json| {
            serde_json::from_str(&json).map_err(|e| StoreError::Corrupt {
                key,
                reason: e.to_string(),
            })
        })
        .transpose()
    }

    pub async fn api_tokens(
        &self,
        organization_id: Option<&str>,
    ) -> Result<Vec<ApiToken>, StoreError> {
        let mut conn = self.conn.clone();
        let digests: Vec<String> = conn.hvals(self.keys.api_tokens_of(organization_id)).await?;
        let mut out = Vec::new();
        for digest in digests {
            let raw: Option<String> = conn.get(self.keys.api_token(&digest)).await?;
            if let Some(record) = raw.and_then(|json| serde_json::from_str(&json).ok()) {
                out.push(record);
            }
        }
        out.sort_by_key(|t: &ApiToken| t.created_at);
        Ok(out)
    }

    /// Revokes a token of `organization_id`; false if there was no such token.
    pub async fn revoke_api_token(
        &self,
        organization_id: Option<&str>,
        id: Uuid,
    ) -> Result<bool, StoreError> {
        let mut conn = self.conn.clone();
        let index = self.keys.api_tokens_of(organization_id);
        let digest: Option<String> = conn.hget(&index, id.to_string()).await?;
        let Some(digest) = digest else {
            return Ok(false);
        };
        self.batch(vec![
            redis::Cmd::del(self.keys.api_token(&digest)),
            redis::Cmd::hdel(&index, id.to_string()),
        ])
        .await?;
        Ok(true)
    }
}
