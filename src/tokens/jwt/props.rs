//! Property tests of the JWT codec: any claims sign into a token that verifies back to
//! them, whose three parts are canonical base64url, and that stops verifying when any one
//! byte is changed.

use super::*;
use proptest::prelude::*;

const NOW: u64 = 1_800_000_000;

fn ring() -> KeyRing {
    KeyRing::new(SigningKey::new(&[3u8; 32]).unwrap(), vec![])
}

fn any_claims() -> impl Strategy<Value = AccessClaims> {
    (
        "[ -~]{0,24}",
        any::<String>(),
        "[a-z:]{0,10}( [a-z:]{1,10}){0,3}",
        0u64..NOW,
        0u64..100_000,
        prop::option::of(0u64..NOW),
        "[A-Za-z0-9_-]{0,22}",
    )
        .prop_map(|(sub, client_id, scope, iat, ttl, nbf, jti)| AccessClaims {
            amr: Vec::new(),
            acr: None,
            auth_time: None,
            iss: "https://gw.example.com".to_owned(),
            aud: "api".to_owned(),
            sub,
            client_id,
            scope,
            iat,
            exp: NOW + ttl,
            jti,
            nbf,
        })
}

fn expected() -> Expected<'static> {
    Expected {
        issuer: "https://gw.example.com",
        audience: "api",
        now: NOW,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn jwt_sign_then_verify_round_trips(claims in any_claims()) {
        let keys = ring();
        let token = sign(&claims, keys.current());
        prop_assert_eq!(verify(&token, &keys, expected()), Ok(claims));
        // Each part is canonical base64url: decoding and encoding again gives it back.
        for part in token.split('.') {
            let bytes = URL_SAFE_NO_PAD.decode(part);
            prop_assert!(bytes.is_ok(), "{}", part);
            prop_assert_eq!(URL_SAFE_NO_PAD.encode(bytes.unwrap_or_default()), part);
        }
    }

    #[test]
    fn jwt_with_any_byte_changed_never_verifies(
        claims in any_claims(),
        at in any::<prop::sample::Index>(),
        by in 1u8..=255,
    ) {
        let keys = ring();
        let token = sign(&claims, keys.current());
        let mut bytes = token.into_bytes();
        let i = at.index(bytes.len());
        bytes[i] = bytes[i].wrapping_add(by);
        // A byte outside UTF-8 cannot reach `verify` (it takes a &str), so replace it.
        let altered = String::from_utf8_lossy(&bytes);
        prop_assert!(verify(&altered, &keys, expected()).is_err(), "byte {} + {}", i, by);
    }

    #[test]
    fn jwt_verify_never_panics_on_any_text(token in any::<String>(), parts in "[A-Za-z0-9_=.-]{0,200}") {
        let keys = ring();
        prop_assert!(verify(&token, &keys, expected()).is_err());
        prop_assert!(verify(&parts, &keys, expected()).is_err());
    }
}
