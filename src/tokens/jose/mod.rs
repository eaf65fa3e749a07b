//! Asymmetric signing keys and JWS (RFC 7515/7517/7518, RFC 8037): what ID tokens, and access
//! tokens under `[tokens] algorithm = "ES256" | "EdDSA"`, are signed with, and what `jwks_uri`
//! publishes.
//!
//! - [`alg`]: the three algorithms (RS256, ES256, EdDSA) and the OIDC half hash;
//! - [`pair`]: one key, generated or read from PEM, signing and verifying with ring;
//! - [`jwk`]: public JWKs and their RFC 7638 thumbprints, which are the key ids;
//! - [`keyset`]: one immutable snapshot of the keys, their lifecycle and the JWKS;
//! - [`jws`]: compact JWS signing and the allow-list verification;
//! - [`stored`]: the sealed document the store keeps;
//! - [`keys`]: the live handle a process shares;
//! - [`configured`]: keys the operator supplies in `[tokens]` instead.
//!
//! Lifecycle and its bounds: per algorithm one Current key signs and one Next key is already
//! published. `authgate keys rotate` refuses (unless forced) to promote a Next key published
//! less than [`JWKS_MAX_AGE_SECS`] ago, so relying parties that honour the JWKS
//! `Cache-Control: max-age` know a key before it signs. A Retired key stays published and
//! verifying for [`keyset::Retention`]: `max(access_ttl, ID-token lifetime, session
//! max_lifetime) + JWKS_MAX_AGE_SECS` after it stopped signing, then it is dropped (by the
//! next rotation or the periodic refresh), never to return: key ids are thumbprints of fresh
//! key material.

pub mod alg;
pub mod configured;
pub mod jwk;
pub mod jws;
pub mod keys;
pub mod keyset;
pub mod pair;
pub mod stored;

#[cfg(test)]
mod tests;

pub use alg::{half_hash, Alg};
pub use configured::ConfiguredKey;
pub use jws::{SignError, Verified};
pub use keys::Keys;
pub use keyset::{KeyInfo, KeySet, KeyState, Retention, RotateError};
pub use pair::{KeyError, KeyPair};
pub use stored::SealKeys;

/// `Cache-Control: public, max-age=` of the JWKS response, in seconds. Also the least time a
/// Next key is published before a rotation lets it sign, and part of a Retired key's
/// retention. One hour: what Apache mod_auth_openidc caches a JWKS for by default
/// (`OIDCJWKSRefreshInterval`).
pub const JWKS_MAX_AGE_SECS: u64 = 3600;
