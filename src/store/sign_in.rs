//! How a person signed in: the RFC 8176 `amr` values and the time of that authentication,
//! carried from the login session through codes and refresh families into access tokens,
//! ID tokens and introspection, and onto route sessions. Records written before second
//! factors existed have none, and count as one factor.

use serde::{Deserialize, Serialize};

/// RFC 8176 §2: a password.
pub const AMR_PASSWORD: &str = "pwd";
/// RFC 8176 §2: a one-time password (a TOTP code, or a recovery code).
pub const AMR_OTP: &str = "otp";
/// RFC 8176 §2: proof of possession of a hardware-secured key (a passkey bound to its
/// authenticator).
pub const AMR_HWK: &str = "hwk";
/// RFC 8176 §2: proof of possession of a software-secured key (a passkey that may be synced
/// to other devices).
pub const AMR_SWK: &str = "swk";
/// RFC 8176 §2: more than one factor.
pub const AMR_MFA: &str = "mfa";

/// The `acr` of a sign-in with one factor.
pub const ACR_ONE_FACTOR: &str = "urn:authgate:1fa";
/// The `acr` of a sign-in with a second factor: what a route with `mfa = true` asks for
/// (`acr_values` in its RFC 9470 challenge and in the gateway's own authorization request).
pub const ACR_TWO_FACTORS: &str = "urn:authgate:2fa";

/// The factors of one sign-in, and when it happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignIn {
    /// RFC 8176 values, each once, in the order they were added.
    pub amr: Vec<String>,
    /// When the person last authenticated (seconds since the epoch).
    pub auth_time: u64,
}

impl SignIn {
    /// A password sign-in at `at`.
    pub fn password(at: u64) -> SignIn {
        SignIn {
            amr: vec![AMR_PASSWORD.to_owned()],
            auth_time: at,
        }
    }

    /// A passkey alone at `at` (passwordless), proving `method` (`hwk` or `swk`): two factors
    /// only when the authenticator verified the user (PIN or biometric); a passkey without
    /// user verification is the key alone.
    pub fn passkey(method: &str, user_verified: bool, at: u64) -> SignIn {
        let mut amr = vec![method.to_owned()];
        if user_verified {
            amr.push(AMR_MFA.to_owned());
        }
        SignIn { amr, auth_time: at }
    }

    /// This sign-in, then a second factor `method` (an RFC 8176 value) at `at`.
    pub fn with_second_factor(&self, method: &str, at: u64) -> SignIn {
        let mut amr = self.amr.clone();
        for value in [method, AMR_MFA] {
            if !amr.iter().any(|a| a == value) {
                amr.push(value.to_owned());
            }
        }
        SignIn { amr, auth_time: at }
    }

    pub fn has_second_factor(&self) -> bool {
        two_factors(&self.amr)
    }

    /// The `acr` this sign-in reached.
    pub fn acr(&self) -> &'static str {
        if self.has_second_factor() {
            ACR_TWO_FACTORS
        } else {
            ACR_ONE_FACTOR
        }
    }
}

/// Whether `amr` says a second factor was used.
pub fn two_factors(amr: &[String]) -> bool {
    amr.iter().any(|a| a == AMR_MFA)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_factor_adds_its_method_and_mfa_once() {
        let first = SignIn::password(10);
        assert!(!first.has_second_factor());
        assert_eq!(first.acr(), ACR_ONE_FACTOR);
        let both = first.with_second_factor(AMR_OTP, 20);
        assert_eq!(both.amr, ["pwd", "otp", "mfa"]);
        assert_eq!(both.auth_time, 20);
        assert_eq!(both.acr(), ACR_TWO_FACTORS);
        assert_eq!(both.with_second_factor(AMR_OTP, 30).amr, both.amr);
        // Older records without a sign-in, or with an empty list, are one factor.
        assert!(!two_factors(&[]));
    }

    #[test]
    fn a_passkey_alone_is_two_factors_only_with_user_verification() {
        let verified = SignIn::passkey(AMR_HWK, true, 5);
        assert_eq!(verified.amr, ["hwk", "mfa"]);
        assert_eq!(verified.acr(), ACR_TWO_FACTORS);
        let presence_only = SignIn::passkey(AMR_SWK, false, 5);
        assert_eq!(presence_only.amr, ["swk"]);
        assert!(!presence_only.has_second_factor());
        // After a password any passkey is the second factor.
        let both = SignIn::password(1).with_second_factor(AMR_HWK, 2);
        assert_eq!(both.amr, ["pwd", "hwk", "mfa"]);
    }
}
