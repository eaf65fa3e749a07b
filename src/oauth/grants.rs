//! The token endpoint's grants (RFC 6749 §4.1.3, §4.4, §6), over plain types.
//!
//! - `authorization_code`: bound to client, redirect_uri and PKCE verifier; single use; a
//!   replay that would otherwise be valid revokes what the first redemption produced, while a
//!   replay with a wrong verifier or client is only refused (OAuth 2.1 §7.5.2), so it cannot
//!   be used to revoke someone else's tokens;
//! - `refresh_token`: bound to its client, rotated on every use, never widened; a used token
//!   presented again within the grace window gets the same new pair, after it revokes the
//!   whole family (RFC 9700 §4.14.2); a narrower `scope` narrows the access token, while the
//!   new refresh token keeps the scope originally granted (RFC 6749 §6);
//! - `client_credentials`: confidential clients only, no refresh token.
//!
//! With `openid` granted, the code and refresh grants also return an ID token
//! (`oidc::id_token`), each refresh's telling the same login as the first; an OpenID grant
//! gets a refresh token only with `offline_access` (OIDC Core §11; see `oidc`).

use super::clients::ClientCredentials;
use super::error::{ErrorCode, OAuthError};
use super::oidc::{has_scope, OFFLINE_ACCESS, OPENID};
use super::{pkce, seal, AuthServer, TokenResponse};
use crate::config::{ClientConfig, ClientKind, GrantType};
use crate::store::{ClientAccess, CodeTake, NextRefresh, RefreshRecord, Rotation};
use crate::tokens::opaque::{new_token, TokenHash};

/// A token request's parameters (already checked for duplicates by the adapter).
#[derive(Default)]
pub struct TokenRequest {
    pub grant_type: Option<String>,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
    pub refresh_token: Option<String>,
    pub scope: Option<String>,
    pub client: ClientCredentials,
}

/// Splits a `scope` parameter (RFC 6749 §3.3).
pub fn scope_list(scope: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in scope.split(' ').filter(|s| !s.is_empty()) {
        if !out.iter().any(|o| o == s) {
            out.push(s.to_owned());
        }
    }
    out
}

impl AuthServer {
    /// Answers a token request, counting the outcome for `/metrics`.
    pub async fn token(&self, req: TokenRequest) -> Result<TokenResponse, OAuthError> {
        let grant = req
            .grant_type
            .as_deref()
            .and_then(GrantType::parse)
            .map_or("unsupported", GrantType::as_str);
        let result = self.answer_token(req).await;
        match &result {
            Ok(_) => self.metrics.token_issued(grant),
            Err(err) => self.metrics.token_refused(err.code.as_str()),
        }
        result
    }

    async fn answer_token(&self, req: TokenRequest) -> Result<TokenResponse, OAuthError> {
        let grant_type = req
            .grant_type
            .as_deref()
            .ok_or(OAuthError::invalid_request("grant_type is required"))?;
        let Some(grant) = GrantType::parse(grant_type) else {
            return Err(OAuthError::new(
                ErrorCode::UnsupportedGrantType,
                "the grant type is not supported",
            ));
        };
        let client = &self.authenticate_client(&req.client).await?;
        if !client.grants.contains(&grant) {
            return Err(OAuthError::new(
                ErrorCode::UnauthorizedClient,
                "the client may not use this grant type",
            ));
        }
        let response = match grant {
            GrantType::ClientCredentials => self.client_credentials(client, &req).await,
            GrantType::AuthorizationCode => self.authorization_code(client, &req).await,
            GrantType::RefreshToken => self.refresh(client, &req).await,
        };
        if let Err(err) = &response {
            tracing::info!(
                client_id = %client.id,
                grant = grant.as_str(),
                reason = err.code.as_str(),
                detail = err.description,
                "token request refused"
            );
        }
        response
    }

