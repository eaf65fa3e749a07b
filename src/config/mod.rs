//! Configuration: `gateway.toml` read, checked, and turned into the runtime [`Config`].
//!
//! Two types on purpose (the kanidm habit): [`file::FileConfig`] is the serde shape of the
//! file, full of raw strings and spans; [`Config`] is what the gateway runs on, with every
//! value parsed, defaulted and cross-checked. Only `validate` turns one into the other, and
//! `check` and `serve` both go through [`Config::load`], so they can never disagree.

mod cors;
pub(crate) mod error;
pub(crate) mod file;
mod identity;
mod jose_keys;
#[cfg(test)]
mod key_list;
mod mfa;
mod oidc;
mod operations;
mod providers;
mod redirect_uri;
mod routes;
mod server;
mod units;
mod validate;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use http::uri::{Authority, Scheme};
use http::StatusCode;
use ipnet::IpNet;

pub use crate::tokens::secret::SecretRef;
/// The origins the token, revocation and UserInfo endpoints answer CORS for.
pub use cors::public_client_origins;
pub use error::ConfigError;
/// The scopes every configuration declares (OpenID Connect's and `groups`).
pub use oidc::BUILTIN_SCOPES;
pub use providers::{
    is_subject, AllowRule, ClientSecret, Gates, ProviderConfig, ProviderKind, MAX_SUBJECT,
};
pub use redirect_uri::{check_backchannel_logout_uri, check_redirect_uri, response_parameter_in};
/// The redirect URI rules, shared by `check` and dynamic registration.
/// Host names as routes and the email gates take them.
pub use routes::is_host_name;

/// The validated configuration the gateway runs on.
#[derive(Debug, Clone)]
pub struct Config {
    pub server: ServerConfig,
    pub log: LogConfig,
    pub tokens: TokensConfig,
    pub session: SessionConfig,
    /// Every declared scope and its description.
    pub scopes: BTreeMap<String, String>,
    pub users: Vec<UserConfig>,
    pub clients: Vec<ClientConfig>,
    pub registration: RegistrationConfig,
    pub routes: Vec<RouteConfig>,
    pub store: StoreConfig,
    pub admin: AdminConfig,
    /// `[[providers]]`: upstream identity providers (contract §8).
    pub providers: Vec<ProviderConfig>,
    /// `[mfa]`.
    pub mfa: MfaConfig,
}

/// `[mfa]`: the TOTP issuer label and the key that seals TOTP secrets at rest.
#[derive(Debug, Clone)]
pub struct MfaConfig {
    pub issuer: String,
    pub secret_key: SecretRef,
    /// `[mfa] passkeys`: WebAuthn passkeys offered (relying-party id: `public_url`'s host).
    pub passkeys: bool,
}

/// `[store]`.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    pub backend: StoreBackend,
}

/// Which store keeps tokens, codes and sessions.
#[derive(Debug, Clone)]
pub enum StoreBackend {
    /// In memory, persisted as a JSON journal and snapshot under `data_dir`.
    Memory {
        /// fsync the journal before a response that depends on a change is sent.
        fsync: bool,
        /// Journal bytes past which it is compacted into the snapshot.
        compact_after: u64,
    },
    /// One Redis shared by several gateways.
    Redis {
        url: RedisUrl,
        key_prefix: String,
        /// Accept verifying bearer tokens against the last known revocations while Redis is
        /// unreachable, instead of refusing them.
        fail_open: bool,
    },
}

/// Where the Redis URL comes from: written in the file (no credentials) or a secret source.
#[derive(Debug, Clone)]
pub enum RedisUrl {
    Literal(String),
    Secret(SecretRef),
}

impl RedisUrl {
    /// The URL's text. Errors never include it (it may hold a password).
    pub fn read(&self) -> Result<String, String> {
        match self {
            RedisUrl::Literal(url) => Ok(url.clone()),
            RedisUrl::Secret(source) => Ok(source.read()?.trim().to_owned()),
        }
    }
}

/// `[admin]`.
#[derive(Debug, Clone)]
pub struct AdminConfig {
    /// `None`: the admin listener is off.
    pub listen: Option<SocketAddr>,
    /// The admin API's bearer credential.
    pub token: SecretRef,
}

