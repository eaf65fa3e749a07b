//! The authorization server under test, and the parties that talk to it:
//!
//! - [`AuthGateway`]: the gateway in-process over self-signed TLS, its `public_url`
//!   (`https://localhost:PORT`, the issuer) carrying the port it really listens on, with the
//!   users, clients and scopes of [`fixture`];
//! - [`Browser`]: reqwest with its own cookie jar and redirects off, so each step of login →
//!   consent → redirect is taken by hand and its `Location` read;
//! - the `oauth2` crate ([`OAuthClient`]) as the third-party client at the token,
//!   revocation and introspection endpoints.
//!
//! Redirect URIs point at ports where nothing listens: only the `Location` header is read.
//! The gateway runs on a [`ManualClock`] set to the real time at start: it stands still
//! unless a test moves it ([`AuthGateway::advance`]), so lifetimes and the refresh grace
//! window are tested without sleeping and without depending on the machine's speed.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use authgate::clock::{Clock, ManualClock, SystemClock};
use authgate::config::Config;
use authgate::server::{ServeError, Server};
use authgate::store::memory::MemoryStore;
use authgate::tokens::keyring::SigningKey;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use oauth2::basic::{BasicClient, BasicErrorResponse};
use oauth2::{
    AuthUrl, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet, IntrospectionUrl,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError, RevocationUrl, Scope,
    StandardErrorResponse, TokenUrl,
};
use reqwest::cookie::{CookieStore, Jar};
use reqwest::header::HeaderMap;
use reqwest::{StatusCode, Url};
use tokio::sync::oneshot;

use super::fixture::{secret_hash, user, SCOPES};
use super::{client_builder, free_port, GatewayBuilder};

/// The password of every test user (the one [`fixture`]'s hash is of).
pub use super::fixture::PASSWORD;
pub use super::page::Page;

/// The user of every flow.
pub const USER: &str = "alice";
/// A second user, with the same password.
pub const OTHER_USER: &str = "bob";

/// A public client (PKCE, no secret).
pub const SPA: &str = "spa";
pub const SPA_REDIRECT: &str = "http://127.0.0.1:5173/callback";
/// Another public client, for tokens presented by the wrong client.
pub const OTHER_SPA: &str = "other-spa";
pub const OTHER_SPA_REDIRECT: &str = "http://127.0.0.1:5174/callback";
/// A confidential client with the code, refresh and client-credentials grants.
pub const WEB: &str = "webapp";
pub const WEB_SECRET: &str = "webapp-secret-5mQkR2vJx8TzL0pW3nYcB7fHs4dA9gEu";
pub const WEB_REDIRECT: &str = "https://app.example.com/callback";
/// A first-party public client: no consent asked.
pub const PORTAL: &str = "portal";
pub const PORTAL_REDIRECT: &str = "http://127.0.0.1:7000/cb";
/// A confidential client with client credentials only.
pub const WORKER: &str = "billing-worker";
pub const WORKER_SECRET: &str = "worker-secret-Qv9cN1xZ6rT3yL8kP2wM5bH7jF0dS4gA";
/// A confidential client that introspects tokens (a resource server).
pub const RS: &str = "resource-server";
pub const RS_SECRET: &str = "rs-secret-Wc3Tn8qL1vB6xK9mZ2rY5pJ7hD0fG4sN";

/// `oauth2`'s client with every endpoint this gateway offers set (all but device flow).
pub type OAuthClient =
    BasicClient<EndpointSet, EndpointNotSet, EndpointSet, EndpointSet, EndpointSet>;

