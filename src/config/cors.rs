//! `[routes.cors]` validated into [`CorsSettings`], and the origins of public clients'
//! redirect URIs, which the token, revocation and UserInfo endpoints answer CORS for.
//!
//! Origins are compared later as exact bytes with what a browser sends (`crate::http::cors`),
//! so an entry a browser could never send (upper case, a default port, a trailing slash) is
//! refused here with the spelling that would match, rather than silently never matching.
//! `http://` is refused except on loopback: a page served over plain HTTP can be rewritten by
//! anyone on its network path, who would then hold the origin's right to read the answers.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use http::header::{self, HeaderName};
use http::Method;
use toml::Spanned;

use super::error::ConfigError;
use super::file::CorsSection;
use super::routes::is_host_name;
use super::validate::Validator;
use super::{ClientConfig, ClientKind};
use crate::http::cors::CorsSettings;

type Result<T> = std::result::Result<T, ConfigError>;

const DEFAULT_MAX_AGE: Duration = Duration::from_secs(600);
/// Firefox's own cap; Chromium caps at two hours. Longer is never honoured.
const MAX_MAX_AGE: Duration = Duration::from_secs(24 * 3600);

impl Validator<'_> {
    pub(super) fn cors(
        &self,
        index: usize,
        section: &Spanned<CorsSection>,
    ) -> Result<CorsSettings> {
        let c = section.get_ref();
        let key = |field: &str| format!("routes[{index}].cors.{field}");

        if c.allow_origins.get_ref().is_empty() {
            return Err(self.err(
                &c.allow_origins,
                &key("allow_origins"),
                "must list at least one origin, like \"https://app.example.com\"",
            ));
        }
        let mut origins = Vec::new();
        for origin in c.allow_origins.get_ref() {
            check_origin(origin.get_ref())
                .map_err(|m| self.err(origin, &key("allow_origins"), m))?;
            if !origins.contains(origin.get_ref()) {
                origins.push(origin.get_ref().clone());
            }
        }

        let methods = match &c.allow_methods {
            None => vec![Method::GET, Method::HEAD, Method::POST],
            Some(list) => {
                let mut methods = Vec::new();
                for m in list {
                    let method = cors_method(m.get_ref())
                        .map_err(|msg| self.err(m, &key("allow_methods"), msg))?;
                    if !methods.contains(&method) {
                        methods.push(method);
                    }
                }
                methods
            }
        };
        let headers = match &c.allow_headers {
            None => vec![header::AUTHORIZATION, header::CONTENT_TYPE],
            Some(list) => self.header_names(list, &key("allow_headers"))?,
        };
        let expose = self.header_names(&c.expose_headers, &key("expose_headers"))?;

        let max_age = self.duration(&c.max_age, &key("max_age"), DEFAULT_MAX_AGE)?;
        if let Some(value) = &c.max_age {
            if max_age < Duration::from_secs(1) || max_age > MAX_MAX_AGE {
                return Err(self.err(
                    value,
                    &key("max_age"),
                    "must be from 1s to 24h (browsers cap it: Firefox at 24h, Chromium at 2h)",
                ));
            }
        }

        Ok(CorsSettings {
            origins,
            methods,
            headers,
            expose,
            max_age,
            credentials: c.allow_credentials,
        })
    }

    fn header_names(&self, list: &[Spanned<String>], key: &str) -> Result<Vec<HeaderName>> {
        let mut names = Vec::new();
        for value in list {
            let text = value.get_ref();
            if text == "*" {
                return Err(self.err(
                    value,
                    key,
                    "`*` is not allowed: name each header (a wildcard is ignored by browsers on credentialed requests and widens every other)",
                ));
            }
            let name = HeaderName::from_bytes(text.as_bytes())
                .map_err(|_| self.err(value, key, format!("`{text}` is not a header name")))?;
            if !names.contains(&name) {
                names.push(name);
            }
        }
        Ok(names)
    }
}

