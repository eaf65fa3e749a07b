//! The serde shape of `gateway.toml`, exactly as written by the operator.
//!
//! Nothing outside `config::validate` reads these types: they hold raw strings with their
//! source spans so that every later error can name the file, the line and the key. Every
//! struct denies unknown fields, because a misspelt security setting must not be ignored.
//! The defaults named in each field's doc are applied by the validator.

use serde::Deserialize;
use toml::Spanned;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub server: Spanned<ServerSection>,
    #[serde(default)]
    pub log: LogSection,
    #[serde(default)]
    pub tokens: TokensSection,
    #[serde(default)]
    pub session: SessionSection,
    /// `[scopes]`: every scope's description, shown on the consent page.
    #[serde(default)]
    pub scopes: std::collections::BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    pub users: Vec<Spanned<UserSection>>,
    #[serde(default)]
    pub clients: Vec<Spanned<ClientSection>>,
    #[serde(default)]
    pub registration: RegistrationSection,
    #[serde(default)]
    pub routes: Vec<Spanned<RouteSection>>,
    #[serde(default)]
    pub store: StoreSection,
    #[serde(default)]
    pub admin: AdminSection,
    /// `[[providers]]`: upstream identity providers people may sign in through.
    #[serde(default)]
    pub providers: Vec<Spanned<ProviderSection>>,
    /// `[mfa]`: second factors (contract §9).
    #[serde(default)]
    pub mfa: MfaSection,
}

/// `[mfa]`: how TOTP second factors are enrolled and kept. Who needs one is said by
/// `mfa = true` on `[[users]]` and `[[routes]]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MfaSection {
    /// The issuer label authenticator apps show beside the account. Default: `public_url`'s
    /// host.
    pub issuer: Option<Spanned<String>>,
    /// The key TOTP secrets are sealed with at rest, `env:NAME` or `file:PATH` (base64 of at
    /// least 32 random bytes). Default `"file:DATA_DIR/mfa.key"`, generated (0600) on first
    /// start when missing. Gateways sharing one Redis must share this key.
    pub secret_key: Option<Spanned<String>>,
    /// WebAuthn passkeys beside TOTP, as a second factor and for passwordless sign-in. The
    /// relying-party id is `public_url`'s host, which must then be a name, not an IP address.
    /// Default `false`.
    pub passkeys: Option<Spanned<bool>>,
}

/// One `[[providers]]` entry (contract §8): an upstream identity provider. Validated in
/// `config::providers`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderSection {
    /// Letters, digits and `-`: the callback is `/oauth2/callback/ID`, principals `ID:SUB`.
    pub id: Spanned<String>,
    /// `"oidc"` (any issuer with discovery) or `"github"`.
    #[serde(rename = "type")]
    pub kind: Spanned<String>,
    /// The login page's button: "Sign in with NAME". Default: the id.
    pub name: Option<Spanned<String>>,
    /// `type = "oidc"`: the exact issuer (https, or http on loopback only). Required.
    pub issuer: Option<Spanned<String>>,
    pub client_id: Spanned<String>,
    /// `env:NAME` or `file:PATH`, never the secret itself.
    pub client_secret: Spanned<String>,
    /// What is asked of the provider. Default `["openid", "email", "profile"]` (oidc),
    /// `["user:email", "read:org"]` (github).
    pub scopes: Option<Spanned<Vec<Spanned<String>>>>,
    /// Gates: who may sign in. Without any, `allow_all = true` must be written.
    #[serde(default)]
    pub allow_email_domains: Vec<Spanned<String>>,
    #[serde(default)]
    pub allow_emails: Vec<Spanned<String>>,
    /// `type = "oidc"` only.
    #[serde(default)]
    pub allow_groups: Vec<Spanned<String>>,
    /// `type = "github"` only: organisation logins.
    #[serde(default)]
    pub allow_orgs: Vec<Spanned<String>>,
    /// `type = "github"` only: `org/team-slug`.
    #[serde(default)]
    pub allow_teams: Vec<Spanned<String>>,
    /// Admit everyone the provider signs in. Default `false`.
    pub allow_all: Option<Spanned<bool>>,
    /// The scopes every person admitted through this provider may grant.
    #[serde(default)]
    pub grant_scopes: Vec<Spanned<String>>,
    /// `[providers.group_scopes]`: upstream group (GitHub: `org` or `org/team`) → more scopes.
    #[serde(default)]
    pub group_scopes: std::collections::BTreeMap<String, Spanned<Vec<Spanned<String>>>>,
    /// `type = "github"` only: the web origin (GitHub Enterprise Server). Default
    /// `"https://github.com"`.
    pub github_url: Option<Spanned<String>>,
    /// `type = "github"` only: the API base. Default `"https://api.github.com"`, or
    /// `GITHUB_URL/api/v3` when `github_url` is set.
    pub api_url: Option<Spanned<String>>,
}

