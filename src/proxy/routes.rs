//! The route table: which `[[routes]]` entry serves a request, and the target sent upstream
//! for it ([`strip_route_prefix`], [`upstream_uri`]).
//!
//! Host first (a route naming the request's host wins over routes for every host), then the
//! longest path prefix. Prefixes match at segment boundaries on the normalised path: `/api`
//! and `/api/` both match `/api`, `/api/` and `/api/x`, never `/apix`. Built once per
//! configuration; lookups allocate nothing.

use std::sync::Arc;

use http::uri::{PathAndQuery, Uri};

use crate::config::{HttpUpstream, RouteConfig};
use crate::http::path::PathRejection;

/// Routes in lookup order.
#[derive(Debug, Default)]
pub struct RouteTable<R> {
    /// Routes with a `host`, longest prefix first.
    by_host: Vec<(Arc<str>, String, R)>,
    /// Routes for every host, longest prefix first.
    any_host: Vec<(String, R)>,
}

impl<R> RouteTable<R> {
    /// Builds the table from each route's configuration and what lookups should return for it.
    pub fn new<'a>(entries: impl IntoIterator<Item = (&'a RouteConfig, R)>) -> Self {
        let mut table = RouteTable {
            by_host: Vec::new(),
            any_host: Vec::new(),
        };
        for (route, value) in entries {
            let base = route.path.trim_end_matches('/').to_owned();
            match &route.host {
                Some(host) => table.by_host.push((Arc::from(host.as_str()), base, value)),
                None => table.any_host.push((base, value)),
            }
        }
        // Stable sorts: among equal lengths, configuration order is kept.
        table
            .by_host
            .sort_by_key(|entry| std::cmp::Reverse(entry.1.len()));
        table
            .any_host
            .sort_by_key(|entry| std::cmp::Reverse(entry.0.len()));
        table
    }

    /// Every route in the order lookups try them (`authgate check --routes`).
    pub fn in_order(&self) -> impl Iterator<Item = &R> {
        let by_host = self.by_host.iter().map(|(_, _, route)| route);
        by_host.chain(self.any_host.iter().map(|(_, route)| route))
    }

    /// The route for `host` (lower case, without port) and a normalised `path`.
    pub fn find(&self, host: Option<&str>, path: &str) -> Option<&R> {
        if let Some(host) = host {
            let hit = self
                .by_host
                .iter()
                .find(|(h, base, _)| **h == *host && prefix_matches(base, path));
            if let Some((_, _, route)) = hit {
                return Some(route);
            }
        }
        self.any_host
            .iter()
            .find(|(base, _)| prefix_matches(base, path))
            .map(|(_, route)| route)
    }
}

/// `base` is a route prefix without its trailing slash (`""` for `/`).
fn prefix_matches(base: &str, path: &str) -> bool {
    match path.strip_prefix(base) {
        Some(rest) => rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

/// The part of `path` below the route prefix `route_path`, as a path (`/` when nothing is left).
pub fn strip_route_prefix<'a>(route_path: &str, path: &'a str) -> &'a str {
    let base = route_path.trim_end_matches('/');
    match path.strip_prefix(base) {
        Some("") | None => "/",
        Some(rest) => rest,
    }
}

/// The request target sent upstream, in origin form: the upstream's base path (none for the
/// built-ins), the route-relative `path` (see [`strip_route_prefix`]), and the query of the
/// client's target (`original`) unchanged.
pub fn upstream_uri(
    upstream: Option<&HttpUpstream>,
    path: &str,
    original: &Uri,
) -> Result<Uri, PathRejection> {
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
    let path_and_query =
        PathAndQuery::try_from(target).map_err(|_| PathRejection::IllegalCharacter)?;
    Ok(Uri::from(path_and_query))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn table(toml_routes: &str) -> RouteTable<String> {
        let text = format!(
            "[server]\nlisten = \"127.0.0.1:0\"\npublic_url = \"http://localhost\"\n[server.tls]\nmode = \"off\"\n{toml_routes}"
        );
        let config = Config::from_toml_str(&text).unwrap();
        RouteTable::new(config.routes.iter().map(|r| {
            (
                r,
                format!("{}{}", r.host.clone().unwrap_or_default(), r.path),
            )
        }))
    }

    #[test]
    fn longest_prefix_at_segment_boundaries() {
        let t = table(
            r#"
            [[routes]]
            path = "/"
            upstream = "static://200"
            auth = "none"
            [[routes]]
            path = "/api/"
            upstream = "static://200"
            auth = "none"
            [[routes]]
            path = "/api/admin"
            upstream = "static://200"
            auth = "none"
            "#,
        );
        let cases = [
            ("/", "/"),
            ("/x", "/"),
            ("/api", "/api/"),
            ("/api/", "/api/"),
            ("/api/users", "/api/"),
            ("/apix", "/"),
            ("/api/admin", "/api/admin"),
            ("/api/admin/", "/api/admin"),
            ("/api/admin/x", "/api/admin"),
            ("/api/administrator", "/api/"),
        ];
        for (path, want) in cases {
            assert_eq!(t.find(None, path).map(String::as_str), Some(want), "{path}");
        }
    }

    #[test]
    fn host_routes_win_then_fall_back() {
        let t = table(
            r#"
            [[routes]]
            path = "/api/"
            upstream = "static://200"
            auth = "none"
            [[routes]]
            host = "App.Example.com"
            path = "/"
            upstream = "static://200"
            auth = "none"
            [[routes]]
            host = "other.example.com"
            path = "/only/"
            upstream = "static://200"
            auth = "none"
            "#,
        );
        assert_eq!(
            t.find(Some("app.example.com"), "/api/x")
                .map(String::as_str),
            Some("app.example.com/")
        );
        assert_eq!(
            t.find(Some("x.example.com"), "/api/x").map(String::as_str),
            Some("/api/")
        );
        assert_eq!(t.find(None, "/"), None);
        assert_eq!(
            t.find(Some("other.example.com"), "/api/")
                .map(String::as_str),
            Some("/api/")
        );
        assert_eq!(t.find(Some("other.example.com"), "/nothing"), None);
    }

    #[test]
    fn strip_prefix() {
        assert_eq!(strip_route_prefix("/api/", "/api/users"), "/users");
        assert_eq!(strip_route_prefix("/api/", "/api"), "/");
        assert_eq!(strip_route_prefix("/api/", "/api/"), "/");
        assert_eq!(strip_route_prefix("/", "/x"), "/x");
    }
}
