//! JWT tests: round trip, and every refusal of the allow-list.

use super::*;

const ISS: &str = "https://gw.example.com";

fn ring() -> KeyRing {
    KeyRing::new(SigningKey::new(&[1u8; 32]).unwrap(), vec![])
}

fn claims(now: u64) -> AccessClaims {
    AccessClaims {
        amr: Vec::new(),
        acr: None,
        auth_time: None,
        iss: ISS.to_owned(),
        aud: ISS.to_owned(),
        sub: "alice".to_owned(),
        client_id: "spa".to_owned(),
        scope: "api:read".to_owned(),
        iat: now,
        exp: now + 900,
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

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A token with an arbitrary header and payload, MAC'd with `key`.
fn forge(header: &str, payload: &str, key: &SigningKey) -> String {
    let mut token = format!("{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()));
    let mut mac = key.mac();
    mac.update(token.as_bytes());
    token.push('.');
    token.push_str(&b64(&mac.finalize().into_bytes()));
    token
}

#[test]
fn round_trip() {
    let keys = ring();
    let token = sign(&claims(1000), keys.current());
    assert_eq!(verify(&token, &keys, expected(1000)), Ok(claims(1000)));
}

#[test]
fn previous_keys_still_verify_after_rotation() {
    let old = SigningKey::new(&[1u8; 32]).unwrap();
    let new = SigningKey::new(&[2u8; 32]).unwrap();
    let token = sign(&claims(1000), &old);
    let rotated = KeyRing::new(new.clone(), vec![old]);
    assert!(verify(&token, &rotated, expected(1000)).is_ok());
    let dropped = KeyRing::new(new, vec![]);
    assert_eq!(
        verify(&token, &dropped, expected(1000)),
        Err(TokenInvalid::UnknownKey)
    );
}

#[test]
fn other_key_with_same_kid_fails_signature() {
    let keys = ring();
    let other = SigningKey::new(&[3u8; 32]).unwrap();
    let header = format!(
        r#"{{"alg":"HS256","typ":"at+jwt","kid":"{}"}}"#,
        keys.current().kid()
    );
    let payload = serde_json::to_string(&claims(1000)).unwrap();
    let token = forge(&header, &payload, &other);
    assert_eq!(
        verify(&token, &keys, expected(1000)),
        Err(TokenInvalid::Signature)
    );
}

#[test]
fn header_allow_list() {
    let keys = ring();
    let kid = keys.current().kid().to_owned();
    let payload = serde_json::to_string(&claims(1000)).unwrap();
    let cases = [
        (
            format!(r#"{{"alg":"none","typ":"at+jwt","kid":"{kid}"}}"#),
            TokenInvalid::Algorithm,
        ),
        (
            format!(r#"{{"alg":"HS512","typ":"at+jwt","kid":"{kid}"}}"#),
            TokenInvalid::Algorithm,
        ),
        (
            format!(r#"{{"alg":"RS256","typ":"at+jwt","kid":"{kid}"}}"#),
            TokenInvalid::Algorithm,
        ),
        (
            format!(r#"{{"alg":"hs256","typ":"at+jwt","kid":"{kid}"}}"#),
            TokenInvalid::Algorithm,
        ),
        (
            format!(r#"{{"alg":"HS256","typ":"JWT","kid":"{kid}"}}"#),
            TokenInvalid::Type,
        ),
        (
            r#"{"alg":"HS256","typ":"at+jwt","kid":"nope"}"#.to_owned(),
            TokenInvalid::UnknownKey,
        ),
        (
            r#"{"alg":"HS256","typ":"at+jwt"}"#.to_owned(),
            TokenInvalid::Malformed,
        ),
        (
            format!(r#"{{"alg":"HS256","typ":"at+jwt","kid":"{kid}","jku":"x"}}"#),
            TokenInvalid::Malformed,
        ),
        (
            format!(r#"{{"alg":"HS256","alg":"none","typ":"at+jwt","kid":"{kid}"}}"#),
            TokenInvalid::Malformed,
        ),
    ];
    for (header, want) in cases {
        let token = forge(&header, &payload, keys.current());
        assert_eq!(verify(&token, &keys, expected(1000)), Err(want), "{header}");
    }
    // alg none with an empty signature.
    let none = format!(
        "{}.{}.",
        b64(format!(r#"{{"alg":"none","typ":"at+jwt","kid":"{kid}"}}"#).as_bytes()),
        b64(payload.as_bytes())
    );
    assert_eq!(
        verify(&none, &keys, expected(1000)),
        Err(TokenInvalid::Algorithm)
    );
}

#[test]
fn claim_checks() {
    let keys = ring();
    let kid = keys.current().kid().to_owned();
    let header = format!(r#"{{"alg":"HS256","typ":"at+jwt","kid":"{kid}"}}"#);
    let sign_claims = |c: &AccessClaims| sign(c, keys.current());

    let mut c = claims(1000);
    c.iss = "https://evil.example.com".to_owned();
    assert_eq!(
        verify(&sign_claims(&c), &keys, expected(1000)),
        Err(TokenInvalid::Issuer)
    );

    let mut c = claims(1000);
    c.aud = "https://other.example.com".to_owned();
    assert_eq!(
        verify(&sign_claims(&c), &keys, expected(1000)),
        Err(TokenInvalid::Audience)
    );

    let c = claims(1000);
    assert!(verify(&sign_claims(&c), &keys, expected(1900 + LEEWAY_SECS - 1)).is_ok());
    assert_eq!(
        verify(&sign_claims(&c), &keys, expected(1900 + LEEWAY_SECS)),
        Err(TokenInvalid::Expired)
    );

    let mut c = claims(1000);
    c.nbf = Some(2000);
    assert_eq!(
        verify(&sign_claims(&c), &keys, expected(1000)),
        Err(TokenInvalid::NotYetValid)
    );

    let duplicate = r#"{"iss":"https://gw.example.com","aud":"https://gw.example.com","sub":"alice","sub":"admin","client_id":"spa","scope":"","iat":1000,"exp":1900,"jti":"j"}"#;
    let token = forge(&header, duplicate, keys.current());
    assert_eq!(
        verify(&token, &keys, expected(1000)),
        Err(TokenInvalid::Claims)
    );

    let extra = r#"{"iss":"https://gw.example.com","aud":"https://gw.example.com","sub":"alice","client_id":"spa","scope":"","iat":1000,"exp":1900,"jti":"j","admin":true}"#;
    let token = forge(&header, extra, keys.current());
    assert_eq!(
        verify(&token, &keys, expected(1000)),
        Err(TokenInvalid::Claims)
    );
}

#[test]
fn structural_refusals() {
    let keys = ring();
    let token = sign(&claims(1000), keys.current());
    for bad in [
        String::new(),
        "a.b".to_owned(),
        format!("{token}.x"),
        token.replace('.', ".."),
        "x".repeat(MAX_TOKEN_BYTES + 1),
        format!("{token}="),
    ] {
        assert!(verify(&bad, &keys, expected(1000)).is_err(), "{bad}");
    }
}

#[test]
fn every_flipped_byte_is_refused() {
    // Property: no single-byte change anywhere in a token yields a valid token.
    let keys = ring();
    let token = sign(&claims(1000), keys.current());
    let bytes = token.as_bytes();
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.";
    for i in 0..bytes.len() {
        for &replacement in [
            alphabet[i % alphabet.len()],
            alphabet[(i * 7 + 3) % alphabet.len()],
        ]
        .iter()
        {
            if replacement == bytes[i] {
                continue;
            }
            let mut mutated = bytes.to_vec();
            mutated[i] = replacement;
            let mutated = String::from_utf8(mutated).unwrap();
            assert!(
                verify(&mutated, &keys, expected(1000)).is_err(),
                "byte {i} changed to {} still verifies",
                replacement as char
            );
        }
    }
}
