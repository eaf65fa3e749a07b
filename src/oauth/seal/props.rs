//! Property tests of the sealed successor: a seal opens with its old refresh token to the
//! pair it holds, with no other token, and not once any byte is changed.

use super::*;
use proptest::prelude::*;

fn any_pair() -> impl Strategy<Value = TokenResponse> {
    (
        any::<String>(),
        any::<u64>(),
        prop::option::of(any::<String>()),
        "[a-z: ]{0,30}",
    )
        .prop_map(
            |(access_token, expires_in, refresh_token, scope)| TokenResponse {
                access_token,
                token_type: "Bearer".to_owned(),
                expires_in,
                refresh_token,
                scope,
                id_token: None,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn seal_then_open_round_trips(old in any::<String>(), pair in any_pair()) {
        let sealed = seal(&old, &pair);
        prop_assert_eq!(open(&old, &sealed), Some(pair));
    }

    #[test]
    fn sealed_value_opens_with_no_other_token(
        old in any::<String>(), other in any::<String>(), pair in any_pair()
    ) {
        prop_assume!(old != other);
        prop_assert_eq!(open(&other, &seal(&old, &pair)), None);
    }

    #[test]
    fn sealed_value_with_any_byte_changed_never_opens(
        old in any::<String>(),
        pair in any_pair(),
        at in any::<prop::sample::Index>(),
        by in 1u8..=255,
    ) {
        let mut sealed = seal(&old, &pair);
        let i = at.index(sealed.0.len());
        sealed.0[i] = sealed.0[i].wrapping_add(by);
        prop_assert_eq!(open(&old, &sealed), None);
    }

    #[test]
    fn open_never_panics_on_any_bytes(old in any::<String>(), bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        prop_assert_eq!(open(&old, &SealedSuccessor(bytes)), None);
    }
}
