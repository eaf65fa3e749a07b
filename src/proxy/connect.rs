//! Opening a connection to an upstream: TCP (Nagle off, keep-alive probes), TLS with the
//! route's trust anchors for an `https://` upstream (the public web roots, built once, or
//! its `upstream_ca`), then the HTTP/1.1 handshake. The gateway's own outbound requests
//! (Back-Channel Logout) open theirs here too ([`Connector::for_uri`]).
//!
//! All of it, DNS and the TLS handshake included, must finish within the route's
//! `connect_timeout`; any failure is [`UpstreamError::Unreachable`](super::forward::UpstreamError)
//! (502). The connection's I/O then runs in a task of its own, with upgrades enabled so that a
//! WebSocket handshake can take the connection over; the returned [`SendRequest`] is what the
//! pool keeps.

use std::sync::Arc;
use std::time::Duration;

use http::uri::{Authority, Scheme};
use http::Uri;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::forward::UpstreamSetupError;
use crate::config::{HttpUpstream, RouteConfig};
use crate::http::body::RequestBody;

/// A sender on a fresh upstream connection.
pub type Sender = SendRequest<RequestBody>;

/// A request body the connection task can send: a proxied request's, or one the gateway
/// builds itself.
pub trait OutboundBody:
    http_body::Body<Data: Send, Error: Into<Box<dyn std::error::Error + Send + Sync>>>
    + Send
    + Unpin
    + 'static
{
}

impl<B> OutboundBody for B where
    B: http_body::Body<Data: Send, Error: Into<Box<dyn std::error::Error + Send + Sync>>>
        + Send
        + Unpin
        + 'static
{
}

/// How often an idle upstream connection is probed by the kernel (as nginx and the
/// hyper-util connector do), so a silently dead upstream host is noticed.
const TCP_KEEPALIVE: Duration = Duration::from_secs(60);

/// Why no connection could be opened. Only logged: the client sees a 502 either way.
#[derive(Debug)]
pub enum ConnectError {
    Tcp(std::io::Error),
    Tls(std::io::Error),
    Handshake(hyper::Error),
    Timeout(Duration),
}

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnectError::Tcp(err) => write!(f, "tcp connect error: {err}"),
            ConnectError::Tls(err) => write!(f, "tls handshake error: {err}"),
            ConnectError::Handshake(err) => write!(f, "http handshake error: {err}"),
            ConnectError::Timeout(limit) => write!(f, "no connection within {limit:?}"),
        }
    }
}

impl std::error::Error for ConnectError {}

/// Opens connections to one upstream.
pub struct Connector {
    /// Host name or IP address, without the brackets of an IPv6 literal.
    host: String,
    port: u16,
    tls: Option<(TlsConnector, ServerName<'static>)>,
    timeout: Duration,
}

impl Connector {
    pub fn new(upstream: &HttpUpstream, route: &RouteConfig) -> Result<Self, UpstreamSetupError> {
        let tls = match (upstream.scheme == Scheme::HTTPS, &route.upstream_ca) {
            (false, _) => None,
            (true, None) => Some(public_roots_tls().map_err(UpstreamSetupError)?),
            (true, Some(ca)) => Some(Arc::new(ca_file_tls(route, ca)?)),
        };
        Connector::to(&upstream.authority, tls, route.connect_timeout)
            .map_err(|e| UpstreamSetupError(format!("route {}: upstream host: {e}", route.path)))
    }

    /// To the origin of an absolute `http` or `https` URI, trusting the public web roots:
    /// the gateway's own outbound requests that are not proxying (Back-Channel Logout).
    pub fn for_uri(uri: &Uri, timeout: Duration) -> Result<Self, String> {
        let authority = uri.authority().ok_or("the URI has no authority")?;
        let tls = match uri.scheme() {
            Some(s) if *s == Scheme::HTTPS => Some(public_roots_tls()?),
            Some(s) if *s == Scheme::HTTP => None,
            _ => return Err("the URI is not http or https".to_owned()),
        };
        Connector::to(authority, tls, timeout)
    }

    fn to(
        authority: &Authority,
        tls: Option<Arc<rustls::ClientConfig>>,
        timeout: Duration,
    ) -> Result<Self, String> {
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = authority
            .port_u16()
            .unwrap_or(if tls.is_some() { 443 } else { 80 });
        let tls = match tls {
            Some(config) => {
                let name = ServerName::try_from(host.clone()).map_err(|e| e.to_string())?;
                Some((TlsConnector::from(config), name))
            }
            None => None,
        };
        Ok(Connector {
            host,
            port,
            tls,
            timeout,
        })
    }

    /// A new connection, ready for its first request.
    pub async fn connect<B: OutboundBody>(&self) -> Result<SendRequest<B>, ConnectError> {
        match tokio::time::timeout(self.timeout, self.open()).await {
            Ok(result) => result,
            Err(_elapsed) => Err(ConnectError::Timeout(self.timeout)),
        }
    }

    async fn open<B: OutboundBody>(&self) -> Result<SendRequest<B>, ConnectError> {
        let tcp = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(ConnectError::Tcp)?;
        // Small requests go out at once; the connection is reused, so Nagle only delays.
        tcp.set_nodelay(true).map_err(ConnectError::Tcp)?;
        let keepalive = socket2::TcpKeepalive::new().with_time(TCP_KEEPALIVE);
        socket2::SockRef::from(&tcp)
            .set_tcp_keepalive(&keepalive)
            .map_err(ConnectError::Tcp)?;
        match &self.tls {
            None => handshake(tcp).await,
            Some((connector, name)) => {
                let tls = connector
                    .connect(name.clone(), tcp)
                    .await
                    .map_err(ConnectError::Tls)?;
                handshake(tls).await
            }
        }
    }
}

/// HTTP/1.1 over `io`; the connection task runs until the upstream or the pool lets go of it.
async fn handshake<T, B: OutboundBody>(io: T) -> Result<SendRequest<B>, ConnectError>
where
    T: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (sender, connection) = http1::Builder::new()
        .handshake(TokioIo::new(io))
        .await
        .map_err(ConnectError::Handshake)?;
    tokio::spawn(async move {
        if let Err(err) = connection.with_upgrades().await {
            tracing::debug!(error = %err, "upstream connection ended with an error");
        }
    });
    Ok(sender)
}

/// TLS towards an upstream that trusts the route's own CA file only (`upstream_ca`).
fn ca_file_tls(
    route: &RouteConfig,
    path: &std::path::Path,
) -> Result<rustls::ClientConfig, UpstreamSetupError> {
    let mut roots = rustls::RootCertStore::empty();
    let certs = crate::pem::read_certs(path)
        .map_err(|e| UpstreamSetupError(format!("route {}: upstream_ca: {e}", route.path)))?;
    for cert in certs {
        roots.add(cert).map_err(|e| {
            UpstreamSetupError(format!(
                "route {}: upstream_ca {}: {e}",
                route.path,
                path.display()
            ))
        })?;
    }
    client_tls(roots).map_err(UpstreamSetupError)
}

/// TLS trusting the public web roots, built once (the root store is about 150 certificates).
fn public_roots_tls() -> Result<Arc<rustls::ClientConfig>, String> {
    static CONFIG: std::sync::OnceLock<Result<Arc<rustls::ClientConfig>, String>> =
        std::sync::OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let mut roots = rustls::RootCertStore::empty();
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            client_tls(roots).map(Arc::new)
        })
        .clone()
}

/// A TLS client trusting `roots`: TLS 1.2+, HTTP/1.1 offered by ALPN.
fn client_tls(roots: rustls::RootCertStore) -> Result<rustls::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}
