//! Access tokens: JWTs in the RFC 9068 profile (`typ: at+jwt`, `kid`, claims
//! `iss aud sub client_id scope iat exp jti`), signed HS256 with the HMAC key ring (the
//! default), or ES256 / EdDSA with the published asymmetric keys (`[tokens] algorithm`,
//! [`sign_jws`], checked by [`verify_any`]).
//!
//! Verification is an allow-list, in this order, and stops at the first failure: size
//! bound, exactly three base64url parts, a header that is exactly `{alg: HS256, typ: at+jwt,
//! kid}` (so `none`, `RS256` and `HS512` are refused before any key is touched), a known `kid`,
//! the MAC compared in constant time, and only then the claims are parsed: no unknown or
//! duplicate members, exact `iss` and `aud`, `exp` and `nbf`/`iat` with a small leeway.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::Mac;
use serde::{Deserialize, Serialize};

use super::jose::jws::{Compact, Header};
use super::jose::{Alg, KeySet, SignError};
use super::keyring::{KeyRing, SigningKey};

/// The longest token accepted: far above any token authgate issues.
pub const MAX_TOKEN_BYTES: usize = 4096;

/// Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds.
pub const LEEWAY_SECS: u64 = 30;

const TYP: &str = "at+jwt";

/// The `typ` values an access token may carry (RFC 9068 §2.1), compared case-insensitively.
const ACCESS_TYPS: [&str; 2] = [TYP, "application/at+jwt"];

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessClaims {
    pub iss: String,
    pub aud: String,
    /// The user, or the client id for client credentials.
    pub sub: String,
    pub client_id: String,
    /// Space-separated scopes.
    pub scope: String,
    pub iat: u64,
    pub exp: u64,
    pub jti: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    /// How the user signed in (RFC 8176 values; RFC 9068 §2.2.1). Absent in client
    /// credentials tokens and in tokens issued before second factors.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
    /// The authentication context class reached (RFC 9068 §2.2.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    /// When the user last authenticated (RFC 9068 §2.2.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<u64>,
}

/// Why a token is not valid. `Display` is safe for logs and `WWW-Authenticate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenInvalid {
    Malformed,
    Algorithm,
    Type,
    UnknownKey,
    Signature,
    Claims,
    Issuer,
    Audience,
    Expired,
    NotYetValid,
}

impl std::fmt::Display for TokenInvalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TokenInvalid::Malformed => "the token is malformed",
            TokenInvalid::Algorithm => "the token's algorithm is not accepted",
            TokenInvalid::Type => "the token is not an access token (typ at+jwt)",
            TokenInvalid::UnknownKey => "the token was signed with an unknown key",
            TokenInvalid::Signature => "the token's signature is invalid",
            TokenInvalid::Claims => "the token's claims are malformed",
            TokenInvalid::Issuer => "the token was issued by someone else",
            TokenInvalid::Audience => "the token is for another audience",
            TokenInvalid::Expired => "the token has expired",
            TokenInvalid::NotYetValid => "the token is not valid yet",
        })
    }
}

impl std::error::Error for TokenInvalid {}

/// Signs `claims` with `key`.
pub fn sign(claims: &AccessClaims, key: &SigningKey) -> String {
    let header = Header {
        alg: "HS256",
        typ: TYP,
        kid: key.kid(),
    };
    // Serialising these plain structs cannot fail; an empty part would fail verification.
    let header = serde_json::to_vec(&header).unwrap_or_default();
    let payload = serde_json::to_vec(claims).unwrap_or_default();
    let mut token = String::with_capacity(64 + payload.len() * 4 / 3 + 48);
    URL_SAFE_NO_PAD.encode_string(header, &mut token);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(payload, &mut token);
    let mut mac = key.mac();
    mac.update(token.as_bytes());
    let signature = mac.finalize().into_bytes();
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(signature, &mut token);
    token
}

/// What a valid token must say.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    pub issuer: &'a str,
    pub audience: &'a str,
    /// Seconds since the Unix epoch.
    pub now: u64,
}

