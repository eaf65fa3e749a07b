//! Who is calling a protected route, and may they: the decision, over plain types.
//!
//! `auth = "bearer"`: an access token from the `Authorization` header, verified (signature,
//! claims, revocation) on every request. `auth = "session"`: the gateway's session cookie,
//! or a bearer token. Then every scope the route lists must be held, and when the route has an
//! `allow` list one of its rules must admit the caller ([`allow`]). [`decide`] returns the
//! [`Identity`] or an [`AuthnFailure`]; `rescue` alone turns a failure into 401/403, and the
//! dispatcher sends a browser without a session through [`flow`] (its redirects and cookies
//! are `endpoints::sign_in`'s).

pub mod allow;
pub(crate) mod bearer;
mod caller;
mod federated;
pub(crate) mod flow;
pub mod return_to;

use std::sync::Arc;

use http::header::HeaderMap;

use crate::config::{AllowRule, AuthMode};
use crate::gateway_paths::{GATEWAY_CLIENT_ID, SESSION_COOKIE};
use crate::http::cookie;
use crate::oauth::{AccessRefused, AuthServer};
use crate::store::AllowFacts;
use crate::tokens::jwt::TokenInvalid;
use crate::tokens::opaque::TokenHash;
use bearer::Presented;
pub use caller::{Caller, CallerHeaders, Callers};
use caller::{KnownSession, KnownToken};

/// How a request proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Bearer,
    Session,
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Who it is: for a token, the one built with its first verification ([`Callers`]).
    pub caller: Arc<Caller>,
    pub via: Via,
    /// The sign-in behind it included a second factor (RFC 8176 `amr` holds `mfa`).
    pub second_factor: bool,
}

impl Identity {
    /// `user` (absent for a client acting for itself), `client_id` and `scope`
    /// (space-separated), come `via`.
    pub fn new(
        user: Option<String>,
        client_id: String,
        scope: String,
        via: Via,
        second_factor: bool,
    ) -> Identity {
        Identity {
            caller: Arc::new(Caller::new(user, client_id, scope)),
            via,
            second_factor,
        }
    }

    /// The user, absent for a client acting for itself (client credentials).
    pub fn user(&self) -> Option<&str> {
        self.caller.user()
    }

    pub fn client_id(&self) -> &str {
        self.caller.client_id()
    }

    /// Space-separated.
    pub fn scope(&self) -> &str {
        self.caller.scope()
    }

    pub fn has_scopes(&self, needed: &[String]) -> bool {
        needed
            .iter()
            .all(|n| self.scope().split(' ').any(|held| held == n))
    }
}

/// Why a request may not pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthnFailure {
    /// No credential at all (RFC 6750 §3.1: no error code).
    Missing,
    /// A browser on a session route without a session: send it to sign in.
    LoginRequired,
    /// A token was presented and is not valid (`invalid_token`).
    InvalidToken(&'static str),
    /// A token in the query string (`invalid_request`).
    TokenInQuery,
    /// Valid, but without every scope the route needs (`insufficient_scope`).
    InsufficientScope(String),
    /// Authenticated, with the scopes, but no rule of the route's `allow` list admits them:
    /// who they are (`None`: a client acting for itself) and how they came, so that a
    /// browser on its session gets a page saying so and an API client a short answer.
    NotAllowed { user: Option<String>, via: Via },
    /// The token store could not answer: fail closed.
    StoreUnavailable,
    /// A browser session on a route with `mfa = true` without a second factor: send it
    /// through a step-up.
    StepUpRequired,
    /// A credential without a second factor on a route with `mfa = true` (RFC 9470
    /// `insufficient_user_authentication`).
    InsufficientUserAuthentication,
}

/// Decides a request to a route with `mode`, `scopes` and `allow` (empty: no list);
/// `callers` is the configuration's cache of verified tokens' callers.
pub async fn decide(
    auth: &AuthServer,
    callers: &Callers,
    mode: AuthMode,
    scopes: &[String],
    allow: &[AllowRule],
    headers: &HeaderMap,
    query: Option<&str>,
) -> Result<Identity, AuthnFailure> {
    if bearer::token_in_query(query) {
        return Err(AuthnFailure::TokenInQuery);
    }
    let mut token = None;
    let (mut identity, carried) = match bearer::presented(headers) {
        Presented::Bearer(presented) => {
            token = Some(presented);
            (from_token(auth, callers, presented).await?, None)
        }
        Presented::Malformed => {
            return Err(AuthnFailure::InvalidToken(
                "the Authorization header is malformed",
            ))
        }
        Presented::None | Presented::OtherScheme => match mode {
            AuthMode::Session => match session(auth, callers, headers, !allow.is_empty()).await? {
                Some(found) => found,
                None => return Err(no_session(headers)),
            },
            _ => return Err(AuthnFailure::Missing),
        },
    };
    if !federated::under_provider(auth, &mut identity) {
        return Err(match identity.via {
            Via::Session => no_session(headers),
            Via::Bearer => AuthnFailure::InvalidToken(
                "the access token's identity provider is no longer configured",
            ),
        });
    }
    if !identity.has_scopes(scopes) {
        return Err(AuthnFailure::InsufficientScope(scopes.join(" ")));
    }
    if !allow.is_empty() {
        let user = identity.user();
        // Groups and domain: carried by a federated person's session, a local user's from
        // the file, a token's person read once per token (`federated::facts`).
        let looked_up = match (user, &carried) {
            (Some(user), None) if allow::needs_person(allow) => {
                federated::facts(auth, user, token).await?
            }
            _ => None,
        };
        let facts = carried.as_ref().or(looked_up.as_deref());
        if !allow::admits(allow, user, facts) {
            return Err(AuthnFailure::NotAllowed {
                user: identity.user().map(str::to_owned),
                via: identity.via,
            });
        }
    }
    Ok(identity)
}

