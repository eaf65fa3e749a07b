//! Public keys as JWKs (RFC 7517, RFC 7518 §6, RFC 8037 §2) and their RFC 7638 thumbprints,
//! which are authgate's key ids: derived from the key itself, so a kid is never reused for
//! other key material and every gateway of a deployment names a key alike.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

use super::alg::Alg;

/// The public half of a key, each member base64url (no padding) as JWK has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicJwk {
    /// `kty: RSA`: modulus and exponent, big-endian without leading zeros.
    Rsa { n: String, e: String },
    /// `kty: EC, crv: P-256`: the point's coordinates.
    Ec { x: String, y: String },
    /// `kty: OKP, crv: Ed25519`: the public key.
    Okp { x: String },
}

impl PublicJwk {
    /// From RSA components (big-endian bytes).
    pub fn rsa(n: &[u8], e: &[u8]) -> PublicJwk {
        PublicJwk::Rsa {
            n: URL_SAFE_NO_PAD.encode(strip_zeros(n)),
            e: URL_SAFE_NO_PAD.encode(strip_zeros(e)),
        }
    }

    /// From an uncompressed P-256 point (`0x04 || X || Y`); `None` for any other form.
    pub fn p256(point: &[u8]) -> Option<PublicJwk> {
        let (tag, xy) = point.split_first()?;
        if *tag != 4 || xy.len() != 64 {
            return None;
        }
        let (x, y) = xy.split_at(32);
        Some(PublicJwk::Ec {
            x: URL_SAFE_NO_PAD.encode(x),
            y: URL_SAFE_NO_PAD.encode(y),
        })
    }

    /// From an Ed25519 public key.
    pub fn ed25519(public: &[u8]) -> PublicJwk {
        PublicJwk::Okp {
            x: URL_SAFE_NO_PAD.encode(public),
        }
    }

    /// The required members in lexicographic order, no whitespace (RFC 7638 §3.2-3.3).
    /// Every value is base64url or a fixed name, so nothing needs escaping.
    fn canonical(&self) -> String {
        match self {
            PublicJwk::Rsa { n, e } => format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#),
            PublicJwk::Ec { x, y } => {
                format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#)
            }
            PublicJwk::Okp { x } => format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#),
        }
    }

    /// The RFC 7638 thumbprint: base64url of the SHA-256 of the canonical members.
    pub fn thumbprint(&self) -> String {
        URL_SAFE_NO_PAD.encode(Sha256::digest(self.canonical().as_bytes()))
    }

    /// The JWK as published: the key's members plus `kid`, `use: sig` and `alg`.
    pub fn to_json(&self, kid: &str, alg: Alg) -> serde_json::Value {
        let mut members = serde_json::Map::new();
        let mut put = |name: &str, value: &str| {
            members.insert(name.to_owned(), serde_json::Value::String(value.to_owned()));
        };
        match self {
            PublicJwk::Rsa { n, e } => {
                put("kty", "RSA");
                put("n", n);
                put("e", e);
            }
            PublicJwk::Ec { x, y } => {
                put("kty", "EC");
                put("crv", "P-256");
                put("x", x);
                put("y", y);
            }
            PublicJwk::Okp { x } => {
                put("kty", "OKP");
                put("crv", "Ed25519");
                put("x", x);
            }
        }
        put("kid", kid);
        put("use", "sig");
        put("alg", alg.as_str());
        serde_json::Value::Object(members)
    }
}

fn strip_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    bytes.get(first..).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7638 §3.1: the example RSA key and its thumbprint.
    #[test]
    fn thumbprint_of_the_rfc_7638_example() {
        let jwk = PublicJwk::Rsa {
            n: "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw".to_owned(),
            e: "AQAB".to_owned(),
        };
        assert_eq!(
            jwk.thumbprint(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn rsa_components_lose_leading_zeros() {
        assert_eq!(
            PublicJwk::rsa(&[0, 0, 1, 2], &[0, 1, 0, 1]),
            PublicJwk::Rsa {
                n: URL_SAFE_NO_PAD.encode([1, 2]),
                e: "AQAB".to_owned()
            }
        );
    }

    #[test]
    fn only_uncompressed_points() {
        let mut point = vec![4u8];
        point.extend([7u8; 64]);
        assert!(PublicJwk::p256(&point).is_some());
        point[0] = 2;
        assert!(PublicJwk::p256(&point).is_none());
        assert!(PublicJwk::p256(&[4u8; 33]).is_none());
    }

    #[test]
    fn published_members() {
        let jwk = PublicJwk::ed25519(&[1u8; 32]);
        let json = jwk.to_json("k1", Alg::EdDsa);
        assert_eq!(json["kty"], "OKP");
        assert_eq!(json["crv"], "Ed25519");
        assert_eq!(json["use"], "sig");
        assert_eq!(json["alg"], "EdDSA");
        assert_eq!(json["kid"], "k1");
        assert_eq!(json.as_object().unwrap().len(), 6);
        assert!(json.get("d").is_none());
    }
}
