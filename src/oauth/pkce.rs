//! PKCE (RFC 7636), S256 only: `plain` and an omitted method are refused (RFC 9700 §2.1.1),
//! challenges and verifiers are checked for length and alphabet, and the comparison is
//! constant-time.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::error::OAuthError;

/// RFC 7636 §4.1: the shortest and longest verifier.
const VERIFIER_LEN: std::ops::RangeInclusive<usize> = 43..=128;

/// An S256 challenge is a base64url SHA-256 digest without padding.
const S256_CHALLENGE_LEN: usize = 43;

/// RFC 7636 §4.1: [`VERIFIER_LEN`] characters of `[A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~"`.
fn is_pkce_string(text: &str) -> bool {
    VERIFIER_LEN.contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Checks an authorization request's `code_challenge` and `code_challenge_method`.
pub fn check_challenge(
    challenge: Option<&str>,
    method: Option<&str>,
    required: bool,
) -> Result<Option<String>, OAuthError> {
    match (challenge, method) {
        (None, None) if required => Err(OAuthError::invalid_request(
            "code_challenge is required (PKCE with S256)",
        )),
        (None, None) => Ok(None),
        (None, Some(_)) => Err(OAuthError::invalid_request(
            "code_challenge_method without code_challenge",
        )),
        (Some(_), None) => Err(OAuthError::invalid_request(
            "code_challenge_method must be S256",
        )),
        (Some(_), Some(m)) if m != "S256" => Err(OAuthError::invalid_request(
            "code_challenge_method must be S256; plain is not accepted",
        )),
        (Some(c), Some(_)) if c.len() != S256_CHALLENGE_LEN || !is_pkce_string(c) => Err(
            OAuthError::invalid_request("code_challenge is not a base64url SHA-256 digest"),
        ),
        (Some(c), Some(_)) => Ok(Some(c.to_owned())),
    }
}

/// Whether `verifier` answers `challenge` (S256).
pub fn verify(verifier: &str, challenge: &str) -> bool {
    if !is_pkce_string(verifier) {
        return false;
    }
    let digest = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    bool::from(digest.as_bytes().ct_eq(challenge.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b_example() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(verify(verifier, challenge));
        assert!(!verify(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK",
            challenge
        ));
        assert!(!verify("short", challenge));
    }

    #[test]
    fn challenge_rules() {
        let c = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert_eq!(
            check_challenge(Some(c), Some("S256"), true),
            Ok(Some(c.to_owned()))
        );
        assert!(check_challenge(Some(c), Some("plain"), true).is_err());
        assert!(check_challenge(Some(c), None, true).is_err());
        assert!(check_challenge(None, None, true).is_err());
        assert_eq!(check_challenge(None, None, false), Ok(None));
        assert!(check_challenge(Some("abc"), Some("S256"), false).is_err());
        assert!(check_challenge(Some(&"a".repeat(42)), Some("S256"), false).is_err());
        assert!(check_challenge(Some(&format!("{}!", &c[..42])), Some("S256"), false).is_err());
    }
}
