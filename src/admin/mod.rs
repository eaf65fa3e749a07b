//! The admin listener: a second, plain-HTTP listener, loopback by default,
//! that serves `/metrics` and the live token API `authgate token list|revoke` uses
//! ([`api`]), behind the admin credential ([`credential`]). It is a separate socket, never a
//! path on the public listener, so no route or proxy mistake can expose it.
//!
//! Bounded like the public side: at most 64 connections, 10 s for a request's headers, 16 KiB
//! of headers, 16 KiB of body read within 10 s (a larger declared `Content-Length` gets 413
//! before any of it is read), HTTP/1.1 only.

pub mod api;
pub mod client;
pub mod credential;
pub mod keys;
pub mod mfa;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::clock::Clock;
use crate::http::body::{read_bounded, Body};
use crate::metrics::Metrics;
use crate::store::Store;
use crate::tokens::opaque::TokenHash;

const MAX_CONNECTIONS: usize = 64;
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
const BODY_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_HEADER_BYTES: usize = 16 << 10;
const MAX_BODY_BYTES: usize = 16 << 10;

/// What the admin API works on.
pub struct AdminState {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<Metrics>,
    /// SHA-256 of the admin token.
    pub token: TokenHash,
    /// `[tokens] access_ttl`: how long a `jti` revocation must last.
    pub access_ttl_secs: u64,
    /// The authorization server of the configuration in force (its signing keys, their
    /// seal and retention): `authgate keys`.
    pub auth: Option<CurrentAuth>,
}

/// The authorization server of the configuration in force at each call (a reload swaps it).
pub type CurrentAuth = std::sync::Arc<dyn Fn() -> Arc<crate::oauth::AuthServer> + Send + Sync>;

/// The bound admin listener.
pub struct AdminListener {
    listener: TcpListener,
    state: Arc<AdminState>,
}

impl AdminListener {
    pub async fn bind(addr: SocketAddr, state: AdminState) -> std::io::Result<AdminListener> {
        Ok(AdminListener {
            listener: TcpListener::bind(addr).await?,
            state: Arc::new(state),
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until the task running it is dropped.
    pub async fn run(self) {
        let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        loop {
            let Ok(permit) = slots.clone().acquire_owned().await else {
                return;
            };
            let (stream, _peer) = match self.listener.accept().await {
                Ok(accepted) => accepted,
                Err(err) => {
                    tracing::warn!(error = %err, "admin accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let state = self.state.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let state = state.clone();
                    async move { Ok::<_, Infallible>(handle(&state, req).await) }
                });
                let conn = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(HEADER_TIMEOUT)
                    .max_buf_size(MAX_HEADER_BYTES)
                    .serve_connection(TokioIo::new(stream), service);
                // A client that stops reading is cut off too.
                let _ = tokio::time::timeout(Duration::from_secs(60), conn).await;
                drop(permit);
            });
        }
    }
}

async fn handle(state: &AdminState, req: Request<Incoming>) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let authorized = credential::allows(
        parts
            .headers
            .get(http::header::AUTHORIZATION)
            .map(|v| v.as_bytes()),
        &state.token,
    );
    let body = match read_bounded(body, MAX_BODY_BYTES, BODY_TIMEOUT).await {
        Ok(body) => body,
        Err(err) => return api::body_refused(err),
    };
    api::answer(
        state,
        &parts.method,
        parts.uri.path(),
        parts.uri.query(),
        authorized,
        body,
    )
    .await
}
