//! Client authentication at the token, revocation and introspection endpoints (RFC 6749
//! §2.3): HTTP Basic or form post, never both; secrets compared as SHA-256 digests in
//! constant time; failures throttled per client id.

use std::collections::HashMap;

use super::error::OAuthError;
use super::throttle::Throttle;
use crate::config::{ClientConfig, ClientKind};
use crate::tokens::opaque::TokenHash;

/// The credentials a request presented.
#[derive(Default)]
pub struct ClientCredentials {
    pub id: Option<String>,
    pub secret: Option<String>,
}

impl std::fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("id", &self.id)
            .field("secret", &self.secret.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

/// The configured clients.
#[derive(Debug)]
pub struct Clients {
    by_id: HashMap<String, ClientConfig>,
    failures: Throttle,
}

impl Clients {
    pub fn new(clients: &[ClientConfig]) -> Self {
        Clients {
            by_id: clients.iter().map(|c| (c.id.clone(), c.clone())).collect(),
            failures: Throttle::new(),
        }
    }

    /// A client from the configuration file.
    pub fn configured(&self, id: &str) -> Option<&ClientConfig> {
        self.by_id.get(id)
    }

    /// Every configured client (the gateway's own included).
    pub fn all(&self) -> impl Iterator<Item = &ClientConfig> {
        self.by_id.values()
    }

    /// Checks the presented credentials against `client` (as looked up by their id).
    pub fn verify(
        &self,
        client: Option<&ClientConfig>,
        creds: &ClientCredentials,
        now: u64,
    ) -> Result<(), OAuthError> {
        let Some(id) = creds.id.as_deref() else {
            return Err(OAuthError::invalid_client(
                "client authentication is required",
            ));
        };
        if self.failures.check(id, now).is_err() {
            return Err(OAuthError::invalid_client(
                "too many failed authentication attempts; try again later",
            ));
        }
        let ok = match (
            client.map(|c| (c.kind, c.secret_hash)),
            creds.secret.as_deref(),
        ) {
            (Some((ClientKind::Public, _)), None) => true,
            (Some((ClientKind::Confidential, Some(hash))), Some(secret)) => hash.matches(secret),
            (None, Some(secret)) => {
                // Same work for an unknown client as for a known one.
                let _ = TokenHash::of("unknown-client-placeholder").matches(secret);
                false
            }
            _ => false,
        };
        if ok {
            self.failures.succeed(id);
            Ok(())
        } else {
            self.failures.fail(id, now);
            tracing::info!(client_id = %id, reason = "client_auth_failed", "client authentication failed");
            Err(OAuthError::invalid_client("client authentication failed"))
        }
    }
}

#[cfg(test)]
mod tests;
