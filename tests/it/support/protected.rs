//! The gateway in front of protected routes, for the `protect_*` tests: in-process over
//! self-signed TLS at `https://localhost:PORT` (so the `__Host-` cookies are real), on a
//! [`ManualClock`] that tests move forward instead of sleeping, with a token store the test
//! can reach ([`SpyStore`]: the memory store, noting which access tokens it was told about so
//! that a test can ask whether a session's own tokens were revoked).
//!
//! Parties: [`ProtectedGateway::browser`] (a cookie jar, see [`super::browser`]),
//! [`ProtectedGateway::api`] (no cookies), and tokens from the real token endpoint:
//! [`ProtectedGateway::client_token`] (client credentials) and
//! [`ProtectedGateway::user_token`] (the code flow with PKCE, as a first-party client).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use authgate::clock::{Clock, ManualClock, SystemClock};
use authgate::config::{ClientConfig, Config};
use authgate::server::{ServeError, Server};
use authgate::store::memory::MemoryStore;
use authgate::store::{
    CodeGrant, CodeTake, IssuedAccess, NextRefresh, RefreshLookup, RefreshRecord, Rotation,
    SessionRecord, Store, StoreResult, Subject,
};
use authgate::tokens::opaque::{new_token, TokenHash};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use reqwest::StatusCode;
use sha2::{Digest, Sha256};
use tokio::sync::oneshot;

use super::browser::{Browser, Page};
use super::fixture::{secret_hash, user, PASSWORD, SCOPES};
use super::{client_builder, free_port, GatewayBuilder, Route};

/// The users: both may use the application; only alice may write through the API.
pub const ALICE: &str = "alice";
pub const BOB: &str = "bob";
/// Their password (every test user's: see [`super::fixture`]).
pub const USER_PASSWORD: &str = PASSWORD;
/// A first-party public client: the code flow without consent, for user bearer tokens.
pub const PORTAL: &str = "portal";
pub const PORTAL_REDIRECT: &str = "http://127.0.0.1:7000/cb";
/// A confidential client with client credentials and every scope.
pub const SERVICE: &str = "reports-service";
pub const SERVICE_SECRET: &str = "svc-secret-Hq7Lm2Zx9Pc4Vb6Nw1Ty8Rk3Jd5Fg0Sa";

/// `[scopes]`, `[[users]]` and `[[clients]]` of every protected-route gateway.
pub fn fixture() -> String {
    let secret = secret_hash(SERVICE_SECRET);
    let alice = user(ALICE, &["app", "api:read", "api:write"]);
    let bob = user(BOB, &["app", "api:read"]);
    format!(
        r#"{SCOPES}{alice}{bob}
[[clients]]
id = "{PORTAL}"
type = "public"
first_party = true
redirect_uris = ["{PORTAL_REDIRECT}"]
scopes = ["app", "api:read", "api:write"]

[[clients]]
id = "{SERVICE}"
type = "confidential"
secret = "{secret}"
grants = ["client_credentials"]
scopes = ["app", "api:read", "api:write", "admin"]
"#
    )
}

/// A route with `auth` (`"session"`, `"bearer"`) and `scopes`.
pub fn protected(path: &str, upstream: &str, auth: &str, scopes: &[&str]) -> Route {
    let list: Vec<String> = scopes.iter().map(|s| format!("{s:?}")).collect();
    Route::new(path, upstream)
        .set_str("auth", auth)
        .set("scopes", &format!("[{}]", list.join(", ")))
}

/// The gateway under test. Dropping it begins its shutdown.
pub struct ProtectedGateway {
    addr: SocketAddr,
    origin: String,
    data: tempfile::TempDir,
    clock: Arc<ManualClock>,
    store: Arc<SpyStore>,
    /// Reloads the configuration file at a path, as SIGHUP does (`Reloader::reload_file`, but
    /// for the access log's destination).
    reload_file: ReloadFile,
    stop: Option<oneshot::Sender<()>>,
}

