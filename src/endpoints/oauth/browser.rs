//! The pages a person sees at the authorization server: authorize (ask to sign in, ask for
//! consent, or issue the code), the login and consent form posts (logout is `logout.rs`).
//! Every form is CSRF-bound to this browser and must be a same-origin post; a session id is
//! new at every login (no fixation).

use std::net::IpAddr;

use http::header::HeaderMap;
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;

use super::form::{read_form, same_origin_post};
use super::{redirect, set_cookie};
use crate::endpoints::federation::Federation;
use crate::gateway_paths::{LOGIN_COOKIE, PRELOGIN_COOKIE};
use crate::http::body::Body;
use crate::http::cookie;
use crate::http::pages;
use crate::oauth::authorize::{AuthorizeError, AuthorizeRequest, SessionLogin};
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::login::LoginFailure;
use crate::oauth::oidc::prompt::{ConsentStep, LoginState, LoginStep};
use crate::oauth::AuthServer;
use crate::rescue::Rejection;
use crate::store::sign_in::SignIn;
use crate::store::SessionRecord;
use crate::tokens::opaque::{new_token, TokenHash, TOKEN_LEN};

/// This browser's login session (its id and record), if it is alive.
pub(super) async fn login_session(
    auth: &AuthServer,
    headers: &HeaderMap,
) -> Result<Option<(String, SessionRecord)>, Rejection> {
    let Some(id) = cookie::get(headers, LOGIN_COOKIE) else {
        return Ok(None);
    };
    let found = auth
        .touch_session(id)
        .await
        .map_err(|e| Rejection::OAuth(e.into()))?;
    // A person of a provider a reload removed is signed in no more: the login page again.
    let found = found.filter(|session| auth.provider_in_force(&session.user));
    Ok(found.map(|session| (id.to_owned(), session)))
}

/// What a code issued in the login session `id` says of that login.
fn session_login(id: &str, session: &SessionRecord) -> SessionLogin {
    SessionLogin {
        auth_time: session.created_at,
        sid: crate::oauth::oidc::session_sid(&TokenHash::of(id)),
        sign_in: session.sign_in.clone(),
    }
}

/// An authorization request (the query of a GET, or the form of a POST: OIDC Core
/// §3.1.2.1): sign in first, ask for consent, or issue the code, as the session and the
/// OpenID parameters (`oauth::oidc::prompt`) decide; `prompt=none` is answered without a page.
pub(super) async fn authorize(
    auth: &AuthServer,
    federation: &Federation,
    headers: &HeaderMap,
    query: &str,
) -> Result<Response<Body>, Rejection> {
    let request = match auth.check_authorize(query).await {
        Ok(request) => request,
        Err(err) => return authorize_error(auth, err),
    };
    let session = login_session(auth, headers).await?;
    let login = session.as_ref().map(|(_, s)| LoginState {
        user: &s.user,
        auth_time: s.created_at,
    });
    let hint = auth.judge_hint(request.oidc.id_token_hint.as_deref());
    match request.oidc.login_step(login.as_ref(), &hint, auth.now()) {
        LoginStep::ShowLogin => show_login(auth, federation, headers, query).await,
        LoginStep::Refuse(error) => refuse(auth, &request, &error),
        LoginStep::Proceed => match &session {
            Some((session_id, session)) => decide(auth, &request, session_id, session).await,
            None => show_login(auth, federation, headers, query).await,
        },
    }
}

/// The login page, or, when the request names a provider (`provider=` or `idp_hint=`),
/// straight to that provider's sign-in without the choice.
async fn show_login(
    auth: &AuthServer,
    federation: &Federation,
    headers: &HeaderMap,
    query: &str,
) -> Result<Response<Body>, Rejection> {
    match crate::endpoints::federation::hinted_provider(federation, query) {
        Some(id) => crate::endpoints::federation::start_for(federation, auth, id, query).await,
        None => Ok(login_page(auth, headers, query, None, "")),
    }
}

/// An error sent back to the client's registered URI.
fn refuse(
    auth: &AuthServer,
    request: &AuthorizeRequest,
    error: &OAuthError,
) -> Result<Response<Body>, Rejection> {
    let location = auth.error_redirect(&request.redirect_uri, error, request.state.as_deref());
    redirect(StatusCode::FOUND, &location)
}

pub(super) fn authorize_error(
    auth: &AuthServer,
    err: AuthorizeError,
) -> Result<Response<Body>, Rejection> {
    match err {
        AuthorizeError::Page(message) => Err(Rejection::AuthorizePage(message)),
        AuthorizeError::Redirect {
            redirect_uri,
            error,
            state,
        } => redirect(
            StatusCode::FOUND,
            &auth.error_redirect(&redirect_uri, &error, state.as_deref()),
        ),
    }
}

