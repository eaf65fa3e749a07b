//! The one place where a refusal becomes a status code, headers and a public message.
//!
//! Modules fail with their own small error types ([`PathRejection`], [`UpstreamError`]);
//! they never choose a status. [`rescue`] does, in one match, in the pingora manner: the
//! client's fault is 4xx, the upstream's is 502/504, ours would be 500. Clients get a fixed
//! message; the access log gets the typed reason through [`RejectionReason`] in the response
//! extensions. No message here ever holds a request value, so none can leak a credential.

use http::header::{self, HeaderValue};
use http::{Response, StatusCode};

use std::sync::Arc;

use crate::authn::flow::SignInRefused;
use crate::authn::AuthnFailure;
use crate::federation::admit::Refusal;
use crate::federation::refused::FederationRefused;
use crate::http::body::{Body, BodyReadError};
use crate::http::head::{HeadRejection, FORWARDED_METHODS};
use crate::http::pages;
use crate::http::path::PathRejection;
use crate::http::response;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::proxy::forward::{SendError, UpstreamError};

/// Why the gateway answered a request itself instead of forwarding it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// The request head breaks a rule of its own (host, framing, a method never forwarded).
    Head(HeadRejection),
    /// The path is not one the gateway will route.
    Path(PathRejection),
    /// No route matches.
    NoRoute,
    /// A protected route's caller is not authenticated or lacks a scope. `metadata` is the
    /// RFC 9728 resource metadata URL named in the challenge.
    Unauthenticated {
        failure: AuthnFailure,
        metadata: Arc<str>,
    },
    /// A WebSocket upgrade on a session route from a page of another origin: it must not ride
    /// the session cookie.
    CrossSiteUpgrade,
    /// The declared or streamed body is larger than the route (or the gateway's own endpoint)
    /// allows.
    BodyTooLarge,
    /// The upstream failed.
    Upstream(UpstreamError),
    /// The client's own request body broke off while it was being forwarded.
    ClientBodyFailed,
    /// An OAuth endpoint refused the request (RFC 6749 §5.2 JSON).
    OAuth(OAuthError),
    /// An authorization request that must not redirect (unknown client, bad redirect URI).
    AuthorizePage(&'static str),
    /// The browser sign-in's callback could not be completed: a page says why.
    SignIn(SignInRefused),
    /// A sign-in through an upstream provider stopped before the gates: a page says why.
    Federation(FederationRefused),
    /// The gates of the provider refused the person (`federation::admit`): a 403 page
    /// naming the gate.
    NotAdmitted(Refusal),
    /// No rule of a route's `allow` list admits the caller `user` (`None`: a client acting
    /// for itself), who has the route's scopes: 403, as a page saying so (and who they are
    /// signed in as) when `page` (a browser on its session), else a short text; never a
    /// redirect, so a browser cannot loop back to sign in.
    NotAllowed { user: Option<String>, page: bool },
    /// The path exists, the method does not; `allow` is the `Allow` header's value
    /// (RFC 9110 §15.5.6: a 405 must carry it).
    MethodNotAllowed { allow: &'static str },
    /// A CORS preflight the route's (or endpoint's) `[routes.cors]` does not allow: its
    /// origin, method or a header (`crate::http::cors`); the reason names which.
    CorsPreflight(&'static str),
    /// A fault of the gateway itself.
    Internal,
    /// A request handler panicked (caught by the catch-panic layer): a bug, answered 500.
    Panic,
    /// `/healthz` while the token store cannot answer; the text says what is down (a store's
    /// own description: no request value, no secret), for the operator's load balancer.
    Unhealthy(String),
}

impl From<SignInRefused> for Rejection {
    fn from(refused: SignInRefused) -> Self {
        Rejection::SignIn(refused)
    }
}

impl From<FederationRefused> for Rejection {
    fn from(refused: FederationRefused) -> Self {
        Rejection::Federation(refused)
    }
}

impl From<HeadRejection> for Rejection {
    fn from(reason: HeadRejection) -> Self {
        Rejection::Head(reason)
    }
}

impl From<PathRejection> for Rejection {
    fn from(reason: PathRejection) -> Self {
        Rejection::Path(reason)
    }
}

impl From<UpstreamError> for Rejection {
    fn from(err: UpstreamError) -> Self {
        Rejection::Upstream(err)
    }
}

impl From<SendError> for Rejection {
    fn from(err: SendError) -> Self {
        match err {
            SendError::Upstream(err) => Rejection::Upstream(err),
            SendError::BodyTooLarge => Rejection::BodyTooLarge,
            SendError::ClientBroke => Rejection::ClientBodyFailed,
        }
    }
}

/// The reason a response was produced by the gateway, for the access log.
#[derive(Debug, Clone, Copy)]
pub struct RejectionReason(pub &'static str);

impl Rejection {
    /// A stable, secret-free name for logs and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Rejection::Head(reason) => match reason {
                HeadRejection::MissingHost
                | HeadRejection::RepeatedHost
                | HeadRejection::InvalidHost
                | HeadRejection::HostMismatch => "bad_host",
                HeadRejection::BadFraming => "bad_framing",
                HeadRejection::UnsupportedCoding => "unsupported_transfer_coding",
                HeadRejection::MethodRefused => "method_refused",
            },
            Rejection::Path(PathRejection::PathParameter) => "path_parameter",
            Rejection::Path(_) => "bad_path",
            Rejection::NoRoute => "no_route",
            Rejection::Unauthenticated { failure, .. } => match failure {
                AuthnFailure::Missing | AuthnFailure::LoginRequired => "not_authenticated",
                AuthnFailure::InvalidToken(_) => "invalid_token",
                AuthnFailure::TokenInQuery => "token_in_query",
                AuthnFailure::InsufficientScope(_) => "insufficient_scope",
                AuthnFailure::NotAllowed { .. } => "not_allowed",
                AuthnFailure::StoreUnavailable => "store_unavailable",
                AuthnFailure::StepUpRequired | AuthnFailure::InsufficientUserAuthentication => {
                    "insufficient_user_authentication"
                }
            },
            Rejection::CrossSiteUpgrade => "cross_site_upgrade",
            Rejection::BodyTooLarge => "body_too_large",
            Rejection::Upstream(UpstreamError::Unreachable) => "upstream_unreachable",
            Rejection::Upstream(UpstreamError::Timeout) => "upstream_timeout",
            Rejection::Upstream(UpstreamError::Failed) => "upstream_failed",
            Rejection::ClientBodyFailed => "client_body_failed",
            Rejection::OAuth(err) => err.code.as_str(),
            Rejection::AuthorizePage(_) => "authorize_refused",
            Rejection::SignIn(refused) => refused.reason(),
            Rejection::Federation(refused) => refused.reason(),
            Rejection::NotAdmitted(refusal) => refusal.reason(),
            Rejection::NotAllowed { .. } => "not_allowed",
            Rejection::MethodNotAllowed { .. } => "method_not_allowed",
            Rejection::CorsPreflight(reason) => reason,
            Rejection::Internal => "internal",
            Rejection::Panic => "panic",
            Rejection::Unhealthy(_) => "unhealthy",
        }
    }

    /// Whether the connection is closed after the answer (linkerd's `close_connection`): after
    /// a malformed request head or body the byte stream may be in any state, and after an
    /// unread declared body or a fault of ours it cannot be trusted either; a refusal of a
    /// well-formed request (401, 403, 404, 405, an upstream's 502/504) keeps it.
    pub fn closes_connection(&self) -> bool {
        match self {
            Rejection::Head(reason) => *reason != HeadRejection::MethodRefused,
            Rejection::Path(_)
            | Rejection::BodyTooLarge
            | Rejection::ClientBodyFailed
            | Rejection::Internal
            | Rejection::Panic => true,
            Rejection::NoRoute
            | Rejection::Unauthenticated { .. }
            | Rejection::CrossSiteUpgrade
            | Rejection::Upstream(_)
            | Rejection::OAuth(_)
            | Rejection::AuthorizePage(_)
            | Rejection::SignIn(_)
            | Rejection::Federation(_)
            | Rejection::NotAdmitted(_)
            | Rejection::NotAllowed { .. }
            | Rejection::MethodNotAllowed { .. }
            | Rejection::CorsPreflight(_)
            | Rejection::Unhealthy(_) => false,
        }
    }
}