type ReloadFile = Box<dyn Fn(&Path) -> Result<(), String> + Send + Sync>;

/// The configuration [`ProtectedGateway::start`] runs: the [`fixture`], `routes` and `extra`.
fn protected_text(routes: &[Route], extra: &str, origin: &str, data: &Path) -> String {
    let mut builder = GatewayBuilder::new()
        .tls_self_signed()
        .public_url(origin)
        .data_dir(data)
        .toml_section(&fixture());
    for route in routes {
        builder = builder.route(route.clone());
    }
    if !extra.is_empty() {
        builder = builder.toml_section(extra);
    }
    builder.toml(data)
}

impl ProtectedGateway {
    /// The [`fixture`] with `routes`, and `extra` TOML (e.g. a `[session]` section).
    pub async fn start(routes: Vec<Route>, extra: &str) -> ProtectedGateway {
        let extra = extra.to_owned();
        ProtectedGateway::start_with(move |origin, data| {
            protected_text(&routes, &extra, origin, data)
        })
        .await
    }

    /// Writes the configuration [`ProtectedGateway::start`] would run with `routes` and
    /// `extra` to `DATA_DIR/gateway.toml` and reloads that file the way SIGHUP does (read,
    /// validated as `check` would, built beside the running one, swapped in).
    pub fn reload(&self, routes: &[Route], extra: &str) -> Result<(), String> {
        // The server's own `listen` (the first), as it was bound; a change would wait for a
        // restart.
        let text = protected_text(routes, extra, &self.origin, self.data.path()).replacen(
            "listen = \"127.0.0.1:0\"",
            &format!("listen = \"{}\"", self.addr),
            1,
        );
        let path = self.data.path().join("gateway.toml");
        std::fs::write(&path, text).expect("write gateway.toml");
        (self.reload_file)(&path)
    }

    /// The gateway for the configuration `text_for(public_url, data_dir)` returns.
    ///
    /// `public_url` must name the port, which is only known once bound: a free port is chosen
    /// first and written into both `public_url` and `listen`, again with another port should
    /// someone take it in between.
    pub async fn start_with(text_for: impl Fn(&str, &Path) -> String) -> ProtectedGateway {
        let data = tempfile::tempdir().expect("temp dir");
        let mut attempt = 0;
        loop {
            attempt += 1;
            let port = free_port();
            let origin = format!("https://localhost:{port}");
            let text = text_for(&origin, data.path());
            let mut config = Config::from_toml_str(&text)
                .unwrap_or_else(|err| panic!("test configuration rejected: {err}\n{text}"));
            config.server.listen = SocketAddr::from(([127, 0, 0, 1], port));
            super::gateway::quiet_access_log(&mut config);
            let clock = Arc::new(ManualClock::new(SystemClock.now()));
            let store = Arc::new(SpyStore::default());
            super::keys::seed(&config, store.as_ref()).await;
            let server = match Server::bind_with(&config, clock.clone(), store.clone()).await {
                Ok(server) => server,
                Err(ServeError::Bind(..)) if attempt < 5 => continue,
                Err(err) => panic!("gateway did not start: {err}"),
            };
            let addr = server.local_addr().expect("local addr");
            let reloader = server.reloader();
            // As `Reloader::reload_file`, with the access lines kept off the test's output.
            let reload_file: ReloadFile = Box::new(move |path| {
                let mut config = Config::load(path).map_err(|e| e.to_string())?;
                super::gateway::quiet_access_log(&mut config);
                reloader.reload(config).map(|_| ())
            });
            let (stop, stopped) = oneshot::channel::<()>();
            tokio::spawn(server.run(async move {
                let _ = stopped.await;
            }));
            return ProtectedGateway {
                addr,
                origin,
                data,
                clock,
                store,
                reload_file,
                stop: Some(stop),
            };
        }
    }

