//! Bearer tokens (RFC 6750): read from the `Authorization` header only. A token in the query
//! string (`access_token=`) is refused rather than ignored, so that a client learns it must
//! not put tokens where logs and `Referer` headers keep them.

use http::header::{self, HeaderMap};

/// What the `Authorization` header holds.
#[derive(Debug, PartialEq, Eq)]
pub enum Presented<'a> {
    None,
    Bearer(&'a str),
    /// A second header, an empty token, or bytes outside the RFC 6750 token68 alphabet.
    Malformed,
    /// Another scheme (Basic, …): not ours to judge.
    OtherScheme,
}

/// The RFC 6750 token68 alphabet (before its trailing `=`), as a table: checked for every
/// byte of every bearer token, where a table lookup is several times cheaper than the tests.
const TOKEN68: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 256 {
        let b = byte as u8;
        table[byte] =
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/');
        byte += 1;
    }
    table
};

/// Reads the bearer token of a request.
pub fn presented(headers: &HeaderMap) -> Presented<'_> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Presented::None;
    };
    if values.next().is_some() {
        return Presented::Malformed;
    }
    let Ok(text) = value.to_str() else {
        return Presented::Malformed;
    };
    let Some((scheme, token)) = text.split_once(' ') else {
        return if text.eq_ignore_ascii_case("bearer") {
            Presented::Malformed
        } else {
            Presented::OtherScheme
        };
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Presented::OtherScheme;
    }
    let token = token.trim_start_matches(' ');
    let token68 = !token.is_empty()
        && token
            .trim_end_matches('=')
            .bytes()
            .all(|b| TOKEN68[usize::from(b)]);
    if token68 {
        Presented::Bearer(token)
    } else {
        Presented::Malformed
    }
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
            Presented::Bearer("abc.def-_~")
        );
        assert_eq!(presented(&with(&["bearer abc"])), Presented::Bearer("abc"));
        assert_eq!(
            presented(&with(&["Basic dXNlcjpw"])),
            Presented::OtherScheme
        );
        assert_eq!(presented(&with(&["Bearer"])), Presented::Malformed);
        assert_eq!(presented(&with(&["Bearer "])), Presented::Malformed);
        assert_eq!(presented(&with(&["Bearer a b"])), Presented::Malformed);
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
            Presented::Bearer(&token)
        );
        for byte in 0x21u8..0x7f {
            if alphabet.as_bytes().contains(&byte) || byte == b'=' {
                continue;
            }
            let value = format!("Bearer ab{}cd", byte as char);
            assert_eq!(presented(&with(&[&value])), Presented::Malformed, "{value}");
        }
        // `=` only at the end.
        assert_eq!(presented(&with(&["Bearer a=b"])), Presented::Malformed);
    }

    #[test]
    fn query_tokens() {
        assert!(token_in_query(Some("a=1&access_token=x")));
        assert!(token_in_query(Some("Access_Token=x")));
        assert!(!token_in_query(Some("token=x")));
        assert!(!token_in_query(None));
    }
}
