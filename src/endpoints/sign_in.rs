//! The HTTP side of the gateway's own sign-in (`authn::flow` holds the steps): the redirect
//! that starts it, at `/oauth2/start` or from a session route, and the answer to
//! `/oauth2/callback`, which sets the session cookie and sends the browser back where it
//! started. A refused callback is a [`SignInRefused`] for `rescue`.

use http::header::{self, HeaderMap, HeaderValue};
use http::{Response, StatusCode};

use crate::authn::flow::{self, SignInRefused, FLOW_TTL_SECS};
use crate::gateway_paths::SESSION_COOKIE;
use crate::http::body::{empty, Body};
use crate::http::cookie;
use crate::oauth::AuthServer;

/// `GET /oauth2/start?rd=/path`: the sign-in redirect, returning to `rd` (validated) after.
pub fn start_from_query(auth: &AuthServer, query: Option<&str>) -> Response<Body> {
    let rd = query
        .and_then(|q| {
            form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "rd")
                .map(|(_, v)| v.into_owned())
        })
        .unwrap_or_else(|| "/".to_owned());
    start(auth, &rd)
}

/// The redirect that sends a browser to sign in, returning to `return_to` afterwards.
pub fn start(auth: &AuthServer, return_to: &str) -> Response<Body> {
    let started = flow::begin(auth, return_to);
    let mut response = Response::new(empty());
    *response.status_mut() = StatusCode::FOUND;
    if let Ok(location) = HeaderValue::from_str(&started.authorize_url) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    if let Some(set) = cookie::set(
        &started.cookie_name,
        &started.cookie_value,
        Some(FLOW_TTL_SECS),
    ) {
        response.headers_mut().append(header::SET_COOKIE, set);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
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
    let mut response = Response::new(empty());
    *response.status_mut() = StatusCode::SEE_OTHER;
    if let Ok(location) = HeaderValue::from_str(&signed_in.return_to) {
        response.headers_mut().insert(header::LOCATION, location);
    }
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
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
