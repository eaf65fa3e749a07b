//! What the admin listener answers:
//!
//! | request | credential | answer |
//! | --- | --- | --- |
//! | `GET /metrics` | none (bind the listener to loopback or a private network) | Prometheus text |
//! | `GET /healthz` | none | `ok`, or 503 while the token store cannot answer (as on the public listener) |
//! | `GET /admin/tokens?user=U&client=C&limit=N` | admin bearer token | `{"grants":[…],"client_tokens":[…],"truncated":bool}` |
//! | `POST /admin/revoke` `{"user":U}` / `{"client":C}` / `{"jti":J}` | admin bearer token | `{"revoked":…,"grants":n}` |
//! | `GET /admin/keys`, `POST /admin/keys/rotate` | admin bearer token | the signing keys: [`super::keys`] |
//! | `POST /admin/mfa/reset` `{"user":U}` | admin bearer token | `{"user":U,"factors_removed":bool,"grants":n}`: [`super::mfa`] |
//!
//! `grants` are the live refresh families (sign-ins, browser sessions) with their access
//! tokens; `client_tokens` the recorded live `client_credentials` access tokens per client
//! (`{"client_id","access":[{"jti","scope","issued_at","expires_at"}],"unlisted_until"?}`;
//! not with `user=`, as they have no user). That record is bounded
//! ([`crate::store::CLIENT_ACCESS_PER_CLIENT`] per client, the oldest giving way, and
//! [`crate::store::CLIENT_ACCESS_TOTAL`] in all): `unlisted_until`, when present, says tokens
//! of that client were issued past the bounds and may be live until then.
//!
//! Revoking a user or a client sets a cut-off one second ahead (access tokens carry whole
//! seconds, so a token issued in the same second as the revocation is covered too), revokes
//! every refresh family and, for a user, every browser session. Revoking a `jti` deny-lists
//! that access token for the longest an access token lives.

use bytes::Bytes;
use http::{Method, Response, StatusCode};
use serde::{Deserialize, Serialize};

use super::AdminState;
use crate::http::body::{Body, BodyReadError};
use crate::http::response;
use crate::rescue::{admin_rescue, AdminRejection};
use crate::store::{ClientTokens, GrantFilter, GrantSummary, Subject};

/// The most grants one listing returns.
pub const MAX_LIST: usize = 10_000;
/// The longest user name, client id or jti accepted: a federated principal `ID:SUB` is up
/// to 64 + 1 + 255 bytes (`config::MAX_SUBJECT`).
const MAX_NAME: usize = 384;

#[derive(Debug, Serialize, Deserialize)]
pub struct GrantList {
    pub grants: Vec<GrantSummary>,
    /// Live `client_credentials` access tokens, per client.
    #[serde(default)]
    pub client_tokens: Vec<ClientTokens>,
    /// More matched than `limit`.
    pub truncated: bool,
}

/// What `POST /admin/revoke` revokes: exactly one of them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum RevokeTarget {
    User(String),
    Client(String),
    Jti(String),
}

#[derive(Debug, Serialize, Deserialize)]
pub struct RevokeOutcome {
    pub revoked: RevokeTarget,
    /// Live refresh families (sign-ins, sessions) that were ended.
    pub grants: usize,
}

/// The answer to a request whose body [`crate::http::body::read_bounded`] refused.
pub fn body_refused(err: BodyReadError) -> Response<Body> {
    admin_rescue(AdminRejection::Body(err))
}

/// Answers one admin request; `body` is already read (and bounded).
pub async fn answer(
    state: &AdminState,
    method: &Method,
    path: &str,
    query: Option<&str>,
    authorized: bool,
    body: Bytes,
) -> Response<Body> {
    let answered = match (method, path) {
        (&Method::GET, "/metrics") => {
            let stats = state.store.stats().await.ok();
            Ok(response::with_type(
                StatusCode::OK,
                "text/plain; version=0.0.4; charset=utf-8",
                state.metrics.render(stats.as_ref()),
            ))
        }
        (&Method::GET, "/healthz") => Ok(crate::dispatch::healthz(state.store.as_ref())),
        (
            _,
            "/admin/tokens" | "/admin/revoke" | "/admin/keys" | "/admin/keys/rotate"
            | "/admin/mfa/reset",
        ) if !authorized => Err(AdminRejection::Unauthorized),
        (&Method::GET, "/admin/keys") => Ok(super::keys::list(state)),
        (&Method::POST, "/admin/keys/rotate") => Ok(super::keys::rotate(state, &body).await),
        (_, "/admin/keys") => Err(AdminRejection::MethodNotAllowed { allow: "GET" }),
        (_, "/admin/keys/rotate") => Err(AdminRejection::MethodNotAllowed { allow: "POST" }),
        (&Method::POST, "/admin/mfa/reset") => super::mfa::reset(state, &body).await,
        (_, "/admin/mfa/reset") => Err(AdminRejection::MethodNotAllowed { allow: "POST" }),
        (&Method::GET, "/admin/tokens") => list(state, query).await,
        (&Method::POST, "/admin/revoke") => revoke(state, &body).await,
        (_, "/metrics" | "/healthz" | "/admin/tokens") => {
            Err(AdminRejection::MethodNotAllowed { allow: "GET" })
        }
        (_, "/admin/revoke") => Err(AdminRejection::MethodNotAllowed { allow: "POST" }),
        _ => Err(AdminRejection::NotFound),
    };
    answered.unwrap_or_else(admin_rescue)
}