/// `[registration]`: RFC 7591 dynamic client registration.
#[derive(Debug, Clone, Default)]
pub struct RegistrationConfig {
    /// `None`: registration is off (the default).
    pub initial_access_token: Option<SecretRef>,
    /// The most a registered client may ask for.
    pub scopes: Vec<String>,
    /// Registered clients kept at most.
    pub max_clients: usize,
}

impl Config {
    /// Reads and validates the file at `path`. Relative paths inside it are taken relative to
    /// the directory that holds it.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|err| ConfigError {
            file: path.display().to_string(),
            line: None,
            key: None,
            message: format!("cannot read the configuration: {err}"),
        })?;
        Config::from_toml_str_at(&text, path)
    }

    /// Validates `text` exactly as [`Config::load`] would if it were the content of `path`:
    /// same file name in errors, same base for relative paths. The CLI's editing commands
    /// check the text they are about to write with this, so they never write what `check`
    /// would reject.
    pub fn from_toml_str_at(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let base = path.parent().unwrap_or(Path::new(""));
        validate::from_source(&path.display().to_string(), text, base)
    }

    /// Validates configuration text; relative paths are taken relative to the current directory.
    pub fn from_toml_str(text: &str) -> Result<Config, ConfigError> {
        validate::from_source("<string>", text, Path::new(""))
    }

    /// Settings that are valid but probably not what the operator wants; `check` prints them
    /// and `serve` logs them at every start.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.users.iter().any(|u| u.name == "demo") {
            out.push(
                "the demo user `demo` is configured, with the password the README gives: remove it before anyone else can reach this gateway".to_owned(),
            );
        }
        let url = &self.server.public_url;
        let loopback_name = matches!(url.host.as_str(), "localhost" | "127.0.0.1" | "::1");
        let sessions = self.routes.iter().any(|r| r.auth == AuthMode::Session);
        if url.scheme == Scheme::HTTP && !loopback_name {
            out.push(format!(
                "server.public_url is {}: browsers only keep the gateway's Secure __Host- cookies over https, so sign-in and session routes will not work; serve https (or put a TLS-terminating proxy in front and write its https:// URL)",
                url.origin
            ));
        }
        if let Some(admin) = self.admin.listen {
            if !admin.ip().is_loopback() {
                out.push(format!(
                    "admin.listen is {admin}, not loopback: /metrics answers anyone who can reach it (the token API still needs the admin token); keep it on a private network"
                ));
            }
        }
        if let StoreBackend::Memory { fsync: false, .. } = self.store.backend {
            out.push(
                "store.fsync = false: a power cut or kernel crash can lose tokens, revocations and sessions that were already answered".to_owned(),
            );
        }
        if sessions && self.users.is_empty() && self.providers.is_empty() {
            out.push(
                "session routes are configured but there are no [[users]] or [[providers]]: nobody can sign in"
                    .to_owned(),
            );
        }
        let second_factors = self.users.iter().any(|u| u.mfa) || self.routes.iter().any(|r| r.mfa);
        let default_key = SecretRef::File(self.server.data_dir.join("mfa.key"));
        if second_factors
            && matches!(self.store.backend, StoreBackend::Redis { .. })
            && self.mfa.secret_key == default_key
        {
            out.push(
                "second factors on a shared Redis with the default [mfa] secret_key (a file generated in each gateway's data_dir): every gateway must have the same key, or TOTP secrets enrolled at one do not open at another; give them one file or env: source".to_owned(),
            );
        }
        providers::warnings(&self.providers, &mut out);
        out
    }

    /// A one-line description, as `authgate check` prints it.
    pub fn summary(&self) -> String {
        let tls = match &self.server.tls {
            TlsMode::Off => "off",
            TlsMode::SelfSigned => "self-signed",
            TlsMode::Files { .. } => "files",
        };
        format!(
            "{} route{}, listening on {} (tls: {tls}), public URL {}",
            self.routes.len(),
            if self.routes.len() == 1 { "" } else { "s" },
            self.server.listen,
            self.server.public_url.origin
        )
    }
}

