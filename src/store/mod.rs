//! The token store: everything the authorization server and the sessions must remember,
//! behind one narrow async trait so that the memory backend (with its journal) and
//! Redis are interchangeable.
//!
//! Rules every backend keeps (and `conformance`, the shared test suite, checks):
//! - only hashes of codes, refresh tokens and session ids are stored, never the tokens;
//! - taking a code, rotating a refresh token and claiming a one-time marker are atomic: of two
//!   concurrent callers exactly one wins;
//! - everything expires: callers pass `now` (seconds since the epoch) so tests run on a
//!   test clock, and entries past their time are treated as absent.

pub mod factors;
pub mod memory;
pub mod passkeys;
pub mod persist;
pub(crate) mod redis;
pub mod sign_in;
pub mod signing_keys;

#[cfg(test)]
pub mod conformance;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::config::ClientConfig;
use crate::tokens::opaque::TokenHash;

/// Opens the store `[store]` names: the memory backend (recovered from its files under
/// `data_dir`) or a connection to Redis.
/// Opens the configured store. `clock` is the server's: the stores decide what expired by
/// it (start-up and compaction sweeps, Redis TTLs), never by a clock of their own.
pub async fn open(
    config: &crate::config::Config,
    clock: std::sync::Arc<dyn crate::clock::Clock>,
) -> StoreResult<std::sync::Arc<dyn Store>> {
    use crate::config::StoreBackend;
    match &config.store.backend {
        StoreBackend::Memory {
            fsync,
            compact_after,
        } => {
            let options = persist::Options {
                fsync: *fsync,
                compact_after: *compact_after,
                session_limits: std::sync::Arc::new(SessionLimits::new(
                    config.session.idle_timeout.as_secs(),
                    config.session.max_lifetime.as_secs(),
                )),
                clock,
            };
            let dir = config.server.data_dir.clone();
            // Recovery reads files and may take seconds for a large store: off the runtime.
            let store =
                tokio::task::spawn_blocking(move || memory::MemoryStore::open(&dir, options))
                    .await
                    .map_err(|e| StoreError(format!("store recovery stopped: {e}")))?
                    .map_err(StoreError)?;
            Ok(std::sync::Arc::new(store))
        }
        StoreBackend::Redis {
            url,
            key_prefix,
            fail_open,
        } => {
            let url = url.read().map_err(StoreError)?;
            let store = redis::RedisStore::connect(&url, key_prefix, *fail_open, clock).await?;
            Ok(std::sync::Arc::new(store))
        }
    }
}

/// A store failure: the backend could not answer. Callers fail closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError(pub String);

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "token store unavailable: {}", self.0)
    }
}

impl std::error::Error for StoreError {}

pub type StoreResult<T> = Result<T, StoreError>;

/// What an authorization code stands for (RFC 6749 §4.1.2), bound to everything its
/// redemption must match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeGrant {
    pub client_id: String,
    pub user: String,
    pub redirect_uri: String,
    /// Space-separated granted scopes.
    pub scope: String,
    /// The S256 `code_challenge`, when PKCE was used.
    pub code_challenge: Option<String>,
    /// The refresh family its tokens will belong to, chosen when the code is issued so that
    /// a replayed code can revoke what the first redemption produced.
    pub family: String,
    pub expires_at: u64,
    /// For a grant holding `openid`: what its ID tokens must say of the login. Absent in
    /// codes stored before OpenID Connect (they load, and get no ID token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oidc: Option<OidcLogin>,
    /// How the person signed in (absent in codes stored before second factors).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign_in: Option<sign_in::SignIn>,
}

/// The login behind an OpenID Connect grant, carried from the authorization request through
/// the code into the refresh family, so that every ID token of the grant (the first and
/// each refresh's, OIDC Core §12.2) tells the same `auth_time`, `sid` and `nonce`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OidcLogin {
    /// When the user signed in (the login session's start), seconds since the epoch.
    pub auth_time: u64,
    /// The login session's public id (`sid`).
    pub sid: String,
    /// The authorization request's `nonce`, echoed in the ID tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
}