/// With a logged-in user: ask for consent, or issue the code.
async fn decide(
    auth: &AuthServer,
    request: &AuthorizeRequest,
    session_id: &str,
    session: &SessionRecord,
) -> Result<Response<Body>, Rejection> {
    if let Some(page) = super::factor::page_if_due(auth, request, session_id, session).await? {
        return Ok(page);
    }
    let user = session.user.as_str();
    let granted = auth
        .granted_scopes(request, user)
        .await
        .map_err(Rejection::OAuth)?;
    let needs = auth
        .needs_consent(request, user, &granted)
        .await
        .map_err(Rejection::OAuth)?;
    let step = request
        .oidc
        .consent_step(!needs, auth.first_party(&request.client_id));
    if let ConsentStep::Refuse(error) = step {
        return refuse(auth, request, &error);
    }
    if step == ConsentStep::ShowConsent {
        let client = auth
            .client(&request.client_id)
            .await
            .map_err(Rejection::OAuth)?;
        let client_name = client
            .as_ref()
            .map_or(request.client_id.as_str(), |c| c.name.as_str());
        let scopes: Vec<(String, String)> = granted
            .iter()
            .map(|s| (s.clone(), auth.scope_description(s)))
            .collect();
        let csrf = crate::oauth::consent::issue(&auth.csrf, session_id, &request.query, auth.now());
        return Ok(pages::consent(
            client_name,
            user,
            &scopes,
            &request.query,
            &csrf,
        ));
    }
    let location = auth
        .issue_code(request, user, &granted, &session_login(session_id, session))
        .await
        .map_err(Rejection::OAuth)?;
    redirect(StatusCode::FOUND, &location)
}

pub(super) fn login_page(
    auth: &AuthServer,
    headers: &HeaderMap,
    query: &str,
    error: Option<&str>,
    username: &str,
) -> Response<Body> {
    let (binding, fresh) = prelogin(headers);
    let csrf = auth.csrf.token("login", &[&binding]);
    let providers: Vec<(&str, &str)> = auth
        .providers
        .iter()
        .map(|p| (p.id.as_str(), p.name.as_str()))
        .collect();
    // Without local users only the providers are offered (and with neither, the form, so the
    // page is never empty).
    // The form, when someone can use it (or when there is no other way to offer).
    let password = auth.users.values().any(|u| u.password_hash.is_some()) || providers.is_empty();
    let passkey = auth.passkeys.is_some() && !auth.users.is_empty();
    let mut response = pages::login(query, &csrf, error, username, &providers, password, passkey);
    if fresh {
        set_prelogin(&mut response, &binding);
    }
    response
}

/// This browser's pre-login binding (what the login forms' CSRF tokens are bound to), and
/// whether it is new (then [`set_prelogin`] must set it).
pub(super) fn prelogin(headers: &HeaderMap) -> (String, bool) {
    match cookie::get(headers, PRELOGIN_COOKIE) {
        Some(existing) if existing.len() == TOKEN_LEN => (existing.to_owned(), false),
        _ => (new_token(), true),
    }
}

pub(super) fn set_prelogin(response: &mut Response<Body>, binding: &str) {
    set_cookie(response, cookie::set(PRELOGIN_COOKIE, binding, Some(3600)));
}

pub(super) async fn login(
    auth: &AuthServer,
    req: Request<Incoming>,
    peer: IpAddr,
) -> Result<Response<Body>, Rejection> {
    let (headers, form) = read_form(req).await?;
    let query = form.get("request").unwrap_or("").to_owned();
    let request = match auth.check_authorize(&query).await {
        Ok(request) => request,
        Err(err) => return authorize_error(auth, err),
    };
    let csrf_ok = cookie::get(&headers, PRELOGIN_COOKIE).is_some_and(|binding| {
        auth.csrf
            .verify(form.get("csrf").unwrap_or(""), "login", &[binding])
    });
    if !csrf_ok || !same_origin_post(&headers, &auth.settings.issuer) || form.repeated {
        return Ok(login_page(
            auth,
            &headers,
            &query,
            Some("The sign-in form expired. Please sign in again."),
            "",
        ));
    }
    let username = form.get("username").unwrap_or("");
    let password = form.get("password").unwrap_or("");
    let now = auth.now();
    let user = match auth
        .login
        .check(&auth.users, username, password, peer, now)
        .await
    {
        Ok(user) => user,
        Err(failure) => {
            auth.metrics.login_failed(match failure {
                LoginFailure::BadCredentials => "bad_credentials",
                LoginFailure::Throttled(_) => "throttled",
                LoginFailure::Unavailable => "unavailable",
            });
            let message = match failure {
                LoginFailure::BadCredentials => "Incorrect user name or password.",
                LoginFailure::Throttled(_) => {
                    "Too many failed attempts. Wait a moment and try again."
                }
                LoginFailure::Unavailable => "Sign-in is unavailable right now. Try again shortly.",
            };
            let mut page = login_page(auth, &headers, &query, Some(message), username);
            if let LoginFailure::Throttled(wait) = failure {
                *page.status_mut() = StatusCode::TOO_MANY_REQUESTS;
                page.headers_mut().insert(
                    http::header::RETRY_AFTER,
                    http::HeaderValue::from(wait.max(1)),
                );
            }
            return Ok(page);
        }
    };
    tracing::info!(client_id = %request.client_id, user = %user, "login succeeded");
    signed_in(auth, &headers, &user, &query, SignIn::password(now)).await
}

