//! TOTP secrets sealed at rest: XChaCha20-Poly1305 under the `[mfa] secret_key` (a 0600 file
//! in `data_dir` by default, generated on first start, like the token signing key), with the
//! user and the credential id as associated data, so that a sealed secret copied to another
//! user's record, or under another id, does not open. The store only ever holds the sealed
//! bytes; the secret in clear lives in memory for one check.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::config::SecretRef;

const NONCE_LEN: usize = 24;

/// The key TOTP secrets are sealed with.
#[derive(Clone)]
pub struct FactorKey([u8; 32]);

impl std::fmt::Debug for FactorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FactorKey(..)")
    }
}

impl FactorKey {
    /// Reads the key from `source`; a `file:` that does not exist yet is generated (0600)
    /// when `create_missing`. The key material is hashed to 32 bytes with a purpose label,
    /// so a key file shared by mistake with another use still gives another key.
    pub fn load(source: &SecretRef, create_missing: bool) -> Result<FactorKey, String> {
        let bytes = match source {
            SecretRef::File(path) if create_missing && !path.exists() => {
                let bytes = crate::private_file::generate_secret(path)?;
                tracing::info!(path = %path.display(), "generated a new second-factor key");
                bytes.to_vec()
            }
            source => crate::tokens::keyring::read_key(source).map_err(|e| e.0)?,
        };
        Ok(FactorKey::from_bytes(&bytes))
    }

    pub fn from_bytes(material: &[u8]) -> FactorKey {
        let mut hasher = Sha256::new();
        hasher.update(b"authgate/mfa-seal/v1\0");
        hasher.update(material);
        FactorKey(hasher.finalize().into())
    }

    /// A key for another use (`label` names it), derived from this one: as secret and as
    /// stable as the key file, and no help in opening a seal.
    pub fn derive(&self, label: &str) -> [u8; 32] {
        use hmac::{Hmac, Mac};
        let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(&self.0) {
            Ok(mac) => mac,
            // HMAC takes a key of any length.
            Err(_) => return [0; 32],
        };
        mac.update(b"authgate/mfa-derive/v1\0");
        mac.update(label.as_bytes());
        mac.finalize().into_bytes().into()
    }

    fn aad(user: &str, id: &str) -> Vec<u8> {
        let mut aad = Vec::with_capacity(user.len() + id.len() + 16);
        aad.extend_from_slice(b"authgate-totp\0");
        aad.extend_from_slice(user.as_bytes());
        aad.push(0);
        aad.extend_from_slice(id.as_bytes());
        aad
    }

    /// `nonce || ciphertext` of `secret`, bound to `user` and `id`.
    pub fn seal(&self, user: &str, id: &str, secret: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let aad = Self::aad(user, id);
        let mut out = nonce.to_vec();
        // Encryption of a few bytes with a fresh nonce cannot fail; an empty seal would only
        // fail to open later (the enrolment is refused then).
        if let Ok(sealed) = XChaCha20Poly1305::new(Key::from_slice(&self.0)).encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: secret,
                aad: &aad,
            },
        ) {
            out.extend_from_slice(&sealed);
        }
        out
    }

    /// The secret, if `sealed` was sealed with this key for `user` and `id`.
    pub fn open(&self, user: &str, id: &str, sealed: &[u8]) -> Option<Vec<u8>> {
        let (nonce, body) = sealed.split_at_checked(NONCE_LEN)?;
        let aad = Self::aad(user, id);
        XChaCha20Poly1305::new(Key::from_slice(&self.0))
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: body,
                    aad: &aad,
                },
            )
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_same_key_user_and_id_open_a_seal() {
        let key = FactorKey::from_bytes(&[7; 32]);
        let sealed = key.seal("alice", "t1", b"twenty byte secret!!");
        assert!(!sealed.windows(6).any(|w| w == b"twenty"), "not in clear");
        assert_eq!(
            key.open("alice", "t1", &sealed).as_deref(),
            Some(&b"twenty byte secret!!"[..])
        );
        assert_eq!(key.open("bob", "t1", &sealed), None);
        assert_eq!(key.open("alice", "t2", &sealed), None);
        assert_eq!(key.open("alic", "et1", &sealed), None);
        assert_eq!(
            FactorKey::from_bytes(&[8; 32]).open("alice", "t1", &sealed),
            None
        );
        assert_eq!(key.open("alice", "t1", &sealed[..10]), None);
        let mut flipped = sealed.clone();
        if let Some(last) = flipped.last_mut() {
            *last ^= 1;
        }
        assert_eq!(key.open("alice", "t1", &flipped), None);
        assert_ne!(key.seal("alice", "t1", b"x"), key.seal("alice", "t1", b"x"));
        assert_eq!(key.derive("decoys"), key.derive("decoys"));
        assert_ne!(key.derive("decoys"), key.derive("other"));
        assert_ne!(
            key.derive("decoys"),
            FactorKey::from_bytes(&[8; 32]).derive("decoys")
        );
        assert_eq!(format!("{key:?}"), "FactorKey(..)");
    }

    #[test]
    fn a_missing_key_file_is_generated_private_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/mfa.key");
        let source = SecretRef::File(path.clone());
        assert!(FactorKey::load(&source, false).is_err());
        let first = FactorKey::load(&source, true).unwrap();
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = FactorKey::load(&source, false).unwrap();
        assert_eq!(first.0, again.0);
    }
}
