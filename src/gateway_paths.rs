//! The gateway's own names: its first-party client id, the paths it serves ahead of every
//! route, and the cookies it owns. A leaf: every layer that needs one of these names imports
//! it from here, so the OAuth core, the authn core, the configuration and the dispatcher
//! agree without importing one another.

/// The client id the gateway uses for its own browser sign-in flow. A configured client may
/// not take it.
pub const GATEWAY_CLIENT_ID: &str = "authgate";

/// Where the authorization server sends the gateway's own codes.
pub const CALLBACK_PATH: &str = "/oauth2/callback";
/// Starts a sign-in explicitly, returning to `?rd=` (for forward-auth set-ups).
pub const START_PATH: &str = "/oauth2/start";
/// `/oauth2/start/ID?request=…`: starts a sign-in at the upstream provider `ID` (contract
/// §8) for the pending authorization request of the login page.
pub const PROVIDER_START_PREFIX: &str = "/oauth2/start/";
/// `/oauth2/callback/ID`: the redirect URI to register at the provider `ID` (contract §8).
pub const PROVIDER_CALLBACK_PREFIX: &str = "/oauth2/callback/";

/// Where the login page's button for the provider `id` starts its sign-in, carrying the
/// pending authorization request `query` (the login page's own query).
pub fn provider_start_url(id: &str, query: &str) -> String {
    let request = form_urlencoded::Serializer::new(String::new())
        .append_pair("request", query)
        .finish();
    format!("{PROVIDER_START_PREFIX}{id}?{request}")
}
/// RP-Initiated Logout (the `end_session_endpoint`); a GET without a hint asks to confirm.
pub const LOGOUT_PATH: &str = "/oauth2/logout";
/// The forward-auth check for a proxy in front (nginx `auth_request`, Traefik, Caddy).
pub const FORWARD_AUTH_PATH: &str = "/oauth2/auth";
/// RFC 9728 protected-resource metadata; a route's own document is below it.
pub const RESOURCE_METADATA_PATH: &str = "/.well-known/oauth-protected-resource";
/// The one stylesheet of the interactive pages.
pub const STYLESHEET_PATH: &str = "/oauth2/assets/authgate.css";
/// The one script, on the passkey pages only.
pub const PASSKEY_SCRIPT_PATH: &str = "/oauth2/assets/passkey.js";
/// Passwordless sign-in: the user name, then a passkey of that user.
pub const PASSKEY_SIGN_IN_PATH: &str = "/oauth2/passkey";
/// The account page: a person's second factors, behind a fresh sign-in.
pub const ACCOUNT_PATH: &str = "/oauth2/account";

/// RFC 8414 authorization-server metadata.
pub const AUTHORIZATION_SERVER_METADATA_PATH: &str = "/.well-known/oauth-authorization-server";
/// OpenID Connect Discovery 1.0 §4: the OpenID Provider's configuration.
pub const OPENID_CONFIGURATION_PATH: &str = "/.well-known/openid-configuration";
/// The published signing keys (`jwks_uri`, RFC 7517).
pub const JWKS_PATH: &str = "/oauth2/jwks";
/// The token endpoint (RFC 6749 §3.2).
pub const TOKEN_PATH: &str = "/oauth2/token";
/// Token revocation (RFC 7009).
pub const REVOKE_PATH: &str = "/oauth2/revoke";
/// The OpenID Connect UserInfo endpoint (OIDC Core §5.3).
pub const USERINFO_PATH: &str = "/oauth2/userinfo";
/// The health check of load balancers.
pub const HEALTHZ_PATH: &str = "/healthz";

/// Paths the gateway serves itself, ahead of every route.
pub const RESERVED_PREFIXES: [&str; 3] = ["/oauth2/", "/.well-known/", HEALTHZ_PATH];

/// One of the gateway's own endpoints, as named by [`OWN_ENDPOINTS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnEndpoint {
    /// The sign-in flow's callback ([`CALLBACK_PATH`]).
    SignInCallback,
    /// The forward-auth check ([`FORWARD_AUTH_PATH`]).
    ForwardAuth,
    /// An explicit sign-in start ([`START_PATH`]).
    SignInStart,
    /// A sign-in at an upstream provider begins (below [`PROVIDER_START_PREFIX`]).
    ProviderStart,
    /// An upstream provider's answer (below [`PROVIDER_CALLBACK_PREFIX`]).
    ProviderCallback,
    /// RFC 9728 metadata of a route (below [`RESOURCE_METADATA_PATH`]).
    ResourceMetadata,
    /// The authorization server (`/oauth2/` and its RFC 8414 metadata).
    AuthorizationServer,
    /// [`HEALTHZ_PATH`].
    Healthz,
    /// Any other path under a reserved prefix: no route may serve it, so it is a 404.
    Reserved,
}

