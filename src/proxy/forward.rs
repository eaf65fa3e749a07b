//! The upstream client: pooled keep-alive HTTP/1.1 connections, plain or over rustls, with a
//! connect timeout (then 502) and a response-header timeout counted from the end of the
//! request body (then 504; `response_timer.rs`).
//!
//! One [`UpstreamClient`] per route, so each route's timeouts, trust anchors and idle
//! connections are its own (`connect.rs` opens connections, `pool.rs` keeps them). Bodies stream
//! both ways: the client's request body is handed to hyper as it arrives, and the upstream's
//! response body is returned unread for the server to stream out; its connection goes back to
//! the pool when that body ends.

use std::future::Future;
use std::time::Duration;

use http::{Request, Response};
use tokio::sync::oneshot;

use super::connect::{Connector, Sender};
use super::pool::{Pool, PooledBody};
use super::response_timer::{Deadline, ResponseTimer};
use crate::config::{HttpUpstream, RouteConfig};
use crate::http::body::{is_length_limit, RequestBody};

/// How long an upstream connection may wait unused in the pool.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// At most this many idle connections per route; more are closed when they come back.
const MAX_IDLE: usize = 1024;

/// How an upstream failed; which side's fault it is decides the status in `rescue`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamError {
    /// No connection could be opened (refused, unreachable, connect timeout, TLS failure).
    Unreachable,
    /// Connected, but no response headers within the route's `response_timeout`.
    Timeout,
    /// The connection broke or the upstream spoke invalid HTTP.
    Failed,
}

impl UpstreamError {
    /// The `reason` label of `authgate_upstream_errors_total`.
    pub fn as_str(self) -> &'static str {
        match self {
            UpstreamError::Unreachable => "unreachable",
            UpstreamError::Timeout => "timeout",
            UpstreamError::Failed => "failed",
        }
    }
}

/// Why a request could not be sent upstream and answered: the upstream's fault, or the
/// client's (its body was too large, or broke off); `rescue` decides the status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendError {
    Upstream(UpstreamError),
    /// The request body went past the route's limit while it streamed.
    BodyTooLarge,
    /// The client's request body failed while it streamed: the client broke off.
    ClientBroke,
}

impl From<UpstreamError> for SendError {
    fn from(err: UpstreamError) -> Self {
        SendError::Upstream(err)
    }
}

/// Why an upstream client could not be built from a valid-looking configuration.
#[derive(Debug)]
pub struct UpstreamSetupError(pub String);

impl std::fmt::Display for UpstreamSetupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UpstreamSetupError {}

/// Sends requests to one route's upstream.
pub struct UpstreamClient {
    connector: Connector,
    pool: Pool,
    response_timeout: Duration,
}

impl UpstreamClient {
    pub fn new(upstream: &HttpUpstream, route: &RouteConfig) -> Result<Self, UpstreamSetupError> {
        Ok(UpstreamClient {
            connector: Connector::new(upstream, route)?,
            pool: Pool::new(IDLE_TIMEOUT, MAX_IDLE),
            response_timeout: route.response_timeout,
        })
    }

    /// Sends `req` (its target in origin form, its `Host` set) and waits for the response
    /// headers: at most `response_timeout` after the request body has been sent in full
    /// (`body_sent`, `None` for a request without a body), with a timer from the client
    /// connection's `timers`.
    pub fn send<'a>(
        &'a self,
        req: Request<RequestBody>,
        body_sent: Option<oneshot::Receiver<()>>,
        timers: &'a ResponseTimer,
    ) -> Deadline<'a, impl Future<Output = Result<Response<PooledBody>, SendError>> + 'a> {
        Deadline::new(self.exchange(req), body_sent, self.response_timeout, timers)
    }

    async fn exchange(&self, req: Request<RequestBody>) -> Result<Response<PooledBody>, SendError> {
        let (mut sender, reused) = match self.pool.checkout() {
            Some(sender) => (sender, true),
            None => (self.connect().await?, false),
        };
        let response = match sender.try_send_request(req).await {
            Ok(response) => response,
            Err(mut err) => match err.take_message() {
                // The upstream closed the idle connection before the request left: it is safe
                // to send it again, once, on a new connection.
                Some(req) if reused => {
                    // Boxed, like `connect`: rare, and it would double the request's future.
                    let (response, fresh) = Box::pin(self.resend(req)).await?;
                    sender = fresh;
                    response
                }
                _ => return Err(classify(&err.into_error())),
            },
        };
        Ok(self.pool.lend(response, sender))
    }

    /// Sends `req` on a new connection.
    async fn resend(
        &self,
        req: Request<RequestBody>,
    ) -> Result<(Response<hyper::body::Incoming>, Sender), SendError> {
        let mut sender = self.connect().await?;
        let response = sender.send_request(req).await.map_err(|e| classify(&e))?;
        Ok((response, sender))
    }

    async fn connect(&self) -> Result<Sender, SendError> {
        // Boxed: opening a connection is rare, and its future (DNS, TLS) would otherwise
        // make every request's future larger.
        Box::pin(self.connector.connect()).await.map_err(|err| {
            // The cause chain names addresses and protocol faults, never request data.
            tracing::warn!(error = %ErrorChain(&err), "upstream connection failed");
            UpstreamError::Unreachable.into()
        })
    }
}

/// Displays an error with all its causes: `client error (Connect): tcp connect error: ...`.
struct ErrorChain<'a>(&'a (dyn std::error::Error + 'static));

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

/// Reads a request error's cause chain: whose fault was it?
fn classify(err: &hyper::Error) -> SendError {
    if is_length_limit(err) {
        return SendError::BodyTooLarge;
    }
    if err.is_user() {
        // The request body we were streaming failed: the client broke off.
        return SendError::ClientBroke;
    }
    tracing::warn!(error = %ErrorChain(err), "upstream request failed");
    UpstreamError::Failed.into()
}
