//! An [`AuthServer`] for unit tests of the plain-type cores (authn, grants, clients,
//! revocation, registration): built from a `Config::from_toml_str` literal, over a
//! `MemoryStore` and a `ManualClock`, with no listener and no login. Codes are issued the way
//! the authorization endpoint issues them (`check_authorize`, then `issue_code`), so a test
//! starts where the token endpoint starts.
//!
//! Test code only (`#[cfg(test)]` in `oauth/mod.rs`).

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

use super::clients::ClientCredentials;
use super::error::OAuthError;
use super::grants::TokenRequest;
use super::login::PasswordChecker;
use super::{AuthServer, Lasting, TokenResponse};
use crate::clock::ManualClock;
use crate::config::Config;
use crate::store::memory::MemoryStore;
use crate::tokens::keyring::{KeyRing, SigningKey};
use crate::tokens::opaque::TokenHash;

/// The manual clock's start.
pub(crate) const START: u64 = 1_800_000_000;
pub(crate) const ISSUER: &str = "https://gw.example";
/// `[tokens]` lifetimes, in seconds, as the literal below sets them.
pub(crate) const ACCESS_TTL: u64 = 600;
pub(crate) const CODE_TTL: u64 = 60;
pub(crate) const REFRESH_GRACE: u64 = 5;
/// `[session]` limits, in seconds.
pub(crate) const SESSION_IDLE: u64 = 3600;
pub(crate) const SESSION_MAX: u64 = 8 * 3600;

/// A user with `api:read` and `api:write`, and one with `api:read` only.
pub(crate) const ALICE: &str = "alice";
pub(crate) const BOB: &str = "bob";
/// A public client with one redirect URI, and another public client.
pub(crate) const SPA: &str = "spa";
pub(crate) const SPA_REDIRECT: &str = "https://app.example/callback";
pub(crate) const OTHER_SPA: &str = "other-spa";
pub(crate) const OTHER_SPA_REDIRECT: &str = "https://other.example/callback";
/// A public client with two redirect URIs (so `redirect_uri` may not be omitted), one of
/// them a loopback URI whose port may vary (RFC 8252 §7.3).
pub(crate) const NATIVE: &str = "native";
pub(crate) const NATIVE_REDIRECT: &str = "http://127.0.0.1:5173/callback";
pub(crate) const NATIVE_OTHER_REDIRECT: &str = "com.example.native:/callback";
/// A public client with a single loopback redirect URI (its port may vary).
pub(crate) const CLI: &str = "cli";
pub(crate) const CLI_REDIRECT: &str = "http://127.0.0.1/callback";
/// A confidential client with the code and refresh grants.
pub(crate) const WEB: &str = "web";
pub(crate) const WEB_SECRET: &str = "web-secret-0123456789abcdef0123456789";
pub(crate) const WEB_REDIRECT: &str = "https://web.example/callback";
/// A confidential OpenID relying party (the code and refresh grants), with every built-in
/// scope and `api:read`; RS256 ID tokens with the scopes' claims.
pub(crate) const RP: &str = "rp";
pub(crate) const RP_SECRET: &str = "rp-secret-0123456789abcdef0123456789ab";
pub(crate) const RP_REDIRECT: &str = "https://rp.example/callback";
/// A public relying party whose ID tokens are ES256 and minimal.
pub(crate) const RP_ES: &str = "rp-es";
pub(crate) const RP_ES_REDIRECT: &str = "https://rp-es.example/callback";
/// `alice`'s claims.
pub(crate) const ALICE_EMAIL: &str = "alice@example.com";
pub(crate) const ALICE_DISPLAY_NAME: &str = "Alice Liddell";
/// A confidential machine client (`client_credentials` only), `api:read` and `api:write`.
pub(crate) const MACHINE: &str = "machine";
pub(crate) const MACHINE_SECRET: &str = "machine-secret-0123456789abcdef01234567";
/// Another machine client, `api:read` only.
pub(crate) const OTHER_MACHINE: &str = "other-machine";
pub(crate) const OTHER_MACHINE_SECRET: &str = "other-machine-secret-0123456789abcdef";
/// An upstream OpenID provider (`grant_scopes` `api:read` and the built-in scopes;
/// `admins` adds `api:write`); its people are `corp:SUB`.
pub(crate) const CORP: &str = "corp";
/// The `sid` of the login session [`TestServer::code_with`] issues codes in.
pub(crate) const SID: &str = "test-session-sid";
/// The registration endpoint's initial access token.
pub(crate) const REGISTRATION_TOKEN: &str = "registration-token-0123456789abcdef0123";

