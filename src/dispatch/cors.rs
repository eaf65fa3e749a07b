//! CORS where dispatch needs it (the policy and its decisions are `crate::http::cors`): the
//! preflight of a CORS route, and the token, revocation and UserInfo endpoints, which answer
//! CORS for the origins of the public clients' redirect URIs, as a single-page app doing
//! PKCE calls them from its own page. No other own endpoint ever does: not
//! `/oauth2/authorize`, the login, consent and logout pages (a page of another origin must
//! not read them), nor introspection (confidential clients, servers).
//!
//! Those endpoints answer without credentials mode: a public client authenticates with its
//! PKCE verifier, a refresh token or a bearer token in the body or `Authorization`, never
//! a cookie, so `Access-Control-Allow-Credentials` is never sent there.

use std::time::Duration;

use http::header::{self, HeaderName};
use http::{Method, Request, Response};
use hyper::body::Incoming;

use super::{ConnectionInfo, Gateway};
use crate::config::{public_client_origins, Config};
use crate::gateway_paths::{OwnEndpoint, REVOKE_PATH, TOKEN_PATH, USERINFO_PATH};
use crate::http::body::Body;
use crate::http::cors::{is_preflight, CorsPolicy, CorsSettings, Preflight};
use crate::rescue::{rescue, Rejection};

/// How long a browser may keep the endpoints' preflight answers.
const CLIENT_MAX_AGE: Duration = Duration::from_secs(600);

/// The CORS policy of the token, revocation and UserInfo endpoints, or `None` when no public
/// client has a web origin.
pub(super) fn client_policy(config: &Config) -> Option<CorsPolicy> {
    let origins = public_client_origins(&config.clients);
    if origins.is_empty() {
        return None;
    }
    Some(CorsPolicy::new(CorsSettings {
        origins,
        // GET for UserInfo; the token and revocation endpoints take POST only.
        methods: vec![Method::GET, Method::POST],
        // `authorization`: UserInfo's bearer token; `content-type` for a form or JSON body
        // whose type a browser does not count as safe.
        headers: vec![header::AUTHORIZATION, header::CONTENT_TYPE],
        expose: Vec::<HeaderName>::new(),
        max_age: CLIENT_MAX_AGE,
        credentials: false,
    }))
}

/// The answer to `req` when it is a CORS preflight to `policy`'s route: allowed, or refused
/// by `rescue`. `None` for every other request.
pub(super) fn preflight(policy: &CorsPolicy, req: &Request<Incoming>) -> Option<Response<Body>> {
    if !is_preflight(req.method(), req.headers()) {
        return None;
    }
    Some(match policy.decide_preflight(req.headers()) {
        Preflight::Allowed(origin) => policy.preflight(origin),
        Preflight::Refused(reason) => rescue(Rejection::CorsPreflight(reason)),
    })
}

impl Gateway {
    /// The client endpoints' policy when `path` is one of them.
    pub(super) fn client_cors_for(&self, path: &str) -> Option<&CorsPolicy> {
        let policy = self.client_cors.as_ref()?;
        matches!(path, TOKEN_PATH | REVOKE_PATH | USERINFO_PATH).then_some(policy)
    }

    /// One of the client endpoints, with its CORS: a preflight is answered here, and every
    /// other answer, refusals included, carries the headers for an allowed origin.
    pub(super) async fn own_with_cors(
        &self,
        policy: &CorsPolicy,
        endpoint: OwnEndpoint,
        rest: &str,
        path: &str,
        req: Request<Incoming>,
        conn: &ConnectionInfo,
    ) -> Response<Body> {
        if let Some(response) = preflight(policy, &req) {
            return response;
        }
        let origin = policy.allowed_origin(req.headers());
        let mut response = match self.own(endpoint, rest, path, req, conn).await {
            Ok(response) => response,
            Err(rejection) => rescue(rejection),
        };
        policy.apply(origin, response.headers_mut());
        response
    }
}
