//! One `[[routes]]` entry (its path, host, auth and upstream), validated into a
//! [`RouteConfig`]; the primitives are `validate.rs`'s.

use std::collections::BTreeMap;
use std::time::Duration;

use http::uri::{Authority, Scheme};
use http::{StatusCode, Uri};
use toml::Spanned;

use super::error::ConfigError;
use super::file::RouteSection;
use super::validate::Validator;
use super::{AuthMode, HttpUpstream, RouteConfig, Upstream};
use crate::gateway_paths::RESERVED_PREFIXES;
use crate::http::path::normalize;

const DEFAULT_BODY_LIMIT: u64 = 10 * 1024 * 1024;

type Result<T> = std::result::Result<T, ConfigError>;

impl Validator<'_> {
    pub(super) fn route(
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

        if r.mfa && auth == AuthMode::None {
            return Err(self.err(
                &r.auth,
                &key("mfa"),
                "a second factor is asked of callers: it needs auth = \"bearer\" or \"session\"",
            ));
        }

        if r.assertion && auth == AuthMode::None {
            return Err(self.err(
                &r.auth,
                &key("assertion"),
                "an assertion says who the caller is: it needs auth = \"bearer\" or \"session\"",
            ));
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
            assertion: r.assertion,
            mfa: r.mfa,
            // Checked against the users and providers once they are known (`route_allow`).
            allow: Vec::new(),
        })
    }

    pub(super) fn host(&self, value: &Spanned<String>, key: &str) -> Result<String> {
        let text = value.get_ref();
        if !is_host_name(text) {
            return Err(self.err(
                value,
                key,
                format!("`{text}` is not a host name (no port, scheme or path)"),
            ));
        }
        Ok(text.to_ascii_lowercase())
    }

    pub(super) fn upstream(&self, value: &Spanned<String>, key: &str) -> Result<Upstream> {
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

/// A DNS host name: labels of letters, digits and `-` (not at either end), at most 63 bytes
/// each and 253 in all (no port, scheme, path or trailing dot).
pub fn is_host_name(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 253
        && text.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}
