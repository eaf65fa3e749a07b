//! authgate: a reverse-proxy authentication gateway.
//!
//! The request path, outside in:
//!
//! ```text
//! TCP ─► server (limits, TLS, HTTP/1.1 + HTTP/2) ─► middleware::access_log
//!     ─► dispatch: path::normalize ─► gateway endpoints ─► routes ─► auth gate
//!     ─► proxy::headers (hygiene, X-Forwarded-*) ─► proxy::forward | proxy::builtin
//!     ◄─ every refusal becomes a response in rescue.rs, and only there
//! ```
//!
//! Modules:
//! - [`cli`] and [`commands`]: the `authgate` program, one function per subcommand;
//! - [`config`]: `gateway.toml`, parsed and validated into the runtime [`config::Config`];
//! - [`server`]: listener, TLS, connection limits, graceful shutdown, reload on SIGHUP, the
//!   layer order;
//! - [`admin`]: the admin listener (metrics, the live token API) and the CLI's client for it;
//! - [`metrics`]: what is counted for `/metrics`;
//! - [`middleware`]: tower layers, one per module;
//! - [`dispatch`]: what happens to one request;
//! - [`proxy`]: path normalisation, routing, header hygiene, the upstream client;
//! - [`authn`]: the gate of protected routes: sessions, bearer tokens, forward-auth;
//! - [`oauth`]: the authorization server (authorize, login, consent, token, revoke, …);
//! - [`tokens`]: access-token JWTs, signing keys, opaque tokens;
//! - [`store`]: the token store trait, the persisted memory backend, Redis;
//! - [`clock`]: the time every expiry is measured by (a manual one for tests);
//! - [`rescue`]: refusals to responses;
//! - [`http`]: body types and response builders;
//! - [`logging`]: tracing set-up;
//! - [`private_file`]: 0600 files written atomically.
//! - [`background`]: the lowest scheduling priority for background threads (hashes, compaction).

// Tests may slice strings: a panic there is a failed test. The lint still holds for every
// build of the library itself (`cargo clippy` checks that target separately).
#![cfg_attr(test, allow(clippy::string_slice))]

pub mod admin;
pub mod authn;
pub mod background;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod config;
pub mod dispatch;
#[doc(hidden)]
pub mod fuzz_entry;
pub mod gateway_paths;
pub mod http;
pub mod logging;
pub mod metrics;
pub mod middleware;
pub mod oauth;
pub mod pem;
pub mod private_file;
pub mod proxy;
pub mod rescue;
pub mod server;
pub mod store;
pub mod tokens;
