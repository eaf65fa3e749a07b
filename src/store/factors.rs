//! Second factors in the store: per user, the TOTP secret (sealed by `mfa::seal`, never in
//! clear), a pending secret until its first correct code, the last accepted TOTP time step,
//! the recovery codes' hashes, and a failure count for throttling that every gateway on one
//! store shares. [`FactorStore`] is part of every [`super::Store`]; the conformance suite
//! (`conformance/factors.rs`) runs its operations against both backends.
//!
//! Passkeys (`super::passkeys`) live here too, and the WebAuthn ceremonies in progress.
//!
//! Atomic, in both backends: confirming a pending secret, accepting a time step (only one
//! greater than the recorded one, so a code is accepted once even across gateways), using a
//! recovery code (once), counting an attempt (each concurrent attempt sees its own count),
//! advancing a passkey's signature counter (compare-and-set), taking a ceremony (once).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::passkeys::{Ceremony, PasskeyRecord};
use super::StoreResult;
use crate::tokens::opaque::TokenHash;

/// A TOTP secret as stored: its credential id and the sealed secret (AAD: user and id).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TotpSecret {
    pub id: String,
    /// `mfa::seal`'s output, base64 in JSON.
    #[serde(with = "base64_bytes")]
    pub sealed: Vec<u8>,
    pub created_at: u64,
}

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpSecret")
            .field("id", &self.id)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// A secret shown at enrolment and not yet confirmed by a correct code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingTotp {
    pub secret: TotpSecret,
    pub expires_at: u64,
}

/// A user's second factors.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Factors {
    /// The active TOTP secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totp: Option<TotpSecret>,
    /// An enrolment in progress (unexpired when read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<PendingTotp>,
    /// The last TOTP time step accepted (0: none yet).
    #[serde(default)]
    pub last_step: u64,
    /// Hashes of the unused recovery codes.
    #[serde(default)]
    pub recovery: Vec<TokenHash>,
    /// Registered passkeys, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub passkeys: Vec<PasskeyRecord>,
}

impl Factors {
    /// Whether the user has a second factor to sign in with.
    pub fn enrolled(&self) -> bool {
        self.totp.is_some() || !self.passkeys.is_empty()
    }

    /// Whether anything is left worth keeping (a record without it is dropped).
    pub fn is_empty(&self) -> bool {
        !self.enrolled() && self.pending.is_none()
    }
}

/// A user's recent second-factor failures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FactorFailures {
    pub count: u32,
    /// The time of the last failure.
    pub last: u64,
    /// When the count is forgotten.
    pub expires_at: u64,
}

#[async_trait]
pub trait FactorStore: Send + Sync {
    /// The user's factors (a pending secret past its time left out); `None` without any.
    async fn factors(&self, user: &str, now: u64) -> StoreResult<Option<Factors>>;
    /// Puts `pending` in place of any earlier pending secret; the active one stays.
    async fn put_pending_totp(&self, user: &str, pending: PendingTotp) -> StoreResult<()>;
    /// If the pending secret is `id`, unexpired at `now`, and `step` is greater than the last
    /// accepted step: makes it the active secret, records `step`, and replaces the recovery
    /// codes by `recovery`. `false`, and nothing changed, otherwise.
    async fn confirm_totp(
        &self,
        user: &str,
        id: &str,
        step: u64,
        recovery: Vec<TokenHash>,
        now: u64,
    ) -> StoreResult<bool>;
    /// If the active secret is `id` and `step` is greater than the last accepted step:
    /// records `step` and answers `true` (the code is accepted). `false` otherwise: of two
    /// callers with one step exactly one gets `true`.
    async fn accept_totp(&self, user: &str, id: &str, step: u64) -> StoreResult<bool>;
    /// Removes the recovery code hash `code`: `true` for the one caller that removed it.
    async fn use_recovery_code(&self, user: &str, code: &TokenHash) -> StoreResult<bool>;
    /// Counts an attempt at `now`, before its code is checked (a success clears the count
    /// again), so that concurrent attempts are throttled one by one: a count older than its
    /// `expires_at` starts again from zero; the new count is kept until `now + forget_after`.
    /// Returns the count as it was before this attempt, which the attempt is judged by: of
    /// concurrent callers each sees a different one.
    async fn count_factor_attempt(
        &self,
        user: &str,
        now: u64,
        forget_after: u64,
    ) -> StoreResult<FactorFailures>;
    /// The live failure count (zero once forgotten).
    async fn factor_failures(&self, user: &str, now: u64) -> StoreResult<FactorFailures>;
    /// Forgets the failures (after a success).
    async fn clear_factor_failures(&self, user: &str) -> StoreResult<()>;
    /// Removes every factor of the user and the failure count: `true` if there was any.
    async fn remove_factors(&self, user: &str) -> StoreResult<bool>;

    /// Adds a passkey, unless the user has one with its id or `max` already: `true` when
    /// added.
    async fn add_passkey(
        &self,
        user: &str,
        passkey: PasskeyRecord,
        max: usize,
    ) -> StoreResult<bool>;
    /// A sign-in with the passkey `id` whose signature counter is now `counter`: if the
    /// passkey is there and the counter advances on the stored one
    /// (`passkeys::counter_advances`), stores `counter`, `credential` (the updated
    /// `webauthn-rs` JSON) and `now` as its last use and answers `true`; `false`, nothing
    /// changed, otherwise (of two callers with one counter exactly one gets `true`).
    async fn use_passkey(
        &self,
        user: &str,
        id: &str,
        counter: u32,
        credential: &str,
        now: u64,
    ) -> StoreResult<bool>;
    /// Removes the passkey `id`: `true` if it was there.
    async fn remove_passkey(&self, user: &str, id: &str) -> StoreResult<bool>;
    /// Removes the active TOTP secret (a pending one too): `true` if there was one.
    async fn remove_totp(&self, user: &str) -> StoreResult<bool>;
    /// Replaces the recovery codes of a user who has a factor: `false` without one.
    async fn replace_recovery_codes(&self, user: &str, codes: Vec<TokenHash>) -> StoreResult<bool>;
    /// Keeps a ceremony under `id` (the hash of the id its page carries) until its
    /// `expires_at`, replacing one kept under the same id. A backend may bound how many it
    /// keeps (the memory store: [`super::memory::MAX_CEREMONIES`], expired ones dropped
    /// first) and refuse a new one past that.
    async fn put_ceremony(&self, id: &TokenHash, ceremony: Ceremony, now: u64) -> StoreResult<()>;
    /// The ceremony `id`, left in place: for a page shown again to offer the ceremony it
    /// offered before; `None` when there is none or it is past its time.
    async fn peek_ceremony(&self, id: &TokenHash, now: u64) -> StoreResult<Option<Ceremony>>;
    /// Takes the ceremony `id`: the one caller that takes it gets it, once; `None` for any
    /// later caller, and past its time.
    async fn take_ceremony(&self, id: &TokenHash, now: u64) -> StoreResult<Option<Ceremony>>;
}

/// `Vec<u8>` as standard base64 without padding.
mod base64_bytes {
    use base64::engine::general_purpose::STANDARD_NO_PAD;
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD_NO_PAD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        STANDARD_NO_PAD
            .decode(text.as_bytes())
            .map_err(|_| serde::de::Error::custom("not base64"))
    }
}
