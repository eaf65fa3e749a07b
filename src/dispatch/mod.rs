//! What the gateway does with one request, after the outer layers (access log) and before
//! anything leaves for an upstream:
//!
//! ```text
//! normalise path ─► gateway endpoints (/healthz, /oauth2/, /.well-known/)
//!                ─► host + longest prefix route ─► auth gate ─► body limit
//!                ─► clean headers, add X-Forwarded-* ─► upstream | static | whoami
//! ```
//!
//! Every refusal is a [`Rejection`] turned into a response by [`rescue`] alone.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use http::header::{self, HeaderValue};
use http::uri::{PathAndQuery, Uri};
use http::{Request, Response, StatusCode, Version};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use ipnet::IpNet;

use crate::authn::{self, AuthnFailure, Via};
use crate::config::{AuthMode, Config, HttpUpstream, Upstream};
use crate::endpoints::{self, forward_auth, resource_metadata, sign_in};
use crate::gateway_paths::{
    CALLBACK_PATH, FORWARD_AUTH_PATH, RESERVED_PREFIXES, RESOURCE_METADATA_PATH, START_PATH,
};
use crate::http::body::{Body, IdleTimeoutBody, RequestBody};
use crate::http::head::{self, RequestHost};
use crate::http::path::{self, normalize, PathRejection};
use crate::http::response;
use crate::metrics::{RouteSeries, GATEWAY_ROUTE};
use crate::middleware::access_log::RouteLabel;
use crate::middleware::request_id::{RequestId, X_REQUEST_ID};
use crate::oauth::AuthServer;
use crate::proxy::builtin;
use crate::proxy::forward::{UpstreamClient, UpstreamSetupError};
use crate::proxy::headers::{ip_header_value, prepare_request_headers, remove_hop_by_hop, Peer};
use crate::proxy::identity_headers;
use crate::proxy::routes::{strip_route_prefix, RouteTable};
use crate::proxy::upgrade;
use crate::rescue::{rescue, Rejection};
use crate::store::Store;

/// Facts about the client connection, gathered once when it is accepted.
#[derive(Debug, Clone)]
pub struct ConnectionInfo {
    pub peer: SocketAddr,
    pub tls: bool,
    /// The peer's IP address as a header value, for `X-Forwarded-For`.
    pub peer_ip: HeaderValue,
}

impl ConnectionInfo {
    pub fn new(peer: SocketAddr, tls: bool) -> Self {
        ConnectionInfo {
            peer,
            tls,
            peer_ip: ip_header_value(peer.ip()),
        }
    }
}

/// One configured route, ready to serve.
struct Route {
    config: crate::config::RouteConfig,
    label: RouteLabel,
    target: Target,
    /// This route's RFC 9728 metadata URL, named in its bearer challenges.
    metadata_url: Arc<str>,
    /// Its `/metrics` series.
    series: RouteSeries,
}

enum Target {
    Http(Box<HttpTarget>),
    Static(StatusCode),
    Whoami,
}

/// A real upstream: where it is, the pooled client for it, and the `Host` it is sent by default.
struct HttpTarget {
    upstream: HttpUpstream,
    client: UpstreamClient,
    host: HeaderValue,
}

/// Everything the request path needs from one configuration. Immutable once built.
pub struct Gateway {
    routes: RouteTable<Arc<Route>>,
    routes_config: Vec<crate::config::RouteConfig>,
    trusted_proxies: Vec<IpNet>,
    auth: Arc<AuthServer>,
    /// Whether responses carry their [`RouteLabel`]: only the access log reads it.
    label_responses: bool,
    /// The `/metrics` series of the gateway's own answers.
    own_series: RouteSeries,
}