/// `[store]`: where tokens, codes and sessions live.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSection {
    /// `"memory"` (in memory, persisted as a JSON journal and snapshot under `data_dir`) or
    /// `"redis"` (several gateways share one Redis). Default `"memory"`.
    pub backend: Option<Spanned<String>>,
    /// For `backend = "redis"`: `redis://HOST:PORT[/DB]` (or `rediss://`), or `env:NAME` /
    /// `file:PATH` holding it when it carries a password.
    pub url: Option<Spanned<String>>,
    /// For `backend = "memory"`: fsync the journal before answering. Default `true`.
    pub fsync: Option<Spanned<bool>>,
    /// For `backend = "memory"`: the journal size past which it is compacted into the
    /// snapshot. Default `"64MiB"`.
    pub compact_after: Option<Spanned<String>>,
    /// For `backend = "redis"`: the prefix of every key. Default `"authgate:"`.
    pub key_prefix: Option<Spanned<String>>,
    /// For `backend = "redis"`: while Redis is unreachable, accept bearer tokens that verify,
    /// checked against the revocations last seen, instead of refusing them with 503.
    /// Default `false` (fail closed).
    pub fail_open: Option<Spanned<bool>>,
}

/// `[admin]`: the admin listener (metrics and the live token API).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminSection {
    /// Socket address of the admin listener, or `"off"`. Default `"127.0.0.1:9090"`.
    pub listen: Option<Spanned<String>>,
    /// The bearer credential of the admin API, `env:NAME` or `file:PATH`. Default
    /// `"file:DATA_DIR/admin.token"`, generated (0600) on first start when missing.
    pub token: Option<Spanned<String>>,
}

/// `[registration]`: RFC 7591 dynamic client registration (AI agents speaking MCP register
/// themselves this way). Off unless `enabled = true`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistrationSection {
    /// Default `false`.
    #[serde(default)]
    pub enabled: bool,
    /// The bearer token a registration request must carry, `env:NAME` or `file:PATH`.
    /// Required when enabled.
    pub initial_access_token: Option<Spanned<String>>,
    /// The most a registered client may ask for. Default none.
    #[serde(default)]
    pub scopes: Vec<Spanned<String>>,
    /// Registered clients kept at most. Default `1000`.
    pub max_clients: Option<Spanned<u32>>,
}