    async fn client_credentials(
        &self,
        client: &ClientConfig,
        req: &TokenRequest,
    ) -> Result<TokenResponse, OAuthError> {
        if client.kind != ClientKind::Confidential {
            return Err(OAuthError::new(
                ErrorCode::UnauthorizedClient,
                "client_credentials needs a confidential client",
            ));
        }
        let scope = match req.scope.as_deref() {
            None => client.scopes.clone(),
            Some(s) => {
                let asked = scope_list(s);
                if asked.iter().any(|s| !client.scopes.contains(s)) {
                    return Err(OAuthError::invalid_scope(
                        "a requested scope is not allowed for this client",
                    ));
                }
                asked
            }
        };
        let scope = scope.join(" ");
        let (access_token, issued) = self.access_token(&client.id, &client.id, &scope, None);
        // No refresh family lists it: recorded (bounded) so that `authgate token list` shows
        // what the client holds. Machine clients keep getting tokens while the store is down
        // (nothing else of this grant needs it): such a token is logged by its `jti` instead,
        // and `token revoke --client` still reaches it (a cut-off needs no record).
        let record = ClientAccess {
            jti: issued.jti,
            scope: scope.clone(),
            issued_at: issued.expires_at.saturating_sub(self.settings.access_ttl),
            expires_at: issued.expires_at,
        };
        let jti = record.jti.clone();
        // A store known to be down is not waited for (a Redis command would take its second).
        let recorded = match self.store.health() {
            Ok(()) => {
                self.store
                    .record_client_access(&client.id, record, self.now())
                    .await
            }
            Err(down) => Err(crate::store::StoreError(down)),
        };
        if let Err(err) = recorded {
            tracing::warn!(
                client_id = %client.id,
                jti = %jti,
                error = %err,
                "client_credentials token issued but not recorded: `token list` will not show it"
            );
        }
        Ok(TokenResponse {
            access_token,
            token_type: "Bearer".to_owned(),
            expires_in: self.settings.access_ttl,
            refresh_token: None,
            scope,
            id_token: None,
        })
    }

    async fn authorization_code(
        &self,
        client: &ClientConfig,
        req: &TokenRequest,
    ) -> Result<TokenResponse, OAuthError> {
        let code = req
            .code
            .as_deref()
            .ok_or(OAuthError::invalid_request("code is required"))?;
        let now = self.now();
        let (grant, replayed) = match self.store.take_code(&TokenHash::of(code), now).await? {
            CodeTake::Fresh(grant) => (grant, false),
            CodeTake::Replayed(grant) => (grant, true),
            CodeTake::Unknown => {
                return Err(OAuthError::invalid_grant(
                    "the code is invalid, expired or already used",
                ))
            }
        };
        if grant.client_id != client.id {
            return Err(OAuthError::invalid_grant(
                "the code was issued to another client",
            ));
        }
        let redirect_ok = match req.redirect_uri.as_deref() {
            Some(uri) => uri == grant.redirect_uri,
            // Omitted only where the client has a single registered URI and the code was sent
            // to it (implied then): not to another loopback port (RFC 6749 §4.1.3).
            None => client.redirect_uris == [grant.redirect_uri.as_str()],
        };
        if !redirect_ok {
            return Err(OAuthError::invalid_grant(
                "redirect_uri does not match the authorization request",
            ));
        }
        match (&grant.code_challenge, req.code_verifier.as_deref()) {
            (Some(challenge), Some(verifier)) if pkce::verify(verifier, challenge) => {}
            (Some(_), Some(_)) => {
                return Err(OAuthError::invalid_grant(
                    "the code_verifier does not match",
                ))
            }
            (Some(_), None) => return Err(OAuthError::invalid_grant("code_verifier is required")),
            (None, Some(_)) => {
                return Err(OAuthError::invalid_grant(
                    "code_verifier sent for a request without code_challenge",
                ))
            }
            (None, None) => {}
        }
        if replayed {
            // A valid second redemption: whoever holds this code also holds what the first
            // redemption produced; revoke it all (RFC 6749 §4.1.2).
            self.store.revoke_family(&grant.family, now).await?;
            tracing::warn!(
                client_id = %client.id,
                user = %grant.user,
                reason = "code_replay",
                "authorization code replayed; its tokens are revoked"
            );
            return Err(OAuthError::invalid_grant(
                "the code is invalid, expired or already used",
            ));
        }

        let (access_token, access) = self.access_token(
            &grant.user,
            &client.id,
            &grant.scope,
            grant.sign_in.as_ref(),
        );
        let openid = has_scope(&grant.scope, OPENID);
        let id_token = match &grant.oidc {
            Some(login) if openid => Some(
                self.mint_id_token(
                    client,
                    &grant.user,
                    &grant.scope,
                    login,
                    grant.sign_in.as_ref(),
                    &access_token,
                )
                .await?,
            ),
            _ => None,
        };
        let refresh_token = new_token();
        let record = RefreshRecord {
            sign_in: grant.sign_in.clone(),
            family: grant.family.clone(),
            client_id: client.id.clone(),
            user: grant.user.clone(),
            scope: grant.scope.clone(),
            expires_at: now + self.settings.refresh_ttl,
            oidc: grant.oidc.clone(),
        };
        // The family is recorded even for clients without refresh tokens, so that a code
        // replay can still revoke the access token.
        self.store
            .put_refresh(TokenHash::of(&refresh_token), record, access)
            .await?;
        let offers_refresh = client.grants.contains(&GrantType::RefreshToken)
            && (!openid || has_scope(&grant.scope, OFFLINE_ACCESS));
        Ok(TokenResponse {
            access_token,
            token_type: "Bearer".to_owned(),
            expires_in: self.settings.access_ttl,
            refresh_token: offers_refresh.then_some(refresh_token),
            scope: grant.scope,
            id_token,
        })
    }