    /// `public_url`: `https://localhost:PORT`.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// `{origin}{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin)
    }

    /// The generated self-signed certificate (PEM).
    pub fn certificate(&self) -> Vec<u8> {
        std::fs::read(self.data.path().join("tls/self-signed.pem"))
            .expect("the generated certificate")
    }

    /// The gateway's clock, seconds since the epoch.
    pub fn now(&self) -> u64 {
        self.clock.now()
    }

    /// Moves the gateway's clock forward.
    pub fn advance(&self, secs: u64) {
        self.clock.advance(secs);
    }

    /// The gateway's token store.
    pub fn store(&self) -> &SpyStore {
        &self.store
    }

    fn client_builder(&self) -> reqwest::ClientBuilder {
        let root = reqwest::Certificate::from_pem(&self.certificate()).expect("PEM");
        client_builder()
            .add_root_certificate(root)
            .resolve("localhost", self.addr)
    }

    /// An API client: no cookies, redirects not followed.
    pub fn api(&self) -> reqwest::Client {
        self.client_builder().build().expect("client")
    }

    /// A browser with an empty cookie jar.
    pub fn browser(&self) -> Browser {
        Browser::new(self.client_builder(), &self.origin)
    }

    /// An access token for [`SERVICE`] (client credentials) with `scope`.
    pub async fn client_token(&self, scope: &str) -> String {
        let response = self
            .api()
            .post(self.url("/oauth2/token"))
            .basic_auth(SERVICE, Some(SERVICE_SECRET))
            .form(&[("grant_type", "client_credentials"), ("scope", scope)])
            .send()
            .await
            .expect("token request");
        token_from(response).await
    }

    /// An access token of `user` for [`PORTAL`] with `scope`: a fresh browser through the
    /// authorization code flow with PKCE S256, the code exchanged at the token endpoint.
    pub async fn user_token(&self, user: &str, scope: &str) -> String {
        let verifier = new_token();
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        let state = new_token();
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("response_type", "code")
            .append_pair("client_id", PORTAL)
            .append_pair("redirect_uri", PORTAL_REDIRECT)
            .append_pair("scope", scope)
            .append_pair("state", &state)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256")
            .finish();
        let browser = self.browser();
        let journey = browser
            .sign_in_at(&format!("/oauth2/authorize?{query}"), user, USER_PASSWORD)
            .await;
        let location = journey.last.location().expect("a redirect to the client");
        assert!(
            location.starts_with(PORTAL_REDIRECT),
            "the flow ended elsewhere: {:?}",
            journey.last
        );
        let url = reqwest::Url::parse(&location).expect("redirect URL");
        let param = |name: &str| {
            url.query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
        };
        assert_eq!(param("state").as_deref(), Some(state.as_str()), "state");
        let code = param("code").expect("code");
        let response = self
            .api()
            .post(self.url("/oauth2/token"))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", PORTAL_REDIRECT),
                ("client_id", PORTAL),
                ("code_verifier", &verifier),
            ])
            .send()
            .await
            .expect("token request");
        token_from(response).await
    }

    /// Revokes `token` at the RFC 7009 endpoint as [`SERVICE`].
    pub async fn revoke_as_service(&self, token: &str) {
        let response = self
            .api()
            .post(self.url("/oauth2/revoke"))
            .basic_auth(SERVICE, Some(SERVICE_SECRET))
            .form(&[("token", token)])
            .send()
            .await
            .expect("revocation request");
        assert_eq!(response.status(), StatusCode::OK, "revocation answer");
    }

    /// A browser signed in (through the session flow of the route at `path`) as `user`; the
    /// final page is the route's answer.
    pub async fn signed_in(&self, path: &str, user: &str) -> (Browser, Page) {
        let browser = self.browser();
        let journey = browser.sign_in_at(path, user, USER_PASSWORD).await;
        assert!(
            browser
                .cookie(authgate::gateway_paths::SESSION_COOKIE)
                .is_some(),
            "no session cookie after signing in: {:?}",
            journey.last
        );
        (browser, journey.last)
    }
}

