//! An upstream provider's signing keys (its `jwks_uri`, RFC 7517), parsed from bytes and
//! used through ring, and the refresh rule of the cache `endpoints::federation` keeps.
//!
//! Accepted: RSA keys for RS256 and PS256 (2048 to 8192 bits, ring's bounds), P-256 keys for
//! ES256, Ed25519 keys for EdDSA. A key of another type, curve or `use` is skipped, not an
//! error: a JWKS may publish encryption keys beside its signing keys. A key whose own `alg`
//! names another algorithm than the token's is never used for it.
//!
//! Refresh (OIDC Core §10.1.1 and the research note's §4): the set is refetched when a token
//! names a `kid` it does not hold, at most once per [`REFETCH_INTERVAL_SECS`], and after
//! [`MAX_AGE_SECS`] in any case; a failed fetch keeps the old set.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;

/// The largest JWKS document read.
pub const MAX_JWKS_BYTES: usize = 128 * 1024;
/// The most keys kept of one document (the rest are ignored).
pub const MAX_KEYS: usize = 32;
/// An unknown `kid` refetches the set at most this often.
pub const REFETCH_INTERVAL_SECS: u64 = 30;
/// A set this old is refetched at its next use.
pub const MAX_AGE_SECS: u64 = 3600;

/// A JWS algorithm accepted from upstream providers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamAlg {
    Rs256,
    Ps256,
    Es256,
    EdDsa,
}

impl UpstreamAlg {
    /// The algorithm named exactly `name`; `none`, `HS*` and anything else are `None`.
    pub fn parse(name: &str) -> Option<UpstreamAlg> {
        match name {
            "RS256" => Some(UpstreamAlg::Rs256),
            "PS256" => Some(UpstreamAlg::Ps256),
            "ES256" => Some(UpstreamAlg::Es256),
            "EdDSA" => Some(UpstreamAlg::EdDsa),
            _ => None,
        }
    }
}

/// The public key material of one JWK.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Material {
    /// Big-endian modulus and exponent.
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
    },
    /// The uncompressed point `0x04 || X || Y`.
    P256(Vec<u8>),
    Ed25519(Vec<u8>),
}

/// One signing key of a provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamKey {
    pub kid: Option<String>,
    /// The JWK's own `alg`, when it names one.
    alg: Option<String>,
    material: Material,
}

impl UpstreamKey {
    /// Whether this key may verify a signature of `alg`.
    pub fn fits(&self, alg: UpstreamAlg) -> bool {
        let kind = matches!(
            (&self.material, alg),
            (
                Material::Rsa { .. },
                UpstreamAlg::Rs256 | UpstreamAlg::Ps256
            ) | (Material::P256(_), UpstreamAlg::Es256)
                | (Material::Ed25519(_), UpstreamAlg::EdDsa)
        );
        kind && self
            .alg
            .as_deref()
            .is_none_or(|own| UpstreamAlg::parse(own) == Some(alg))
    }

    /// Whether `signature` is `alg`'s signature of `message` under this key.
    pub fn verify(&self, alg: UpstreamAlg, message: &[u8], signature: &[u8]) -> bool {
        use ring::signature as sig;
        if !self.fits(alg) {
            return false;
        }
        match (&self.material, alg) {
            (Material::Rsa { n, e }, UpstreamAlg::Rs256) => sig::RsaPublicKeyComponents { n, e }
                .verify(&sig::RSA_PKCS1_2048_8192_SHA256, message, signature)
                .is_ok(),
            (Material::Rsa { n, e }, UpstreamAlg::Ps256) => sig::RsaPublicKeyComponents { n, e }
                .verify(&sig::RSA_PSS_2048_8192_SHA256, message, signature)
                .is_ok(),
            (Material::P256(point), UpstreamAlg::Es256) => {
                sig::UnparsedPublicKey::new(&sig::ECDSA_P256_SHA256_FIXED, point)
                    .verify(message, signature)
                    .is_ok()
            }
            (Material::Ed25519(key), UpstreamAlg::EdDsa) => {
                sig::UnparsedPublicKey::new(&sig::ED25519, key)
                    .verify(message, signature)
                    .is_ok()
            }
            _ => false,
        }
    }
}