/// A verifier (43 to 128 characters) and one that is of the right shape but does not
/// answer its challenge.
pub(crate) const VERIFIER: &str = "verifier-0123456789abcdefghijklmnopqrstuvwxyz";
pub(crate) const WRONG_VERIFIER: &str = "wrong-verifier-0123456789abcdefghijklmnopqrstu";

/// The `password` of the test users: an argon2id PHC string. Nothing here signs in, so only
/// its form matters (the validator refuses anything but argon2id).
const PASSWORD_HASH: &str =
    "$argon2id$v=19$m=8,t=1,p=1$c29tZXNhbHRzYWx0$YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXowMTIzNDU";

/// The S256 `code_challenge` of `verifier`.
pub(crate) fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// `sha256:HEX` of a client secret, as `authgate client add` writes it.
fn secret_hash(secret: &str) -> String {
    format!("sha256:{}", TokenHash::of(secret).to_hex())
}

/// Credentials of a public client (an id, no secret).
pub(crate) fn public(id: &str) -> ClientCredentials {
    ClientCredentials {
        id: Some(id.to_owned()),
        secret: None,
    }
}

/// Credentials of a confidential client.
pub(crate) fn confidential(id: &str, secret: &str) -> ClientCredentials {
    ClientCredentials {
        id: Some(id.to_owned()),
        secret: Some(secret.to_owned()),
    }
}

