//! The UserInfo endpoint's answer (OIDC Core §5.3): for an access token that holds `openid`,
//! `sub` and the claims of the scopes the token holds, the same as its ID token's.
//!
//! The token is checked by [`AuthServer::verify_access`] like at every bearer route: the
//! signature, the times, and revocation (its `jti`, its family, the user's and client's
//! cut-offs), so a token revoked by a code replay (conformance `oidcc-codereuse-30seconds`)
//! or by a logout is refused here at once. A token of `client_credentials` names no user:
//! refused as `invalid_token` (there is nobody to describe).

use serde::Serialize;

use super::claims::ScopeClaims;
use super::{has_scope, OPENID};
use crate::oauth::{AccessRefused, AuthServer};

/// What UserInfo answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserInfo {
    pub sub: String,
    #[serde(flatten)]
    pub claims: ScopeClaims,
}

/// Why UserInfo refused a token (RFC 6750 §3.1 errors).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserInfoRefused {
    /// `invalid_token`, with a fixed description.
    InvalidToken(&'static str),
    /// `insufficient_scope`: the token lacks `openid`.
    InsufficientScope,
    /// The store could not say whether the token is revoked.
    StoreUnavailable,
}

impl AuthServer {
    /// The claims about the user of `access_token`.
    pub async fn userinfo(&self, access_token: &str) -> Result<UserInfo, UserInfoRefused> {
        let claims = self
            .verify_access(access_token)
            .await
            .map_err(|refused| match refused {
                AccessRefused::Invalid(_) => {
                    UserInfoRefused::InvalidToken("the access token is not valid")
                }
                AccessRefused::Revoked => {
                    UserInfoRefused::InvalidToken("the access token has been revoked")
                }
                AccessRefused::StoreUnavailable => UserInfoRefused::StoreUnavailable,
            })?;
        if !has_scope(&claims.scope, OPENID) {
            return Err(UserInfoRefused::InsufficientScope);
        }
        let person = match claims.sub != claims.client_id {
            true => self
                .person(&claims.sub)
                .await
                .map_err(|_| UserInfoRefused::StoreUnavailable)?,
            false => None,
        };
        let person = person.ok_or(UserInfoRefused::InvalidToken(
            "the access token names no user of this gateway",
        ))?;
        Ok(UserInfo {
            sub: person.name.clone(),
            claims: ScopeClaims::of(&person, &claims.scope),
        })
    }
}

#[cfg(test)]
mod tests;