/// `[tokens]`: lifetimes and signing keys.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokensSection {
    /// Access token lifetime. Default `"15m"`.
    pub access_ttl: Option<Spanned<String>>,
    /// Refresh token lifetime (of the whole family since the login). Default `"30d"`.
    pub refresh_ttl: Option<Spanned<String>>,
    /// Authorization code lifetime. Default `"60s"`.
    pub code_ttl: Option<Spanned<String>>,
    /// HMAC-SHA256 key, `env:NAME` or `file:PATH`. Default `"file:DATA_DIR/signing.key"`,
    /// generated (0600) on first start when missing.
    pub signing_key: Option<Spanned<String>>,
    /// Keys still accepted for verification during a rotation.
    #[serde(default)]
    pub previous_keys: Vec<Spanned<String>>,
    /// The `aud` of access tokens. Default: `public_url`.
    pub audience: Option<Spanned<String>>,
    /// How long a just-rotated refresh token may be presented again and get the same new
    /// pair (concurrent tabs or replicas). Default `"5s"`; `"0s"` turns it off.
    pub refresh_grace: Option<Spanned<String>>,
    /// What signs access tokens: `"HS256"` (default: the HMAC key, the fastest; resource
    /// servers elsewhere use introspection) or `"ES256"` / `"EdDSA"` (the published keys, so
    /// resource servers can verify them offline from `jwks_uri`).
    pub algorithm: Option<Spanned<String>>,
    /// The RS256 signing key (ID tokens by default), `file:PATH` or `env:NAME` holding a PEM
    /// private key (PKCS#8, or PKCS#1), RSA of at least 2048 bits. Default: generated into
    /// the store on first start, rotated by `authgate keys rotate`. A configured key has no
    /// Next key and is rotated by changing it and reloading.
    pub rs256_key: Option<Spanned<String>>,
    /// The ES256 signing key, as `rs256_key`: a P-256 private key, PKCS#8 PEM.
    pub es256_key: Option<Spanned<String>>,
    /// The EdDSA signing key, as `rs256_key`: an Ed25519 private key, PKCS#8 PEM.
    pub eddsa_key: Option<Spanned<String>>,
}

/// `[session]`: the browser login session.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionSection {
    /// Inactivity after which a session ends. Default `"8h"`.
    pub idle_timeout: Option<Spanned<String>>,
    /// Age after which a session ends however active. Default `"7d"`.
    pub max_lifetime: Option<Spanned<String>>,
}

/// One `[[users]]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserSection {
    pub name: Spanned<String>,
    /// An argon2id PHC string from `authgate hash-password`. Required unless `identities`
    /// names at least one upstream identity: such a user signs in only through a provider.
    pub password: Option<Spanned<String>>,
    /// The most this user may grant.
    #[serde(default)]
    pub scopes: Vec<Spanned<String>>,
    /// The `email` claim (with `email_verified = true`), for the `email` scope. Default none.
    pub email: Option<Spanned<String>>,
    /// The `name` claim, for the `profile` scope. Default none.
    pub display_name: Option<Spanned<String>>,
    /// The `groups` claim (an array of strings), for the `groups` scope. Default none.
    #[serde(default)]
    pub groups: Vec<Spanned<String>>,
    /// Upstream identities that are this user (`"PROVIDER:SUB"`). Default none.
    #[serde(default)]
    pub identities: Vec<Spanned<String>>,
    /// A second factor is required at every sign-in; without one the user enrols right after
    /// the password. Default `false` (a user who enrolled anyway is still asked for it).
    #[serde(default)]
    pub mfa: bool,
}

/// One `[[clients]]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientSection {
    pub id: Spanned<String>,
    /// `"public"` (PKCE, no secret) or `"confidential"` (a secret).
    #[serde(rename = "type")]
    pub kind: Spanned<String>,
    /// `sha256:HEX` of the client secret, written by `authgate client add`.
    pub secret: Option<Spanned<String>>,
    /// A name shown on the consent page. Default: the id.
    pub name: Option<Spanned<String>>,
    #[serde(default)]
    pub redirect_uris: Vec<Spanned<String>>,
    /// Default `["authorization_code", "refresh_token"]` for public clients,
    /// `["client_credentials"]` for confidential ones.
    pub grants: Option<Spanned<Vec<Spanned<String>>>>,
    /// The most this client may ask for; also its default when it asks for none.
    #[serde(default)]
    pub scopes: Vec<Spanned<String>>,
    /// A client of the gateway's operator: users are not asked for consent. Default `false`.
    #[serde(default)]
    pub first_party: bool,
    /// Require PKCE S256 (always true for public clients). Default `true`.
    pub require_pkce: Option<Spanned<bool>>,
    /// The algorithm of this client's ID tokens: `"RS256"` (default), `"ES256"` or
    /// `"EdDSA"` (RFC 7591 name; Apache mod_auth_openidc refuses EdDSA).
    pub id_token_signed_response_alg: Option<Spanned<String>>,
    /// `"scopes"` (default: the claims of the granted scopes in the ID token as well as at
    /// `/userinfo`) or `"minimal"` (the ID token carries the protocol claims only).
    pub id_token_claims: Option<Spanned<String>>,
    /// Where RP-initiated logout may send the browser afterwards (exact match).
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<Spanned<String>>,
    /// Back-Channel Logout 1.0: where the gateway POSTs a logout token when a session ends.
    pub backchannel_logout_uri: Option<Spanned<String>>,
    /// A public client's web origins besides those of its redirect URIs, exact
    /// (`https://host[:port]`, or `http://` on loopback): the token, revocation and UserInfo
    /// endpoints answer CORS for them. Default: none.
    #[serde(default)]
    pub allowed_origins: Vec<Spanned<String>>,
}