impl Drop for ProtectedGateway {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn token_from(response: reqwest::Response) -> String {
    let status = response.status();
    let json: serde_json::Value = response.json().await.expect("token JSON");
    assert_eq!(status, StatusCode::OK, "token endpoint: {json}");
    json["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned()
}

/// What the store was told about an access token issued from a refresh family.
#[derive(Debug, Clone)]
pub struct Issued {
    pub client_id: String,
    pub user: String,
    pub jti: String,
}

/// The memory store, noting every access token issued from a refresh family (the only way a
/// test can name the tokens behind a browser session, which never leave the gateway).
/// Every other method is the memory store's own: a method added to [`Store`] is delegated
/// here in one line.
#[derive(Default)]
pub struct SpyStore {
    inner: MemoryStore,
    issued: Mutex<Vec<Issued>>,
}

impl SpyStore {
    /// Access tokens issued to `client_id` so far.
    pub fn issued_to(&self, client_id: &str) -> Vec<Issued> {
        self.issued
            .lock()
            .expect("spy lock")
            .iter()
            .filter(|i| i.client_id == client_id)
            .cloned()
            .collect()
    }

    fn note(&self, record: &RefreshRecord, access: &IssuedAccess) {
        self.issued.lock().expect("spy lock").push(Issued {
            client_id: record.client_id.clone(),
            user: record.user.clone(),
            jti: access.jti.clone(),
        });
    }
}

#[async_trait]
impl Store for SpyStore {
    async fn put_code(&self, code: TokenHash, grant: CodeGrant) -> StoreResult<()> {
        self.inner.put_code(code, grant).await
    }

    async fn take_code(&self, code: &TokenHash, now: u64) -> StoreResult<CodeTake> {
        self.inner.take_code(code, now).await
    }

    async fn put_refresh(
        &self,
        token: TokenHash,
        record: RefreshRecord,
        access: IssuedAccess,
    ) -> StoreResult<()> {
        self.note(&record, &access);
        self.inner.put_refresh(token, record, access).await
    }

    async fn get_refresh(&self, token: &TokenHash, now: u64) -> StoreResult<Option<RefreshLookup>> {
        self.inner.get_refresh(token, now).await
    }

    async fn rotate_refresh(
        &self,
        old: &TokenHash,
        next: NextRefresh,
        now: u64,
        grace_secs: u64,
    ) -> StoreResult<Rotation> {
        self.note(&next.record, &next.access);
        self.inner.rotate_refresh(old, next, now, grace_secs).await
    }

    async fn revoke_family(&self, family: &str, now: u64) -> StoreResult<()> {
        self.inner.revoke_family(family, now).await
    }

    async fn revoke_access(&self, jti: &str, expires_at: u64) -> StoreResult<()> {
        self.inner.revoke_access(jti, expires_at).await
    }

    async fn is_access_revoked(&self, jti: &str) -> StoreResult<bool> {
        self.inner.is_access_revoked(jti).await
    }

    async fn revoke_subject(&self, subject: Subject, cutoff: u64, now: u64) -> StoreResult<()> {
        self.inner.revoke_subject(subject, cutoff, now).await
    }

    async fn cutoff(&self, subject: &Subject) -> StoreResult<Option<u64>> {
        self.inner.cutoff(subject).await
    }

    async fn claim_once(&self, key: &TokenHash, expires_at: u64, now: u64) -> StoreResult<bool> {
        self.inner.claim_once(key, expires_at, now).await
    }

    async fn put_person(
        &self,
        principal: &str,
        person: authgate::store::PersonRecord,
    ) -> StoreResult<()> {
        self.inner.put_person(principal, person).await
    }

