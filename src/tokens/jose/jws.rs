//! Compact JWS (RFC 7515) signed and verified with a [`KeySet`]'s keys.
//!
//! Verification is an allow-list, in this order, and stops at the first failure: size
//! bound, exactly three base64url parts, a header that is exactly `{alg, typ, kid}` (extra
//! or duplicate members refused), an `alg` authgate signs with (so `none` and `HS256` are
//! refused before any key is touched), an accepted `typ`, a published `kid` whose key is of
//! that `alg` (a kid/alg mismatch is refused), and the signature. The caller checks the
//! claims of the payload.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};

use super::alg::Alg;
use super::keyset::KeySet;
use crate::tokens::jwt::TokenInvalid;

/// The longest JWS accepted: ID tokens with many groups are larger than access tokens.
pub const MAX_JWS_BYTES: usize = 16 * 1024;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header<'a> {
    alg: &'a str,
    typ: &'a str,
    kid: &'a str,
}

/// A token whose signature verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub alg: Alg,
    pub kid: String,
    /// The payload's bytes (JSON, unparsed).
    pub payload: Vec<u8>,
}

/// Why a token could not be signed. `Display` is safe for logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignError(pub String);

impl std::fmt::Display for SignError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SignError {}

/// The header's `alg`, without checking anything else: lets a caller that accepts several
/// kinds of token (HS256 and asymmetric) pick the verifier. `None` when malformed.
pub fn header_alg(token: &str) -> Option<String> {
    let header_b64 = token.split('.').next()?;
    if header_b64.len() > 1024 {
        return None;
    }
    let json = URL_SAFE_NO_PAD.decode(header_b64).ok()?;
    #[derive(Deserialize)]
    struct AlgOnly {
        alg: String,
    }
    serde_json::from_slice::<AlgOnly>(&json).ok().map(|h| h.alg)
}

impl KeySet {
    /// Compact JWS with header exactly `{"alg","typ","kid"}`, signed with `alg`'s current key.
    pub fn sign(&self, alg: Alg, typ: &str, claims: &impl Serialize) -> Result<String, SignError> {
        let entry = self
            .current(alg)
            .ok_or_else(|| SignError(format!("no current {alg} signing key")))?;
        let header = Header {
            alg: alg.as_str(),
            typ,
            kid: &entry.info.kid,
        };
        let header = serde_json::to_vec(&header)
            .map_err(|_| SignError("the JWS header cannot be serialised".to_owned()))?;
        let payload = serde_json::to_vec(claims)
            .map_err(|_| SignError("the claims cannot be serialised".to_owned()))?;
        let mut token = String::with_capacity(64 + payload.len() * 4 / 3 + 350);
        URL_SAFE_NO_PAD.encode_string(header, &mut token);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(payload, &mut token);
        let signature = entry
            .pair
            .sign(token.as_bytes())
            .map_err(|e| SignError(e.0))?;
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut token);
        Ok(token)
    }

    /// Checks size, the three parts, a header of exactly `{alg, typ, kid}` (`typ` compared
    /// case-insensitively against `typs`), that `kid` is a key of this set whose algorithm
    /// is `alg`, and the signature. Returns the payload bytes; the caller checks the claims.
    pub fn verify(&self, token: &str, typs: &[&str]) -> Result<Verified, TokenInvalid> {
        if token.len() > MAX_JWS_BYTES {
            return Err(TokenInvalid::Malformed);
        }
        let mut parts = token.split('.');
        let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenInvalid::Malformed);
        };
        let header_json = URL_SAFE_NO_PAD
            .decode(header_b64)
            .map_err(|_| TokenInvalid::Malformed)?;
        let header: Header<'_> =
            serde_json::from_slice(&header_json).map_err(|_| TokenInvalid::Malformed)?;
        let alg = Alg::parse(header.alg).ok_or(TokenInvalid::Algorithm)?;
        if !typs.iter().any(|t| t.eq_ignore_ascii_case(header.typ)) {
            return Err(TokenInvalid::Type);
        }
        let entry = self.find(header.kid).ok_or(TokenInvalid::UnknownKey)?;
        if entry.info.alg != alg {
            return Err(TokenInvalid::Algorithm);
        }
        let signature = URL_SAFE_NO_PAD
            .decode(signature_b64)
            .map_err(|_| TokenInvalid::Malformed)?;
        let signed = token
            .as_bytes()
            .get(..header_b64.len() + 1 + payload_b64.len())
            .ok_or(TokenInvalid::Malformed)?;
        if !entry.pair.verify(signed, &signature) {
            return Err(TokenInvalid::Signature);
        }
        let payload = URL_SAFE_NO_PAD
            .decode(payload_b64)
            .map_err(|_| TokenInvalid::Malformed)?;
        Ok(Verified {
            alg,
            kid: entry.info.kid.clone(),
            payload,
        })
    }
}
