//! The browser sign-in flow of session routes, over plain types: the gateway is its own
//! first-party client. `endpoints::sign_in` turns these steps into redirects and cookies.
//!
//! 1. [`begin`]: a fresh `state` and PKCE challenge for `/oauth2/authorize`; `state`, the
//!    verifier and the page it asked for travel in a signed, short-lived [`FlowState`], the
//!    value of a flow cookie named after the state, so that several tabs can sign in at once
//!    and a callback is accepted only by the browser that started it.
//! 2. [`finish`]: checks the flow cookie, `state` and `iss` (RFC 9207), exchanges the code
//!    in-process and creates the session (256-bit id, only its hash stored).
//!
//! A callback that cannot be completed is a [`SignInRefused`], answered by `rescue` with a
//! page saying why: never another redirect, so a browser that drops cookies cannot loop.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use http::header::HeaderMap;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::return_to::safe_return_path;
use crate::gateway_paths::{CALLBACK_PATH, FLOW_COOKIE_PREFIX, GATEWAY_CLIENT_ID};
use crate::http::cookie;
use crate::oauth::clients::ClientCredentials;
use crate::oauth::grants::TokenRequest;
use crate::oauth::AuthServer;
use crate::store::SessionRecord;
use crate::tokens::opaque::{new_token, TokenHash};

/// How long a sign-in may take, and the flow cookie's `Max-Age`.
pub const FLOW_TTL_SECS: u64 = 600;

#[derive(Serialize, Deserialize)]
pub(crate) struct FlowState {
    /// The `state` sent to `/oauth2/authorize`. The serialised names stay one letter: they
    /// keep the cookie short, and cookies already sealed must still open.
    #[serde(rename = "s")]
    state: String,
    /// The PKCE verifier whose challenge went with `state`.
    #[serde(rename = "v")]
    verifier: String,
    /// Where the browser goes back to (already made safe).
    #[serde(rename = "r")]
    return_to: String,
    /// When the flow expires (Unix seconds).
    #[serde(rename = "e")]
    expires_at: u64,
}

/// The flow cookie of one sign-in, named after its `state` so that several tabs can sign in
/// at once. The name is taken from the state's hash, never from the state itself: the
/// callback's `state` is whatever the client sent, of any length and any characters.
fn flow_cookie_name(state: &str) -> String {
    let hex = TokenHash::of(state).to_hex();
    format!("{FLOW_COOKIE_PREFIX}{}", hex.get(..12).unwrap_or(&hex))
}

/// A sign-in begun: where to send the browser, and the flow cookie to set on it.
pub struct Started {
    /// `/oauth2/authorize?…` for the gateway's own client.
    pub authorize_url: String,
    pub cookie_name: String,
    /// The sealed [`FlowState`]: `payload.mac`.
    pub cookie_value: String,
}

/// Begins a sign-in that returns to `return_to` (made safe) afterwards; `second_factor`
/// asks the authorization server for a sign-in with a second factor (`acr_values`: a route
/// with `mfa = true`), which a login session with a password only gets by a step-up.
pub fn begin(auth: &AuthServer, return_to: &str, second_factor: bool) -> Started {
    let state = new_token();
    let verifier = new_token();
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let flow = FlowState {
        state: state.clone(),
        verifier,
        return_to: safe_return_path(return_to),
        expires_at: auth.now() + FLOW_TTL_SECS,
    };
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&flow).unwrap_or_default());
    let mac = auth.csrf.token("flow", &[&payload]);

    let issuer = &auth.settings.issuer;
    let mut query = form_urlencoded::Serializer::new(String::new());
    query
        .append_pair("response_type", "code")
        .append_pair("client_id", GATEWAY_CLIENT_ID)
        .append_pair("redirect_uri", &format!("{issuer}{CALLBACK_PATH}"))
        .append_pair("state", &state)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    if second_factor {
        query.append_pair("acr_values", crate::store::sign_in::ACR_TWO_FACTORS);
    }
    Started {
        authorize_url: format!("/oauth2/authorize?{}", query.finish()),
        cookie_name: flow_cookie_name(&state),
        cookie_value: format!("{payload}.{mac}"),
    }
}