/// The `[scopes]`, `[[users]]` and `[[clients]]` every test gateway has.
pub fn fixture() -> String {
    format!(
        r#"{SCOPES}{alice}{bob}
[[clients]]
id = "{SPA}"
type = "public"
name = "Single-page app"
redirect_uris = ["{SPA_REDIRECT}"]
grants = ["authorization_code", "refresh_token"]
scopes = ["app", "api:read", "api:write"]

[[clients]]
id = "{OTHER_SPA}"
type = "public"
redirect_uris = ["{OTHER_SPA_REDIRECT}"]
grants = ["authorization_code", "refresh_token"]
scopes = ["api:read"]

[[clients]]
id = "{WEB}"
type = "confidential"
secret = "{web}"
name = "Web application"
redirect_uris = ["{WEB_REDIRECT}"]
grants = ["authorization_code", "refresh_token", "client_credentials"]
scopes = ["api:read", "api:write"]

[[clients]]
id = "{PORTAL}"
type = "public"
first_party = true
redirect_uris = ["{PORTAL_REDIRECT}"]
scopes = ["app"]

[[clients]]
id = "{WORKER}"
type = "confidential"
secret = "{worker}"
grants = ["client_credentials"]
scopes = ["api:read"]

[[clients]]
id = "{RS}"
type = "confidential"
secret = "{rs}"
grants = ["client_credentials"]
scopes = ["api:read"]
"#,
        alice = user(USER, &["app", "api:read", "api:write"]),
        bob = user(OTHER_USER, &["api:read"]),
        web = secret_hash(WEB_SECRET),
        worker = secret_hash(WORKER_SECRET),
        rs = secret_hash(RS_SECRET),
    )
}

/// A client that trusts the gateway's generated certificate and finds `localhost` at `addr`.
fn trusting_client(data: &tempfile::TempDir, addr: SocketAddr) -> reqwest::ClientBuilder {
    let pem =
        std::fs::read(data.path().join("tls/self-signed.pem")).expect("the generated certificate");
    let root = reqwest::Certificate::from_pem(&pem).expect("PEM");
    client_builder()
        .add_root_certificate(root)
        .resolve("localhost", addr)
}

/// The gateway as an authorization server. Dropping it begins its shutdown.
pub struct AuthGateway {
    addr: SocketAddr,
    issuer: String,
    /// `https://localhost:PORT` of this instance (the issuer too, unless it shares a peer's).
    origin: String,
    data: Arc<tempfile::TempDir>,
    /// One client for the token-side endpoints, so its connections are kept alive.
    http: reqwest::Client,
    clock: Arc<ManualClock>,
    stop: Option<oneshot::Sender<()>>,
    /// The configuration it runs, as text (its `listen` aside).
    config_text: String,
    admin: Option<SocketAddr>,
}

impl AuthGateway {
    /// The fixture with default `[tokens]`.
    pub async fn start() -> AuthGateway {
        AuthGateway::start_with("").await
    }

    /// The fixture with `tokens` as the lines of `[tokens]` (e.g. `refresh_grace = "0s"`).
    ///
    /// The issuer must name the port, which is only known once bound: a free port is chosen
    /// first and written into both `public_url` and `listen`, again with another port should
    /// someone take it in between.
    pub async fn start_with(tokens: &str) -> AuthGateway {
        if tokens.is_empty() {
            AuthGateway::start_with_sections("").await
        } else {
            AuthGateway::start_with_sections(&format!("[tokens]\n{tokens}")).await
        }
    }

    /// The fixture with `sections` (raw TOML, e.g. a `[registration]` table) appended.
    pub async fn start_with_sections(sections: &str) -> AuthGateway {
        AuthGateway::start_inner(&fixture(), sections, None, false).await
    }

    /// A gateway with `fixture` (its own `[scopes]`, `[[users]]` and `[[clients]]`, such as
    /// the OpenID fixture of `support::oidc`) instead of this module's, and `sections`.
    pub async fn start_with_fixture(fixture: &str, sections: &str) -> AuthGateway {
        AuthGateway::start_inner(fixture, sections, None, false).await
    }

    /// The fixture with `sections` (which name a shared `[store]`, such as Redis) appended,
    /// on the store that `[store]` opens. With a `peer`, this is a second instance of the same
    /// deployment: the peer's data directory (signing key, certificate) and issuer, its own
    /// port (reach it through [`AuthGateway::url`]).
    pub async fn start_shared(sections: &str, peer: Option<&AuthGateway>) -> AuthGateway {
        let peer = peer.map(|p| (p.data.clone(), p.issuer.clone()));
        AuthGateway::start_inner(&fixture(), sections, peer, true).await
    }

