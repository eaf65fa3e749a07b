//! Passwordless sign-in with a passkey (contract §9), as HTTP: `GET /oauth2/passkey` asks
//! for the user name, its `POST` begins a ceremony with that user's passkeys
//! (`allowCredentials`, user verification required) and shows the passkey page, and
//! `POST /oauth2/passkey/finish` takes the answer. A verified passkey signs the user in as a
//! password would ([`super::browser::signed_in`]), with `amr` `hwk` or `swk` and `mfa`: the
//! authenticator verified the user, so no second step follows.
//!
//! The forms are CSRF-bound to this browser's pre-login cookie and must be same-origin
//! posts; the ceremony is bound to that cookie too, and taken once. Only `[[users]]` sign in
//! here (people of an upstream provider sign in there).
//!
//! The first step does not tell whether a user name has a passkey, or is a user at all: a
//! name without one is offered decoy credentials (`mfa::passkey`'s), the browser then finds
//! no passkey, and an answer fails as a wrong one does. Starts are throttled per peer and
//! per name (`oauth::passkey_starts`): past the free ones, the user-name page answers 429
//! with `Retry-After`.

use std::net::IpAddr;

use http::header::{HeaderMap, HeaderValue, RETRY_AFTER};
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;

use super::browser::{authorize_error, login_page, prelogin, set_prelogin, signed_in};
use super::form::{read_form, same_origin_post};
use super::passkey::{or_shown, Answer, Part};
use crate::http::body::Body;
use crate::http::pages::passkey::{passwordless_page, user_name_page};
use crate::mfa::passkey::Passkeys;
use crate::oauth::AuthServer;
use crate::rescue::Rejection;
use crate::store::passkeys::CeremonyPurpose;
use crate::store::sign_in::SignIn;
use crate::tokens::opaque::TokenHash;

const NO_PASSKEY: &str = "There is no passkey for that user name here. Sign in with your password.";
const NOT_ACCEPTED: &str = "The passkey was not accepted. Try again.";
const THROTTLED: &str = "Too many sign-in attempts. Wait a moment and try again.";

fn passkeys(auth: &AuthServer) -> Result<std::sync::Arc<Passkeys>, Rejection> {
    auth.passkeys.clone().ok_or(Rejection::NoRoute)
}

fn csrf(auth: &AuthServer, binding: &str) -> String {
    auth.csrf.token("passkey", &[binding])
}

/// The user-name page, with a pre-login cookie set when the browser has none.
fn user_name(
    auth: &AuthServer,
    headers: &HeaderMap,
    query: &str,
    error: Option<&str>,
    username: &str,
) -> Response<Body> {
    let (binding, fresh) = prelogin(headers);
    let mut page = user_name_page(query, &csrf(auth, &binding), error, username);
    if fresh {
        set_prelogin(&mut page, &binding);
    }
    page
}

/// `GET /oauth2/passkey?request=…`: the user name first.
pub(super) async fn start(
    auth: &AuthServer,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Result<Response<Body>, Rejection> {
    passkeys(auth)?;
    let request = query
        .and_then(|q| {
            form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "request")
                .map(|(_, v)| v.into_owned())
        })
        .unwrap_or_default();
    if let Err(err) = auth.check_authorize(&request).await {
        return authorize_error(auth, err);
    }
    Ok(user_name(auth, headers, &request, None, ""))
}

/// A checked passwordless form: the request it continues, this browser's binding, the
/// fields.
struct Posted {
    headers: HeaderMap,
    query: String,
    binding: String,
    username: String,
    answer: Answer,
}