/// Verifies `token` and returns its claims.
pub fn verify(
    token: &str,
    keys: &KeyRing,
    expected: Expected<'_>,
) -> Result<AccessClaims, TokenInvalid> {
    let compact = Compact::split(token, MAX_TOKEN_BYTES)?;
    verify_hs256(&compact, &compact.header()?, keys, expected)
}

/// [`verify`] of a token already split and its header read.
fn verify_hs256(
    compact: &Compact<'_>,
    header: &Header<'_>,
    keys: &KeyRing,
    expected: Expected<'_>,
) -> Result<AccessClaims, TokenInvalid> {
    if header.alg != "HS256" {
        return Err(TokenInvalid::Algorithm);
    }
    if !ACCESS_TYPS
        .iter()
        .any(|t| t.eq_ignore_ascii_case(header.typ))
    {
        return Err(TokenInvalid::Type);
    }
    let key = keys.find(header.kid).ok_or(TokenInvalid::UnknownKey)?;
    let mut mac = key.mac();
    mac.update(compact.signed);
    mac.verify_slice(&compact.signature()?)
        .map_err(|_| TokenInvalid::Signature)?;
    check_claims(&compact.payload()?, expected)
}

/// The access-token algorithms of the published keys (RS256 keys sign ID tokens only).
pub const JWS_ACCESS_ALGS: [Alg; 2] = [Alg::Es256, Alg::EdDsa];

/// Signs `claims` as an access token with `alg`'s current published key.
pub fn sign_jws(claims: &AccessClaims, keys: &KeySet, alg: Alg) -> Result<String, SignError> {
    if !JWS_ACCESS_ALGS.contains(&alg) {
        return Err(SignError(format!("{alg} does not sign access tokens")));
    }
    keys.sign(alg, TYP, claims)
}

/// Verifies an access token of either kind: an `HS256` header only against the HMAC ring
/// ([`verify`]), an `ES256` or `EdDSA` header only against the published keys; anything
/// else (`none`, `RS256`, ...) is refused before any key is touched. A token that names a
/// key of the other kind is refused as [`TokenInvalid::UnknownKey`].
pub fn verify_any(
    token: &str,
    ring: &KeyRing,
    published: &KeySet,
    expected: Expected<'_>,
) -> Result<AccessClaims, TokenInvalid> {
    let compact = Compact::split(token, MAX_TOKEN_BYTES)?;
    let header = compact.header()?;
    if header.alg == "HS256" {
        return verify_hs256(&compact, &header, ring, expected);
    }
    match Alg::parse(header.alg) {
        Some(alg) if JWS_ACCESS_ALGS.contains(&alg) => {}
        _ => return Err(TokenInvalid::Algorithm),
    }
    let verified = published.verify_compact(&compact, &header, &ACCESS_TYPS)?;
    check_claims(&verified.payload, expected)
}

/// The claims of a payload whose signature verified: no unknown or duplicate members, exact
/// `iss` and `aud`, and the times.
fn check_claims(payload: &[u8], expected: Expected<'_>) -> Result<AccessClaims, TokenInvalid> {
    let claims: AccessClaims = serde_json::from_slice(payload).map_err(|_| TokenInvalid::Claims)?;
    if claims.iss != expected.issuer {
        return Err(TokenInvalid::Issuer);
    }
    if claims.aud != expected.audience {
        return Err(TokenInvalid::Audience);
    }
    check_times(&claims, expected.now)?;
    Ok(claims)
}

/// The time-dependent part of [`verify`]: not expired, already valid (each with
/// [`LEEWAY_SECS`]). Checked again on every use of claims verified earlier.
pub fn check_times(claims: &AccessClaims, now: u64) -> Result<(), TokenInvalid> {
    if claims.exp.saturating_add(LEEWAY_SECS) <= now {
        return Err(TokenInvalid::Expired);
    }
    let not_before = claims.nbf.unwrap_or(claims.iat);
    if not_before > now.saturating_add(LEEWAY_SECS) {
        return Err(TokenInvalid::NotYetValid);
    }
    Ok(())
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod props;

#[cfg(test)]
mod jws_tests;
