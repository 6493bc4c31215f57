//! Encryption of client secrets at rest (DESIGN.md contract 2).
//!
//! Secrets are sealed with AES-256-GCM under an operator-provided key before they reach Redis,
//! and opened only in memory by the worker (and the scheduler when it validates a connection).
//! The connection id is bound as associated data, so a sealed secret copied onto another
//! connection does not open. Keys carry an id so operators can rotate: the first key of the ring
//! seals, every key of the ring opens; `sealed_with` tells which records still use an old key.
//!
//! Sealed format: `v1.<key id>.<base64url(nonce || ciphertext+tag)>`.

use std::collections::HashMap;
use std::fmt;

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, Generate, Key, KeyInit, Nonce, Payload};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use secrecy::{ExposeSecret, SecretString};

const FORMAT: &str = "v1";
const NONCE_LEN: usize = 12;

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error(
        "secret key ring is invalid: {0} (expected `id:base64key[,id:base64key...]`, keys of 32 bytes)"
    )]
    InvalidKeyRing(String),
    #[error("sealed secret is malformed")]
    Malformed,
    #[error("sealed secret uses key id {0:?}, which is not in the key ring")]
    UnknownKey(String),
    #[error("sealed secret does not open with key {0:?} (wrong key or tampered data)")]
    OpenFailed(String),
    #[error("encryption failed")]
    SealFailed,
}

/// The operator's keys. Debug never prints key material.
#[derive(Clone)]
pub struct KeyRing {
    active: String,
    keys: HashMap<String, Aes256Gcm>,
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ids: Vec<_> = self.keys.keys().collect();
        ids.sort();
        f.debug_struct("KeyRing")
            .field("active", &self.active)
            .field("key_ids", &ids)
            .finish()
    }
}

impl KeyRing {
    /// Parses `id:base64key[,id:base64key...]`; the first key seals. Keys are 32 random bytes in
    /// standard base64 (`openssl rand -base64 32`, or [`KeyRing::generate_key`]).
    pub fn parse(spec: &str) -> Result<Self, CryptoError> {
        let mut active = None;
        let mut keys = HashMap::new();
        for entry in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (id, b64) = entry
                .split_once(':')
                .ok_or_else(|| CryptoError::InvalidKeyRing("an entry has no `id:`".into()))?;
            let id = id.trim();
            if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                return Err(CryptoError::InvalidKeyRing(format!(
                    "key id {id:?} must be letters, digits or '-'"
                )));
            }
            let bytes = STANDARD.decode(b64.trim()).map_err(|_| {
                CryptoError::InvalidKeyRing(format!("key {id:?} is not valid base64"))
            })?;
            let cipher = Aes256Gcm::new_from_slice(&bytes).map_err(|_| {
                CryptoError::InvalidKeyRing(format!("key {id:?} has {} bytes, not 32", bytes.len()))
            })?;
            if keys.insert(id.to_string(), cipher).is_some() {
                return Err(CryptoError::InvalidKeyRing(format!(
                    "key id {id:?} appears twice"
                )));
            }
            active.get_or_insert_with(|| id.to_string());
        }
        let active = active.ok_or_else(|| CryptoError::InvalidKeyRing("no key given".into()))?;
        Ok(Self { active, keys })
    }

    /// A fresh random key in the `parse` format, for set-up scripts and tests.
    pub fn generate_key(id: &str) -> String {
        let key = Key::<Aes256Gcm>::generate();
        format!("{id}:{}", STANDARD.encode(key.as_slice()))
    }

    pub fn active_key_id(&self) -> &str {
        &self.active
    }

    /// Seals `secret` for the record identified by `context` (the connection id).
    pub fn seal(&self, secret: &SecretString, context: &str) -> Result<String, CryptoError> {
        let cipher = self.keys.get(&self.active).ok_or(CryptoError::SealFailed)?;
        let nonce = Nonce::<Aes256Gcm>::generate();
        let ciphertext = cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: secret.expose_secret().as_bytes(),
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| CryptoError::SealFailed)?;
        let mut blob = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        blob.extend_from_slice(nonce.as_slice());
        blob.extend_from_slice(&ciphertext);
        Ok(format!(
            "{FORMAT}.{}.{}",
            self.active,
            URL_SAFE_NO_PAD.encode(blob)
        ))
    }

    /// Opens a sealed secret of the record identified by `context`.
    pub fn open(&self, sealed: &str, context: &str) -> Result<SecretString, CryptoError> {
        let (key_id, blob) = parse_sealed(sealed)?;
        let cipher = self
            .keys
            .get(key_id)
            .ok_or_else(|| CryptoError::UnknownKey(key_id.to_string()))?;
        if blob.len() <= NONCE_LEN {
            return Err(CryptoError::Malformed);
        }
        let (nonce, ciphertext) = blob.split_at(NONCE_LEN);
        let nonce = Nonce::<Aes256Gcm>::try_from(nonce).map_err(|_| CryptoError::Malformed)?;
        let plain = cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: ciphertext,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| CryptoError::OpenFailed(key_id.to_string()))?;
        let text = String::from_utf8(plain).map_err(|_| CryptoError::Malformed)?;
        Ok(SecretString::from(text))
    }
}