    async fn start_inner(
        fixture: &str,
        sections: &str,
        peer: Option<(Arc<tempfile::TempDir>, String)>,
        open_store: bool,
    ) -> AuthGateway {
        let data = match &peer {
            Some((data, _)) => data.clone(),
            None => Arc::new(tempfile::tempdir().expect("temp dir")),
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let port = free_port();
            let origin = format!("https://localhost:{port}");
            let issuer = peer.as_ref().map_or(origin.clone(), |(_, i)| i.clone());
            let mut builder = GatewayBuilder::new()
                .tls_self_signed()
                .public_url(&issuer)
                .data_dir(data.path())
                .toml_section(fixture);
            if !sections.is_empty() {
                builder = builder.toml_section(sections);
            }
            let text = builder.toml(data.path());
            let mut config = Config::from_toml_str(&text)
                .unwrap_or_else(|err| panic!("test configuration rejected: {err}\n{text}"));
            config.server.listen = SocketAddr::from(([127, 0, 0, 1], port));
            super::gateway::quiet_access_log(&mut config);
            let clock = Arc::new(ManualClock::new(SystemClock.now()));
            let store: Arc<dyn authgate::store::Store> = if open_store {
                authgate::store::open(&config, clock.clone())
                    .await
                    .expect("the store")
            } else {
                let store = Arc::new(MemoryStore::new());
                super::keys::seed(&config, store.as_ref()).await;
                store
            };
            let server = match Server::bind_with(&config, clock.clone(), store).await {
                Ok(server) => server,
                Err(ServeError::Bind(..)) if attempt < 5 => continue,
                Err(err) => panic!("gateway did not start: {err}"),
            };
            let addr = server.local_addr().expect("local addr");
            let admin = server.admin_addr();
            let (stop, stopped) = oneshot::channel::<()>();
            tokio::spawn(server.run(async move {
                let _ = stopped.await;
            }));
            let http = trusting_client(&data, addr).build().expect("client");
            return AuthGateway {
                addr,
                issuer,
                origin,
                data,
                http,
                clock,
                stop: Some(stop),
                config_text: text,
                admin,
            };
        }
    }

    /// Writes the configuration the gateway runs to `gateway.toml` in its data directory,
    /// for CLI commands that read it (`authgate token list`), and returns the path.
    pub fn write_config(&self) -> std::path::PathBuf {
        let path = self.data.path().join("gateway.toml");
        std::fs::write(&path, &self.config_text).expect("write config");
        path
    }

    /// Its data directory (signing keys, the generated certificate `tls/self-signed.pem`,
    /// the admin token).
    pub fn data_dir(&self) -> &std::path::Path {
        self.data.path()
    }

    /// The admin token it generated in its data directory.
    pub fn admin_token(&self) -> String {
        std::fs::read_to_string(self.data_dir().join("admin.token"))
            .expect("the generated admin token")
            .trim()
            .to_owned()
    }

    /// The admin listener's address (the fixture turns it on at a free port).
    pub fn admin(&self) -> SocketAddr {
        self.admin.expect("the admin listener is on")
    }

    /// Moves the gateway's clock forward.
    pub fn advance(&self, secs: u64) {
        self.clock.advance(secs);
    }

    /// The gateway's time, in seconds since the Unix epoch.
    pub fn now(&self) -> u64 {
        self.clock.now()
    }

