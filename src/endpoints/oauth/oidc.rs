//! The OpenID Connect provider's HTTP adapters (core: `crate::oauth::oidc`): the discovery
//! document (`/.well-known/openid-configuration`), the published keys (`/oauth2/jwks`), and
//! UserInfo (`/oauth2/userinfo`, GET and POST).
//!
//! UserInfo takes the access token from the `Authorization: Bearer` header (RFC 6750 §2.1),
//! or from an `access_token` field of a POSTed `application/x-www-form-urlencoded` body
//! (§2.2); never from the query string (refused, as at every bearer route), and never by two
//! methods at once (`invalid_request`). Its refusals are RFC 6750 §3 challenges:
//! `invalid_token` (401), `insufficient_scope` (403) for a token without `openid`.
//!
//! The JWKS is the key set's bytes, built once per key-set version and served from memory,
//! cacheable for `tokens::jose::JWKS_MAX_AGE_SECS` (a key is published that long before it
//! signs).

use std::sync::Arc;

use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;

use super::form::{has_media_type, read_body, Form};
use crate::authn::bearer::{self, Presented};
use crate::authn::AuthnFailure;
use crate::endpoints::resource_metadata;
use crate::http::body::Body;
use crate::http::response;
use crate::oauth::error::OAuthError;
use crate::oauth::oidc::userinfo::UserInfoRefused;
use crate::oauth::AuthServer;
use crate::rescue::Rejection;
use crate::tokens::jose::JWKS_MAX_AGE_SECS;

/// Why a bearer credential that is no token is refused (as `authn::decide` says it).
const MALFORMED: &str = "the Authorization header is malformed";

/// `GET /.well-known/openid-configuration`.
pub(super) fn discovery(auth: &AuthServer) -> Response<Body> {
    response::json(StatusCode::OK, &auth.openid_configuration())
}

/// `GET /oauth2/jwks`: RFC 7517 §5, `application/jwk-set+json`, cacheable.
pub(super) fn jwks(auth: &AuthServer) -> Response<Body> {
    let mut response = response::with_type(
        StatusCode::OK,
        "application/jwk-set+json",
        auth.signing.snapshot().jwks(),
    );
    if let Ok(value) = HeaderValue::from_str(&format!("public, max-age={JWKS_MAX_AGE_SECS}")) {
        response.headers_mut().insert(header::CACHE_CONTROL, value);
    }
    response
}

/// `GET` or `POST /oauth2/userinfo`.
pub(super) async fn userinfo(
    auth: &AuthServer,
    req: Request<Incoming>,
) -> Result<Response<Body>, Rejection> {
    let metadata: Arc<str> = Arc::from(resource_metadata::url_for(&auth.settings.issuer, "/"));
    let refused = |failure: AuthnFailure| Rejection::Unauthenticated {
        failure,
        metadata: metadata.clone(),
    };
    if bearer::token_in_query(req.uri().query()) {
        return Err(refused(AuthnFailure::TokenInQuery));
    }
    let header = match bearer::presented(req.headers()) {
        Presented::Bearer(token) => match std::str::from_utf8(token) {
            Ok(token) => Some(token.to_owned()),
            Err(_) => return Err(refused(AuthnFailure::InvalidToken(MALFORMED))),
        },
        Presented::None | Presented::OtherScheme => None,
        Presented::Malformed => return Err(refused(AuthnFailure::InvalidToken(MALFORMED))),
    };
    let in_body = if req.method() == Method::POST
        && has_media_type(req.headers(), "application/x-www-form-urlencoded")
    {
        let form = Form::parse(read_body(req.into_body()).await?);
        if form.repeated {
            return Err(Rejection::OAuth(OAuthError::invalid_request(
                "a parameter is repeated",
            )));
        }
        form.take("access_token")
    } else {
        None
    };
    let token = match (header, in_body) {
        (Some(_), Some(_)) => {
            return Err(Rejection::OAuth(OAuthError::invalid_request(
                "send the access token one way, not two (RFC 6750 §2)",
            )))
        }
        (Some(token), None) | (None, Some(token)) => token,
        (None, None) => return Err(refused(AuthnFailure::Missing)),
    };
    match auth.userinfo(&token).await {
        Ok(info) => Ok(response::json(StatusCode::OK, &info)),
        Err(UserInfoRefused::InvalidToken(why)) => Err(refused(AuthnFailure::InvalidToken(why))),
        Err(UserInfoRefused::InsufficientScope) => Err(refused(AuthnFailure::InsufficientScope(
            crate::oauth::oidc::OPENID.to_owned(),
        ))),
        Err(UserInfoRefused::StoreUnavailable) => Err(refused(AuthnFailure::StoreUnavailable)),
    }
}

/// `POST /oauth2/authorize`: an authorization request sent as a form (OIDC Core §3.1.2.1),
/// answered exactly as the same parameters in a GET's query. It is a new request, not a
/// form submission of ours: no CSRF token is involved, and nothing it can do is more than a
/// GET can (the login and consent forms keep their own checks).
pub(super) async fn authorize_post(
    auth: &AuthServer,
    federation: &crate::endpoints::federation::Federation,
    req: Request<Incoming>,
) -> Result<Response<Body>, Rejection> {
    if !has_media_type(req.headers(), "application/x-www-form-urlencoded") {
        return Err(Rejection::AuthorizePage(
            "An authorization request sent by POST must be a form (application/x-www-form-urlencoded).",
        ));
    }
    let (parts, body) = req.into_parts();
    let body = read_body(body).await?;
    // Re-encoded, so that the query the login page carries and the redirect after it
    // rebuild is percent-encoded ASCII whatever bytes the form held.
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form_urlencoded::parse(&body))
        .finish();
    super::browser::authorize(auth, federation, &parts.headers, &query).await
}
