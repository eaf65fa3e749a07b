//! Signing keys the operator supplies (`[tokens] rs256_key`, `es256_key`, `eddsa_key`, each
//! `file:PATH` or `env:NAME` holding a PEM private key) instead of letting the gateway
//! generate them.
//!
//! A configured key is its algorithm's Current key for as long as the configuration names
//! it (see `KeySet::with_configured`): it has no Next key, and `authgate keys rotate`
//! refuses its algorithm. Rotating it means putting the new key in the file (or variable)
//! and reloading (SIGHUP): the new key signs at once, and the previous one stays published
//! as Retired for the retention, so tokens it signed keep verifying. The new key is not
//! pre-published: a relying party that cached the JWKS learns it when it meets its unknown
//! `kid` (every common RP library fetches the JWKS again then).
//!
//! Errors name the source and what is wrong with the key, never the key itself.

use super::alg::Alg;
use super::pair::{KeyError, KeyPair};
use crate::tokens::secret::SecretRef;

/// One `[tokens] *_key` setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfiguredKey {
    pub alg: Alg,
    pub source: SecretRef,
}

impl ConfiguredKey {
    /// Reads and parses the key: PEM, PKCS#8 of the setting's algorithm (or PKCS#1 for
    /// RS256), RSA of at least 2048 bits.
    pub fn load(&self) -> Result<KeyPair, KeyError> {
        let text = self.source.read().map_err(KeyError)?;
        let pair = KeyPair::from_pem(text.as_bytes(), &self.source.to_string())?;
        if pair.alg() != self.alg {
            return Err(KeyError(format!(
                "{}: {} key, but {} needs {} key",
                self.source,
                kind(pair.alg()),
                self.alg.config_key(),
                kind(self.alg),
            )));
        }
        Ok(pair)
    }
}

/// What key an algorithm takes, for errors.
fn kind(alg: Alg) -> &'static str {
    match alg {
        Alg::Rs256 => "an RSA",
        Alg::Es256 => "a P-256 (EC)",
        Alg::EdDsa => "an Ed25519",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pem(der: &[u8]) -> String {
        crate::tokens::jose::pair::tests::pem("PRIVATE KEY", der)
    }

    #[test]
    fn a_key_of_its_algorithm_loads_from_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let pair = KeyPair::generate(Alg::Es256).unwrap();
        let path = dir.path().join("es256.pem");
        std::fs::write(&path, pem(pair.pkcs8())).unwrap();
        let key = ConfiguredKey {
            alg: Alg::Es256,
            source: SecretRef::File(path),
        };
        assert_eq!(key.load().unwrap().kid(), pair.kid());
    }

    #[test]
    fn the_wrong_algorithm_and_a_missing_file_say_so_without_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let pair = KeyPair::generate(Alg::EdDsa).unwrap();
        let text = pem(pair.pkcs8());
        let path = dir.path().join("ed.pem");
        std::fs::write(&path, &text).unwrap();
        let key = ConfiguredKey {
            alg: Alg::Es256,
            source: SecretRef::File(path.clone()),
        };
        let err = key.load().unwrap_err().0;
        assert_eq!(
            err,
            format!(
                "file:{}: an Ed25519 key, but es256_key needs a P-256 (EC) key",
                path.display()
            )
        );
        let body = text.lines().nth(1).unwrap();
        assert!(!err.contains(body), "{err}");

        let missing = ConfiguredKey {
            alg: Alg::Rs256,
            source: SecretRef::File(dir.path().join("none.pem")),
        };
        let err = missing.load().unwrap_err().0;
        assert!(err.contains("none.pem: cannot read"), "{err}");
    }
}