/// A request without a (usable) session: a browser is sent to sign in, anything else 401.
fn no_session(headers: &HeaderMap) -> AuthnFailure {
    if crate::http::response::wants_html(headers) {
        AuthnFailure::LoginRequired
    } else {
        AuthnFailure::Missing
    }
}

/// The identity of a bearer token: for a token seen before, its cached caller, after the
/// checks of every request (times, revocation); else the token verified and its caller
/// built and kept.
async fn from_token(
    auth: &AuthServer,
    callers: &Callers,
    token: &[u8],
) -> Result<Identity, AuthnFailure> {
    let known = match callers.token(token) {
        Some(known) => auth.check_access(&known.claims).await.map(|()| known),
        // Bytes that are not UTF-8 are no token (and not in the token68 alphabet).
        None => match std::str::from_utf8(token) {
            Ok(text) => auth.verify_access(text).await.map(|claims| {
                let known = Arc::new(KnownToken::new(claims));
                callers.put_token(text, known.clone());
                known
            }),
            Err(_) => Err(AccessRefused::Invalid(TokenInvalid::Malformed)),
        },
    };
    match known {
        Ok(known) => Ok(Identity {
            caller: known.caller.clone(),
            via: Via::Bearer,
            second_factor: known.second_factor,
        }),
        Err(AccessRefused::Invalid(_)) if !bearer::well_formed(token) => Err(
            AuthnFailure::InvalidToken("the Authorization header is malformed"),
        ),
        Err(AccessRefused::Invalid(reason)) => {
            tracing::info!(reason = %reason, "bearer token refused");
            Err(AuthnFailure::InvalidToken(
                "the access token is invalid or expired",
            ))
        }
        Err(AccessRefused::Revoked) => Err(AuthnFailure::InvalidToken(
            "the access token has been revoked",
        )),
        Err(AccessRefused::StoreUnavailable) => Err(AuthnFailure::StoreUnavailable),
    }
}

/// The session behind the session cookie, if it is alive (touching it slides its idle
/// limit), with the `allow`-list facts it carries (a federated person's, fixed at sign-in)
/// when `want_facts` (the route has an `allow` list). The cookie's hash and the caller come from `callers` when the cookie was seen before.
async fn session(
    auth: &AuthServer,
    callers: &Callers,
    headers: &HeaderMap,
    want_facts: bool,
) -> Result<Option<(Identity, Option<AllowFacts>)>, AuthnFailure> {
    let Some(id) = cookie::get(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    let known = callers.session(id);
    let hash = known
        .as_ref()
        .map_or_else(|| TokenHash::of(id), |known| known.hash);
    // What the request needs of the record, read where it lies: the cached caller when the
    // record still names its user and scope, otherwise those two, copied to build a new one.
    let read = |session: &crate::store::SessionRecord| {
        let second_factor = session
            .sign_in
            .as_ref()
            .is_some_and(|s| s.has_second_factor());
        let caller = match &known {
            Some(known) if known.same_caller(&session.user, &session.scope) => {
                Ok(known.caller.clone())
            }
            _ => Err((session.user.clone(), session.scope.clone())),
        };
        // A person's facts only for a route with an `allow` list, the one reader of them.
        let facts = if want_facts {
            session.person.clone()
        } else {
            None
        };
        (second_factor, caller, facts)
    };
    let session = auth
        .read_session_hash(&hash, read)
        .await
        .map_err(|_| AuthnFailure::StoreUnavailable)?;
    Ok(session.map(|(second_factor, caller, person)| {
        let caller = match caller {
            Ok(caller) => caller,
            Err((user, scope)) => {
                let caller = Arc::new(Caller::new(Some(user), GATEWAY_CLIENT_ID.to_owned(), scope));
                let known = KnownSession {
                    hash,
                    caller: caller.clone(),
                };
                callers.put_session(id, Arc::new(known));
                caller
            }
        };
        let identity = Identity {
            caller,
            via: Via::Session,
            second_factor,
        };
        (identity, person)
    }))
}

/// A route with `mfa = true` (`required`) admits only an identity whose sign-in had a second
/// factor: a browser on its session is sent through a step-up, anything else is refused
/// with RFC 9470's `insufficient_user_authentication`. Checked after [`decide`].
pub fn second_factor_gate(
    identity: &Identity,
    required: bool,
    headers: &HeaderMap,
) -> Result<(), AuthnFailure> {
    if !required || identity.second_factor {
        return Ok(());
    }
    if identity.via == Via::Session && crate::http::response::wants_html(headers) {
        return Err(AuthnFailure::StepUpRequired);
    }
    Err(AuthnFailure::InsufficientUserAuthentication)
}

#[cfg(test)]
mod tests;
