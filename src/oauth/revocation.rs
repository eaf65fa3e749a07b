//! Revocation (RFC 7009) and introspection (RFC 7662).
//!
//! Revocation answers the same for an unknown token, another client's token and a revoked
//! one, so it reveals nothing; a client revokes only its own tokens. Revoking a refresh
//! token ends its family and deny-lists the family's access tokens. Introspection is for
//! confidential clients, and says `{"active": false}` and nothing more for anything not
//! valid now.

use serde::Serialize;

use super::clients::ClientCredentials;
use super::error::OAuthError;
use super::AuthServer;
use crate::config::ClientKind;
use crate::tokens::jwt::{self, Expected};
use crate::tokens::opaque::TokenHash;

/// An introspection answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Introspection {
    pub active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// How the user signed in (RFC 8176; RFC 9470 §6.2 lists these for introspection).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<u64>,
}

impl Introspection {
    fn inactive() -> Self {
        Introspection {
            active: false,
            scope: None,
            client_id: None,
            username: None,
            token_type: None,
            exp: None,
            iat: None,
            sub: None,
            aud: None,
            iss: None,
            jti: None,
            amr: Vec::new(),
            acr: None,
            auth_time: None,
        }
    }
}

impl AuthServer {
    /// Revokes `token` if it belongs to the calling client.
    pub async fn revoke(&self, token: &str, client: &ClientCredentials) -> Result<(), OAuthError> {
        let now = self.now();
        let client = self.authenticate_client(client).await?;
        if let Some(found) = self.store.get_refresh(&TokenHash::of(token), now).await? {
            if found.record.client_id == client.id {
                self.store.revoke_family(&found.record.family, now).await?;
                tracing::info!(client_id = %client.id, reason = "revoked", "refresh token family revoked");
            }
            return Ok(());
        }
        // An access token: verified as of now (an expired one needs nothing). Verifying "as
        // of 0" would refuse every real token as not yet valid (`iat` far after 0).
        let expected = Expected {
            issuer: &self.settings.issuer,
            audience: &self.settings.audience,
            now,
        };
        if let Ok(claims) = jwt::verify(token, &self.keys, expected) {
            if claims.client_id == client.id && claims.exp > now {
                self.store.revoke_access(&claims.jti, claims.exp).await?;
                tracing::info!(client_id = %client.id, reason = "revoked", "access token revoked");
            }
        }
        Ok(())
    }

    /// Describes `token` to a confidential client.
    pub async fn introspect(
        &self,
        token: &str,
        client: &ClientCredentials,
    ) -> Result<Introspection, OAuthError> {
        let now = self.now();
        let caller = self.authenticate_client(client).await?;
        if caller.kind != ClientKind::Confidential {
            return Err(OAuthError::invalid_client(
                "introspection is for confidential clients",
            ));
        }
        if let Ok(claims) = self.verify_access(token).await {
            let claims = std::sync::Arc::unwrap_or_clone(claims);
            let username = (claims.sub != claims.client_id).then(|| claims.sub.clone());
            return Ok(Introspection {
                active: true,
                scope: Some(claims.scope),
                client_id: Some(claims.client_id),
                username,
                token_type: Some("Bearer"),
                exp: Some(claims.exp),
                iat: Some(claims.iat),
                sub: Some(claims.sub),
                aud: Some(claims.aud),
                iss: Some(claims.iss),
                jti: Some(claims.jti),
                amr: claims.amr,
                acr: claims.acr,
                auth_time: claims.auth_time,
            });
        }
        if let Some(found) = self.store.get_refresh(&TokenHash::of(token), now).await? {
            // A rotated token is known but no longer usable: inactive.
            if found.current {
                let record = found.record;
                let sign_in = record.sign_in.clone();
                return Ok(Introspection {
                    amr: sign_in.as_ref().map(|s| s.amr.clone()).unwrap_or_default(),
                    acr: sign_in.as_ref().map(|s| s.acr().to_owned()),
                    auth_time: sign_in.map(|s| s.auth_time),
                    active: true,
                    scope: Some(record.scope),
                    client_id: Some(record.client_id),
                    username: Some(record.user.clone()),
                    token_type: Some("refresh_token"),
                    exp: Some(record.expires_at),
                    sub: Some(record.user),
                    iss: Some(self.settings.issuer.clone()),
                    ..Introspection::inactive()
                });
            }
        }
        Ok(Introspection::inactive())
    }
}

#[cfg(test)]
mod tests;
