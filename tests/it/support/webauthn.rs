//! Chromium's virtual authenticator, through the WebDriver extension of W3C WebAuthn §11
//! (`POST /session/{id}/webauthn/authenticator` and friends). fantoccini has no command for
//! it, so [`WebAuthnCmd`] is one, issued with `Client::issue_cmd`. The authenticator
//! answers `navigator.credentials.create` and `get` of the pages the browser opens after
//! it is added, with real keys and signatures: the gateway verifies what it returns exactly
//! as it would a hardware key's.

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::Client;
use serde_json::{json, Value};

use super::{within, WAIT};

/// One command of the WebDriver WebAuthn extension: `path` is below `/session/{id}/`.
#[derive(Debug)]
struct WebAuthnCmd {
    method: http::Method,
    path: String,
    body: Option<Value>,
}

impl WebDriverCompatibleCommand for WebAuthnCmd {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!(
            "session/{}/{}",
            session.unwrap_or_default(),
            self.path
        ))
    }

    fn method_and_body(&self, _url: &url::Url) -> (http::Method, Option<String>) {
        (
            self.method.clone(),
            self.body.as_ref().map(Value::to_string),
        )
    }
}

async fn issue(client: &Client, method: http::Method, path: String, body: Option<Value>) -> Value {
    let what = format!("WebDriver {method} {path}");
    within(
        WAIT,
        &what,
        client.issue_cmd(WebAuthnCmd { method, path, body }),
    )
    .await
    .unwrap_or_else(|err| panic!("{what}: {err}"))
}

/// A virtual authenticator in the browser session.
pub struct VirtualAuthenticator {
    pub id: String,
}

impl VirtualAuthenticator {
    /// A CTAP2 platform authenticator that can verify its user (a PIN or biometric), and does unless told
    /// otherwise ([`VirtualAuthenticator::set_user_verified`]).
    pub async fn add(client: &Client) -> VirtualAuthenticator {
        let answer = issue(
            client,
            http::Method::POST,
            "webauthn/authenticator".to_owned(),
            Some(json!({
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": true,
                "hasUserVerification": true,
                "isUserConsenting": true,
                "isUserVerified": true,
            })),
        )
        .await;
        let id = answer
            .as_str()
            .unwrap_or_else(|| panic!("no authenticator id: {answer}"))
            .to_owned();
        VirtualAuthenticator { id }
    }

    /// Whether the authenticator's user verification (its PIN) succeeds from now on.
    pub async fn set_user_verified(&self, client: &Client, verified: bool) {
        issue(
            client,
            http::Method::POST,
            format!("webauthn/authenticator/{}/uv", self.id),
            Some(json!({ "isUserVerified": verified })),
        )
        .await;
    }

    /// The credentials the authenticator holds (`rpId`, `signCount`, …).
    pub async fn credentials(&self, client: &Client) -> Vec<Value> {
        let answer = issue(
            client,
            http::Method::GET,
            format!("webauthn/authenticator/{}/credentials", self.id),
            None,
        )
        .await;
        answer.as_array().cloned().unwrap_or_default()
    }
}
