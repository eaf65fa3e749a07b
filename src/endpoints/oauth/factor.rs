//! The second step of a browser sign-in (contract §9), as HTTP: the code page and the
//! enrolment page the authorization request shows when the login session still needs a
//! second factor ([`page_if_due`]), and their form posts, `POST /oauth2/mfa` and
//! `POST /oauth2/mfa/enrol`. The checks themselves are `mfa::SecondFactors`'.
//!
//! The pending state is the login session itself: signed in with a password (`amr` `pwd`),
//! not yet enough for a request that needs a second factor. Its forms are CSRF-bound to it
//! and must be same-origin posts. A correct code replaces it by a new session (new id, no
//! fixation) whose sign-in adds `otp` and `mfa`; a step-up is this same page for a live
//! login session, so the password is not asked again. Each login session allows
//! `mfa::throttle::TRIES_PER_LOGIN` wrong codes, then it ends and the person starts over with
//! the password; wrong codes also count in the store, per user, for every gateway.
//!
//! With passkeys on, the code page also offers the user's passkeys and the enrolment page a
//! passkey registration (their posts are `passkey.rs`'s, and end in [`accepted`] too).

use http::header::HeaderMap;
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;

use super::browser::{authorize_error, login_page, login_session};
use super::form::{read_form, same_origin_post};
use super::{redirect, set_cookie};
use crate::authn::flow::SignInRefused;
use crate::gateway_paths::LOGIN_COOKIE;
use crate::http::body::Body;
use crate::http::cookie;
use crate::http::pages::factor::{self, Enrolment};
use crate::mfa::{throttle, Due, Refused};
use crate::oauth::authorize::AuthorizeRequest;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::AuthServer;
use crate::rescue::Rejection;
use crate::store::sign_in::SignIn;
use crate::store::SessionRecord;
use crate::tokens::opaque::{new_token, TokenHash};

const WRONG: &str = "That code is not right, or was already used. Try the next one.";
const TOO_MANY: &str = "Too many wrong codes. Sign in again.";

/// How the login session signed in (a session stored before second factors: a password at
/// its start).
fn sign_in_of(session: &SessionRecord) -> SignIn {
    session
        .sign_in
        .clone()
        .unwrap_or_else(|| SignIn::password(session.created_at))
}

fn unavailable() -> Rejection {
    Rejection::SignIn(SignInRefused::StoreUnavailable)
}

fn csrf(auth: &AuthServer, session_id: &str) -> String {
    auth.csrf.token("mfa", &[session_id])
}

/// Whether `request` needs a second factor of this login session: the user's entry says so
/// (`mfa = true`), or the request does (`acr_values`, as the gateway's own sign-in for a
/// route with `mfa = true` sends it). A user with a factor is always asked for it.
async fn due(
    auth: &AuthServer,
    request: &AuthorizeRequest,
    session: &SessionRecord,
) -> Result<Due, Rejection> {
    if sign_in_of(session).has_second_factor() {
        return Ok(Due::Nothing);
    }
    let required =
        request.oidc.second_factor || auth.users.get(&session.user).is_some_and(|u| u.mfa);
    auth.factors
        .due(auth.store.as_ref(), &session.user, required, auth.now())
        .await
        .map_err(|_| unavailable())
}

/// The page the login session `session_id` must pass before `request` proceeds, if any:
/// the code page, or the enrolment page. `prompt=none` gets `login_required` instead.
pub(super) async fn page_if_due(
    auth: &AuthServer,
    request: &AuthorizeRequest,
    session_id: &str,
    session: &SessionRecord,
) -> Result<Option<Response<Body>>, Rejection> {
    let due = due(auth, request, session).await?;
    if due == Due::Nothing {
        return Ok(None);
    }
    if request.oidc.prompt.none {
        let error = OAuthError::new(
            ErrorCode::LoginRequired,
            "prompt=none, and the user must give a second factor",
        );
        let location = auth.error_redirect(&request.redirect_uri, &error, request.state.as_deref());
        return redirect(StatusCode::FOUND, &location).map(Some);
    }
    let csrf = csrf(auth, session_id);
    let page = Shown {
        session_id,
        user: &session.user,
        query: &request.query,
        csrf: &csrf,
    };
    Ok(Some(match due {
        Due::Enrol => enrol_page(auth, &page, None).await?,
        _ => code_page(auth, &page, None).await?,
    }))
}

/// Whose second-factor page is shown, for what.
pub(super) struct Shown<'a> {
    /// The login session (what a passkey ceremony is bound to).
    pub(super) session_id: &'a str,
    pub(super) user: &'a str,
    /// The pending authorization request.
    pub(super) query: &'a str,
    pub(super) csrf: &'a str,
}

