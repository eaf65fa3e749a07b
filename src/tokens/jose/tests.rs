//! The key set as a whole: signing and the allow-list verification, the JWKS, the
//! lifecycle (rotation, retention), and the sealed document.

use std::sync::OnceLock;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use super::*;
use crate::tokens::jwt::TokenInvalid;
use crate::tokens::keyring::{KeyRing, SigningKey};

const NOW: u64 = 1_800_000_000;
const TYPS: &[&str] = &["JWT"];

/// One generated set for the tests that do not change it (RSA generation takes a while).
fn shared() -> &'static KeySet {
    static SET: OnceLock<KeySet> = OnceLock::new();
    SET.get_or_init(|| KeySet::generate(&Alg::ALL, NOW).unwrap())
}

fn claims() -> serde_json::Value {
    serde_json::json!({"iss": "https://gw.example", "sub": "alice", "exp": NOW + 60})
}

fn b64(value: &serde_json::Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

/// `token` with its header replaced by `header` (signature kept).
fn with_header(token: &str, header: serde_json::Value) -> String {
    let mut parts = token.splitn(2, '.');
    parts.next();
    format!("{}.{}", b64(&header), parts.next().unwrap())
}

#[test]
fn each_algorithm_round_trips() {
    let set = shared();
    assert_eq!(set.signing_algs(), Alg::ALL.to_vec());
    for alg in Alg::ALL {
        let token = set.sign(alg, "JWT", &claims()).unwrap();
        let verified = set.verify(&token, TYPS).unwrap();
        assert_eq!(verified.alg, alg);
        let payload: serde_json::Value = serde_json::from_slice(&verified.payload).unwrap();
        assert_eq!(payload, claims());
        let header: serde_json::Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(token.split('.').next().unwrap())
                .unwrap(),
        )
        .unwrap();
        assert_eq!(header.as_object().unwrap().len(), 3);
        assert_eq!(header["alg"], alg.as_str());
        assert_eq!(header["typ"], "JWT");
        assert_eq!(header["kid"], verified.kid.as_str());
        // typ is compared without case, and only against what the caller accepts.
        assert!(set.verify(&token, &["jwt"]).is_ok());
        assert_eq!(set.verify(&token, &["at+jwt"]), Err(TokenInvalid::Type));
    }
}

#[test]
fn a_changed_character_in_the_middle_of_the_signature_fails() {
    let set = shared();
    for alg in Alg::ALL {
        let token = set.sign(alg, "JWT", &claims()).unwrap();
        let signature_at = token.rfind('.').unwrap() + 1;
        let middle = signature_at + (token.len() - signature_at) / 2;
        let mut bytes = token.clone().into_bytes();
        bytes[middle] = if bytes[middle] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).unwrap();
        assert_eq!(
            set.verify(&tampered, TYPS),
            Err(TokenInvalid::Signature),
            "{alg}"
        );
        // The payload is signed too.
        let mut parts: Vec<&str> = token.split('.').collect();
        let other = b64(&serde_json::json!({"sub": "mallory"}));
        parts[1] = &other;
        assert_eq!(
            set.verify(&parts.join("."), TYPS),
            Err(TokenInvalid::Signature)
        );
    }
}