    async fn person(
        &self,
        principal: &str,
        now: u64,
    ) -> StoreResult<Option<authgate::store::PersonRecord>> {
        self.inner.person(principal, now).await
    }

    async fn signing_keys(&self) -> StoreResult<Option<authgate::store::StoredKeys>> {
        self.inner.signing_keys().await
    }

    async fn swap_signing_keys(&self, expected: u64, document: Vec<u8>) -> StoreResult<bool> {
        self.inner.swap_signing_keys(expected, document).await
    }

    async fn record_client_access(
        &self,
        client: &str,
        access: authgate::store::ClientAccess,
        now: u64,
    ) -> StoreResult<()> {
        self.inner.record_client_access(client, access, now).await
    }

    async fn list_client_access(
        &self,
        client: Option<&str>,
        now: u64,
        limit: usize,
    ) -> StoreResult<Vec<authgate::store::ClientTokens>> {
        self.inner.list_client_access(client, now, limit).await
    }

    async fn put_consent(&self, user: &str, client: &str, scopes: &[String]) -> StoreResult<()> {
        self.inner.put_consent(user, client, scopes).await
    }

    async fn consent(&self, user: &str, client: &str) -> StoreResult<Vec<String>> {
        self.inner.consent(user, client).await
    }

    async fn put_session(&self, id: TokenHash, session: SessionRecord) -> StoreResult<()> {
        self.inner.put_session(id, session).await
    }

    async fn touch_session(
        &self,
        id: &TokenHash,
        now: u64,
        idle_secs: u64,
        max_secs: u64,
    ) -> StoreResult<Option<SessionRecord>> {
        self.inner.touch_session(id, now, idle_secs, max_secs).await
    }

    async fn delete_session(&self, id: &TokenHash) -> StoreResult<()> {
        self.inner.delete_session(id).await
    }

    async fn put_client(&self, client: ClientConfig, max: usize) -> StoreResult<bool> {
        self.inner.put_client(client, max).await
    }

    async fn get_client(&self, id: &str) -> StoreResult<Option<ClientConfig>> {
        self.inner.get_client(id).await
    }

    async fn list_grants(
        &self,
        filter: &authgate::store::GrantFilter,
        now: u64,
        limit: usize,
    ) -> StoreResult<Vec<authgate::store::GrantSummary>> {
        self.inner.list_grants(filter, now, limit).await
    }

    async fn stats(&self) -> StoreResult<authgate::store::StoreStats> {
        self.inner.stats().await
    }

    async fn sweep(&self, now: u64, session_idle: u64, session_max: u64) -> StoreResult<()> {
        self.inner.sweep(now, session_idle, session_max).await
    }

    fn set_session_limits(&self, session_idle: u64, session_max: u64) {
        self.inner.set_session_limits(session_idle, session_max)
    }
}

/// A `WWW-Authenticate` challenge: its scheme and its `name="value"` parameters.
#[derive(Debug)]
pub struct Challenge {
    pub scheme: String,
    pub params: std::collections::HashMap<String, String>,
}

impl Challenge {
    /// Parses the `WWW-Authenticate` header of `response` (panics when there is none).
    pub fn of(headers: &reqwest::header::HeaderMap) -> Challenge {
        let value = headers
            .get("www-authenticate")
            .expect("a WWW-Authenticate header")
            .to_str()
            .expect("ASCII challenge");
        Challenge::parse(value)
    }

