//! The key set as the store keeps it: one JSON document of every key (its private key as
//! PKCS#8, its state and dates), sealed with XChaCha20-Poly1305 under a key derived from the
//! `[tokens]` HMAC signing key, which every gateway of a deployment already shares. A dump of
//! Redis (or a copy of `data_dir` without the HMAC key) holds no usable private key.
//!
//! Key ids are not stored: they are recomputed from the keys when the document is opened,
//! so a tampered document cannot name a key by another key's id.

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use hmac::Mac;
use rand::RngCore;
use serde::{Deserialize, Serialize};

use super::alg::Alg;
use super::keyset::{Entry, KeyInfo, KeySet, KeyState};
use super::pair::{KeyError, KeyPair};
use crate::tokens::keyring::KeyRing;

const FORMAT: u32 = 1;
const LABEL: &[u8] = b"authgate/signing-keys/seal/v1";
const NONCE_BYTES: usize = 24;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    format: u32,
    keys: Vec<StoredKey>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredKey {
    alg: Alg,
    state: KeyState,
    created_at: u64,
    #[serde(default)]
    activated_at: Option<u64>,
    #[serde(default)]
    retired_at: Option<u64>,
    /// Base64 of the PKCS#8 DER.
    pkcs8: String,
}

/// The keys that seal the stored document: one per HMAC key of the ring, the current one
/// sealing, every one opening (so a rotation of the HMAC key, with the old one in
/// `previous_keys`, still opens the document, which is then sealed again under the new one).
pub struct SealKeys {
    keys: Vec<[u8; 32]>,
}

impl std::fmt::Debug for SealKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealKeys")
            .field("keys", &self.keys.len())
            .finish_non_exhaustive()
    }
}

impl SealKeys {
    /// Derived from each key of `ring` (HMAC-SHA256 of a fixed label: never the HMAC key
    /// itself, and never a value a token could carry).
    pub fn from_ring(ring: &KeyRing) -> SealKeys {
        let keys = ring
            .all()
            .map(|key| {
                let mut mac = key.mac();
                mac.update(LABEL);
                mac.finalize().into_bytes().into()
            })
            .collect();
        SealKeys { keys }
    }

    /// The document of `set`, sealed.
    pub fn seal(&self, set: &KeySet) -> Result<Vec<u8>, KeyError> {
        let keys = set
            .entries
            .iter()
            .map(|e| {
                if e.pair.pkcs8().is_empty() {
                    return Err(KeyError(format!(
                        "the {} key {} has no PKCS#8 form to store",
                        e.info.alg, e.info.kid
                    )));
                }
                Ok(StoredKey {
                    alg: e.info.alg,
                    state: e.info.state,
                    created_at: e.info.created_at,
                    activated_at: e.info.activated_at,
                    retired_at: e.info.retired_at,
                    pkcs8: STANDARD_NO_PAD.encode(e.pair.pkcs8()),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let plain = serde_json::to_vec(&Document {
            format: FORMAT,
            keys,
        })
        .map_err(|_| KeyError("the signing keys cannot be serialised".to_owned()))?;
        let seal_key = self
            .keys
            .first()
            .ok_or_else(|| KeyError("no key to seal the signing keys with".to_owned()))?;
        let mut nonce = [0u8; NONCE_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let sealed = XChaCha20Poly1305::new(Key::from_slice(seal_key))
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &plain,
                    aad: LABEL,
                },
            )
            .map_err(|_| KeyError("the signing keys cannot be sealed".to_owned()))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// The set a sealed document holds, as of the store's `version`.
    pub fn open(&self, sealed: &[u8], version: u64) -> Result<KeySet, KeyError> {
        let (nonce, body) = sealed
            .split_at_checked(NONCE_BYTES)
            .ok_or_else(|| KeyError("the stored signing keys are truncated".to_owned()))?;
        let plain = self
            .keys
            .iter()
            .find_map(|key| {
                XChaCha20Poly1305::new(Key::from_slice(key))
                    .decrypt(
                        XNonce::from_slice(nonce),
                        Payload {
                            msg: body,
                            aad: LABEL,
                        },
                    )
                    .ok()
            })
            .ok_or_else(|| {
                KeyError(
                    "the stored signing keys cannot be opened with [tokens] signing_key or \
                     previous_keys (they were sealed under another HMAC key)"
                        .to_owned(),
                )
            })?;
        // Only where it failed: serde_json's message can quote the value it met, and the
        // values here are private keys.
        let document: Document = serde_json::from_slice(&plain).map_err(|e| {
            KeyError(format!(
                "the stored signing keys are malformed (JSON {:?} error at column {})",
                e.classify(),
                e.column()
            ))
        })?;
        if document.format != FORMAT {
            return Err(KeyError(format!(
                "the stored signing keys have format {}, this gateway reads {FORMAT}",
                document.format
            )));
        }
        let entries = document
            .keys
            .into_iter()
            .map(|stored| {
                let der = STANDARD_NO_PAD.decode(&stored.pkcs8).map_err(|_| {
                    KeyError("the stored signing keys are malformed (PKCS#8)".to_owned())
                })?;
                let pair = KeyPair::from_pkcs8(stored.alg, &der)?;
                Ok(Entry {
                    info: KeyInfo {
                        kid: pair.kid().to_owned(),
                        alg: stored.alg,
                        state: stored.state,
                        created_at: stored.created_at,
                        activated_at: stored.activated_at,
                        retired_at: stored.retired_at,
                    },
                    pair: Arc::new(pair),
                })
            })
            .collect::<Result<Vec<_>, KeyError>>()?;
        Ok(KeySet::from_entries(entries, version))
    }
}
