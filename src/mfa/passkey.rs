//! WebAuthn passkeys (contract §9) through `webauthn-rs` 0.6 (RustCrypto, no OpenSSL), over
//! plain types and the store: no HTTP here (the pages are `endpoints::oauth::passkey`,
//! `passwordless` and `account`).
//!
//! - The relying-party id is `public_url`'s host and the only origin `public_url` itself
//!   (`config::mfa` refuses an IP address when passkeys are on).
//! - Registration asks for user verification "preferred" (a security key without a PIN can
//!   be registered); so does the second step after a password. Passwordless sign-in (the
//!   user name first, then a passkey of that user: `allowCredentials`, so keys need no
//!   resident slot) requires it, and `webauthn-rs` refuses an assertion without the UV flag.
//! - Every ceremony's state stays in the store (`FactorStore::put_ceremony`), under the hash
//!   of a random id the page carries, bound to the login session (or pre-login binding) that
//!   began it, for [`CEREMONY_SECS`] (the timeout the browser is given too), and is taken
//!   once: an answer cannot be posted twice, and a refused one does not leave the challenge
//!   open for another try.
//! - Passwordless sign-in does not tell which names have a passkey: a name without one (or
//!   no user at all) is offered decoy credentials ([`decoy`]), and its answer fails as a
//!   wrong one does.
//! - The second step's page offers the same ceremony each time it is shown to one login
//!   session (its id derived from the session's, [`Passkeys::begin_second_factor`]) while
//!   at least [`RESUME_MIN_SECS`] of it are left, so reloading that page writes nothing.
//! - A sign-in stores the new signature counter with a compare-and-set
//!   (`FactorStore::use_passkey`), so one assertion (or a cloned key) signs in once.
//! - What a passkey proves (RFC 8176): `swk` for a credential that may be synced (backup
//!   eligible), else `hwk`; two factors on its own only with user verification.
//!
//! Credentials are public keys: nothing here is secret but the ceremony ids, which are
//! never logged.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::de::DeserializeOwned;
use serde::Serialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use webauthn_rs::prelude::{
    Credential, CredentialID, Passkey, PasskeyAuthentication, PublicKeyCredential,
    RegisterPublicKeyCredential, SecurityKey, SecurityKeyAuthentication, SecurityKeyRegistration,
    Url, Uuid, Webauthn, WebauthnBuilder,
};

use crate::store::passkeys::{Ceremony, CeremonyPurpose, PasskeyRecord, MAX_PASSKEYS};
use crate::store::sign_in::{AMR_HWK, AMR_SWK};
use crate::store::{Store, StoreError};
use crate::tokens::opaque::{new_token, TokenHash};
use decoy::Decoys;

/// How long a ceremony may take: the store keeps its state this long, and the browser is
/// given it as the timeout (the WebAuthn recommendation, and `webauthn-rs`'s default).
pub const CEREMONY_SECS: u64 = 300;
/// A ceremony shown again is offered again while this much of it is left (else a new one
/// begins), so that the person still has two minutes to answer it.
pub const RESUME_MIN_SECS: u64 = 120;
/// The longest label of a passkey.
pub const MAX_NAME_CHARS: usize = 64;
/// The most a browser's answer may be (an attestation with its certificate chain fits).
pub const MAX_RESPONSE_BYTES: usize = 12 * 1024;

/// Why a passkey step was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasskeyRefused {
    /// The ceremony is unknown, used already, past its time, or another browser's.
    Expired,
    /// The browser's answer did not verify (challenge, origin, signature, user
    /// verification, counter), or was not an answer at all.
    Rejected,
    /// The user has no passkey to sign in with.
    NoPasskey,
    /// The user has [`MAX_PASSKEYS`] already, or this one is registered.
    Full,
    /// The store could not answer.
    Unavailable,
}

impl From<StoreError> for PasskeyRefused {
    fn from(err: StoreError) -> Self {
        tracing::warn!(error = %err, "passkey: the store could not answer");
        PasskeyRefused::Unavailable
    }
}

/// A ceremony begun: the id its page carries and the options for the browser (JSON, as
/// `PublicKeyCredential.parse*OptionsFromJSON` reads it under `publicKey`).
#[derive(Debug, Clone)]
pub struct Begun {
    pub ceremony: String,
    pub options: String,
}

