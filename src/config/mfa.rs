//! `[mfa]`: the TOTP issuer label (shown by authenticator apps; `:` is refused because the
//! otpauth label uses it as a separator) and the source of the key that seals TOTP secrets at
//! rest, read now when it is configured so that `check` refuses what `serve` would; and
//! whether passkeys are offered, which needs `public_url`'s host to be a name: it is the
//! WebAuthn relying-party id, and browsers refuse an IP address as one.

use std::path::Path;

use super::error::ConfigError;
use super::file::MfaSection;
use super::validate::Validator;
use super::{MfaConfig, PublicUrl, SecretRef};

impl Validator<'_> {
    pub(super) fn mfa(
        &self,
        m: &MfaSection,
        data_dir: &Path,
        public_url: &PublicUrl,
    ) -> Result<MfaConfig, ConfigError> {
        let issuer = match &m.issuer {
            None => public_url.host.clone(),
            Some(v) => {
                let text = v.get_ref();
                if text.trim().is_empty()
                    || text.len() > 64
                    || text.contains(':')
                    || text.chars().any(char::is_control)
                {
                    return Err(self.err(
                        v,
                        "mfa.issuer",
                        "must be 1 to 64 characters without ':' or control characters",
                    ));
                }
                text.clone()
            }
        };
        let secret_key = match &m.secret_key {
            None => SecretRef::File(data_dir.join("mfa.key")),
            Some(v) => {
                let source = self.secret_ref(v, "mfa.secret_key")?;
                if let Err(err) = crate::tokens::keyring::read_key(&source) {
                    return Err(self.err(v, "mfa.secret_key", err.0));
                }
                source
            }
        };
        let passkeys = match &m.passkeys {
            Some(v) if *v.get_ref() && public_url.host.parse::<std::net::IpAddr>().is_ok() => {
                return Err(self.err(
                    v,
                    "mfa.passkeys",
                    format!(
                        "passkeys need server.public_url with a host name (it is the WebAuthn relying-party id, and browsers refuse an IP address as one); {} is an IP address",
                        public_url.host
                    ),
                ));
            }
            Some(v) => *v.get_ref(),
            None => false,
        };
        Ok(MfaConfig {
            issuer,
            secret_key,
            passkeys,
        })
    }
}