/// The enrolment page: the secret pending, or a new one when none is (or it expired). A
/// page shown again (reloaded, or opened by a cross-site navigation) keeps the secret the
/// person may have scanned already.
pub(super) async fn enrol_page(
    auth: &AuthServer,
    page: &Shown<'_>,
    error: Option<&str>,
) -> Result<Response<Body>, Rejection> {
    let (user, query, csrf) = (page.user, page.query, page.csrf);
    let store = auth.store.as_ref();
    let now = auth.now();
    let provisioning = auth
        .factors
        .pending_or_new_enrolment(store, user, now)
        .await
        .map_err(|_| unavailable())?;
    let enrolment = Enrolment {
        uri: &provisioning.uri,
        secret_base32: &provisioning.secret_base32,
        qr_svg: &provisioning.qr_svg,
    };
    let part = super::passkey::registration_part(auth, page).await?;
    Ok(match &part {
        Some(part) => {
            part.with(|form| factor::enrol(user, &enrolment, query, csrf, error, Some(form)))
        }
        None => factor::enrol(user, &enrolment, query, csrf, error, None),
    })
}

/// A checked second-factor form: the request it continues and the login session it is for.
pub(super) struct Posted {
    pub(super) headers: HeaderMap,
    pub(super) query: String,
    code: String,
    pub(super) session_id: String,
    pub(super) session: SessionRecord,
    /// The CSRF token of the re-shown page.
    pub(super) csrf: String,
    /// A passkey form's fields: the ceremony id, the browser's answer, the new key's label.
    pub(super) passkey: super::passkey::Answer,
}

/// Reads and checks a second-factor form post; `Err(response)` answers it already (the
/// login page when the session is gone or the form is stale).
pub(super) async fn posted(
    auth: &AuthServer,
    req: Request<Incoming>,
) -> Result<Result<Posted, Response<Body>>, Rejection> {
    let (headers, form) = read_form(req).await?;
    let query = form.get("request").unwrap_or("").to_owned();
    if let Err(err) = auth.check_authorize(&query).await {
        return authorize_error(auth, err).map(Err);
    }
    let Some((session_id, session)) = login_session(auth, &headers).await? else {
        let message = "The sign-in took too long. Please sign in again.";
        return Ok(Err(login_page(auth, &headers, &query, Some(message), "")));
    };
    let csrf_ok = auth
        .csrf
        .verify(form.get("csrf").unwrap_or(""), "mfa", &[&session_id]);
    if !csrf_ok || !same_origin_post(&headers, &auth.settings.issuer) || form.repeated {
        let message = "The form expired. Please sign in again.";
        return Ok(Err(login_page(auth, &headers, &query, Some(message), "")));
    }
    // Longer than any code: checked as an empty one (wrong, and counted).
    let code = form.get("code").filter(|c| c.len() <= 64).unwrap_or("");
    Ok(Ok(Posted {
        csrf: csrf(auth, &session_id),
        code: code.to_owned(),
        passkey: super::passkey::Answer::of(&form),
        headers,
        query,
        session_id,
        session,
    }))
}

/// Replaces the login session by one whose sign-in includes the second factor `method`.
/// Returns the new session's id.
async fn upgrade(auth: &AuthServer, posted: &Posted, method: &str) -> Result<String, Rejection> {
    upgrade_session(auth, &posted.session_id, &posted.session, method).await
}

/// Replaces the login session `session_id` by one whose sign-in adds the second factor
/// `method` (a new id: no fixation). Returns the new session's id.
pub(super) async fn upgrade_session(
    auth: &AuthServer,
    session_id: &str,
    session: &SessionRecord,
    method: &str,
) -> Result<String, Rejection> {
    let now = auth.now();
    let record = SessionRecord {
        sign_in: Some(sign_in_of(session).with_second_factor(method, now)),
        factor_tries: 0,
        last_seen: now,
        ..session.clone()
    };
    let store = &auth.store;
    store
        .delete_session(&TokenHash::of(session_id))
        .await
        .map_err(|_| unavailable())?;
    let id = new_token();
    store
        .put_session(TokenHash::of(&id), record)
        .await
        .map_err(|_| unavailable())?;
    tracing::info!(user = %session.user, method, "second factor accepted");
    Ok(id)
}

/// A wrong code: counted in the login session; past the limit the session ends and the
/// login page asks for the password again. `Ok(None)`: the caller shows its page again.
async fn wrong_code(
    auth: &AuthServer,
    posted: &Posted,
) -> Result<Option<Response<Body>>, Rejection> {
    auth.metrics.login_failed("wrong_second_factor");
    let tries = posted.session.factor_tries.saturating_add(1);
    let id = TokenHash::of(&posted.session_id);
    if tries >= throttle::TRIES_PER_LOGIN {
        auth.store
            .delete_session(&id)
            .await
            .map_err(|_| unavailable())?;
        tracing::info!(user = %posted.session.user, reason = "too_many_codes", "login session ended");
        let mut page = login_page(auth, &posted.headers, &posted.query, Some(TOO_MANY), "");
        set_cookie(&mut page, cookie::clear(LOGIN_COOKIE));
        return Ok(Some(page));
    }
    let record = SessionRecord {
        factor_tries: tries,
        ..posted.session.clone()
    };
    auth.store
        .put_session(id, record)
        .await
        .map_err(|_| unavailable())?;
    Ok(None)
}

