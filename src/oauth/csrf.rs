//! CSRF tokens for the login, consent and logout forms, and the MAC of the sign-in flow
//! cookie: an HMAC over a purpose and what it is bound to (the pre-login cookie; the session
//! and the pending request; the flow cookie's payload), under a key derived from the signing
//! key for this use only, so a form token can never pass as any other signed object.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::Mac;

use crate::tokens::keyring::{HmacSha256, SigningKey};

/// The purpose-bound MAC key of the gateway's forms and flow cookie. Its derivation label
/// still says `csrf`: changing it would void every form and flow cookie in flight.
#[derive(Clone)]
pub struct FormKey {
    mac: HmacSha256,
}

impl std::fmt::Debug for FormKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FormKey")
    }
}

impl FormKey {
    /// Derives the form key: HMAC(signing key, label), used as a key of its own.
    pub fn derive(signing: &SigningKey) -> FormKey {
        let mut mac = signing.mac();
        mac.update(b"authgate/csrf/v1");
        let derived = mac.finalize().into_bytes();
        // A 32-byte key always fits HMAC-SHA256.
        let mac = <HmacSha256 as Mac>::new_from_slice(&derived).unwrap_or_else(|_| signing.mac());
        FormKey { mac }
    }

    fn compute(&self, purpose: &str, binding: &[&str]) -> HmacSha256 {
        let mut mac = self.mac.clone();
        mac.update(purpose.as_bytes());
        for part in binding {
            mac.update(&[0]);
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part.as_bytes());
        }
        mac
    }

    pub fn token(&self, purpose: &str, binding: &[&str]) -> String {
        URL_SAFE_NO_PAD.encode(self.compute(purpose, binding).finalize().into_bytes())
    }

    /// Constant-time check of a submitted token.
    pub fn verify(&self, token: &str, purpose: &str, binding: &[&str]) -> bool {
        let Ok(bytes) = URL_SAFE_NO_PAD.decode(token) else {
            return false;
        };
        self.compute(purpose, binding).verify_slice(&bytes).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bound_to_purpose_and_binding() {
        let key = FormKey::derive(&SigningKey::new(&[5u8; 32]).unwrap());
        let t = key.token("login", &["cookie-a"]);
        assert!(key.verify(&t, "login", &["cookie-a"]));
        assert!(!key.verify(&t, "login", &["cookie-b"]));
        assert!(!key.verify(&t, "consent", &["cookie-a"]));
        assert!(!key.verify("garbage!", "login", &["cookie-a"]));
        // Length-prefixing keeps ("ab","c") and ("a","bc") apart.
        let split = key.token("x", &["ab", "c"]);
        assert!(!key.verify(&split, "x", &["a", "bc"]));
    }
}

#[cfg(test)]
mod props;