/// Why a JWKS document cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwksError {
    TooLarge,
    NotJson,
    /// Not one key authgate can verify with.
    NoUsableKey,
}

impl std::fmt::Display for JwksError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            JwksError::TooLarge => "the JWKS is too large",
            JwksError::NotJson => "the JWKS is not a JSON key set",
            JwksError::NoUsableKey => "the JWKS has no RS256, PS256, ES256 or EdDSA signing key",
        })
    }
}

impl std::error::Error for JwksError {}

#[derive(Deserialize)]
struct Document {
    keys: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct Jwk {
    kty: String,
    kid: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    alg: Option<String>,
    crv: Option<String>,
    n: Option<String>,
    e: Option<String>,
    x: Option<String>,
    y: Option<String>,
}

fn b64(value: Option<&String>) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(value?.trim_end_matches('=')).ok()
}

fn key_of(value: serde_json::Value) -> Option<UpstreamKey> {
    let jwk: Jwk = serde_json::from_value(value).ok()?;
    if jwk.use_.as_deref().is_some_and(|u| u != "sig") {
        return None;
    }
    let material = match (jwk.kty.as_str(), jwk.crv.as_deref()) {
        ("RSA", _) => Material::Rsa {
            n: b64(jwk.n.as_ref())?,
            e: b64(jwk.e.as_ref())?,
        },
        ("EC", Some("P-256")) => {
            let (x, y) = (b64(jwk.x.as_ref())?, b64(jwk.y.as_ref())?);
            if x.len() != 32 || y.len() != 32 {
                return None;
            }
            let mut point = vec![4u8];
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            Material::P256(point)
        }
        ("OKP", Some("Ed25519")) => {
            let x = b64(jwk.x.as_ref())?;
            (x.len() == 32).then_some(())?;
            Material::Ed25519(x)
        }
        _ => return None,
    };
    Some(UpstreamKey {
        kid: jwk.kid,
        alg: jwk.alg,
        material,
    })
}

/// Parses a JWKS document: its usable signing keys, at most [`MAX_KEYS`].
pub fn parse(bytes: &[u8]) -> Result<Vec<UpstreamKey>, JwksError> {
    if bytes.len() > MAX_JWKS_BYTES {
        return Err(JwksError::TooLarge);
    }
    let doc: Document = serde_json::from_slice(bytes).map_err(|_| JwksError::NotJson)?;
    let keys: Vec<UpstreamKey> = doc
        .keys
        .into_iter()
        .filter_map(key_of)
        .take(MAX_KEYS)
        .collect();
    if keys.is_empty() {
        return Err(JwksError::NoUsableKey);
    }
    Ok(keys)
}

/// When the keys were fetched, and when a fetch was last tried: the refresh rule.
#[derive(Debug, Clone, Copy, Default)]
pub struct Freshness {
    /// The last successful fetch (Unix seconds).
    pub fetched_at: Option<u64>,
    /// The last attempt, successful or not.
    pub tried_at: Option<u64>,
}

impl Freshness {
    /// Whether the set should be fetched before use at `now`: never fetched, or too old
    /// (and not tried in the last [`REFETCH_INTERVAL_SECS`]).
    pub fn stale(&self, now: u64) -> bool {
        match self.fetched_at {
            None => self.may_refetch(now),
            Some(at) => now >= at.saturating_add(MAX_AGE_SECS) && self.may_refetch(now),
        }
    }

    /// Whether an unknown `kid` may refetch the set at `now`.
    pub fn may_refetch(&self, now: u64) -> bool {
        self.tried_at
            .is_none_or(|at| now >= at.saturating_add(REFETCH_INTERVAL_SECS))
    }
}

