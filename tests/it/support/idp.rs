//! A real upstream OpenID provider: panva's `oidc-provider` (OpenID Certified), pinned by
//! `tests/idp/package-lock.json` and run as `node tests/idp/idp.mjs SETTINGS.json` on a free
//! 127.0.0.1 port, with the clients, accounts and signing keys a test gives it.
//!
//! [`Idp::start`] writes the settings into a temporary directory, starts the script and waits
//! for its `ready` line; [`Idp::rotate_key`] restarts it on the same port with a new signing
//! key (and so a new `kid`); [`Idp::stop`] and [`Idp::start_again`] take it down and bring it
//! back. The child's standard input is a pipe this process holds: the script exits when it
//! closes, so a provider never outlives the test run, even one killed by a signal. Dropping
//! the handle kills it and waits for it.
//!
//! The browser's part at the provider (the development login and consent forms of
//! `oidc-provider`) is [`Idp::sign_in`]. The gateway's callback URI names its port, known only
//! once the gateway runs, so it is added to the provider's client afterwards
//! ([`Idp::allow_redirect_uri`], still an exact match).
//!
//! Without `node` or without `tests/idp/node_modules` the test fails saying what to install
//! (`tests/run.sh` installs both); nothing is skipped.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::{StatusCode, Url};
use serde_json::{json, Value};

use super::browser::{Browser, Page};
use super::free_port;

/// The client the gateway is at the provider, unless a test registers others.
pub const CLIENT_ID: &str = "authgate";
pub const CLIENT_SECRET: &str = "idp-client-secret-Vb3Kq8Lx2Wn7Rt5Yp0Jm4Hc9Gd6Fs1Za";

/// The password typed at the provider's login form (its development form takes any).
const IDP_PASSWORD: &str = "any password";

/// What to install when the provider cannot run.
const INSTALL: &str = "the federation tests run a real OpenID provider (tests/idp/idp.mjs, \
     panva's oidc-provider) with Node.js: install Debian's `nodejs` and `npm` and run \
     `npm ci --prefix tests/idp` (the README's test command, tests/run.sh, does both)";

/// The provider's settings: `tests/idp/idp.mjs` documents each.
#[derive(Debug, Clone)]
pub struct IdpSettings {
    clients: Vec<(String, String)>,
    accounts: serde_json::Map<String, Value>,
    kid: String,
    send_iss: bool,
    thin_id_token: bool,
}

impl Default for IdpSettings {
    fn default() -> Self {
        IdpSettings::new()
    }
}

impl IdpSettings {
    /// One client ([`CLIENT_ID`], [`CLIENT_SECRET`]), no accounts, one RS256 key `k1`, the
    /// RFC 9207 `iss` in authorization responses, claims in the ID token.
    pub fn new() -> IdpSettings {
        IdpSettings {
            clients: vec![(CLIENT_ID.to_owned(), CLIENT_SECRET.to_owned())],
            accounts: serde_json::Map::new(),
            kid: "k1".to_owned(),
            send_iss: true,
            thin_id_token: false,
        }
    }

    /// A person who can sign in as `sub`, with `claims` (an object: `email`,
    /// `email_verified`, `groups`, `hd`, `name`, ...), returned as given.
    pub fn account(mut self, sub: &str, claims: Value) -> IdpSettings {
        assert!(claims.is_object(), "claims must be a JSON object: {claims}");
        self.accounts.insert(sub.to_owned(), claims);
        self
    }

    /// The signing key's `kid` (a fresh key is generated at every start).
    pub fn kid(mut self, kid: &str) -> IdpSettings {
        self.kid = kid.to_owned();
        self
    }

    /// No `iss` in authorization responses (a provider without RFC 9207).
    pub fn without_iss(mut self) -> IdpSettings {
        self.send_iss = false;
        self
    }

    /// Scope claims only at userinfo, not in the ID token (the library's default; Okta's way).
    pub fn thin_id_token(mut self) -> IdpSettings {
        self.thin_id_token = true;
        self
    }

    fn json(&self, port: u16, redirect_uris: &[(String, String)]) -> Value {
        let clients: Vec<Value> = self
            .clients
            .iter()
            .map(|(id, secret)| {
                let mut uris: Vec<&str> = redirect_uris
                    .iter()
                    .filter(|(client, _)| client == id)
                    .map(|(_, uri)| uri.as_str())
                    .collect();
                if uris.is_empty() {
                    // The library wants one at start; the real ones are added once known.
                    uris.push("http://127.0.0.1:9/not-yet-known");
                }
                json!({"client_id": id, "client_secret": secret, "redirect_uris": uris})
            })
            .collect();
        json!({
            "port": port,
            "clients": clients,
            "accounts": self.accounts,
            "keys": [{"kid": self.kid, "alg": "RS256"}],
            "send_iss": self.send_iss,
            "thin_id_token": self.thin_id_token,
        })
    }
}

