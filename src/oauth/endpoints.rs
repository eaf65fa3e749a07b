//! The authorization server's HTTP adapter: parses requests into the core's plain types and
//! turns its answers into responses. Refusals go through `rescue` like every other.
//!
//! Paths: `/.well-known/oauth-authorization-server`, `/oauth2/authorize`, `/oauth2/login`,
//! `/oauth2/consent`, `/oauth2/token`, `/oauth2/revoke`, `/oauth2/introspect`,
//! `/oauth2/logout`, `/oauth2/assets/authgate.css`.
//!
//! Bounds: form and registration bodies at most 16 KiB, read within 10 s (a larger declared
//! `Content-Length` is answered 413 before any of the body is read); only
//! `application/x-www-form-urlencoded` (registration: `application/json`); a repeated
//! parameter is `invalid_request`.

use std::net::IpAddr;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;

use super::authorize::{AuthorizeError, AuthorizeRequest};
use super::clients::ClientCredentials;
use super::error::OAuthError;
use super::grants::TokenRequest;
use super::login::LoginFailure;
use super::registration::{ClientMetadata, RegistrationRefused};
use super::AuthServer;
use crate::authn::return_to::safe_return_path;
use crate::gateway_paths::{LOGIN_COOKIE, PRELOGIN_COOKIE, SESSION_COOKIE, STYLESHEET_PATH};
use crate::http::body::{full, read_bounded, Body, BodyReadError};
use crate::http::cookie;
use crate::http::pages;
use crate::rescue::Rejection;
use crate::store::SessionRecord;
use crate::tokens::opaque::{new_token, TokenHash};
use std::sync::Arc;

const MAX_FORM_BYTES: usize = 16 * 1024;
const FORM_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether `path` is served here.
pub fn serves(path: &str) -> bool {
    path.starts_with("/oauth2/") || path == "/.well-known/oauth-authorization-server"
}

/// Serves one authorization-server request.
pub async fn handle(
    auth: &AuthServer,
    req: Request<Incoming>,
    path: &str,
    peer: IpAddr,
) -> Result<Response<Body>, Rejection> {
    let method = req.method().clone();
    match (path, &method) {
        ("/.well-known/oauth-authorization-server", &Method::GET) => Ok(json(&auth.metadata())),
        (STYLESHEET_PATH, &Method::GET) => Ok(pages::stylesheet()),
        ("/oauth2/authorize", &Method::GET) => {
            let query = req.uri().query().unwrap_or("").to_owned();
            authorize(auth, req.headers(), &query).await
        }
        ("/oauth2/login", &Method::POST) => login(auth, req, peer).await,
        ("/oauth2/consent", &Method::POST) => consent(auth, req).await,
        ("/oauth2/token", &Method::POST) => token(auth, req).await,
        ("/oauth2/revoke", &Method::POST) => revoke(auth, req).await,
        ("/oauth2/introspect", &Method::POST) => introspect(auth, req).await,
        ("/oauth2/logout", &Method::GET | &Method::POST) => logout(auth, req).await,
        ("/oauth2/register", &Method::POST) => register(auth, req).await,
        ("/.well-known/oauth-authorization-server" | "/oauth2/authorize", _)
        | (STYLESHEET_PATH, _) => Err(Rejection::MethodNotAllowed { allow: "GET" }),
        (
            "/oauth2/login" | "/oauth2/consent" | "/oauth2/token" | "/oauth2/revoke"
            | "/oauth2/introspect" | "/oauth2/register",
            _,
        ) => Err(Rejection::MethodNotAllowed { allow: "POST" }),
        ("/oauth2/logout", _) => Err(Rejection::MethodNotAllowed { allow: "GET, POST" }),
        _ => Err(Rejection::NoRoute),
    }
}

