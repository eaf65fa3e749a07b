//! The state of one sign-in through an upstream provider, from the redirect to its callback:
//! `state`, the PKCE verifier and the `nonce` (all fresh 256-bit values), the provider it
//! went to, the pending authorization request it resumes, and its expiry. It travels in a
//! flow cookie named after the state's hash, as the gateway's own sign-in flow does
//! (`authn::flow`), so several tabs can sign in at once and a callback is accepted only by
//! the browser that started it; `endpoints::federation` MACs the payload under the form key
//! with a purpose of its own ([`MAC_PURPOSE`]), so no other signed object passes for it.
//!
//! The cookie is `__Host-` (every gateway cookie is), so its path is `/`: it cannot be
//! scoped to the callback path. Its name is bound to the state, its payload to the provider.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::gateway_paths::FEDERATION_FLOW_COOKIE_PREFIX;
use crate::tokens::opaque::{new_token, TokenHash};

/// How long a sign-in at a provider may take, and the flow cookie's `Max-Age`.
pub const FLOW_TTL_SECS: u64 = 600;
/// The purpose the flow cookie's MAC is bound to.
pub const MAC_PURPOSE: &str = "federation-flow";
/// The longest flow cookie payload accepted (the pending request is bounded by the
/// authorization endpoint's own query limit; this bounds the work on a forged cookie).
pub const MAX_PAYLOAD: usize = 6 * 1024;

/// One federated sign-in in flight. Short serialised names keep the cookie small.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FederatedFlow {
    #[serde(rename = "p")]
    pub provider: String,
    #[serde(rename = "s")]
    pub state: String,
    #[serde(rename = "v")]
    pub verifier: String,
    #[serde(rename = "n")]
    pub nonce: String,
    /// The pending `/oauth2/authorize` query the login page was for.
    #[serde(rename = "q")]
    pub request: String,
    #[serde(rename = "e")]
    pub expires_at: u64,
}

impl FederatedFlow {
    /// A fresh flow to `provider` resuming `request`, begun at `now`.
    pub fn begin(provider: &str, request: &str, now: u64) -> FederatedFlow {
        FederatedFlow {
            provider: provider.to_owned(),
            state: new_token(),
            verifier: new_token(),
            nonce: new_token(),
            request: request.to_owned(),
            expires_at: now + FLOW_TTL_SECS,
        }
    }

    /// The PKCE S256 challenge of the verifier (RFC 7636 §4.2).
    pub fn challenge(&self) -> String {
        URL_SAFE_NO_PAD.encode(Sha256::digest(self.verifier.as_bytes()))
    }

    /// The flow cookie's name for this flow's state.
    pub fn cookie_name(&self) -> String {
        cookie_name(&self.state)
    }

    /// The payload the cookie carries (base64url of the JSON), before its MAC.
    pub fn payload(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    /// Decodes a payload whose MAC the caller has verified.
    pub fn decode(payload: &str) -> Option<FederatedFlow> {
        if payload.len() > MAX_PAYLOAD {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// The key under which the store remembers that this flow's callback was taken, so a
    /// replay is refused on every gateway of the store.
    pub fn claim_key(&self) -> TokenHash {
        TokenHash::of(&format!("federation-flow\0{}", self.state))
    }
}

/// The flow cookie of the callback whose `state` is this: taken from the state's hash,
/// never from the state itself (the callback's `state` is whatever the browser sent).
pub fn cookie_name(state: &str) -> String {
    let hex = TokenHash::of(state).to_hex();
    format!(
        "{FEDERATION_FLOW_COOKIE_PREFIX}{}",
        hex.get(..12).unwrap_or(&hex)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flow_round_trips_through_its_payload() {
        let flow = FederatedFlow::begin("corp", "response_type=code&client_id=app", 1000);
        assert_eq!(flow.expires_at, 1000 + FLOW_TTL_SECS);
        assert_eq!(FederatedFlow::decode(&flow.payload()), Some(flow.clone()));
        assert!(flow
            .cookie_name()
            .starts_with(FEDERATION_FLOW_COOKIE_PREFIX));
        assert_eq!(flow.cookie_name(), cookie_name(&flow.state));
        // Every secret is fresh and distinct.
        let again = FederatedFlow::begin("corp", "", 1000);
        assert_ne!(flow.state, again.state);
        assert_ne!(flow.verifier, flow.nonce);
        assert_ne!(flow.state, flow.nonce);
        assert_ne!(flow.claim_key(), again.claim_key());
    }

    #[test]
    fn the_challenge_is_s256_of_the_verifier() {
        // RFC 7636 appendix B.
        let mut flow = FederatedFlow::begin("x", "", 0);
        flow.verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".to_owned();
        assert_eq!(
            flow.challenge(),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn damaged_or_oversized_payloads_do_not_decode() {
        assert_eq!(FederatedFlow::decode("!!"), None);
        assert_eq!(FederatedFlow::decode(&URL_SAFE_NO_PAD.encode("{}")), None);
        assert_eq!(FederatedFlow::decode(&"A".repeat(MAX_PAYLOAD + 1)), None);
    }

    #[test]
    fn cookie_names_of_any_state_are_safe() {
        for state in ["", "\u{e9}\u{e9}", "a;b=c", &"x".repeat(5000)] {
            let name = cookie_name(state);
            assert_eq!(name.len(), FEDERATION_FLOW_COOKIE_PREFIX.len() + 12);
            assert!(name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        }
    }
}