    async fn refresh(
        &self,
        client: &ClientConfig,
        req: &TokenRequest,
    ) -> Result<TokenResponse, OAuthError> {
        let old = req
            .refresh_token
            .as_deref()
            .ok_or(OAuthError::invalid_request("refresh_token is required"))?;
        let now = self.now();
        let old_hash = TokenHash::of(old);
        let invalid = OAuthError::invalid_grant("the refresh token is invalid, expired or revoked");
        let Some(found) = self.store.get_refresh(&old_hash, now).await? else {
            return Err(invalid);
        };
        // A rotated token goes on to `rotate_refresh`, which answers grace or reuse.
        let record = found.record;
        if record.client_id != client.id {
            return Err(OAuthError::invalid_grant(
                "the refresh token was issued to another client",
            ));
        }
        let user_scopes = self
            .person(&record.user)
            .await?
            .map(|p| p.scopes)
            .ok_or(invalid)?;
        let had = scope_list(&record.scope);
        let scope = match req.scope.as_deref() {
            None => had.clone(),
            Some(s) => {
                let asked = scope_list(s);
                if asked.iter().any(|s| !had.contains(s)) {
                    return Err(OAuthError::invalid_scope(
                        "a refresh may narrow the scope, never widen it",
                    ));
                }
                asked
            }
        };
        // Configuration may have narrowed the client or the user since the login.
        let scope: Vec<String> = scope
            .into_iter()
            .filter(|s| client.scopes.contains(s) && user_scopes.contains(s))
            .collect();
        let scope = scope.join(" ");

        let (access_token, access) =
            self.access_token(&record.user, &client.id, &scope, record.sign_in.as_ref());
        // OIDC Core §12.2: the same iss, sub, aud, auth_time (and sid, nonce) as at the login.
        let id_token = match &record.oidc {
            Some(login) if has_scope(&scope, OPENID) => Some(
                self.mint_id_token(
                    client,
                    &record.user,
                    &scope,
                    login,
                    record.sign_in.as_ref(),
                    &access_token,
                )
                .await?,
            ),
            _ => None,
        };
        let new_refresh = new_token();
        let pair = TokenResponse {
            access_token,
            token_type: "Bearer".to_owned(),
            expires_in: self.settings.access_ttl,
            refresh_token: Some(new_refresh.clone()),
            scope,
            id_token,
        };
        // The new refresh token keeps the scope originally granted (RFC 6749 §6: "MUST be
        // identical"); only this access token is narrowed.
        let next = NextRefresh {
            token: TokenHash::of(&new_refresh),
            record,
            access,
            sealed: seal::seal(old, &pair),
        };
        let rotation = self
            .store
            .rotate_refresh(&old_hash, next, now, self.settings.refresh_grace)
            .await?;
        match rotation {
            Rotation::Rotated => Ok(pair),
            Rotation::Grace(sealed) => seal::open(old, &sealed).ok_or(invalid),
            Rotation::Reused { family } => {
                tracing::warn!(
                    client_id = %client.id,
                    family = %family,
                    reason = "refresh_reuse",
                    "a rotated refresh token was used again; its family is revoked"
                );
                Err(invalid)
            }
            Rotation::Unknown => Err(invalid),
        }
    }
}

#[cfg(test)]
mod tests;