/// A JSON answer that no cache keeps (RFC 6749 §5.1).
fn json(value: &impl serde::Serialize) -> Response<Body> {
    let body = serde_json::to_vec(value).unwrap_or_default();
    let mut response = Response::new(full(body));
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// A redirect after a form post or an authorization decision.
fn redirect(status: StatusCode, location: &str) -> Result<Response<Body>, Rejection> {
    let location = HeaderValue::from_str(location).map_err(|_| Rejection::Internal)?;
    let mut response = Response::new(crate::http::body::empty());
    *response.status_mut() = status;
    response.headers_mut().insert(header::LOCATION, location);
    pages::secure_page_headers(&mut response);
    Ok(response)
}

fn set_cookie(response: &mut Response<Body>, value: Option<HeaderValue>) {
    if let Some(value) = value {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

/// Whether the request's media type (before any parameters) is `media_type`.
fn has_media_type(headers: &HeaderMap, media_type: &str) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(media_type))
}

/// Reads the body of one of these endpoints: at most [`MAX_FORM_BYTES`] within
/// [`FORM_TIMEOUT`], a larger declared `Content-Length` refused with 413 before any of it is
/// read.
async fn read_body(body: Incoming) -> Result<Bytes, Rejection> {
    read_bounded(body, MAX_FORM_BYTES, FORM_TIMEOUT)
        .await
        .map_err(|err| match err {
            BodyReadError::TooLarge => Rejection::BodyTooLarge,
            BodyReadError::TimedOut | BodyReadError::Broken => Rejection::ClientBodyFailed,
        })
}

/// Reads an `application/x-www-form-urlencoded` body, bounded in size and time.
async fn read_form(req: Request<Incoming>) -> Result<(HeaderMap, Form), Rejection> {
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
async fn read_oauth_form(req: Request<Incoming>) -> Result<(HeaderMap, Form), Rejection> {
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
    repeated: bool,
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

    fn take(&self, name: &str) -> Option<String> {
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
fn same_origin_post(headers: &HeaderMap, origin: &str) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return site == "same-origin" || site == "none";
    }
    match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        Some(sent) => sent.eq_ignore_ascii_case(origin),
        None => true,
    }
}

/// The logged-in user of this browser, if its login session is alive.
async fn session_user(
    auth: &AuthServer,
    headers: &HeaderMap,
) -> Result<Option<(String, String)>, Rejection> {
    let Some(id) = cookie::get(headers, LOGIN_COOKIE) else {
        return Ok(None);
    };
    let found = auth
        .touch_session(id)
        .await
        .map_err(|e| Rejection::OAuth(e.into()))?;
    Ok(found.map(|session| (id.to_owned(), session.user)))
}

async fn authorize(
    auth: &AuthServer,
    headers: &HeaderMap,
    query: &str,
) -> Result<Response<Body>, Rejection> {
    let request = match auth.check_authorize(query).await {
        Ok(request) => request,
        Err(err) => return authorize_error(auth, err),
    };
    match session_user(auth, headers).await? {
        None => Ok(login_page(auth, headers, query, None, "")),
        Some((session_id, user)) => decide(auth, &request, &session_id, &user).await,
    }
}

fn authorize_error(auth: &AuthServer, err: AuthorizeError) -> Result<Response<Body>, Rejection> {
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
    user: &str,
) -> Result<Response<Body>, Rejection> {
    let granted = auth.granted_scopes(request, user);
    let needs = auth
        .needs_consent(request, user, &granted)
        .await
        .map_err(Rejection::OAuth)?;
    if needs {
        let client = auth
            .client(&request.client_id)
            .await
            .map_err(Rejection::OAuth)?;
        let client_name = client
            .as_ref()
            .map_or(request.client_id.as_str(), |c| c.name.as_str());
        let scopes: Vec<(String, String)> = granted
            .iter()
            .map(|s| {
                (
                    s.clone(),
                    auth.scopes.get(s).cloned().unwrap_or_else(|| s.clone()),
                )
            })
            .collect();
        let csrf = super::consent::issue(&auth.csrf, session_id, &request.query, auth.now());
        return Ok(pages::consent(
            client_name,
            user,
            &scopes,
            &request.query,
            &csrf,
        ));
    }
    let location = auth
        .issue_code(request, user, &granted)
        .await
        .map_err(Rejection::OAuth)?;
    redirect(StatusCode::FOUND, &location)
}

fn login_page(
    auth: &AuthServer,
    headers: &HeaderMap,
    query: &str,
    error: Option<&str>,
    username: &str,
) -> Response<Body> {
    let (binding, fresh) = match cookie::get(headers, PRELOGIN_COOKIE) {
        Some(existing) if existing.len() == 43 => (existing.to_owned(), false),
        _ => (new_token(), true),
    };
    let csrf = auth.csrf.token("login", &[&binding]);
    let mut response = pages::login(query, &csrf, error, username);
    if fresh {
        set_cookie(
            &mut response,
            cookie::set(PRELOGIN_COOKIE, &binding, Some(3600)),
        );
    }
    response
}

async fn login(
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
            return Ok(login_page(auth, &headers, &query, Some(message), username));
        }
    };
    // A new session id at every login (no fixation).
    let session_id = new_token();
    let record = SessionRecord {
        user: user.clone(),
        created_at: now,
        last_seen: now,
        scope: String::new(),
        family: None,
    };
    auth.store
        .put_session(TokenHash::of(&session_id), record)
        .await
        .map_err(|e| Rejection::OAuth(e.into()))?;
    tracing::info!(client_id = %request.client_id, user = %user, "login succeeded");
    let mut response = redirect(StatusCode::SEE_OTHER, &format!("/oauth2/authorize?{query}"))?;
    set_cookie(
        &mut response,
        cookie::set(LOGIN_COOKIE, &session_id, Some(auth.settings.session_max)),
    );
    set_cookie(&mut response, cookie::clear(PRELOGIN_COOKIE));
    Ok(response)
}

