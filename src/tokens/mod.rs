//! Token primitives: opaque random tokens and their at-rest hashes, the HMAC key ring, the
//! asymmetric signing keys and JWS ([`jose`]), the
//! HS256 JWT codec for access tokens (RFC 9068 profile), and the cache of tokens verified.
//!
//! Nothing here knows HTTP or the store. Secrets are compared in constant time, and no
//! `Debug` or `Display` here prints key material or a token.

pub mod jose;
pub mod jwt;
pub mod keyring;
pub mod opaque;
pub(crate) mod secret;
pub(crate) mod verified;