/// A method a preflight may ask for, spelt as browsers send it.
fn cors_method(text: &str) -> std::result::Result<Method, String> {
    if text == "*" {
        return Err("`*` is not allowed: name each method".to_owned());
    }
    let method =
        Method::from_bytes(text.as_bytes()).map_err(|_| format!("`{text}` is not a method"))?;
    if matches!(text, "CONNECT" | "TRACE" | "TRACK") {
        return Err(format!("`{text}` is never forwarded by the gateway"));
    }
    let upper = text.to_ascii_uppercase();
    if upper != text
        && matches!(
            upper.as_str(),
            "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS"
        )
    {
        // Fetch upper-cases these before it sends them, so the lower-case entry never matches.
        return Err(format!("write `{upper}`: browsers send it in upper case"));
    }
    Ok(method)
}

/// An allowed origin: `https://host[:port]` (or `http://` on loopback) exactly as a browser
/// serialises it.
pub fn check_origin(text: &str) -> std::result::Result<(), String> {
    if text.contains('*') {
        return Err("wildcards are not allowed: list each origin exactly".to_owned());
    }
    if text == "null" {
        return Err(
            "`null` is the origin of sandboxed and file pages: anyone can send it".to_owned(),
        );
    }
    let Some((scheme, authority)) = text.split_once("://") else {
        return Err(format!(
            "`{text}` is not an origin: write scheme://host[:port], like \"https://app.example.com\""
        ));
    };
    if authority.contains(['/', '?', '#', '@']) || authority.is_empty() {
        return Err(format!(
            "`{text}` is not an origin: no path (not even `/`), query, fragment or user information"
        ));
    }
    let canonical = canonical_origin(scheme, authority)
        .ok_or_else(|| format!("`{text}` is not an origin: write scheme://host[:port]"))?;
    if canonical.scheme == "http" && !canonical.loopback {
        return Err(format!(
            "`{text}`: http:// is allowed only for loopback (localhost, 127.0.0.1, [::1]); use https://"
        ));
    }
    if canonical.text != text {
        return Err(format!(
            "write `{}`: browsers send origins in lower case and without the default port",
            canonical.text
        ));
    }
    Ok(())
}

struct Canonical {
    scheme: &'static str,
    text: String,
    loopback: bool,
}

/// The origin a browser sends for `scheme://authority`, or `None` when it is not one.
fn canonical_origin(scheme: &str, authority: &str) -> Option<Canonical> {
    let scheme: &'static str = match scheme.to_ascii_lowercase().as_str() {
        "https" => "https",
        "http" => "http",
        _ => return None,
    };
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        let ip: Ipv6Addr = inside.parse().ok()?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?),
        };
        (format!("[{ip}]"), port)
    } else {
        let (host, port) = match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        };
        let host = host.to_ascii_lowercase();
        if !is_host_name(&host) {
            return None;
        }
        let all_digits = host
            .split('.')
            .all(|l| l.bytes().all(|b| b.is_ascii_digit()));
        if all_digits && host.parse::<Ipv4Addr>().is_err() {
            return None;
        }
        (host, port)
    };
    let port = match port {
        None => None,
        Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
            let n: u16 = p.parse().ok()?;
            let default = if scheme == "https" { 443 } else { 80 };
            (n != default).then_some(n)
        }
        Some(_) => return None,
    };
    let loopback = matches!(host.as_str(), "localhost" | "127.0.0.1" | "[::1]");
    let text = match port {
        Some(port) => format!("{scheme}://{host}:{port}"),
        None => format!("{scheme}://{host}"),
    };
    Some(Canonical {
        scheme,
        text,
        loopback,
    })
}

