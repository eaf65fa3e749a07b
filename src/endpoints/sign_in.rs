//! The HTTP side of the gateway's own sign-in (`authn::flow` holds the steps): the redirect
//! that starts it, at `/oauth2/start` or from a session route, and the answer to
//! `/oauth2/callback`, which sets the session cookie and sends the browser back where it
//! started. A refused callback is a [`SignInRefused`] for `rescue`.

use http::header::{self, HeaderMap};
use http::{Response, StatusCode};

use crate::authn::flow::{self, SignInRefused, FLOW_TTL_SECS};
use crate::gateway_paths::SESSION_COOKIE;
use crate::http::body::Body;
use crate::http::cookie;
use crate::http::response;
use crate::oauth::AuthServer;
use crate::rescue::{rescue, Rejection};

/// `GET /oauth2/start?rd=/path`: the sign-in redirect, returning to `rd` (validated) after.
pub fn start_from_query(auth: &AuthServer, query: Option<&str>) -> Response<Body> {
    let rd = query
        .and_then(|q| {
            form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "rd")
                .map(|(_, v)| v.into_owned())
        })
        .unwrap_or_else(|| "/".to_owned());
    start(auth, &rd, false)
}

/// The redirect that sends a browser to sign in, returning to `return_to` afterwards;
/// `second_factor`: the sign-in must include one (a step-up for a route with `mfa = true`).
pub fn start(auth: &AuthServer, return_to: &str, second_factor: bool) -> Response<Body> {
    redirect_to(flow::begin(auth, return_to, second_factor), "")
}

/// The sign-in redirect of a page that needs a fresh sign-in (the account page): the login
/// is asked for again (`prompt=login`), and the second factor when the person has one.
pub fn start_fresh(auth: &AuthServer, return_to: &str) -> Response<Body> {
    redirect_to(flow::begin(auth, return_to, false), "&prompt=login")
}

/// The redirect to `started`'s authorization request (with `extra` parameters), setting its
/// flow cookie.
fn redirect_to(started: flow::Started, extra: &str) -> Response<Body> {
    let url = format!("{}{extra}", started.authorize_url);
    let Some(mut response) = response::redirect(StatusCode::FOUND, &url) else {
        return rescue(Rejection::Internal);
    };
    if let Some(set) = cookie::set(
        &started.cookie_name,
        &started.cookie_value,
        Some(FLOW_TTL_SECS),
    ) {
        response.headers_mut().append(header::SET_COOKIE, set);
    }
    response
}

/// Finishes the flow at `/oauth2/callback`.
pub async fn callback(
    auth: &AuthServer,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Result<Response<Body>, SignInRefused> {
    let signed_in = flow::finish(auth, headers, query.unwrap_or(""))
        .await
        .inspect_err(|refused| {
            tracing::info!(reason = refused.reason(), "sign-in callback refused");
        })?;
    let Some(mut response) = response::redirect(StatusCode::SEE_OTHER, &signed_in.return_to) else {
        return Ok(rescue(Rejection::Internal));
    };
    let h = response.headers_mut();
    let session = cookie::set(
        SESSION_COOKIE,
        &signed_in.session_id,
        Some(auth.settings.session_max),
    );
    if let Some(set) = session {
        h.append(header::SET_COOKIE, set);
    }
    if let Some(clear) = cookie::clear(&signed_in.flow_cookie) {
        h.append(header::SET_COOKIE, clear);
    }
    Ok(response)
}
