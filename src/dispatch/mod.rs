//! What the gateway does with one request: the innermost service of the stack
//! (`server/stack.rs`), below the cross-cutting layers. The crate docs (`src/lib.rs`) draw the
//! whole request path; these are dispatch's own steps, in the order `Gateway::route_of` (1
//! to 4), `Gateway::handle` and `Gateway::forward` (`forward.rs`, 5 to 9) run them:
//!
//! 1. **head check**: the request head's own rules, for every path ([`head::check`]);
//! 2. **normalise** the path ([`normalize`]);
//! 3. **own endpoints**: the paths the gateway serves itself, ahead of every route, as the
//!    one ordered table
//!    [`OWN_ENDPOINTS`](crate::gateway_paths::OWN_ENDPOINTS) names them; the token,
//!    revocation and UserInfo endpoints answer CORS for the public clients' origins
//!    (`cors.rs`), no other own endpoint does;
//! 4. **route**: host, then longest prefix, `;` parameters refused unless allowed
//!    (`route::find`); on a route with `[routes.cors]`, a CORS preflight is answered here,
//!    before the gate (browsers send no credentials on one), and every answer of the route
//!    gets its CORS headers on the way out ([`crate::http::cors`]);
//! 5. **gate**: the route's authentication and scopes ([`authn::decide`](crate::authn::decide));
//! 6. **body limit**: a declared length over the route's limit is refused before the upstream;
//! 7. **WebSocket origin**: a session may not be carried into a cross-site upgrade;
//! 8. **headers**: hygiene, `X-Forwarded-*`, identity headers, the request id;
//! 9. **target**: the upstream (its body stream-limited), `static://` or `whoami://`.
//!
//! Steps 5 to 9 are in `forward.rs`. Every refusal is a [`Rejection`] turned into a response
//! by [`rescue`] alone.

mod cors;
mod forward;
mod route;

use std::borrow::Cow;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use http::header::HeaderValue;
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use ipnet::IpNet;

use crate::config::{Config, RouteConfig};
use crate::endpoints::federation::Federation;
use crate::endpoints::{self, federation, forward_auth, resource_metadata, sign_in};
use crate::gateway_paths::{own_endpoint, OwnEndpoint};
use crate::http::body::Body;
use crate::http::head::{self, RequestHost};
use crate::http::path::normalize;
use crate::http::response;
use crate::metrics::{RouteSeries, GATEWAY_ROUTE};
use crate::middleware::access_log;
use crate::oauth::AuthServer;
use crate::proxy::forward::UpstreamSetupError;
use crate::proxy::headers::ip_header_value;
use crate::proxy::response_timer::ResponseTimer;
use crate::proxy::routes::RouteTable;
use crate::rescue::{rescue, Rejection};
use crate::store::Store;
use route::Route;

/// Facts about the client connection, gathered once when it is accepted.
#[derive(Debug)]
pub struct ConnectionInfo {
    pub peer: SocketAddr,
    pub tls: bool,
    /// The peer's IP address as a header value, for `X-Forwarded-For`.
    pub peer_ip: HeaderValue,
    /// The peer's address as the access log writes it, formatted once per connection.
    pub peer_text: Arc<str>,
    /// The response timer the connection's proxied requests take turns with.
    pub response_timer: ResponseTimer,
}

impl ConnectionInfo {
    pub fn new(peer: SocketAddr, tls: bool) -> Self {
        ConnectionInfo {
            peer,
            tls,
            peer_ip: ip_header_value(peer.ip()),
            peer_text: crate::logging::access::peer_text(peer).into(),
            response_timer: ResponseTimer::default(),
        }
    }
}

/// Everything the request path needs from one configuration. Immutable once built.
pub struct Gateway {
    routes: RouteTable<Arc<Route>>,
    routes_config: Vec<RouteConfig>,
    trusted_proxies: Vec<IpNet>,
    auth: Arc<AuthServer>,
    /// The callers of the access tokens this configuration verified (`authn::Callers`).
    callers: crate::authn::Callers,
    /// The upstream identity providers and their caches (discovery, keys).
    federation: Arc<Federation>,
    /// Whether responses' route labels are handed to the access log (it is on).
    label_responses: bool,
    /// The `/metrics` series of the gateway's own answers.
    own_series: RouteSeries,
    /// CORS of the token, revocation and UserInfo endpoints, for the origins of the public
    /// clients' redirect URIs; `None` when there are none.
    client_cors: Option<crate::http::cors::CorsPolicy>,
}

