//! The `[server]` section (listen address, TLS, `public_url`, limits) and `[log]`, validated
//! into [`ServerConfig`] and [`LogConfig`]; the primitives are `validate.rs`'s.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use http::uri::Scheme;
use http::Uri;
use ipnet::IpNet;
use toml::Spanned;

use super::error::ConfigError;
use super::file::ServerSection;
use super::validate::Validator;
use super::{AccessFormat, Limits, LogConfig, LogFormat, PublicUrl, ServerConfig, TlsMode};

const DEFAULT_HEADER_BYTES: u64 = 16 * 1024;
/// hyper's HTTP/1 read buffer cannot be smaller than this.
const MIN_HEADER_BYTES: u64 = 8 * 1024;
const MAX_HEADER_BYTES: u64 = 1024 * 1024;

type Result<T> = std::result::Result<T, ConfigError>;

impl Validator<'_> {
    pub(super) fn server(
        &self,
        s: &ServerSection,
        span: std::ops::Range<usize>,
    ) -> Result<ServerConfig> {
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

    pub(super) fn tls(
        &self,
        s: &ServerSection,
        server_span: std::ops::Range<usize>,
    ) -> Result<TlsMode> {
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

    pub(super) fn public_url(&self, value: &Spanned<String>, tls: &TlsMode) -> Result<PublicUrl> {
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

    pub(super) fn log(&self, l: &super::file::LogSection) -> Result<LogConfig> {
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
                plain_log_filter(level.get_ref())
                    .map_err(|why| self.err(level, "log.level", why))?;
                tracing_subscriber::EnvFilter::builder()
                    .parse(level.get_ref())
                    .map_err(|e| {
                        self.err(level, "log.level", format!("is not a log filter: {e}"))
                    })?;
                level.get_ref().clone()
            }
        };
        let access_format = match l.access_format.as_ref().map(|f| (f, f.get_ref().as_str())) {
            None => match format {
                LogFormat::Text => AccessFormat::Logfmt,
                LogFormat::Json => AccessFormat::Json,
            },
            Some((_, "logfmt")) => AccessFormat::Logfmt,
            Some((_, "json")) => AccessFormat::Json,
            Some((at, other)) => {
                return Err(self.err(
                    at,
                    "log.access_format",
                    format!("`{other}` is not one of \"logfmt\", \"json\""),
                ))
            }
        };
        let access_file = match &l.access_file {
            None => None,
            Some(file) => {
                let text = file.get_ref();
                if text.is_empty() || text.ends_with('/') {
                    return Err(self.err(file, "log.access_file", "must name a file"));
                }
                Some(self.path(text))
            }
        };
        Ok(LogConfig {
            format,
            level,
            access: l.access.unwrap_or(true),
            access_format,
            access_file,
        })
    }
}

/// The longest `[log] level` accepted.
const MAX_LOG_FILTER_BYTES: usize = 1024;

/// `[log] level` takes plain directives only: `LEVEL`, `TARGET` or `TARGET=LEVEL`, comma
/// separated, a target being a module path. tracing-subscriber also reads span and field
/// filters (`target[span{field=value}]=level`) and compiles field values to regular
/// expressions whose automaton can grow without bound: the configuration fuzz target found a
/// 700-byte file whose `level` took minutes and gigabytes to parse. `RUST_LOG` still takes the
/// whole syntax, for an operator at a shell.
fn plain_log_filter(filter: &str) -> std::result::Result<(), String> {
    if filter.len() > MAX_LOG_FILTER_BYTES {
        return Err(format!("is longer than {MAX_LOG_FILTER_BYTES} bytes"));
    }
    const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];
    let is_level = |s: &str| LEVELS.iter().any(|l| l.eq_ignore_ascii_case(s));
    let is_target = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b':'))
    };
    for directive in filter.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        let plain = match directive.split_once('=') {
            Some((target, level)) => is_target(target.trim()) && is_level(level.trim()),
            None => is_target(directive),
        };
        if !plain {
            return Err(format!(
                "`{directive}` is not LEVEL, TARGET or TARGET=LEVEL (levels: {}); span and field filters are for RUST_LOG only",
                LEVELS.join(", ")
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod log_filter_tests {
    use super::plain_log_filter;

    #[test]
    fn plain_directives_pass() {
        for ok in [
            "info",
            "warn,authgate=debug",
            "authgate::proxy=trace, hyper_util=off",
            "DEBUG",
            "",
        ] {
            assert!(plain_log_filter(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn span_and_field_filters_and_huge_filters_are_refused() {
        // The configuration fuzz target's timeout (fuzz/artifacts/config/timeout-1025fdb...):
        // a field filter whose value regex took minutes to compile.
        let fuzzed = "[nfo0000000000000000000000000000001912152154<8888888{ee.p4.0.50=];s.essio....@@@@pasrd@@9551615streamer.ver}8888]";
        for bad in [
            fuzzed,
            "authgate[span]=info",
            "[{user=alice}]=debug",
            "authgate=loud",
            "a b",
            "=info",
        ] {
            assert!(plain_log_filter(bad).is_err(), "{bad}");
        }
        assert!(plain_log_filter(&"a,".repeat(600)).is_err());
    }
}