/// A sign-in completed: the new session, and where the browser goes back to.
pub struct SignedIn {
    /// The session cookie's value (only its hash is stored).
    pub session_id: String,
    /// A safe local path.
    pub return_to: String,
    /// The flow cookie, now spent.
    pub flow_cookie: String,
}

/// Why a sign-in callback could not be completed. Each is answered with a page saying so
/// (by `rescue`), never another redirect, so a browser that drops cookies cannot loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInRefused {
    /// The authorization server answered `error` (the person declined, or it refused).
    Cancelled,
    NoState,
    NoCode,
    /// `iss` names another issuer (RFC 9207).
    OtherIssuer,
    /// This browser has no flow cookie for the state.
    CookieMissing,
    /// The flow cookie does not verify or decode.
    CookieDamaged,
    /// The flow is older than its ten minutes.
    Expired,
    /// The flow cookie is for another state.
    OtherBrowser,
    /// The code exchange failed.
    ExchangeFailed,
    /// The token just issued did not verify: a fault of ours.
    Internal,
    /// The session could not be stored.
    StoreUnavailable,
}

impl SignInRefused {
    /// A stable name for logs and the access line.
    pub fn reason(self) -> &'static str {
        match self {
            SignInRefused::Cancelled => "sign_in_cancelled",
            SignInRefused::NoState => "sign_in_no_state",
            SignInRefused::NoCode => "sign_in_no_code",
            SignInRefused::OtherIssuer => "sign_in_other_issuer",
            SignInRefused::CookieMissing => "sign_in_cookie_missing",
            SignInRefused::CookieDamaged => "sign_in_cookie_damaged",
            SignInRefused::Expired => "sign_in_expired",
            SignInRefused::OtherBrowser => "sign_in_other_browser",
            SignInRefused::ExchangeFailed => "sign_in_exchange_failed",
            SignInRefused::Internal => "sign_in_internal",
            SignInRefused::StoreUnavailable => "store_unavailable",
        }
    }

    /// What the page tells the person.
    pub fn message(self) -> &'static str {
        match self {
            SignInRefused::Cancelled => "Sign-in was cancelled or refused. Go back and try again.",
            SignInRefused::NoState => "The sign-in answer has no state.",
            SignInRefused::NoCode => "The sign-in answer has no code.",
            SignInRefused::OtherIssuer => "The sign-in answer came from another issuer.",
            SignInRefused::CookieMissing => "This browser did not keep the sign-in cookie: cookies may be blocked, the address may differ from the gateway's public URL, or the sign-in took too long. Open the page again to retry.",
            SignInRefused::CookieDamaged => "The sign-in cookie is damaged.",
            SignInRefused::Expired => "The sign-in took too long. Open the page again to retry.",
            SignInRefused::OtherBrowser => "The sign-in answer does not belong to this browser.",
            SignInRefused::ExchangeFailed => {
                "The sign-in could not be completed. Open the page again to retry."
            }
            SignInRefused::Internal => "The sign-in could not be completed.",
            SignInRefused::StoreUnavailable => {
                "The session store is unavailable. Try again shortly."
            }
        }
    }
}

