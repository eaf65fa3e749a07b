//! The `authgate` binary on a `data_dir` the test keeps between runs, as an authorization
//! server: its configuration ([`StoreConfig`]), a first-party public client doing the code
//! flow with PKCE over plain HTTP ([`SignedIn`]), and the token-side requests ([`Party`]).
//!
//! The issuer is `http://127.0.0.1` whatever port the process listens on, so access tokens
//! issued before a restart stay valid after it (their `iss` and `aud` do not name a port).
//! Each request reports a transport failure as `Err` instead of panicking: a test that kills
//! the gateway needs to tell "answered" from "no answer received".

use std::path::{Path, PathBuf};

use oauth2::PkceCodeChallenge;
use reqwest::{StatusCode, Url};
use serde_json::Value;

use super::fixture::{secret_hash, user, PASSWORD};
use super::oauth::USER;
use super::{client_builder, GatewayProcess};

/// `public_url`: the issuer of every token, whatever port the process has this time.
pub const ISSUER: &str = "http://127.0.0.1";
/// A first-party public client (no consent page) with the code and refresh grants.
pub const APP: &str = "store-app";
pub const APP_REDIRECT: &str = "http://127.0.0.1:7001/cb";
/// A confidential client that may introspect.
pub const RS: &str = "store-rs";
pub const RS_SECRET: &str = "store-rs-secret-Zb4Kq9Lm2Xv7Tn1Wc5Hp8Jd3Fs6Gr0Ya";

/// A configuration for the binary whose store lives in `data_dir`.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    pub data_dir: PathBuf,
    /// `[tokens] refresh_grace`.
    pub refresh_grace: String,
    /// `[store] compact_after`, when not the default.
    pub compact_after: Option<String>,
}

impl StoreConfig {
    /// Grace `"60s"` (the most allowed: the checks after a restart come seconds after the
    /// kill, well within it), default compaction.
    pub fn new(data_dir: &Path) -> StoreConfig {
        StoreConfig {
            data_dir: data_dir.to_path_buf(),
            refresh_grace: "60s".to_owned(),
            compact_after: None,
        }
    }

    pub fn refresh_grace(mut self, grace: &str) -> StoreConfig {
        self.refresh_grace = grace.to_owned();
        self
    }

    pub fn compact_after(mut self, size: &str) -> StoreConfig {
        self.compact_after = Some(size.to_owned());
        self
    }

    /// The `gateway.toml` text: listens on `127.0.0.1:0`, JSON logs at level info (so that
    /// [`GatewayProcess`] reads the port), fsync on, the admin listener off, a bearer route
    /// `/api/` answered by the gateway itself (`static://204`).
    pub fn toml(&self) -> String {
        let compact = self
            .compact_after
            .as_ref()
            .map(|size| format!("compact_after = \"{size}\"\n"))
            .unwrap_or_default();
        let rs_secret = secret_hash(RS_SECRET);
        format!(
            r#"[server]
listen = "127.0.0.1:0"
public_url = "{ISSUER}"
data_dir = "{data_dir}"

[server.tls]
mode = "off"

[log]
format = "json"
level = "info"
access = false

[tokens]
refresh_grace = "{grace}"
code_ttl = "10m"

[store]
backend = "memory"
fsync = true
{compact}
[admin]
listen = "off"

[scopes]
"api:read" = "Read your data through the API"
{user}
[[clients]]
id = "{APP}"
type = "public"
first_party = true
redirect_uris = ["{APP_REDIRECT}"]
grants = ["authorization_code", "refresh_token"]
scopes = ["api:read"]

[[clients]]
id = "{RS}"
type = "confidential"
secret = "{rs_secret}"
grants = ["client_credentials"]
scopes = ["api:read"]

[[routes]]
path = "/api/"
upstream = "static://204"
auth = "bearer"
scopes = ["api:read"]
"#,
            data_dir = self.data_dir.display(),
            grace = self.refresh_grace,
            user = user(USER, &["api:read"]),
        )
    }

    /// Writes the configuration into `dir` (for one-shot `authgate serve` runs that are
    /// expected to fail) and returns its path.
    pub fn write_to(&self, dir: &Path) -> PathBuf {
        let path = dir.join("gateway.toml");
        std::fs::write(&path, self.toml()).expect("write config");
        path
    }

