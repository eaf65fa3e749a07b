//! The authorization server's side of the asymmetric signing keys (`tokens::jose`): how long
//! retired keys stay under this configuration, the seal of their stored document (derived
//! from the HMAC key ring), and refreshing the live set from the store, periodically and
//! when a token names a key this gateway does not know yet (rotated on another gateway).

use crate::store::signing_keys::{KeyStore, KeysError};
use crate::tokens::jose::{Retention, SealKeys};

use super::AuthServer;

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
