//! Passkeys in the store: a user's WebAuthn credentials (beside the TOTP secret in
//! [`super::factors::Factors`]) and the server side of a WebAuthn ceremony in progress.
//!
//! A credential holds no secret (a public key, its id, the signature counter), so it is kept
//! as `webauthn-rs` serialises it, opaque to the store. A ceremony's state never travels to
//! the browser: it is kept here under the hash of a random id the page carries, taken once
//! (`FactorStore::take_ceremony`, atomic in both backends) and dead after its timeout, so an
//! assertion cannot be answered twice, nor a challenge reused.
//!
//! The signature counter is updated with a compare-and-set (`FactorStore::use_passkey`):
//! of two sign-ins with one assertion (or two clones of a key) only one gets through.

use serde::{Deserialize, Serialize};

/// How many passkeys one user may register.
pub const MAX_PASSKEYS: usize = 10;

/// One registered WebAuthn credential.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasskeyRecord {
    /// The credential id, base64url as WebAuthn writes it.
    pub id: String,
    /// The label the user gave it.
    pub name: String,
    /// The credential as `webauthn-rs` serialises it (public key, counter, flags).
    pub credential: String,
    /// The last signature counter seen (0: the authenticator keeps none).
    pub counter: u32,
    /// The credential may be synced to other devices (a software-held key, RFC 8176 `swk`);
    /// otherwise it is bound to its authenticator (`hwk`).
    pub backup_eligible: bool,
    pub created_at: u64,
    /// The last sign-in with it (0: none yet).
    #[serde(default)]
    pub last_used: u64,
}

/// What a ceremony is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CeremonyPurpose {
    /// A new passkey is registered.
    Register,
    /// A passkey as the second factor after the password (user verification preferred).
    SecondFactor,
    /// A passkey alone, for a named user (user verification required).
    Passwordless,
}

/// The server side of one WebAuthn ceremony.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ceremony {
    pub user: String,
    pub purpose: CeremonyPurpose,
    /// Whose it is: the hex hash of the login session (or the pre-login binding) that began
    /// it; the finishing request must come from the same.
    pub binding: String,
    /// The `webauthn-rs` state (JSON): its challenge and the credentials it allows.
    pub state: String,
    /// The options the browser was given (JSON), so that a page shown again can offer the
    /// same ceremony (`FactorStore::peek_ceremony`); empty in ceremonies kept before.
    #[serde(default)]
    pub options: String,
    pub expires_at: u64,
}

impl std::fmt::Debug for Ceremony {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ceremony")
            .field("user", &self.user)
            .field("purpose", &self.purpose)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Whether a sign-in with a counter of `new` may follow one that left `stored`: a counter
/// only grows; one that is 0 on both sides is an authenticator without a counter.
pub fn counter_advances(stored: u32, new: u32) -> bool {
    new > stored || (new == 0 && stored == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_counter_only_grows_unless_the_authenticator_keeps_none() {
        assert!(counter_advances(0, 0));
        assert!(counter_advances(0, 1));
        assert!(counter_advances(4, 5));
        assert!(!counter_advances(5, 5));
        assert!(!counter_advances(5, 4));
        assert!(!counter_advances(5, 0), "a counter reset is a clone");
    }
}
