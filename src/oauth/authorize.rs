//! Authorization requests (RFC 6749 §4.1.1, RFC 7636, RFC 9207, RFC 9700 §2.1, §4.11):
//! which errors may redirect and which must not, and issuing the code.
//!
//! An unknown client, or a `redirect_uri` that is missing (where the client has several) or
//! unregistered, gets an error page and is never redirected (no open redirector). Only then
//! do errors go back to the registered URI, with `error`, `state` and `iss`. `redirect_uri`
//! is compared by exact string; a loopback IP URI may differ only in its port (RFC 8252 §7.3).

use super::error::{ErrorCode, OAuthError};
use super::grants::scope_list;
use super::oidc::prompt::{self, OidcParams};
use super::{pkce, random_id, AuthServer};
use crate::config::{ClientConfig, GrantType};
use crate::store::{CodeGrant, OidcLogin};
use crate::tokens::opaque::{new_token, TokenHash};

/// A validated authorization request.
#[derive(Debug, Clone)]
pub struct AuthorizeRequest {
    pub client_id: String,
    /// The redirect URI to use: as sent, or the single registered one.
    pub redirect_uri: String,
    pub state: Option<String>,
    /// Requested scopes (already within the client's), or the client's defaults.
    pub scopes: Vec<String>,
    pub code_challenge: Option<String>,
    /// The original query string, carried through the login and consent forms.
    pub query: String,
    /// The OpenID Connect parameters (`nonce`, `prompt`, `max_age`, `id_token_hint`).
    pub oidc: OidcParams,
}

/// The login session a code is issued in: what its ID tokens say of the login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionLogin {
    /// When the user signed in.
    pub auth_time: u64,
    /// The session's `sid` (`oidc::session_sid`).
    pub sid: String,
    /// How the user signed in (absent for sessions stored before second factors).
    pub sign_in: Option<crate::store::sign_in::SignIn>,
}

/// A refused authorization request.
#[derive(Debug, Clone)]
pub enum AuthorizeError {
    /// Shown on an error page: redirecting would make the gateway an open redirector.
    Page(&'static str),
    /// Sent back to the client's registered URI.
    Redirect {
        redirect_uri: String,
        error: OAuthError,
        state: Option<String>,
    },
}

/// The parameters RFC 6749 (and OIDC Core §3.1.2.1) say must not repeat.
const SINGLE: [&str; 14] = [
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
    "nonce",
    "prompt",
    "max_age",
    "id_token_hint",
    "request",
    "request_uri",
    "acr_values",
];

impl AuthServer {
    /// Validates an authorization request's query string.
    pub async fn check_authorize(&self, query: &str) -> Result<AuthorizeRequest, AuthorizeError> {
        let mut params: Vec<(String, String)> = Vec::new();
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            if SINGLE.contains(&k.as_ref()) && params.iter().any(|(seen, _)| *seen == k) {
                if k == "client_id" || k == "redirect_uri" {
                    return Err(AuthorizeError::Page(
                        "The request repeats client_id or redirect_uri.",
                    ));
                }
                // Reported once the redirect target is known to be safe.
                params.push(("__duplicate".to_owned(), String::new()));
            }
            params.push((k.into_owned(), v.into_owned()));
        }
        let get = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };

        let client = match get("client_id") {
            Some(id) => self.client(id).await.map_err(|_| {
                AuthorizeError::Page("The service is unavailable. Try again shortly.")
            })?,
            None => None,
        };
        let client = &client.ok_or(AuthorizeError::Page("The application is unknown."))?;
        let redirect_uri =
            match get("redirect_uri") {
                Some(uri) => registered_match(client, uri)
                    .ok_or(AuthorizeError::Page(
                        "The redirect address is not registered for this application.",
                    ))?
                    .to_owned(),
                None => match client.redirect_uris.as_slice() {
                    [only] => only.clone(),
                    _ => return Err(AuthorizeError::Page(
                        "The request names no redirect address and the application has several.",
                    )),
                },
            };
        let state = get("state").map(str::to_owned);
        let fail = |error: OAuthError| AuthorizeError::Redirect {
            redirect_uri: redirect_uri.clone(),
            error,
            state: state.clone(),
        };