#[test]
fn headers_outside_the_allow_list_are_refused_before_any_crypto() {
    let set = shared();
    let token = set.sign(Alg::Es256, "JWT", &claims()).unwrap();
    let kid = set.verify(&token, TYPS).unwrap().kid;
    let rsa_kid = set.current(Alg::Rs256).unwrap().info.kid.clone();
    let cases = [
        (
            serde_json::json!({"alg": "none", "typ": "JWT", "kid": kid}),
            TokenInvalid::Algorithm,
        ),
        (
            serde_json::json!({"alg": "HS256", "typ": "JWT", "kid": kid}),
            TokenInvalid::Algorithm,
        ),
        (
            serde_json::json!({"alg": "es256", "typ": "JWT", "kid": kid}),
            TokenInvalid::Algorithm,
        ),
        // A kid of another algorithm's key.
        (
            serde_json::json!({"alg": "RS256", "typ": "JWT", "kid": kid}),
            TokenInvalid::Algorithm,
        ),
        (
            serde_json::json!({"alg": "ES256", "typ": "JWT", "kid": rsa_kid}),
            TokenInvalid::Algorithm,
        ),
        (
            serde_json::json!({"alg": "ES256", "typ": "JWT", "kid": "unknown"}),
            TokenInvalid::UnknownKey,
        ),
        (
            serde_json::json!({"alg": "ES256", "typ": "JWT"}),
            TokenInvalid::Malformed,
        ),
        (
            serde_json::json!({"alg": "ES256", "typ": "JWT", "kid": kid, "jku": "https://evil"}),
            TokenInvalid::Malformed,
        ),
        (
            serde_json::json!({"alg": "ES256", "typ": "JWT", "kid": kid, "crit": ["exp"]}),
            TokenInvalid::Malformed,
        ),
    ];
    for (header, expected) in cases {
        assert_eq!(
            set.verify(&with_header(&token, header.clone()), TYPS),
            Err(expected),
            "{header}"
        );
    }
    // A duplicate member.
    let dup = URL_SAFE_NO_PAD.encode(format!(
        r#"{{"alg":"ES256","typ":"JWT","kid":"{kid}","alg":"ES256"}}"#
    ));
    let rest = token.split_once('.').unwrap().1;
    assert_eq!(
        set.verify(&format!("{dup}.{rest}"), TYPS),
        Err(TokenInvalid::Malformed)
    );
}

#[test]
fn malformed_tokens() {
    let set = shared();
    let token = set.sign(Alg::EdDsa, "JWT", &claims()).unwrap();
    for bad in [
        "",
        "a.b",
        "a.b.c.d",
        &format!("{token}."),
        &format!("{token}x"),
        &"a".repeat(jws::MAX_JWS_BYTES + 1),
    ] {
        assert!(set.verify(bad, TYPS).is_err(), "{bad}");
    }
    assert_eq!(jws::header_alg(&token).as_deref(), Some("EdDSA"));
    assert_eq!(jws::header_alg("garbage"), None);
}

#[test]
fn jwks_publishes_every_public_key_and_no_private_part() {
    let set = shared();
    let jwks: serde_json::Value = serde_json::from_slice(&set.jwks()).unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 6);
    for key in keys {
        assert_eq!(key["use"], "sig");
        assert!(Alg::parse(key["alg"].as_str().unwrap()).is_some());
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(key.get(private).is_none());
        }
    }
    let kids: std::collections::HashSet<&str> =
        keys.iter().map(|k| k["kid"].as_str().unwrap()).collect();
    assert_eq!(kids.len(), 6);
    let info = set.keys();
    assert_eq!(
        info.iter().filter(|k| k.state == KeyState::Current).count(),
        3
    );
    assert_eq!(info.iter().filter(|k| k.state == KeyState::Next).count(), 3);
    assert!(KeySet::empty().sign(Alg::Es256, "JWT", &claims()).is_err());
    assert_eq!(&KeySet::empty().jwks()[..], br#"{"keys":[]}"#);
}