fn config_text(registration_file: &std::path::Path, data_dir: &std::path::Path) -> String {
    format!(
        r#"[server]
listen = "127.0.0.1:0"
public_url = "{ISSUER}"
data_dir = "{data_dir}"
[server.tls]
mode = "off"
[admin]
listen = "off"
[tokens]
access_ttl = "{ACCESS_TTL}s"
refresh_ttl = "1d"
code_ttl = "{CODE_TTL}s"
refresh_grace = "{REFRESH_GRACE}s"
[session]
idle_timeout = "{SESSION_IDLE}s"
max_lifetime = "{SESSION_MAX}s"
[scopes]
"api:read" = "Read"
"api:write" = "Write"
admin = "Administer"
[registration]
enabled = true
initial_access_token = "file:{registration}"
scopes = ["api:read"]
max_clients = 3

[[users]]
name = "{ALICE}"
password = "{PASSWORD_HASH}"
scopes = ["api:read", "api:write", "openid", "profile", "email", "groups", "offline_access"]
email = "{ALICE_EMAIL}"
display_name = "{ALICE_DISPLAY_NAME}"
groups = ["admins", "dev"]
[[users]]
name = "{BOB}"
password = "{PASSWORD_HASH}"
scopes = ["api:read"]

[[clients]]
id = "{SPA}"
type = "public"
redirect_uris = ["{SPA_REDIRECT}"]
scopes = ["api:read", "api:write", "admin"]
[[clients]]
id = "{OTHER_SPA}"
type = "public"
redirect_uris = ["{OTHER_SPA_REDIRECT}"]
scopes = ["api:read", "api:write"]
[[clients]]
id = "{NATIVE}"
type = "public"
redirect_uris = ["{NATIVE_REDIRECT}", "{NATIVE_OTHER_REDIRECT}"]
scopes = ["api:read"]
[[clients]]
id = "{CLI}"
type = "public"
redirect_uris = ["{CLI_REDIRECT}"]
scopes = ["api:read"]
[[clients]]
id = "{WEB}"
type = "confidential"
secret = "{web_secret}"
grants = ["authorization_code", "refresh_token"]
redirect_uris = ["{WEB_REDIRECT}"]
scopes = ["api:read", "api:write"]
[[clients]]
id = "{RP}"
type = "confidential"
secret = "{rp_secret}"
grants = ["authorization_code", "refresh_token"]
redirect_uris = ["{RP_REDIRECT}"]
scopes = ["openid", "profile", "email", "groups", "offline_access", "api:read"]
post_logout_redirect_uris = ["https://rp.example/logged-out"]
[[clients]]
id = "{RP_ES}"
type = "public"
redirect_uris = ["{RP_ES_REDIRECT}"]
scopes = ["openid", "profile", "email", "offline_access"]
id_token_signed_response_alg = "ES256"
id_token_claims = "minimal"
[[clients]]
id = "{MACHINE}"
type = "confidential"
secret = "{machine_secret}"
scopes = ["api:read", "api:write"]
[[clients]]
id = "{OTHER_MACHINE}"
type = "confidential"
secret = "{other_machine_secret}"
scopes = ["api:read"]

[[providers]]
id = "{CORP}"
type = "oidc"
issuer = "https://idp.example"
client_id = "authgate"
client_secret = "file:{registration}"
allow_email_domains = ["example.com"]
grant_scopes = ["api:read", "openid", "profile", "email", "groups", "offline_access"]
[providers.group_scopes]
admins = ["api:write"]
"#,
        data_dir = data_dir.display(),
        registration = registration_file.display(),
        web_secret = secret_hash(WEB_SECRET),
        rp_secret = secret_hash(RP_SECRET),
        machine_secret = secret_hash(MACHINE_SECRET),
        other_machine_secret = secret_hash(OTHER_MACHINE_SECRET),
    )
}

/// An authorization server over a memory store and a manual clock.
pub(crate) struct TestServer {
    pub(crate) auth: AuthServer,
    pub(crate) clock: Arc<ManualClock>,
    /// How the login session of [`TestServer::login`] signed in (none: a session stored
    /// before second factors).
    pub(crate) sign_in: std::sync::Mutex<Option<crate::store::sign_in::SignIn>>,
    /// Holds the registration token's file and the data directory.
    _dir: tempfile::TempDir,
}

