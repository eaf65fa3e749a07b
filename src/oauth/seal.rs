//! Sealing a rotation's new token pair under a key derived from the old refresh token, so
//! the store can hand the same pair to a grace-window replay (concurrent tabs, replicas)
//! while holding nothing usable by itself: without the old token the pair cannot be read.

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::TokenResponse;
use crate::store::SealedSuccessor;

fn cipher(old_refresh_token: &str) -> ChaCha20Poly1305 {
    let mut hasher = Sha256::new();
    hasher.update(b"authgate/refresh-grace/v1\0");
    hasher.update(old_refresh_token.as_bytes());
    let key: [u8; 32] = hasher.finalize().into();
    ChaCha20Poly1305::new(Key::from_slice(&key))
}

pub fn seal(old_refresh_token: &str, pair: &TokenResponse) -> SealedSuccessor {
    let mut nonce = [0u8; 12];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let plain = serde_json::to_vec(pair).unwrap_or_default();
    let mut out = nonce.to_vec();
    // Encryption with a fresh nonce cannot fail for inputs of this size; an empty seal only
    // means a grace replay is refused.
    if let Ok(sealed) =
        cipher(old_refresh_token).encrypt(Nonce::from_slice(&nonce), plain.as_slice())
    {
        out.extend_from_slice(&sealed);
    }
    SealedSuccessor(out)
}

pub fn open(old_refresh_token: &str, sealed: &SealedSuccessor) -> Option<TokenResponse> {
    let (nonce, body) = sealed.0.split_at_checked(12)?;
    let plain = cipher(old_refresh_token)
        .decrypt(Nonce::from_slice(nonce), body)
        .ok()?;
    serde_json::from_slice(&plain).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_old_token_opens_the_seal() {
        let pair = TokenResponse {
            access_token: "a".into(),
            token_type: "Bearer".into(),
            expires_in: 900,
            refresh_token: Some("r2".into()),
            scope: "api:read".into(),
            id_token: Some("h.p.s".into()),
        };
        let sealed = seal("r1", &pair);
        assert_eq!(open("r1", &sealed), Some(pair));
        assert_eq!(open("r0", &sealed), None);
        assert_eq!(open("r1", &SealedSuccessor(vec![1, 2, 3])), None);
    }
}

#[cfg(test)]
mod props;
