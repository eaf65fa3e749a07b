//! ID tokens (OIDC Core §2, §3.1.3.6, §12.2): minted at the token endpoint for a grant that
//! holds `openid`, and verified when one comes back as `id_token_hint` (at the authorization
//! endpoint and at logout).
//!
//! Claims: `iss` (exactly `public_url`), `sub` (the user's name), `aud` (the client id, a
//! single string), `azp` (the same), `iat`, `exp` ([`ID_TOKEN_TTL`] later), `auth_time`,
//! `sid`, `nonce` when the authorization request had one, `at_hash` of the access token
//! issued with it, and the claims of the granted scopes unless the client asked for
//! `id_token_claims = "minimal"`. No `nbf`: relying parties whose clock is behind refuse a
//! token that is not valid yet (tailscale/tsidp#73). The header is `typ: JWT`, while access
//! tokens carry `at+jwt`, so neither passes for the other. Signed with the client's
//! `id_token_signed_response_alg` (RS256 unless it chose ES256 or EdDSA).

use serde::{Deserialize, Serialize};

use super::claims::ScopeClaims;
use super::prompt::Hint;
use crate::config::{ClientConfig, IdTokenClaims};
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::AuthServer;
use crate::store::OidcLogin;
use crate::tokens::jose::half_hash;
use crate::tokens::jwt::{TokenInvalid, LEEWAY_SECS};

/// How long an ID token is valid: one hour, the lifetime Authelia and node-oidc-provider
/// give theirs. A relying party checks it once, at sign-in; it is no credential at any
/// endpoint of ours (as `id_token_hint` its expiry is not checked). The key retention of
/// `tokens::jose` counts it.
pub const ID_TOKEN_TTL: u64 = 3600;

/// The `typ` of an ID token's header.
pub const ID_TOKEN_TYP: &str = "JWT";

/// The claims of an ID token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdClaims {
    pub iss: String,
    pub sub: String,
    /// The client id (authgate issues one audience).
    pub aud: String,
    pub exp: u64,
    pub iat: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_hash: Option<String>,
    /// The login session (Front-/Back-Channel Logout's `sid`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azp: Option<String>,
    /// How the user signed in (RFC 8176), for grants recorded since second factors.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    #[serde(flatten)]
    pub scope_claims: ScopeClaims,
}

impl AuthServer {
    /// The ID token of a grant to `client` for `user` with `scope` (which holds `openid`),
    /// issued alongside `access_token`.
    pub async fn mint_id_token(
        &self,
        client: &ClientConfig,
        user: &str,
        scope: &str,
        login: &OidcLogin,
        sign_in: Option<&crate::store::sign_in::SignIn>,
        access_token: &str,
    ) -> Result<String, OAuthError> {
        let now = self.now();
        let alg = client.id_token_alg;
        let scope_claims = match client.id_token_claims {
            IdTokenClaims::Scopes => match self.person(user).await? {
                Some(person) => ScopeClaims::of(&person, scope),
                None => ScopeClaims::default(),
            },
            IdTokenClaims::Minimal => ScopeClaims::default(),
        };
        let claims = IdClaims {
            iss: self.settings.issuer.clone(),
            sub: user.to_owned(),
            aud: client.id.clone(),
            exp: now + ID_TOKEN_TTL,
            iat: now,
            // A step-up moves the time of the last authentication.
            auth_time: Some(sign_in.map_or(login.auth_time, |s| s.auth_time)),
            nonce: login.nonce.clone(),
            at_hash: Some(half_hash(alg, access_token)),
            sid: Some(login.sid.clone()),
            azp: Some(client.id.clone()),
            amr: sign_in.map(|s| s.amr.clone()).unwrap_or_default(),
            acr: sign_in.map(|s| s.acr().to_owned()),
            scope_claims,
        };
        self.signing
            .snapshot()
            .sign(alg, ID_TOKEN_TYP, &claims)
            .map_err(|err| {
                tracing::error!(client_id = %client.id, alg = alg.as_str(), error = %err, "an ID token could not be signed");
                OAuthError::new(ErrorCode::ServerError, "the ID token could not be signed")
            })
    }

    /// Checks an ID token that came back (`id_token_hint`): signed by one of our published
    /// keys with `typ: JWT` (an access token is refused), issued by us, and unexpired unless
    /// `ignore_expiry` (a hint is a hint however old: OIDC Core §3.1.2.1, RP-Initiated
    /// Logout §2). The audience is left to the caller, which knows which client asks.
    pub fn verify_id_token_hint(
        &self,
        token: &str,
        ignore_expiry: bool,
    ) -> Result<IdClaims, TokenInvalid> {
        let verified = self.signing.snapshot().verify(token, &[ID_TOKEN_TYP])?;
        let claims: IdClaims =
            serde_json::from_slice(&verified.payload).map_err(|_| TokenInvalid::Claims)?;
        if claims.iss != self.settings.issuer {
            return Err(TokenInvalid::Issuer);
        }
        if !ignore_expiry && claims.exp.saturating_add(LEEWAY_SECS) <= self.now() {
            return Err(TokenInvalid::Expired);
        }
        Ok(claims)
    }
}

impl AuthServer {
    /// What an authorization request's `id_token_hint` says of who the client expects.
    pub fn judge_hint(&self, hint: Option<&str>) -> Hint {
        match hint {
            None => Hint::Absent,
            Some(token) => match self.verify_id_token_hint(token, true) {
                Ok(claims) => Hint::Subject(claims.sub),
                Err(_) => Hint::Invalid,
            },
        }
    }
}

#[cfg(test)]
mod tests;
