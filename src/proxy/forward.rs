//! The upstream client: pooled keep-alive HTTP/1.1 connections, plain or over rustls, with a
//! connect timeout (then 502) and a response-header timeout counted from the end of the
//! request body (then 504).
//!
//! One [`UpstreamClient`] per route, so each route's timeouts and trust anchors are its own.
//! Bodies stream both ways: the client's request body is handed to hyper as it arrives, and
//! the upstream's response body is returned unread for the server to stream out.

use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tokio::sync::oneshot;

use crate::config::RouteConfig;
use crate::http::body::{is_length_limit, RequestBody};
use crate::rescue::Rejection;

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
#[derive(Clone)]
pub struct UpstreamClient {
    client: Client<HttpsConnector<HttpConnector>, RequestBody>,
    response_timeout: Duration,
}

impl UpstreamClient {
    pub fn new(route: &RouteConfig) -> Result<Self, UpstreamSetupError> {
        let tls = upstream_tls(route)?;
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(route.connect_timeout));
        http.set_keepalive(Some(Duration::from_secs(60)));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .timer(TokioTimer::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(1024)
            .build(connector);
        Ok(UpstreamClient {
            client,
            response_timeout: route.response_timeout,
        })
    }

    /// Sends `req` and waits for the response headers: at most `response_timeout` after the
    /// request body has been sent in full (`body_sent`).
    pub async fn send(
        &self,
        req: Request<RequestBody>,
        body_sent: oneshot::Receiver<()>,
    ) -> Result<Response<Incoming>, Rejection> {
        let timeout = self.response_timeout;
        let deadline = async move {
            let _ = body_sent.await;
            tokio::time::sleep(timeout).await;
        };
        tokio::select! {
            result = self.client.request(req) => result.map_err(|err| {
                let rejection = classify(&err);
                if matches!(rejection, Rejection::Upstream(_)) {
                    // The cause chain names addresses and protocol faults, never request data.
                    tracing::warn!(error = %ErrorChain(&err), "upstream request failed");
                }
                rejection
            }),
            () = deadline => Err(UpstreamError::Timeout.into()),
        }
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

/// Reads a client error's cause chain: whose fault was it?
fn classify(err: &hyper_util::client::legacy::Error) -> Rejection {
    if is_length_limit(err) {
        return Rejection::BodyTooLarge;
    }
    if err.is_connect() {
        return UpstreamError::Unreachable.into();
    }
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        if let Some(hyper_err) = cause.downcast_ref::<hyper::Error>() {
            if hyper_err.is_user() {
                // The request body we were streaming failed: the client broke off.
                return Rejection::ClientBodyFailed;
            }
        }
        source = cause.source();
    }
    UpstreamError::Failed.into()
}

/// TLS towards an upstream: the public web roots, or the route's own CA file; TLS 1.2+.
fn upstream_tls(route: &RouteConfig) -> Result<rustls::ClientConfig, UpstreamSetupError> {
    let mut roots = rustls::RootCertStore::empty();
    match &route.upstream_ca {
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        Some(path) => {
            let certs = crate::server::tls::read_certs(path).map_err(|e| {
                UpstreamSetupError(format!("route {}: upstream_ca: {e}", route.path))
            })?;
            for cert in certs {
                roots.add(cert).map_err(|e| {
                    UpstreamSetupError(format!(
                        "route {}: upstream_ca {}: {e}",
                        route.path,
                        path.display()
                    ))
                })?;
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| UpstreamSetupError(format!("TLS setup: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}
