//! Opening a connection to an upstream: TCP (Nagle off, keep-alive probes), TLS with the
//! route's trust anchors for an `https://` upstream, then the HTTP/1.1 handshake.
//!
//! All of it, DNS and the TLS handshake included, must finish within the route's
//! `connect_timeout`; any failure is [`UpstreamError::Unreachable`](super::forward::UpstreamError)
//! (502). The connection's I/O then runs in a task of its own, with upgrades enabled so that a
//! WebSocket handshake can take the connection over; the returned [`SendRequest`] is what the
//! pool keeps.

use std::sync::Arc;
use std::time::Duration;

use http::uri::Scheme;
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
        let https = upstream.scheme == Scheme::HTTPS;
        let authority = &upstream.authority;
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
        let tls = if https {
            let name = ServerName::try_from(host.clone()).map_err(|e| {
                UpstreamSetupError(format!("route {}: upstream host: {e}", route.path))
            })?;
            let config = Arc::new(upstream_tls(route)?);
            Some((TlsConnector::from(config), name))
        } else {
            None
        };
        Ok(Connector {
            host,
            port,
            tls,
            timeout: route.connect_timeout,
        })
    }

    /// A new connection, ready for its first request.
    pub async fn connect(&self) -> Result<Sender, ConnectError> {
        match tokio::time::timeout(self.timeout, self.open()).await {
            Ok(result) => result,
            Err(_elapsed) => Err(ConnectError::Timeout(self.timeout)),
        }
    }

    async fn open(&self) -> Result<Sender, ConnectError> {
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
async fn handshake<T>(io: T) -> Result<Sender, ConnectError>
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

/// TLS towards an upstream: the public web roots, or the route's own CA file; TLS 1.2+;
/// HTTP/1.1 offered by ALPN.
fn upstream_tls(route: &RouteConfig) -> Result<rustls::ClientConfig, UpstreamSetupError> {
    let mut roots = rustls::RootCertStore::empty();
    match &route.upstream_ca {
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        Some(path) => {
            let certs = crate::pem::read_certs(path).map_err(|e| {
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
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| UpstreamSetupError(format!("TLS setup: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}