/// Turns a refusal into the response the client sees.
pub fn rescue(rejection: Rejection) -> Response<Body> {
    let mut res = respond(&rejection);
    if rejection.closes_connection() {
        res.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    res.extensions_mut()
        .insert(RejectionReason(rejection.reason()));
    res
}

fn respond(rejection: &Rejection) -> Response<Body> {
    let (status, message): (StatusCode, &str) = match rejection {
        Rejection::OAuth(err) => return oauth_error(*err),
        Rejection::Unauthenticated { failure, metadata } => {
            return bearer_challenge(failure, metadata)
        }
        Rejection::AuthorizePage(message) => return pages::error(StatusCode::BAD_REQUEST, message),
        Rejection::SignIn(refused) => {
            let status = match refused {
                SignInRefused::Cancelled => StatusCode::FORBIDDEN,
                SignInRefused::Internal => StatusCode::INTERNAL_SERVER_ERROR,
                SignInRefused::StoreUnavailable => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::BAD_REQUEST,
            };
            return pages::error(status, refused.message());
        }
        Rejection::Federation(refused) => {
            let status = StatusCode::from_u16(refused.status()).unwrap_or(StatusCode::BAD_REQUEST);
            return pages::error(status, refused.message());
        }
        Rejection::NotAdmitted(refusal) => {
            return pages::not_admitted(refusal.gate(), refusal.message())
        }
        Rejection::NotAllowed {
            user: Some(user),
            page: true,
        } => return pages::not_allowed(user),
        Rejection::NotAllowed { .. } => (StatusCode::FORBIDDEN, NOT_ALLOWED),
        Rejection::MethodNotAllowed { allow } => return method_not_allowed(allow),
        Rejection::CorsPreflight(_) => return cors_preflight_refused(),
        Rejection::Head(HeadRejection::MethodRefused) => {
            return method_not_allowed(FORWARDED_METHODS)
        }
        Rejection::Head(HeadRejection::UnsupportedCoding) => {
            return response::text(
                StatusCode::NOT_IMPLEMENTED,
                format!("Not implemented: {}.", HeadRejection::UnsupportedCoding),
            )
        }
        Rejection::Head(reason) => {
            return response::text(StatusCode::BAD_REQUEST, format!("Bad request: {reason}."))
        }
        Rejection::Path(reason) => {
            return response::text(StatusCode::BAD_REQUEST, format!("Bad request: {reason}."))
        }
        Rejection::Unhealthy(down) => {
            return response::text(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("unavailable: {down}"),
            )
        }
        Rejection::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "Internal error."),
        Rejection::Panic => (StatusCode::INTERNAL_SERVER_ERROR, "Internal error."),
        Rejection::NoRoute => (
            StatusCode::NOT_FOUND,
            "Not found: no route serves this path.",
        ),
        Rejection::CrossSiteUpgrade => (
            StatusCode::FORBIDDEN,
            "Forbidden: a WebSocket on a session route must come from the gateway's own origin.",
        ),
        Rejection::BodyTooLarge => (
            StatusCode::PAYLOAD_TOO_LARGE,
            "Payload too large: the request body exceeds this route's limit.",
        ),
        Rejection::Upstream(UpstreamError::Unreachable) => (
            StatusCode::BAD_GATEWAY,
            "Bad gateway: the upstream server could not be reached.",
        ),
        Rejection::Upstream(UpstreamError::Timeout) => (
            StatusCode::GATEWAY_TIMEOUT,
            "Gateway timeout: the upstream server did not answer in time.",
        ),
        Rejection::Upstream(UpstreamError::Failed) => (
            StatusCode::BAD_GATEWAY,
            "Bad gateway: the upstream server broke off its answer.",
        ),
        Rejection::ClientBodyFailed => (
            StatusCode::BAD_REQUEST,
            "Bad request: the request body could not be read.",
        ),
    };
    response::text(status, message)
}