    /// Parses `Scheme name="value", name="value"` (quoted values without escapes, as the
    /// gateway writes them).
    pub fn parse(value: &str) -> Challenge {
        let (scheme, mut rest) = value.split_once(' ').unwrap_or((value, ""));
        let mut params = std::collections::HashMap::new();
        loop {
            rest = rest.trim_start_matches([' ', ',']);
            let Some((name, after)) = rest.split_once('=') else {
                break;
            };
            let (value, after) = match after.strip_prefix('"') {
                Some(quoted) => {
                    let end = quoted.find('"').expect("closing quote");
                    (&quoted[..end], &quoted[end + 1..])
                }
                None => after.split_once(',').unwrap_or((after, "")),
            };
            let previous = params.insert(name.trim().to_owned(), value.to_owned());
            assert!(previous.is_none(), "repeated parameter {name} in {value}");
            rest = after;
        }
        Challenge {
            scheme: scheme.to_owned(),
            params,
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }
}

#[async_trait]
impl authgate::store::factors::FactorStore for SpyStore {
    async fn factors(
        &self,
        user: &str,
        now: u64,
    ) -> StoreResult<Option<authgate::store::factors::Factors>> {
        self.inner.factors(user, now).await
    }

    async fn put_pending_totp(
        &self,
        user: &str,
        pending: authgate::store::factors::PendingTotp,
    ) -> StoreResult<()> {
        self.inner.put_pending_totp(user, pending).await
    }

    async fn confirm_totp(
        &self,
        user: &str,
        id: &str,
        step: u64,
        recovery: Vec<TokenHash>,
        now: u64,
    ) -> StoreResult<bool> {
        self.inner.confirm_totp(user, id, step, recovery, now).await
    }

    async fn accept_totp(&self, user: &str, id: &str, step: u64) -> StoreResult<bool> {
        self.inner.accept_totp(user, id, step).await
    }

    async fn use_recovery_code(&self, user: &str, code: &TokenHash) -> StoreResult<bool> {
        self.inner.use_recovery_code(user, code).await
    }

    async fn count_factor_attempt(
        &self,
        user: &str,
        now: u64,
        forget_after: u64,
    ) -> StoreResult<authgate::store::factors::FactorFailures> {
        self.inner
            .count_factor_attempt(user, now, forget_after)
            .await
    }

    async fn factor_failures(
        &self,
        user: &str,
        now: u64,
    ) -> StoreResult<authgate::store::factors::FactorFailures> {
        self.inner.factor_failures(user, now).await
    }

    async fn clear_factor_failures(&self, user: &str) -> StoreResult<()> {
        self.inner.clear_factor_failures(user).await
    }

    async fn remove_factors(&self, user: &str) -> StoreResult<bool> {
        self.inner.remove_factors(user).await
    }

    async fn add_passkey(
        &self,
        user: &str,
        passkey: authgate::store::passkeys::PasskeyRecord,
        max: usize,
    ) -> StoreResult<bool> {
        self.inner.add_passkey(user, passkey, max).await
    }

    async fn use_passkey(
        &self,
        user: &str,
        id: &str,
        counter: u32,
        credential: &str,
        now: u64,
    ) -> StoreResult<bool> {
        self.inner
            .use_passkey(user, id, counter, credential, now)
            .await
    }

    async fn remove_passkey(&self, user: &str, id: &str) -> StoreResult<bool> {
        self.inner.remove_passkey(user, id).await
    }

    async fn remove_totp(&self, user: &str) -> StoreResult<bool> {
        self.inner.remove_totp(user).await
    }

    async fn replace_recovery_codes(&self, user: &str, codes: Vec<TokenHash>) -> StoreResult<bool> {
        self.inner.replace_recovery_codes(user, codes).await
    }

    async fn put_ceremony(
        &self,
        id: &TokenHash,
        ceremony: authgate::store::passkeys::Ceremony,
        now: u64,
    ) -> StoreResult<()> {
        self.inner.put_ceremony(id, ceremony, now).await
    }

    async fn peek_ceremony(
        &self,
        id: &TokenHash,
        now: u64,
    ) -> StoreResult<Option<authgate::store::passkeys::Ceremony>> {
        self.inner.peek_ceremony(id, now).await
    }

    async fn take_ceremony(
        &self,
        id: &TokenHash,
        now: u64,
    ) -> StoreResult<Option<authgate::store::passkeys::Ceremony>> {
        self.inner.take_ceremony(id, now).await
    }
}
