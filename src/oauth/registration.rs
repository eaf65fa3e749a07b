//! Dynamic client registration (RFC 7591), off unless `[registration] enabled = true`, and
//! then only for requests carrying the configured initial access token (compared as SHA-256
//! digests in constant time). Registered clients live in the store, capped in number, are
//! never first-party, always use PKCE, and may ask only for `[registration] scopes`. The
//! OpenID metadata that matters is accepted too (`id_token_signed_response_alg`,
//! `post_logout_redirect_uris`, `backchannel_logout_uri`) and returned in the response. A
//! registered `backchannel_logout_uri` must be https, even on loopback (configured clients
//! may use loopback http): the gateway POSTs to it, and must not be made to reach its own
//! host's ports for whoever holds the initial access token.

use serde::{Deserialize, Serialize};

use super::error::{ErrorCode, OAuthError};
use super::grants::scope_list;
use super::{random_id, AuthServer};
use crate::config::{
    check_backchannel_logout_uri, check_redirect_uri, response_parameter_in, ClientConfig,
    ClientKind, GrantType,
};
use crate::tokens::jose::Alg;
use crate::tokens::opaque::{new_token, TokenHash};

/// The client metadata a registration request may send (RFC 7591 §2); others are ignored.
#[derive(Debug, Default, Deserialize)]
pub struct ClientMetadata {
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    pub token_endpoint_auth_method: Option<String>,
    pub grant_types: Option<Vec<String>>,
    pub response_types: Option<Vec<String>>,
    pub client_name: Option<String>,
    pub scope: Option<String>,
    /// OIDC Registration §2: `RS256` (the default), `ES256` or `EdDSA`; never `none` or HS*.
    pub id_token_signed_response_alg: Option<String>,
    /// RP-Initiated Logout §3.1: where logout may return the browser (redirect URI rules).
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// Back-Channel Logout §2.2: where logout tokens are POSTed.
    pub backchannel_logout_uri: Option<String>,
}

/// The registration response (RFC 7591 §3.2.1).
#[derive(Serialize)]
pub struct Registered {
    pub client_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    pub client_id_issued_at: u64,
    /// 0: the secret does not expire.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret_expires_at: Option<u64>,
    pub client_name: String,
    pub redirect_uris: Vec<String>,
    pub grant_types: Vec<&'static str>,
    pub response_types: Vec<&'static str>,
    pub token_endpoint_auth_method: &'static str,
    pub scope: String,
    pub id_token_signed_response_alg: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub post_logout_redirect_uris: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backchannel_logout_uri: Option<String>,
}

/// Why a registration was refused.
#[derive(Debug)]
pub enum RegistrationRefused {
    /// Registration is off: the endpoint does not exist.
    Disabled,
    /// No or wrong initial access token.
    Unauthorized,
    Invalid(OAuthError),
}

fn metadata_error(description: &'static str) -> RegistrationRefused {
    RegistrationRefused::Invalid(OAuthError::new(
        ErrorCode::InvalidClientMetadata,
        description,
    ))
}

