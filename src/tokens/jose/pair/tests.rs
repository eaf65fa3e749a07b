use std::time::Instant;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::*;

/// `der` as PEM under `label` (also for the tests of the configured keys).
pub(crate) fn pem(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[test]
fn each_algorithm_signs_and_verifies() {
    for alg in [Alg::Es256, Alg::EdDsa, Alg::Rs256] {
        let pair = KeyPair::generate(alg).unwrap();
        assert_eq!(pair.alg(), alg);
        assert_eq!(pair.kid(), pair.jwk().thumbprint());
        let signature = pair.sign(b"message").unwrap();
        assert!(pair.verify(b"message", &signature));
        assert!(!pair.verify(b"messagf", &signature));
        let again = KeyPair::from_pkcs8(alg, pair.pkcs8()).unwrap();
        assert_eq!(again.kid(), pair.kid());
        assert!(again.verify(b"message", &signature));
        assert!(!format!("{pair:?}").contains("pkcs8"));
    }
}

#[test]
fn signature_sizes() {
    assert_eq!(
        KeyPair::generate(Alg::Es256)
            .unwrap()
            .sign(b"m")
            .unwrap()
            .len(),
        64
    );
    assert_eq!(
        KeyPair::generate(Alg::EdDsa)
            .unwrap()
            .sign(b"m")
            .unwrap()
            .len(),
        64
    );
}

/// Run with `--nocapture` to see the time: the number quoted in the module's notes.
#[test]
fn rsa_generation_is_2048_bits_and_timed() {
    let started = Instant::now();
    let pair = KeyPair::generate(Alg::Rs256).unwrap();
    let elapsed = started.elapsed();
    println!("RSA-{RSA_BITS} key generation: {} ms", elapsed.as_millis());
    let PublicJwk::Rsa { n, e } = pair.jwk() else {
        panic!("not an RSA JWK")
    };
    assert_eq!(e, "AQAB");
    assert_eq!(
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(n)
            .unwrap()
            .len(),
        RSA_BITS / 8
    );
    assert_eq!(pair.sign(b"m").unwrap().len(), RSA_BITS / 8);
}

#[test]
fn a_key_of_one_algorithm_is_not_another() {
    let ec = KeyPair::generate(Alg::Es256).unwrap();
    assert!(KeyPair::from_pkcs8(Alg::EdDsa, ec.pkcs8()).is_err());
    assert!(KeyPair::from_pkcs8(Alg::Rs256, ec.pkcs8()).is_err());
    assert_eq!(
        KeyPair::from_pkcs8_any(ec.pkcs8()).unwrap().alg(),
        Alg::Es256
    );
    assert!(KeyPair::from_pkcs8_any(b"not a key").is_err());
}

#[test]
fn pkcs8_pem_of_each_algorithm() {
    for alg in [Alg::Es256, Alg::EdDsa] {
        let pair = KeyPair::generate(alg).unwrap();
        let text = pem("PRIVATE KEY", pair.pkcs8());
        let read = KeyPair::from_pem(text.as_bytes(), "file:k.pem").unwrap();
        assert_eq!(read.alg(), alg);
        assert_eq!(read.kid(), pair.kid());
    }
}

#[test]
fn rsa_pem_pkcs8_and_pkcs1() {
    use rsa::pkcs1::EncodeRsaPrivateKey;
    use rsa::pkcs8::DecodePrivateKey;
    let pair = KeyPair::generate(Alg::Rs256).unwrap();
    let text = pem("PRIVATE KEY", pair.pkcs8());
    let read = KeyPair::from_pem(text.as_bytes(), "file:k.pem").unwrap();
    assert_eq!((read.alg(), read.kid()), (Alg::Rs256, pair.kid()));

    let key = rsa::RsaPrivateKey::from_pkcs8_der(pair.pkcs8()).unwrap();
    let pkcs1 = key.to_pkcs1_der().unwrap();
    let text = pem("RSA PRIVATE KEY", pkcs1.as_bytes());
    let read = KeyPair::from_pem(text.as_bytes(), "file:k.pem").unwrap();
    assert_eq!((read.alg(), read.kid()), (Alg::Rs256, pair.kid()));
    // A PKCS#1 key is converted to PKCS#8, so that the store can keep it.
    let again = KeyPair::from_pkcs8(Alg::Rs256, read.pkcs8()).unwrap();
    assert_eq!(again.kid(), pair.kid());
    let signature = read.sign(b"m").unwrap();
    assert!(pair.verify(b"m", &signature));
}

#[test]
fn sec1_ec_keys_are_refused_with_the_conversion() {
    let text = pem("EC PRIVATE KEY", &[0x30, 0x03, 0x02, 0x01, 0x01]);
    let err = KeyPair::from_pem(text.as_bytes(), "file:ec.pem").unwrap_err();
    assert!(err.0.contains("file:ec.pem"), "{err}");
    assert!(err.0.contains("openssl pkcs8 -topk8 -nocrypt"), "{err}");
}

#[test]
fn pem_files_without_exactly_one_key() {
    let err = KeyPair::from_pem(b"", "file:empty.pem").unwrap_err();
    assert!(err.0.contains("no private key"), "{err}");
    let a = KeyPair::generate(Alg::Es256).unwrap();
    let b = KeyPair::generate(Alg::EdDsa).unwrap();
    let two = pem("PRIVATE KEY", a.pkcs8()) + &pem("PRIVATE KEY", b.pkcs8());
    let err = KeyPair::from_pem(two.as_bytes(), "file:two.pem").unwrap_err();
    assert!(err.0.contains("more than one"), "{err}");
    let garbage = pem("PRIVATE KEY", b"garbage");
    let err = KeyPair::from_pem(garbage.as_bytes(), "file:g.pem").unwrap_err();
    assert!(err.0.starts_with("file:g.pem"), "{err}");
    assert!(!err.0.contains("Z2FyYmFnZQ"), "{err}");
}

#[test]
fn rsa_keys_under_2048_bits_are_refused_by_their_size() {
    use rsa::pkcs1::EncodeRsaPrivateKey;
    use rsa::pkcs8::EncodePrivateKey;
    let small = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 1024).unwrap();
    let pkcs8 = small.to_pkcs8_der().unwrap();
    let pkcs1 = small.to_pkcs1_der().unwrap();
    for (label, der) in [
        ("PRIVATE KEY", pkcs8.as_bytes()),
        ("RSA PRIVATE KEY", pkcs1.as_bytes()),
    ] {
        let text = pem(label, der);
        let err = KeyPair::from_pem(text.as_bytes(), "file:small.pem").unwrap_err();
        assert_eq!(
            err.0, "file:small.pem: an RSA key of 1024 bits: RS256 needs at least 2048",
            "{label}"
        );
    }
}
