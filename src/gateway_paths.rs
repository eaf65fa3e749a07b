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
/// The forward-auth check for a proxy in front (nginx `auth_request`, Traefik, Caddy).
pub const FORWARD_AUTH_PATH: &str = "/oauth2/auth";
/// RFC 9728 protected-resource metadata; a route's own document is below it.
pub const RESOURCE_METADATA_PATH: &str = "/.well-known/oauth-protected-resource";
/// The one stylesheet of the interactive pages.
pub const STYLESHEET_PATH: &str = "/oauth2/assets/authgate.css";

/// Paths the gateway serves itself, ahead of every route.
pub const RESERVED_PREFIXES: [&str; 3] = ["/oauth2/", "/.well-known/", "/healthz"];

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cookie_of_the_gateway_has_its_prefix() {
        for name in [
            SESSION_COOKIE,
            LOGIN_COOKIE,
            PRELOGIN_COOKIE,
            FLOW_COOKIE_PREFIX,
        ] {
            assert!(name.starts_with(COOKIE_PREFIX), "{name}");
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
        ] {
            assert!(
                RESERVED_PREFIXES.iter().any(|p| path.starts_with(p)),
                "{path}"
            );
        }
    }
}
