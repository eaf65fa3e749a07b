//! The authorization server's core: plain types in, plain types out, no HTTP (the oxide-auth
//! habit). Its HTTP adapter is `endpoints::oauth`; the pages it shows are `http::pages`.
//!
//! - [`authorize`]: validating an authorization request and issuing its code;
//! - [`grants`]: the token endpoint's three grants;
//! - [`revocation`]: RFC 7009 revocation and RFC 7662 introspection;
//! - [`registration`]: RFC 7591 dynamic client registration;
//! - [`login`]: password checks off the async threads ([`hash_pool`], [`hash_slices`]),
//!   throttled ([`throttle`]), passwordless starts too ([`passkey_starts`]);
//! - [`consent`], [`csrf`]: the consent ticket and the purpose-bound MACs of forms and the
//!   flow cookie;
//! - [`logout`]: RP-Initiated Logout's decisions (confirm, log out, where to go after);
//!   [`backchannel`]: Back-Channel Logout's logout tokens;
//! - [`metadata`]: the RFC 8414 document;
//! - [`oidc`]: the OpenID Connect provider (ID tokens, UserInfo, discovery, `prompt`);
//! - [`signing`]: the asymmetric signing keys' retention, seal and refresh;
//! - `persons`: who a principal is, a `[[users]]` entry or a federated person;
//! - [`clients`], [`pkce`], [`seal`], [`error`]: the parts they share.

pub mod authorize;
pub mod backchannel;
pub mod clients;
pub mod consent;
pub mod csrf;
pub mod error;
pub mod grants;
pub mod hash_pool;
#[cfg(target_os = "linux")]
pub mod hash_slices;
pub mod login;
pub mod logout;
pub mod metadata;
pub mod oidc;
pub mod passkey_starts;
mod persons;
pub mod pkce;
pub mod registration;
pub mod revocation;
pub mod seal;
pub mod signing;
#[cfg(test)]
pub(crate) mod test_server;
pub mod throttle;

use std::collections::HashMap;
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::clock::Clock;
use crate::config::{ClientConfig, ClientKind, Config, GrantType, UserConfig};
use crate::gateway_paths::{CALLBACK_PATH, GATEWAY_CLIENT_ID};
use crate::store::{AllowFacts, IssuedAccess, Store};
use crate::tokens::jwt::{self, AccessClaims, Expected, TokenInvalid};
use crate::tokens::keyring::KeyRing;
use crate::tokens::verified::{TokenCache, VerifiedTokens};
use clients::Clients;
use error::OAuthError;

/// A successful token endpoint answer (RFC 6749 §5.1).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    pub scope: String,
    /// OIDC Core §3.1.3.3: with `openid` granted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// Why a presented access token is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessRefused {
    Invalid(TokenInvalid),
    Revoked,
    StoreUnavailable,
}

/// Settings the core needs, from `[tokens]` and `[server]`.
#[derive(Debug, Clone)]
pub struct Settings {
    pub issuer: String,
    pub audience: String,
    pub access_ttl: u64,
    pub refresh_ttl: u64,
    pub code_ttl: u64,
    pub refresh_grace: u64,
    pub session_idle: u64,
    pub session_max: u64,
    /// What signs access tokens (`[tokens] algorithm`).
    pub access_alg: crate::config::AccessAlg,
}

