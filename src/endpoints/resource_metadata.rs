//! Protected resource metadata (RFC 9728): what protects the routes and where their
//! authorization server is, at `/.well-known/oauth-protected-resource` for the gateway as a
//! whole and at `/.well-known/oauth-protected-resource/<route path>` for each route, so that
//! clients such as MCP agents find the authorization server from a 401 by themselves.

use http::{Response, StatusCode};
use serde_json::json;

use crate::config::{AuthMode, RouteConfig};
use crate::gateway_paths::RESOURCE_METADATA_PATH;
use crate::http::body::Body;
use crate::http::response;
use crate::rescue::Rejection;

/// The metadata URL of the resource at `route_path`.
pub fn url_for(issuer: &str, route_path: &str) -> String {
    let trimmed = route_path.trim_end_matches('/');
    format!("{issuer}{RESOURCE_METADATA_PATH}{trimmed}")
}

/// Serves the document for `rest` (what follows [`RESOURCE_METADATA_PATH`] in the request path).
pub fn serve(
    issuer: &str,
    routes: &[RouteConfig],
    rest: &str,
) -> Result<Response<Body>, Rejection> {
    let protected = routes.iter().filter(|r| r.auth != AuthMode::None);
    let (resource, scopes): (String, Vec<&String>) = if rest.is_empty() || rest == "/" {
        let mut scopes: Vec<&String> = Vec::new();
        for scope in protected.flat_map(|r| r.scopes.iter()) {
            if !scopes.contains(&scope) {
                scopes.push(scope);
            }
        }
        (issuer.to_owned(), scopes)
    } else {
        let route = protected
            .filter(|r| r.path.trim_end_matches('/') == rest.trim_end_matches('/'))
            .min_by_key(|r| r.host.is_some())
            .ok_or(Rejection::NoRoute)?;
        (
            format!("{issuer}{}", route.path),
            route.scopes.iter().collect(),
        )
    };
    let doc = json!({
        "resource": resource,
        "authorization_servers": [issuer],
        "bearer_methods_supported": ["header"],
        "scopes_supported": scopes,
        "resource_name": "authgate",
    });
    Ok(response::json(StatusCode::OK, &doc))
}
