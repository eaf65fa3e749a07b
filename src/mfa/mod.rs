//! Second factors (contract §9), over plain types and the store: no HTTP here (the pages are
//! `endpoints::mfa`). TOTP ([`totp`]) with its secret sealed at rest ([`seal`]), recovery
//! codes ([`recovery`]), throttling shared through the store ([`throttle`]), and WebAuthn
//! passkeys ([`passkey`]).
//!
//! - Who needs a second factor ([`SecondFactors::due`]): a user who has one is always asked
//!   for it; a user without one enrols when `[[users]] mfa = true` or the sign-in is for
//!   something that asks for it (a route with `mfa = true`, `acr_values`).
//! - Enrolment ([`SecondFactors::begin_enrolment`], [`SecondFactors::confirm`]): a new
//!   secret is stored as pending (15 min) and takes effect only with one correct code; the
//!   recovery codes are made then and shown once.
//! - Sign-in ([`SecondFactors::verify`]): a TOTP code is accepted once (its time step must be
//!   greater than the last accepted one, in one compare-and-set in the store, so two
//!   gateways on one Redis cannot both accept it), or a recovery code, once.
//!
//! No code, secret or recovery code is ever logged or put in an error.

pub mod passkey;
pub mod recovery;
pub mod seal;
pub mod throttle;
pub mod totp;

use crate::store::factors::{Factors, PendingTotp, TotpSecret};
use crate::store::sign_in::AMR_OTP;
use crate::store::{Store, StoreError};
use seal::FactorKey;
use totp::Provisioning;

/// How long a new secret waits for its first correct code.
pub const ENROL_TTL_SECS: u64 = 15 * 60;

/// What a sign-in still needs before it counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    /// No second factor is asked.
    Nothing,
    /// A second factor is required and the user has none: enrol first.
    Enrol,
    /// The user has a second factor: a code.
    Verify,
}

/// Why a code (or an enrolment) was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Wrong, reused, or from a secret no longer in force.
    Wrong,
    /// Too many wrong codes lately: try again in this many seconds.
    Throttled(u64),
    /// No factor (or no pending enrolment) to check against.
    NoFactor,
    /// The store could not answer, or a sealed secret did not open.
    Unavailable,
}

impl From<StoreError> for Refused {
    fn from(err: StoreError) -> Self {
        tracing::warn!(error = %err, "second factor: the store could not answer");
        Refused::Unavailable
    }
}

/// The second-factor service of one configuration.
#[derive(Debug, Clone)]
pub struct SecondFactors {
    key: FactorKey,
    /// The otpauth issuer label (`[mfa] issuer`).
    issuer: String,
}

impl SecondFactors {
    pub fn new(key: FactorKey, issuer: &str) -> SecondFactors {
        SecondFactors {
            key,
            issuer: issuer.to_owned(),
        }
    }

    /// What `user` must still do: `required` says whether the user's entry or what the
    /// sign-in is for asks for a second factor.
    pub async fn due(
        &self,
        store: &dyn Store,
        user: &str,
        required: bool,
        now: u64,
    ) -> Result<Due, StoreError> {
        let enrolled = store
            .factors(user, now)
            .await?
            .is_some_and(|f| f.enrolled());
        Ok(match (enrolled, required) {
            (true, _) => Due::Verify,
            (false, true) => Due::Enrol,
            (false, false) => Due::Nothing,
        })
    }

    /// Starts an enrolment: a new secret, pending until its first correct code (an earlier
    /// pending one is replaced; an active one stays in force until then).
    pub async fn begin_enrolment(
        &self,
        store: &dyn Store,
        user: &str,
        now: u64,
    ) -> Result<Provisioning, Refused> {
        let secret = totp::new_secret();
        let id = crate::tokens::opaque::new_token();
        let pending = PendingTotp {
            secret: TotpSecret {
                sealed: self.key.seal(user, &id, &secret),
                id,
                created_at: now,
            },
            expires_at: now.saturating_add(ENROL_TTL_SECS),
        };
        store.put_pending_totp(user, pending).await?;
        totp::provisioning(&secret, &self.issuer, user).ok_or(Refused::Unavailable)
    }

    /// The enrolment in progress, shown again after a wrong code.
    /// The enrolment under way for `user`, or a new one: what the enrolment pages show.
    pub async fn pending_or_new_enrolment(
        &self,
        store: &dyn Store,
        user: &str,
        now: u64,
    ) -> Result<Provisioning, Refused> {
        match self.pending_enrolment(store, user, now).await? {
            Some(pending) => Ok(pending),
            None => self.begin_enrolment(store, user, now).await,
        }
    }

    pub async fn pending_enrolment(
        &self,
        store: &dyn Store,
        user: &str,
        now: u64,
    ) -> Result<Option<Provisioning>, Refused> {
        let Some(pending) = store.factors(user, now).await?.and_then(|f| f.pending) else {
            return Ok(None);
        };
        let secret = self.open(user, &pending.secret)?;
        Ok(totp::provisioning(&secret, &self.issuer, user))
    }