/// `tests/idp`, where the script and its packages are.
fn idp_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/idp")
}

/// `$NODE`, else `node` from PATH.
fn node() -> PathBuf {
    std::env::var_os("NODE").map_or_else(|| PathBuf::from("node"), PathBuf::from)
}

/// A running provider. Dropping it stops it.
pub struct Idp {
    port: u16,
    settings: IdpSettings,
    /// `(client_id, redirect_uri)` added since the start, kept across restarts.
    redirect_uris: Vec<(String, String)>,
    child: Option<(Child, ChildStdin)>,
    lines: Arc<Mutex<Vec<String>>>,
    dir: tempfile::TempDir,
    http: reqwest::Client,
}

impl Idp {
    /// Starts the provider with `settings` on a free port (another one should it be taken
    /// meanwhile) and waits until it is ready.
    pub async fn start(settings: IdpSettings) -> Idp {
        let mut idp = Idp {
            port: 0,
            settings,
            redirect_uris: Vec::new(),
            child: None,
            lines: Arc::new(Mutex::new(Vec::new())),
            dir: tempfile::tempdir().expect("temp dir"),
            http: super::http_client(),
        };
        for client in idp.settings.clients.clone() {
            let path = idp.dir.path().join(format!("{}.secret", client.0));
            std::fs::write(&path, &client.1).expect("write the client secret");
        }
        for _ in 0..5 {
            idp.port = free_port();
            if idp.spawn().await {
                return idp;
            }
        }
        panic!(
            "the OpenID provider did not start on five free ports; its output:\n{}",
            idp.log().join("\n")
        );
    }