/// The origins of the public clients' `https://` and loopback `http://` redirect URIs: a
/// single-page app doing PKCE calls the token, revocation and UserInfo endpoints from the
/// page its redirect URI is on. Native apps' private-use schemes have no web origin. Then
/// the origins they list in `allowed_origins` (an app whose redirect page is on another
/// origin than the pages that refresh its tokens).
pub fn public_client_origins(clients: &[ClientConfig]) -> Vec<String> {
    let mut origins: Vec<String> = Vec::new();
    for client in clients.iter().filter(|c| c.kind == ClientKind::Public) {
        for origin in &client.allowed_origins {
            if !origins.contains(origin) {
                origins.push(origin.clone());
            }
        }
        for uri in &client.redirect_uris {
            let Some((scheme, rest)) = uri.split_once("://") else {
                continue;
            };
            let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
            if authority.contains('@') {
                continue;
            }
            let Some(origin) = canonical_origin(scheme, authority) else {
                continue;
            };
            if (origin.scheme == "https" || origin.loopback) && !origins.contains(&origin.text) {
                origins.push(origin.text);
            }
        }
    }
    origins
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn origins_accepted_and_refused() {
        for good in [
            "https://app.example.com",
            "https://app.example.com:8443",
            "http://localhost:5173",
            "http://127.0.0.1:3000",
            "http://[::1]:8080",
            "https://10.0.0.5",
        ] {
            assert_eq!(check_origin(good), Ok(()), "{good}");
        }
        for (bad, says) in [
            ("*", "wildcards"),
            ("https://*.example.com", "wildcards"),
            ("null", "sandboxed"),
            ("https://app.example.com/", "no path"),
            ("https://app.example.com/app", "no path"),
            ("https://user@app.example.com", "user information"),
            ("app.example.com", "scheme://host"),
            ("ftp://app.example.com", "not an origin"),
            ("http://app.example.com", "only for loopback"),
            ("https://App.Example.com", "write `https://app.example.com`"),
            ("HTTPS://app.example.com", "write `https://app.example.com`"),
            (
                "https://app.example.com:443",
                "write `https://app.example.com`",
            ),
            ("http://localhost:80", "write `http://localhost`"),
            ("https://app.example.com:x", "not an origin"),
            ("https://app.example.com:99999", "not an origin"),
            ("https://[::0:1]", "write `https://[::1]`"),
            ("https://1.2.3", "not an origin"),
        ] {
            let err = check_origin(bad).err().unwrap_or_default();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }

    #[test]
    fn public_clients_give_their_web_origins() {
        let client = |id: &str, kind, uris: &[&str]| ClientConfig {
            id: id.to_owned(),
            kind,
            secret_hash: None,
            name: id.to_owned(),
            redirect_uris: uris.iter().map(|u| (*u).to_owned()).collect(),
            grants: Vec::new(),
            scopes: Vec::new(),
            first_party: false,
            require_pkce: true,
            id_token_alg: crate::tokens::jose::Alg::Rs256,
            id_token_claims: Default::default(),
            post_logout_redirect_uris: Vec::new(),
            backchannel_logout_uri: None,
            allowed_origins: Vec::new(),
        };
        let clients = [
            client(
                "spa",
                ClientKind::Public,
                &[
                    "https://App.example.com:443/callback",
                    "https://app.example.com/other?x=1",
                    "http://127.0.0.1:5173/cb",
                    "com.example.app:/oauth",
                ],
            ),
            client(
                "web",
                ClientKind::Confidential,
                &["https://web.example.com/cb"],
            ),
        ];
        assert_eq!(
            public_client_origins(&clients),
            ["https://app.example.com", "http://127.0.0.1:5173"]
        );
    }

    fn load_client(client: &str) -> std::result::Result<Vec<String>, String> {
        let text = format!("{BASE}[[clients]]\nid = \"c\"\n{client}");
        let config = Config::from_toml_str(&text).map_err(|e| e.to_string())?;
        Ok(public_client_origins(&config.clients))
    }

    #[test]
    fn listed_client_origins_come_first_and_only_public_clients_list_them() {
        let public = "type = \"public\"\nredirect_uris = [\"https://login.example/cb\"]\n";
        let listed = "allowed_origins = [\"https://pages.example\", \"https://pages.example\"]\n";
        assert_eq!(
            load_client(&format!("{public}{listed}")).unwrap(),
            ["https://pages.example", "https://login.example"]
        );
        for (bad, want) in [
            ("[\"https://pages.example/\"]", "no path"),
            ("[\"*\"]", "wildcards"),
            ("[\"http://pages.example\"]", "only for loopback"),
            ("[\"https://Pages.example\"]", "lower case"),
        ] {
            let err = load_client(&format!("{public}allowed_origins = {bad}\n")).unwrap_err();
            assert!(
                err.contains("clients[0].allowed_origins[0]") && err.contains(want),
                "{err}"
            );
        }
        let confidential = format!(
            "type = \"confidential\"\nsecret = \"sha256:{}\"\n{listed}",
            "ab".repeat(32)
        );
        let err = load_client(&confidential).unwrap_err();
        assert!(err.contains("only a public client"), "{err}");
    }

    const BASE: &str = r#"
[server]
listen = "127.0.0.1:0"
public_url = "https://gw.example.com"
[server.tls]
mode = "off"
[[routes]]
path = "/api/"
upstream = "static://200"
auth = "none"
"#;

    fn load(cors: &str) -> std::result::Result<CorsSettings, String> {
        let text = format!("{BASE}[routes.cors]\n{cors}");
        let config = Config::from_toml_str(&text).map_err(|e| e.to_string())?;
        let route = config.routes.into_iter().next().ok_or("no route")?;
        route
            .cors
            .map(|p| p.settings().clone())
            .ok_or_else(|| "no cors".to_owned())
    }

    #[test]
    fn defaults_and_settings() {
        let Ok(s) = load("allow_origins = [\"https://app.example.com\"]\n") else {
            panic!("the minimal section should load");
        };
        assert_eq!(s.origins, ["https://app.example.com"]);
        assert_eq!(s.methods, [Method::GET, Method::HEAD, Method::POST]);
        assert_eq!(s.headers, [header::AUTHORIZATION, header::CONTENT_TYPE]);
        assert_eq!(s.max_age, DEFAULT_MAX_AGE);
        assert!(s.expose.is_empty() && !s.credentials);

        let full = "allow_origins = [\"https://a.example\", \"https://a.example\"]\nallow_methods = [\"GET\", \"DELETE\"]\nallow_headers = [\"X-Requested-With\"]\nexpose_headers = [\"x-total-count\"]\nmax_age = \"2h\"\nallow_credentials = true\n";
        let Ok(s) = load(full) else {
            panic!("the full section should load");
        };
        assert_eq!(s.origins, ["https://a.example"]);
        assert_eq!(s.methods, [Method::GET, Method::DELETE]);
        assert_eq!(s.headers, [HeaderName::from_static("x-requested-with")]);
        assert_eq!(s.max_age, Duration::from_secs(7200));
        assert!(s.credentials);
    }

    #[test]
    fn refusals_name_the_line_and_key() {
        // BASE has 10 lines, `[routes.cors]` is line 11, the first key line 12.
        for (section, want) in [
            (
                "allow_origins = []\n",
                "<string>:12: routes[0].cors.allow_origins: must list",
            ),
            (
                "allow_origins = [\"*\"]\n",
                "<string>:12: routes[0].cors.allow_origins: wildcards",
            ),
            (
                "allow_origins = [\"https://a.example/\"]\n",
                "<string>:12: routes[0].cors.allow_origins: `https://a.example/` is not an origin",
            ),
            (
                "allow_origins = [\"https://a.example\"]\nallow_methods = [\"get\"]\n",
                "<string>:13: routes[0].cors.allow_methods: write `GET`",
            ),
            (
                "allow_origins = [\"https://a.example\"]\nallow_methods = [\"TRACE\"]\n",
                "<string>:13: routes[0].cors.allow_methods: `TRACE` is never forwarded",
            ),
            (
                "allow_origins = [\"https://a.example\"]\nallow_headers = [\"*\"]\n",
                "<string>:13: routes[0].cors.allow_headers: `*` is not allowed",
            ),
            (
                "allow_origins = [\"https://a.example\"]\nallow_headers = [\"bad header\"]\n",
                "<string>:13: routes[0].cors.allow_headers: `bad header` is not a header name",
            ),
            (
                "allow_origins = [\"https://a.example\"]\nmax_age = \"10\"\n",
                "<string>:13: routes[0].cors.max_age: `10` is not a duration",
            ),
            (
                "allow_origins = [\"https://a.example\"]\nmax_age = \"2d\"\n",
                "<string>:13: routes[0].cors.max_age: must be from 1s to 24h",
            ),
            (
                "allow_origins = [\"https://a.example\"]\nallow_origin = [\"https://b.example\"]\n",
                "<string>:13: routes[0].cors.allow_origin: unknown field `allow_origin`",
            ),
        ] {
            let err = load(section).err().unwrap_or_default();
            assert!(err.starts_with(want), "{section}: {err}");
        }
    }
}
