//! `authgate check --routes` and `authgate check --explain PATH [--host H]`: the resolved
//! route table in the order the gateway tries it, and which route (or which of the gateway's
//! own endpoints) serves a path and what it requires. Both read the same [`RouteTable`] and
//! path normalisation the running gateway uses, so what they say is what it does.

use std::fmt::Write as _;

use crate::config::{AllowRule, AuthMode, Config, RouteConfig};
use crate::gateway_paths::{own_endpoint, OwnEndpoint};
use crate::http::path;
use crate::proxy::routes::RouteTable;

/// The route table, one line a route, in match order: routes naming a host first, then
/// longest prefix first (configuration order among equals).
pub fn table(config: &Config) -> String {
    let table = RouteTable::new(config.routes.iter().map(|r| (r, r)));
    let mut rows = vec![["#", "host", "prefix", "auth", "scopes", "upstream"].map(str::to_owned)];
    for (i, route) in table.in_order().enumerate() {
        rows.push([
            (i + 1).to_string(),
            route.host.clone().unwrap_or_else(|| "*".to_owned()),
            route.path.clone(),
            auth_name(route.auth).to_owned(),
            list_or_dash(&route.scopes),
            route.upstream.to_string(),
        ]);
    }
    let mut widths = [0usize; 6];
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.len());
        }
    }
    let mut out = String::new();
    for row in &rows {
        let mut line = String::new();
        for (cell, width) in row.iter().zip(widths) {
            let _ = write!(line, "{cell:<width$}  ");
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Which route serves `raw_path` on `host` (a host name; `None`: a request naming none), and
/// what it requires; or which of the gateway's own endpoints answers it.
pub fn explain(config: &Config, raw_path: &str, host: Option<&str>) -> Result<String, String> {
    let normal = path::normalize(raw_path).map_err(|e| format!("{raw_path}: {e}"))?;
    let host = host.map(|h| h.trim_end_matches('.').to_ascii_lowercase());
    let mut out = String::new();
    if normal != raw_path {
        let _ = writeln!(out, "{raw_path} is matched as {normal}");
    }
    if let Some((endpoint, _)) = own_endpoint(&normal) {
        let _ = writeln!(
            out,
            "{normal}: served by the gateway itself ({}); no route applies",
            endpoint_name(endpoint)
        );
        return Ok(out);
    }
    let table = RouteTable::new(config.routes.iter().map(|r| (r, r)));
    let matched = if path::has_parameters(raw_path) {
        let cut = path::without_parameters(raw_path).map_err(|e| format!("{raw_path}: {e}"))?;
        table
            .find(host.as_deref(), &cut)
            .map(|r| (*r, !r.path_parameters))
    } else {
        table.find(host.as_deref(), &normal).map(|r| (*r, false))
    };
    let Some((route, refused_parameters)) = matched else {
        let _ = writeln!(out, "{normal}: no route; the gateway answers 404");
        return Ok(out);
    };
    let _ = writeln!(
        out,
        "{normal}: route {} (host {})",
        route.path,
        route.host.as_deref().unwrap_or("*")
    );
    if refused_parameters {
        let _ = writeln!(
            out,
            "  refused: the path has ;parameters and the route has no path_parameters = true"
        );
    }
    describe(&mut out, route);
    Ok(out)
}

fn describe(out: &mut String, route: &RouteConfig) {
    let needs = match route.auth {
        AuthMode::None => "nothing: public".to_owned(),
        AuthMode::Bearer => "a bearer access token".to_owned(),
        AuthMode::Session => {
            "a signed-in browser session; without one, the sign-in page".to_owned()
        }
    };
    let _ = writeln!(out, "  auth: {} (requires {needs})", auth_name(route.auth));
    if route.auth != AuthMode::None {
        let _ = writeln!(out, "  scopes: {}", list_or_dash(&route.scopes));
        if !route.allow.is_empty() {
            let rules: Vec<String> = route.allow.iter().map(allow_rule).collect();
            let _ = writeln!(out, "  allow (any of): {}", rules.join(", "));
        }
    }
    let _ = writeln!(out, "  upstream: {}", route.upstream);
    let _ = writeln!(
        out,
        "  strip_prefix: {}, preserve_host: {}, body_limit: {} bytes",
        route.strip_prefix, route.preserve_host, route.body_limit
    );
    if route.assertion {
        let _ = writeln!(out, "  the upstream gets a signed X-Auth-Assertion");
    }
}

fn auth_name(mode: AuthMode) -> &'static str {
    match mode {
        AuthMode::Bearer => "bearer",
        AuthMode::Session => "session",
        AuthMode::None => "none",
    }
}

fn list_or_dash(items: &[String]) -> String {
    if items.is_empty() {
        "-".to_owned()
    } else {
        items.join(",")
    }
}

/// A rule as it is written in `allow`.
fn allow_rule(rule: &AllowRule) -> String {
    match rule {
        AllowRule::User(name) => format!("user:{name}"),
        AllowRule::Provider(id) => format!("provider:{id}"),
        AllowRule::Group {
            provider: Some(provider),
            name,
        } => format!("group:{provider}/{name}"),
        AllowRule::Group {
            provider: None,
            name,
        } => format!("group:{name}"),
        AllowRule::Domain(domain) => format!("domain:{domain}"),
    }
}

fn endpoint_name(endpoint: OwnEndpoint) -> &'static str {
    match endpoint {
        OwnEndpoint::SignInCallback => "the sign-in callback",
        OwnEndpoint::ForwardAuth => "forward-auth",
        OwnEndpoint::SignInStart => "the sign-in start",
        OwnEndpoint::ProviderStart => "a sign-in at an identity provider",
        OwnEndpoint::ProviderCallback => "an identity provider's callback",
        OwnEndpoint::ResourceMetadata => "RFC 9728 protected resource metadata",
        OwnEndpoint::AuthorizationServer => "the authorization server",
        OwnEndpoint::Healthz => "the health check",
        OwnEndpoint::Reserved => "a reserved path: 404",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An argon2id hash (of nothing anyone types): `[[users]]` needs one.
    const HASH: &str =
        "$argon2id$v=19$m=8,t=1,p=1$c29tZXNhbHRzYWx0$YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXowMTIzNDU";

    fn config() -> Config {
        Config::from_toml_str(&format!(
            "[server]\nlisten = \"127.0.0.1:8443\"\npublic_url = \"https://gw.example.com\"\n\
             [scopes]\n\"api:read\" = \"Read\"\n\
             [[users]]\nname = \"alice\"\npassword = \"{HASH}\"\n\
             [[routes]]\npath = \"/\"\nupstream = \"static://200\"\nauth = \"none\"\n\
             [[routes]]\npath = \"/api/\"\nupstream = \"http://127.0.0.1:9000/v1\"\n\
             auth = \"bearer\"\nscopes = [\"api:read\"]\n\
             [[routes]]\nhost = \"admin.example.com\"\npath = \"/\"\nupstream = \"whoami://\"\n\
             auth = \"session\"\nallow = [\"user:alice\", \"domain:example.com\"]\n",
        ))
        .unwrap()
    }

    #[test]
    fn the_table_is_in_match_order() {
        let table = table(&config());
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(
            lines,
            [
                "#  host               prefix  auth     scopes    upstream",
                "1  admin.example.com  /       session  -         whoami://",
                "2  *                  /api/   bearer   api:read  http://127.0.0.1:9000/v1",
                "3  *                  /       none     -         static://200",
            ]
        );
    }

    #[test]
    fn explain_names_the_route_and_what_it_requires() {
        let config = config();
        let api = explain(&config, "/api/users", Some("gw.example.com")).unwrap();
        assert!(
            api.starts_with("/api/users: route /api/ (host *)\n"),
            "{api}"
        );
        assert!(
            api.contains("  auth: bearer (requires a bearer access token)\n"),
            "{api}"
        );
        assert!(api.contains("  scopes: api:read\n"), "{api}");
        assert!(
            api.contains("  upstream: http://127.0.0.1:9000/v1\n"),
            "{api}"
        );

        let admin = explain(&config, "/x", Some("Admin.Example.com")).unwrap();
        assert!(
            admin.starts_with("/x: route / (host admin.example.com)"),
            "{admin}"
        );
        assert!(
            admin.contains("allow (any of): user:alice, domain:example.com"),
            "{admin}"
        );

        let dotted = explain(&config, "/api/../x", None).unwrap();
        assert!(
            dotted.starts_with("/api/../x is matched as /x\n/x: route / (host *)"),
            "{dotted}"
        );
        assert!(dotted.contains("requires nothing: public"), "{dotted}");

        let own = explain(&config, "/oauth2/token", None).unwrap();
        assert!(
            own.contains("served by the gateway itself (the authorization server)"),
            "{own}"
        );
        assert!(explain(&config, "/healthz", None)
            .unwrap()
            .contains("the health check"));
    }

    #[test]
    fn explain_says_when_no_route_serves() {
        let config = Config::from_toml_str(
            "[server]\nlisten = \"127.0.0.1:8443\"\npublic_url = \"https://gw.example.com\"\n\
             [[routes]]\npath = \"/app/\"\nupstream = \"static://204\"\nauth = \"none\"\n",
        )
        .unwrap();
        let none = explain(&config, "/other", None).unwrap();
        assert_eq!(none, "/other: no route; the gateway answers 404\n");
        let params = explain(&config, "/app;x=1/y", None).unwrap();
        assert!(
            params.contains("refused: the path has ;parameters"),
            "{params}"
        );
        assert!(explain(&config, "no-slash", None).is_err());
    }
}