    /// Starts `authgate serve` on this configuration and waits until it listens.
    pub async fn start(&self) -> GatewayProcess {
        let text = self.toml();
        GatewayProcess::start_with_config(|_| text).await
    }
}

/// An authorization code and the PKCE verifier of the request it answers.
#[derive(Debug, Clone)]
pub struct Code {
    pub code: String,
    pub verifier: String,
}

/// What the token endpoint answered: a status and its JSON.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: StatusCode,
    pub json: Value,
}

impl Answer {
    pub fn error(&self) -> Option<&str> {
        self.json["error"].as_str()
    }

    /// The `(refresh_token, access_token)` of a 200; panics with `what` on anything else.
    pub fn pair(&self, what: &str) -> Tokens {
        assert_eq!(self.status, StatusCode::OK, "{what}: {:?}", self.json);
        Tokens {
            refresh: self.json["refresh_token"]
                .as_str()
                .unwrap_or_else(|| panic!("{what}: no refresh_token in {:?}", self.json))
                .to_owned(),
            access: self.json["access_token"]
                .as_str()
                .unwrap_or_else(|| panic!("{what}: no access_token in {:?}", self.json))
                .to_owned(),
        }
    }

    /// Whether this is the RFC 6749 `invalid_grant` refusal.
    pub fn is_invalid_grant(&self) -> bool {
        self.status == StatusCode::BAD_REQUEST && self.error() == Some("invalid_grant")
    }
}

/// A refresh token and the access token issued with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tokens {
    pub refresh: String,
    pub access: String,
}

/// Requests to one running gateway's token side, with their own connection pool.
#[derive(Clone)]
pub struct Party {
    http: reqwest::Client,
    base: String,
}

impl Party {
    pub fn new(gateway: &GatewayProcess) -> Party {
        Party {
            http: client_builder().build().expect("client"),
            base: gateway.url(""),
        }
    }

    async fn token(&self, form: &[(&str, &str)]) -> reqwest::Result<Answer> {
        let response = self
            .http
            .post(format!("{}/oauth2/token", self.base))
            .form(form)
            .send()
            .await?;
        let status = response.status();
        let json = response.json().await?;
        Ok(Answer { status, json })
    }

    /// `grant_type=refresh_token` for [`APP`].
    pub async fn refresh(&self, refresh_token: &str) -> reqwest::Result<Answer> {
        self.token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", APP),
        ])
        .await
    }

    /// `grant_type=authorization_code` for [`APP`], with the code's verifier.
    pub async fn redeem(&self, code: &Code) -> reqwest::Result<Answer> {
        self.token(&[
            ("grant_type", "authorization_code"),
            ("code", &code.code),
            ("redirect_uri", APP_REDIRECT),
            ("client_id", APP),
            ("code_verifier", &code.verifier),
        ])
        .await
    }

    /// `POST /oauth2/revoke` by [`APP`]; the status once the whole answer was read.
    pub async fn revoke(&self, token: &str) -> reqwest::Result<StatusCode> {
        let response = self
            .http
            .post(format!("{}/oauth2/revoke", self.base))
            .form(&[("token", token), ("client_id", APP)])
            .send()
            .await?;
        let status = response.status();
        response.bytes().await?;
        Ok(status)
    }

    /// Whether introspection (by [`RS`]) says `token` is active; panics if it cannot ask.
    pub async fn is_active(&self, token: &str) -> bool {
        let response = self
            .http
            .post(format!("{}/oauth2/introspect", self.base))
            .basic_auth(RS, Some(RS_SECRET))
            .form(&[("token", token)])
            .send()
            .await
            .expect("introspection request");
        assert_eq!(response.status(), StatusCode::OK, "introspection status");
        let answer: Value = response.json().await.expect("introspection JSON");
        answer["active"]
            .as_bool()
            .unwrap_or_else(|| panic!("introspection without `active`: {answer}"))
    }

    /// The status of `GET /api/x` with `access_token` as bearer token.
    pub async fn bearer_status(&self, access_token: &str) -> StatusCode {
        self.http
            .get(format!("{}/api/x", self.base))
            .bearer_auth(access_token)
            .send()
            .await
            .expect("bearer route request")
            .status()
    }
}

/// A browser signed in as [`USER`] at one running gateway: every further authorization
/// request of [`APP`] (first party, so no consent) is answered with a code at once.
pub struct SignedIn {
    http: reqwest::Client,
    base: String,
}