    /// `public_url`: the issuer, `https://localhost:PORT`.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// `{origin}{path}`: this instance (the issuer's origin, unless it shares a peer's).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin)
    }

    /// A client without cookies that trusts the gateway: for the `oauth2` crate and raw
    /// requests to the token, revocation and introspection endpoints.
    pub fn http(&self) -> reqwest::Client {
        self.http.clone()
    }

    /// A browser with an empty cookie jar.
    pub fn browser(&self) -> Browser {
        let jar = Arc::new(Jar::default());
        let client = trusting_client(&self.data, self.addr)
            .cookie_provider(jar.clone())
            .build()
            .expect("client");
        Browser {
            client,
            jar,
            issuer: self.origin.clone(),
        }
    }

    /// A browser of `support::browser` (the federation helpers' kind) on this instance.
    pub fn page_browser(&self) -> super::browser::Browser {
        super::browser::Browser::new(trusting_client(&self.data, self.addr), &self.origin)
    }

    /// The `oauth2` client for `id` (with `secret` when confidential), redirecting to
    /// `redirect_uri`; confidential clients authenticate with HTTP Basic.
    pub fn oauth_client(&self, id: &str, secret: Option<&str>, redirect_uri: &str) -> OAuthClient {
        let client = BasicClient::new(ClientId::new(id.to_owned()))
            .set_auth_uri(AuthUrl::new(self.url("/oauth2/authorize")).expect("URL"))
            .set_token_uri(TokenUrl::new(self.url("/oauth2/token")).expect("URL"))
            .set_revocation_url(RevocationUrl::new(self.url("/oauth2/revoke")).expect("URL"))
            .set_introspection_url(
                IntrospectionUrl::new(self.url("/oauth2/introspect")).expect("URL"),
            )
            .set_redirect_uri(RedirectUrl::new(redirect_uri.to_owned()).expect("URL"));
        match secret {
            Some(secret) => client.set_client_secret(ClientSecret::new(secret.to_owned())),
            None => client,
        }
    }

    pub fn spa(&self) -> OAuthClient {
        self.oauth_client(SPA, None, SPA_REDIRECT)
    }

    pub fn web(&self) -> OAuthClient {
        self.oauth_client(WEB, Some(WEB_SECRET), WEB_REDIRECT)
    }

    /// The resource server, which may introspect.
    pub fn resource_server(&self) -> OAuthClient {
        self.oauth_client(RS, Some(RS_SECRET), WEB_REDIRECT)
    }

    /// The raw introspection answer for `token`, asked by the resource server.
    pub async fn introspect(&self, token: &str) -> serde_json::Value {
        let response = self
            .http()
            .post(self.url("/oauth2/introspect"))
            .basic_auth(RS, Some(RS_SECRET))
            .form(&[("token", token)])
            .send()
            .await
            .expect("introspection request");
        assert_eq!(response.status(), StatusCode::OK, "introspection status");
        response.json().await.expect("introspection JSON")
    }

    /// Whether introspection says `token` is active (and says nothing else when it is not).
    pub async fn is_active(&self, token: &str) -> bool {
        let answer = self.introspect(token).await;
        match answer["active"].as_bool() {
            Some(true) => true,
            Some(false) => {
                assert_eq!(
                    answer,
                    serde_json::json!({"active": false}),
                    "inactive answer"
                );
                false
            }
            None => panic!("introspection without `active`: {answer}"),
        }
    }

    /// The gateway's signing key, as generated into `data_dir` on first start.
    pub fn signing_key(&self) -> SigningKey {
        let text = std::fs::read_to_string(self.data.path().join("signing.key"))
            .expect("the generated signing key");
        let bytes = URL_SAFE_NO_PAD.decode(text.trim()).expect("base64 key");
        SigningKey::new(&bytes).expect("signing key")
    }
}

impl Drop for AuthGateway {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// An authorization request built by the `oauth2` crate: S256 PKCE and a random state.
pub struct AuthRequest {
    pub url: String,
    pub verifier: PkceCodeVerifier,
    pub state: CsrfToken,
}

/// The authorization URL for `client` asking for `scopes` (none: the client's defaults).
pub fn auth_request(client: &OAuthClient, scopes: &[&str]) -> AuthRequest {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state) = client
        .authorize_url(CsrfToken::new_random)
        .add_scopes(scopes.iter().map(|s| Scope::new((*s).to_owned())))
        .set_pkce_challenge(challenge)
        .url();
    AuthRequest {
        url: url.to_string(),
        verifier,
        state,
    }
}

/// What the user does on the consent page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Deny,
}

/// A browser: its own cookie jar, redirects not followed.
pub struct Browser {
    client: reqwest::Client,
    jar: Arc<Jar>,
    issuer: String,
}

impl Browser {
    fn absolute(&self, url: &str) -> String {
        if url.starts_with('/') {
            format!("{}{url}", self.issuer)
        } else {
            url.to_owned()
        }
    }

