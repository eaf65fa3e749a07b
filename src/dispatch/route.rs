//! The routes of one configuration, ready to serve: what each targets (an upstream with its
//! pooled client, a static status, whoami), its labels and metric series, its identity
//! assertion (`assertion = true`), and the lookup of a request's route, `;` path parameters
//! included (the "route" step of [`super`]).

use std::sync::Arc;

use http::header::HeaderValue;
use http::StatusCode;

use crate::config::{Config, HttpUpstream, RouteConfig, Upstream};
use crate::endpoints::resource_metadata;
use crate::http::head::RequestHost;
use crate::http::path::{self, PathRejection};
use crate::metrics::{Metrics, RouteSeries};
use crate::middleware::access_log::RouteLabel;
use crate::proxy::assertion::{route_audience, Assertions};
use crate::proxy::forward::{UpstreamClient, UpstreamSetupError};
use crate::proxy::routes::RouteTable;
use crate::rescue::Rejection;
use crate::tokens::jose::Keys;

/// One configured route, ready to serve.
pub(super) struct Route {
    pub(super) config: RouteConfig,
    pub(super) label: RouteLabel,
    pub(super) target: Target,
    /// This route's RFC 9728 metadata URL, named in its bearer challenges.
    pub(super) metadata_url: Arc<str>,
    /// Its `/metrics` series.
    pub(super) series: RouteSeries,
    /// The signed identity assertion, on a route with `assertion = true`.
    pub(super) assertion: Option<Assertions>,
}

pub(super) enum Target {
    Http(Box<HttpTarget>),
    Static(StatusCode),
    Whoami,
}

/// A real upstream: where it is, the pooled client for it, and the `Host` it is sent by default.
pub(super) struct HttpTarget {
    pub(super) upstream: HttpUpstream,
    pub(super) client: UpstreamClient,
    pub(super) host: HeaderValue,
}

/// The route table of `config`, each route with its target, labels and series.
pub(super) fn build_table(
    config: &Config,
    metrics: &Metrics,
    signing: &Arc<Keys>,
) -> Result<RouteTable<Arc<Route>>, UpstreamSetupError> {
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
        let label = RouteLabel::new(Arc::from(name), Arc::from(route.upstream.to_string()));
        let series = metrics.route(&label.route);
        let origin = &config.server.public_url.origin;
        let assertion = route.assertion.then(|| {
            let audience = route_audience(origin, route.host.as_deref(), &route.path);
            Assertions::new(origin, audience, signing.clone())
        });
        let built = Route {
            assertion,
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
    Ok(RouteTable::new(entries))
}

/// The route for a request to `host` whose path is `raw` as received and `normal` once
/// normalised. A path with `;` parameters is routed by the path without them, which is what
/// a Tomcat, Jetty or Spring upstream serves, and is refused unless that route accepts
/// them (`path_parameters`): `/api/admin;x/y` must meet the rules of `/api/admin/`, not
/// slip through those of `/api/`.
pub(super) fn find<'t>(
    routes: &'t RouteTable<Arc<Route>>,
    host: &RequestHost,
    raw: &str,
    normal: &str,
) -> Result<&'t Route, Rejection> {
    let name = host.name();
    if !path::has_parameters(raw) {
        return routes
            .find(name.as_deref(), normal)
            .map(|r| &**r)
            .ok_or(Rejection::NoRoute);
    }
    let cut = path::without_parameters(raw)?;
    let route = routes
        .find(name.as_deref(), &cut)
        .ok_or(Rejection::NoRoute)?;
    if !route.config.path_parameters {
        return Err(Rejection::Path(PathRejection::PathParameter));
    }
    Ok(&**route)
}
