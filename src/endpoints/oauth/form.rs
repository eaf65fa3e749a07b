//! Request bodies of the authorization server's endpoints, read and checked before the core
//! sees them: form parsing (RFC 6749 §3.1, a repeated parameter noted), client credentials
//! from HTTP Basic or the form (§2.3.1), and the same-origin check of browser form posts.
//!
//! Bounds: form and registration bodies at most 16 KiB, read within 10 s (a larger declared
//! `Content-Length` is answered 413 before any of the body is read); only
//! `application/x-www-form-urlencoded` (registration: `application/json`); a repeated
//! parameter is `invalid_request` on the token side.

use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use bytes::Bytes;
use http::header::{self, HeaderMap};
use http::Request;
use hyper::body::Incoming;

use crate::http::body::{read_bounded, BodyReadError};
use crate::oauth::clients::ClientCredentials;
use crate::oauth::error::OAuthError;
use crate::rescue::Rejection;

const MAX_FORM_BYTES: usize = 16 * 1024;
const FORM_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether the request's media type (before any parameters) is `media_type`.
pub(super) fn has_media_type(headers: &HeaderMap, media_type: &str) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(media_type))
}

/// Reads the body of one of these endpoints: at most [`MAX_FORM_BYTES`] within
/// [`FORM_TIMEOUT`], a larger declared `Content-Length` refused with 413 before any of it is
/// read.
pub(super) async fn read_body(body: Incoming) -> Result<Bytes, Rejection> {
    read_bounded(body, MAX_FORM_BYTES, FORM_TIMEOUT)
        .await
        .map_err(|err| match err {
            BodyReadError::TooLarge => Rejection::BodyTooLarge,
            BodyReadError::TimedOut | BodyReadError::Broken => Rejection::ClientBodyFailed,
        })
}

/// Reads an `application/x-www-form-urlencoded` body, bounded in size and time.
pub(super) async fn read_form(req: Request<Incoming>) -> Result<(HeaderMap, Form), Rejection> {
    if !has_media_type(req.headers(), "application/x-www-form-urlencoded") {
        return Err(Rejection::OAuth(OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        )));
    }
    let (parts, body) = req.into_parts();
    let body = read_body(body).await?;
    Ok((parts.headers, Form::parse(body)))
}

/// A form for the token-side endpoints, where a repeated parameter is `invalid_request`
/// (RFC 6749 §3.2).
pub(super) async fn read_oauth_form(
    req: Request<Incoming>,
) -> Result<(HeaderMap, Form), Rejection> {
    let (headers, form) = read_form(req).await?;
    if form.repeated {
        return Err(Rejection::OAuth(OAuthError::invalid_request(
            "a parameter is repeated",
        )));
    }
    Ok((headers, form))
}

/// Form parameters, with repeats noted (RFC 6749 §3.1: parameters must not repeat).
pub(crate) struct Form {
    pairs: Vec<(String, String)>,
    pub(super) repeated: bool,
}

impl Form {
    pub(crate) fn parse(body: Bytes) -> Form {
        let mut pairs: Vec<(String, String)> = Vec::new();
        let mut repeated = false;
        for (k, v) in form_urlencoded::parse(&body) {
            if pairs.iter().any(|(seen, _)| *seen == k) {
                repeated = true;
            }
            pairs.push((k.into_owned(), v.into_owned()));
        }
        Form { pairs, repeated }
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub(super) fn take(&self, name: &str) -> Option<String> {
        self.get(name).filter(|v| !v.is_empty()).map(str::to_owned)
    }
}

/// Client credentials from HTTP Basic (RFC 6749 §2.3.1: form-urlencoded id and secret) or the
/// form; both at once is refused.
pub(crate) fn client_credentials(
    headers: &HeaderMap,
    form: &Form,
) -> Result<ClientCredentials, Rejection> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, rest) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("basic").then(|| rest.trim())
        });
    let form_secret = form.take("client_secret");
    match basic {
        Some(encoded) => {
            if form_secret.is_some() {
                return Err(Rejection::OAuth(OAuthError::invalid_request(
                    "use one client authentication method, not two",
                )));
            }
            let bad =
                || Rejection::OAuth(OAuthError::invalid_client("malformed Basic credentials"));
            let decoded = STANDARD.decode(encoded).map_err(|_| bad())?;
            let text = String::from_utf8(decoded).map_err(|_| bad())?;
            let (id, secret) = text.split_once(':').ok_or_else(bad)?;
            let id = form_decode(id);
            let secret = form_decode(secret);
            if form.take("client_id").is_some_and(|form_id| form_id != id) {
                return Err(Rejection::OAuth(OAuthError::invalid_request(
                    "client_id differs from the Basic credentials",
                )));
            }
            Ok(ClientCredentials {
                id: Some(id),
                secret: (!secret.is_empty()).then_some(secret),
            })
        }
        None => Ok(ClientCredentials {
            id: form.take("client_id"),
            secret: form_secret,
        }),
    }
}

pub(crate) fn form_decode(text: &str) -> String {
    form_urlencoded::parse(format!("x={text}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// A browser form post must come from our own pages (`Sec-Fetch-Site`, else `Origin`).
pub(super) fn same_origin_post(headers: &HeaderMap, origin: &str) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return site == "same-origin" || site == "none";
    }
    match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        Some(sent) => sent.eq_ignore_ascii_case(origin),
        None => true,
    }
}
