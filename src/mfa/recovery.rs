//! Recovery codes: ten per enrolment, shown once, stored only as hashes (SHA-256 bound to the
//! user: at 80 random bits each, a slow hash would add nothing), each usable once
//! (`FactorStore::use_recovery_code` removes its hash atomically). They are typed by people,
//! so they use a 32-letter alphabet without look-alikes, are shown in groups of four, and
//! what is typed is read case-insensitively with spaces and dashes ignored.

use rand::Rng;

use crate::tokens::opaque::TokenHash;

pub const COUNT: usize = 10;
/// 16 characters of 5 bits: 80 bits.
const LEN: usize = 16;
/// Crockford's base32 alphabet (no I, L, O, U).
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// [`COUNT`] new codes, as shown (`xxxx-xxxx-xxxx-xxxx`).
pub fn generate() -> Vec<String> {
    let mut rng = rand::rngs::OsRng;
    (0..COUNT)
        .map(|_| {
            let mut code = String::with_capacity(LEN + 3);
            for i in 0..LEN {
                if i > 0 && i % 4 == 0 {
                    code.push('-');
                }
                code.push(char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]));
            }
            code
        })
        .collect()
}

/// What the person typed, as the characters of a code: `None` unless it is one.
fn normalise(typed: &str) -> Option<String> {
    let mut out = String::with_capacity(LEN);
    for c in typed.chars() {
        match c {
            ' ' | '-' | '\t' => {}
            c if c.is_ascii_alphanumeric() => {
                // Crockford's reading: I and L are 1, O is 0.
                let c = match c.to_ascii_lowercase() {
                    'i' | 'l' => '1',
                    'o' => '0',
                    c => c,
                };
                if !ALPHABET.contains(&(c as u8)) || out.len() == LEN {
                    return None;
                }
                out.push(c);
            }
            _ => return None,
        }
    }
    (out.len() == LEN).then_some(out)
}

/// The stored hash of a code of `user`.
fn hash_of(user: &str, normalised: &str) -> TokenHash {
    TokenHash::of(&format!("authgate-recovery\0{user}\0{normalised}"))
}

/// The hashes to store for `codes` (as [`generate`] made them).
pub fn hashes(user: &str, codes: &[String]) -> Vec<TokenHash> {
    codes
        .iter()
        .filter_map(|c| normalise(c))
        .map(|c| hash_of(user, &c))
        .collect()
}

/// The hash to look up for what `user` typed, if it has the shape of a code.
pub fn lookup(user: &str, typed: &str) -> Option<TokenHash> {
    normalise(typed).map(|c| hash_of(user, &c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_readable_and_found_however_typed() {
        let codes = generate();
        assert_eq!(codes.len(), COUNT);
        let hashes = hashes("alice", &codes);
        assert_eq!(hashes.len(), COUNT);
        let mut unique = hashes.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), COUNT);
        for code in &codes {
            assert_eq!(code.len(), 19);
            assert_eq!(code.matches('-').count(), 3);
        }
        let code = &codes[0];
        let want = Some(hashes[0]);
        assert_eq!(lookup("alice", code), want);
        assert_eq!(lookup("alice", &code.to_uppercase()), want);
        assert_eq!(lookup("alice", &code.replace('-', " ")), want);
        assert_eq!(lookup("alice", &code.replace('-', "")), want);
        assert_ne!(lookup("bob", code), want, "bound to the user");
        for bad in [
            "",
            "123456",
            "abcd-efgh-jkmn-pqr",
            "abcd-efgh-jkmn-pqrst",
            "abcd-efgh-jkmn-pqr!",
            "abcd-efgh-jkmn-pqru",
        ] {
            assert_eq!(lookup("alice", bad), None, "{bad}");
        }
        assert_eq!(
            lookup("alice", "0000-1111-0000-1111"),
            lookup("alice", "oooo-iiii-OOOO-llll")
        );
    }
}