impl SignedIn {
    /// Signs in through the login page (the first code it gets on the way is dropped).
    pub async fn sign_in(gateway: &GatewayProcess) -> SignedIn {
        let browser = SignedIn {
            http: client_builder().cookie_store(true).build().expect("client"),
            base: gateway.url(""),
        };
        let (url, _) = authorize_url(&browser.base);
        let page = browser.get(&url).await.expect("login page");
        let status = page.status();
        let html = page.text().await.expect("login page body");
        assert_eq!(status, StatusCode::OK, "login page: {html}");
        let hidden = |name: &str| {
            super::html::hidden_input(&html, name)
                .unwrap_or_else(|| panic!("no hidden `{name}` on the login page: {html}"))
        };
        let response = browser
            .http
            .post(format!("{}/oauth2/login", browser.base))
            .header("origin", ISSUER)
            .header("sec-fetch-site", "same-origin")
            .header("accept", "text/html")
            .form(&[
                ("csrf", hidden("csrf").as_str()),
                ("request", hidden("request").as_str()),
                ("username", USER),
                ("password", PASSWORD),
            ])
            .send()
            .await
            .expect("login");
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "login answer");
        let next = location(&response);
        let response = browser.get(&next).await.expect("authorize after login");
        assert!(
            callback_code(&response).is_some(),
            "no code after signing in: {:?}",
            response.headers().get("location")
        );
        browser
    }

    async fn get(&self, path_or_url: &str) -> reqwest::Result<reqwest::Response> {
        let url = if path_or_url.starts_with('/') {
            format!("{}{path_or_url}", self.base)
        } else {
            path_or_url.to_owned()
        };
        self.http
            .get(url)
            .header("accept", "text/html")
            .send()
            .await
    }

    /// A fresh code for [`APP`] (scope `api:read`, S256 PKCE). `Err` when no answer came; a
    /// panic when the answer was not a redirect with a code.
    pub async fn code(&self) -> reqwest::Result<Code> {
        let (url, verifier) = authorize_url(&self.base);
        let response = self.get(&url).await?;
        let code = callback_code(&response).unwrap_or_else(|| {
            panic!(
                "authorization answered {} without a code (Location {:?})",
                response.status(),
                response.headers().get("location")
            )
        });
        Ok(Code { code, verifier })
    }

    /// Tokens through the whole code flow.
    pub async fn tokens(&self, party: &Party) -> Tokens {
        let code = self.code().await.expect("a code");
        party
            .redeem(&code)
            .await
            .expect("code redemption")
            .pair("code redemption")
    }
}

/// An authorization URL for [`APP`] at `base`, and its PKCE verifier.
fn authorize_url(base: &str) -> (String, String) {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let state = oauth2::CsrfToken::new_random();
    let mut url = Url::parse(&format!("{base}/oauth2/authorize")).expect("URL");
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", APP)
        .append_pair("redirect_uri", APP_REDIRECT)
        .append_pair("scope", "api:read")
        .append_pair("state", state.secret())
        .append_pair("code_challenge", challenge.as_str())
        .append_pair("code_challenge_method", "S256");
    (url.to_string(), verifier.secret().clone())
}

/// A `Location` as a path on the gateway (it may be absolute on the issuer, which names no
/// port).
fn location(response: &reqwest::Response) -> String {
    let value = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no Location in a {} answer", response.status()));
    match value.strip_prefix(ISSUER) {
        Some(path) if path.starts_with('/') => path.to_owned(),
        _ => value.to_owned(),
    }
}

/// The `code` of a redirect to [`APP_REDIRECT`].
fn callback_code(response: &reqwest::Response) -> Option<String> {
    if !response.status().is_redirection() {
        return None;
    }
    let location = response.headers().get("location")?.to_str().ok()?;
    if !location.starts_with(APP_REDIRECT) {
        return None;
    }
    let url = Url::parse(location).ok()?;
    url.query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
}

/// The names of `dir`'s entries, sorted.
pub fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read data dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The store's files in `dir` (snapshot and journals, not the lock), with their contents.
pub fn store_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    listing(dir)
        .into_iter()
        .filter(|name| name.starts_with("store.") && name != "store.lock")
        .map(|name| {
            let bytes = std::fs::read(dir.join(&name)).expect("read store file");
            (name, bytes)
        })
        .collect()
}