/// A store error's cause, for the log; the client gets a fixed message.
pub(super) fn store_down(err: crate::store::StoreError) -> AdminRejection {
    tracing::warn!(error = %err, "admin request: the token store failed");
    AdminRejection::StoreUnavailable
}

pub(super) fn name_ok(name: &str) -> bool {
    !name.is_empty() && name.len() <= MAX_NAME && !name.chars().any(char::is_control)
}

async fn list(state: &AdminState, query: Option<&str>) -> Result<Response<Body>, AdminRejection> {
    let mut filter = GrantFilter::default();
    let mut limit = MAX_LIST;
    for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match &*key {
            "user" if name_ok(&value) => filter.user = Some(value.into_owned()),
            "client" if name_ok(&value) => filter.client = Some(value.into_owned()),
            "limit" => match value.parse::<usize>() {
                Ok(n) if (1..=MAX_LIST).contains(&n) => limit = n,
                _ => return Err(AdminRejection::BadLimit),
            },
            _ => return Err(AdminRejection::BadQuery),
        }
    }
    let now = state.clock.now();
    let grants = state.store.list_grants(&filter, now, limit + 1).await;
    // Client-credentials tokens have no user: a listing by user has none.
    let client_tokens = match &filter.user {
        Some(_) => Ok(Vec::new()),
        None => {
            state
                .store
                .list_client_access(filter.client.as_deref(), now, limit + 1)
                .await
        }
    };
    match (grants, client_tokens) {
        (Ok(mut grants), Ok(mut client_tokens)) => {
            let truncated = grants.len() > limit || client_tokens.len() > limit;
            grants.truncate(limit);
            client_tokens.truncate(limit);
            Ok(response::json(
                StatusCode::OK,
                &GrantList {
                    grants,
                    client_tokens,
                    truncated,
                },
            ))
        }
        (Err(err), _) | (_, Err(err)) => Err(store_down(err)),
    }
}

async fn revoke(state: &AdminState, body: &[u8]) -> Result<Response<Body>, AdminRejection> {
    let target: RevokeTarget =
        serde_json::from_slice(body).map_err(|_| AdminRejection::BadRevokeBody)?;
    let (RevokeTarget::User(name) | RevokeTarget::Client(name) | RevokeTarget::Jti(name)) = &target;
    if !name_ok(name) {
        return Err(AdminRejection::BadName);
    }
    let now = state.clock.now();
    let store = &state.store;
    let result = match &target {
        RevokeTarget::User(user) => revoke_user(state, user, now).await,
        RevokeTarget::Client(client) => {
            let filter = GrantFilter {
                user: None,
                client: Some(client.clone()),
            };
            revoke_subject(state, &filter, Subject::Client(client.clone()), now).await
        }
        RevokeTarget::Jti(jti) => store
            .revoke_access(jti, now + state.access_ttl_secs)
            .await
            .map(|()| 0),
    };
    match result {
        Ok(grants) => {
            tracing::info!(
                target_kind = kind(&target),
                grants,
                "revoked through the admin API"
            );
            Ok(response::json(
                StatusCode::OK,
                &RevokeOutcome {
                    revoked: target,
                    grants,
                },
            ))
        }
        Err(err) => Err(store_down(err)),
    }
}

/// Revokes everything of `user` (grants, browser sessions, access tokens issued until now):
/// the number of live grants ended.
pub(super) async fn revoke_user(
    state: &AdminState,
    user: &str,
    now: u64,
) -> Result<usize, crate::store::StoreError> {
    let filter = GrantFilter {
        user: Some(user.to_owned()),
        client: None,
    };
    // Every session of the user ends: the relying parties listening on a back-channel are
    // told (logout tokens without `sid`), once the grants they name are found and before
    // they are revoked.
    let notices = logout_notices(state, user).await;
    let revoked = revoke_subject(state, &filter, Subject::User(user.to_owned()), now).await;
    if revoked.is_ok() {
        crate::endpoints::backchannel::send(notices);
    }
    revoked
}

/// The Back-Channel Logout tokens for every session of `user` (none without the live
/// authorization server, or when the store cannot list the user's grants: logged).
async fn logout_notices(
    state: &AdminState,
    user: &str,
) -> Vec<crate::oauth::backchannel::LogoutNotice> {
    let Some(current) = &state.auth else {
        return Vec::new();
    };
    match current().logout_notices(user, None).await {
        Ok(notices) => notices,
        Err(err) => {
            tracing::warn!(user, error = %err.description, "back-channel logout not sent");
            Vec::new()
        }
    }
}

fn kind(target: &RevokeTarget) -> &'static str {
    match target {
        RevokeTarget::User(_) => "user",
        RevokeTarget::Client(_) => "client",
        RevokeTarget::Jti(_) => "jti",
    }
}

async fn revoke_subject(
    state: &AdminState,
    filter: &GrantFilter,
    subject: Subject,
    now: u64,
) -> Result<usize, crate::store::StoreError> {
    let live = state
        .store
        .list_grants(filter, now, usize::MAX)
        .await?
        .len();
    state.store.revoke_subject(subject, now + 1, now).await?;
    Ok(live)
}