impl Gateway {
    pub fn new(config: &Config, auth: Arc<AuthServer>) -> Result<Self, UpstreamSetupError> {
        let mut entries = Vec::with_capacity(config.routes.len());
        for route in &config.routes {
            let target = match &route.upstream {
                Upstream::Http(up) => {
                    let host = HeaderValue::from_str(up.authority.as_str()).map_err(|_| {
                        UpstreamSetupError(format!("route {}: upstream host", route.path))
                    })?;
                    Target::Http(Box::new(HttpTarget {
                        upstream: up.clone(),
                        client: UpstreamClient::new(up, route)?,
                        host,
                    }))
                }
                Upstream::Static(status) => Target::Static(*status),
                Upstream::Whoami => Target::Whoami,
            };
            let name = match &route.host {
                Some(host) => format!("{host}{}", route.path),
                None => route.path.clone(),
            };
            let label = RouteLabel {
                route: Arc::from(name),
                upstream: Arc::from(route.upstream.to_string()),
            };
            let series = auth.metrics.route(&label.route);
            let built = Route {
                series,
                config: route.clone(),
                label,
                target,
                metadata_url: Arc::from(resource_metadata::url_for(
                    &config.server.public_url.origin,
                    &route.path,
                )),
            };
            entries.push((route, Arc::new(built)));
        }
        Ok(Gateway {
            routes: RouteTable::new(entries),
            routes_config: config.routes.clone(),
            trusted_proxies: config.server.trusted_proxies.clone(),
            own_series: auth.metrics.route(GATEWAY_ROUTE),
            auth,
            label_responses: config.log.access,
        })
    }

    /// The `[session]` idle and absolute limits of this configuration, in seconds.
    pub fn session_limits(&self) -> (u64, u64) {
        (
            self.auth.settings.session_idle,
            self.auth.settings.session_max,
        )
    }

    /// What this gateway counts, for the layers around it.
    pub fn metrics(&self) -> &Arc<crate::metrics::Metrics> {
        &self.auth.metrics
    }

    /// Serves one request; never fails: refusals are responses.
    pub async fn handle(&self, req: Request<Incoming>, conn: &ConnectionInfo) -> Response<Body> {
        let start = Instant::now();
        let (response, route) = match self.dispatch(req, conn).await {
            Ok(answer) => answer,
            Err(rejection) => (rescue(rejection), None),
        };
        self.count(&response, route, start);
        response
    }

    /// Counts an answered request for `/metrics` (the route label is a configured path, or
    /// the gateway's own label: nothing a client chose).
    fn count(&self, response: &Response<Body>, route: Option<&Route>, start: Instant) {
        let metrics = &self.auth.metrics;
        let series = route.map_or(&self.own_series, |r| &r.series);
        let status = response.status().as_u16();
        series.request(metrics, status, start.elapsed().as_secs_f64());
    }

