//! The steps of [`super`] after a route is found: the auth gate, the body limit, the
//! WebSocket origin check, the headers sent upstream and the target itself (an upstream,
//! `static://` or `whoami://`).

use http::header;
use http::{Request, Response, StatusCode, Version};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use super::route::{HttpTarget, Route, Target};
use super::{ConnectionInfo, Gateway};
use crate::authn::{self, AuthnFailure, Via};
use crate::config::AuthMode;
use crate::endpoints::sign_in;
use crate::http::body::{IdleTimeoutBody, RequestBody};
use crate::http::head::RequestHost;
use crate::http::{body::Body, response};
use crate::middleware::request_id::X_REQUEST_ID;
use crate::proxy::builtin;
use crate::proxy::headers::{prepare_request_headers, remove_hop_by_hop, Peer};
use crate::proxy::identity_headers;
use crate::proxy::routes::{strip_route_prefix, upstream_uri};
use crate::proxy::upgrade;
use crate::rescue::Rejection;

impl Gateway {
    /// Gate, body limit, WebSocket origin, headers and target, in this order, for a request
    /// that `route` serves.
    pub(super) async fn forward(
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
                    &self.callers,
                    mode,
                    &config.scopes,
                    &config.allow,
                    req.headers(),
                    req.uri().query(),
                )
                .await
                .and_then(|identity| {
                    authn::second_factor_gate(&identity, config.mfa, req.headers())
                        .map(|()| identity)
                });
                match decided {
                    Ok(identity) => Some(identity),
                    // A step-up comes only from an `mfa` route (`second_factor_gate`): both
                    // sign in again asking for what the route needs.
                    Err(AuthnFailure::LoginRequired | AuthnFailure::StepUpRequired) => {
                        let back = req.uri().path_and_query().map_or("/", |pq| pq.as_str());
                        return Ok(sign_in::start(&self.auth, back, config.mfa));
                    }
                    Err(AuthnFailure::NotAllowed { user, via }) => {
                        let page = via == Via::Session && response::wants_html(req.headers());
                        return Err(Rejection::NotAllowed { user, page });
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
        // The request id (`SetRequestId` put it in) stays through hygiene: no client's
        // `Connection` can name it away.
        let seen =
            prepare_request_headers(&mut headers, &peer, client_host.as_ref(), &X_REQUEST_ID);
        identity_headers::apply(&mut headers, seen, identity.as_ref(), config.forward_token);
        if let Some(assertion) = &route.assertion {
            assertion.apply(&mut headers, identity.as_ref(), self.auth.now());
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

                let mut upstream_res = client
                    .send(upstream_req, body_sent, &conn.response_timer)
                    .await?;
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
                if remove_hop_by_hop(&mut parts.headers).set_cookie {
                    identity_headers::drop_gateway_cookies_set_by(&mut parts.headers);
                }
                let body = IdleTimeoutBody::new(body, config.response_timeout);
                Ok(Response::from_parts(parts, body.boxed_unsync()))
            }
        }
    }
}