/// `[server]`: where and how the gateway listens.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    /// Socket address to accept connections on, e.g. `"127.0.0.1:8443"`. Required.
    pub listen: Spanned<String>,
    /// The gateway's public base URL: the issuer, and the base of every redirect. Required.
    pub public_url: Spanned<String>,
    /// Directory for keys, generated certificates and the token store. Default `"data"`.
    pub data_dir: Option<Spanned<String>>,
    /// Peers (IP addresses or CIDR blocks) whose `X-Forwarded-*` headers are believed.
    /// Default: none, so every client-sent forwarding header is replaced.
    #[serde(default)]
    pub trusted_proxies: Vec<Spanned<String>>,
    /// How long in-flight requests may run after SIGTERM/SIGINT. Default `"30s"`.
    pub shutdown_grace: Option<Spanned<String>>,
    /// `[server.tls]`. Default: `mode = "self-signed"`.
    pub tls: Option<Spanned<TlsSection>>,
    /// `[server.limits]`: bounds on what a client may send.
    #[serde(default)]
    pub limits: LimitsSection,
}

/// `[server.tls]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSection {
    /// `"self-signed"` (default), `"files"` or `"off"`.
    pub mode: Option<Spanned<String>>,
    /// PEM certificate chain, for `mode = "files"`.
    pub cert: Option<Spanned<String>>,
    /// PEM private key, for `mode = "files"`.
    pub key: Option<Spanned<String>>,
}

/// `[server.limits]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsSection {
    /// Largest request header block; larger gets 431. Default `"16KiB"`, at least `"8KiB"`.
    pub header_bytes: Option<Spanned<String>>,
    /// Time a client has to send a request's headers (and the TLS handshake), and so also how
    /// long an idle keep-alive connection is kept. Default `"30s"`.
    pub header_timeout: Option<Spanned<String>>,
    /// Most client connections served at once; further ones wait in the kernel's backlog.
    /// Default `10000`.
    pub max_connections: Option<Spanned<u32>>,
}

/// `[log]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSection {
    /// `"text"` (default) or `"json"`.
    pub format: Option<Spanned<String>>,
    /// A `tracing` filter such as `"info"` or `"authgate=debug"`. Default `"info"`;
    /// the `RUST_LOG` environment variable overrides it.
    pub level: Option<Spanned<String>>,
    /// One line per request. Default `true`.
    pub access: Option<bool>,
    /// The access lines' format: `"logfmt"` or `"json"`. Default: `"json"` when `format` is
    /// `"json"`, else `"logfmt"`.
    pub access_format: Option<Spanned<String>>,
    /// Where access lines go: a file, appended to (created 0640 if missing) and reopened on
    /// SIGUSR1 and on reload. Default: standard output.
    pub access_file: Option<Spanned<String>>,
}