/// The authorization server.
pub struct AuthServer {
    pub settings: Settings,
    pub keys: KeyRing,
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub clients: Clients,
    pub users: HashMap<String, UserConfig>,
    /// What a route's `allow` list reads of each `[[users]]` entry (its groups, its email's
    /// domain), computed once per configuration rather than per request.
    pub local_facts: HashMap<String, Arc<AllowFacts>>,
    /// `[[providers]]`: whose remembered people are still admitted, and what they may grant.
    pub providers: Vec<crate::config::ProviderConfig>,
    /// Declared scopes and their descriptions.
    pub scopes: std::collections::BTreeMap<String, String>,
    pub login: Arc<login::PasswordChecker>,
    /// Key for CSRF tokens: derived from the signing key, never used to sign tokens.
    pub csrf: csrf::FormKey,
    pub registration: crate::config::RegistrationConfig,
    /// SHA-256 of the registration endpoint's initial access token, when registration is on.
    pub registration_token: Option<crate::tokens::opaque::TokenHash>,
    /// Tokens issued and refused, failed logins.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Access tokens that verified under this configuration's keys and issuer.
    pub verified: VerifiedTokens,
    /// The `allow`-list facts of a verified access token's federated person, read from its
    /// record at the token's first use on a route with a group or domain rule and kept for
    /// the token's life (`authn::decide`), so that later requests do not read the store.
    pub token_facts: TokenCache<Option<Arc<AllowFacts>>>,
    /// The asymmetric signing keys (ID tokens, JWKS, and access tokens under `[tokens]
    /// algorithm`), shared with [`Lasting`].
    pub signing: Arc<crate::tokens::jose::Keys>,
    /// The keys `[tokens] rs256_key`/`es256_key`/`eddsa_key` name, read by the server when it
    /// builds this configuration (none by default): Current for their algorithms, whose
    /// rotation is refused.
    pub configured_keys: Vec<Arc<crate::tokens::jose::KeyPair>>,
    /// Second factors (`[mfa]`, `mfa = true` on users and routes).
    pub factors: crate::mfa::SecondFactors,
    /// WebAuthn passkeys, when `[mfa] passkeys = true`.
    pub passkeys: Option<Arc<crate::mfa::passkey::Passkeys>>,
}

/// What outlives one configuration, kept when a reload builds a new [`AuthServer`]: the
/// token store, the clock, the metrics, and the login checker (its hash threads and its
/// failed-attempt throttles).
#[derive(Clone)]
pub struct Lasting {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<crate::metrics::Metrics>,
    pub login: Arc<login::PasswordChecker>,
    /// The asymmetric signing keys: loaded from the store at start, refreshed from it and
    /// rotated through the admin listener.
    pub signing: Arc<crate::tokens::jose::Keys>,
    /// The key TOTP secrets are sealed with (`[mfa] secret_key`, read at start).
    pub factor_key: Arc<crate::mfa::seal::FactorKey>,
}

impl AuthServer {
    pub fn new(config: &Config, keys: KeyRing, lasting: &Lasting) -> AuthServer {
        let Lasting {
            store,
            clock,
            metrics,
            login,
            signing,
            factor_key,
        } = lasting.clone();
        let t = &config.tokens;
        let settings = Settings {
            issuer: config.server.public_url.origin.clone(),
            audience: t.audience.clone(),
            access_ttl: t.access_ttl.as_secs(),
            refresh_ttl: t.refresh_ttl.as_secs(),
            code_ttl: t.code_ttl.as_secs(),
            refresh_grace: t.refresh_grace.as_secs(),
            session_idle: config.session.idle_timeout.as_secs(),
            session_max: config.session.max_lifetime.as_secs(),
            access_alg: t.access_alg,
        };
        let csrf = csrf::FormKey::derive(keys.current());
        AuthServer {
            settings,
            keys,
            store,
            clock,
            clients: Clients::new(&with_gateway_client(config)),
            users: config
                .users
                .iter()
                .map(|u| (u.name.clone(), u.clone()))
                .collect(),
            local_facts: config
                .users
                .iter()
                .map(|u| {
                    let facts = crate::federation::person::Person::local(u).allow_facts();
                    (u.name.clone(), Arc::new(facts))
                })
                .collect(),
            providers: config.providers.clone(),
            scopes: config.scopes.clone(),
            login,
            csrf,
            registration_token: config
                .registration
                .initial_access_token
                .as_ref()
                .and_then(|source| source.read().ok())
                .map(|token| crate::tokens::opaque::TokenHash::of(token.trim())),
            registration: config.registration.clone(),
            metrics,
            verified: VerifiedTokens::new(),
            token_facts: TokenCache::new(),
            signing,
            configured_keys: Vec::new(),
            factors: crate::mfa::SecondFactors::new((*factor_key).clone(), &config.mfa.issuer),
            passkeys: config
                .mfa
                .passkeys
                .then(|| {
                    let url = &config.server.public_url;
                    let decoys = factor_key.derive("passkey decoys");
                    let issuer = &config.mfa.issuer;
                    crate::mfa::passkey::Passkeys::new(&url.host, &url.origin, issuer, &decoys)
                })
                .flatten()
                .map(Arc::new),
        }
    }

