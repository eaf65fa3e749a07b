//! The JSON API of clients: the token endpoint (RFC 6749 §3.2), revocation (RFC 7009),
//! introspection (RFC 7662) and dynamic registration (RFC 7591, behind an initial access
//! token). Answers are JSON that no cache keeps; refusals are OAuth errors for `rescue`.

use std::sync::Arc;

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;

use super::form::{client_credentials, has_media_type, read_body, read_oauth_form};
use crate::authn::bearer::{self, Presented};
use crate::authn::AuthnFailure;
use crate::endpoints::resource_metadata;
use crate::http::body::Body;
use crate::http::response;
use crate::oauth::clients::ClientCredentials;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::grants::TokenRequest;
use crate::oauth::registration::{ClientMetadata, RegistrationRefused};
use crate::oauth::AuthServer;
use crate::rescue::Rejection;

pub(super) async fn token(
    auth: &AuthServer,
    req: Request<Incoming>,
) -> Result<Response<Body>, Rejection> {
    let (headers, form) = read_oauth_form(req).await?;
    let request = TokenRequest {
        grant_type: form.take("grant_type"),
        code: form.take("code"),
        redirect_uri: form.take("redirect_uri"),
        code_verifier: form.take("code_verifier"),
        refresh_token: form.take("refresh_token"),
        scope: form.take("scope"),
        client: client_credentials(&headers, &form)?,
    };
    let response = auth.token(request).await.map_err(Rejection::OAuth)?;
    Ok(response::json(StatusCode::OK, &response))
}

/// The body of a revocation or introspection request: the caller's credentials and `token`.
async fn token_form(req: Request<Incoming>) -> Result<(ClientCredentials, String), Rejection> {
    let (headers, form) = read_oauth_form(req).await?;
    let client = client_credentials(&headers, &form)?;
    let token = form
        .take("token")
        .ok_or(Rejection::OAuth(OAuthError::invalid_request(
            "token is required",
        )))?;
    Ok((client, token))
}

pub(super) async fn revoke(
    auth: &AuthServer,
    req: Request<Incoming>,
) -> Result<Response<Body>, Rejection> {
    let (client, token) = token_form(req).await?;
    auth.revoke(&token, &client)
        .await
        .map_err(Rejection::OAuth)?;
    Ok(response::json(StatusCode::OK, &serde_json::json!({})))
}

pub(super) async fn introspect(
    auth: &AuthServer,
    req: Request<Incoming>,
) -> Result<Response<Body>, Rejection> {
    let (client, token) = token_form(req).await?;
    let answer = auth
        .introspect(&token, &client)
        .await
        .map_err(Rejection::OAuth)?;
    Ok(response::json(StatusCode::OK, &answer))
}

pub(super) async fn register(
    auth: &AuthServer,
    req: Request<Incoming>,
) -> Result<Response<Body>, Rejection> {
    if auth.registration_token.is_none() {
        return Err(Rejection::NoRoute);
    }
    let metadata = Arc::from(resource_metadata::url_for(&auth.settings.issuer, "/"));
    let token = match bearer::presented(req.headers()) {
        // Bytes that are not UTF-8 are no token.
        Presented::Bearer(token) => std::str::from_utf8(token).ok().map(str::to_owned),
        _ => None,
    };
    if token.is_none() {
        return Err(Rejection::Unauthenticated {
            failure: AuthnFailure::Missing,
            metadata,
        });
    }
    if !has_media_type(req.headers(), "application/json") {
        return Err(Rejection::OAuth(OAuthError::invalid_request(
            "the body must be application/json",
        )));
    }
    let body = read_body(req.into_body()).await?;
    let parsed: ClientMetadata = serde_json::from_slice(&body).map_err(|_| {
        Rejection::OAuth(OAuthError::new(
            ErrorCode::InvalidClientMetadata,
            "the body is not a JSON object of client metadata",
        ))
    })?;
    match auth.register(token.as_deref(), parsed).await {
        Ok(registered) => {
            let mut response = response::json(StatusCode::OK, &registered);
            *response.status_mut() = StatusCode::CREATED;
            Ok(response)
        }
        Err(RegistrationRefused::Disabled) => Err(Rejection::NoRoute),
        Err(RegistrationRefused::Unauthorized) => Err(Rejection::Unauthenticated {
            failure: AuthnFailure::InvalidToken("the initial access token is not valid"),
            metadata,
        }),
        Err(RegistrationRefused::Invalid(err)) => Err(Rejection::OAuth(err)),
    }
}
