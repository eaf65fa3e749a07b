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

/// The one header authgate writes and accepts, HS256 access tokens included: exactly these
/// members (extra or duplicate ones are refused).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Header<'a> {
    pub alg: &'a str,
    pub typ: &'a str,
    pub kid: &'a str,
}

/// A compact JWS split into its three parts, within a size bound: the first steps every
/// verifier here shares (this module's and `tokens::jwt`'s HS256 one).
pub(crate) struct Compact<'t> {
    header_json: Vec<u8>,
    /// `header.payload`, the bytes the signature covers.
    pub signed: &'t [u8],
    payload_b64: &'t str,
    signature_b64: &'t str,
}

impl<'t> Compact<'t> {
    /// Splits `token`, refusing one longer than `max` bytes or not of exactly three parts,
    /// and decodes its header's base64.
    pub(crate) fn split(token: &'t str, max: usize) -> Result<Compact<'t>, TokenInvalid> {
        if token.len() > max {
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
        let signed = token
            .as_bytes()
            .get(..header_b64.len() + 1 + payload_b64.len())
            .ok_or(TokenInvalid::Malformed)?;
        Ok(Compact {
            header_json,
            signed,
            payload_b64,
            signature_b64,
        })
    }

    /// The header: exactly `{alg, typ, kid}`.
    pub(crate) fn header(&self) -> Result<Header<'_>, TokenInvalid> {
        serde_json::from_slice(&self.header_json).map_err(|_| TokenInvalid::Malformed)
    }

    /// The header's JSON bytes, for a verifier of other parties' tokens (federation's ID
    /// tokens), whose headers are not authgate's `{alg, typ, kid}`.
    pub(crate) fn header_json(&self) -> &[u8] {
        &self.header_json
    }

    pub(crate) fn signature(&self) -> Result<Vec<u8>, TokenInvalid> {
        URL_SAFE_NO_PAD
            .decode(self.signature_b64)
            .map_err(|_| TokenInvalid::Malformed)
    }

    /// The payload's bytes: read only once the signature verified.
    pub(crate) fn payload(&self) -> Result<Vec<u8>, TokenInvalid> {
        URL_SAFE_NO_PAD
            .decode(self.payload_b64)
            .map_err(|_| TokenInvalid::Malformed)
    }
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
    #[derive(Deserialize)]
    struct AlgOnly {
        alg: String,
    }
    header_of::<AlgOnly>(token).map(|h| h.alg)
}

/// The header's `kid`, without checking anything else (to name the key a token verified
/// under). `None` when malformed or absent.
pub fn header_kid(token: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct KidOnly {
        kid: String,
    }
    header_of::<KidOnly>(token).map(|h| h.kid)
}

/// The first part of `token`, decoded as `T` (ignoring other members); at most 1 KiB.
fn header_of<T: serde::de::DeserializeOwned>(token: &str) -> Option<T> {
    let header_b64 = token.split('.').next()?;
    if header_b64.len() > 1024 {
        return None;
    }
    let json = URL_SAFE_NO_PAD.decode(header_b64).ok()?;
    serde_json::from_slice::<T>(&json).ok()
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
        let compact = Compact::split(token, MAX_JWS_BYTES)?;
        self.verify_compact(&compact, &compact.header()?, typs)
    }

    /// [`KeySet::verify`] of a token already split and its header read.
    pub(crate) fn verify_compact(
        &self,
        compact: &Compact<'_>,
        header: &Header<'_>,
        typs: &[&str],
    ) -> Result<Verified, TokenInvalid> {
        let alg = Alg::parse(header.alg).ok_or(TokenInvalid::Algorithm)?;
        if !typs.iter().any(|t| t.eq_ignore_ascii_case(header.typ)) {
            return Err(TokenInvalid::Type);
        }
        let entry = self.find(header.kid).ok_or(TokenInvalid::UnknownKey)?;
        if entry.info.alg != alg {
            return Err(TokenInvalid::Algorithm);
        }
        if !entry.pair.verify(compact.signed, &compact.signature()?) {
            return Err(TokenInvalid::Signature);
        }
        Ok(Verified {
            alg,
            kid: entry.info.kid.clone(),
            payload: compact.payload()?,
        })
    }
}
