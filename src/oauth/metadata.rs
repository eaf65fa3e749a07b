//! Authorization server metadata (RFC 8414), every URL built from `public_url` and never
//! from request headers. The OpenID Provider document (`oidc::discovery`) is this one with
//! the OpenID members added, so the two agree on every member they share.

use serde_json::{json, Value};

use super::AuthServer;
use crate::gateway_paths::JWKS_PATH;

impl AuthServer {
    pub fn metadata(&self) -> Value {
        let base = &self.settings.issuer;
        let scopes = self.grantable_scopes();
        let mut doc = json!({
            "issuer": base,
            "authorization_endpoint": format!("{base}/oauth2/authorize"),
            "token_endpoint": format!("{base}/oauth2/token"),
            "revocation_endpoint": format!("{base}/oauth2/revoke"),
            "introspection_endpoint": format!("{base}/oauth2/introspect"),
            "end_session_endpoint": format!("{base}/oauth2/logout"),
            "jwks_uri": format!("{base}{JWKS_PATH}"),
            "scopes_supported": scopes,
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
            "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
            "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
            "authorization_response_iss_parameter_supported": true,
        });
        if self.registration_token.is_some() {
            doc["registration_endpoint"] = Value::String(format!("{base}/oauth2/register"));
        }
        doc
    }

    /// `scopes_supported`: every scope some client can be granted, whether or not `[scopes]`
    /// describes it. A client gets at most its own `scopes` (and, with a user, that user's),
    /// so the union of the configured clients' scopes covers them all; the gateway's own
    /// client holds every user's and route's scope, and a client registered later gets at
    /// most `[registration] scopes`. Declared scopes are listed too (a client may be added
    /// for them), and so are the built-in OpenID scopes (declared by every configuration).
    /// Sorted, each once.
    pub fn grantable_scopes(&self) -> Vec<&str> {
        let mut scopes: std::collections::BTreeSet<&str> =
            self.scopes.keys().map(String::as_str).collect();
        scopes.extend(crate::config::BUILTIN_SCOPES);
        for client in self.clients.all() {
            scopes.extend(client.scopes.iter().map(String::as_str));
        }
        if self.registration_token.is_some() {
            scopes.extend(self.registration.scopes.iter().map(String::as_str));
        }
        scopes.into_iter().collect()
    }
}
