//! Forward authentication for teams that keep their own proxy: nginx `auth_request`,
//! Traefik `forwardAuth`, Caddy `forward_auth` ask `GET /oauth2/auth` and get 202 with the
//! identity headers for a valid session or bearer token, 401 (403 for a missing scope)
//! otherwise. `?scope=a b` names the scopes required, all of them. The decision is
//! `authn::decide`'s, as for a route; this is only its HTTP answer.

use http::header::HeaderMap;
use http::{Response, StatusCode};
use std::sync::Arc;

use crate::authn::{decide, AuthnFailure, Callers};
use crate::config::AuthMode;
use crate::http::body::Body;
use crate::http::response;
use crate::oauth::AuthServer;
use crate::rescue::Rejection;

pub async fn check(
    auth: &AuthServer,
    callers: &Callers,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Result<Response<Body>, Rejection> {
    let scopes: Vec<String> = query
        .map(|q| {
            form_urlencoded::parse(q.as_bytes())
                .filter(|(k, _)| k == "scope")
                .flat_map(|(_, v)| {
                    v.split(' ')
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect::<Vec<_>>()
                })
                .collect()
        })
        .unwrap_or_default();
    // The proxy in front passes the original request's headers; its query is not ours.
    let decided = decide(
        auth,
        callers,
        AuthMode::Session,
        &scopes,
        &[],
        headers,
        None,
    )
    .await;
    let identity = match decided {
        Ok(identity) => identity,
        Err(failure) => {
            let failure = match failure {
                // A proxy asks, not a browser: never a redirect from here.
                AuthnFailure::LoginRequired => AuthnFailure::Missing,
                other => other,
            };
            return Err(Rejection::Unauthenticated {
                failure,
                metadata: Arc::from(super::resource_metadata::url_for(
                    &auth.settings.issuer,
                    "/",
                )),
            });
        }
    };
    let mut res = response::text(StatusCode::ACCEPTED, "Accepted.");
    crate::proxy::identity_headers::insert(res.headers_mut(), &identity);
    Ok(res)
}
