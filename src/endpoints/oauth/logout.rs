//! `/oauth2/logout`, the `end_session_endpoint` (RP-Initiated Logout 1.0, contract §3 and
//! §7): reads the request (GET query, or a POST form: the RP's parameters, or the
//! confirmation page's submission), has `oauth::logout` decide, and then ends the sessions,
//! clears the cookies and answers with the client's redirect, the same-site `rd`, or the
//! signed-out page.
//!
//! Ending a session: the login session is deleted, the protected-route session is deleted
//! and the refresh family behind it revoked (its tokens stop working on the next request),
//! and the relying parties with a `backchannel_logout_uri` are sent a logout token for the
//! login session (`endpoints::backchannel`, after the answer is decided, never awaited).
//! The confirmation page's form is bound by its CSRF token to this browser's session and to
//! the client redirect the request earned (empty unless the `id_token_hint` was valid), so
//! its submission can neither come from another site nor redirect anywhere else.

use http::header::HeaderMap;
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;

use super::form::{has_media_type, read_body, same_origin_post, Form};
use super::{redirect, set_cookie};
use crate::authn::return_to::safe_return_path;
use crate::endpoints::backchannel;
use crate::gateway_paths::{LOGIN_COOKIE, SESSION_COOKIE};
use crate::http::body::Body;
use crate::http::cookie;
use crate::http::pages;
use crate::oauth::error::OAuthError;
use crate::oauth::logout::{decide, Arrival, BrowserSession, LogoutParams, Outcome};
use crate::oauth::oidc::session_sid;
use crate::oauth::AuthServer;
use crate::rescue::Rejection;
use crate::store::{SessionRecord, StoreError};
use crate::tokens::opaque::TokenHash;

/// The CSRF purpose of the confirmation form.
const PURPOSE: &str = "logout";

/// A live session of this browser: its cookie value and record.
struct Live {
    id: String,
    record: SessionRecord,
}

/// The sessions this browser holds.
struct Sessions {
    /// The authorization server's login session.
    login: Option<Live>,
    /// A protected-route session (it outlives the login session while the app is in use).
    route: Option<Live>,
}

impl Sessions {
    async fn of(auth: &AuthServer, headers: &HeaderMap) -> Result<Sessions, Rejection> {
        Ok(Sessions {
            login: live(auth, cookie::get(headers, LOGIN_COOKIE)).await?,
            route: live(auth, cookie::get(headers, SESSION_COOKIE)).await?,
        })
    }

    /// What the confirmation form is bound to: the login session, else the route session.
    fn binding(&self) -> &str {
        self.login
            .as_ref()
            .or(self.route.as_ref())
            .map_or("", |s| s.id.as_str())
    }

    /// Who this browser is signed in as, and the `sid` its ID tokens carry.
    fn browser(&self) -> Option<BrowserSession> {
        if let Some(login) = &self.login {
            return Some(BrowserSession {
                user: login.record.user.clone(),
                sid: Some(session_sid(&TokenHash::of(&login.id))),
            });
        }
        self.route.as_ref().map(|route| BrowserSession {
            user: route.record.user.clone(),
            sid: None,
        })
    }
}

async fn live(auth: &AuthServer, id: Option<&str>) -> Result<Option<Live>, Rejection> {
    let Some(id) = id else {
        return Ok(None);
    };
    let record = auth.touch_session(id).await.map_err(store_error)?;
    Ok(record.map(|record| Live {
        id: id.to_owned(),
        record,
    }))
}

fn store_error(e: StoreError) -> Rejection {
    Rejection::OAuth(OAuthError::from(e))
}

/// What arrived: an RP's (or a person's) logout request, or the confirmation form.
enum Arrived {
    Ask(LogoutParams, Arrival),
    /// The confirmation form, and whether it was posted from our own pages.
    Confirmed {
        csrf: String,
        redirect: String,
        same_origin: bool,
    },
}