    /// GETs `url` (absolute, or a path on the gateway).
    pub async fn open(&self, url: &str) -> Page {
        let response = self
            .client
            .get(self.absolute(url))
            .header("accept", "text/html")
            .send()
            .await
            .expect("GET");
        Page::read(response.url().to_string(), response).await
    }

    /// POSTs a form to a path on the gateway, with the `Origin` a browser sends.
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Page {
        let origin = self.issuer.clone();
        self.post_from(&origin, path, form).await
    }

    /// POSTs a form as a page of `origin` would.
    pub async fn post_from(&self, origin: &str, path: &str, form: &[(&str, &str)]) -> Page {
        let response = self
            .client
            .post(self.absolute(path))
            .header("origin", origin)
            .form(form)
            .send()
            .await
            .expect("POST");
        Page::read(response.url().to_string(), response).await
    }

    /// Submits the login form of `page` as `user`.
    pub async fn sign_in(&self, page: &Page, user: &str, password: &str) -> Page {
        assert!(page.is_login(), "not the login page: {page:?}");
        let csrf = page.hidden("csrf").expect("login csrf");
        let request = page.hidden("request").expect("login request");
        self.post(
            "/oauth2/login",
            &[
                ("csrf", &csrf),
                ("request", &request),
                ("username", user),
                ("password", password),
            ],
        )
        .await
    }

    /// Submits the consent form of `page`.
    pub async fn decide(&self, page: &Page, decision: Decision) -> Page {
        assert!(page.is_consent(), "not the consent page: {page:?}");
        let csrf = page.hidden("csrf").expect("consent csrf");
        let request = page.hidden("request").expect("consent request");
        let decision = match decision {
            Decision::Approve => "approve",
            Decision::Deny => "deny",
        };
        self.post(
            "/oauth2/consent",
            &[
                ("csrf", &csrf),
                ("request", &request),
                ("decision", decision),
            ],
        )
        .await
    }

    /// Follows `page`'s redirect on the gateway (a relative `Location`).
    pub async fn follow(&self, page: &Page) -> Page {
        let location = page.location().expect("a redirect");
        assert!(
            location.starts_with('/'),
            "expected a redirect within the gateway, got {location}"
        );
        self.open(&location).await
    }

    /// Runs an authorization from `url` to the redirect that leaves the gateway: signs in as
    /// [`USER`] if asked, decides on consent if asked. Returns that redirect and the pages
    /// met on the way (`"login"`, `"consent"`).
    pub async fn authorize(&self, url: &str, decision: Decision) -> (Callback, Vec<&'static str>) {
        let mut seen = Vec::new();
        let mut page = self.open(url).await;
        for _ in 0..6 {
            if page.is_login() {
                seen.push("login");
                page = self.sign_in(&page, USER, PASSWORD).await;
                assert_eq!(page.status, StatusCode::SEE_OTHER, "login answer: {page:?}");
            } else if page.is_consent() {
                seen.push("consent");
                page = self.decide(&page, decision).await;
            } else if page.location().is_some_and(|l| l.starts_with('/')) {
                page = self.follow(&page).await;
            } else if page.location().is_some() {
                return (page.callback(), seen);
            } else {
                panic!("unexpected page during authorization: {page:?}");
            }
        }
        panic!("authorization did not end in a redirect; pages: {seen:?}");
    }

    /// Whether the jar holds a cookie named `name` for the gateway.
    pub fn has_cookie(&self, name: &str) -> bool {
        let url = Url::parse(&self.issuer).expect("issuer URL");
        self.jar.cookies(&url).is_some_and(|header| {
            header.to_str().unwrap_or("").split(';').any(|pair| {
                pair.trim()
                    .split_once('=')
                    .is_some_and(|(k, v)| k == name && !v.is_empty())
            })
        })
    }
}

/// A redirect to a client's `redirect_uri`.
#[derive(Debug, Clone)]
pub struct Callback {
    pub location: String,
    /// The URI without its query.
    pub base: String,
    pub params: HashMap<String, String>,
}