    /// The answer, and the route that served it (none for the gateway's own endpoints).
    async fn dispatch(
        &self,
        req: Request<Incoming>,
        conn: &ConnectionInfo,
    ) -> Result<(Response<Body>, Option<&Route>), Rejection> {
        // The head's own rules come first, for every path: the gateway's endpoints too.
        let host = head::check(req.method(), req.version(), req.uri(), req.headers())?;
        // A `Uri` clone is a reference count, and lets the path outlive the request's move.
        let uri = req.uri().clone();
        let path = normalize(uri.path())?;

        // The gateway's own endpoints run boxed: their futures are large, and inline they would
        // make every proxied request's future (moved and allocated per request) as large.
        match &*path {
            CALLBACK_PATH => {
                let response = Box::pin(sign_in::callback(&self.auth, req.headers(), uri.query()));
                return Ok((response.await?, None));
            }
            FORWARD_AUTH_PATH => {
                let check = Box::pin(forward_auth::check(&self.auth, req.headers(), uri.query()));
                return check.await.map(|r| (r, None));
            }
            START_PATH => return Ok((sign_in::start_from_query(&self.auth, uri.query()), None)),
            _ => {}
        }
        if let Some(resource) = path.strip_prefix(RESOURCE_METADATA_PATH) {
            return resource_metadata::serve(
                &self.auth.settings.issuer,
                &self.routes_config,
                resource,
            )
            .map(|r| (r, None));
        }
        if endpoints::oauth::serves(&path) {
            return Box::pin(endpoints::oauth::handle(
                &self.auth,
                req,
                &path,
                conn.peer.ip(),
            ))
            .await
            .map(|r| (r, None));
        }
        if let Some(response) = gateway_endpoint(&path, self.auth.store.as_ref()) {
            return Ok((response, None));
        }

        let route = self.route(&host, uri.path(), &path)?;
        // A refusal after routing still names its route in the access log.
        let mut response = match self.forward(route, &path, &host, req, conn).await {
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
        if self.label_responses {
            response.extensions_mut().insert(route.label.clone());
        }
        Ok((response, Some(route)))
    }

    /// The route for a request to `host` whose path is `raw` as received and `normal` once
    /// normalised. A path with `;` parameters is routed by the path without them, which is what
    /// a Tomcat, Jetty or Spring upstream serves, and is refused unless that route accepts
    /// them (`path_parameters`): `/api/admin;x/y` must meet the rules of `/api/admin/`, not
    /// slip through those of `/api/`.
    fn route(&self, host: &RequestHost, raw: &str, normal: &str) -> Result<&Route, Rejection> {
        let name = host.name();
        if !path::has_parameters(raw) {
            return self
                .routes
                .find(name.as_deref(), normal)
                .map(|r| &**r)
                .ok_or(Rejection::NoRoute);
        }
        let cut = path::without_parameters(raw)?;
        let route = self
            .routes
            .find(name.as_deref(), &cut)
            .ok_or(Rejection::NoRoute)?;
        if !route.config.path_parameters {
            return Err(Rejection::Path(PathRejection::PathParameter));
        }
        Ok(&**route)
    }

    async fn forward(
        &self,
        route: &Route,
        path: &str,
        host: &RequestHost,
        mut req: Request<Incoming>,
        conn: &ConnectionInfo,
    ) -> Result<Response<Body>, Rejection> {
        let config = &route.config;
        let identity = match config.auth {
            AuthMode::None => None,
            mode => {
                let decided = authn::decide(
                    &self.auth,
                    mode,
                    &config.scopes,
                    req.headers(),
                    req.uri().query(),
                )
                .await;
                match decided {
                    Ok(identity) => Some(identity),
                    Err(AuthnFailure::LoginRequired) => {
                        let back = req.uri().path_and_query().map_or("/", |pq| pq.as_str());
                        return Ok(sign_in::start(&self.auth, back));
                    }
                    Err(failure) => {
                        return Err(Rejection::Unauthenticated {
                            failure,
                            metadata: route.metadata_url.clone(),
                        })
                    }
                }
            }
        };

        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|len| len > config.body_limit) {
            return Err(Rejection::BodyTooLarge);
        }

        let websocket = upgrade::is_websocket(req.method(), req.version(), req.headers());
        if websocket
            && identity.as_ref().is_some_and(|i| i.via == Via::Session)
            && !upgrade::origin_allowed(req.headers(), &self.auth.settings.issuer)
        {
            // A cross-site page must not ride the session cookie into a WebSocket.
            return Err(Rejection::CrossSiteUpgrade);
        }
        let client_upgrade = websocket.then(|| hyper::upgrade::on(&mut req));

        let peer = Peer {
            ip: conn.peer_ip.clone(),
            trusted: self.is_trusted(conn.peer),
            tls: conn.tls,
        };
        let client_host = host.authority().cloned();

        let (mut parts, body) = req.into_parts();
        let mut headers = std::mem::take(&mut parts.headers);
        let html = matches!(route.target, Target::Whoami) && response::wants_html(&headers);
        prepare_request_headers(&mut headers, &peer, client_host.as_ref());
        identity_headers::apply(&mut headers, identity.as_ref(), config.forward_token);
        if let Some(RequestId(id)) = parts.extensions.get::<RequestId>() {
            headers.insert(X_REQUEST_ID.clone(), id.clone());
        }
        if websocket {
            upgrade::restore_upgrade_headers(&mut headers);
        }

        let rest = if config.strip_prefix {
            strip_route_prefix(&config.path, path)
        } else {
            path
        };

        match &route.target {
            Target::Static(status) => Ok(builtin::static_response(*status)),
            Target::Whoami => {
                parts.uri = upstream_uri(None, rest, &parts.uri)?;
                parts.version = Version::HTTP_11;
                if let Some(host) = client_host {
                    headers.insert(header::HOST, host);
                }
                parts.headers = headers;
                Ok(builtin::whoami(&parts, html))
            }
            Target::Http(http) => {
                let HttpTarget {
                    upstream,
                    client,
                    host: upstream_host,
                } = &**http;
                parts.uri = upstream_uri(Some(upstream), rest, &parts.uri)?;
                parts.version = Version::HTTP_11;
                let host = match (config.preserve_host, client_host) {
                    (true, Some(host)) => host,
                    _ => upstream_host.clone(),
                };
                headers.insert(header::HOST, host);
                parts.headers = headers;
                let limit = usize::try_from(config.body_limit).unwrap_or(usize::MAX);
                let (body, body_sent) = RequestBody::new(body, limit);
                let upstream_req = Request::from_parts(parts, body);

                let mut upstream_res = client.send(upstream_req, body_sent).await?;
                if let Some(client_upgrade) = client_upgrade {
                    if upstream_res.status() == StatusCode::SWITCHING_PROTOCOLS {
                        let upstream_upgrade = hyper::upgrade::on(&mut upstream_res);
                        upgrade::tunnel(client_upgrade, upstream_upgrade);
                        let (mut parts, _) = upstream_res.into_parts();
                        remove_hop_by_hop(&mut parts.headers);
                        upgrade::restore_upgrade_headers(&mut parts.headers);
                        return Ok(Response::from_parts(parts, crate::http::body::empty()));
                    }
                }
                let (mut parts, body) = upstream_res.into_parts();
                remove_hop_by_hop(&mut parts.headers);
                identity_headers::drop_gateway_cookies_set_by(&mut parts.headers);
                let body = IdleTimeoutBody::new(body, config.response_timeout);
                Ok(Response::from_parts(parts, body.boxed_unsync()))
            }
        }
    }

