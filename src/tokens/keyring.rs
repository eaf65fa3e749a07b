//! The HMAC-SHA256 key ring: the current signing key and the previous keys still accepted
//! during a rotation, each named by a `kid` derived from the key itself (so every gateway
//! sharing a key agrees on its name without configuration).
//!
//! Key material is base64 (standard or URL-safe, padding optional) of at least 32 bytes.
//! A `file:` signing key that does not exist is generated on first start, 0600.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::secret::SecretRef;

/// HMAC-SHA256 keyed once; cloned per use so the key schedule is not recomputed.
pub type HmacSha256 = Hmac<Sha256>;

/// Smallest key accepted: 256 bits (RFC 7518 §3.2).
pub const MIN_KEY_BYTES: usize = 32;

/// One key: its id and its keyed MAC state.
#[derive(Clone)]
pub struct SigningKey {
    kid: String,
    mac: HmacSha256,
}

impl SigningKey {
    pub fn new(secret: &[u8]) -> Result<SigningKey, KeyError> {
        if secret.len() < MIN_KEY_BYTES {
            return Err(KeyError(format!(
                "a signing key must hold at least {MIN_KEY_BYTES} bytes, this one has {}",
                secret.len()
            )));
        }
        let digest = Sha256::digest(secret);
        let kid = URL_SAFE_NO_PAD.encode(&digest[..12]);
        let mac = HmacSha256::new_from_slice(secret)
            .map_err(|_| KeyError("the signing key cannot key HMAC-SHA256".to_owned()))?;
        Ok(SigningKey { kid, mac })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// A fresh MAC state keyed with this key.
    pub fn mac(&self) -> HmacSha256 {
        self.mac.clone()
    }
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// The keys a gateway signs and verifies with.
#[derive(Debug, Clone)]
pub struct KeyRing {
    current: SigningKey,
    previous: Vec<SigningKey>,
}

impl KeyRing {
    pub fn new(current: SigningKey, previous: Vec<SigningKey>) -> KeyRing {
        KeyRing { current, previous }
    }

    /// Loads the configured keys. With `create_missing`, a `file:` signing key that does not
    /// exist is generated; otherwise (as in `check`) a missing file is accepted unread.
    pub fn load(
        signing: &SecretRef,
        previous: &[SecretRef],
        create_missing: bool,
    ) -> Result<Option<KeyRing>, KeyError> {
        let current = match signing {
            SecretRef::File(path) if !path.exists() => {
                if !create_missing {
                    return Ok(None);
                }
                let bytes = crate::private_file::generate_secret(path).map_err(KeyError)?;
                tracing::info!(path = %path.display(), "generated a new token signing key");
                SigningKey::new(&bytes)?
            }
            source => SigningKey::new(&read_key(source)?)?,
        };
        let previous = previous
            .iter()
            .map(|source| SigningKey::new(&read_key(source)?))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some(KeyRing { current, previous }))
    }

    /// The key new tokens are signed with.
    pub fn current(&self) -> &SigningKey {
        &self.current
    }

    /// Every key: the current one first, then the previous ones.
    pub fn all(&self) -> impl Iterator<Item = &SigningKey> {
        std::iter::once(&self.current).chain(&self.previous)
    }

    /// The key named `kid`, current or previous.
    pub fn find(&self, kid: &str) -> Option<&SigningKey> {
        std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|key| key.kid == kid)
    }
}

/// Reads and decodes key material from its source.
pub(crate) fn read_key(source: &SecretRef) -> Result<Vec<u8>, KeyError> {
    let text = source.read().map_err(KeyError)?;
    decode_key(text.trim()).ok_or_else(|| {
        KeyError(format!(
            "{source}: a signing key must be base64 of at least {MIN_KEY_BYTES} random bytes (e.g. `openssl rand -base64 32`)"
        ))
    })
}

fn decode_key(text: &str) -> Option<Vec<u8>> {
    [&URL_SAFE_NO_PAD, &URL_SAFE, &STANDARD, &STANDARD_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(text).ok())
        .filter(|bytes| bytes.len() >= MIN_KEY_BYTES)
}

/// Why keys could not be loaded. Names sources, never key material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyError(pub String);

impl std::fmt::Display for KeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for KeyError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_keys_are_refused() {
        assert!(SigningKey::new(&[7u8; 31]).is_err());
        assert!(SigningKey::new(&[7u8; 32]).is_ok());
    }

    #[test]
    fn kid_is_derived_from_the_key() {
        let a = SigningKey::new(&[1u8; 32]).unwrap();
        let b = SigningKey::new(&[1u8; 32]).unwrap();
        let c = SigningKey::new(&[2u8; 32]).unwrap();
        assert_eq!(a.kid(), b.kid());
        assert_ne!(a.kid(), c.kid());
        assert!(!format!("{a:?}").contains("mac"));
    }

    #[test]
    fn generated_file_key_is_private_and_reused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/signing.key");
        let source = SecretRef::File(path.clone());
        assert!(KeyRing::load(&source, &[], false).unwrap().is_none());
        let first = KeyRing::load(&source, &[], true).unwrap().unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let second = KeyRing::load(&source, &[], true).unwrap().unwrap();
        assert_eq!(first.current().kid(), second.current().kid());
    }

    #[test]
    fn key_encodings() {
        let raw = [9u8; 32];
        for text in [
            URL_SAFE_NO_PAD.encode(raw),
            STANDARD.encode(raw),
            URL_SAFE.encode(raw),
        ] {
            assert_eq!(decode_key(&text).as_deref(), Some(&raw[..]));
        }
        assert_eq!(decode_key("c2hvcnQ="), None);
        assert_eq!(decode_key("not base64 at all!"), None);
    }
}