/// `[tokens]`.
#[derive(Debug, Clone)]
pub struct TokensConfig {
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
    pub code_ttl: Duration,
    pub signing_key: SecretRef,
    pub previous_keys: Vec<SecretRef>,
    /// The `aud` claim of access tokens.
    pub audience: String,
    /// Zero turns the refresh grace window off.
    pub refresh_grace: Duration,
    /// What signs access tokens (`[tokens] algorithm`).
    pub access_alg: AccessAlg,
    /// The asymmetric keys the file names (`rs256_key`, `es256_key`, `eddsa_key`); the
    /// algorithms without one use generated keys.
    pub configured_keys: Vec<crate::tokens::jose::ConfiguredKey>,
}

/// `[tokens] algorithm`: what signs access tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AccessAlg {
    /// The HMAC key ring (the default).
    #[default]
    Hs256,
    /// A published asymmetric key: ES256 or EdDSA.
    Jws(crate::tokens::jose::Alg),
}

/// `[session]`.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    pub idle_timeout: Duration,
    pub max_lifetime: Duration,
}

/// One `[[users]]` entry.
#[derive(Clone)]
pub struct UserConfig {
    pub name: String,
    /// argon2id PHC string; `None` for a user who signs in only through a provider (its
    /// `identities`), whom the password form never admits.
    pub password_hash: Option<String>,
    pub scopes: Vec<String>,
    /// What the OpenID claims say of this user.
    pub claims: UserClaims,
    /// Upstream identities (`PROVIDER:SUB`) that sign in as this user.
    pub identities: Vec<String>,
    /// A second factor is required at every sign-in.
    pub mfa: bool,
}

impl std::fmt::Debug for UserConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserConfig")
            .field("name", &self.name)
            .field("scopes", &self.scopes)
            .field("claims", &self.claims)
            .field("identities", &self.identities)
            .field("mfa", &self.mfa)
            .finish_non_exhaustive()
    }
}

/// A user's `email`, `display_name` and `groups` (contract §7): the claims of the `email`,
/// `profile` and `groups` scopes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserClaims {
    pub email: Option<String>,
    pub display_name: Option<String>,
    /// Each once, in the file's order.
    pub groups: Vec<String>,
}

/// Which claims a client's ID tokens carry (`id_token_claims`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdTokenClaims {
    /// The claims of the granted `profile`, `email` and `groups` scopes, as at `/userinfo`
    /// (relying parties such as Grafana map roles from the ID token).
    #[default]
    Scopes,
    /// Only the protocol claims (`iss`, `sub`, `aud`, times, `nonce`, `at_hash`, `sid`, `azp`).
    Minimal,
}

/// One `[[clients]]` entry, or a client registered through RFC 7591 (kept in the store).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ClientConfig {
    pub id: String,
    pub kind: ClientKind,
    /// SHA-256 of the secret, for confidential clients.
    pub secret_hash: Option<crate::tokens::opaque::TokenHash>,
    /// Shown on the consent page.
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub grants: Vec<GrantType>,
    pub scopes: Vec<String>,
    pub first_party: bool,
    pub require_pkce: bool,
    /// `id_token_signed_response_alg`: what this client's ID tokens are signed with.
    #[serde(default = "default_id_token_alg")]
    pub id_token_alg: crate::tokens::jose::Alg,
    #[serde(default)]
    pub id_token_claims: IdTokenClaims,
    /// Where RP-initiated logout may return the browser (compared as exact strings).
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// Back-Channel Logout 1.0: where a logout token is POSTed when a session ends.
    #[serde(default)]
    pub backchannel_logout_uri: Option<String>,
    /// Web origins of a public client besides its redirect URIs' (CORS of the token,
    /// revocation and UserInfo endpoints).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_origins: Vec<String>,
}

/// RS256: OIDC Core §15.1's mandatory algorithm, the one every relying party accepts.
fn default_id_token_alg() -> crate::tokens::jose::Alg {
    crate::tokens::jose::Alg::Rs256
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientKind {
    /// Cannot keep a secret (browser apps, native apps): PKCE, no client authentication.
    Public,
    /// Authenticates with a secret.
    Confidential,
}

/// The grant types of RFC 6749 that authgate serves (never `password` or `implicit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    AuthorizationCode,
    RefreshToken,
    ClientCredentials,
}

impl GrantType {
    pub const ALL: [GrantType; 3] = [
        GrantType::AuthorizationCode,
        GrantType::RefreshToken,
        GrantType::ClientCredentials,
    ];

