//! Sign-in through upstream identity providers (issue 15, contract §8), over plain types:
//! no hyper, no proxy/. `endpoints::federation` does the HTTP.
//!
//! - [`discovery`]: a provider's OpenID configuration, parsed and checked (exact issuer);
//! - [`jwks`]: its signing keys, verified through ring, and the cache's refresh rule;
//! - [`id_token`]: the ID token's verification and the claims the gates read;
//! - [`flow`]: the state of one sign-in in flight (state, PKCE, nonce) and its cookie.

pub mod discovery;
pub mod flow;
pub mod id_token;
pub mod jwks;
