//! Configuration: `gateway.toml` read, checked, and turned into the runtime [`Config`].
//!
//! Two types on purpose (the kanidm habit): [`file::FileConfig`] is the serde shape of the
//! file, full of raw strings and spans; [`Config`] is what the gateway runs on, with every
//! value parsed, defaulted and cross-checked. Only [`validate`] turns one into the other, and
//! `check` and `serve` both go through [`Config::load`], so they can never disagree.

pub mod error;
pub mod file;
mod units;
mod validate;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use http::uri::{Authority, Scheme};
use http::StatusCode;
use ipnet::IpNet;

pub use error::ConfigError;
pub use units::{parse_duration, parse_size};

/// The validated configuration the gateway runs on.
#[derive(Debug, Clone)]
pub struct Config {
    pub server: ServerConfig,
    pub log: LogConfig,
    pub routes: Vec<RouteConfig>,
}

impl Config {
    /// Reads and validates the file at `path`. Relative paths inside it are taken relative to
    /// the directory that holds it.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|err| ConfigError {
            file: name.clone(),
            line: None,
            key: None,
            message: format!("cannot read the configuration: {err}"),
        })?;
        let base = path.parent().unwrap_or(Path::new("")).to_path_buf();
        validate::from_source(&name, &text, &base)
    }

    /// Validates configuration text; relative paths are taken relative to the current directory.
    pub fn from_toml_str(text: &str) -> Result<Config, ConfigError> {
        validate::from_source("<string>", text, Path::new(""))
    }

    /// A one-line description, as `authgate check` prints it.
    pub fn summary(&self) -> String {
        let tls = match &self.server.tls {
            TlsMode::Off => "off",
            TlsMode::SelfSigned => "self-signed",
            TlsMode::Files { .. } => "files",
        };
        format!(
            "{} route{}, listening on {} (tls: {tls}), public URL {}",
            self.routes.len(),
            if self.routes.len() == 1 { "" } else { "s" },
            self.server.listen,
            self.server.public_url.origin
        )
    }
}

/// `[server]`.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub public_url: PublicUrl,
    pub data_dir: PathBuf,
    pub trusted_proxies: Vec<IpNet>,
    pub shutdown_grace: Duration,
    pub tls: TlsMode,
    pub limits: Limits,
}

/// The gateway's public origin, the base of every URL it builds (never request headers).
#[derive(Debug, Clone)]
pub struct PublicUrl {
    /// `scheme://host[:port]`, without a trailing slash.
    pub origin: String,
    pub scheme: Scheme,
    /// The host name, lower case, without brackets or port.
    pub host: String,
}

/// `[server.tls] mode`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain HTTP: only behind a TLS-terminating load balancer, and it must be explicit.
    Off,
    /// A certificate generated into `data_dir` on first start and reused after.
    SelfSigned,
    /// Operator-provided PEM files.
    Files { cert: PathBuf, key: PathBuf },
}

/// `[server.limits]`.
#[derive(Debug, Clone)]
pub struct Limits {
    pub header_bytes: usize,
    pub header_timeout: Duration,
    pub max_connections: usize,
}

/// `[log]`.
#[derive(Debug, Clone)]
pub struct LogConfig {
    pub format: LogFormat,
    pub level: String,
    pub access: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// One `[[routes]]` entry, validated.
#[derive(Debug, Clone)]
pub struct RouteConfig {
    /// Lower-case host name, or `None` for every host.
    pub host: Option<String>,
    /// Normalised path prefix.
    pub path: String,
    pub upstream: Upstream,
    pub auth: AuthMode,
    pub scopes: Vec<String>,
    pub strip_prefix: bool,
    pub preserve_host: bool,
    pub body_limit: u64,
    pub connect_timeout: Duration,
    pub response_timeout: Duration,
    pub upstream_ca: Option<PathBuf>,
}

/// Where a route's requests go.
#[derive(Debug, Clone)]
pub enum Upstream {
    /// A real server over HTTP/1.1, with or without TLS.
    Http(HttpUpstream),
    /// `static://STATUS`: the gateway answers with this status itself.
    Static(StatusCode),
    /// `whoami://`: the gateway shows the request as an upstream would receive it.
    Whoami,
}

/// An `http://` or `https://` upstream.
#[derive(Debug, Clone)]
pub struct HttpUpstream {
    pub scheme: Scheme,
    pub authority: Authority,
    /// Path prefix from the upstream URL, without a trailing slash (`""` for none).
    pub base_path: String,
}

impl std::fmt::Display for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Upstream::Http(up) => write!(f, "{}://{}{}", up.scheme, up.authority, up.base_path),
            Upstream::Static(status) => write!(f, "static://{}", status.as_u16()),
            Upstream::Whoami => f.write_str("whoami://"),
        }
    }
}

/// How a route authenticates its callers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// `Authorization: Bearer` access tokens (APIs).
    Bearer,
    /// The browser session cookie, through the login flow.
    Session,
    /// No authentication: only for explicitly public routes.
    None,
}

#[cfg(test)]
mod tests;