impl AuthServer {
    /// Registers a client for a request that presented `initial_token`.
    pub async fn register(
        &self,
        initial_token: Option<&str>,
        metadata: ClientMetadata,
    ) -> Result<Registered, RegistrationRefused> {
        let Some(expected) = self.registration_token else {
            return Err(RegistrationRefused::Disabled);
        };
        if !initial_token.is_some_and(|t| expected.matches(t)) {
            return Err(RegistrationRefused::Unauthorized);
        }

        let kind = match metadata.token_endpoint_auth_method.as_deref() {
            Some("none") => ClientKind::Public,
            None | Some("client_secret_basic") | Some("client_secret_post") => ClientKind::Confidential,
            Some(_) => return Err(metadata_error("token_endpoint_auth_method must be none, client_secret_basic or client_secret_post")),
        };
        if metadata
            .response_types
            .as_ref()
            .is_some_and(|r| r.iter().any(|t| t != "code"))
        {
            return Err(metadata_error("only the response type code is supported"));
        }
        let names = metadata
            .grant_types
            .clone()
            .unwrap_or_else(|| vec!["authorization_code".to_owned()]);
        let mut grants = Vec::new();
        for name in &names {
            let grant =
                GrantType::parse(name).ok_or(metadata_error("a grant type is not supported"))?;
            if !grants.contains(&grant) {
                grants.push(grant);
            }
        }
        if grants.is_empty() {
            return Err(metadata_error("grant_types must not be empty"));
        }
        if kind == ClientKind::Public && grants.contains(&GrantType::ClientCredentials) {
            return Err(metadata_error(
                "client_credentials needs a confidential client",
            ));
        }
        if grants.contains(&GrantType::RefreshToken)
            && !grants.contains(&GrantType::AuthorizationCode)
        {
            return Err(metadata_error(
                "refresh_token is only issued with authorization_code",
            ));
        }
        if metadata.redirect_uris.len() > 10 {
            return Err(metadata_error("at most 10 redirect_uris"));
        }
        for uri in &metadata.redirect_uris {
            if response_parameter_in(uri).is_some() {
                return Err(RegistrationRefused::Invalid(OAuthError::new(
                    ErrorCode::InvalidRedirectUri,
                    "a redirect URI's query holds a parameter the authorization response carries (code, state, iss, error, error_description, error_uri, access_token)",
                )));
            }
            if check_redirect_uri(uri).is_err() {
                return Err(RegistrationRefused::Invalid(OAuthError::new(
                    ErrorCode::InvalidRedirectUri,
                    "a redirect URI is not acceptable (absolute, no fragment or wildcard, https or loopback http)",
                )));
            }
        }
        if grants.contains(&GrantType::AuthorizationCode) && metadata.redirect_uris.is_empty() {
            return Err(RegistrationRefused::Invalid(OAuthError::new(
                ErrorCode::InvalidRedirectUri,
                "authorization_code needs at least one redirect URI",
            )));
        }
        let oidc = self.registered_oidc(&metadata)?;
        let scopes = match metadata.scope.as_deref() {
            None => self.registration.scopes.clone(),
            Some(s) => {
                let asked = scope_list(s);
                if asked.iter().any(|s| !self.registration.scopes.contains(s)) {
                    return Err(metadata_error(
                        "a requested scope is not offered to registered clients",
                    ));
                }
                asked
            }
        };
        let name = metadata
            .client_name
            .unwrap_or_default()
            .chars()
            .filter(|c| !c.is_control())
            .take(100)
            .collect::<String>();

        let id = format!("dyn-{}", random_id());
        let secret = (kind == ClientKind::Confidential).then(new_token);
        let client = ClientConfig {
            id: id.clone(),
            kind,
            secret_hash: secret.as_deref().map(TokenHash::of),
            name: if name.trim().is_empty() {
                id.clone()
            } else {
                name
            },
            redirect_uris: metadata.redirect_uris,
            grants,
            scopes,
            first_party: false,
            require_pkce: true,
            id_token_alg: oidc.id_token_alg,
            id_token_claims: crate::config::IdTokenClaims::Scopes,
            post_logout_redirect_uris: oidc.post_logout_redirect_uris,
            backchannel_logout_uri: oidc.backchannel_logout_uri,
            allowed_origins: Vec::new(),
        };
        let stored = self
            .store
            .put_client(client.clone(), self.registration.max_clients)
            .await
            .map_err(|e| RegistrationRefused::Invalid(e.into()))?;
        if !stored {
            return Err(RegistrationRefused::Invalid(OAuthError::new(
                ErrorCode::TemporarilyUnavailable,
                "no more clients can be registered",
            )));
        }
        tracing::info!(client_id = %client.id, "client registered");
        Ok(Registered {
            client_id: client.id,
            client_secret_expires_at: secret.as_ref().map(|_| 0),
            client_secret: secret,
            client_id_issued_at: self.now(),
            client_name: client.name,
            redirect_uris: client.redirect_uris,
            grant_types: client.grants.iter().map(|g| g.as_str()).collect(),
            response_types: if client.grants.contains(&GrantType::AuthorizationCode) {
                vec!["code"]
            } else {
                vec![]
            },
            token_endpoint_auth_method: match client.kind {
                ClientKind::Public => "none",
                ClientKind::Confidential => "client_secret_basic",
            },
            scope: client.scopes.join(" "),
            id_token_signed_response_alg: client.id_token_alg.as_str(),
            post_logout_redirect_uris: client.post_logout_redirect_uris,
            backchannel_logout_uri: client.backchannel_logout_uri,
        })
    }

    /// The OpenID metadata of a registration: the ID token algorithm (one a key signs with
    /// now), the post-logout redirect URIs (the redirect URI rules, at most 10) and the
    /// back-channel logout URI (https, never http, not even on loopback; no fragment).
    fn registered_oidc(
        &self,
        metadata: &ClientMetadata,
    ) -> Result<RegisteredOidc, RegistrationRefused> {
        let id_token_alg = match metadata.id_token_signed_response_alg.as_deref() {
            None => Alg::Rs256,
            Some(name) => Alg::parse(name)
                .filter(|alg| self.id_token_algs().contains(alg))
                .ok_or(metadata_error(
                    "id_token_signed_response_alg must be RS256, ES256 or EdDSA (never none or HS256)",
                ))?,
        };
        let uris = &metadata.post_logout_redirect_uris;
        if uris.len() > 10 {
            return Err(metadata_error("at most 10 post_logout_redirect_uris"));
        }
        for uri in uris {
            // The redirect URI rules include "no response parameter in the query".
            if check_redirect_uri(uri).is_err() {
                return Err(metadata_error(
                    "a post_logout_redirect_uri is not acceptable (the redirect URI rules: absolute, no fragment or wildcard, https or loopback http, no response parameter such as state in its query)",
                ));
            }
        }
        let mut post_logout_redirect_uris: Vec<String> = Vec::with_capacity(uris.len());
        for uri in uris {
            if !post_logout_redirect_uris.contains(uri) {
                post_logout_redirect_uris.push(uri.clone());
            }
        }
        let backchannel_logout_uri = match &metadata.backchannel_logout_uri {
            None => None,
            // https only, loopback http included: a registered client is anyone holding the
            // initial access token, and a loopback URI would have the gateway POST to a port
            // of its own host at every logout. Configured clients keep loopback http.
            Some(uri) => {
                if !uri.starts_with("https://") || check_backchannel_logout_uri(uri).is_err() {
                    return Err(metadata_error(BACKCHANNEL_REFUSED));
                }
                Some(uri.clone())
            }
        };
        Ok(RegisteredOidc {
            id_token_alg,
            post_logout_redirect_uris,
            backchannel_logout_uri,
        })
    }
}

/// Why a registered `backchannel_logout_uri` was refused.
pub(crate) const BACKCHANNEL_REFUSED: &str = "backchannel_logout_uri must be an absolute https URL without a fragment (a registered client may not name an http one, not even on loopback)";

/// A registration's OpenID metadata, checked.
struct RegisteredOidc {
    id_token_alg: Alg,
    post_logout_redirect_uris: Vec<String>,
    backchannel_logout_uri: Option<String>,
}

#[cfg(test)]
mod tests;
