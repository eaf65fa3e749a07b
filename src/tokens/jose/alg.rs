//! The JWS algorithms authgate signs with (RFC 7518 §3.1, RFC 8037 §3.1), and the
//! `at_hash`/`c_hash` half hash OpenID Connect derives from each.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256, Sha512};

/// A JWS signature algorithm authgate signs with.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Alg {
    /// RSASSA-PKCS1-v1_5 with SHA-256, 2048-bit keys: the OpenID Connect default.
    #[serde(rename = "RS256")]
    Rs256,
    /// ECDSA P-256 with SHA-256, the signature as the raw `r || s` JWS needs.
    #[serde(rename = "ES256")]
    Es256,
    /// Ed25519 (RFC 8037).
    #[serde(rename = "EdDSA")]
    EdDsa,
}

impl Alg {
    /// Every algorithm, in the order keys are listed and published.
    pub const ALL: [Alg; 3] = [Alg::Rs256, Alg::Es256, Alg::EdDsa];

    /// `"RS256"`, `"ES256"` or `"EdDSA"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Alg::Rs256 => "RS256",
            Alg::Es256 => "ES256",
            Alg::EdDsa => "EdDSA",
        }
    }

    /// The `[tokens]` setting that may name this algorithm's key: `rs256_key`, `es256_key`
    /// or `eddsa_key`.
    pub fn config_key(self) -> &'static str {
        match self {
            Alg::Rs256 => "rs256_key",
            Alg::Es256 => "es256_key",
            Alg::EdDsa => "eddsa_key",
        }
    }

    /// The algorithm named exactly (case-sensitive) `s`.
    pub fn parse(s: &str) -> Option<Alg> {
        Alg::ALL.into_iter().find(|alg| alg.as_str() == s)
    }
}

impl std::fmt::Display for Alg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `at_hash`/`c_hash` (OIDC Core §3.1.3.6): base64url of the left half of the hash of
/// `value` with the hash of `alg` (SHA-256 for RS256/ES256, SHA-512 for EdDSA, as the
/// `openidconnect` crate and authlib compute it).
pub fn half_hash(alg: Alg, value: &str) -> String {
    match alg {
        Alg::Rs256 | Alg::Es256 => {
            let digest = Sha256::digest(value.as_bytes());
            URL_SAFE_NO_PAD.encode(digest.get(..16).unwrap_or_default())
        }
        Alg::EdDsa => {
            let digest = Sha512::digest(value.as_bytes());
            URL_SAFE_NO_PAD.encode(digest.get(..32).unwrap_or_default())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_exact() {
        for alg in Alg::ALL {
            assert_eq!(Alg::parse(alg.as_str()), Some(alg));
            let json = serde_json::to_string(&alg).unwrap();
            assert_eq!(json, format!("\"{}\"", alg.as_str()));
        }
        assert_eq!(Alg::parse("es256"), None);
        assert_eq!(Alg::parse("none"), None);
        assert_eq!(Alg::parse("HS256"), None);
        assert_eq!(Alg::parse("Ed25519"), None);
    }

    #[test]
    fn half_hash_matches_the_openid_example() {
        // OIDC Core §A.3: the access token "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"
        // has at_hash "77QmUPtjPfzWtF2AnpK9RQ" (RS256).
        assert_eq!(
            half_hash(Alg::Rs256, "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
        assert_eq!(half_hash(Alg::EdDsa, "x").len(), 43);
    }
}
