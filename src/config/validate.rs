//! Turns the file shape into the runtime [`Config`]: defaults applied, every value parsed,
//! cross-field rules checked, and each failure placed at its line and key. Here: the order of
//! the sections ([`from_source`]), serde's errors with their key path, and the [`Validator`]
//! primitives (paths, durations, sizes, located errors); the sections themselves are
//! validated in `server.rs` (`[server]`, `[log]`), `routes.rs` (`[[routes]]`), `identity.rs`
//! and `operations.rs`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;

use super::error::{ConfigError, Source};
use super::file::FileConfig;
use super::units::{parse_duration, parse_size};
use super::{Config, RouteConfig};

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
    let providers = v.providers(&file.providers, &scopes)?;
    let mut users = v.users(&file.users, &scopes)?;
    v.identities(&file.users, &mut users, &providers)?;
    let clients = v.clients(&file.clients, &scopes, &users)?;
    let registration = v.registration(&file.registration, &scopes)?;
    let mut routes: Vec<RouteConfig> = Vec::with_capacity(file.routes.len());
    for (index, section) in file.routes.iter().enumerate() {
        let mut route = v.route(index, section.get_ref(), &scopes)?;
        route.allow = v.route_allow(index, section.get_ref(), &users, &providers)?;
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
    let mfa = v.mfa(&file.mfa, &server.data_dir, &server.public_url)?;
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
        providers,
        mfa,
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

    pub(super) fn size(
        &self,
        value: &Option<Spanned<String>>,
        key: &str,
        default: u64,
    ) -> Result<u64> {
        match value {
            None => Ok(default),
            Some(value) => parse_size(value.get_ref()).map_err(|m| self.err(value, key, m)),
        }
    }
}