/// Signs `user` in on this browser and sends it back to the authorization request `query`:
/// what a successful password login does, and a sign-in through an upstream provider
/// (`endpoints::federation`) too.
pub(crate) async fn signed_in(
    auth: &AuthServer,
    headers: &HeaderMap,
    user: &str,
    query: &str,
    sign_in: SignIn,
) -> Result<Response<Body>, Rejection> {
    let now = auth.now();
    // A login replaces this browser's earlier one (`prompt=login`, `max_age`, another user).
    if let Some(earlier) = cookie::get(headers, LOGIN_COOKIE) {
        auth.store
            .delete_session(&TokenHash::of(earlier))
            .await
            .map_err(|e| Rejection::OAuth(e.into()))?;
    }
    // A new session id at every login (no fixation).
    let session_id = new_token();
    let record = SessionRecord {
        sign_in: Some(sign_in),
        factor_tries: 0,
        user: user.to_owned(),
        created_at: now,
        last_seen: now,
        scope: String::new(),
        family: None,
        person: None,
    };
    auth.store
        .put_session(TokenHash::of(&session_id), record)
        .await
        .map_err(|e| Rejection::OAuth(e.into()))?;
    // Back to the request, without what this login answered (`prompt=login`, `max_age`, …).
    let back = crate::oauth::oidc::prompt::after_login(query);
    let mut response = redirect(StatusCode::SEE_OTHER, &format!("/oauth2/authorize?{back}"))?;
    set_cookie(
        &mut response,
        cookie::set(LOGIN_COOKIE, &session_id, Some(auth.settings.session_max)),
    );
    set_cookie(&mut response, cookie::clear(PRELOGIN_COOKIE));
    Ok(response)
}

pub(super) async fn consent(
    auth: &AuthServer,
    req: Request<Incoming>,
) -> Result<Response<Body>, Rejection> {
    let (headers, form) = read_form(req).await?;
    let query = form.get("request").unwrap_or("").to_owned();
    let request = match auth.check_authorize(&query).await {
        Ok(request) => request,
        Err(err) => return authorize_error(auth, err),
    };
    let Some((session_id, session)) = login_session(auth, &headers).await? else {
        return Ok(login_page(auth, &headers, &query, None, ""));
    };
    let user = session.user.clone();
    let expired = || {
        Rejection::AuthorizePage(
            "The consent form expired or did not come from this site. Start again from the application.",
        )
    };
    if !same_origin_post(&headers, &auth.settings.issuer) || form.repeated {
        return Err(expired());
    }
    let ticket = crate::oauth::consent::check(
        &auth.csrf,
        form.get("csrf").unwrap_or(""),
        &session_id,
        &query,
        auth.now(),
    )
    .map_err(|_| expired())?;
    // A second factor the request still needs comes before the decision counts.
    if let Some(page) = super::factor::page_if_due(auth, &request, &session_id, &session).await? {
        return Ok(page);
    }
    // A decision answers its pending request once, across every gateway on this store: a
    // replayed form (double submit, back button, a copy) issues nothing.
    let first = auth
        .store
        .claim_once(&ticket.claim_key, ticket.expires_at, auth.now())
        .await
        .map_err(|e| Rejection::OAuth(e.into()))?;
    if !first {
        tracing::info!(client_id = %request.client_id, user = %user, "consent form replayed");
        return Err(Rejection::AuthorizePage(
            "This consent form was already answered. Start again from the application.",
        ));
    }
    if form.get("decision") != Some("approve") {
        let error = OAuthError::new(ErrorCode::AccessDenied, "the user denied access");
        let location = auth.error_redirect(&request.redirect_uri, &error, request.state.as_deref());
        return redirect(StatusCode::SEE_OTHER, &location);
    }
    let granted = auth
        .granted_scopes(&request, &user)
        .await
        .map_err(Rejection::OAuth)?;
    auth.store
        .put_consent(&user, &request.client_id, &granted)
        .await
        .map_err(|e| Rejection::OAuth(e.into()))?;
    let location = auth
        .issue_code(
            &request,
            &user,
            &granted,
            &session_login(&session_id, &session),
        )
        .await
        .map_err(Rejection::OAuth)?;
    redirect(StatusCode::SEE_OTHER, &location)
}