/// The outcome of taking a code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeTake {
    /// First use.
    Fresh(CodeGrant),
    /// Already redeemed once (kept until the code's expiry so a replay can be answered).
    Replayed(CodeGrant),
    /// Unknown or expired.
    Unknown,
}

/// A refresh token's record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshRecord {
    pub family: String,
    pub client_id: String,
    pub user: String,
    /// Space-separated scopes this token may refresh to (or narrower).
    pub scope: String,
    /// When the family ends, however often it rotates.
    pub expires_at: u64,
    /// The login of an OpenID Connect grant (its refreshes return ID tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oidc: Option<OidcLogin>,
    /// How the person signed in: every refresh keeps it, never upgrades it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign_in: Option<sign_in::SignIn>,
}

/// A refresh token as found: its record, and whether it is still the family's current token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshLookup {
    pub record: RefreshRecord,
    pub current: bool,
}

/// The new pair of a rotation, sealed with a key only the holder of the old refresh token can
/// derive, so that a grace-window replay can be given the same pair without the store ever
/// holding a usable token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedSuccessor(pub Vec<u8>);

/// Base64 in JSON (journal, snapshot, Redis) rather than an array of numbers.
impl Serialize for SealedSuccessor {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use base64::Engine;
        s.serialize_str(&base64::engine::general_purpose::STANDARD_NO_PAD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for SealedSuccessor {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use base64::Engine;
        let text = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(text.as_bytes())
            .map(SealedSuccessor)
            .map_err(|_| serde::de::Error::custom("not base64"))
    }
}

/// What a rotation puts in place of the old refresh token.
#[derive(Debug, Clone)]
pub struct NextRefresh {
    pub token: TokenHash,
    pub record: RefreshRecord,
    pub access: IssuedAccess,
    pub sealed: SealedSuccessor,
}

/// The outcome of a rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// `old` was current: it is now used and `new` is current.
    Rotated,
    /// `old` was rotated moments ago (within the grace window): here is that rotation's pair.
    Grace(SealedSuccessor),
    /// `old` was rotated before the grace window: the family is now revoked.
    Reused { family: String },
    /// Unknown, expired, or its family revoked.
    Unknown,
}

/// An access token issued from a refresh family, tracked so that revoking the family
/// revokes it too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedAccess {
    pub jti: String,
    pub expires_at: u64,
}

/// A browser session: the authorization server's login session, or a session on the
/// gateway's protected routes (which also records what it may do and the refresh family it
/// came from, so that ending it revokes its tokens).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub user: String,
    pub created_at: u64,
    pub last_seen: u64,
    /// Space-separated scopes (route sessions).
    #[serde(default)]
    pub scope: String,
    /// The refresh family behind a route session.
    #[serde(default)]
    pub family: Option<String>,
    /// How the person signed in (absent in sessions stored before second factors: one
    /// factor).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign_in: Option<sign_in::SignIn>,
    /// Wrong second-factor codes tried in this login session (`mfa`: a few, then the
    /// session ends and the person starts over with the password).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub factor_tries: u32,
    /// What the route `allow` lists read of a federated person (groups, verified domain),
    /// fixed when the route session began, so that a request does not read the person's
    /// record. `None` for a local user (the file says), an AS login session, and a route
    /// session begun before sessions carried it (the record is read then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person: Option<AllowFacts>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// What a route's `allow` list (`authn::allow`) reads of a person besides the principal:
/// its provider (`None`: a `[[users]]` entry), its groups as the provider said them at
/// sign-in (or the file's), and the domain of its email when that is verified (lower case).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllowFacts {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
}

impl SessionRecord {
    /// When the session ends under an idle limit and an absolute limit (seconds): it is over
    /// at that time and after.
    pub fn ends_at(&self, idle: u64, max: u64) -> u64 {
        self.last_seen
            .saturating_add(idle)
            .min(self.created_at.saturating_add(max))
    }
}