/// A passkey sign-in that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proved {
    pub user: String,
    /// RFC 8176: `hwk` or `swk`.
    pub method: &'static str,
    /// The authenticator verified the user (PIN or biometric).
    pub user_verified: bool,
}

/// What a browser posted back: the ceremony id its page carried and its answer (the
/// `PublicKeyCredential.toJSON()` text).
#[derive(Debug, Clone, Copy)]
pub struct Reply<'a> {
    pub ceremony: &'a str,
    pub response: &'a str,
}

/// Whose a new ceremony is.
struct Owner<'a> {
    user: &'a str,
    purpose: CeremonyPurpose,
    binding: &'a str,
}

/// The passkey service of one configuration.
pub struct Passkeys {
    webauthn: Webauthn,
    decoys: Decoys,
}

impl std::fmt::Debug for Passkeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Passkeys").finish_non_exhaustive()
    }
}

/// The WebAuthn user handle of `user`: stable, and not the name itself.
fn user_handle(user: &str) -> Uuid {
    let digest = Sha256::digest(format!("authgate webauthn user\n{user}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(digest.get(..16).unwrap_or(&[0u8; 16]));
    Uuid::from_bytes(bytes)
}

fn credential_id(id: &CredentialID) -> String {
    let bytes: &[u8] = id.as_ref();
    URL_SAFE_NO_PAD.encode(bytes)
}

fn parsed(passkey: &PasskeyRecord) -> Option<Credential> {
    serde_json::from_str(&passkey.credential).ok()
}

/// The options for the page, as `webauthn-rs` made them but for two things: no `hints`
/// (they would steer the browser to security keys only, and the same credential signs in
/// without a password), and no credProtect request (`uvRequired` beside user verification
/// "preferred" is refused by Chromium as incongruent, and `webauthn-rs` asks for it without
/// enforcing it, so leaving it out changes no check here).
fn options_json(options: &impl Serialize) -> Result<String, PasskeyRefused> {
    let mut value = serde_json::to_value(options).map_err(|_| PasskeyRefused::Unavailable)?;
    if let Some(public_key) = value.get_mut("publicKey").and_then(|v| v.as_object_mut()) {
        public_key.remove("hints");
        if let Some(extensions) = public_key
            .get_mut("extensions")
            .and_then(|v| v.as_object_mut())
        {
            extensions.remove("credentialProtectionPolicy");
            extensions.remove("enforceCredentialProtectionPolicy");
        }
    }
    Ok(value.to_string())
}

/// A label for a new passkey: control characters dropped, at most [`MAX_NAME_CHARS`], or
/// `fallback` when nothing is left.
pub fn label(name: &str, fallback: &str) -> String {
    let clean: String = name
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_NAME_CHARS)
        .collect();
    let clean = clean.trim();
    if clean.is_empty() {
        fallback.to_owned()
    } else {
        clean.to_owned()
    }
}

/// What a passkey proves (RFC 8176 §2).
pub fn method_of(backup_eligible: bool) -> &'static str {
    if backup_eligible {
        AMR_SWK
    } else {
        AMR_HWK
    }
}

fn rejected(step: &'static str) -> impl Fn(webauthn_rs::prelude::WebauthnError) -> PasskeyRefused {
    move |err| {
        tracing::info!(step, error = ?err, "passkey refused");
        PasskeyRefused::Rejected
    }
}

impl Passkeys {
    /// The service for relying party `rp_id` at `origin` (`public_url`), its decoys keyed
    /// by `decoy_key` (secret, stable); `None` (logged) when `webauthn-rs` refuses the pair.
    pub fn new(rp_id: &str, origin: &str, rp_name: &str, decoy_key: &[u8; 32]) -> Option<Passkeys> {
        let Some(decoys) = Decoys::new(decoy_key) else {
            tracing::error!("passkeys are off: webauthn-rs refused the decoy credential");
            return None;
        };
        let built = Url::parse(origin)
            .map_err(|_| webauthn_rs::prelude::WebauthnError::Configuration)
            .and_then(|url| {
                WebauthnBuilder::new(rp_id, &url)?
                    .rp_name(rp_name)
                    .timeout(Duration::from_secs(CEREMONY_SECS))
                    .build()
            });
        match built {
            Ok(webauthn) => Some(Passkeys { webauthn, decoys }),
            Err(err) => {
                tracing::error!(rp_id, error = ?err, "passkeys are off: webauthn-rs refused the relying party");
                None
            }
        }
    }