    pub fn now(&self) -> u64 {
        self.clock.now()
    }

    /// A client: from the configuration, else (when registration is on) from the store.
    pub async fn client(&self, id: &str) -> Result<Option<ClientConfig>, OAuthError> {
        if let Some(client) = self.clients.configured(id) {
            return Ok(Some(client.clone()));
        }
        if self.registration.initial_access_token.is_none() {
            return Ok(None);
        }
        Ok(self.store.get_client(id).await?)
    }

    /// Authenticates the calling client (RFC 6749 §2.3).
    pub async fn authenticate_client(
        &self,
        creds: &clients::ClientCredentials,
    ) -> Result<ClientConfig, OAuthError> {
        let client = match creds.id.as_deref() {
            Some(id) => self.client(id).await?,
            None => None,
        };
        self.clients.verify(client.as_ref(), creds, self.now())?;
        client.ok_or(OAuthError::invalid_client("client authentication failed"))
    }

    /// The live session with id `id` (a cookie's value), its idle limit slid forward; `None`
    /// past the `[session]` limits.
    pub async fn touch_session(
        &self,
        id: &str,
    ) -> Result<Option<crate::store::SessionRecord>, crate::store::StoreError> {
        self.touch_session_hash(&crate::tokens::opaque::TokenHash::of(id))
            .await
    }

    /// [`AuthServer::touch_session`] of the session whose cookie hashes to `hash`.
    pub async fn touch_session_hash(
        &self,
        hash: &crate::tokens::opaque::TokenHash,
    ) -> Result<Option<crate::store::SessionRecord>, crate::store::StoreError> {
        let s = &self.settings;
        self.store
            .touch_session(hash, self.now(), s.session_idle, s.session_max)
            .await
    }

    /// [`AuthServer::touch_session_hash`], with what `read` makes of the live session's
    /// record instead of the record: a backend that holds its sessions in memory lends the
    /// record to `read` at once (no boxed future, no copy of its strings; the session gate
    /// asks this on every request), any other is asked as before.
    pub async fn read_session_hash<T>(
        &self,
        hash: &crate::tokens::opaque::TokenHash,
        read: impl FnOnce(&crate::store::SessionRecord) -> T,
    ) -> Result<Option<T>, crate::store::StoreError> {
        let s = &self.settings;
        let now = self.now();
        let mut read = Some(read);
        let mut out = None;
        let answered = self.store.touch_session_with(
            hash,
            now,
            s.session_idle,
            s.session_max,
            &mut |record| out = read.take().map(|read| read(record)),
        );
        if let Some(answer) = answered {
            answer?;
            return Ok(out);
        }
        let record = self
            .store
            .touch_session(hash, now, s.session_idle, s.session_max)
            .await?;
        Ok(record.and_then(|record| read.take().map(|read| read(&record))))
    }

    /// Signs a new access token; a user's says how the user signed in (`sign_in`: absent
    /// for client credentials and for grants recorded before second factors).
    fn access_token(
        &self,
        sub: &str,
        client_id: &str,
        scope: &str,
        sign_in: Option<&crate::store::sign_in::SignIn>,
    ) -> (String, IssuedAccess) {
        let now = self.now();
        let claims = AccessClaims {
            amr: sign_in.map(|s| s.amr.clone()).unwrap_or_default(),
            acr: sign_in.map(|s| s.acr().to_owned()),
            auth_time: sign_in.map(|s| s.auth_time),
            iss: self.settings.issuer.clone(),
            aud: self.settings.audience.clone(),
            sub: sub.to_owned(),
            client_id: client_id.to_owned(),
            scope: scope.to_owned(),
            iat: now,
            exp: now + self.settings.access_ttl,
            jti: random_id(),
            nbf: None,
        };
        let token = self.sign_access(&claims);
        (
            token,
            IssuedAccess {
                jti: claims.jti,
                expires_at: claims.exp,
            },
        )
    }

