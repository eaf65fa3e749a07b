//! The authorization server's HTTP adapter: parses requests into the core's plain types
//! (`crate::oauth`) and turns its answers into responses. Refusals are `Rejection`s, answered
//! by `rescue` like every other. By surface: [`form`] reads and checks request bodies,
//! [`browser`] serves the pages a person sees (authorize, login, consent), [`logout`] the
//! `end_session_endpoint` (RP-Initiated Logout),
//! [`token_api`] the JSON API of clients (token, revoke, introspect, register), [`oidc`] the
//! OpenID provider's own (discovery, JWKS, UserInfo, authorization by POST).
//!
//! Paths: `/.well-known/oauth-authorization-server`, `/.well-known/openid-configuration`,
//! `/oauth2/authorize` (GET and POST), `/oauth2/login`, `/oauth2/consent`, `/oauth2/mfa` and
//! `/oauth2/mfa/enrol` (the second factor: [`factor`]), `/oauth2/mfa/passkey` and
//! `/oauth2/mfa/passkey/enrol` (a passkey as that factor: [`passkey`]), `/oauth2/passkey`
//! and `/oauth2/passkey/finish` (passwordless: [`passwordless`]), `/oauth2/account`,
//! `/oauth2/account/totp` and `/oauth2/account/passkey` (the account page: [`account`]),
//! `/oauth2/token`, `/oauth2/revoke`, `/oauth2/introspect`, `/oauth2/logout`,
//! `/oauth2/register`, `/oauth2/jwks`, `/oauth2/userinfo`, `/oauth2/assets/authgate.css`,
//! `/oauth2/assets/passkey.js`.

mod account;
pub mod browser;
mod factor;
pub mod form;
pub mod logout;
pub mod oidc;
mod passkey;
mod passwordless;
pub mod token_api;

use std::net::IpAddr;

use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;

use crate::gateway_paths::{
    ACCOUNT_PATH, AUTHORIZATION_SERVER_METADATA_PATH, JWKS_PATH, OPENID_CONFIGURATION_PATH,
    PASSKEY_SCRIPT_PATH, PASSKEY_SIGN_IN_PATH, STYLESHEET_PATH, USERINFO_PATH,
};
use crate::http::body::Body;
use crate::http::pages;
use crate::http::response;
use crate::oauth::AuthServer;
use crate::rescue::Rejection;
use browser::{authorize, consent, login};
use logout::logout;
use token_api::{introspect, register, revoke, token};

/// Serves one authorization-server request (the dispatcher sends those that
/// [`crate::gateway_paths::OWN_ENDPOINTS`] names `AuthorizationServer`).
pub async fn handle(
    auth: &AuthServer,
    federation: &crate::endpoints::federation::Federation,
    req: Request<Incoming>,
    path: &str,
    peer: IpAddr,
) -> Result<Response<Body>, Rejection> {
    let method = req.method().clone();
    match (path, &method) {
        (AUTHORIZATION_SERVER_METADATA_PATH, &Method::GET) => {
            Ok(response::json(StatusCode::OK, &auth.metadata()))
        }
        (STYLESHEET_PATH, &Method::GET) => Ok(pages::stylesheet()),
        (PASSKEY_SCRIPT_PATH, &Method::GET) => Ok(pages::passkey::script()),
        ("/oauth2/authorize", &Method::GET) => {
            let query = req.uri().query().unwrap_or("").to_owned();
            authorize(auth, federation, req.headers(), &query).await
        }
        ("/oauth2/authorize", &Method::POST) => oidc::authorize_post(auth, federation, req).await,
        (OPENID_CONFIGURATION_PATH, &Method::GET) => Ok(oidc::discovery(auth)),
        (JWKS_PATH, &Method::GET) => Ok(oidc::jwks(auth)),
        (USERINFO_PATH, &Method::GET | &Method::POST) => oidc::userinfo(auth, req).await,
        ("/oauth2/login", &Method::POST) => login(auth, req, peer).await,
        ("/oauth2/consent", &Method::POST) => consent(auth, req).await,
        ("/oauth2/mfa", &Method::POST) => factor::verify(auth, req).await,
        ("/oauth2/mfa/enrol", &Method::POST) => factor::enrol(auth, req).await,
        ("/oauth2/mfa/passkey", &Method::POST) => passkey::verify(auth, req).await,
        ("/oauth2/mfa/passkey/enrol", &Method::POST) => passkey::enrol(auth, req).await,
        (PASSKEY_SIGN_IN_PATH, &Method::GET) => {
            passwordless::start(auth, req.headers(), req.uri().query()).await
        }
        (PASSKEY_SIGN_IN_PATH, &Method::POST) => passwordless::named(auth, req, peer).await,
        ("/oauth2/passkey/finish", &Method::POST) => passwordless::finish(auth, req, peer).await,
        (ACCOUNT_PATH, &Method::GET) => account::show(auth, req.headers()).await,
        (ACCOUNT_PATH, &Method::POST) => account::act(auth, req).await,
        ("/oauth2/account/totp", &Method::POST) => account::confirm_totp(auth, req).await,
        ("/oauth2/account/passkey", &Method::POST) => account::add_passkey(auth, req).await,
        ("/oauth2/token", &Method::POST) => token(auth, req).await,
        ("/oauth2/revoke", &Method::POST) => revoke(auth, req).await,
        ("/oauth2/introspect", &Method::POST) => introspect(auth, req).await,
        ("/oauth2/logout", &Method::GET | &Method::POST) => logout(auth, req).await,
        ("/oauth2/register", &Method::POST) => register(auth, req).await,
        (
            AUTHORIZATION_SERVER_METADATA_PATH
            | OPENID_CONFIGURATION_PATH
            | JWKS_PATH
            | STYLESHEET_PATH
            | PASSKEY_SCRIPT_PATH,
            _,
        ) => Err(Rejection::MethodNotAllowed { allow: "GET" }),
        ("/oauth2/authorize" | USERINFO_PATH | PASSKEY_SIGN_IN_PATH | ACCOUNT_PATH, _) => {
            Err(Rejection::MethodNotAllowed { allow: "GET, POST" })
        }
        (
            "/oauth2/login"
            | "/oauth2/consent"
            | "/oauth2/mfa"
            | "/oauth2/mfa/enrol"
            | "/oauth2/mfa/passkey"
            | "/oauth2/mfa/passkey/enrol"
            | "/oauth2/passkey/finish"
            | "/oauth2/account/totp"
            | "/oauth2/account/passkey"
            | "/oauth2/token"
            | "/oauth2/revoke"
            | "/oauth2/introspect"
            | "/oauth2/register",
            _,
        ) => Err(Rejection::MethodNotAllowed { allow: "POST" }),
        ("/oauth2/logout", _) => Err(Rejection::MethodNotAllowed { allow: "GET, POST" }),
        _ => Err(Rejection::NoRoute),
    }
}

/// A redirect after a form post or an authorization decision.
pub(super) fn redirect(status: StatusCode, location: &str) -> Result<Response<Body>, Rejection> {
    let mut response = response::redirect(status, location).ok_or(Rejection::Internal)?;
    pages::secure_page_headers(&mut response);
    Ok(response)
}

pub(super) fn set_cookie(response: &mut Response<Body>, value: Option<HeaderValue>) {
    if let Some(value) = value {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}