pub(super) async fn logout(
    auth: &AuthServer,
    req: Request<Incoming>,
) -> Result<Response<Body>, Rejection> {
    let sessions = Sessions::of(auth, req.headers()).await?;
    let outcome = match read(auth, req).await? {
        Arrived::Confirmed {
            csrf,
            redirect,
            same_origin,
        } => {
            let bound = [sessions.binding(), redirect.as_str()];
            if same_origin && auth.csrf.verify(&csrf, PURPOSE, &bound) {
                Outcome::LogOut {
                    redirect: (!redirect.is_empty()).then_some(redirect),
                }
            } else {
                Outcome::Confirm { redirect: None }
            }
        }
        Arrived::Ask(params, arrival) => {
            let (hint, client) = auth
                .logout_hint(params.id_token_hint.as_deref())
                .await
                .map_err(Rejection::OAuth)?;
            let outcome = decide(
                &params,
                &hint,
                &client,
                sessions.browser().as_ref(),
                arrival,
            );
            match (outcome, params.rd) {
                // The same-site return path, kept from before RP-initiated logout, applies
                // when no client redirect was earned.
                (Outcome::LogOut { redirect: None }, Some(rd)) => Outcome::LogOut {
                    redirect: Some(safe_return_path(&rd)),
                },
                (outcome, _) => outcome,
            }
        }
    };
    match outcome {
        Outcome::Confirm { redirect } => {
            let target = redirect.unwrap_or_default();
            let csrf = auth
                .csrf
                .token(PURPOSE, &[sessions.binding(), target.as_str()]);
            Ok(pages::logout_confirm(
                &csrf,
                (!target.is_empty()).then_some(target.as_str()),
            ))
        }
        Outcome::LogOut { redirect: target } => {
            end_sessions(auth, sessions).await?;
            let mut response = match target {
                Some(location) => redirect(StatusCode::SEE_OTHER, &location)?,
                None => pages::logged_out(),
            };
            set_cookie(&mut response, cookie::clear(LOGIN_COOKIE));
            set_cookie(&mut response, cookie::clear(SESSION_COOKIE));
            Ok(response)
        }
    }
}

/// What the request is, from its method, query or form.
async fn read(auth: &AuthServer, req: Request<Incoming>) -> Result<Arrived, Rejection> {
    if req.method() != Method::POST {
        let site = req
            .headers()
            .get("sec-fetch-site")
            .and_then(|v| v.to_str().ok());
        // Only a navigation the user made on this site (or typed) is trusted without a hint.
        let arrival = match site {
            Some("same-origin" | "none") => Arrival::SameOriginNavigation,
            _ => Arrival::Other,
        };
        let params = LogoutParams::parse(req.uri().query().unwrap_or("").as_bytes());
        return Ok(Arrived::Ask(params, arrival));
    }
    if !has_media_type(req.headers(), "application/x-www-form-urlencoded") {
        return Err(Rejection::OAuth(OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        )));
    }
    let (parts, body) = req.into_parts();
    let body = read_body(body).await?;
    let same_origin = same_origin_post(&parts.headers, &auth.settings.issuer);
    let form = Form::parse(body.clone());
    Ok(match form.get("csrf") {
        // A repeated field makes the confirmation fail: the page is shown again.
        Some(csrf) => Arrived::Confirmed {
            csrf: csrf.to_owned(),
            redirect: form.get("redirect").unwrap_or("").to_owned(),
            same_origin: same_origin && !form.repeated,
        },
        // An RP's logout request by POST (RP-Initiated Logout §2): only a valid hint spares
        // the confirmation.
        None => Arrived::Ask(LogoutParams::parse(&body), Arrival::Other),
    })
}

/// Ends the login session and the route session, revoking the family behind the latter, and
/// tells the relying parties of the login session's user (Back-Channel Logout).
async fn end_sessions(auth: &AuthServer, sessions: Sessions) -> Result<(), Rejection> {
    if let Some(login) = sessions.login {
        auth.store
            .delete_session(&TokenHash::of(&login.id))
            .await
            .map_err(store_error)?;
        tracing::info!(user = %login.record.user, "logged out");
        let sid = session_sid(&TokenHash::of(&login.id));
        match auth.logout_notices(&login.record.user, Some(&sid)).await {
            Ok(notices) => backchannel::send(notices),
            Err(err) => {
                tracing::warn!(user = %login.record.user, error = %err.description, "back-channel logout not sent");
            }
        }
    }
    if let Some(route) = sessions.route {
        if let Some(family) = &route.record.family {
            auth.store
                .revoke_family(family, auth.now())
                .await
                .map_err(store_error)?;
        }
        auth.store
            .delete_session(&TokenHash::of(&route.id))
            .await
            .map_err(store_error)?;
    }
    Ok(())
}