/// The key id a sealed value was made with (for rotation reports).
pub fn sealed_with(sealed: &str) -> Option<&str> {
    parse_sealed(sealed).ok().map(|(id, _)| id)
}

fn parse_sealed(sealed: &str) -> Result<(&str, Vec<u8>), CryptoError> {
    let mut parts = sealed.splitn(3, '.');
    let (Some(FORMAT), Some(key_id), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(CryptoError::Malformed);
    };
    let blob = URL_SAFE_NO_PAD
        .decode(b64)
        .map_err(|_| CryptoError::Malformed)?;
    Ok((key_id, blob))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> SecretString {
        SecretString::from(s.to_string())
    }

    #[test]
    fn seals_and_opens_bound_to_the_record() {
        let ring = KeyRing::parse(&KeyRing::generate_key("k1")).expect("ring");
        let sealed = ring.seal(&secret("s3cr3t~value"), "conn-a").expect("seal");
        assert!(sealed.starts_with("v1.k1."));
        assert!(!sealed.contains("s3cr3t"));
        assert_eq!(
            ring.open(&sealed, "conn-a").expect("open").expose_secret(),
            "s3cr3t~value"
        );
        assert!(matches!(
            ring.open(&sealed, "conn-b"),
            Err(CryptoError::OpenFailed(_))
        ));
    }

    #[test]
    fn nonces_differ_between_seals() {
        let ring = KeyRing::parse(&KeyRing::generate_key("k1")).expect("ring");
        let a = ring.seal(&secret("x"), "c").expect("seal");
        let b = ring.seal(&secret("x"), "c").expect("seal");
        assert_ne!(a, b);
    }

    #[test]
    fn rotation_keeps_old_secrets_readable() {
        let old = KeyRing::generate_key("k1");
        let new = KeyRing::generate_key("k2");
        let before = KeyRing::parse(&old).expect("ring");
        let sealed_old = before.seal(&secret("one"), "c").expect("seal");
        let after = KeyRing::parse(&format!("{new},{old}")).expect("ring");
        assert_eq!(after.active_key_id(), "k2");
        assert_eq!(
            after.open(&sealed_old, "c").expect("open").expose_secret(),
            "one"
        );
        let sealed_new = after.seal(&secret("two"), "c").expect("seal");
        assert_eq!(sealed_with(&sealed_new), Some("k2"));
        assert!(matches!(
            before.open(&sealed_new, "c"),
            Err(CryptoError::UnknownKey(_))
        ));
    }

    #[test]
    fn rejects_bad_key_rings_and_tampering() {
        assert!(KeyRing::parse("").is_err());
        assert!(KeyRing::parse("k1:not-base64!").is_err());
        assert!(KeyRing::parse("k1:AAAA").is_err());
        let ring = KeyRing::parse(&KeyRing::generate_key("k1")).expect("ring");
        let sealed = ring.seal(&secret("x"), "c").expect("seal");
        // Flip one bit of the ciphertext (not the nonce) and re-encode.
        let (head, b64) = sealed.rsplit_once('.').expect("format");
        let mut blob = URL_SAFE_NO_PAD.decode(b64).expect("base64");
        blob[NONCE_LEN] ^= 0x01;
        let tampered = format!("{head}.{}", URL_SAFE_NO_PAD.encode(blob));
        assert!(matches!(
            ring.open(&tampered, "c"),
            Err(CryptoError::OpenFailed(_))
        ));
        assert!(ring.open("garbage", "c").is_err());
        let debug = format!("{ring:?}");
        assert!(debug.contains("k1") && !debug.contains("=="));
    }
}