impl Callback {
    pub fn parse(location: &str) -> Callback {
        let url =
            Url::parse(location).unwrap_or_else(|_| panic!("not an absolute URL: {location}"));
        let mut params = HashMap::new();
        for (k, v) in url.query_pairs() {
            let previous = params.insert(k.to_string(), v.to_string());
            assert!(previous.is_none(), "repeated `{k}` in {location}");
        }
        let base = location.split('?').next().unwrap_or("").to_owned();
        Callback {
            location: location.to_owned(),
            base,
            params,
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }

    pub fn code(&self) -> oauth2::AuthorizationCode {
        oauth2::AuthorizationCode::new(
            self.get("code")
                .unwrap_or_else(|| panic!("no code in {}", self.location))
                .to_owned(),
        )
    }
}

/// The RFC 6749 error code of a refused `oauth2` request; panics on any other failure.
pub fn error_code<RE, T>(err: RequestTokenError<RE, StandardErrorResponse<T>>) -> String
where
    RE: std::error::Error + 'static,
    T: oauth2::ErrorResponseType + std::fmt::Display + 'static,
{
    match err {
        RequestTokenError::ServerResponse(response) => serde_json::to_value(response.error())
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .expect("error code"),
        other => panic!("expected an OAuth error response, got {other:?}"),
    }
}

/// The error code of a refused token request.
pub fn token_error<RE: std::error::Error + 'static>(
    err: RequestTokenError<RE, BasicErrorResponse>,
) -> String {
    error_code(err)
}

/// A raw token-endpoint answer: status, headers and JSON body.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub json: serde_json::Value,
}

impl Answer {
    pub async fn read(response: reqwest::Response) -> Answer {
        let status = response.status();
        let headers = response.headers().clone();
        let json = response.json().await.expect("JSON answer");
        Answer {
            status,
            headers,
            json,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn error(&self) -> Option<&str> {
        self.json["error"].as_str()
    }
}

/// The claims part of a JWT, decoded (not verified).
pub fn jwt_claims(token: &str) -> serde_json::Value {
    let payload = token.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("JSON")
}

/// The header part of a JWT, decoded.
pub fn jwt_header(token: &str) -> serde_json::Value {
    let header = token.split('.').next().expect("a JWT");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).expect("base64url")).expect("JSON")
}

/// A code for `client` (asking for `scopes`) from a fresh browser that signs in as [`USER`]
/// and approves, with the request it answers.
pub async fn code_for(
    gateway: &AuthGateway,
    client: &OAuthClient,
    scopes: &[&str],
) -> (Callback, AuthRequest) {
    let request = auth_request(client, scopes);
    let (callback, _) = gateway
        .browser()
        .authorize(&request.url, Decision::Approve)
        .await;
    assert_eq!(
        callback.get("state"),
        Some(request.state.secret().as_str()),
        "state"
    );
    (callback, request)
}

/// Tokens for `client` through the whole code flow.
pub async fn tokens_for(
    gateway: &AuthGateway,
    client: &OAuthClient,
    scopes: &[&str],
) -> oauth2::basic::BasicTokenResponse {
    let (callback, request) = code_for(gateway, client, scopes).await;
    client
        .exchange_code(callback.code())
        .set_pkce_verifier(request.verifier)
        .request_async(&gateway.http())
        .await
        .expect("code exchange")
}

/// A copy of a verifier (the crate's type is not `Clone`, on purpose).
pub fn same_verifier(verifier: &PkceCodeVerifier) -> PkceCodeVerifier {
    PkceCodeVerifier::new(verifier.secret().clone())
}

/// `url` with the query parameter `name` set to `value`, or removed for `None`.
pub fn with_param(url: &str, name: &str, value: Option<&str>) -> String {
    let mut parsed = Url::parse(url).expect("URL");
    let pairs: Vec<(String, String)> = parsed
        .query_pairs()
        .filter(|(k, _)| k != name)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    {
        let mut query = parsed.query_pairs_mut();
        query.clear();
        for (k, v) in &pairs {
            query.append_pair(k, v);
        }
        if let Some(value) = value {
            query.append_pair(name, value);
        }
    }
    parsed.to_string()
}