    /// `http://127.0.0.1:PORT`, exactly as its ID tokens' `iss`.
    pub fn issuer(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `{issuer}{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.issuer())
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `file:PATH` of a file holding the secret of client `id` (for `client_secret`).
    pub fn client_secret_ref(&self, id: &str) -> String {
        let path = self.dir.path().join(format!("{id}.secret"));
        assert!(path.is_file(), "the provider has no client {id}");
        format!("file:{}", path.display())
    }

    /// Every line it printed (both streams) since it was first started.
    pub fn log(&self) -> Vec<String> {
        self.lines.lock().expect("lines lock").clone()
    }

    /// Lets client `client_id` redirect to `uri` (exactly), now and after restarts.
    pub async fn allow_redirect_uri(&mut self, client_id: &str, uri: &str) {
        self.redirect_uris
            .push((client_id.to_owned(), uri.to_owned()));
        self.control(
            "/_test/redirect_uris",
            json!({"client_id": client_id, "redirect_uri": uri}),
        )
        .await;
    }

    /// Replaces the claims of account `sub` (or adds it), now and after restarts.
    pub async fn set_account(&mut self, sub: &str, claims: Value) {
        self.settings = self.settings.clone().account(sub, claims.clone());
        self.control("/_test/accounts", json!({ sub: claims }))
            .await;
    }

    async fn control(&self, path: &str, body: Value) {
        let response = self
            .http
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .unwrap_or_else(|err| panic!("the provider's control request {path}: {err}"));
        assert_eq!(
            response.status(),
            StatusCode::NO_CONTENT,
            "the provider refused {path} {body}"
        );
    }

    /// Restarts it on the same port with a fresh signing key named `kid`: what it signs from
    /// now on names a key its JWKS did not publish before. Its sessions and grants (in memory)
    /// are gone, as at any restart.
    pub async fn rotate_key(&mut self, kid: &str) {
        self.settings.kid = kid.to_owned();
        self.stop();
        self.start_again().await;
    }

    /// Kills it and waits until its port is closed: the provider is down.
    pub fn stop(&mut self) {
        if let Some((mut child, stdin)) = self.child.take() {
            drop(stdin);
            let _ = child.kill();
            let _ = child.wait();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
            assert!(Instant::now() < deadline, "the provider's port stayed open");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts it again on the same port, with its current settings and redirect URIs.
    pub async fn start_again(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.spawn().await {
            // The port was just released; give the kernel (or a straggler) a moment.
            assert!(
                Instant::now() < deadline,
                "the provider could not listen on its port {} again; its output:\n{}",
                self.port,
                self.log().join("\n")
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Starts the script on `self.port`; false when that port was taken (exit 3).
    async fn spawn(&mut self) -> bool {
        let script = idp_dir().join("idp.mjs");
        let packages = idp_dir().join("node_modules/oidc-provider/package.json");
        assert!(
            packages.is_file(),
            "{} is missing: {INSTALL}",
            packages.display()
        );
        let settings = self.dir.path().join("settings.json");
        let text = self.settings.json(self.port, &self.redirect_uris);
        std::fs::write(&settings, text.to_string()).expect("write the provider's settings");
        let mut child = Command::new(node())
            .current_dir(idp_dir())
            .arg(&script)
            .arg(&settings)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|err| panic!("cannot run {} ({err}): {INSTALL}", node().display()));
        let stdin = child.stdin.take().expect("stdin pipe");
        let first = self.lines.lock().expect("lines lock").len();
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let lines = self.lines.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines() {
                    let Ok(line) = line else { break };
                    lines.lock().expect("lines lock").push(line);
                }
            });
        }
        let ready = format!("IdP {} ready", self.issuer());
        // Generating an RSA key takes a while on a busy machine.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let seen = self.lines.lock().expect("lines lock")[first..].to_vec();
            if seen.iter().any(|l| l.contains(&ready)) {
                self.child = Some((child, stdin));
                return true;
            }
            if let Ok(Some(status)) = child.try_wait() {
                tokio::time::sleep(Duration::from_millis(100)).await;
                if status.code() == Some(3) {
                    return false;
                }
                panic!(
                    "the OpenID provider exited ({status}) before it was ready; its output:\n{}",
                    self.log()[first..].join("\n")
                );
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "the OpenID provider was not ready within 60s; its output:\n{}",
                    self.log()[first..].join("\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Its discovery document, as served.
    pub async fn discovery(&self) -> Value {
        self.get_json("/.well-known/openid-configuration").await
    }

    /// Its JWKS, as served.
    pub async fn jwks(&self) -> Value {
        let uri = self.discovery().await["jwks_uri"]
            .as_str()
            .expect("jwks_uri")
            .to_owned();
        let response = self.http.get(&uri).send().await.expect("JWKS request");
        response.json().await.expect("JWKS JSON")
    }

    async fn get_json(&self, path: &str) -> Value {
        let response = self
            .http
            .get(self.url(path))
            .send()
            .await
            .unwrap_or_else(|err| panic!("GET {path} at the provider: {err}"));
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        response.json().await.expect("JSON")
    }

    /// The browser's part at the provider: from `authorize_url` (where the gateway sent the
    /// browser), follows the provider's redirects and fills its forms as account `sub` (login,
    /// then consent when asked) until the provider sends the browser away. Returns that
    /// `Location` (the gateway's callback, with `code`, `state`, `iss`), not followed.
    pub async fn sign_in(&self, browser: &Browser, authorize_url: &str, sub: &str) -> String {
        assert!(
            self.settings.accounts.contains_key(sub),
            "the provider has no account {sub}: add it to its IdpSettings"
        );
        let origin = self.issuer();
        let mut page = browser.get(authorize_url).await;
        let mut steps = Vec::new();
        for _ in 0..12 {
            steps.push(format!("{} {}", page.status.as_u16(), page.url));
            if page.status.is_redirection() {
                let location = resolve(&page.url, &page.location().expect("Location"));
                if !location.starts_with(&format!("{origin}/")) {
                    return location;
                }
                page = browser.get(&location).await;
                continue;
            }
            let form = idp_form(&page)
                .unwrap_or_else(|| panic!("no form at the provider: {page:?}\nsteps: {steps:#?}"));
            let fields: Vec<(&str, &str)> = match form.prompt.as_str() {
                "login" => vec![
                    ("prompt", "login"),
                    ("login", sub),
                    ("password", IDP_PASSWORD),
                ],
                "consent" => vec![("prompt", "consent")],
                other => panic!("an unknown prompt {other:?} at the provider: {page:?}"),
            };
            let action = resolve(&page.url, &form.action);
            page = browser
                .post_with(&action, &fields, &[("origin", &origin)])
                .await;
        }
        panic!("the provider never sent the browser back: {steps:#?}");
    }
}

impl Drop for Idp {
    fn drop(&mut self) {
        if let Some((mut child, stdin)) = self.child.take() {
            drop(stdin);
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A form of the provider's development interactions.
struct IdpForm {
    action: String,
    prompt: String,
}

fn idp_form(page: &Page) -> Option<IdpForm> {
    let body = &page.body;
    let start = body.find("<form")?;
    let form = body.get(start..)?;
    let action = attribute(form, "action")?;
    let marker = r#"name="prompt" value=""#;
    let at = form.find(marker)? + marker.len();
    let rest = form.get(at..)?;
    let prompt = rest.get(..rest.find('"')?)?.to_owned();
    Some(IdpForm {
        action: super::html::unescape(&action),
        prompt,
    })
}

/// The value of the first `name="..."` attribute in `tag_text`.
fn attribute(tag_text: &str, name: &str) -> Option<String> {
    let marker = format!(r#"{name}=""#);
    let at = tag_text.find(&marker)? + marker.len();
    let rest = tag_text.get(at..)?;
    Some(rest.get(..rest.find('"')?)?.to_owned())
}

/// `location` resolved against the URL of the page that sent it.
pub fn resolve(base: &str, location: &str) -> String {
    Url::parse(base)
        .and_then(|b| b.join(location))
        .map(|u| u.to_string())
        .unwrap_or_else(|_| location.to_owned())
}
