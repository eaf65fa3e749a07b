//! Checking the gateway's JWS tokens as a resource server or relying party elsewhere would:
//! from the published JWKS alone, with ring's verifiers (not the gateway's own code). RSA
//! (RS256), EC P-256 (ES256) and OKP Ed25519 (EdDSA) keys.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::signature::{
    RsaPublicKeyComponents, UnparsedPublicKey, ECDSA_P256_SHA256_FIXED, ED25519,
    RSA_PKCS1_2048_8192_SHA256,
};
use serde_json::Value;

use super::oauth::jwt_header;

/// The key of `jwks` that `token`'s header names by `kid`.
pub fn key_for<'a>(jwks: &'a Value, token: &str) -> Option<&'a Value> {
    let header = jwt_header(token);
    jwks["keys"]
        .as_array()
        .expect("a JWKS has keys")
        .iter()
        .find(|k| k["kid"] == header["kid"])
}

/// Whether `token`'s signature verifies under `jwk`. A signature that is not base64url does
/// not verify.
pub fn verifies_under(jwk: &Value, token: &str) -> bool {
    let b64 = |name: &str| {
        URL_SAFE_NO_PAD
            .decode(
                jwk[name]
                    .as_str()
                    .unwrap_or_else(|| panic!("the JWK has {name}")),
            )
            .expect("base64url")
    };
    let (signed, signature) = token.rsplit_once('.').expect("a JWS");
    let Ok(signature) = URL_SAFE_NO_PAD.decode(signature) else {
        return false;
    };
    let signed = signed.as_bytes();
    match jwk["kty"].as_str().expect("kty") {
        "RSA" => RsaPublicKeyComponents {
            n: b64("n"),
            e: b64("e"),
        }
        .verify(&RSA_PKCS1_2048_8192_SHA256, signed, &signature)
        .is_ok(),
        "EC" => {
            let mut point = vec![4u8];
            point.extend(b64("x"));
            point.extend(b64("y"));
            UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
                .verify(signed, &signature)
                .is_ok()
        }
        "OKP" => UnparsedPublicKey::new(&ED25519, b64("x"))
            .verify(signed, &signature)
            .is_ok(),
        other => panic!("a JWK of kty {other}"),
    }
}
