//! Property tests of CSRF tokens: a token verifies for its purpose and binding only, its
//! base64url is canonical, and no token with a byte changed verifies.

use super::*;
use proptest::prelude::*;

fn key() -> FormKey {
    FormKey::derive(&SigningKey::new(&[9u8; 32]).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn csrf_token_verifies_for_its_purpose_and_binding_only(
        purpose in "[a-z]{1,10}",
        binding in prop::collection::vec(any::<String>(), 0..4),
        other in any::<String>(),
    ) {
        let key = key();
        let refs: Vec<&str> = binding.iter().map(String::as_str).collect();
        let token = key.token(&purpose, &refs);
        prop_assert!(key.verify(&token, &purpose, &refs));
        prop_assert_eq!(
            URL_SAFE_NO_PAD.encode(URL_SAFE_NO_PAD.decode(&token).unwrap_or_default()),
            token.clone()
        );
        let longer = format!("{purpose}x");
        prop_assert!(!key.verify(&token, &longer, &refs));
        let mut more = refs.clone();
        more.push(&other);
        prop_assert!(!key.verify(&token, &purpose, &more));
        if let Some(first) = binding.first() {
            if *first != other {
                let mut changed = refs.clone();
                changed[0] = &other;
                prop_assert!(!key.verify(&token, &purpose, &changed));
            }
        }
    }

    #[test]
    fn csrf_token_with_any_byte_changed_never_verifies(
        binding in any::<String>(),
        at in any::<prop::sample::Index>(),
        by in 1u8..=255,
    ) {
        let key = key();
        let token = key.token("flow", &[&binding]);
        let mut bytes = token.into_bytes();
        let i = at.index(bytes.len());
        bytes[i] = bytes[i].wrapping_add(by);
        let altered = String::from_utf8_lossy(&bytes);
        prop_assert!(!key.verify(&altered, "flow", &[&binding]), "byte {}", i);
    }
}