/// Which form was posted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// `POST /oauth2/mfa`: a code at sign-in.
    Verify,
    /// `POST /oauth2/mfa/enrol`: the first code of a new secret.
    Enrol,
}

/// `POST /oauth2/mfa`: a code at sign-in.
pub(super) async fn verify(
    auth: &AuthServer,
    req: Request<Incoming>,
) -> Result<Response<Body>, Rejection> {
    answer(auth, req, Step::Verify).await
}

/// `POST /oauth2/mfa/enrol`: the first code of a new secret.
pub(super) async fn enrol(
    auth: &AuthServer,
    req: Request<Incoming>,
) -> Result<Response<Body>, Rejection> {
    answer(auth, req, Step::Enrol).await
}

async fn answer(
    auth: &AuthServer,
    req: Request<Incoming>,
    step: Step,
) -> Result<Response<Body>, Rejection> {
    let posted = match posted(auth, req).await? {
        Ok(posted) => posted,
        Err(response) => return Ok(response),
    };
    let (store, user, now) = (auth.store.as_ref(), &posted.session.user, auth.now());
    let checked = match step {
        Step::Verify => auth
            .factors
            .verify(store, user, &posted.code, now)
            .await
            .map(|method| (method, None)),
        Step::Enrol => auth
            .factors
            .confirm(store, user, &posted.code, now)
            .await
            .map(|codes| (crate::store::sign_in::AMR_OTP, Some(codes))),
    };
    match checked {
        Ok((method, codes)) => accepted(auth, &posted, method, codes).await,
        Err(Refused::Wrong) => match wrong_code(auth, &posted).await? {
            Some(page) => Ok(page),
            None => again(auth, &posted, step, WRONG).await,
        },
        Err(Refused::Throttled(wait)) => {
            auth.metrics.login_failed("second_factor_throttled");
            let message = format!("Too many wrong codes. Wait {wait} seconds and try again.");
            again(auth, &posted, step, &message).await
        }
        // Removed meanwhile (a reset): the request decides again.
        Err(Refused::NoFactor) if step == Step::Verify => redirect(
            StatusCode::SEE_OTHER,
            &format!("/oauth2/authorize?{}", posted.query),
        ),
        // The pending secret expired.
        Err(Refused::NoFactor) => {
            let message = "The set-up took too long. Here is a new key.";
            again(auth, &posted, Step::Enrol, message).await
        }
        Err(Refused::Unavailable) => Err(unavailable()),
    }
}

/// A second factor `method` accepted: the login session upgraded, then on to the request
/// (through the recovery codes, once, when an enrolment made them).
pub(super) async fn accepted(
    auth: &AuthServer,
    posted: &Posted,
    method: &str,
    codes: Option<Vec<String>>,
) -> Result<Response<Body>, Rejection> {
    let id = upgrade(auth, posted, method).await?;
    let back = crate::oauth::oidc::prompt::after_login(&posted.query);
    let next = format!("/oauth2/authorize?{back}");
    let mut response = match codes {
        None => redirect(StatusCode::SEE_OTHER, &next)?,
        Some(codes) => factor::recovery_codes(&codes, &next),
    };
    set_cookie(
        &mut response,
        cookie::set(LOGIN_COOKIE, &id, Some(auth.settings.session_max)),
    );
    Ok(response)
}

/// The posted page again, with `error`.
async fn again(
    auth: &AuthServer,
    posted: &Posted,
    step: Step,
    error: &str,
) -> Result<Response<Body>, Rejection> {
    let page = Shown {
        session_id: &posted.session_id,
        user: &posted.session.user,
        query: &posted.query,
        csrf: &posted.csrf,
    };
    match step {
        Step::Verify => code_page(auth, &page, Some(error)).await,
        Step::Enrol => enrol_page(auth, &page, Some(error)).await,
    }
}

/// The code page (with a passkey part for a user with passkeys).
pub(super) async fn code_page(
    auth: &AuthServer,
    page: &Shown<'_>,
    error: Option<&str>,
) -> Result<Response<Body>, Rejection> {
    let part = super::passkey::second_factor_part(auth, page).await?;
    Ok(match &part {
        Some(part) => {
            part.with(|form| factor::code(page.user, page.query, page.csrf, error, Some(form)))
        }
        None => factor::code(page.user, page.query, page.csrf, error, None),
    })
}
