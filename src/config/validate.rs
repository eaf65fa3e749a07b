//! Turns the file shape into the runtime [`Config`]: defaults applied, every value parsed,
//! cross-field rules checked, and each failure placed at its line and key.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use http::uri::{Authority, Scheme};
use http::{StatusCode, Uri};
use ipnet::IpNet;
use toml::Spanned;

use super::error::{ConfigError, Source};
use super::file::{FileConfig, RouteSection, ServerSection};
use super::units::{parse_duration, parse_size};
use super::{
    AuthMode, Config, HttpUpstream, Limits, LogConfig, LogFormat, PublicUrl, RouteConfig,
    ServerConfig, TlsMode, Upstream,
};
use crate::gateway_paths::RESERVED_PREFIXES;
use crate::http::path::normalize;

const DEFAULT_HEADER_BYTES: u64 = 16 * 1024;
/// hyper's HTTP/1 read buffer cannot be smaller than this.
const MIN_HEADER_BYTES: u64 = 8 * 1024;
const MAX_HEADER_BYTES: u64 = 1024 * 1024;
const DEFAULT_BODY_LIMIT: u64 = 10 * 1024 * 1024;

type Result<T> = std::result::Result<T, ConfigError>;

/// Parses and validates `text`, read from the file `name`; relative paths resolve against `base`.
pub(super) fn from_source(name: &str, text: &str, base: &Path) -> Result<Config> {
    let src = Source { name, text };
    let file = parse(src)?;
    let v = Validator { src, base };
    let server = v.server(file.server.get_ref(), file.server.span())?;
    let log = v.log(&file.log)?;
    let scopes = v.scope_table(&file.scopes)?;
    let tokens = v.tokens(&file.tokens, &server.data_dir, &server.public_url)?;
    let session = v.session(&file.session)?;
    let users = v.users(&file.users, &scopes)?;
    let clients = v.clients(&file.clients, &scopes, &users)?;
    let registration = v.registration(&file.registration, &scopes)?;
    let mut routes: Vec<RouteConfig> = Vec::with_capacity(file.routes.len());
    for (index, section) in file.routes.iter().enumerate() {
        let route = v.route(index, section.get_ref(), &scopes)?;
        let same = routes.iter().position(|r| {
            r.host == route.host && r.path.trim_end_matches('/') == route.path.trim_end_matches('/')
        });
        if let Some(first) = same {
            return Err(src.error(
                section.get_ref().path.span(),
                format!("routes[{index}].path"),
                format!("routes[{first}] already has this host and path"),
            ));
        }
        routes.push(route);
    }
    let store = v.store(&file.store)?;
    let admin = v.admin(&file.admin, &server.data_dir, server.listen)?;
    Ok(Config {
        server,
        log,
        tokens,
        session,
        scopes,
        users,
        clients,
        registration,
        routes,
        store,
        admin,
    })
}

/// Deserialises the file, reporting serde's complaints with their key path and line.
fn parse(src: Source<'_>) -> Result<FileConfig> {
    let deserializer = toml::Deserializer::new(src.text);
    serde_path_to_error::deserialize(deserializer).map_err(|err| {
        let path = key_path(err.path());
        let inner = err.into_inner();
        let line = inner.span().map(|span| src.line_of(span.start));
        let message = inner.message().trim().to_owned();
        ConfigError {
            file: src.name.to_owned(),
            line,
            key: (!path.is_empty()).then_some(path),
            message,
        }
    })
}

/// `routes[1].upstream`, without the internal segments `toml::Spanned` adds.
fn key_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if key.starts_with("$__") {
                    continue;
                }
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Unknown => {}
        }
    }
    out
}

pub(super) struct Validator<'a> {
    pub(super) src: Source<'a>,
    base: &'a Path,
}