/// Finishes the flow at `/oauth2/callback` with its `query` and this browser's cookies.
pub async fn finish(
    auth: &AuthServer,
    headers: &HeaderMap,
    query: &str,
) -> Result<SignedIn, SignInRefused> {
    let param = |name: &str| {
        form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    if param("error").is_some() {
        return Err(SignInRefused::Cancelled);
    }
    let state = param("state").ok_or(SignInRefused::NoState)?;
    let code = param("code").ok_or(SignInRefused::NoCode)?;
    if param("iss").is_some_and(|iss| iss != auth.settings.issuer) {
        return Err(SignInRefused::OtherIssuer);
    }
    let cookie_name = flow_cookie_name(&state);
    let raw = cookie::get(headers, &cookie_name).ok_or(SignInRefused::CookieMissing)?;
    let (payload, mac) = raw.split_once('.').ok_or(SignInRefused::CookieDamaged)?;
    if !auth.csrf.verify(mac, "flow", &[payload]) {
        return Err(SignInRefused::CookieDamaged);
    }
    let flow: FlowState = URL_SAFE_NO_PAD
        .decode(payload)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or(SignInRefused::CookieDamaged)?;
    if flow.expires_at <= auth.now() {
        return Err(SignInRefused::Expired);
    }
    if flow.state != state {
        return Err(SignInRefused::OtherBrowser);
    }

    let request = TokenRequest {
        grant_type: Some("authorization_code".to_owned()),
        code: Some(code),
        redirect_uri: Some(format!("{}{CALLBACK_PATH}", auth.settings.issuer)),
        code_verifier: Some(flow.verifier),
        client: ClientCredentials {
            id: Some(GATEWAY_CLIENT_ID.to_owned()),
            secret: None,
        },
        ..TokenRequest::default()
    };
    let tokens = auth
        .token(request)
        .await
        .map_err(|_| SignInRefused::ExchangeFailed)?;
    let claims = auth
        .verify_access(&tokens.access_token)
        .await
        .map(std::sync::Arc::unwrap_or_clone)
        .map_err(|_| SignInRefused::Internal)?;
    let family = match &tokens.refresh_token {
        Some(refresh) => auth
            .store
            .get_refresh(&TokenHash::of(refresh), auth.now())
            .await
            .ok()
            .flatten()
            .map(|found| found.record.family),
        None => None,
    };

    // A federated person's groups and verified domain go with the session (fixed at sign-in,
    // as its scopes are), so that its requests to routes with `allow` lists read no record.
    let person = if claims.sub.contains(':') {
        auth.person(&claims.sub)
            .await
            .map_err(|_| SignInRefused::StoreUnavailable)?
            .map(|p| p.allow_facts())
    } else {
        None
    };
    let session_id = new_token();
    let now = auth.now();
    let record = SessionRecord {
        // How the person signed in, as the token just issued says (none for old grants).
        sign_in: claims
            .auth_time
            .map(|auth_time| crate::store::sign_in::SignIn {
                amr: claims.amr.clone(),
                auth_time,
            }),
        factor_tries: 0,
        user: claims.sub.clone(),
        created_at: now,
        last_seen: now,
        scope: claims.scope,
        family,
        person,
    };
    auth.store
        .put_session(TokenHash::of(&session_id), record)
        .await
        .map_err(|_| SignInRefused::StoreUnavailable)?;
    tracing::info!(user = %claims.sub, "session started");

    Ok(SignedIn {
        session_id,
        return_to: safe_return_path(&flow.return_to),
        flow_cookie: cookie_name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression (issue 13): a `state` whose 12th byte falls inside a UTF-8 character
    /// (`aaaaaaaaaaa%C3%A9` decoded) made the cookie name slice panic the worker.
    #[test]
    fn flow_cookie_name_of_a_state_with_a_multibyte_character_does_not_panic() {
        for state in [
            "aaaaaaaaaaa\u{e9}",
            "\u{e9}",
            "",
            "\u{1F600}\u{1F600}\u{1F600}\u{1F600}",
        ] {
            let name = flow_cookie_name(state);
            assert!(name.starts_with(FLOW_COOKIE_PREFIX));
            assert_eq!(name.len(), FLOW_COOKIE_PREFIX.len() + 12);
            assert!(name.is_ascii());
        }
        assert_ne!(flow_cookie_name("a"), flow_cookie_name("b"));
        assert_eq!(flow_cookie_name("same"), flow_cookie_name("same"));
    }

    /// A flow cookie sealed before the fields had their names still opens: the serialised
    /// names stay `s`, `v`, `r` and `e`.
    #[test]
    fn a_flow_state_keeps_its_one_letter_serialised_names() {
        let sealed = r#"{"s":"the-state","v":"the-verifier","r":"/app?x=1","e":1700000600}"#;
        let flow: FlowState = serde_json::from_str(sealed).unwrap();
        assert_eq!(flow.state, "the-state");
        assert_eq!(flow.verifier, "the-verifier");
        assert_eq!(flow.return_to, "/app?x=1");
        assert_eq!(flow.expires_at, 1_700_000_600);
        assert_eq!(serde_json::to_string(&flow).unwrap(), sealed);
    }
}

#[cfg(test)]
mod props;