    /// Whether `peer` is one of `trusted_proxies`.
    pub fn is_trusted(&self, peer: SocketAddr) -> bool {
        let ip = peer.ip();
        self.trusted_proxies.iter().any(|net| net.contains(&ip))
    }
}

/// The gateway's own endpoints, served ahead of every route.
fn gateway_endpoint(path: &str, store: &dyn Store) -> Option<Response<Body>> {
    if path == "/healthz" {
        return Some(healthz(store));
    }
    let reserved = RESERVED_PREFIXES
        .iter()
        .any(|prefix| path.starts_with(prefix) || path == prefix.trim_end_matches('/'));
    reserved.then(|| rescue(Rejection::NoRoute))
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

/// The request target sent upstream, in origin form: the upstream's base path (none for the
/// built-ins), the route-relative `path`, and the query of the client's target (`original`)
/// unchanged.
fn upstream_uri(
    upstream: Option<&HttpUpstream>,
    path: &str,
    original: &Uri,
) -> Result<Uri, Rejection> {
    let base = upstream.map_or("", |u| u.base_path.as_str());
    // Most often the client's target is already the upstream's (in normal form, no base path,
    // nothing stripped): share its bytes instead of copying them.
    if base.is_empty() && path == original.path() {
        if let Some(target) = original.path_and_query() {
            return Ok(Uri::from(target.clone()));
        }
    }
    let query = original.query();
    let mut target =
        String::with_capacity(base.len() + path.len() + query.map_or(0, |q| q.len() + 1));
    target.push_str(base);
    target.push_str(path);
    if let Some(query) = query {
        target.push('?');
        target.push_str(query);
    }
    let path_and_query = PathAndQuery::try_from(target)
        .map_err(|_| Rejection::Path(PathRejection::IllegalCharacter))?;
    Ok(Uri::from(path_and_query))
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
        let gateway = self.gateway.clone();
        let conn = self.conn.clone();
        Box::pin(async move { Ok(gateway.handle(req, &conn).await) })
    }
}
