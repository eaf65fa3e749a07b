//! Sign-in through upstream identity providers (issue 15, contract §8), over plain types:
//! no hyper, no proxy/. `endpoints::federation` does the HTTP.
//!
//! - [`discovery`]: a provider's OpenID configuration, parsed and checked (exact issuer);
//! - [`jwks`]: its signing keys, verified through ring, and the cache's refresh rule;
//! - [`id_token`]: the ID token's verification and the claims the gates read;
//! - [`flow`]: the state of one sign-in in flight (state, PKCE, nonce) and its cookie;
//! - [`refused`]: why a sign-in stopped before the gates (pages by `rescue`);
//! - [`identity`]: what the relying party verified of a person ([`identity::ExternalIdentity`]);
//! - [`admit`]: the gates, the principal (`ID:SUB` or a linked user) and its scopes;
//! - [`email`]: strict parsing of a provider's address, for the gates only;
//! - [`person`]: one view of a principal, local or federated, for the authorization server.

pub mod admit;
pub mod discovery;
pub mod email;
pub mod flow;
pub mod id_token;
pub mod identity;
pub mod jwks;
pub mod person;
pub mod refused;