/// The text answer of a route's `allow` list to an API client (or a browser not asking for
/// HTML).
const NOT_ALLOWED: &str =
    "Forbidden: this route admits only some people, and you are not among them.";

/// RFC 9110 §15.5.6: a 405 names the methods the target does support.
fn method_not_allowed(allow: &'static str) -> Response<Body> {
    let mut res = response::text(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed.");
    res.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    res
}

/// A refused CORS preflight: 204 without any `Access-Control-Allow-*` header, the way
/// tower-http's `CorsLayer` answers every preflight itself and only leaves its headers out
/// (it says 200 with an empty body; 204 says the same, and matches the allowed answer). The Fetch
/// standard's CORS check (§4.10) fails on the missing `Access-Control-Allow-Origin` alone,
/// whatever the status, so no status could make it pass; answering it here keeps an
/// unauthenticated `OPTIONS` from a page of any origin away from the upstream, and away from
/// a 401 that only looks like a CORS answer.
fn cors_preflight_refused() -> Response<Body> {
    let mut res = Response::new(crate::http::body::empty());
    *res.status_mut() = StatusCode::NO_CONTENT;
    res.headers_mut()
        .insert(header::VARY, crate::http::cors::VARY_PREFLIGHT.clone());
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// Why the admin listener refused a request. Answered by [`admin_rescue`] as JSON
/// `{"error": MESSAGE}` with a fixed message; a store error's cause goes to the log where it
/// happened, never to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminRejection {
    /// No admin token, or the wrong one.
    Unauthorized,
    NotFound,
    MethodNotAllowed {
        allow: &'static str,
    },
    /// `limit` is not 1 to the largest listing.
    BadLimit,
    /// A query parameter that is unknown, or a name that is empty, too long or holds control
    /// characters.
    BadQuery,
    /// The revoke body is not one of the three shapes.
    BadRevokeBody,
    BadName,
    Body(BodyReadError),
    StoreUnavailable,
}

impl AdminRejection {
    /// A stable name for logs.
    pub fn reason(self) -> &'static str {
        match self {
            AdminRejection::Unauthorized => "admin_unauthorized",
            AdminRejection::NotFound => "no_route",
            AdminRejection::MethodNotAllowed { .. } => "method_not_allowed",
            AdminRejection::BadLimit | AdminRejection::BadQuery => "bad_query",
            AdminRejection::BadRevokeBody | AdminRejection::BadName => "bad_body",
            AdminRejection::Body(BodyReadError::TooLarge) => "body_too_large",
            AdminRejection::Body(BodyReadError::TimedOut) => "body_timeout",
            AdminRejection::Body(BodyReadError::Broken) => "client_body_failed",
            AdminRejection::StoreUnavailable => "store_unavailable",
        }
    }
}

