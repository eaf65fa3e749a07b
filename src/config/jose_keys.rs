//! Validation of `[tokens] rs256_key`, `es256_key` and `eddsa_key`: each a `file:`/`env:`
//! reference to a PEM private key of its algorithm. The key is read and parsed here, so
//! that `check` refuses (with the line of the setting) an unreadable file, a key of another
//! type, an RSA key under 2048 bits, exactly as `serve` and a reload would. Messages name
//! the source, never the key.

use toml::Spanned;

use super::error::ConfigError;
use super::file::TokensSection;
use super::validate::Validator;
use crate::tokens::jose::{Alg, ConfiguredKey};

impl Validator<'_> {
    pub(super) fn configured_keys(
        &self,
        t: &TokensSection,
    ) -> Result<Vec<ConfiguredKey>, ConfigError> {
        let settings: [(Alg, &Option<Spanned<String>>); 3] = [
            (Alg::Rs256, &t.rs256_key),
            (Alg::Es256, &t.es256_key),
            (Alg::EdDsa, &t.eddsa_key),
        ];
        let mut keys = Vec::new();
        for (alg, value) in settings {
            let Some(value) = value else { continue };
            let name = format!("tokens.{}", alg.config_key());
            let key = ConfiguredKey {
                alg,
                source: self.secret_ref(value, &name)?,
            };
            if let Err(err) = key.load() {
                return Err(self.err(value, &name, err.0));
            }
            keys.push(key);
        }
        Ok(keys)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::{Config, SecretRef};
    use crate::tokens::jose::pair::tests::pem;
    use crate::tokens::jose::{Alg, ConfiguredKey, KeyPair};

    fn config(setting: &str) -> Result<Config, String> {
        Config::from_toml_str(&format!(
            "[server]\nlisten = \"127.0.0.1:8443\"\npublic_url = \"https://gw.example.com\"\n\
             \n[tokens]\n{setting}\n"
        ))
        .map_err(|e| e.to_string())
    }

    fn write(dir: &Path, name: &str, text: &str) -> String {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    }

    #[test]
    fn each_setting_names_a_key_of_its_algorithm() {
        let dir = tempfile::tempdir().unwrap();
        let es = KeyPair::generate(Alg::Es256).unwrap();
        let ed = KeyPair::generate(Alg::EdDsa).unwrap();
        let es_path = write(dir.path(), "es.pem", &pem("PRIVATE KEY", es.pkcs8()));
        let ed_path = write(dir.path(), "ed.pem", &pem("PRIVATE KEY", ed.pkcs8()));
        let c = config(&format!(
            "es256_key = \"file:{es_path}\"\neddsa_key = \"file:{ed_path}\""
        ))
        .unwrap();
        assert_eq!(
            c.tokens.configured_keys,
            [
                ConfiguredKey {
                    alg: Alg::Es256,
                    source: SecretRef::File(es_path.into())
                },
                ConfiguredKey {
                    alg: Alg::EdDsa,
                    source: SecretRef::File(ed_path.into())
                },
            ]
        );
        assert!(config("").unwrap().tokens.configured_keys.is_empty());
    }

    #[test]
    fn refusals_point_at_the_setting_and_never_quote_the_key() {
        use rsa::pkcs8::EncodePrivateKey;
        let dir = tempfile::tempdir().unwrap();
        let ed = pem(
            "PRIVATE KEY",
            KeyPair::generate(Alg::EdDsa).unwrap().pkcs8(),
        );
        let ed_path = write(dir.path(), "ed.pem", &ed);
        let small = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 1024).unwrap();
        let small = pem("PRIVATE KEY", small.to_pkcs8_der().unwrap().as_bytes());
        let small_path = write(dir.path(), "small.pem", &small);
        let missing = dir.path().join("none.pem").display().to_string();
        for (setting, expected, key) in [
            (
                format!("es256_key = \"file:{ed_path}\""),
                format!(
                    "<string>:6: tokens.es256_key: file:{ed_path}: an Ed25519 key, but \
                     es256_key needs a P-256 (EC) key"
                ),
                &ed,
            ),
            (
                format!("rs256_key = \"file:{small_path}\""),
                format!(
                    "<string>:6: tokens.rs256_key: file:{small_path}: an RSA key of 1024 \
                     bits: RS256 needs at least 2048"
                ),
                &small,
            ),
            (
                format!("eddsa_key = \"file:{missing}\""),
                format!("<string>:6: tokens.eddsa_key: file:{missing}: cannot read"),
                &ed,
            ),
            (
                "rs256_key = \"-----BEGIN PRIVATE KEY-----\"".to_owned(),
                "<string>:6: tokens.rs256_key: secrets are never written into the file".to_owned(),
                &ed,
            ),
        ] {
            let err = config(&setting).unwrap_err();
            assert!(err.starts_with(&expected), "{err}\nexpected: {expected}");
            let body = key.lines().nth(1).unwrap();
            assert!(!err.contains(body), "{err}");
        }
    }
}