async fn posted(
    auth: &AuthServer,
    req: Request<Incoming>,
) -> Result<Result<Posted, Response<Body>>, Rejection> {
    let (headers, form) = read_form(req).await?;
    let query = form.get("request").unwrap_or("").to_owned();
    if let Err(err) = auth.check_authorize(&query).await {
        return authorize_error(auth, err).map(Err);
    }
    let binding = crate::http::cookie::get(&headers, crate::gateway_paths::PRELOGIN_COOKIE)
        .map(str::to_owned);
    let csrf_ok = binding.as_deref().is_some_and(|binding| {
        auth.csrf
            .verify(form.get("csrf").unwrap_or(""), "passkey", &[binding])
    });
    let Some(binding) = binding.filter(|_| csrf_ok) else {
        let message = "The sign-in form expired. Please sign in again.";
        return Ok(Err(login_page(auth, &headers, &query, Some(message), "")));
    };
    if !same_origin_post(&headers, &auth.settings.issuer) || form.repeated {
        let message = "The sign-in form expired. Please sign in again.";
        return Ok(Err(login_page(auth, &headers, &query, Some(message), "")));
    }
    let username = form
        .get("username")
        .filter(|u| u.len() <= 256)
        .unwrap_or("")
        .to_owned();
    Ok(Ok(Posted {
        answer: Answer::of(&form),
        headers,
        query,
        binding,
        username,
    }))
}

/// What a ceremony begun for this browser is bound to.
fn ceremony_binding(binding: &str) -> String {
    TokenHash::of(&format!("passwordless\n{binding}")).to_hex()
}

/// `POST /oauth2/passkey`: the user name; the passkey page, the same for every name.
pub(super) async fn named(
    auth: &AuthServer,
    req: Request<Incoming>,
    peer: IpAddr,
) -> Result<Response<Body>, Rejection> {
    let passkeys = passkeys(auth)?;
    let posted = match posted(auth, req).await? {
        Ok(posted) => posted,
        Err(response) => return Ok(response),
    };
    let user = posted.username.trim();
    let now = auth.now();
    if let Err(wait) = auth.login.passkey_starts.start(peer, user, now) {
        tracing::info!(peer = %peer, reason = "passkey_throttled", "passwordless sign-in refused");
        auth.metrics.login_failed("passkey_throttled");
        let mut page = user_name(auth, &posted.headers, &posted.query, Some(THROTTLED), user);
        *page.status_mut() = StatusCode::TOO_MANY_REQUESTS;
        page.headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(wait.max(1)));
        return Ok(page);
    }
    let begun = passkeys
        .begin_passwordless(
            auth.store.as_ref(),
            user,
            auth.users.contains_key(user),
            &ceremony_binding(&posted.binding),
            now,
        )
        .await;
    let Some(begun) = or_shown(begun)? else {
        tracing::info!(reason = "no_passkey", "passwordless sign-in refused");
        let page = user_name(auth, &posted.headers, &posted.query, Some(NO_PASSKEY), user);
        return Ok(page);
    };
    let hidden = vec![
        ("csrf", csrf(auth, &posted.binding)),
        ("request", posted.query.clone()),
    ];
    let part = Part::new(
        "/oauth2/passkey/finish",
        false,
        begun,
        hidden,
        "Your passkey",
        "Sign in with a passkey",
    );
    Ok(part.with(|form| passwordless_page(user, form)))
}

/// `POST /oauth2/passkey/finish`: the passkey's answer; signed in when it verifies.
pub(super) async fn finish(
    auth: &AuthServer,
    req: Request<Incoming>,
    peer: IpAddr,
) -> Result<Response<Body>, Rejection> {
    let passkeys = passkeys(auth)?;
    let posted = match posted(auth, req).await? {
        Ok(posted) => posted,
        Err(response) => return Ok(response),
    };
    let now = auth.now();
    let proved = passkeys
        .finish_sign_in(
            auth.store.as_ref(),
            CeremonyPurpose::Passwordless,
            &ceremony_binding(&posted.binding),
            None,
            posted.answer.reply(),
            now,
        )
        .await;
    // Removed from the configuration meanwhile: not signed in.
    let proved = or_shown(proved)?.filter(|p| auth.users.contains_key(&p.user));
    let Some(proved) = proved else {
        auth.metrics.login_failed("passkey_refused");
        return Ok(user_name(
            auth,
            &posted.headers,
            &posted.query,
            Some(NOT_ACCEPTED),
            "",
        ));
    };
    tracing::info!(user = %proved.user, method = proved.method, "passwordless sign-in succeeded");
    auth.login.passkey_starts.succeeded(peer, &proved.user);
    let sign_in = SignIn::passkey(proved.method, proved.user_verified, now);
    signed_in(auth, &posted.headers, &proved.user, &posted.query, sign_in).await
}
