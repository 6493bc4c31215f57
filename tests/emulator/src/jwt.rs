//! Access tokens: JWT-shaped, signed with a per-process key.
//!
//! The product treats tokens as opaque bearer strings, but tools and logs decode them, so they
//! have the real shape (`header.payload.signature`, base64url) and carry the claims of an Entra
//! ID v1.0 app-only token. They are signed with HS256 under a random key made at start, so only
//! the emulator process that issued a token accepts it.
//!
//! To make ARM treat every token issued so far as expired (as a skewed clock would), the signer
//! retires its key and takes a new one: tokens under a retired key still verify, and say so.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::sync::RwLock;

type HmacSha256 = Hmac<Sha256>;

/// The claims of an app-only access token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Claims {
    pub(crate) aud: String,
    pub(crate) iss: String,
    pub(crate) iat: i64,
    pub(crate) nbf: i64,
    pub(crate) exp: i64,
    pub(crate) appid: String,
    pub(crate) appidacr: String,
    pub(crate) idp: String,
    pub(crate) idtyp: String,
    pub(crate) oid: String,
    pub(crate) sub: String,
    pub(crate) tid: String,
    pub(crate) uti: String,
    pub(crate) ver: String,
    /// Application permissions (app roles) granted to the app for the token's resource.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) roles: Vec<String>,
}

impl Claims {
    /// The claims Entra ID puts in a client-credentials token for `app` in `tenant_id`.
    pub(crate) fn app_only(
        audience: &str,
        tenant_id: &str,
        client_id: &str,
        object_id: &str,
        issued_at: i64,
        lifetime_seconds: u64,
    ) -> Claims {
        let issuer = format!("https://sts.windows.net/{tenant_id}/");
        let lifetime = i64::try_from(lifetime_seconds).unwrap_or(i64::MAX);
        Claims {
            aud: audience.to_owned(),
            iss: issuer.clone(),
            iat: issued_at,
            nbf: issued_at,
            exp: issued_at.saturating_add(lifetime),
            appid: client_id.to_owned(),
            appidacr: "1".to_owned(),
            idp: issuer,
            idtyp: "app".to_owned(),
            oid: object_id.to_owned(),
            sub: object_id.to_owned(),
            tid: tenant_id.to_owned(),
            uti: URL_SAFE_NO_PAD.encode(uuid::Uuid::new_v4().as_bytes()),
            ver: "1.0".to_owned(),
            roles: Vec::new(),
        }
    }

    /// With the application permissions the app holds for the token's resource.
    pub(crate) fn with_roles(mut self, roles: &[String]) -> Claims {
        self.roles = roles.to_vec();
        self
    }
}

/// Why a string is not a token this process issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InvalidToken {
    Malformed,
    BadSignature,
}

/// A token this process signed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Verified {
    pub(crate) claims: Claims,
    /// Signed before the last [`Signer::retire_key`]: to be treated as expired.
    pub(crate) retired: bool,
}

/// Signs and checks tokens with this process's keys; the last one signs.
pub(crate) struct Signer {
    keys: RwLock<Vec<[u8; 32]>>,
}

const HEADER: &str = r#"{"typ":"JWT","alg":"HS256","kid":"azure-emulator"}"#;

impl Signer {
    pub(crate) fn random() -> Signer {
        Signer {
            keys: RwLock::new(vec![rand::random()]),
        }
    }

    fn keys(&self) -> Vec<[u8; 32]> {
        // Keys are only ever appended, so a poisoned lock still holds a usable list.
        self.keys.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Signs from now on with a new key; tokens signed before verify as retired.
    pub(crate) fn retire_key(&self) {
        self.keys
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(rand::random());
    }

    fn mac(key: &[u8; 32]) -> HmacSha256 {
        // HMAC takes keys of any length, so this cannot fail.
        <HmacSha256 as KeyInit>::new_from_slice(key).expect("HMAC accepts any key length")
    }

    pub(crate) fn sign(&self, claims: &Claims) -> String {
        let payload = serde_json::to_vec(claims).expect("claims serialize");
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(HEADER),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let keys = self.keys();
        let key = keys.last().expect("the signer always has a key");
        let mut mac = Signer::mac(key);
        mac.update(signing_input.as_bytes());
        let signature = mac.finalize().into_bytes();
        format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    /// The claims of a token this process signed. Expiry and audience are the caller's to judge.
    pub(crate) fn verify(&self, token: &str) -> Result<Verified, InvalidToken> {
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(InvalidToken::Malformed);
        };
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| InvalidToken::Malformed)?;
        let keys = self.keys();
        let signed_with = keys
            .iter()
            .rposition(|key| {
                let mut mac = Signer::mac(key);
                mac.update(header.as_bytes());
                mac.update(b".");
                mac.update(payload.as_bytes());
                mac.verify_slice(&signature).is_ok()
            })
            .ok_or(InvalidToken::BadSignature)?;
        let payload = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| InvalidToken::Malformed)?;
        let claims = serde_json::from_slice(&payload).map_err(|_| InvalidToken::Malformed)?;
        Ok(Verified {
            claims,
            retired: signed_with + 1 < keys.len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> Claims {
        Claims::app_only(
            "https://management.azure.com",
            "tid",
            "appid",
            "oid",
            1_700_000_000,
            3599,
        )
    }

    #[test]
    fn round_trip() {
        let signer = Signer::random();
        let claims = claims();
        let token = signer.sign(&claims);
        assert_eq!(token.split('.').count(), 3);
        let back = signer.verify(&token).expect("valid");
        assert!(!back.retired);
        let back = back.claims;
        assert_eq!(back, claims);
        assert_eq!(back.exp - back.iat, 3599);
        assert_eq!(back.iss, "https://sts.windows.net/tid/");
    }

    #[test]
    fn rejects_other_keys_and_garbage() {
        let token = Signer::random().sign(&claims());
        assert_eq!(
            Signer::random().verify(&token),
            Err(InvalidToken::BadSignature)
        );
        assert_eq!(Signer::random().verify("abc"), Err(InvalidToken::Malformed));
        assert_eq!(
            Signer::random().verify("a.b.c.d"),
            Err(InvalidToken::Malformed)
        );
        let signer = Signer::random();
        let mut tampered = signer.sign(&claims());
        tampered.insert(40, 'x');
        assert!(signer.verify(&tampered).is_err());
    }

    #[test]
    fn retired_keys_still_verify_and_say_so() {
        let signer = Signer::random();
        let old = signer.sign(&claims());
        signer.retire_key();
        let new = signer.sign(&claims());
        assert_eq!(signer.verify(&old).map(|v| v.retired), Ok(true));
        assert_eq!(signer.verify(&new).map(|v| v.retired), Ok(false));
        signer.retire_key();
        assert_eq!(signer.verify(&new).map(|v| v.retired), Ok(true));
    }
}
