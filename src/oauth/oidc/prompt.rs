//! The OpenID parameters of an authorization request (OIDC Core §3.1.2.1) and the decisions
//! they drive: whether the person must sign in (again), whether consent must be asked, and
//! what `prompt=none` answers instead of a page.
//!
//! - `nonce`: optional for the code flow, echoed in the ID token; at most
//!   [`MAX_NONCE_LEN`] bytes of visible text;
//! - `prompt`: `none` shows no page (no session: `login_required`; consent needed:
//!   `consent_required`), and with any other value is `invalid_request`; `login` signs in
//!   again even with a live session, so `auth_time` moves; `consent` asks even when an
//!   earlier consent covers the scopes (first-party clients are never asked: the operator
//!   consented for them); `select_account` is a new login too, since the login page is
//!   where another account is chosen; other values are ignored (later specifications add
//!   some, such as `create`);
//! - `max_age`: a login older than this many seconds signs in again; `0` is `prompt=login`;
//! - `id_token_hint`: names who the client expects; a hint for someone else, or one that does
//!   not verify, signs in again (with `prompt=none`: `login_required`);
//! - `request` and `request_uri` (request objects) are not supported: `request_not_supported`
//!   and `request_uri_not_supported`, redirected (the conformance suite's
//!   `…-supported-correctly-or-rejected-as-unsupported`), never silently ignored;
//! - `display`, `login_hint`, `ui_locales`, `claims_locales`, `acr_values` and unknown
//!   parameters are accepted and ignored.
//!
//! After a successful login the browser goes back to the authorization endpoint with the
//! query [`after_login`] rewrites: `prompt=login`, `select_account`, `max_age` and
//! `id_token_hint` have been answered by that login, so they are taken out (else the request
//! would ask for a login again, forever).

use crate::oauth::error::{ErrorCode, OAuthError};

/// The longest `nonce` accepted.
pub const MAX_NONCE_LEN: usize = 512;

/// The parameters, parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OidcParams {
    pub nonce: Option<String>,
    pub prompt: Prompt,
    pub max_age: Option<u64>,
    pub id_token_hint: Option<String>,
    /// `acr_values` names the two-factor class (`store::sign_in::ACR_TWO_FACTORS`): the
    /// sign-in must include a second factor (the gateway's own request for a route with
    /// `mfa = true`, or a client answering an RFC 9470 challenge). Other values are voluntary
    /// (OIDC Core §3.1.2.1) and ignored.
    pub second_factor: bool,
}

/// The `prompt` values understood.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Prompt {
    pub none: bool,
    pub login: bool,
    pub consent: bool,
    pub select_account: bool,
}

/// The login session a request finds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginState<'a> {
    pub user: &'a str,
    /// When that login happened.
    pub auth_time: u64,
}

/// What the `id_token_hint` says, as the caller verified it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hint {
    Absent,
    /// Verified (expiry aside): this is its `sub`.
    Subject(String),
    /// Malformed, modified, from another issuer or a key no longer published.
    Invalid,
}

/// The next step of a request, as far as signing in goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginStep {
    /// The session answers the request.
    Proceed,
    /// Show the login page.
    ShowLogin,
    /// Redirect this error (`prompt=none`).
    Refuse(OAuthError),
}

/// The next step, as far as consent goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentStep {
    Proceed,
    ShowConsent,
    Refuse(OAuthError),
}

const LOGIN_REQUIRED: OAuthError = OAuthError::new(
    ErrorCode::LoginRequired,
    "prompt=none, and the user must sign in",
);
const CONSENT_REQUIRED: OAuthError = OAuthError::new(
    ErrorCode::ConsentRequired,
    "prompt=none, and the user must consent",
);

fn invalid(description: &'static str) -> OAuthError {
    OAuthError::invalid_request(description)
}

