//! The admin API from the command line's side: `authgate token list|revoke` read the same
//! `gateway.toml` as the running gateway, find its admin listener and credential there, and
//! call [`super::api`] over loopback HTTP/1.1.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;

use super::api::{GrantList, RevokeOutcome, RevokeTarget};
use super::credential;
use crate::config::Config;
use crate::store::GrantFilter;

const TIMEOUT: Duration = Duration::from_secs(30);
const MAX_ANSWER_BYTES: usize = 64 << 20;

/// Where a process on this host reaches a listener bound to `listen`: a wildcard address
/// (`0.0.0.0`, `[::]`) is reached on loopback.
pub fn reachable(listen: SocketAddr) -> SocketAddr {
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, listen.port())
}

/// `GET /healthz` over plain HTTP/1.1 at `addr` (no credential: the health check needs
/// none): the status and the first line of the answer, within [`HEALTH_TIMEOUT`].
pub async fn healthz(addr: SocketAddr) -> Result<(StatusCode, String), String> {
    let ask = async {
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| format!("cannot reach the gateway at {addr}: {e}"))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("{addr}: {e}"))?;
        tokio::spawn(conn);
        let request = Request::builder()
            .method(Method::GET)
            .uri(crate::gateway_paths::HEALTHZ_PATH)
            .header(http::header::HOST, addr.to_string())
            .body(Full::new(Bytes::new()))
            .map_err(|e| e.to_string())?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("{addr}: {e}"))?;
        let status = response.status();
        let body = Limited::new(response.into_body(), MAX_HEALTH_BYTES)
            .collect()
            .await
            .map_err(|e| format!("{addr}: {e}"))?
            .to_bytes();
        let text = String::from_utf8_lossy(&body);
        Ok((status, text.lines().next().unwrap_or_default().to_owned()))
    };
    tokio::time::timeout(HEALTH_TIMEOUT, ask)
        .await
        .map_err(|_| format!("the gateway at {addr} did not answer GET /healthz within 5 s"))?
}

/// How long `authgate healthcheck` waits (Docker's default HEALTHCHECK timeout is 30 s).
const HEALTH_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_HEALTH_BYTES: usize = 4096;

pub struct AdminClient {
    addr: SocketAddr,
    token: String,
}

impl AdminClient {
    /// The running gateway's admin API, as `config` describes it.
    pub fn from_config(config: &Config) -> Result<AdminClient, String> {
        let Some(listen) = config.admin.listen else {
            return Err("the admin listener is off ([admin] listen = \"off\"): token list and revoke need it".to_owned());
        };
        let token = credential::read(&config.admin.token).map_err(|e| {
            format!("{e} (the gateway creates the default admin token file when it first starts)")
        })?;
        Ok(AdminClient {
            addr: reachable(listen),
            token,
        })
    }

    pub async fn list(&self, filter: &GrantFilter) -> Result<GrantList, String> {
        let mut query = form_urlencoded::Serializer::new(String::new());
        if let Some(user) = &filter.user {
            query.append_pair("user", user);
        }
        if let Some(client) = &filter.client {
            query.append_pair("client", client);
        }
        let path = format!("/admin/tokens?{}", query.finish());
        let body = self.call(Method::GET, &path, Bytes::new()).await?;
        serde_json::from_slice(&body)
            .map_err(|e| format!("unexpected answer from the gateway: {e}"))
    }

    pub async fn revoke(&self, target: &RevokeTarget) -> Result<RevokeOutcome, String> {
        let body = serde_json::to_vec(target).map_err(|e| e.to_string())?;
        let answer = self
            .call(Method::POST, "/admin/revoke", Bytes::from(body))
            .await?;
        serde_json::from_slice(&answer)
            .map_err(|e| format!("unexpected answer from the gateway: {e}"))
    }

    pub async fn reset_mfa(&self, user: &str) -> Result<super::mfa::ResetOutcome, String> {
        let body = serde_json::to_vec(&super::mfa::ResetRequest {
            user: user.to_owned(),
        })
        .map_err(|e| e.to_string())?;
        let answer = self
            .call(Method::POST, "/admin/mfa/reset", Bytes::from(body))
            .await?;
        serde_json::from_slice(&answer)
            .map_err(|e| format!("unexpected answer from the gateway: {e}"))
    }

    pub async fn keys(&self) -> Result<super::keys::KeyList, String> {
        let body = self.call(Method::GET, "/admin/keys", Bytes::new()).await?;
        serde_json::from_slice(&body)
            .map_err(|e| format!("unexpected answer from the gateway: {e}"))
    }

    pub async fn rotate_keys(
        &self,
        request: &super::keys::RotateRequest,
    ) -> Result<super::keys::KeyList, String> {
        let body = serde_json::to_vec(request).map_err(|e| e.to_string())?;
        let answer = self
            .call(Method::POST, "/admin/keys/rotate", Bytes::from(body))
            .await?;
        serde_json::from_slice(&answer)
            .map_err(|e| format!("unexpected answer from the gateway: {e}"))
    }

    async fn call(&self, method: Method, path: &str, body: Bytes) -> Result<Bytes, String> {
        tokio::time::timeout(TIMEOUT, self.call_once(method, path, body))
            .await
            .map_err(|_| {
                format!(
                    "the gateway's admin listener at {} did not answer within 30 s",
                    self.addr
                )
            })?
    }

    async fn call_once(&self, method: Method, path: &str, body: Bytes) -> Result<Bytes, String> {
        let unreachable = |e: std::io::Error| {
            format!(
                "cannot reach the gateway's admin listener at {}: {e} (is `authgate serve` running with this configuration?)",
                self.addr
            )
        };
        let stream = tokio::net::TcpStream::connect(self.addr)
            .await
            .map_err(unreachable)?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("admin listener at {}: {e}", self.addr))?;
        tokio::spawn(conn);
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header(http::header::HOST, self.addr.to_string())
            .header(
                http::header::AUTHORIZATION,
                format!("Bearer {}", self.token),
            )
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(body))
            .map_err(|e| e.to_string())?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("admin listener at {}: {e}", self.addr))?;
        let status = response.status();
        let bytes = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
            .collect()
            .await
            .map_err(|e| format!("admin listener at {}: {e}", self.addr))?
            .to_bytes();
        if status == StatusCode::UNAUTHORIZED {
            return Err(
                "the gateway refused the admin token: is this the configuration it runs with?"
                    .to_owned(),
            );
        }
        if !status.is_success() {
            let message = serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_owned))
                .unwrap_or_else(|| status.to_string());
            return Err(format!("the gateway answered {status}: {message}"));
        }
        Ok(bytes)
    }
}