/// Where steps 1 to 4 send a request.
enum Routed<'g, 'u> {
    /// One of the gateway's own endpoints, at the normalised path.
    Own(OwnEndpoint, Cow<'u, str>),
    /// Answered already: a CORS preflight of the route.
    Answered(Response<Body>, &'g Route),
    /// The route's steps 5 to 9 (`forward`), and the allowed CORS origin of the request.
    Route {
        route: &'g Route,
        path: Cow<'u, str>,
        host: RequestHost,
        origin: Option<&'g HeaderValue>,
    },
}

impl Gateway {
    pub fn new(config: &Config, auth: Arc<AuthServer>) -> Result<Self, UpstreamSetupError> {
        let federation = Arc::new(Federation::new(config));
        federation.warm(auth.now());
        Ok(Gateway {
            federation,
            routes: route::build_table(config, &auth.metrics, &auth.signing)?,
            routes_config: config.routes.clone(),
            trusted_proxies: config.server.trusted_proxies.clone(),
            own_series: auth.metrics.route(GATEWAY_ROUTE),
            auth,
            callers: crate::authn::Callers::new(),
            label_responses: config.log.access,
            client_cors: cors::client_policy(config),
        })
    }

    /// The `[session]` idle and absolute limits of this configuration, in seconds.
    pub fn session_limits(&self) -> (u64, u64) {
        (
            self.auth.settings.session_idle,
            self.auth.settings.session_max,
        )
    }

    /// The authorization server of this configuration.
    pub fn auth(&self) -> &Arc<AuthServer> {
        &self.auth
    }

    /// What this gateway counts, for the layers around it.
    pub fn metrics(&self) -> &Arc<crate::metrics::Metrics> {
        &self.auth.metrics
    }

    /// Serves one request; never fails: refusals are responses. Owns what it needs, so that
    /// [`GatewayService`] boxes this future itself, and awaits a route's steps 5 to 9
    /// (`forward`) directly: every `async` layer between the box and the route's work would
    /// hold the whole request's future once more, and move it once more per request (a
    /// proxied request's future is a few kilobytes). Steps 1 to 4 are `route_of`.
    pub async fn handle(
        self: Arc<Self>,
        conn: Arc<ConnectionInfo>,
        req: Request<Incoming>,
    ) -> Result<Response<Body>, Infallible> {
        let start = Instant::now();
        // A `Uri` clone is a reference count, and lets the path outlive the request's move.
        let uri = req.uri().clone();
        let (response, route) = match self.route_of(&req, &uri) {
            Err(rejection) => (rescue(rejection), None),
            Ok(Routed::Own(endpoint, path)) => {
                (self.serve_own(endpoint, &path, req, &conn).await, None)
            }
            Ok(Routed::Answered(response, route)) => (response, Some(route)),
            Ok(Routed::Route {
                route,
                path,
                host,
                origin,
            }) => {
                // A refusal after routing still names its route in the access log.
                let mut response = match self.forward(route, &path, &host, req, &conn).await {
                    Ok(response) => response,
                    Err(rejection) => {
                        if let Rejection::Upstream(kind) = &rejection {
                            self.auth
                                .metrics
                                .upstream_error(route.series.name(), kind.as_str());
                        }
                        rescue(rejection)
                    }
                };
                if let Some(policy) = route.config.cors.as_deref() {
                    policy.apply(origin, response.headers_mut());
                }
                if self.label_responses {
                    // The last step: no `.await` follows, as `hand_over` requires.
                    access_log::hand_over(&route.label);
                }
                (response, Some(route))
            }
        };
        self.count(&response, route, start);
        Ok(response)
    }

    /// Counts an answered request for `/metrics` (the route label is a configured path, or
    /// the gateway's own label: nothing a client chose).
    fn count(&self, response: &Response<Body>, route: Option<&Route>, start: Instant) {
        let metrics = &self.auth.metrics;
        let series = route.map_or(&self.own_series, |r| &r.series);
        let status = response.status().as_u16();
        series.request(metrics, status, start.elapsed().as_secs_f64());
    }

    /// Steps 1 to 4: where the request goes (`uri` is its own, cloned).
    fn route_of<'g, 'u>(
        &'g self,
        req: &Request<Incoming>,
        uri: &'u http::Uri,
    ) -> Result<Routed<'g, 'u>, Rejection> {
        // 1. The head's own rules come first, for every path: the gateway's endpoints too.
        let host = head::check(req.method(), req.version(), req.uri(), req.headers())?;
        // 2. The path, normalised.
        let path = normalize(uri.path())?;
        // 3. The gateway's own endpoints.
        if let Some((endpoint, _)) = own_endpoint(&path) {
            return Ok(Routed::Own(endpoint, path));
        }
        // 4. The route, and its CORS preflight.
        let route = route::find(&self.routes, &host, uri.path(), &path)?;
        let mut origin = None;
        if let Some(policy) = route.config.cors.as_deref() {
            if let Some(response) = cors::preflight(policy, req) {
                if self.label_responses {
                    access_log::hand_over(&route.label);
                }
                return Ok(Routed::Answered(response, route));
            }
            origin = policy.allowed_origin(req.headers());
        }
        Ok(Routed::Route {
            route,
            path,
            host,
            origin,
        })
    }

    /// Step 3's answer: one of the gateway's own endpoints, with the client endpoints' CORS.
    async fn serve_own(
        &self,
        endpoint: OwnEndpoint,
        path: &str,
        req: Request<Incoming>,
        conn: &ConnectionInfo,
    ) -> Response<Body> {
        let rest = own_endpoint(path).map_or("", |(_, rest)| rest);
        if let Some(policy) = self.client_cors_for(path) {
            return Box::pin(self.own_with_cors(policy, endpoint, rest, path, req, conn)).await;
        }
        match self.own(endpoint, rest, path, req, conn).await {
            Ok(response) => response,
            Err(rejection) => rescue(rejection),
        }
    }

    /// Serves one of the gateway's own endpoints; `rest` is what follows its pattern in
    /// [`OWN_ENDPOINTS`](crate::gateway_paths::OWN_ENDPOINTS). The large ones run boxed: their futures are large, and inline they
    /// would make every proxied request's future (moved and allocated per request) as large.
    async fn own(
        &self,
        endpoint: OwnEndpoint,
        rest: &str,
        path: &str,
        req: Request<Incoming>,
        conn: &ConnectionInfo,
    ) -> Result<Response<Body>, Rejection> {
        let query = req.uri().query();
        match endpoint {
            OwnEndpoint::SignInCallback => {
                Ok(Box::pin(sign_in::callback(&self.auth, req.headers(), query)).await?)
            }
            OwnEndpoint::ForwardAuth => {
                Box::pin(forward_auth::check(
                    &self.auth,
                    &self.callers,
                    req.headers(),
                    query,
                ))
                .await
            }
            OwnEndpoint::SignInStart => Ok(sign_in::start_from_query(&self.auth, query)),
            OwnEndpoint::ProviderStart | OwnEndpoint::ProviderCallback
                if req.method() != http::Method::GET =>
            {
                Err(Rejection::MethodNotAllowed { allow: "GET" })
            }
            OwnEndpoint::ProviderStart => {
                Box::pin(federation::start(&self.federation, &self.auth, rest, query)).await
            }
            OwnEndpoint::ProviderCallback => {
                let future =
                    federation::callback(&self.federation, &self.auth, req.headers(), rest, query);
                Box::pin(future).await
            }
            OwnEndpoint::ResourceMetadata => {
                resource_metadata::serve(&self.auth.settings.issuer, &self.routes_config, rest)
            }
            OwnEndpoint::AuthorizationServer => {
                Box::pin(endpoints::oauth::handle(
                    &self.auth,
                    &self.federation,
                    req,
                    path,
                    conn.peer.ip(),
                ))
                .await
            }
            OwnEndpoint::Healthz => Ok(healthz(self.auth.store.as_ref())),
            OwnEndpoint::Reserved => Err(Rejection::NoRoute),
        }
    }

    /// Whether `peer` is one of `trusted_proxies`.
    pub fn is_trusted(&self, peer: SocketAddr) -> bool {
        let ip = peer.ip();
        self.trusted_proxies.iter().any(|net| net.contains(&ip))
    }
}

/// `GET /healthz` (public and admin listeners): 200 `ok` while the gateway can serve, 503
/// naming what is down while its token store cannot answer (a journal that failed to write,
/// a lost Redis), so that a load balancer moves traffic to a gateway that can.
pub fn healthz(store: &dyn Store) -> Response<Body> {
    match store.health() {
        Ok(()) => response::text(StatusCode::OK, "ok"),
        Err(down) => rescue(Rejection::Unhealthy(down)),
    }
}

/// The tower service over a shared [`Gateway`], for one client connection.
#[derive(Clone)]
pub struct GatewayService {
    gateway: Arc<Gateway>,
    conn: Arc<ConnectionInfo>,
}

impl GatewayService {
    pub fn new(gateway: Arc<Gateway>, conn: Arc<ConnectionInfo>) -> Self {
        GatewayService { gateway, conn }
    }
}

impl tower::Service<Request<Incoming>> for GatewayService {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Incoming>) -> Self::Future {
        Box::pin(self.gateway.clone().handle(self.conn.clone(), req))
    }
}