    /// Verifies an access token: signature and claims (once per token: see
    /// [`VerifiedTokens`]), its times, then revocation (its `jti`, and the cut-offs of its
    /// user and client), the last two on every call ([`AuthServer::check_access`]).
    pub async fn verify_access(&self, token: &str) -> Result<Arc<AccessClaims>, AccessRefused> {
        let now = self.now();
        let claims = match self.verified.get(token) {
            Some(claims) => {
                jwt::check_times(&claims, now).map_err(AccessRefused::Invalid)?;
                claims
            }
            None => {
                let expected = Expected {
                    issuer: &self.settings.issuer,
                    audience: &self.settings.audience,
                    now,
                };
                let claims = Arc::new(self.verify_access_signature(token, expected).await?);
                self.verified.put(token, claims.clone());
                claims
            }
        };
        self.check_revocation(&claims).await?;
        Ok(claims)
    }

    /// What every request checks of an access token whose signature and claims verified
    /// before (a cache's answer, `authn::Callers`): its times, then its revocation.
    pub async fn check_access(&self, claims: &AccessClaims) -> Result<(), AccessRefused> {
        jwt::check_times(claims, self.now()).map_err(AccessRefused::Invalid)?;
        self.check_revocation(claims).await
    }

    /// Whether the token is revoked: its `jti` deny-listed, or issued before a cut-off of
    /// its user or client. Asked without an asynchronous call when the store can answer at
    /// once ([`Store::access_revoked_now`]).
    async fn check_revocation(&self, claims: &AccessClaims) -> Result<(), AccessRefused> {
        let user = (claims.sub != claims.client_id).then_some(claims.sub.as_str());
        let (jti, client, iat) = (&claims.jti, &claims.client_id, claims.iat);
        let answer = match self.store.access_revoked_now(jti, client, user, iat) {
            Some(answer) => answer,
            None => self.store.access_revoked(jti, client, user, iat).await,
        };
        match answer {
            Ok(false) => Ok(()),
            Ok(true) => Err(AccessRefused::Revoked),
            Err(_) => Err(AccessRefused::StoreUnavailable),
        }
    }
}

/// The configured clients plus the gateway's own: a public, first-party client that signs
/// browsers in for session routes, asking for every scope there is (the user's own scopes
/// then decide what the session holds).
fn with_gateway_client(config: &Config) -> Vec<ClientConfig> {
    let mut scopes: Vec<String> = config.scopes.keys().cloned().collect();
    let more = config
        .users
        .iter()
        .flat_map(|u| u.scopes.iter())
        .chain(config.routes.iter().flat_map(|r| r.scopes.iter()))
        .chain(config.providers.iter().flat_map(|p| {
            p.grant_scopes
                .iter()
                .chain(p.group_scopes.values().flatten())
        }));
    for scope in more {
        if !scopes.contains(scope) {
            scopes.push(scope.clone());
        }
    }
    let mut clients = config.clients.clone();
    clients.push(ClientConfig {
        id: GATEWAY_CLIENT_ID.to_owned(),
        kind: ClientKind::Public,
        secret_hash: None,
        name: "authgate".to_owned(),
        redirect_uris: vec![format!(
            "{}{}",
            config.server.public_url.origin, CALLBACK_PATH
        )],
        grants: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        scopes,
        first_party: true,
        require_pkce: true,
        id_token_alg: crate::tokens::jose::Alg::Rs256,
        id_token_claims: crate::config::IdTokenClaims::Scopes,
        post_logout_redirect_uris: Vec::new(),
        backchannel_logout_uri: None,
        allowed_origins: Vec::new(),
    });
    clients
}

/// A 128-bit random identifier (token ids, family ids).
pub fn random_id() -> String {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

impl From<AccessRefused> for OAuthError {
    fn from(_: AccessRefused) -> Self {
        OAuthError::invalid_grant("the token is not valid")
    }
}
