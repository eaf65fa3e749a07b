//! Response builders for what the gateway answers itself, with the headers every such answer
//! carries: `no-store` caching, `nosniff`, and an explicit content type. The JSON answers
//! ([`json`]) and the redirects ([`redirect`]) of every surface are built here only.

use http::header::{self, HeaderValue};
use http::{Response, StatusCode};

use super::body::{full, Body};

/// Whether the client is a browser that wants a page (`Accept` names `text/html`): it gets
/// sign-in redirects and HTML answers; anything else gets status codes and JSON or text.
pub fn wants_html(headers: &http::HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

/// A short plain-text answer.
pub fn text(status: StatusCode, message: impl Into<String>) -> Response<Body> {
    let mut message = message.into();
    if !message.ends_with('\n') {
        message.push('\n');
    }
    with_type(status, "text/plain; charset=utf-8", message)
}

/// A body with the given content type.
pub fn with_type(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<bytes::Bytes>,
) -> Response<Body> {
    let mut response = Response::new(full(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// A JSON answer that no cache keeps: `Cache-Control: no-store` and `Pragma: no-cache`, as
/// RFC 6749 §5.1 asks of token responses, for every JSON answer of the gateway (the OAuth
/// endpoints and their errors, the admin API).
pub fn json(status: StatusCode, value: &impl serde::Serialize) -> Response<Body> {
    let body = serde_json::to_vec(value).unwrap_or_default();
    let mut response = with_type(status, "application/json", body);
    response
        .headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// A redirect to `location`, `no-store`; `None` when `location` is not a header value
/// (visible ASCII). The gateway's own URLs are percent-encoded and return paths are checked
/// for exactly that (`authn::return_to`), so only a caller's bug gets `None`.
pub fn redirect(status: StatusCode, location: &str) -> Option<Response<Body>> {
    let location = HeaderValue::from_str(location).ok()?;
    let mut response = Response::new(super::body::empty());
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::LOCATION, location);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Some(response)
}