/// The admin listener's refusals, as JSON.
pub fn admin_rescue(rejection: AdminRejection) -> Response<Body> {
    let (status, message) = match rejection {
        AdminRejection::Unauthorized => (
            StatusCode::UNAUTHORIZED,
            "the admin token is missing or wrong",
        ),
        AdminRejection::NotFound => (StatusCode::NOT_FOUND, "no such admin endpoint"),
        AdminRejection::MethodNotAllowed { .. } => {
            (StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
        }
        AdminRejection::BadLimit => (StatusCode::BAD_REQUEST, "limit must be 1 to 10000"),
        AdminRejection::BadQuery => (
            StatusCode::BAD_REQUEST,
            "unknown or invalid query parameter",
        ),
        AdminRejection::BadRevokeBody => (
            StatusCode::BAD_REQUEST,
            "the body must be {\"user\":…}, {\"client\":…} or {\"jti\":…}",
        ),
        AdminRejection::BadName => (
            StatusCode::BAD_REQUEST,
            "the name is empty, too long or holds control characters",
        ),
        AdminRejection::Body(BodyReadError::TooLarge) => {
            (StatusCode::PAYLOAD_TOO_LARGE, "the body is too large")
        }
        AdminRejection::Body(BodyReadError::TimedOut) => (
            StatusCode::REQUEST_TIMEOUT,
            "the body did not arrive in time",
        ),
        AdminRejection::Body(BodyReadError::Broken) => {
            (StatusCode::BAD_REQUEST, "the body could not be read")
        }
        AdminRejection::StoreUnavailable => (
            StatusCode::SERVICE_UNAVAILABLE,
            "the token store is unavailable; see the gateway's log",
        ),
    };
    let mut res = response::json(status, &serde_json::json!({ "error": message }));
    match rejection {
        AdminRejection::Unauthorized => {
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"authgate-admin\""),
            );
        }
        AdminRejection::MethodNotAllowed { allow } => {
            res.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static(allow));
        }
        AdminRejection::Body(_) => {
            res.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        _ => {}
    }
    res.extensions_mut()
        .insert(RejectionReason(rejection.reason()));
    res
}