/// How an entry of [`OWN_ENDPOINTS`] matches a normalised path.
#[derive(Debug, Clone, Copy)]
pub enum PathPattern {
    /// This path exactly.
    Exact(&'static str),
    /// Every path that starts with this (the rest goes to the endpoint).
    Prefix(&'static str),
    /// A [`RESERVED_PREFIXES`] entry: every path under it, and the prefix without its `/`.
    Reserved(&'static str),
}

impl PathPattern {
    /// The rest of `path` after the pattern, if it matches (`""` for an exact match).
    fn rest(self, path: &str) -> Option<&str> {
        match self {
            PathPattern::Exact(exact) => (path == exact).then_some(""),
            PathPattern::Prefix(prefix) => path.strip_prefix(prefix),
            PathPattern::Reserved(prefix) => {
                let under = path.starts_with(prefix) || path == prefix.trim_end_matches('/');
                under.then_some("")
            }
        }
    }
}

/// The gateway's own endpoints, served ahead of every route, in the order they are tried:
/// the first that matches serves. The order matters: the sign-in callback, the sign-in start
/// and forward-auth are exact `/oauth2/` paths, and the providers' start and callback
/// prefixes are below `/oauth2/`, so they come before the authorization server's `/oauth2/`
/// prefix, which would take them; the reserved prefixes come last.
pub const OWN_ENDPOINTS: [(PathPattern, OwnEndpoint); 13] = [
    (
        PathPattern::Exact(CALLBACK_PATH),
        OwnEndpoint::SignInCallback,
    ),
    (
        PathPattern::Exact(FORWARD_AUTH_PATH),
        OwnEndpoint::ForwardAuth,
    ),
    (PathPattern::Exact(START_PATH), OwnEndpoint::SignInStart),
    (
        PathPattern::Prefix(PROVIDER_START_PREFIX),
        OwnEndpoint::ProviderStart,
    ),
    (
        PathPattern::Prefix(PROVIDER_CALLBACK_PREFIX),
        OwnEndpoint::ProviderCallback,
    ),
    (
        PathPattern::Prefix(RESOURCE_METADATA_PATH),
        OwnEndpoint::ResourceMetadata,
    ),
    (
        PathPattern::Prefix("/oauth2/"),
        OwnEndpoint::AuthorizationServer,
    ),
    (
        PathPattern::Exact(AUTHORIZATION_SERVER_METADATA_PATH),
        OwnEndpoint::AuthorizationServer,
    ),
    (
        PathPattern::Exact(OPENID_CONFIGURATION_PATH),
        OwnEndpoint::AuthorizationServer,
    ),
    (PathPattern::Exact(HEALTHZ_PATH), OwnEndpoint::Healthz),
    (
        PathPattern::Reserved(RESERVED_PREFIXES[0]),
        OwnEndpoint::Reserved,
    ),
    (
        PathPattern::Reserved(RESERVED_PREFIXES[1]),
        OwnEndpoint::Reserved,
    ),
    (
        PathPattern::Reserved(RESERVED_PREFIXES[2]),
        OwnEndpoint::Reserved,
    ),
];

/// Which own endpoint serves the normalised `path`, with the rest of the path after its
/// pattern; `None` when the routes do.
pub fn own_endpoint(path: &str) -> Option<(OwnEndpoint, &str)> {
    // Every pattern lies under a reserved prefix (`/oauth2`, `/.well-known`, `/healthz`: a
    // test below holds it), so a path whose second byte starts none of them is a route's,
    // told without walking the table: every proxied request asks.
    if !matches!(path.as_bytes().get(1), Some(b'o' | b'.' | b'h')) {
        return None;
    }
    OWN_ENDPOINTS
        .iter()
        .find_map(|&(pattern, endpoint)| pattern.rest(path).map(|rest| (endpoint, rest)))
}

/// Every cookie the gateway owns starts so: never forwarded, never set by an upstream.
pub const COOKIE_PREFIX: &str = "__Host-authgate-";
/// The session cookie of protected routes.
pub const SESSION_COOKIE: &str = "__Host-authgate-session";
/// The authorization server's login session (single sign-on across clients).
pub const LOGIN_COOKIE: &str = "__Host-authgate-login";
/// Binds the login form's CSRF token to this browser before there is a session.
pub const PRELOGIN_COOKIE: &str = "__Host-authgate-csrf";
/// The flow cookie of one sign-in is this prefix and 12 hex digits of its state's hash.
pub const FLOW_COOKIE_PREFIX: &str = "__Host-authgate-flow-";
/// The flow cookie of one sign-in at an upstream provider: this prefix and 12 hex digits of
/// its state's hash.
pub const FEDERATION_FLOW_COOKIE_PREFIX: &str = "__Host-authgate-fed-";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_own_endpoint_lies_under_a_reserved_prefix() {
        for (pattern, _) in OWN_ENDPOINTS {
            let (PathPattern::Exact(p) | PathPattern::Prefix(p) | PathPattern::Reserved(p)) =
                pattern;
            let stem = |r: &str| r.trim_end_matches('/').to_owned();
            assert!(
                RESERVED_PREFIXES.iter().any(|r| p.starts_with(&stem(r))),
                "{p} is outside the reserved prefixes"
            );
            assert!(own_endpoint(p).is_some(), "{p}");
        }
        for reserved in RESERVED_PREFIXES {
            assert!(
                own_endpoint(reserved.trim_end_matches('/')).is_some(),
                "{reserved}"
            );
        }
        for path in [
            "/",
            "/x",
            "/oauth",
            "/.well",
            "/health",
            "/api/oauth2/token",
            "",
        ] {
            assert_eq!(own_endpoint(path), None, "{path}");
        }
    }

    #[test]
    fn every_cookie_of_the_gateway_has_its_prefix() {
        for name in [
            SESSION_COOKIE,
            LOGIN_COOKIE,
            PRELOGIN_COOKIE,
            FLOW_COOKIE_PREFIX,
            FEDERATION_FLOW_COOKIE_PREFIX,
        ] {
            assert!(name.starts_with(COOKIE_PREFIX), "{name}");
        }
    }

    #[test]
    fn own_endpoints_are_tried_in_order() {
        use OwnEndpoint::*;
        for (path, expected) in [
            ("/oauth2/callback", Some((SignInCallback, ""))),
            ("/oauth2/start", Some((SignInStart, ""))),
            ("/oauth2/auth", Some((ForwardAuth, ""))),
            ("/oauth2/token", Some((AuthorizationServer, "token"))),
            ("/oauth2/callback/x", Some((ProviderCallback, "x"))),
            ("/oauth2/start/corp", Some((ProviderStart, "corp"))),
            ("/oauth2/callback/", Some((ProviderCallback, ""))),
            ("/oauth2", Some((Reserved, ""))),
            (
                "/.well-known/oauth-protected-resource/api",
                Some((ResourceMetadata, "/api")),
            ),
            (
                "/.well-known/oauth-authorization-server",
                Some((AuthorizationServer, "")),
            ),
            (
                "/.well-known/openid-configuration",
                Some((AuthorizationServer, "")),
            ),
            ("/oauth2/jwks", Some((AuthorizationServer, "jwks"))),
            ("/oauth2/userinfo", Some((AuthorizationServer, "userinfo"))),
            ("/.well-known/other", Some((Reserved, ""))),
            ("/.well-known", Some((Reserved, ""))),
            ("/healthz", Some((Healthz, ""))),
            ("/healthz/x", Some((Reserved, ""))),
            ("/healthzx", Some((Reserved, ""))),
            ("/api/oauth2/", None),
            ("/", None),
        ] {
            assert_eq!(own_endpoint(path), expected, "{path}");
        }
    }

    #[test]
    fn every_own_path_is_reserved() {
        for path in [
            CALLBACK_PATH,
            START_PATH,
            FORWARD_AUTH_PATH,
            RESOURCE_METADATA_PATH,
            STYLESHEET_PATH,
            PASSKEY_SCRIPT_PATH,
            PASSKEY_SIGN_IN_PATH,
            ACCOUNT_PATH,
            AUTHORIZATION_SERVER_METADATA_PATH,
            OPENID_CONFIGURATION_PATH,
            JWKS_PATH,
            USERINFO_PATH,
        ] {
            assert!(
                RESERVED_PREFIXES.iter().any(|p| path.starts_with(p)),
                "{path}"
            );
        }
    }
}