#[cfg(test)]
pub(crate) mod test_keys {
    //! Keys generated with ring for the verifier's tests, and their JWKs.
    use super::*;
    use ring::rand::SystemRandom;
    use ring::signature::{self as sig, KeyPair};

    type Signer = Box<dyn Fn(&[u8]) -> Vec<u8> + Send + Sync>;

    pub struct TestKey {
        pub jwk: serde_json::Value,
        sign: Signer,
    }

    impl TestKey {
        pub fn sign(&self, message: &[u8]) -> Vec<u8> {
            (self.sign)(message)
        }

        /// A compact JWS of `claims` under `header`, signed with this key.
        pub fn jws(&self, header: &serde_json::Value, claims: &serde_json::Value) -> String {
            let mut token = URL_SAFE_NO_PAD.encode(header.to_string());
            token.push('.');
            token.push_str(&URL_SAFE_NO_PAD.encode(claims.to_string()));
            let signature = self.sign(token.as_bytes());
            token.push('.');
            token.push_str(&URL_SAFE_NO_PAD.encode(signature));
            token
        }

        pub fn es256(kid: &str) -> TestKey {
            let rng = SystemRandom::new();
            let alg = &sig::ECDSA_P256_SHA256_FIXED_SIGNING;
            let pkcs8 = sig::EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
            let pair = sig::EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).unwrap();
            let point = pair.public_key().as_ref();
            let jwk = serde_json::json!({
                "kty": "EC", "crv": "P-256", "kid": kid, "use": "sig", "alg": "ES256",
                "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
                "y": URL_SAFE_NO_PAD.encode(&point[33..]),
            });
            let sign = Box::new(move |m: &[u8]| {
                pair.sign(&SystemRandom::new(), m)
                    .unwrap()
                    .as_ref()
                    .to_vec()
            });
            TestKey { jwk, sign }
        }

        pub fn ed25519(kid: &str) -> TestKey {
            let pkcs8 = sig::Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
            let pair = sig::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
            let jwk = serde_json::json!({
                "kty": "OKP", "crv": "Ed25519", "kid": kid,
                "x": URL_SAFE_NO_PAD.encode(pair.public_key().as_ref()),
            });
            let sign = Box::new(move |m: &[u8]| pair.sign(m).as_ref().to_vec());
            TestKey { jwk, sign }
        }

        /// An RSA key (generated by the `rsa` crate, which only generates: ring signs).
        pub fn rsa(kid: &str, pss: bool) -> TestKey {
            use rsa::pkcs8::EncodePrivateKey;
            use rsa::traits::PublicKeyParts;
            let private = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).unwrap();
            let n = private.n().to_bytes_be();
            let e = private.e().to_bytes_be();
            let der = private.to_pkcs8_der().unwrap();
            let pair = sig::RsaKeyPair::from_pkcs8(der.as_bytes()).unwrap();
            let jwk = serde_json::json!({
                "kty": "RSA", "kid": kid, "use": "sig",
                "n": URL_SAFE_NO_PAD.encode(n), "e": URL_SAFE_NO_PAD.encode(e),
            });
            let sign = Box::new(move |m: &[u8]| {
                let mut out = vec![0u8; pair.public().modulus_len()];
                let padding: &dyn sig::RsaEncoding = if pss {
                    &sig::RSA_PSS_SHA256
                } else {
                    &sig::RSA_PKCS1_SHA256
                };
                pair.sign(padding, &SystemRandom::new(), m, &mut out)
                    .unwrap();
                out
            });
            TestKey { jwk, sign }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_keys::TestKey;
    use super::*;

