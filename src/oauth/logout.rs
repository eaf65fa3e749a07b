//! RP-Initiated Logout 1.0 at the `end_session_endpoint` (`/oauth2/logout`), as plain
//! decisions: whether a logout request ends the session at once or asks first, and where the
//! browser goes afterwards. The HTTP adapter is `endpoints::oauth::logout`; it verifies the
//! `id_token_hint` (signature, `iss`, `aud`; an expired hint is still a hint, as in
//! node-oidc-provider's `ignoreExpiration`) and hands the outcome here as a [`Hint`].
//!
//! The rules, with the conformance module each one answers (OpenID RP-Initiated Logout OP):
//! - a valid hint naming this browser's user (its `sub`) or session (its `sid`), or a browser
//!   with no session at all, logs out without asking (`oidcc-rp-initiated-logout`);
//! - no hint, an invalid one (modified, foreign, not ours: `…-modified-id-token-hint`,
//!   `…-bad-id-token-hint`) or a valid one naming someone else: the confirmation page,
//!   unless it is a same-origin navigation without any hint (today's same-site logout);
//! - the browser is sent to `post_logout_redirect_uri` only with a valid hint, and only when
//!   that URI is, as a string, one of the hint's client's `post_logout_redirect_uris`
//!   (`…-bad-post-logout-redirect-uri`, `…-query-added-to-post-logout-redirect-uri`,
//!   `…-no-id-token-hint`); `state` is appended to it (`…-no-state` has none);
//! - a `client_id` that is not an audience of a valid hint makes the hint untrusted;
//! - `ui_locales` and `logout_hint` are accepted and ignored; a repeated parameter makes the
//!   request untrusted (it is answered by the confirmation page, never a redirect).

use super::authorize::with_query;
use super::error::OAuthError;
use super::AuthServer;
use crate::config::ClientConfig;

/// The logout request's parameters (query of a GET, form of a POST).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogoutParams {
    pub id_token_hint: Option<String>,
    pub client_id: Option<String>,
    pub post_logout_redirect_uri: Option<String>,
    pub state: Option<String>,
    /// The gateway's own return path after a same-site logout (`?rd=`), kept from before
    /// RP-initiated logout; checked by `authn::return_to`.
    pub rd: Option<String>,
    /// One of the RP-Initiated Logout parameters came twice.
    pub repeated: bool,
}

impl LogoutParams {
    /// From `application/x-www-form-urlencoded` text (a query string or a form body). Empty
    /// values count as absent.
    pub fn parse(text: &[u8]) -> LogoutParams {
        let mut params = LogoutParams::default();
        for (key, value) in form_urlencoded::parse(text) {
            let slot = match key.as_ref() {
                "id_token_hint" => &mut params.id_token_hint,
                "client_id" => &mut params.client_id,
                "post_logout_redirect_uri" => &mut params.post_logout_redirect_uri,
                "state" => &mut params.state,
                "rd" => &mut params.rd,
                _ => continue,
            };
            if slot.is_some() {
                // The gateway's own `rd` keeps its first value, as it always did; a repeated
                // RP parameter makes the request untrusted.
                params.repeated |= key != "rd";
                continue;
            }
            if !value.is_empty() {
                *slot = Some(value.into_owned());
            }
        }
        params
    }
}

/// What a verified `id_token_hint` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HintClaims {
    pub sub: String,
    /// The session the ID token was issued in.
    pub sid: Option<String>,
    /// Its audiences (client ids).
    pub aud: Vec<String>,
}

/// The `id_token_hint`, as the adapter found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hint {
    Absent,
    /// Signature, `iss` and `aud` check out (expiry is not checked).
    Valid(HintClaims),
    /// Malformed, modified, signed by another key, another issuer, or for an unknown client.
    Invalid,
}

/// The session this browser has, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrowserSession {
    pub user: String,
    /// The `sid` its ID tokens carry, when known.
    pub sid: Option<String>,
}

/// How the request reached the endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// A GET the user made on this site or typed (`Sec-Fetch-Site: same-origin | none`).
    SameOriginNavigation,
    /// Anything else: a cross-site or unmarked GET, or a POST of an RP's parameters.
    Other,
}