/// A person admitted through an upstream provider (`federation::admit`), remembered at each
/// sign-in so that the authorization server treats the principal `ID:SUB` like a `[[users]]`
/// entry (what it may grant, its claims) until `expires_at`. Keyed by the principal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonRecord {
    /// The provider's id.
    pub provider: String,
    /// The most this person may grant.
    pub scopes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default)]
    pub email_verified: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default)]
    pub groups: Vec<String>,
    pub expires_at: u64,
}

/// Whose tokens a cut-off applies to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Subject {
    User(String),
    Client(String),
}

/// Which grants `authgate token list` asks for: all of them, or a user's, a client's, or both.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GrantFilter {
    pub user: Option<String>,
    pub client: Option<String>,
}

impl GrantFilter {
    pub fn matches(&self, user: &str, client_id: &str) -> bool {
        self.user.as_deref().is_none_or(|u| u == user)
            && self.client.as_deref().is_none_or(|c| c == client_id)
    }
}

/// One live refresh family (a sign-in of a user at a client, or a browser session on the
/// gateway's routes), as `authgate token list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantSummary {
    pub family: String,
    pub user: String,
    pub client_id: String,
    /// When the family ends, however often it rotates.
    pub expires_at: u64,
    /// Its access tokens that have not expired yet.
    pub access: Vec<IssuedAccess>,
    /// The login session an OpenID Connect grant came from (its ID tokens' `sid`): which
    /// relying parties a single session's logout concerns. `None` for plain OAuth grants and
    /// for families recorded before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

/// A `client_credentials` access token, recorded so that `authgate token list` can show what a
/// client holds (such tokens have no refresh family to list them by).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientAccess {
    pub jti: String,
    /// Space-separated granted scopes.
    pub scope: String,
    pub issued_at: u64,
    pub expires_at: u64,
}

/// The most `client_credentials` access tokens recorded per client: past it the oldest
/// record gives way to the new one (and is counted in [`ClientTokens::unlisted_until`]).
pub const CLIENT_ACCESS_PER_CLIENT: usize = 1_000;
/// The most recorded across all clients: past it a new token is not recorded (and counted).
pub const CLIENT_ACCESS_TOTAL: usize = 100_000;

/// A client's live `client_credentials` access tokens, as `authgate token list` shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientTokens {
    pub client_id: String,
    /// Recorded, unexpired, unrevoked; oldest first.
    pub access: Vec<ClientAccess>,
    /// Some tokens of this client were issued past the record's bounds and are not listed:
    /// the latest time one of them can still be live. They are revoked with the client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unlisted_until: Option<u64>,
}

/// The sealed signing-key document and the version it was written as (1, 2, ...).
#[derive(Clone, PartialEq, Eq)]
pub struct StoredKeys {
    pub version: u64,
    pub document: Vec<u8>,
}

impl std::fmt::Debug for StoredKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredKeys")
            .field("version", &self.version)
            .field("bytes", &self.document.len())
            .finish()
    }
}

/// How much a store holds, by kind of entry, for the `authgate_store_entries` metric.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreStats {
    pub entries: Vec<(&'static str, u64)>,
}