async fn consent(auth: &AuthServer, req: Request<Incoming>) -> Result<Response<Body>, Rejection> {
    let (headers, form) = read_form(req).await?;
    let query = form.get("request").unwrap_or("").to_owned();
    let request = match auth.check_authorize(&query).await {
        Ok(request) => request,
        Err(err) => return authorize_error(auth, err),
    };
    let Some((session_id, user)) = session_user(auth, &headers).await? else {
        return Ok(login_page(auth, &headers, &query, None, ""));
    };
    let expired = || {
        Rejection::AuthorizePage(
            "The consent form expired or did not come from this site. Start again from the application.",
        )
    };
    if !same_origin_post(&headers, &auth.settings.issuer) || form.repeated {
        return Err(expired());
    }
    let ticket = super::consent::check(
        &auth.csrf,
        form.get("csrf").unwrap_or(""),
        &session_id,
        &query,
        auth.now(),
    )
    .map_err(|_| expired())?;
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
        let error = OAuthError::new(
            super::error::ErrorCode::AccessDenied,
            "the user denied access",
        );
        let location = auth.error_redirect(&request.redirect_uri, &error, request.state.as_deref());
        return redirect(StatusCode::SEE_OTHER, &location);
    }
    let granted = auth.granted_scopes(&request, &user);
    auth.store
        .put_consent(&user, &request.client_id, &granted)
        .await
        .map_err(|e| Rejection::OAuth(e.into()))?;
    let location = auth
        .issue_code(&request, &user, &granted)
        .await
        .map_err(Rejection::OAuth)?;
    redirect(StatusCode::SEE_OTHER, &location)
}

