//! Test support: real servers on 127.0.0.1 ephemeral ports and real clients.
//!
//! - [`gateway`]: the gateway in-process ([`TestGateway`]) from a [`GatewayBuilder`];
//! - [`fixture`]: the test users' password and its cheap hash, the shared `[scopes]`, users
//!   and client secrets the gateways below are configured with;
//! - [`oauth`]: the gateway as an authorization server, a browser and the `oauth2` client;
//! - [`jwks`]: a token checked against the published JWKS alone, with ring; [`keys`]: one
//!   asymmetric key set per test process, seeded into each in-process gateway's store;
//! - [`oidc`]: that gateway as an OpenID provider, with the `openidconnect` crate as its
//!   relying party; [`apache`]: Debian's Apache with mod_auth_openidc as another one;
//! - [`process`]: the `authgate` binary as a child process ([`GatewayProcess`], [`authgate`]);
//! - [`persisted`]: that binary as an authorization server on a `data_dir` kept across
//!   restarts, with a signed-in browser and token-side requests that report "no answer";
//! - [`upstream`]: hyper upstreams that record what they received ([`TestUpstream`]);
//! - [`websocket`]: a WebSocket echo upstream;
//! - [`protected`]: the gateway in front of protected routes, on a test clock, with a store
//!   the test can reach; [`browser`]: reqwest as a browser with a cookie jar;
//!   [`webdriver`]: a real headless Chromium through chromedriver, [`webauthn`]: its virtual
//!   authenticator;
//! - [`redis`]: a real `redis-server` a test can kill and restart;
//! - [`mfa`]: second factors as a person gives them: the enrolment page read like an
//!   authenticator app (the otpauth URI), codes computed from it, the sign-in driven through;
//! - [`idp`]: a real upstream OpenID provider (panva's `oidc-provider` under Node.js) a test
//!   can sign in at, rotate the key of, and stop; [`github`]: a local stand-in of GitHub's
//!   OAuth and API endpoints; [`federated`]: the gateway with `[[providers]]` for them and the
//!   steps of a sign-in through them;
//! - [`raw`]: a raw TCP client for exact bytes (reqwest normalises paths and cannot send
//!   malformed requests).
//!
//! Every wait in here is bounded, so a gateway that buffers or hangs fails a test instead of
//! stalling the suite.

pub mod apache;
pub mod browser;
pub mod federated;
pub mod fixture;
pub mod gateway;
pub mod github;
pub mod html;
pub mod idp;
pub mod jwks;
pub mod keys;
pub mod mfa;
pub mod oauth;
pub mod oidc;
pub mod page;
pub mod persisted;
pub mod process;
pub mod protected;
pub mod raw;
pub mod redis;
pub mod upstream;
pub mod webauthn;
pub mod webdriver;
pub mod websocket;

use std::future::Future;
use std::time::Duration;

pub use gateway::{GatewayBuilder, Route, TestGateway};
pub use process::{authgate, cli, GatewayProcess};
pub use raw::{RawConnection, RawRequest, RawResponse};
pub use upstream::{Echoed, TestUpstream};
pub use websocket::WsEchoUpstream;

/// The default bound on any single wait in a test.
pub const WAIT: Duration = Duration::from_secs(10);

/// Awaits `future`, failing the test with `what` if it takes longer than `limit`.
pub async fn within<F: Future>(limit: Duration, what: &str, future: F) -> F::Output {
    match tokio::time::timeout(limit, future).await {
        Ok(output) => output,
        Err(_) => panic!("timed out after {limit:?}: {what}"),
    }
}

/// A reqwest client that talks to 127.0.0.1 directly (never through an environment proxy)
/// and does not follow redirects, so tests see exactly what the gateway answered.
pub fn http_client() -> reqwest::Client {
    client_builder().build().expect("reqwest client")
}

/// The builder behind [`http_client`], for tests that add to it (roots, resolve, HTTP/1 only).
pub fn client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
}

/// A loopback port that was free a moment ago (for configurations that must name their
/// port before binding, such as an https `public_url`); callers retry if it is taken.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("local addr").port()
}

/// A port on 127.0.0.1 where nothing listens (bound once, then released).
pub fn dead_port() -> u16 {
    free_port()
}

/// A request's answer read as JSON: `.json_answer().await` for the
/// `.send().await.unwrap().json().await.unwrap()` every test would otherwise spell out.
pub trait JsonAnswer {
    fn json_answer<T: serde::de::DeserializeOwned>(self) -> impl Future<Output = T>;
}

impl JsonAnswer for reqwest::RequestBuilder {
    async fn json_answer<T: serde::de::DeserializeOwned>(self) -> T {
        let answer = self.send().await.expect("the request");
        let status = answer.status();
        match answer.json().await {
            Ok(value) => value,
            Err(err) => panic!("a {status} answer that is not the JSON expected: {err}"),
        }
    }
}