    /// Keeps `state` for a new ceremony of `owner`: under a new id, or under `id` when
    /// given (a ceremony a page may offer again).
    async fn keep(
        &self,
        store: &dyn Store,
        owner: Owner<'_>,
        state: &impl Serialize,
        options: String,
        id: Option<String>,
        now: u64,
    ) -> Result<Begun, PasskeyRefused> {
        let state = serde_json::to_string(state).map_err(|_| PasskeyRefused::Unavailable)?;
        let ceremony = id.unwrap_or_else(new_token);
        let record = Ceremony {
            user: owner.user.to_owned(),
            purpose: owner.purpose,
            binding: owner.binding.to_owned(),
            state,
            options: options.clone(),
            expires_at: now.saturating_add(CEREMONY_SECS),
        };
        store
            .put_ceremony(&TokenHash::of(&ceremony), record, now)
            .await?;
        Ok(Begun { ceremony, options })
    }

    /// Takes the ceremony `id` (once, whatever follows): it must be for `purpose`, begun by
    /// `binding`, and of `user` when one is expected. Returns its user and state.
    async fn take<T: DeserializeOwned>(
        &self,
        store: &dyn Store,
        id: &str,
        purpose: CeremonyPurpose,
        binding: &str,
        user: Option<&str>,
        now: u64,
    ) -> Result<(String, T), PasskeyRefused> {
        let expired = |reason: &'static str| {
            tracing::info!(reason, ?purpose, "passkey ceremony refused");
            PasskeyRefused::Expired
        };
        if id.is_empty() || id.len() > 64 {
            return Err(expired("no_ceremony"));
        }
        let Some(ceremony) = store.take_ceremony(&TokenHash::of(id), now).await? else {
            return Err(expired("unknown_used_or_expired"));
        };
        let same_binding: bool = ceremony.binding.as_bytes().ct_eq(binding.as_bytes()).into();
        if ceremony.purpose != purpose || !same_binding || user.is_some_and(|u| u != ceremony.user)
        {
            return Err(expired("other_purpose_or_browser"));
        }
        let state = serde_json::from_str(&ceremony.state).map_err(|_| expired("damaged"))?;
        Ok((ceremony.user, state))
    }

    /// Begins registering a passkey for `user` (UV preferred; the user's passkeys excluded).
    pub async fn begin_registration(
        &self,
        store: &dyn Store,
        user: &str,
        binding: &str,
        now: u64,
    ) -> Result<Begun, PasskeyRefused> {
        let known = store
            .factors(user, now)
            .await?
            .map(|f| f.passkeys)
            .unwrap_or_default();
        if known.len() >= MAX_PASSKEYS {
            return Err(PasskeyRefused::Full);
        }
        let exclude: Vec<CredentialID> =
            known.iter().filter_map(parsed).map(|c| c.cred_id).collect();
        let (options, state) = self
            .webauthn
            .start_securitykey_registration(
                user_handle(user),
                user,
                user,
                Some(exclude),
                None,
                None,
            )
            .map_err(rejected("start_registration"))?;
        let options = options_json(&options)?;
        let owner = Owner {
            user,
            purpose: CeremonyPurpose::Register,
            binding,
        };
        self.keep(store, owner, &state, options, None, now).await
    }

    /// Finishes a registration of `user` with the browser's `reply`: the new passkey,
    /// stored as `name`.
    pub async fn finish_registration(
        &self,
        store: &dyn Store,
        user: &str,
        binding: &str,
        reply: Reply<'_>,
        name: &str,
        now: u64,
    ) -> Result<PasskeyRecord, PasskeyRefused> {
        let purpose = CeremonyPurpose::Register;
        let (user, state): (String, SecurityKeyRegistration) = self
            .take(store, reply.ceremony, purpose, binding, Some(user), now)
            .await?;
        let answer: RegisterPublicKeyCredential =
            answer(reply.response).ok_or(PasskeyRefused::Rejected)?;
        let key = self
            .webauthn
            .finish_securitykey_registration(&answer, &state)
            .map_err(rejected("finish_registration"))?;
        let credential: Credential = key.into();
        let record = PasskeyRecord {
            id: credential_id(&credential.cred_id),
            name: label(name, "Passkey"),
            credential: serde_json::to_string(&credential)
                .map_err(|_| PasskeyRefused::Unavailable)?,
            counter: credential.counter,
            backup_eligible: credential.backup_eligible,
            created_at: now,
            last_used: 0,
        };
        if !store
            .add_passkey(&user, record.clone(), MAX_PASSKEYS)
            .await?
        {
            return Err(PasskeyRefused::Full);
        }
        tracing::info!(user = %user, user_verified = credential.user_verified, method = method_of(record.backup_eligible), "passkey registered");
        Ok(record)
    }

    /// Begins a passwordless sign-in of `name` (UV required): with the passkeys of the
    /// user `name` when `known` (a configured user) and they have any, else with `name`'s
    /// decoys, so that both look the same; `NoPasskey` only when the decoys of `name` are
    /// none, as for a user who has registered none. The store is asked either way.
    pub async fn begin_passwordless(
        &self,
        store: &dyn Store,
        name: &str,
        known: bool,
        binding: &str,
        now: u64,
    ) -> Result<Begun, PasskeyRefused> {
        let found = self.credentials(store, name, now).await?;
        let keys: Vec<Passkey> = if known && !found.is_empty() {
            found.into_iter().map(Passkey::from).collect()
        } else {
            self.decoys.of(name)
        };
        if keys.is_empty() {
            return Err(PasskeyRefused::NoPasskey);
        }
        let (options, state) = self
            .webauthn
            .start_passkey_authentication(&keys)
            .map_err(rejected("start_passwordless"))?;
        let options = options_json(&options)?;
        let owner = Owner {
            user: name,
            purpose: CeremonyPurpose::Passwordless,
            binding,
        };
        self.keep(store, owner, &state, options, None, now).await
    }

    /// Begins (or offers again) a sign-in of `user` with one of their passkeys as the
    /// second factor after the password (UV preferred), for the login session `session`
    /// (secret) whose ceremonies are bound to `binding`: the ceremony this session was last
    /// offered, while [`RESUME_MIN_SECS`] of it are left and it is unused, else a new one
    /// under the same id.
    pub async fn begin_second_factor(
        &self,
        store: &dyn Store,
        user: &str,
        session: &str,
        binding: &str,
        now: u64,
    ) -> Result<Begun, PasskeyRefused> {
        let id = resumable_id(session);
        if let Some(kept) = store.peek_ceremony(&TokenHash::of(&id), now).await? {
            let same_binding: bool = kept.binding.as_bytes().ct_eq(binding.as_bytes()).into();
            let left = kept.expires_at.saturating_sub(now);
            let resumable = kept.purpose == CeremonyPurpose::SecondFactor
                && same_binding
                && kept.user == user
                && left >= RESUME_MIN_SECS;
            if let Some(options) = resumable
                .then(|| with_timeout(&kept.options, left))
                .flatten()
            {
                return Ok(Begun {
                    ceremony: id,
                    options,
                });
            }
        }
        let credentials = self.credentials(store, user, now).await?;
        if credentials.is_empty() {
            return Err(PasskeyRefused::NoPasskey);
        }
        let keys: Vec<SecurityKey> = credentials.into_iter().map(SecurityKey::from).collect();
        let (options, state) = self
            .webauthn
            .start_securitykey_authentication(&keys)
            .map_err(rejected("start_second_factor"))?;
        let options = options_json(&options)?;
        let owner = Owner {
            user,
            purpose: CeremonyPurpose::SecondFactor,
            binding,
        };
        self.keep(store, owner, &state, options, Some(id), now)
            .await
    }

    /// The credentials of `user`'s passkeys.
    async fn credentials(
        &self,
        store: &dyn Store,
        user: &str,
        now: u64,
    ) -> Result<Vec<Credential>, PasskeyRefused> {
        Ok(store
            .factors(user, now)
            .await?
            .map(|f| f.passkeys)
            .unwrap_or_default()
            .iter()
            .filter_map(parsed)
            .collect())
    }

    /// Finishes a sign-in begun by [`Passkeys::begin_sign_in`] with the browser's `reply`.
    /// `user`: whom the caller expects (the login session's), if anyone.
    pub async fn finish_sign_in(
        &self,
        store: &dyn Store,
        purpose: CeremonyPurpose,
        binding: &str,
        user: Option<&str>,
        reply: Reply<'_>,
        now: u64,
    ) -> Result<Proved, PasskeyRefused> {
        let answer: Option<PublicKeyCredential> = answer(reply.response);
        let ceremony = reply.ceremony;
        let (user, result) = match purpose {
            CeremonyPurpose::Passwordless => {
                let (user, state): (String, PasskeyAuthentication) = self
                    .take(store, ceremony, purpose, binding, user, now)
                    .await?;
                let answer = answer.ok_or(PasskeyRefused::Rejected)?;
                let result = self
                    .webauthn
                    .finish_passkey_authentication(&answer, &state)
                    .map_err(rejected("finish_passwordless"))?;
                if !result.user_verified() {
                    tracing::info!(user = %user, reason = "not_user_verified", "passkey refused");
                    return Err(PasskeyRefused::Rejected);
                }
                (user, result)
            }
            _ => {
                let purpose = CeremonyPurpose::SecondFactor;
                let (user, state): (String, SecurityKeyAuthentication) = self
                    .take(store, ceremony, purpose, binding, user, now)
                    .await?;
                let answer = answer.ok_or(PasskeyRefused::Rejected)?;
                let result = self
                    .webauthn
                    .finish_securitykey_authentication(&answer, &state)
                    .map_err(rejected("finish_second_factor"))?;
                (user, result)
            }
        };
        let id = credential_id(result.cred_id());
        let stored = store
            .factors(&user, now)
            .await?
            .and_then(|f| f.passkeys.into_iter().find(|p| p.id == id))
            .ok_or(PasskeyRefused::Rejected)?;
        let mut key = parsed(&stored)
            .map(SecurityKey::from)
            .ok_or(PasskeyRefused::Rejected)?;
        key.update_credential(&result);
        let credential: Credential = key.into();
        let json = serde_json::to_string(&credential).map_err(|_| PasskeyRefused::Unavailable)?;
        if !store
            .use_passkey(&user, &id, result.counter(), &json, now)
            .await?
        {
            tracing::warn!(user = %user, reason = "counter_did_not_advance", "passkey refused: a replayed assertion or a cloned key");
            return Err(PasskeyRefused::Rejected);
        }
        let method = method_of(stored.backup_eligible || credential.backup_eligible);
        tracing::info!(user = %user, method, user_verified = result.user_verified(), "passkey accepted");
        Ok(Proved {
            user,
            method,
            user_verified: result.user_verified(),
        })
    }
}

/// The id of the second-factor ceremony of the login session `session`: derived from its
/// secret id (so only that session's holder can know it), not the id itself.
fn resumable_id(session: &str) -> String {
    let digest = Sha256::digest(format!("authgate second-factor ceremony\n{session}").as_bytes());
    URL_SAFE_NO_PAD.encode(digest)
}

/// `options` with the browser's timeout cut to the `left` seconds the ceremony has;
/// `None` for options that are not what [`options_json`] wrote.
fn with_timeout(options: &str, left: u64) -> Option<String> {
    let mut value: serde_json::Value = serde_json::from_str(options).ok()?;
    let public_key = value.get_mut("publicKey")?.as_object_mut()?;
    public_key.insert("timeout".to_owned(), (left.saturating_mul(1000)).into());
    Some(value.to_string())
}

/// The browser's answer, if it is one and not oversized.
fn answer<T: DeserializeOwned>(response: &str) -> Option<T> {
    if response.len() > MAX_RESPONSE_BYTES {
        return None;
    }
    serde_json::from_str(response).ok()
}

mod decoy;
#[cfg(test)]
mod tests;