    /// The RFC 6749 name.
    pub fn as_str(self) -> &'static str {
        match self {
            GrantType::AuthorizationCode => "authorization_code",
            GrantType::RefreshToken => "refresh_token",
            GrantType::ClientCredentials => "client_credentials",
        }
    }

    pub fn parse(name: &str) -> Option<GrantType> {
        GrantType::ALL.into_iter().find(|g| g.as_str() == name)
    }
}

/// `[server]`.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub public_url: PublicUrl,
    pub data_dir: PathBuf,
    pub trusted_proxies: Vec<IpNet>,
    pub shutdown_grace: Duration,
    pub tls: TlsMode,
    pub limits: Limits,
}

/// The gateway's public origin, the base of every URL it builds (never request headers).
#[derive(Debug, Clone)]
pub struct PublicUrl {
    /// `scheme://host[:port]`, without a trailing slash.
    pub origin: String,
    pub scheme: Scheme,
    /// The host name, lower case, without brackets or port.
    pub host: String,
}

/// `[server.tls] mode`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain HTTP: only behind a TLS-terminating load balancer, and it must be explicit.
    Off,
    /// A certificate generated into `data_dir` on first start and reused after.
    SelfSigned,
    /// Operator-provided PEM files.
    Files { cert: PathBuf, key: PathBuf },
}

/// `[server.limits]`.
#[derive(Debug, Clone)]
pub struct Limits {
    pub header_bytes: usize,
    pub header_timeout: Duration,
    pub max_connections: usize,
}

/// `[log]`.
#[derive(Debug, Clone)]
pub struct LogConfig {
    pub format: LogFormat,
    pub level: String,
    pub access: bool,
    pub access_format: AccessFormat,
    /// `None`: standard output.
    pub access_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// How access lines are written (`[log] access_format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessFormat {
    /// `key=value` pairs, values quoted only when they must be.
    Logfmt,
    /// One JSON object a line.
    Json,
}

/// One `[[routes]]` entry, validated.
#[derive(Debug, Clone)]
pub struct RouteConfig {
    /// Lower-case host name, or `None` for every host.
    pub host: Option<String>,
    /// Normalised path prefix.
    pub path: String,
    pub upstream: Upstream,
    pub auth: AuthMode,
    pub scopes: Vec<String>,
    pub strip_prefix: bool,
    pub preserve_host: bool,
    pub body_limit: u64,
    pub connect_timeout: Duration,
    pub response_timeout: Duration,
    pub upstream_ca: Option<PathBuf>,
    pub forward_token: bool,
    /// Paths with `;` parameters are forwarded (matched by the path without them).
    pub path_parameters: bool,
    /// The upstream receives the signed `X-Auth-Assertion` (`proxy::assertion`).
    pub assertion: bool,
    /// Who may pass besides holding the scopes (any rule admits); empty: no list.
    pub allow: Vec<AllowRule>,
    /// Callers need a second factor.
    pub mfa: bool,
    /// `[routes.cors]`, its header values computed once; `None`: the route answers no CORS.
    pub cors: Option<std::sync::Arc<crate::http::cors::CorsPolicy>>,
}

/// Where a route's requests go.
#[derive(Debug, Clone)]
pub enum Upstream {
    /// A real server over HTTP/1.1, with or without TLS.
    Http(HttpUpstream),
    /// `static://STATUS`: the gateway answers with this status itself.
    Static(StatusCode),
    /// `whoami://`: the gateway shows the request as an upstream would receive it.
    Whoami,
}

/// An `http://` or `https://` upstream.
#[derive(Debug, Clone)]
pub struct HttpUpstream {
    pub scheme: Scheme,
    pub authority: Authority,
    /// Path prefix from the upstream URL, without a trailing slash (`""` for none).
    pub base_path: String,
}

impl std::fmt::Display for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Upstream::Http(up) => write!(f, "{}://{}{}", up.scheme, up.authority, up.base_path),
            Upstream::Static(status) => write!(f, "static://{}", status.as_u16()),
            Upstream::Whoami => f.write_str("whoami://"),
        }
    }
}

/// How a route authenticates its callers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// `Authorization: Bearer` access tokens (APIs).
    Bearer,
    /// The browser session cookie, through the login flow.
    Session,
    /// No authentication: only for explicitly public routes.
    None,
}

#[cfg(test)]
mod tests;
