//! Bearer tokens (RFC 6750): read from the `Authorization` header only. A token in the query
//! string (`access_token=`) is refused rather than ignored, so that a client learns it must
//! not put tokens where logs and `Referer` headers keep them.

use http::header::{self, HeaderMap};

/// What the `Authorization` header holds.
#[derive(Debug, PartialEq, Eq)]
pub enum Presented<'a> {
    None,
    /// The credential after `Bearer `, as bytes, not yet checked against the token68
    /// alphabet nor as UTF-8: a token that verifies is well-formed (base64url and dots), so
    /// only one that does not verify needs [`well_formed`] to say why, and a client resending
    /// a cached token pays no pass over its bytes (the cache compares bytes; a token it does
    /// not hold is read as text before it is verified).
    Bearer(&'a [u8]),
    /// A second header or an empty token.
    Malformed,
    /// Another scheme (Basic, …): not ours to judge.
    OtherScheme,
}

/// Whether every byte is in the RFC 6750 token68 alphabet (before its trailing `=`).
/// Comparisons without an early exit run at under 3 instructions per byte (callgrind), a
/// lookup table took about 6.
fn is_token68(bytes: &[u8]) -> bool {
    let bad = bytes.iter().fold(0u8, |bad, &b| {
        let alphanumeric =
            b.wrapping_sub(b'0') < 10 || b.wrapping_sub(b'A') < 26 || b.wrapping_sub(b'a') < 26;
        let symbol = b == b'-' || b == b'.' || b == b'_' || b == b'~' || b == b'+' || b == b'/';
        bad | u8::from(!(alphanumeric || symbol))
    });
    bad == 0
}

/// Reads the bearer token of a request.
pub fn presented(headers: &HeaderMap) -> Presented<'_> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Presented::None;
    };
    if values.next().is_some() {
        return Presented::Malformed;
    }
    // Bytes, not `to_str`: the alphabet check below is stricter than visible ASCII, and one
    // pass over a token of a few hundred bytes is what every bearer request pays.
    let bytes = value.as_bytes();
    let other_scheme = || {
        if value.to_str().is_err() {
            Presented::Malformed
        } else {
            Presented::OtherScheme
        }
    };
    let Some(space) = bytes.iter().position(|&b| b == b' ') else {
        return if bytes.eq_ignore_ascii_case(b"bearer") {
            Presented::Malformed
        } else {
            other_scheme()
        };
    };
    if !bytes[..space].eq_ignore_ascii_case(b"bearer") {
        return other_scheme();
    }
    let rest = &bytes[space..];
    let token = &rest[rest.iter().take_while(|&&b| b == b' ').count()..];
    if token.is_empty() {
        return Presented::Malformed;
    }
    Presented::Bearer(token)
}

/// Whether a presented bearer token is in the RFC 6750 token68 alphabet (`=` only as its
/// trailing padding), which also makes it ASCII. Asked only of a token that did not verify,
/// to tell a malformed header from an invalid token.
pub fn well_formed(bytes: &[u8]) -> bool {
    let padding = bytes.iter().rev().take_while(|&&b| b == b'=').count();
    !bytes.is_empty() && is_token68(&bytes[..bytes.len() - padding])
}

/// Whether the query string carries an `access_token` parameter.
pub fn token_in_query(query: Option<&str>) -> bool {
    query.is_some_and(|q| {
        form_urlencoded::parse(q.as_bytes()).any(|(k, _)| k.eq_ignore_ascii_case("access_token"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn with(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(header::AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn reading_the_header() {
        assert_eq!(presented(&with(&[])), Presented::None);
        assert_eq!(
            presented(&with(&["Bearer abc.def-_~"])),
            Presented::Bearer(b"abc.def-_~")
        );
        assert_eq!(presented(&with(&["bearer abc"])), Presented::Bearer(b"abc"));
        assert_eq!(
            presented(&with(&["Basic dXNlcjpw"])),
            Presented::OtherScheme
        );
        assert_eq!(presented(&with(&["Bearer"])), Presented::Malformed);
        assert_eq!(presented(&with(&["Bearer "])), Presented::Malformed);
        // Checked against the alphabet only when it does not verify.
        assert_eq!(presented(&with(&["Bearer a b"])), Presented::Bearer(b"a b"));
        assert!(!well_formed(b"a b"));
        assert_eq!(
            presented(&with(&["Bearer a", "Bearer b"])),
            Presented::Malformed
        );
    }

    #[test]
    fn the_token68_alphabet_exactly() {
        let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/";
        let token = format!("{alphabet}==");
        assert_eq!(
            presented(&with(&[&format!("Bearer {token}")])),
            Presented::Bearer(token.as_bytes())
        );
        assert!(well_formed(token.as_bytes()));
        for byte in 0x21u8..0x7f {
            if alphabet.as_bytes().contains(&byte) || byte == b'=' {
                continue;
            }
            let token = format!("ab{}cd", byte as char);
            assert!(!well_formed(token.as_bytes()), "{token}");
        }
        // `=` only at the end; spaces (only) before the token.
        assert!(!well_formed(b"a=b"));
        assert!(!well_formed(b""));
        assert!(!well_formed("abc\u{e9}".as_bytes()));
        assert!(!well_formed(b"ab\xfc"));
        assert_eq!(
            presented(&with(&["Bearer   ab=="])),
            Presented::Bearer(b"ab==")
        );
        assert!(well_formed(b"ab=="));
        assert!(!well_formed(b"\tab"));
        // Another scheme whose bytes are not UTF-8: malformed. A bearer token's bytes are read
        // as they are: one that is not UTF-8 is not in the cache and cannot verify, and
        // `authn::decide` calls it malformed (`well_formed` says no).
        let odd = HeaderValue::from_bytes(b"Basic \xfc").unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, odd);
        assert_eq!(presented(&headers), Presented::Malformed);
        let odd = HeaderValue::from_bytes(b"Bearer ab\xfc").unwrap();
        headers.insert(header::AUTHORIZATION, odd);
        assert_eq!(presented(&headers), Presented::Bearer(b"ab\xfc"));
    }

    #[test]
    fn query_tokens() {
        assert!(token_in_query(Some("a=1&access_token=x")));
        assert!(token_in_query(Some("Access_Token=x")));
        assert!(!token_in_query(Some("token=x")));
        assert!(!token_in_query(None));
    }
}
