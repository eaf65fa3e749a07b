//! The gateway's own endpoints as HTTP: the adapters between hyper requests and the plain-type
//! cores of `authn` and `oauth`. They parse requests, call a core, and build the response;
//! every refusal is a typed value (`Rejection`, `SignInRefused`) answered by `rescue`.
//!
//! - [`oauth`]: the authorization server (`/oauth2/…`, its metadata);
//! - [`sign_in`]: the gateway's own sign-in (`/oauth2/start`, `/oauth2/callback`);
//! - [`federation`]: sign-in through upstream providers (`/oauth2/start/ID`,
//!   `/oauth2/callback/ID`);
//! - [`forward_auth`]: `/oauth2/auth` for a proxy in front;
//! - [`resource_metadata`]: RFC 9728 documents under `/.well-known/oauth-protected-resource`;
//! - [`backchannel`]: Back-Channel Logout's deliveries to relying parties (a small client).

pub mod backchannel;
pub mod federation;
pub mod forward_auth;
pub mod oauth;
pub mod resource_metadata;
pub mod sign_in;