async fn token(auth: &AuthServer, req: Request<Incoming>) -> Result<Response<Body>, Rejection> {
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
    Ok(json(&response))
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

async fn revoke(auth: &AuthServer, req: Request<Incoming>) -> Result<Response<Body>, Rejection> {
    let (client, token) = token_form(req).await?;
    auth.revoke(&token, &client)
        .await
        .map_err(Rejection::OAuth)?;
    Ok(json(&serde_json::json!({})))
}

async fn introspect(
    auth: &AuthServer,
    req: Request<Incoming>,
) -> Result<Response<Body>, Rejection> {
    let (client, token) = token_form(req).await?;
    let answer = auth
        .introspect(&token, &client)
        .await
        .map_err(Rejection::OAuth)?;
    Ok(json(&answer))
}

async fn register(auth: &AuthServer, req: Request<Incoming>) -> Result<Response<Body>, Rejection> {
    if auth.registration_token.is_none() {
        return Err(Rejection::NoRoute);
    }
    let metadata = Arc::from(crate::authn::resource_metadata::url_for(
        &auth.settings.issuer,
        "/",
    ));
    let token = match crate::authn::bearer::presented(req.headers()) {
        crate::authn::bearer::Presented::Bearer(token) => Some(token.to_owned()),
        _ => None,
    };
    if token.is_none() {
        return Err(Rejection::Unauthenticated {
            failure: crate::authn::AuthnFailure::Missing,
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
            super::error::ErrorCode::InvalidClientMetadata,
            "the body is not a JSON object of client metadata",
        ))
    })?;
    match auth.register(token.as_deref(), parsed).await {
        Ok(registered) => {
            let mut response = json(&registered);
            *response.status_mut() = StatusCode::CREATED;
            Ok(response)
        }
        Err(RegistrationRefused::Disabled) => Err(Rejection::NoRoute),
        Err(RegistrationRefused::Unauthorized) => Err(Rejection::Unauthenticated {
            failure: crate::authn::AuthnFailure::InvalidToken(
                "the initial access token is not valid",
            ),
            metadata,
        }),
        Err(RegistrationRefused::Invalid(err)) => Err(Rejection::OAuth(err)),
    }
}

async fn logout(auth: &AuthServer, req: Request<Incoming>) -> Result<Response<Body>, Rejection> {
    let is_post = req.method() == Method::POST;
    let session = session_user(auth, req.headers()).await?;
    let route_session = cookie::get(req.headers(), SESSION_COOKIE).map(str::to_owned);
    let return_to = req.uri().query().and_then(|q| {
        form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "rd")
            .map(|(_, v)| v.into_owned())
    });
    // The logout form is bound to whichever session this browser still has: the login
    // session, else the route session (which outlives it while the app is in use).
    let session_id = session
        .as_ref()
        .map(|(id, _)| id.clone())
        .or_else(|| route_session.clone())
        .unwrap_or_default();
    if is_post {
        let (headers, form) = read_form(req).await?;
        let csrf_ok = auth
            .csrf
            .verify(form.get("csrf").unwrap_or(""), "logout", &[&session_id]);
        if !csrf_ok || !same_origin_post(&headers, &auth.settings.issuer) {
            return Ok(pages::logout_confirm(
                &auth.csrf.token("logout", &[&session_id]),
            ));
        }
    } else {
        let site = req
            .headers()
            .get("sec-fetch-site")
            .and_then(|v| v.to_str().ok());
        // Only a navigation the user made on this site (or typed) logs out by GET.
        if !matches!(site, Some("same-origin" | "none")) {
            return Ok(pages::logout_confirm(
                &auth.csrf.token("logout", &[&session_id]),
            ));
        }
    }
    if let Some((id, user)) = session {
        auth.store
            .delete_session(&TokenHash::of(&id))
            .await
            .map_err(|e| Rejection::OAuth(e.into()))?;
        tracing::info!(user = %user, "logged out");
    }
    end_route_session(auth, &route_session).await?;
    let mut response = match return_to {
        Some(path) => redirect(StatusCode::SEE_OTHER, &safe_return_path(&path))?,
        None => pages::logged_out(),
    };
    set_cookie(&mut response, cookie::clear(LOGIN_COOKIE));
    set_cookie(&mut response, cookie::clear(SESSION_COOKIE));
    Ok(response)
}

/// Ends a protected-route session and revokes the tokens it came from.
async fn end_route_session(auth: &AuthServer, id: &Option<String>) -> Result<(), Rejection> {
    let Some(id) = id else {
        return Ok(());
    };
    let store_err = |e: crate::store::StoreError| Rejection::OAuth(e.into());
    let session = auth.touch_session(id).await.map_err(store_err)?;
    if let Some(family) = session.and_then(|session| session.family) {
        auth.store
            .revoke_family(&family, auth.now())
            .await
            .map_err(store_err)?;
    }
    auth.store
        .delete_session(&TokenHash::of(id))
        .await
        .map_err(store_err)
}