/// One `[[routes]]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteSection {
    /// Path prefix, matched at segment boundaries on the normalised path. Required.
    pub path: Spanned<String>,
    /// Host name this route is for; absent means every host.
    pub host: Option<Spanned<String>>,
    /// `http://…`, `https://…`, `static://STATUS` or `whoami://`. Required.
    pub upstream: Spanned<String>,
    /// `"bearer"`, `"session"` or `"none"`. Required: no route is unprotected by accident.
    pub auth: Spanned<String>,
    /// Scopes a caller must hold, all of them. Default none.
    #[serde(default)]
    pub scopes: Vec<Spanned<String>>,
    /// Remove the route's path prefix before forwarding. Default `false`.
    #[serde(default)]
    pub strip_prefix: bool,
    /// Forward the client's `Host` instead of the upstream's. Default `false`.
    #[serde(default)]
    pub preserve_host: bool,
    /// Largest request body; larger gets 413. Default `"10MiB"`.
    pub body_limit: Option<Spanned<String>>,
    /// Time allowed to open a connection to the upstream (then 502). Default `"5s"`.
    pub connect_timeout: Option<Spanned<String>>,
    /// Time allowed for the upstream's response headers (then 504). Default `"60s"`.
    pub response_timeout: Option<Spanned<String>>,
    /// PEM file of CA certificates trusted for an `https` upstream, instead of the public roots.
    pub upstream_ca: Option<Spanned<String>>,
    /// On a request authenticated by a bearer token, forward its `Authorization` header.
    /// Default `true`.
    pub forward_token: Option<bool>,
    /// Accept path parameters (`;` in a segment, raw or `%3B`) for an upstream that uses
    /// matrix parameters. Default `false`: such paths are refused, because servers like
    /// Tomcat, Jetty and Spring cut `;…` off a segment before they route, so `/api/admin;x/y`
    /// would reach `/api/admin/y` past the rules of a route for `/api/admin`.
    #[serde(default)]
    pub path_parameters: bool,
    /// Send the upstream `X-Auth-Assertion`, a JWT signed with the published keys (ES256,
    /// about a minute long) saying who the caller is, for an upstream that can also be
    /// reached without the gateway. Needs `auth = "bearer"` or `"session"`. Default `false`.
    #[serde(default)]
    pub assertion: bool,
    /// Who may pass besides holding the scopes: `user:NAME`, `provider:ID`,
    /// `group:ID/NAME` (a provider's group) or `group:NAME` (a `[[users]]` group),
    /// `domain:example.com`. Any one admits. Default none (no list).
    #[serde(default)]
    pub allow: Vec<Spanned<String>>,
    /// Callers need a second factor (RFC 8176 `amr` with `mfa`): a session without one goes
    /// through a step-up, a bearer token without one gets 401
    /// `insufficient_user_authentication` (RFC 9470). Needs `auth = "bearer"` or
    /// `"session"`. Default `false`.
    #[serde(default)]
    pub mfa: bool,
    /// `[routes.cors]`: browser apps on other origins may call this route. Default none.
    pub cors: Option<Spanned<CorsSection>>,
}

/// `[routes.cors]` (contract §10). Validated in `config::cors`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorsSection {
    /// Exact origins, `scheme://host[:port]` as a browser sends them (`https`, or `http` on
    /// loopback); no `*`, no path. Required, at least one.
    pub allow_origins: Spanned<Vec<Spanned<String>>>,
    /// Methods a preflight may ask for. Default `["GET", "HEAD", "POST"]`.
    pub allow_methods: Option<Vec<Spanned<String>>>,
    /// Request headers a preflight may ask for. Default `["authorization", "content-type"]`.
    pub allow_headers: Option<Vec<Spanned<String>>>,
    /// Response headers the page may read; `www-authenticate` always is. Default none.
    #[serde(default)]
    pub expose_headers: Vec<Spanned<String>>,
    /// How long a browser may cache a preflight answer, 1s to 24h. Default `"10m"`.
    pub max_age: Option<Spanned<String>>,
    /// Send `Access-Control-Allow-Credentials: true`, so a page's `credentials: "include"`
    /// requests carry the session cookie. Default `false`: bearer tokens need no credentials
    /// mode.
    #[serde(default)]
    pub allow_credentials: bool,
}