/// What to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// End the session now, then send the browser to `redirect` (the client's registered
    /// URI with `state`), or show the signed-out page (or the same-site `rd`) when `None`.
    LogOut { redirect: Option<String> },
    /// Ask the person first. The confirmation form carries `redirect` (bound into its CSRF
    /// token), so that confirming a trusted request still returns to the client.
    Confirm { redirect: Option<String> },
}

/// The post-logout redirect URIs of a client, as the adapter looked them up.
pub trait LogoutClients {
    /// The registered `post_logout_redirect_uris` of `client_id`, empty for an unknown one.
    fn post_logout_redirect_uris(&self, client_id: &str) -> Vec<String>;
}

/// The one client a hint names (as [`AuthServer::logout_hint`] found it).
impl LogoutClients for Option<ClientConfig> {
    fn post_logout_redirect_uris(&self, client_id: &str) -> Vec<String> {
        match self {
            Some(client) if client.id == client_id => client.post_logout_redirect_uris.clone(),
            _ => Vec::new(),
        }
    }
}

impl AuthServer {
    /// A logout request's `id_token_hint` as a [`Hint`], with the client it was issued to:
    /// an ID token of ours (signature, `typ`, `iss`; expired or not) whose audience is a
    /// client we know. The cause of an invalid hint is logged, never the token.
    pub async fn logout_hint(
        &self,
        token: Option<&str>,
    ) -> Result<(Hint, Option<ClientConfig>), OAuthError> {
        let Some(token) = token else {
            return Ok((Hint::Absent, None));
        };
        let claims = match self.verify_id_token_hint(token, true) {
            Ok(claims) => claims,
            Err(reason) => {
                tracing::info!(reason = ?reason, "logout: the id_token_hint is not valid");
                return Ok((Hint::Invalid, None));
            }
        };
        let Some(client) = self.client(&claims.aud).await? else {
            tracing::info!(client_id = %claims.aud, reason = "unknown_client", "logout: the id_token_hint is not valid");
            return Ok((Hint::Invalid, None));
        };
        let hint = Hint::Valid(HintClaims {
            sub: claims.sub,
            sid: claims.sid,
            aud: vec![claims.aud],
        });
        Ok((hint, Some(client)))
    }
}

/// Decides a logout request.
pub fn decide(
    params: &LogoutParams,
    hint: &Hint,
    clients: &dyn LogoutClients,
    session: Option<&BrowserSession>,
    arrival: Arrival,
) -> Outcome {
    let trusted = match hint {
        Hint::Valid(claims) if !params.repeated => {
            let client_ok = params
                .client_id
                .as_ref()
                .is_none_or(|id| claims.aud.contains(id));
            client_ok.then_some(claims)
        }
        _ => None,
    };
    let Some(claims) = trusted else {
        let untrusted = params.repeated || *hint == Hint::Invalid;
        return match (arrival, untrusted, hint) {
            (Arrival::SameOriginNavigation, false, Hint::Absent) => {
                Outcome::LogOut { redirect: None }
            }
            _ => Outcome::Confirm { redirect: None },
        };
    };
    let redirect = redirect_target(params, claims, clients);
    let names_this_browser = session.is_none_or(|s| {
        s.user == claims.sub
            || s.sid
                .as_ref()
                .is_some_and(|sid| claims.sid.as_ref() == Some(sid))
    });
    if names_this_browser {
        Outcome::LogOut { redirect }
    } else {
        Outcome::Confirm { redirect }
    }
}

/// The client redirect of a trusted request: `post_logout_redirect_uri` when it is exactly a
/// registered URI of the client the hint was issued to (`client_id` when given, else the
/// hint's audience), with `state` appended.
fn redirect_target(
    params: &LogoutParams,
    claims: &HintClaims,
    clients: &dyn LogoutClients,
) -> Option<String> {
    let uri = params.post_logout_redirect_uri.as_deref()?;
    let client = match &params.client_id {
        Some(id) => id.as_str(),
        None => match claims.aud.as_slice() {
            [only] => only.as_str(),
            _ => return None,
        },
    };
    let registered = clients.post_logout_redirect_uris(client);
    if !registered.iter().any(|r| r == uri) {
        tracing::info!(client_id = %client, reason = "unregistered_post_logout_redirect_uri", "logout without a client redirect");
        return None;
    }
    Some(match &params.state {
        Some(state) => with_query(uri, &[("state", state)]),
        None => uri.to_owned(),
    })
}

#[cfg(test)]
mod tests;
