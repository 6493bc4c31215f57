//! Authenticated scan results: workers sign every result message with HMAC-SHA256 under a fleet
//! key that only workers and schedulers hold, and the ingester refuses a result whose signature
//! is missing or wrong. Anyone who can publish on the broker (a rescan client, a leaked guest
//! account) can therefore not forge a result: the broker's permissions are one layer, this is
//! the other (issue 9).
//!
//! The key ring is `FLEET_RESULT_KEYS=id:base64key[,id:base64key...]`: the first key signs, every
//! key verifies, so rotation is "add the new key second, roll out, move it first, roll out, drop
//! the old one". The signature travels in the AMQP header [`SIGNATURE_HEADER`] as
//! `<key id>:<hex HMAC-SHA256 of the message body>`; verification is constant-time.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The AMQP header carrying a result's signature.
pub const SIGNATURE_HEADER: &str = "x-fleet-signature";

/// Shortest accepted key, in bytes.
const MIN_KEY_BYTES: usize = 32;

/// The fleet's result-signing keys. Debug shows key ids only.
#[derive(Clone)]
pub struct SigningKeys {
    /// `(id, key)`; the first signs.
    keys: Vec<(String, Vec<u8>)>,
}

impl fmt::Debug for SigningKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|(id, _)| id.as_str()).collect();
        f.debug_struct("SigningKeys")
            .field("ids", &ids)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("invalid FLEET_RESULT_KEYS: {0}")]
    InvalidKeys(String),
    #[error("the message has no {SIGNATURE_HEADER} header")]
    Missing,
    #[error("the {SIGNATURE_HEADER} header is malformed")]
    Malformed,
    #[error("the message is signed with key {0:?}, which this fleet does not have")]
    UnknownKey(String),
    #[error("the signature does not match the message")]
    Mismatch,
}

impl SigningKeys {
    /// Parses `id:base64key[,id:base64key...]` (keys of at least 32 bytes).
    pub fn parse(spec: &str) -> Result<Self, SignatureError> {
        let mut keys: Vec<(String, Vec<u8>)> = Vec::new();
        for entry in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (id, b64) = entry
                .split_once(':')
                .ok_or_else(|| SignatureError::InvalidKeys("an entry has no `id:`".into()))?;
            let id = id.trim();
            if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                return Err(SignatureError::InvalidKeys(format!(
                    "key id {id:?} must be letters, digits or '-'"
                )));
            }
            let key = STANDARD.decode(b64.trim()).map_err(|_| {
                SignatureError::InvalidKeys(format!("key {id:?} is not valid base64"))
            })?;
            if key.len() < MIN_KEY_BYTES {
                return Err(SignatureError::InvalidKeys(format!(
                    "key {id:?} has {} bytes, fewer than {MIN_KEY_BYTES}",
                    key.len()
                )));
            }
            if keys.iter().any(|(existing, _)| existing == id) {
                return Err(SignatureError::InvalidKeys(format!(
                    "key id {id:?} appears twice"
                )));
            }
            keys.push((id.to_string(), key));
        }
        if keys.is_empty() {
            return Err(SignatureError::InvalidKeys("no key given".into()));
        }
        Ok(Self { keys })
    }

    /// A fresh random key ring of one key, in the `parse` format (set-up scripts, tests).
    pub fn generate(id: &str) -> String {
        let key: [u8; 32] = rand::random();
        format!("{id}:{}", STANDARD.encode(key))
    }

    /// `<key id>:<hex HMAC-SHA256(body)>` under the first key.
    pub fn sign(&self, body: &[u8]) -> String {
        let (id, key) = &self.keys[0];
        let tag = mac(key, body).finalize().into_bytes();
        let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
        format!("{id}:{hex}")
    }

    /// Checks `signature` (the header's value, if any) against `body`, in constant time.
    pub fn verify(&self, body: &[u8], signature: Option<&str>) -> Result<(), SignatureError> {
        let signature = signature.ok_or(SignatureError::Missing)?;
        let (id, hex) = signature
            .trim()
            .split_once(':')
            .ok_or(SignatureError::Malformed)?;
        let tag = decode_hex(hex).ok_or(SignatureError::Malformed)?;
        let (_, key) = self
            .keys
            .iter()
            .find(|(known, _)| known == id)
            .ok_or_else(|| SignatureError::UnknownKey(id.chars().take(40).collect()))?;
        mac(key, body)
            .verify_slice(&tag)
            .map_err(|_| SignatureError::Mismatch)
    }
}

fn mac(key: &[u8], body: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| <Hmac<Sha256> as KeyInit>::new(&Default::default()));
    mac.update(body);
    mac
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if hex.len() != 64 || !hex.is_ascii() {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_and_verifies_with_rotation() {
        let old = SigningKeys::generate("old");
        let new = SigningKeys::generate("new");
        let worker = SigningKeys::parse(&old).expect("keys");
        let scheduler = SigningKeys::parse(&format!("{new},{old}")).expect("keys");
        let body = br#"{"schema":"scan-result"}"#;
        let signature = worker.sign(body);
        assert!(signature.starts_with("old:"));
        assert_eq!(scheduler.verify(body, Some(&signature)), Ok(()));
        assert_eq!(
            scheduler.verify(b"tampered", Some(&signature)),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(scheduler.verify(body, None), Err(SignatureError::Missing));
        assert_eq!(
            scheduler.verify(body, Some("nonsense")),
            Err(SignatureError::Malformed)
        );
        let stranger = SigningKeys::parse(&SigningKeys::generate("x")).expect("keys");
        assert!(matches!(
            scheduler.verify(body, Some(&stranger.sign(body))),
            Err(SignatureError::UnknownKey(_))
        ));
        let impostor = SigningKeys::parse(&SigningKeys::generate("old")).expect("keys");
        assert_eq!(
            scheduler.verify(body, Some(&impostor.sign(body))),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn keys_are_checked_and_never_printed() {
        assert!(SigningKeys::parse("").is_err());
        assert!(SigningKeys::parse("a:c2hvcnQ=").is_err());
        let spec = SigningKeys::generate("k1");
        let keys = SigningKeys::parse(&spec).expect("keys");
        let b64 = spec.split_once(':').map(|(_, k)| k).unwrap_or_default();
        assert!(!format!("{keys:?}").contains(b64));
    }
}
