//! The authorization server's side of the asymmetric signing keys (`tokens::jose`): how long
//! retired keys stay under this configuration, the seal of their stored document (derived
//! from the HMAC key ring), and refreshing the live set from the store, periodically and
//! when a token names a key this gateway does not know yet (rotated on another gateway);
//! signing access tokens with the algorithm `[tokens] algorithm` names, and verifying either
//! kind.

use crate::config::AccessAlg;
use crate::store::signing_keys::{KeyStore, KeysError};
use crate::tokens::jose::{jws, KeySet, Retention, SealKeys};
use crate::tokens::jwt::{self, AccessClaims, Expected, TokenInvalid};

use super::{AccessRefused, AuthServer};

/// The ID-token lifetime the retention allows for (OIDC ID tokens live an hour: see
/// `oauth::oidc::id_token`).
pub const ID_TOKEN_LIFETIME_SECS: u64 = 3600;

impl AuthServer {
    /// How long a retired signing key stays published under this configuration:
    /// `max(access_ttl, ID-token lifetime, session max_lifetime) + JWKS max-age`.
    pub fn key_retention(&self) -> Retention {
        Retention::new(
            self.settings.access_ttl,
            ID_TOKEN_LIFETIME_SECS,
            self.settings.session_max,
        )
    }

    /// The keys sealing the stored signing keys: derived from this configuration's HMAC keys.
    pub fn seal_keys(&self) -> SealKeys {
        SealKeys::from_ring(&self.keys)
    }

    /// Reads the stored keys into the live set (and drops retired keys past their retention).
    pub async fn refresh_signing_keys(&self) -> Result<bool, KeysError> {
        let seal = self.seal_keys();
        KeyStore {
            store: self.store.as_ref(),
            seal: &seal,
        }
        .refresh(&self.signing, self.now(), self.key_retention())
        .await
    }

    /// After a token named a key this gateway does not know: refreshes from the store, at
    /// most once every few seconds whoever asks (anyone can send such a token). Whether the
    /// live set changed.
    pub async fn refresh_for_unknown_kid(&self) -> bool {
        if !self.signing.claim_unknown_kid_refresh(self.now()) {
            return false;
        }
        match self.refresh_signing_keys().await {
            Ok(changed) => changed,
            Err(err) => {
                tracing::warn!(error = %err, "cannot refresh the signing keys");
                false
            }
        }
    }
}

impl AuthServer {
    /// Signs an access token as `[tokens] algorithm` says. Should the published key be
    /// missing (it never is once `serve` has loaded the keys), the token is signed HS256
    /// rather than not issued, and the failure logged.
    pub(super) fn sign_access(&self, claims: &AccessClaims) -> String {
        if let AccessAlg::Jws(alg) = self.settings.access_alg {
            match jwt::sign_jws(claims, &self.signing.snapshot(), alg) {
                Ok(token) => return token,
                Err(err) => {
                    tracing::error!(error = %err, "cannot sign an access token; signed it HS256")
                }
            }
        }
        jwt::sign(claims, self.keys.current())
    }

    /// The signature and claims of an access token of either kind ([`jwt::verify_any`]).
    /// A token naming a published key this gateway does not know (rotated in on another
    /// gateway moments ago) is tried again after a refresh from the store.
    pub(super) async fn verify_access_signature(
        &self,
        token: &str,
        expected: Expected<'_>,
    ) -> Result<AccessClaims, AccessRefused> {
        let verify = |published: &KeySet| jwt::verify_any(token, &self.keys, published, expected);
        match verify(&self.signing.snapshot()) {
            Err(TokenInvalid::UnknownKey)
                if jws::header_alg(token).as_deref() != Some("HS256")
                    && self.refresh_for_unknown_kid().await =>
            {
                verify(&self.signing.snapshot()).map_err(AccessRefused::Invalid)
            }
            result => result.map_err(AccessRefused::Invalid),
        }
    }
}

impl AuthServer {
    /// Rotates the signing keys of `algs` (all when empty) in the store and here: see
    /// `tokens::jose::KeySet::rotated`.
    pub async fn rotate_signing_keys(
        &self,
        algs: &[crate::tokens::jose::Alg],
        force: bool,
    ) -> Result<std::sync::Arc<KeySet>, KeysError> {
        let seal = self.seal_keys();
        KeyStore {
            store: self.store.as_ref(),
            seal: &seal,
        }
        .rotate(
            &self.signing,
            algs,
            &self.configured_algs(),
            self.now(),
            self.key_retention(),
            force,
        )
        .await
    }

    /// The algorithms whose key comes from the configuration.
    pub fn configured_algs(&self) -> Vec<crate::tokens::jose::Alg> {
        self.configured_keys.iter().map(|pair| pair.alg()).collect()
    }

    /// Puts this configuration's keys in force in the store and here: its configured keys
    /// Current for their algorithms, and the keys the start left for later
    /// (`store::signing_keys::AFTER_START`) generated. Whether the live set changed.
    pub async fn settle_signing_keys(&self) -> Result<bool, KeysError> {
        let seal = self.seal_keys();
        KeyStore {
            store: self.store.as_ref(),
            seal: &seal,
        }
        .settle(&self.signing, self.now(), &self.configured_keys)
        .await
    }
}