impl TestServer {
    pub(crate) fn new() -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let registration = dir.path().join("registration-token");
        std::fs::write(&registration, REGISTRATION_TOKEN).unwrap();
        let config = Config::from_toml_str(&config_text(&registration, dir.path())).unwrap();
        let clock = Arc::new(ManualClock::new(START));
        let lasting = Lasting {
            store: Arc::new(MemoryStore::new()),
            clock: clock.clone(),
            metrics: Arc::new(crate::metrics::Metrics::new().unwrap()),
            login: Arc::new(PasswordChecker::new()),
            signing: Arc::new(crate::tokens::jose::Keys::new(test_key_set().clone())),
            factor_key: Arc::new(crate::mfa::seal::FactorKey::from_bytes(&[5; 32])),
        };
        let keys = KeyRing::new(SigningKey::new(&[7u8; 32]).unwrap(), Vec::new());
        TestServer {
            auth: AuthServer::new(&config, keys, &lasting),
            clock,
            sign_in: std::sync::Mutex::new(None),
            _dir: dir,
        }
    }

    pub(crate) fn advance(&self, secs: u64) {
        self.clock.advance(secs);
    }

    /// The login session codes are issued in: signed in at [`START`], sid [`SID`].
    pub(crate) fn login(&self) -> super::authorize::SessionLogin {
        super::authorize::SessionLogin {
            auth_time: START,
            sid: SID.to_owned(),
            sign_in: self.sign_in.lock().unwrap().clone(),
        }
    }

    /// A code for `user` from an authorization request with `query` (without
    /// `response_type`), granted what the user may grant of it, issued as the
    /// authorization endpoint issues it.
    pub(crate) async fn code_with(&self, query: &str, user: &str) -> String {
        let request = self
            .auth
            .check_authorize(&format!("response_type=code&{query}"))
            .await
            .unwrap();
        let granted = self.auth.granted_scopes(&request, user).await.unwrap();
        let redirect = self
            .auth
            .issue_code(&request, user, &granted, &self.login())
            .await
            .unwrap();
        let (_, query) = redirect.split_once('?').unwrap();
        let code = form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v.into_owned());
        code.unwrap()
    }

    /// A code for `alice` at `client` (its single redirect URI implied), with a challenge
    /// for [`VERIFIER`] and `scope`.
    pub(crate) async fn code(&self, client: &str, scope: &str) -> String {
        self.code_plus(client, scope, "").await
    }

    /// [`TestServer::code`], with `extra` parameters appended to the query (`&nonce=n`).
    pub(crate) async fn code_plus(&self, client: &str, scope: &str, extra: &str) -> String {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("client_id", client)
            .append_pair("scope", scope)
            .append_pair("code_challenge", &challenge(VERIFIER))
            .append_pair("code_challenge_method", "S256")
            .finish();
        self.code_with(&format!("{query}{extra}"), ALICE).await
    }

    /// Redeems `code` at the token endpoint.
    pub(crate) async fn redeem(
        &self,
        client: ClientCredentials,
        code: &str,
        redirect_uri: Option<&str>,
        verifier: Option<&str>,
    ) -> Result<TokenResponse, OAuthError> {
        self.auth
            .token(TokenRequest {
                grant_type: Some("authorization_code".to_owned()),
                code: Some(code.to_owned()),
                redirect_uri: redirect_uri.map(str::to_owned),
                code_verifier: verifier.map(str::to_owned),
                client,
                ..TokenRequest::default()
            })
            .await
    }

    /// Tokens for `alice` at the public client `client` with `scope`, through a code.
    pub(crate) async fn tokens(&self, client: &str, scope: &str) -> TokenResponse {
        let code = self.code(client, scope).await;
        self.redeem(public(client), &code, None, Some(VERIFIER))
            .await
            .unwrap()
    }

    pub(crate) async fn refresh(
        &self,
        client: ClientCredentials,
        refresh_token: &str,
        scope: Option<&str>,
    ) -> Result<TokenResponse, OAuthError> {
        self.auth
            .token(TokenRequest {
                grant_type: Some("refresh_token".to_owned()),
                refresh_token: Some(refresh_token.to_owned()),
                scope: scope.map(str::to_owned),
                client,
                ..TokenRequest::default()
            })
            .await
    }

    pub(crate) async fn client_credentials(
        &self,
        client: ClientCredentials,
        scope: Option<&str>,
    ) -> Result<TokenResponse, OAuthError> {
        self.auth
            .token(TokenRequest {
                grant_type: Some("client_credentials".to_owned()),
                scope: scope.map(str::to_owned),
                client,
                ..TokenRequest::default()
            })
            .await
    }

    /// Whether an access token passes the per-request check now.
    pub(crate) async fn is_active(&self, access_token: &str) -> bool {
        self.auth.verify_access(access_token).await.is_ok()
    }
}

/// One generated key set (every algorithm) for every test server of the process: RSA key
/// generation takes a while.
pub(crate) fn test_key_set() -> &'static crate::tokens::jose::KeySet {
    static SET: std::sync::OnceLock<crate::tokens::jose::KeySet> = std::sync::OnceLock::new();
    SET.get_or_init(|| {
        crate::tokens::jose::KeySet::generate(&crate::tokens::jose::Alg::ALL, 1_700_000_000)
            .unwrap()
    })
}
