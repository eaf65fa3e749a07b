//! Access tokens signed with the published keys (`[tokens] algorithm = "ES256" | "EdDSA"`),
//! and the allow-list between the two kinds of key.

use std::sync::OnceLock;

use super::*;
use crate::tokens::jose::{Alg, KeySet, Retention, JWKS_MAX_AGE_SECS};

const ISS: &str = "https://gw.example.com";
const NOW: u64 = 1_800_000_000;

fn ring() -> KeyRing {
    KeyRing::new(SigningKey::new(&[1u8; 32]).unwrap(), vec![])
}

fn published() -> &'static KeySet {
    static SET: OnceLock<KeySet> = OnceLock::new();
    SET.get_or_init(|| KeySet::generate(&Alg::ALL, NOW).unwrap())
}

fn claims() -> AccessClaims {
    AccessClaims {
        amr: Vec::new(),
        acr: None,
        auth_time: None,
        iss: ISS.to_owned(),
        aud: ISS.to_owned(),
        sub: "alice".to_owned(),
        client_id: "spa".to_owned(),
        scope: "api:read".to_owned(),
        iat: NOW,
        exp: NOW + 900,
        jti: "j1".to_owned(),
        nbf: None,
    }
}

fn expected(now: u64) -> Expected<'static> {
    Expected {
        issuer: ISS,
        audience: ISS,
        now,
    }
}

fn header(token: &str) -> serde_json::Value {
    let b64 = token.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(b64).unwrap()).unwrap()
}

fn kid_of(set: &KeySet, alg: Alg) -> String {
    let token = set.sign(alg, "at+jwt", &claims()).unwrap();
    header(&token)["kid"].as_str().unwrap().to_owned()
}

#[test]
fn es256_and_eddsa_access_tokens_round_trip() {
    for alg in JWS_ACCESS_ALGS {
        let token = sign_jws(&claims(), published(), alg).unwrap();
        assert_eq!(header(&token)["typ"], "at+jwt");
        assert_eq!(header(&token)["alg"], alg.as_str());
        let got = verify_any(&token, &ring(), published(), expected(NOW + 1)).unwrap();
        assert_eq!(got, claims());
        // The claims are checked as for HS256 tokens.
        assert_eq!(
            verify_any(&token, &ring(), published(), expected(NOW + 2000)),
            Err(TokenInvalid::Expired)
        );
        let other = Expected {
            issuer: "https://other.example",
            ..expected(NOW)
        };
        assert_eq!(
            verify_any(&token, &ring(), published(), other),
            Err(TokenInvalid::Issuer)
        );
        // The HS256 verifier alone refuses it.
        assert_eq!(
            verify(&token, &ring(), expected(NOW)),
            Err(TokenInvalid::Algorithm)
        );
    }
    // HS256 tokens still verify beside them.
    let hs = sign(&claims(), ring().current());
    assert_eq!(
        verify_any(&hs, &ring(), published(), expected(NOW)).unwrap(),
        claims()
    );
    assert!(sign_jws(&claims(), published(), Alg::Rs256).is_err());
    assert!(sign_jws(&claims(), &KeySet::empty(), Alg::Es256).is_err());
}

#[test]
fn rs256_access_tokens_and_id_tokens_are_refused() {
    let rs = published().sign(Alg::Rs256, "at+jwt", &claims()).unwrap();
    assert_eq!(
        verify_any(&rs, &ring(), published(), expected(NOW)),
        Err(TokenInvalid::Algorithm)
    );
    let id_token = published().sign(Alg::Es256, "JWT", &claims()).unwrap();
    assert_eq!(
        verify_any(&id_token, &ring(), published(), expected(NOW)),
        Err(TokenInvalid::Type)
    );
}

#[test]
fn a_kid_of_the_other_kind_is_refused() {
    let es_kid = kid_of(published(), Alg::Es256);
    let hmac_kid = ring().current().kid().to_owned();
    let payload = serde_json::to_string(&claims()).unwrap();
    let b64 = |s: &str| URL_SAFE_NO_PAD.encode(s.as_bytes());

    // HS256, MAC'd with the HMAC key, claiming the asymmetric kid.
    let header = format!(r#"{{"alg":"HS256","typ":"at+jwt","kid":"{es_kid}"}}"#);
    let mut token = format!("{}.{}", b64(&header), b64(&payload));
    let mut mac = ring().current().mac();
    mac.update(token.as_bytes());
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()));
    assert_eq!(
        verify_any(&token, &ring(), published(), expected(NOW)),
        Err(TokenInvalid::UnknownKey)
    );

    // ES256 claiming the HMAC kid, with a real ES256 signature over it.
    let real = sign_jws(&claims(), published(), Alg::Es256).unwrap();
    let signature = real.rsplit('.').next().unwrap();
    let header = format!(r#"{{"alg":"ES256","typ":"at+jwt","kid":"{hmac_kid}"}}"#);
    let token = format!("{}.{}.{signature}", b64(&header), b64(&payload));
    assert_eq!(
        verify_any(&token, &ring(), published(), expected(NOW)),
        Err(TokenInvalid::UnknownKey)
    );

    for alg in ["none", "HS512", "PS256", "ES384"] {
        let header = format!(r#"{{"alg":"{alg}","typ":"at+jwt","kid":"{es_kid}"}}"#);
        let token = format!("{}.{}.", b64(&header), b64(&payload));
        assert_eq!(
            verify_any(&token, &ring(), published(), expected(NOW)),
            Err(TokenInvalid::Algorithm),
            "{alg}"
        );
    }
    assert_eq!(
        verify_any("garbage", &ring(), published(), expected(NOW)),
        Err(TokenInvalid::Malformed)
    );
}

#[test]
fn a_token_of_a_key_rotated_out_and_removed_is_refused() {
    let set = KeySet::generate(&[Alg::Es256], NOW).unwrap();
    let old = sign_jws(&claims(), &set, Alg::Es256).unwrap();
    let retention = Retention::new(900, 3600, 86_400);
    let rotated_at = NOW + JWKS_MAX_AGE_SECS;
    let rotated = set.rotated(&[], rotated_at, retention, false).unwrap();
    // Retired: it still verifies (while unexpired).
    let mut live = claims();
    live.exp = rotated_at + 600;
    let old_live = sign_jws(&live, &set, Alg::Es256).unwrap();
    assert!(verify_any(&old_live, &ring(), &rotated, expected(rotated_at)).is_ok());
    // Removed: refused, whatever its claims say.
    let removed = rotated
        .pruned(rotated_at + retention.secs, retention)
        .unwrap();
    for token in [&old, &old_live] {
        assert_eq!(
            verify_any(token, &ring(), &removed, expected(NOW)),
            Err(TokenInvalid::UnknownKey)
        );
    }
}
