//! Back-Channel Logout 1.0: when a browser session ends at the gateway, every client with a
//! `backchannel_logout_uri` that holds a live grant of that user (a refresh family: one is
//! recorded for every code exchange, with or without refresh tokens) is sent a signed logout
//! token. This module decides whom to tell and signs the tokens; `endpoints::backchannel`
//! POSTs them, off the request path.
//!
//! The logout token (§2.4): header `typ: logout+jwt` (§2.4's recommendation, so it can never
//! pass for an ID token or an access token), signed like the client's ID tokens (its
//! `id_token_signed_response_alg`); claims `iss`, `aud` (the client), `iat`, `exp`
//! ([`LOGOUT_TOKEN_TTL`] later), `jti`, `sub`, `sid` (the session that ended, when one did),
//! `events` with the back-channel logout event, and never a `nonce` (§2.4).
//!
//! Whom: when one login session ends, the clients whose grants came from that session (an
//! OpenID Connect grant's refresh family records its `sid`), and those with a grant whose
//! session is unknown (plain OAuth grants, families recorded before the `sid` was kept),
//! which get the `sid` of a session they may not know and ignore it (§2.6). A client signed
//! in only through the user's other sessions is not told. When every session of the user
//! ends (`authgate token revoke --user`), every client of the user is told, without a `sid`.

use serde::Serialize;
use serde_json::json;

use super::error::OAuthError;
use super::oidc::id_token::ID_TOKEN_TTL;
use super::{random_id, AuthServer};
use crate::store::GrantFilter;

/// The event a logout token carries (§2.4).
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// The `typ` of a logout token's header.
pub const LOGOUT_TOKEN_TYP: &str = "logout+jwt";
/// How long a logout token is valid, in seconds (rauthy: 30 s; a relying party's clock may
/// lag, and deliveries are retried for about half a minute).
pub const LOGOUT_TOKEN_TTL: u64 = 120;
/// Grants looked at per logout at most (clients of one user).
const MAX_GRANTS: usize = 1000;

const _: () = assert!(LOGOUT_TOKEN_TTL < ID_TOKEN_TTL);

#[derive(Debug, Serialize)]
struct LogoutClaims<'a> {
    iss: &'a str,
    aud: &'a str,
    iat: u64,
    exp: u64,
    jti: String,
    sub: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    sid: Option<&'a str>,
    events: serde_json::Value,
}

/// One logout token to deliver.
pub struct LogoutNotice {
    pub client_id: String,
    /// The client's `backchannel_logout_uri`.
    pub uri: String,
    /// The signed logout token (a credential of sorts: never logged).
    pub token: String,
}

impl std::fmt::Debug for LogoutNotice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogoutNotice")
            .field("client_id", &self.client_id)
            .field("uri", &self.uri)
            .finish_non_exhaustive()
    }
}

impl AuthServer {
    /// The logout tokens to send because a session of `user` ended: its `sid` when one
    /// session ended, `None` when all of them did. One per client with a
    /// `backchannel_logout_uri` and a live grant of the user that the ended session concerns
    /// (the module doc says which).
    pub async fn logout_notices(
        &self,
        user: &str,
        sid: Option<&str>,
    ) -> Result<Vec<LogoutNotice>, OAuthError> {
        let filter = GrantFilter {
            user: Some(user.to_owned()),
            client: None,
        };
        let grants = self
            .store
            .list_grants(&filter, self.now(), MAX_GRANTS)
            .await?;
        let mut clients: Vec<String> = grants
            .into_iter()
            .filter(|g| concerns(g.sid.as_deref(), sid))
            .map(|g| g.client_id)
            .collect();
        clients.sort_unstable();
        clients.dedup();
        let mut out = Vec::new();
        for id in clients {
            let Some(client) = self.client(&id).await? else {
                continue;
            };
            let Some(uri) = client.backchannel_logout_uri.clone() else {
                continue;
            };
            let now = self.now();
            let claims = LogoutClaims {
                iss: &self.settings.issuer,
                aud: &client.id,
                iat: now,
                exp: now + LOGOUT_TOKEN_TTL,
                jti: random_id(),
                sub: user,
                sid,
                events: json!({ BACKCHANNEL_LOGOUT_EVENT: {} }),
            };
            match self
                .signing
                .snapshot()
                .sign(client.id_token_alg, LOGOUT_TOKEN_TYP, &claims)
            {
                Ok(token) => out.push(LogoutNotice {
                    client_id: client.id.clone(),
                    uri,
                    token,
                }),
                Err(err) => {
                    tracing::error!(client_id = %client.id, error = %err, "a logout token could not be signed");
                }
            }
        }
        Ok(out)
    }
}

/// Whether the end of session `ended` (`None`: all of them) concerns a grant that came from
/// session `grant`.
fn concerns(grant: Option<&str>, ended: Option<&str>) -> bool {
    match (grant, ended) {
        (Some(grant), Some(ended)) => grant == ended,
        _ => true,
    }
}

#[cfg(test)]
mod tests;