/// Reads the parameters through `get` (which answers `None` for an absent one).
pub fn parse<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Result<OidcParams, OAuthError> {
    if get("request").is_some() {
        return Err(OAuthError::new(
            ErrorCode::RequestNotSupported,
            "request objects are not supported",
        ));
    }
    if get("request_uri").is_some() {
        return Err(OAuthError::new(
            ErrorCode::RequestUriNotSupported,
            "request_uri is not supported",
        ));
    }
    let nonce = match get("nonce").filter(|n| !n.is_empty()) {
        Some(n) if n.len() > MAX_NONCE_LEN => return Err(invalid("nonce is too long")),
        Some(n) if n.chars().any(char::is_control) => {
            return Err(invalid("nonce holds a control character"))
        }
        other => other.map(str::to_owned),
    };
    let mut prompt = Prompt::default();
    for value in get("prompt").unwrap_or("").split(' ') {
        match value {
            "none" => prompt.none = true,
            "login" => prompt.login = true,
            "consent" => prompt.consent = true,
            "select_account" => prompt.select_account = true,
            _ => {}
        }
    }
    if prompt.none && (prompt.login || prompt.consent || prompt.select_account) {
        return Err(invalid("prompt=none may not be combined with other values"));
    }
    let max_age = match get("max_age").filter(|m| !m.is_empty()) {
        None => None,
        Some(m) if m.len() <= 10 && m.bytes().all(|b| b.is_ascii_digit()) => m.parse().ok(),
        Some(_) => return Err(invalid("max_age must be a number of seconds")),
    };
    let id_token_hint = get("id_token_hint")
        .filter(|h| !h.is_empty())
        .map(str::to_owned);
    let second_factor = get("acr_values").is_some_and(|values| {
        values
            .split(' ')
            .any(|v| v == crate::store::sign_in::ACR_TWO_FACTORS)
    });
    Ok(OidcParams {
        nonce,
        prompt,
        max_age,
        id_token_hint,
        second_factor,
    })
}

impl OidcParams {
    /// Whether the request needs a login first, given the session it found.
    pub fn login_step(&self, session: Option<&LoginState<'_>>, hint: &Hint, now: u64) -> LoginStep {
        let must = match session {
            None => true,
            Some(s) => {
                let fresh_asked = self.prompt.login || self.prompt.select_account;
                let too_old = self
                    .max_age
                    .is_some_and(|max| max == 0 || now.saturating_sub(s.auth_time) > max);
                let someone_else = match hint {
                    Hint::Absent => false,
                    Hint::Subject(sub) => sub != s.user,
                    Hint::Invalid => true,
                };
                fresh_asked || too_old || someone_else
            }
        };
        match (must, self.prompt.none) {
            (false, _) => LoginStep::Proceed,
            (true, false) => LoginStep::ShowLogin,
            (true, true) => LoginStep::Refuse(LOGIN_REQUIRED),
        }
    }

    /// Whether consent must be asked: `remembered` says an earlier consent covers every
    /// scope; a first-party client is never asked.
    pub fn consent_step(&self, remembered: bool, first_party: bool) -> ConsentStep {
        let ask = !first_party && (!remembered || self.prompt.consent);
        match (ask, self.prompt.none) {
            (false, _) => ConsentStep::Proceed,
            (true, false) => ConsentStep::ShowConsent,
            (true, true) => ConsentStep::Refuse(CONSENT_REQUIRED),
        }
    }
}

/// The authorization request's query once a login answered it: without `max_age`,
/// `id_token_hint`, and the `login` and `select_account` values of `prompt`.
pub fn after_login(query: &str) -> String {
    let answered =
        form_urlencoded::parse(query.as_bytes()).any(|(key, value)| match key.as_ref() {
            "max_age" | "id_token_hint" => true,
            "prompt" => value
                .split(' ')
                .any(|v| v == "login" || v == "select_account"),
            _ => false,
        });
    if !answered {
        return query.to_owned();
    }
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "max_age" | "id_token_hint" => {}
            "prompt" => {
                let rest: Vec<&str> = value
                    .split(' ')
                    .filter(|v| !v.is_empty() && *v != "login" && *v != "select_account")
                    .collect();
                if !rest.is_empty() {
                    out.append_pair("prompt", &rest.join(" "));
                }
            }
            _ => {
                out.append_pair(&key, &value);
            }
        }
    }
    out.finish()
}

#[cfg(test)]
mod tests;