        if params.iter().any(|(k, _)| k == "__duplicate") {
            return Err(fail(OAuthError::invalid_request("a parameter is repeated")));
        }
        match get("response_type") {
            Some("code") => {}
            None => {
                return Err(fail(OAuthError::invalid_request(
                    "response_type is required",
                )))
            }
            Some(_) => {
                return Err(fail(OAuthError::new(
                    ErrorCode::UnsupportedResponseType,
                    "only response_type=code is supported",
                )))
            }
        }
        let oidc = prompt::parse(get).map_err(fail)?;
        if !client.grants.contains(&GrantType::AuthorizationCode) {
            return Err(fail(OAuthError::new(
                ErrorCode::UnauthorizedClient,
                "the client may not use the authorization code grant",
            )));
        }
        let code_challenge = pkce::check_challenge(
            get("code_challenge"),
            get("code_challenge_method"),
            client.require_pkce,
        )
        .map_err(fail)?;
        let scopes = match get("scope").map(scope_list) {
            None => client.scopes.clone(),
            Some(asked) if asked.is_empty() => client.scopes.clone(),
            Some(asked) => {
                if asked.iter().any(|s| !client.scopes.contains(s)) {
                    return Err(fail(OAuthError::invalid_scope(
                        "a requested scope is not allowed for this client",
                    )));
                }
                asked
            }
        };
        Ok(AuthorizeRequest {
            client_id: client.id.clone(),
            redirect_uri,
            state,
            scopes,
            code_challenge,
            query: query.to_owned(),
            oidc,
        })
    }

    /// What `user` (a `[[users]]` name or a federated principal) can grant of the request:
    /// requested ∩ client's ∩ user's.
    pub async fn granted_scopes(
        &self,
        req: &AuthorizeRequest,
        user: &str,
    ) -> Result<Vec<String>, OAuthError> {
        let Some(person) = self.person(user).await? else {
            return Ok(Vec::new());
        };
        Ok(req
            .scopes
            .iter()
            .filter(|s| person.scopes.contains(s))
            .cloned()
            .collect())
    }

    /// Whether `client_id` is a configured first-party client: never asked for consent, not
    /// even by `prompt=consent`.
    pub fn first_party(&self, client_id: &str) -> bool {
        self.clients
            .configured(client_id)
            .is_some_and(|c| c.first_party)
    }

    /// Whether the user must be asked (first-party clients never; otherwise unless an
    /// earlier consent covers every scope).
    pub async fn needs_consent(
        &self,
        req: &AuthorizeRequest,
        user: &str,
        granted: &[String],
    ) -> Result<bool, OAuthError> {
        if self.first_party(&req.client_id) {
            return Ok(false);
        }
        let earlier = self.store.consent(user, &req.client_id).await?;
        Ok(granted.iter().any(|s| !earlier.contains(s)))
    }

    /// Issues a code for `user`, signed in by `login`, and returns the redirect to the client.
    pub async fn issue_code(
        &self,
        req: &AuthorizeRequest,
        user: &str,
        granted: &[String],
        login: &SessionLogin,
    ) -> Result<String, OAuthError> {
        let code = new_token();
        let oidc = granted
            .iter()
            .any(|s| s == super::oidc::OPENID)
            .then(|| OidcLogin {
                auth_time: login.auth_time,
                sid: login.sid.clone(),
                nonce: req.oidc.nonce.clone(),
            });
        let grant = CodeGrant {
            sign_in: login.sign_in.clone(),
            client_id: req.client_id.clone(),
            user: user.to_owned(),
            redirect_uri: req.redirect_uri.clone(),
            scope: granted.join(" "),
            code_challenge: req.code_challenge.clone(),
            family: random_id(),
            expires_at: self.now() + self.settings.code_ttl,
            oidc,
        };
        self.store.put_code(TokenHash::of(&code), grant).await?;
        let mut pairs = vec![("code", code.as_str())];
        if let Some(state) = &req.state {
            pairs.push(("state", state));
        }
        pairs.push(("iss", &self.settings.issuer));
        Ok(with_query(&req.redirect_uri, &pairs))
    }

    /// The redirect carrying an authorization error (RFC 6749 §4.1.2.1, RFC 9207 `iss`).
    pub fn error_redirect(
        &self,
        redirect_uri: &str,
        error: &OAuthError,
        state: Option<&str>,
    ) -> String {
        let mut pairs = vec![
            ("error", error.code.as_str()),
            ("error_description", error.description),
        ];
        if let Some(state) = state {
            pairs.push(("state", state));
        }
        pairs.push(("iss", &self.settings.issuer));
        with_query(redirect_uri, &pairs)
    }
}

/// The registered URI `uri` matches: exactly, or a loopback IP URI differing only in port.
fn registered_match<'a>(client: &'a ClientConfig, uri: &'a str) -> Option<&'a str> {
    if let Some(exact) = client.redirect_uris.iter().find(|r| *r == uri) {
        return Some(exact);
    }
    let sent = without_loopback_port(uri)?;
    client
        .redirect_uris
        .iter()
        .find(|r| without_loopback_port(r).is_some_and(|reg| reg == sent))
        .map(|_| uri)
}

/// `http://127.0.0.1:PORT/rest` or `http://[::1]:PORT/rest` without its port.
fn without_loopback_port(uri: &str) -> Option<String> {
    for host in ["http://127.0.0.1", "http://[::1]"] {
        if let Some(rest) = uri.strip_prefix(host) {
            let rest = match rest.strip_prefix(':') {
                Some(after) => {
                    let digits = after.bytes().take_while(u8::is_ascii_digit).count();
                    if digits == 0 || digits > 5 {
                        return None;
                    }
                    after.get(digits..)?
                }
                None => rest,
            };
            if !(rest.is_empty() || rest.starts_with('/') || rest.starts_with('?')) {
                return None;
            }
            return Some(format!("{host}{rest}"));
        }
    }
    None
}

/// `base` with `pairs` added to its query.
pub(crate) fn with_query(base: &str, pairs: &[(&str, &str)]) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        query.append_pair(k, v);
    }
    let separator = if base.contains('?') { '&' } else { '?' };
    format!("{base}{separator}{}", query.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_port_variance_only() {
        assert_eq!(
            without_loopback_port("http://127.0.0.1:5173/cb").as_deref(),
            Some("http://127.0.0.1/cb")
        );
        assert_eq!(
            without_loopback_port("http://127.0.0.1/cb").as_deref(),
            Some("http://127.0.0.1/cb")
        );
        assert_eq!(without_loopback_port("http://127.0.0.1.evil.com/cb"), None);
        assert_eq!(
            without_loopback_port("http://127.0.0.1:80@evil.com/cb"),
            None
        );
        assert_eq!(without_loopback_port("http://localhost:5173/cb"), None);
        assert_eq!(without_loopback_port("https://127.0.0.1:5173/cb"), None);
    }

    #[test]
    fn query_building() {
        assert_eq!(
            with_query("https://a/cb", &[("code", "x y")]),
            "https://a/cb?code=x+y"
        );
        assert_eq!(
            with_query("https://a/cb?k=1", &[("state", "&")]),
            "https://a/cb?k=1&state=%26"
        );
    }
}