/// RFC 6750 §3: every 401 and 403 of a protected route says how to authenticate, with the
/// RFC 9728 `resource_metadata` so that clients find the authorization server by themselves.
fn bearer_challenge(failure: &AuthnFailure, metadata: &str) -> Response<Body> {
    let (status, error, description, message) = match failure {
        AuthnFailure::Missing | AuthnFailure::LoginRequired => (
            StatusCode::UNAUTHORIZED,
            None,
            None,
            "Unauthorized: this route requires authentication.",
        ),
        AuthnFailure::InvalidToken(why) => (
            StatusCode::UNAUTHORIZED,
            Some("invalid_token"),
            Some(*why),
            "Unauthorized: the access token is not valid.",
        ),
        AuthnFailure::TokenInQuery => (
            StatusCode::BAD_REQUEST,
            Some("invalid_request"),
            Some("send the access token in the Authorization header, never in the URL"),
            "Bad request: access tokens are accepted only in the Authorization header.",
        ),
        AuthnFailure::InsufficientScope(_) => (
            StatusCode::FORBIDDEN,
            Some("insufficient_scope"),
            Some("the access token lacks a scope this route requires"),
            "Forbidden: the credentials lack a scope this route requires.",
        ),
        // RFC 9470 §3: 401, and the class to sign in at again.
        AuthnFailure::StepUpRequired | AuthnFailure::InsufficientUserAuthentication => (
            StatusCode::UNAUTHORIZED,
            Some("insufficient_user_authentication"),
            Some("this route requires a sign-in with a second factor"),
            "Unauthorized: this route requires a sign-in with a second factor.",
        ),
        AuthnFailure::NotAllowed { .. } => {
            // Not a token problem (RFC 6750 has no code for it): no challenge to answer.
            return response::text(StatusCode::FORBIDDEN, NOT_ALLOWED);
        }
        AuthnFailure::StoreUnavailable => {
            return response::text(
                StatusCode::SERVICE_UNAVAILABLE,
                "Service unavailable: the token store cannot be reached.",
            )
        }
    };
    let mut challenge = String::from("Bearer realm=\"authgate\"");
    if let Some(error) = error {
        challenge.push_str(&format!(", error=\"{error}\""));
    }
    if let Some(description) = description {
        challenge.push_str(&format!(", error_description=\"{description}\""));
    }
    if let AuthnFailure::InsufficientScope(scope) = failure {
        challenge.push_str(&format!(", scope=\"{scope}\""));
    }
    if matches!(
        failure,
        AuthnFailure::StepUpRequired | AuthnFailure::InsufficientUserAuthentication
    ) {
        let acr = crate::store::sign_in::ACR_TWO_FACTORS;
        challenge.push_str(&format!(", acr_values=\"{acr}\""));
    }
    challenge.push_str(&format!(", resource_metadata=\"{metadata}\""));
    let mut res = response::text(status, message);
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        res.headers_mut().insert(header::WWW_AUTHENTICATE, value);
    }
    res
}