    fn set(keys: &[&TestKey]) -> Vec<UpstreamKey> {
        let doc =
            serde_json::json!({ "keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>() });
        parse(doc.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn each_algorithm_verifies_with_its_key_only() {
        let es = TestKey::es256("e");
        let ed = TestKey::ed25519("d");
        let rs = TestKey::rsa("r", false);
        let ps = TestKey::rsa("p", true);
        let keys = set(&[&es, &ed, &rs, &ps]);
        let cases = [
            (&es, UpstreamAlg::Es256, 0),
            (&ed, UpstreamAlg::EdDsa, 1),
            (&rs, UpstreamAlg::Rs256, 2),
            (&ps, UpstreamAlg::Ps256, 3),
        ];
        for (key, alg, index) in cases {
            let signature = key.sign(b"message");
            for (i, candidate) in keys.iter().enumerate() {
                assert_eq!(
                    candidate.verify(alg, b"message", &signature),
                    i == index,
                    "{alg:?} under key {i}"
                );
            }
            assert!(!keys[index].verify(alg, b"messagf", &signature));
        }
        // A PKCS#1 v1.5 signature is not a PSS one, nor the reverse.
        assert!(!keys[2].verify(UpstreamAlg::Ps256, b"m", &rs.sign(b"m")));
        assert!(!keys[3].verify(UpstreamAlg::Rs256, b"m", &ps.sign(b"m")));
    }

    #[test]
    fn a_key_is_used_only_for_its_own_alg() {
        let es = TestKey::es256("e");
        let keys = set(&[&es]);
        assert!(keys[0].fits(UpstreamAlg::Es256));
        assert!(!keys[0].fits(UpstreamAlg::Rs256));
        let mut rsa = TestKey::rsa("r", false).jwk;
        rsa["alg"] = "RS256".into();
        let keys = parse(serde_json::json!({ "keys": [rsa] }).to_string().as_bytes()).unwrap();
        assert!(keys[0].fits(UpstreamAlg::Rs256));
        assert!(!keys[0].fits(UpstreamAlg::Ps256));
    }

    #[test]
    fn unusable_keys_are_skipped_and_a_set_without_one_is_refused() {
        let es = TestKey::es256("e");
        let doc = serde_json::json!({ "keys": [
            { "kty": "oct", "k": "c2VjcmV0" },
            { "kty": "EC", "crv": "P-384", "x": "AA", "y": "AA" },
            { "kty": "RSA", "use": "enc", "n": "AQAB", "e": "AQAB" },
            { "kty": "EC", "crv": "P-256", "x": "AA", "y": "AA" },
            "not an object",
            es.jwk,
        ]});
        let keys = parse(doc.to_string().as_bytes()).unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].kid.as_deref(), Some("e"));
        let none = serde_json::json!({ "keys": [{ "kty": "oct", "k": "c2VjcmV0" }] });
        assert_eq!(
            parse(none.to_string().as_bytes()),
            Err(JwksError::NoUsableKey)
        );
        assert_eq!(parse(b"{}"), Err(JwksError::NotJson));
        assert_eq!(
            parse(&vec![b' '; MAX_JWKS_BYTES + 1]),
            Err(JwksError::TooLarge)
        );
    }

    #[test]
    fn algorithms_outside_the_allow_list_are_unknown() {
        for name in ["none", "HS256", "RS384", "rs256", "ES256K", ""] {
            assert_eq!(UpstreamAlg::parse(name), None, "{name}");
        }
    }

    #[test]
    fn refetches_are_rate_limited() {
        let never = Freshness::default();
        assert!(never.stale(0) && never.may_refetch(0));
        let fresh = Freshness {
            fetched_at: Some(1000),
            tried_at: Some(1000),
        };
        assert!(!fresh.stale(1000 + MAX_AGE_SECS - 1));
        assert!(fresh.stale(1000 + MAX_AGE_SECS));
        assert!(!fresh.may_refetch(1000 + REFETCH_INTERVAL_SECS - 1));
        assert!(fresh.may_refetch(1000 + REFETCH_INTERVAL_SECS));
        // A failed attempt holds the next one back as long.
        let failed = Freshness {
            fetched_at: None,
            tried_at: Some(2000),
        };
        assert!(!failed.stale(2010));
        assert!(failed.stale(2000 + REFETCH_INTERVAL_SECS));
    }
}
