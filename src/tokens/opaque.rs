//! Opaque tokens (authorization codes, refresh tokens, session ids, client secrets): 256 bits
//! from the OS generator, base64url without padding, and the SHA-256 digest that is all the
//! store ever keeps of them.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The length of a [`new_token`]: 32 bytes in base64url without padding.
pub const TOKEN_LEN: usize = 43;

/// A fresh 256-bit random token, base64url-encoded ([`TOKEN_LEN`] characters).
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The SHA-256 digest of a token: how it is stored and looked up. A digest is enough (no
/// salt or slow hash) because the tokens themselves carry 256 bits of entropy.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct TokenHash(pub [u8; 32]);

/// A hash map keyed by digests hashes their first 8 bytes, not all 32 (and no length): a
/// digest's bytes are uniform already, and the map's keyed SipHash still decides the bucket,
/// so a client choosing tokens can no more aim at one bucket than before. Equality still
/// compares all 32. The session gate looks a digest up on every request.
impl std::hash::Hash for TokenHash {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let [a, b, c, d, e, f, g, h, ..] = self.0;
        state.write_u64(u64::from_le_bytes([a, b, c, d, e, f, g, h]));
    }
}

impl TokenHash {
    pub fn of(token: &str) -> TokenHash {
        TokenHash(Sha256::digest(token.as_bytes()).into())
    }

    /// Lower-case hex, for storage keys and the configuration's `sha256:` secrets.
    pub fn to_hex(&self) -> String {
        let mut out = String::with_capacity(64);
        for byte in self.0 {
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0xf)]));
        }
        out
    }

    pub fn from_hex(text: &str) -> Option<TokenHash> {
        let bytes = text.as_bytes();
        // Two hex digits for each of the 32 bytes.
        if bytes.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, pair) in bytes.chunks_exact(2).enumerate() {
            let hi = (pair[0] as char).to_digit(16)?;
            let lo = (pair[1] as char).to_digit(16)?;
            out[i] = u8::try_from(hi << 4 | lo).ok()?;
        }
        Some(TokenHash(out))
    }

    /// Whether `token` hashes to this digest, in constant time.
    pub fn matches(&self, token: &str) -> bool {
        bool::from(TokenHash::of(token).0.ct_eq(&self.0))
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

impl std::fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A prefix is enough to tell hashes apart in a test failure.
        let hex = self.to_hex();
        write!(f, "TokenHash({}…)", hex.get(..8).unwrap_or(&hex))
    }
}

impl Serialize for TokenHash {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for TokenHash {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        TokenHash::from_hex(&text)
            .ok_or_else(|| serde::de::Error::custom("not a SHA-256 hex digest"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_that_share_their_hashed_prefix_are_still_told_apart() {
        let mut a = [7u8; 32];
        let mut map = std::collections::HashMap::new();
        map.insert(TokenHash(a), "a");
        a[31] = 8;
        map.insert(TokenHash(a), "b");
        assert_eq!(map.len(), 2);
        assert_eq!(map[&TokenHash(a)], "b");
        a[31] = 7;
        assert_eq!(map[&TokenHash(a)], "a");
    }

    #[test]
    fn tokens_are_256_bit_and_distinct() {
        let a = new_token();
        let b = new_token();
        assert_eq!(a.len(), TOKEN_LEN);
        assert_eq!(URL_SAFE_NO_PAD.decode(&a).unwrap().len(), 32);
        assert_ne!(a, b);
    }

    #[test]
    fn hash_round_trips_and_matches() {
        let token = new_token();
        let hash = TokenHash::of(&token);
        assert_eq!(TokenHash::from_hex(&hash.to_hex()), Some(hash));
        assert!(hash.matches(&token));
        assert!(!hash.matches("other"));
        assert_eq!(TokenHash::from_hex("zz"), None);
        assert!(!format!("{hash:?}").contains(&hash.to_hex()));
    }
}