#[test]
fn rotation_pre_publishes_and_retires_for_the_retention() {
    let retention = Retention::new(900, 3600, 7 * 86_400);
    assert_eq!(retention.secs, 7 * 86_400 + JWKS_MAX_AGE_SECS);
    let set = KeySet::generate(&[Alg::Es256, Alg::EdDsa], NOW).unwrap();
    let old = set.sign(Alg::Es256, "JWT", &claims()).unwrap();
    let next_kid = set
        .find_state(Alg::Es256, KeyState::Next)
        .unwrap()
        .info
        .kid
        .clone();

    // The Next key is too fresh: relying parties may not have it.
    let soon = set.rotated(&[Alg::Es256], NOW + 60, retention, false);
    assert!(matches!(
        soon,
        Err(RotateError::TooSoon {
            alg: Alg::Es256,
            ..
        })
    ));

    let later = NOW + JWKS_MAX_AGE_SECS;
    let rotated = set.rotated(&[Alg::Es256], later, retention, false).unwrap();
    let new = rotated.sign(Alg::Es256, "JWT", &claims()).unwrap();
    assert_eq!(rotated.verify(&new, TYPS).unwrap().kid, next_kid);
    // The old key is retired and still verifies; the other algorithm is untouched.
    assert!(rotated.verify(&old, TYPS).is_ok());
    let states: Vec<(Alg, KeyState)> = rotated.keys().iter().map(|k| (k.alg, k.state)).collect();
    assert_eq!(
        states,
        vec![
            (Alg::Es256, KeyState::Current),
            (Alg::Es256, KeyState::Next),
            (Alg::Es256, KeyState::Retired),
            (Alg::EdDsa, KeyState::Current),
            (Alg::EdDsa, KeyState::Next),
        ]
    );
    let retired = rotated
        .keys()
        .into_iter()
        .find(|k| k.state == KeyState::Retired)
        .unwrap();
    assert_eq!(retired.retired_at, Some(later));
    // A set fetched before the rotation already verifies the new key's tokens.
    assert!(set.verify(&new, TYPS).is_ok());

    // Past the retention the retired key is dropped, and its tokens are refused.
    assert!(rotated
        .pruned(later + retention.secs - 1, retention)
        .is_none());
    let pruned = rotated.pruned(later + retention.secs, retention).unwrap();
    assert_eq!(pruned.verify(&old, TYPS), Err(TokenInvalid::UnknownKey));
    assert!(pruned.verify(&new, TYPS).is_ok());
    assert_eq!(pruned.keys().len(), 4);

    // Forced, every algorithm at once.
    let forced = set.rotated(&[], NOW + 1, retention, true).unwrap();
    assert_eq!(forced.keys().len(), 6);
}

#[test]
fn completing_adds_only_what_is_missing() {
    let set = KeySet::generate(&[Alg::EdDsa], NOW).unwrap();
    assert!(set.completed(&[Alg::EdDsa], NOW).unwrap().is_none());
    let more = set
        .completed(&[Alg::EdDsa, Alg::Es256], NOW)
        .unwrap()
        .unwrap();
    assert_eq!(more.keys().len(), 4);
    assert_eq!(more.signing_algs(), vec![Alg::Es256, Alg::EdDsa]);
}

#[test]
fn the_stored_document_is_sealed_under_the_hmac_key() {
    let set = shared();
    let ring = KeyRing::new(SigningKey::new(&[1u8; 32]).unwrap(), vec![]);
    let seal = SealKeys::from_ring(&ring);
    let sealed = seal.seal(set).unwrap();
    // No private key in the clear.
    let pkcs8 = set.entries[0].pair.pkcs8();
    assert!(!sealed
        .windows(16)
        .any(|w| pkcs8.windows(16).any(|p| p == w)));
    let opened = seal.open(&sealed, 7).unwrap();
    assert_eq!(opened.keys(), set.keys());
    assert_eq!(opened.version(), 7);
    assert_eq!(opened.jwks(), set.jwks());

    // A rotated HMAC key still opens it while the old one is a previous key.
    let rotated = KeyRing::new(
        SigningKey::new(&[2u8; 32]).unwrap(),
        vec![SigningKey::new(&[1u8; 32]).unwrap()],
    );
    assert!(SealKeys::from_ring(&rotated).open(&sealed, 1).is_ok());
    let other = KeyRing::new(SigningKey::new(&[2u8; 32]).unwrap(), vec![]);
    let err = SealKeys::from_ring(&other).open(&sealed, 1).unwrap_err();
    assert!(err.0.contains("previous_keys"), "{err}");
    let mut flipped = sealed.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    assert!(seal.open(&flipped, 1).is_err());
    assert!(seal.open(&sealed[..10], 1).is_err());
}

#[test]
fn unknown_kid_refreshes_are_rate_limited() {
    let keys = Keys::new(shared().clone());
    assert!(keys.claim_unknown_kid_refresh(NOW));
    assert!(!keys.claim_unknown_kid_refresh(NOW + 1));
    assert!(keys.claim_unknown_kid_refresh(NOW + keys::UNKNOWN_KID_REFRESH_SECS));
    assert_eq!(keys.snapshot().keys(), shared().keys());
    keys.replace(KeySet::empty());
    assert!(keys.snapshot().keys().is_empty());
}