/// RFC 6749 §5.2: JSON, `no-store`; `invalid_client` is 401 with `WWW-Authenticate`; a store
/// outage is 503 so that clients retry rather than give up.
fn oauth_error(err: OAuthError) -> Response<Body> {
    let status = match err.code {
        ErrorCode::InvalidClient => StatusCode::UNAUTHORIZED,
        ErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    };
    let body = serde_json::json!({
        "error": err.code.as_str(),
        "error_description": err.description,
    });
    let mut res = response::json(status, &body);
    if err.code == ErrorCode::InvalidClient {
        res.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"authgate\""),
        );
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_status_per_reason() {
        let cases = [
            (Rejection::Path(PathRejection::EncodedSlash), 400),
            (Rejection::Head(HeadRejection::MissingHost), 400),
            (Rejection::Head(HeadRejection::HostMismatch), 400),
            (Rejection::Head(HeadRejection::BadFraming), 400),
            (Rejection::Head(HeadRejection::UnsupportedCoding), 501),
            (Rejection::Head(HeadRejection::MethodRefused), 405),
            (Rejection::Path(PathRejection::PathParameter), 400),
            (Rejection::CrossSiteUpgrade, 403),
            (Rejection::Panic, 500),
            (Rejection::NoRoute, 404),
            (
                Rejection::Unauthenticated {
                    failure: AuthnFailure::Missing,
                    metadata: Arc::from("m"),
                },
                401,
            ),
            (
                Rejection::Unauthenticated {
                    failure: AuthnFailure::InsufficientScope("a".into()),
                    metadata: Arc::from("m"),
                },
                403,
            ),
            (Rejection::BodyTooLarge, 413),
            (Rejection::Upstream(UpstreamError::Unreachable), 502),
            (Rejection::Upstream(UpstreamError::Timeout), 504),
            (Rejection::Upstream(UpstreamError::Failed), 502),
            (Rejection::ClientBodyFailed, 400),
            (Rejection::OAuth(OAuthError::invalid_grant("x")), 400),
            (Rejection::OAuth(OAuthError::invalid_client("x")), 401),
            (Rejection::OAuth(OAuthError::store_unavailable()), 503),
            (Rejection::AuthorizePage("x"), 400),
            (Rejection::SignIn(SignInRefused::CookieMissing), 400),
            (Rejection::SignIn(SignInRefused::Cancelled), 403),
            (Rejection::SignIn(SignInRefused::StoreUnavailable), 503),
            (Rejection::MethodNotAllowed { allow: "POST" }, 405),
            (Rejection::CorsPreflight("cors_origin"), 204),
            (
                Rejection::NotAllowed {
                    user: Some("corp:42".into()),
                    page: true,
                },
                403,
            ),
            (
                Rejection::NotAllowed {
                    user: Some("corp:42".into()),
                    page: false,
                },
                403,
            ),
            (
                Rejection::NotAllowed {
                    user: None,
                    page: true,
                },
                403,
            ),
        ];
        for (rejection, status) in cases {
            let res = rescue(rejection.clone());
            assert_eq!(res.status().as_u16(), status, "{rejection:?}");
            assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store");
            assert_eq!(
                res.headers().get(header::CONNECTION).is_some(),
                rejection.closes_connection(),
                "{rejection:?}"
            );
            if status == 204 {
                assert!(res
                    .headers()
                    .keys()
                    .all(|n| !n.as_str().starts_with("access-control-")));
                assert!(res.headers()[header::VARY]
                    .to_str()
                    .unwrap_or("")
                    .starts_with("Origin"));
            }
            if status == 405 {
                assert!(res.headers().contains_key(header::ALLOW), "{rejection:?}");
            }
            let reason = res.extensions().get::<RejectionReason>().map(|r| r.0);
            assert_eq!(reason, Some(rejection.reason()), "{rejection:?}");
        }
        for framing in [
            Rejection::Head(HeadRejection::BadFraming),
            Rejection::Head(HeadRejection::UnsupportedCoding),
            Rejection::Head(HeadRejection::RepeatedHost),
            Rejection::Path(PathRejection::EncodedSlash),
            Rejection::BodyTooLarge,
        ] {
            assert_eq!(rescue(framing).headers()[header::CONNECTION], "close");
        }
        let res = rescue(Rejection::Unauthenticated {
            failure: AuthnFailure::InsufficientScope("api:write".into()),
            metadata: Arc::from("https://gw/.well-known/oauth-protected-resource/api/"),
        });
        assert_eq!(
            res.headers()[header::WWW_AUTHENTICATE],
            "Bearer realm=\"authgate\", error=\"insufficient_scope\", error_description=\"the access token lacks a scope this route requires\", scope=\"api:write\", resource_metadata=\"https://gw/.well-known/oauth-protected-resource/api/\""
        );
        // RFC 9470 §3: 401, the error, and the class to come back with.
        let res = rescue(Rejection::Unauthenticated {
            failure: AuthnFailure::InsufficientUserAuthentication,
            metadata: Arc::from("https://gw/.well-known/oauth-protected-resource/api/"),
        });
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            res.headers()[header::WWW_AUTHENTICATE],
            "Bearer realm=\"authgate\", error=\"insufficient_user_authentication\", error_description=\"this route requires a sign-in with a second factor\", acr_values=\"urn:authgate:2fa\", resource_metadata=\"https://gw/.well-known/oauth-protected-resource/api/\""
        );
        let reason = res.extensions().get::<RejectionReason>().map(|r| r.0);
        assert_eq!(reason, Some("insufficient_user_authentication"));
    }
}