    /// Confirms the pending secret with `code`: it becomes the user's second factor, and the
    /// recovery codes returned (to be shown once) replace any earlier ones.
    pub async fn confirm(
        &self,
        store: &dyn Store,
        user: &str,
        code: &str,
        now: u64,
    ) -> Result<Vec<String>, Refused> {
        self.attempt(store, user, now).await?;
        let pending = store
            .factors(user, now)
            .await?
            .and_then(|f| f.pending)
            .ok_or(Refused::NoFactor)?;
        let secret = self.open(user, &pending.secret)?;
        let Some(step) = totp::check(&secret, code, now) else {
            return Err(failed(user, "wrong_code"));
        };
        let codes = recovery::generate();
        let hashes = recovery::hashes(user, &codes);
        if !store
            .confirm_totp(user, &pending.secret.id, step, hashes, now)
            .await?
        {
            return Err(failed(user, "reused_code"));
        }
        store.clear_factor_failures(user).await?;
        tracing::info!(user = %user, "second factor enrolled (totp)");
        Ok(codes)
    }

    /// Checks a code typed at sign-in: a TOTP code of the user's secret, accepted once, or
    /// a recovery code, once. Returns the RFC 8176 method it proves.
    pub async fn verify(
        &self,
        store: &dyn Store,
        user: &str,
        code: &str,
        now: u64,
    ) -> Result<&'static str, Refused> {
        self.attempt(store, user, now).await?;
        let factors: Factors = store
            .factors(user, now)
            .await?
            .filter(Factors::enrolled)
            .ok_or(Refused::NoFactor)?;
        // A user with passkeys only has recovery codes to type here.
        let matched = match factors.totp.as_ref() {
            Some(active) => {
                let secret = self.open(user, active)?;
                totp::check(&secret, code, now).map(|step| (active, step))
            }
            None => None,
        };
        if let Some((active, step)) = matched {
            if step <= factors.last_step || !store.accept_totp(user, &active.id, step).await? {
                return Err(failed(user, "reused_code"));
            }
            if step != now / totp::STEP_SECS {
                // Clock drift shows up here first.
                tracing::info!(user = %user, skew_steps = step as i64 - (now / totp::STEP_SECS) as i64, "totp code matched a neighbouring step");
            }
        } else if let Some(hash) = recovery::lookup(user, code) {
            if !store.use_recovery_code(user, &hash).await? {
                return Err(failed(user, "wrong_code"));
            }
            let left = factors.recovery.len().saturating_sub(1);
            tracing::info!(user = %user, recovery_codes_left = left, "recovery code used");
        } else {
            return Err(failed(user, "wrong_code"));
        }
        store.clear_factor_failures(user).await?;
        Ok(AMR_OTP)
    }

    /// New recovery codes for an enrolled user, replacing the old ones: shown once.
    pub async fn regenerate_recovery(
        &self,
        store: &dyn Store,
        user: &str,
    ) -> Result<Vec<String>, Refused> {
        let codes = recovery::generate();
        if !store
            .replace_recovery_codes(user, recovery::hashes(user, &codes))
            .await?
        {
            return Err(Refused::NoFactor);
        }
        tracing::info!(user = %user, "recovery codes replaced");
        Ok(codes)
    }

    /// Recovery codes for a user whose first factor was just enrolled without any (a
    /// passkey): new ones to show once, or none when the user has some.
    pub async fn recovery_if_none(
        &self,
        store: &dyn Store,
        user: &str,
        now: u64,
    ) -> Result<Option<Vec<String>>, Refused> {
        let has = store
            .factors(user, now)
            .await?
            .is_some_and(|f| !f.recovery.is_empty());
        if has {
            return Ok(None);
        }
        self.regenerate_recovery(store, user).await.map(Some)
    }

    fn open(&self, user: &str, secret: &TotpSecret) -> Result<Vec<u8>, Refused> {
        self.key.open(user, &secret.id, &secret.sealed).ok_or_else(|| {
            tracing::warn!(user = %user, reason = "unsealable_secret", "a stored TOTP secret does not open with [mfa] secret_key");
            Refused::Unavailable
        })
    }

    /// Counts this attempt in the store before its code is checked (a success clears the
    /// count), and refuses it while the count before it says to wait: concurrent attempts
    /// each see their own count, so a burst cannot slip past the throttle, and an attempt
    /// while locked counts too.
    async fn attempt(&self, store: &dyn Store, user: &str, now: u64) -> Result<(), Refused> {
        let before = store
            .count_factor_attempt(user, now, throttle::FORGET_SECS)
            .await?;
        match throttle::wait(&before, now) {
            Some(wait) => {
                tracing::info!(user = %user, reason = "throttled", wait_secs = wait, "second factor refused");
                Err(Refused::Throttled(wait))
            }
            None => Ok(()),
        }
    }
}

/// A wrong code (already counted by [`SecondFactors::attempt`]): logged, refused.
fn failed(user: &str, reason: &'static str) -> Refused {
    tracing::info!(user = %user, reason, "second factor refused");
    Refused::Wrong
}

#[cfg(test)]
mod tests;