#[async_trait]
pub trait Store: factors::FactorStore + Send + Sync + 'static {
    /// Stores a new code.
    async fn put_code(&self, code: TokenHash, grant: CodeGrant) -> StoreResult<()>;
    /// Takes a code: exactly one caller ever gets [`CodeTake::Fresh`].
    async fn take_code(&self, code: &TokenHash, now: u64) -> StoreResult<CodeTake>;

    /// Starts or continues a family with a current refresh token and the access token issued
    /// beside it.
    async fn put_refresh(
        &self,
        token: TokenHash,
        record: RefreshRecord,
        access: IssuedAccess,
    ) -> StoreResult<()>;
    /// The record of an unexpired refresh token of a live family, current or already rotated
    /// (a rotated one is answered by [`Store::rotate_refresh`] with grace or reuse detection).
    async fn get_refresh(&self, token: &TokenHash, now: u64) -> StoreResult<Option<RefreshLookup>>;
    /// Atomically replaces the current token `old` by `next.token` (see [`Rotation`]).
    async fn rotate_refresh(
        &self,
        old: &TokenHash,
        next: NextRefresh,
        now: u64,
        grace_secs: u64,
    ) -> StoreResult<Rotation>;
    /// Revokes a family: its refresh tokens stop working and its access tokens are deny-listed.
    async fn revoke_family(&self, family: &str, now: u64) -> StoreResult<()>;

    /// Deny-lists one access token until it would have expired anyway.
    async fn revoke_access(&self, jti: &str, expires_at: u64) -> StoreResult<()>;
    /// Whether an access token is deny-listed.
    async fn is_access_revoked(&self, jti: &str) -> StoreResult<bool>;
    /// Revokes everything of a user or client issued before `cutoff`: families, sessions, and
    /// (through [`Store::cutoff`]) access tokens with an earlier `iat`.
    async fn revoke_subject(&self, subject: Subject, cutoff: u64, now: u64) -> StoreResult<()>;
    /// Tokens of `subject` issued before this time are revoked.
    async fn cutoff(&self, subject: &Subject) -> StoreResult<Option<u64>>;
    /// The per-request bearer check in one call: whether an access token is refused by
    /// revocation (its `jti` deny-listed, or issued at `iat` before a cut-off of its client
    /// or user). Backends answer it from memory; the default asks the three questions.
    async fn access_revoked(
        &self,
        jti: &str,
        client: &str,
        user: Option<&str>,
        iat: u64,
    ) -> StoreResult<bool> {
        if self.is_access_revoked(jti).await? {
            return Ok(true);
        }
        let client = Subject::Client(client.to_owned());
        if self.cutoff(&client).await?.is_some_and(|c| iat < c) {
            return Ok(true);
        }
        if let Some(user) = user {
            let user = Subject::User(user.to_owned());
            if self.cutoff(&user).await?.is_some_and(|c| iat < c) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// [`Store::access_revoked`] answered at once by a backend that holds the answer in
    /// memory, `None` when it must be asked asynchronously. The bearer gate asks this first:
    /// an asynchronous trait call allocates its future, on every request.
    fn access_revoked_now(
        &self,
        _jti: &str,
        _client: &str,
        _user: Option<&str>,
        _iat: u64,
    ) -> Option<StoreResult<bool>> {
        None
    }

    /// Claims the one-time marker `key` (a hash), kept until `expires_at`: `true` for the one
    /// caller that claims it first, `false` for every later claim while it lasts (and for a
    /// marker already past `expires_at` at `now`). Single-use form submissions use it (a
    /// consent decision).
    async fn claim_once(&self, key: &TokenHash, expires_at: u64, now: u64) -> StoreResult<bool>;

    /// Records a `client_credentials` access token of `client`, within
    /// [`CLIENT_ACCESS_PER_CLIENT`] and [`CLIENT_ACCESS_TOTAL`].
    async fn record_client_access(
        &self,
        client: &str,
        access: ClientAccess,
        now: u64,
    ) -> StoreResult<()>;
    /// The recorded live `client_credentials` tokens, of one client or of all, at most `limit`
    /// clients; tokens deny-listed or under their client's cut-off are left out.
    async fn list_client_access(
        &self,
        client: Option<&str>,
        now: u64,
        limit: usize,
    ) -> StoreResult<Vec<ClientTokens>>;

    /// Remembers that `user` let `client` have `scopes`.
    async fn put_consent(&self, user: &str, client: &str, scopes: &[String]) -> StoreResult<()>;
    /// The scopes `user` has let `client` have.
    async fn consent(&self, user: &str, client: &str) -> StoreResult<Vec<String>>;

    async fn put_session(&self, id: TokenHash, session: SessionRecord) -> StoreResult<()>;
    /// A live session, its `last_seen` moved to `now`; `None` (and removed) past its idle or
    /// absolute limit.
    async fn touch_session(
        &self,
        id: &TokenHash,
        now: u64,
        idle_secs: u64,
        max_secs: u64,
    ) -> StoreResult<Option<SessionRecord>>;
    async fn delete_session(&self, id: &TokenHash) -> StoreResult<()>;
    /// [`Store::touch_session`] answered at once by a backend that holds its sessions in
    /// memory, `None` when it must be asked asynchronously. The live session is lent to
    /// `visit` (called at most once) instead of cloned out: `Ok(true)` when it was, `Ok(false)`
    /// when there is no live session. The session gate asks this first, so that a session
    /// request neither allocates a boxed future nor copies the record's strings.
    fn touch_session_with(
        &self,
        _id: &TokenHash,
        _now: u64,
        _idle_secs: u64,
        _max_secs: u64,
        _visit: &mut dyn FnMut(&SessionRecord),
    ) -> Option<StoreResult<bool>> {
        None
    }

    /// Remembers a federated person under its principal (`ID:SUB`), replacing what was
    /// remembered of it, until `person.expires_at`.
    async fn put_person(&self, principal: &str, person: PersonRecord) -> StoreResult<()>;
    /// A remembered person, unless it expired by `now`.
    async fn person(&self, principal: &str, now: u64) -> StoreResult<Option<PersonRecord>>;

    /// Stores a dynamically registered client, unless `max` are registered already
    /// (returns `false` then).
    async fn put_client(&self, client: ClientConfig, max: usize) -> StoreResult<bool>;
    /// A dynamically registered client.
    async fn get_client(&self, id: &str) -> StoreResult<Option<ClientConfig>>;

    /// Live (unrevoked, unexpired) refresh families that match `filter`, at most `limit`.
    async fn list_grants(
        &self,
        filter: &GrantFilter,
        now: u64,
        limit: usize,
    ) -> StoreResult<Vec<GrantSummary>>;
    /// How many entries of each kind the store holds.
    async fn stats(&self) -> StoreResult<StoreStats>;

    /// Whether requests that need the store can be served now, judged from what the store
    /// already knows (no round trip, so `/healthz` stays cheap): `Err` names what is down.
    fn health(&self) -> Result<(), String> {
        Ok(())
    }

    /// Drops everything expired, sessions by the given idle and absolute limits; backends with
    /// native expiry may do less.
    async fn sweep(&self, now: u64, session_idle: u64, session_max: u64) -> StoreResult<()>;

    /// The asymmetric signing keys, as one sealed document (see `tokens::jose::stored`) with
    /// its version; `None` before the first gateway wrote it.
    async fn signing_keys(&self) -> StoreResult<Option<StoredKeys>>;
    /// Writes `document` as version `expected + 1` if the stored version is still `expected`
    /// (0: none stored): `false`, and nothing written, when another gateway wrote first (so
    /// two gateways starting at once do not both generate keys, and two rotations do not
    /// both apply).
    async fn swap_signing_keys(&self, expected: u64, document: Vec<u8>) -> StoreResult<bool>;

    /// The `[session]` limits now in force (at start and after each reload), for what ends
    /// sessions without a caller passing them: compaction, and Redis TTLs of new sessions.
    /// Backends (and wrappers) that keep no limits of their own ignore it.
    fn set_session_limits(&self, session_idle: u64, session_max: u64) {
        let _ = (session_idle, session_max);
    }
}

/// `[session]` idle and absolute limits, in seconds, shared between a store and its
/// background work and changed by a reload.
#[derive(Debug)]
pub struct SessionLimits {
    idle: std::sync::atomic::AtomicU64,
    max: std::sync::atomic::AtomicU64,
}

impl SessionLimits {
    pub fn new(idle: u64, max: u64) -> SessionLimits {
        SessionLimits {
            idle: idle.into(),
            max: max.into(),
        }
    }

    /// `(idle, max)`.
    pub fn get(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (self.idle.load(Relaxed), self.max.load(Relaxed))
    }

    pub fn set(&self, idle: u64, max: u64) {
        use std::sync::atomic::Ordering::Relaxed;
        self.idle.store(idle, Relaxed);
        self.max.store(max, Relaxed);
    }
}