impl Validator<'_> {
    pub(super) fn err(
        &self,
        at: &Spanned<impl Sized>,
        key: &str,
        msg: impl Into<String>,
    ) -> ConfigError {
        self.src.error(at.span(), key, msg)
    }

    pub(super) fn path(&self, value: &str) -> PathBuf {
        let path = Path::new(value);
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.base.join(path)
        }
    }

    pub(super) fn duration(
        &self,
        value: &Option<Spanned<String>>,
        key: &str,
        default: Duration,
    ) -> Result<Duration> {
        let Some(value) = value else {
            return Ok(default);
        };
        let duration = parse_duration(value.get_ref()).map_err(|m| self.err(value, key, m))?;
        if duration.is_zero() {
            return Err(self.err(value, key, "must be longer than zero"));
        }
        Ok(duration)
    }

    fn size(&self, value: &Option<Spanned<String>>, key: &str, default: u64) -> Result<u64> {
        match value {
            None => Ok(default),
            Some(value) => parse_size(value.get_ref()).map_err(|m| self.err(value, key, m)),
        }
    }

    fn server(&self, s: &ServerSection, span: std::ops::Range<usize>) -> Result<ServerConfig> {
        let listen: SocketAddr = s.listen.get_ref().parse().map_err(|_| {
            self.err(
                &s.listen,
                "server.listen",
                format!(
                    "`{}` is not a socket address such as \"127.0.0.1:8443\"",
                    s.listen.get_ref()
                ),
            )
        })?;

        let tls = self.tls(s, span)?;
        let public_url = self.public_url(&s.public_url, &tls)?;

        let data_dir = match &s.data_dir {
            Some(dir) if dir.get_ref().is_empty() => {
                return Err(self.err(dir, "server.data_dir", "must not be empty"))
            }
            Some(dir) => self.path(dir.get_ref()),
            None => self.path("data"),
        };

        let mut trusted_proxies = Vec::with_capacity(s.trusted_proxies.len());
        for (i, entry) in s.trusted_proxies.iter().enumerate() {
            let text = entry.get_ref();
            let net = text
                .parse::<IpNet>()
                .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    self.err(
                        entry,
                        &format!("server.trusted_proxies[{i}]"),
                        format!("`{text}` is not an IP address or CIDR block"),
                    )
                })?;
            trusted_proxies.push(net);
        }

        let shutdown_grace = self.duration(
            &s.shutdown_grace,
            "server.shutdown_grace",
            Duration::from_secs(30),
        )?;

        let l = &s.limits;
        let header_bytes = self.size(
            &l.header_bytes,
            "server.limits.header_bytes",
            DEFAULT_HEADER_BYTES,
        )?;
        if !(MIN_HEADER_BYTES..=MAX_HEADER_BYTES).contains(&header_bytes) {
            if let Some(value) = &l.header_bytes {
                return Err(self.err(
                    value,
                    "server.limits.header_bytes",
                    "must be between 8KiB and 1MiB",
                ));
            }
        }
        let header_timeout = self.duration(
            &l.header_timeout,
            "server.limits.header_timeout",
            Duration::from_secs(30),
        )?;
        let max_connections = match &l.max_connections {
            None => 10_000,
            Some(n) if *n.get_ref() == 0 => {
                return Err(self.err(n, "server.limits.max_connections", "must be at least 1"))
            }
            Some(n) => *n.get_ref() as usize,
        };

        Ok(ServerConfig {
            listen,
            public_url,
            data_dir,
            trusted_proxies,
            shutdown_grace,
            tls,
            limits: Limits {
                header_bytes: header_bytes as usize,
                header_timeout,
                max_connections,
            },
        })
    }

    fn tls(&self, s: &ServerSection, server_span: std::ops::Range<usize>) -> Result<TlsMode> {
        let Some(tls) = &s.tls else {
            return Ok(TlsMode::SelfSigned);
        };
        let t = tls.get_ref();
        let mode = t.mode.as_ref().map(|m| m.get_ref().as_str());
        let mode = match mode {
            None | Some("self-signed") => TlsMode::SelfSigned,
            Some("off") => TlsMode::Off,
            Some("files") => {
                let (Some(cert), Some(key)) = (&t.cert, &t.key) else {
                    return Err(self.src.error(
                        tls.span(),
                        "server.tls",
                        "mode = \"files\" needs both `cert` and `key`",
                    ));
                };
                TlsMode::Files {
                    cert: self.path(cert.get_ref()),
                    key: self.path(key.get_ref()),
                }
            }
            Some(other) => {
                let at = t.mode.as_ref().map_or(server_span, |m| m.span());
                return Err(self.src.error(
                    at,
                    "server.tls.mode",
                    format!("`{other}` is not one of \"self-signed\", \"files\", \"off\""),
                ));
            }
        };
        if mode != TlsMode::SelfSigned && mode != TlsMode::Off {
            return Ok(mode);
        }
        for (value, key) in [(&t.cert, "server.tls.cert"), (&t.key, "server.tls.key")] {
            if let Some(value) = value {
                return Err(self.err(value, key, "is only used with mode = \"files\""));
            }
        }
        Ok(mode)
    }

    fn public_url(&self, value: &Spanned<String>, tls: &TlsMode) -> Result<PublicUrl> {
        const KEY: &str = "server.public_url";
        let text = value.get_ref();
        let bad = |m: &str| self.err(value, KEY, m.to_owned());
        let uri: Uri = text
            .parse()
            .map_err(|_| bad("is not a URL such as \"https://gateway.example.com\""))?;
        let scheme = uri
            .scheme()
            .cloned()
            .ok_or_else(|| bad("needs a scheme, http:// or https://"))?;
        if scheme != Scheme::HTTPS && scheme != Scheme::HTTP {
            return Err(bad("must be an http:// or https:// URL"));
        }
        let authority = uri.authority().ok_or_else(|| bad("needs a host"))?;
        if authority.as_str().contains('@') {
            return Err(bad("must not contain user information"));
        }
        if !matches!(uri.path(), "" | "/") || uri.query().is_some() || text.contains('#') {
            return Err(bad(
                "must be an origin only (scheme, host, port), without path, query or fragment",
            ));
        }
        if scheme == Scheme::HTTP && *tls != TlsMode::Off {
            return Err(bad(
                "is http:// while the gateway serves TLS; use https:// (or tls.mode = \"off\" behind a TLS-terminating proxy)",
            ));
        }
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        let origin = format!("{scheme}://{}", authority.as_str().to_ascii_lowercase());
        Ok(PublicUrl {
            origin,
            scheme,
            host,
        })
    }

    fn log(&self, l: &super::file::LogSection) -> Result<LogConfig> {
        let format = match l.format.as_ref().map(|f| (f, f.get_ref().as_str())) {
            None | Some((_, "text")) => LogFormat::Text,
            Some((_, "json")) => LogFormat::Json,
            Some((at, other)) => {
                return Err(self.err(
                    at,
                    "log.format",
                    format!("`{other}` is not one of \"text\", \"json\""),
                ))
            }
        };
        let level = match &l.level {
            None => "info".to_owned(),
            Some(level) => {
                tracing_subscriber::EnvFilter::builder()
                    .parse(level.get_ref())
                    .map_err(|e| {
                        self.err(level, "log.level", format!("is not a log filter: {e}"))
                    })?;
                level.get_ref().clone()
            }
        };
        Ok(LogConfig {
            format,
            level,
            access: l.access.unwrap_or(true),
        })
    }

    fn route(
        &self,
        index: usize,
        r: &RouteSection,
        declared: &BTreeMap<String, String>,
    ) -> Result<RouteConfig> {
        let key = |field: &str| format!("routes[{index}].{field}");

        let raw_path = r.path.get_ref();
        if !raw_path.starts_with('/') {
            return Err(self.err(&r.path, &key("path"), "must start with `/`"));
        }
        match normalize(raw_path) {
            Ok(normal) if normal == *raw_path => {}
            Ok(normal) => {
                return Err(self.err(
                    &r.path,
                    &key("path"),
                    format!("is not in normal form; write `{normal}`"),
                ))
            }
            Err(reason) => {
                return Err(self.err(
                    &r.path,
                    &key("path"),
                    format!("is not a valid path: {reason}"),
                ))
            }
        }
        let path = raw_path.clone();
        if let Some(reserved) = RESERVED_PREFIXES
            .iter()
            .find(|p| path.starts_with(**p) || **p == format!("{path}/"))
        {
            return Err(self.err(
                &r.path,
                &key("path"),
                format!("`{reserved}` is reserved for the gateway's own endpoints"),
            ));
        }

        let host = match &r.host {
            None => None,
            Some(h) => Some(self.host(h, &key("host"))?),
        };

        let upstream = self.upstream(&r.upstream, &key("upstream"))?;

        let auth = match r.auth.get_ref().as_str() {
            "bearer" => AuthMode::Bearer,
            "session" => AuthMode::Session,
            "none" => AuthMode::None,
            other => {
                return Err(self.err(
                    &r.auth,
                    &key("auth"),
                    format!("`{other}` is not one of \"bearer\", \"session\", \"none\""),
                ))
            }
        };

        let scopes = self.scope_list(&r.scopes, &key("scopes"), declared)?;
        if auth == AuthMode::None {
            if let Some(first) = r.scopes.first() {
                return Err(self.err(
                    first,
                    &key("scopes"),
                    "scopes need an authenticated route (auth = \"bearer\" or \"session\")",
                ));
            }
        }

        let upstream_ca = match &r.upstream_ca {
            None => None,
            Some(ca) => match &upstream {
                Upstream::Http(up) if up.scheme == Scheme::HTTPS => Some(self.path(ca.get_ref())),
                _ => {
                    return Err(self.err(
                        ca,
                        &key("upstream_ca"),
                        "is only used with an https:// upstream",
                    ))
                }
            },
        };

        Ok(RouteConfig {
            host,
            path,
            upstream,
            auth,
            scopes,
            strip_prefix: r.strip_prefix,
            preserve_host: r.preserve_host,
            body_limit: self.size(&r.body_limit, &key("body_limit"), DEFAULT_BODY_LIMIT)?,
            connect_timeout: self.duration(
                &r.connect_timeout,
                &key("connect_timeout"),
                Duration::from_secs(5),
            )?,
            response_timeout: self.duration(
                &r.response_timeout,
                &key("response_timeout"),
                Duration::from_secs(60),
            )?,
            upstream_ca,
            forward_token: r.forward_token.unwrap_or(true),
            path_parameters: r.path_parameters,
        })
    }

    fn host(&self, value: &Spanned<String>, key: &str) -> Result<String> {
        let text = value.get_ref();
        let valid = !text.is_empty()
            && text.len() <= 253
            && text.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    && !label.starts_with('-')
                    && !label.ends_with('-')
            });
        if !valid {
            return Err(self.err(
                value,
                key,
                format!("`{text}` is not a host name (no port, scheme or path)"),
            ));
        }
        Ok(text.to_ascii_lowercase())
    }

    fn upstream(&self, value: &Spanned<String>, key: &str) -> Result<Upstream> {
        let text = value.get_ref();
        if let Some(status) = text.strip_prefix("static://") {
            let code = status
                .parse::<u16>()
                .ok()
                .filter(|c| (200..=599).contains(c))
                .and_then(|c| StatusCode::from_u16(c).ok())
                .ok_or_else(|| {
                    self.err(
                        value,
                        key,
                        format!("`{text}`: static:// takes a status code from 200 to 599, like static://204"),
                    )
                })?;
            return Ok(Upstream::Static(code));
        }
        if text == "whoami://" {
            return Ok(Upstream::Whoami);
        }
        let bad = |m: String| self.err(value, key, m);
        let uri: Uri = text.parse().map_err(|_| {
            bad(format!(
                "`{text}` is not a URL; use http://HOST:PORT, https://HOST:PORT, static://STATUS or whoami://"
            ))
        })?;
        let scheme = match uri.scheme() {
            Some(s) if *s == Scheme::HTTP || *s == Scheme::HTTPS => s.clone(),
            _ => {
                return Err(bad(format!(
                "`{text}` has an unsupported scheme; use http://, https://, static:// or whoami://"
            )))
            }
        };
        let authority: Authority = uri
            .authority()
            .cloned()
            .ok_or_else(|| bad(format!("`{text}` has no host")))?;
        if authority.as_str().contains('@') {
            return Err(bad("must not contain user information".to_owned()));
        }
        if uri.query().is_some() || text.contains('#') {
            return Err(bad(format!("`{text}` must not have a query or fragment")));
        }
        let base_path = uri.path().trim_end_matches('/').to_owned();
        if !base_path.is_empty()
            && normalize(&base_path).ok().as_deref() != Some(base_path.as_str())
        {
            return Err(bad(format!(
                "`{text}` has a path that is not in normal form"
            )));
        }
        Ok(Upstream::Http(HttpUpstream {
            scheme,
            authority,
            base_path,
        }))
    }
}
