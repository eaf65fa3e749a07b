//! Cookies with the safe defaults built in: every cookie the gateway sets is `__Host-`
//! prefixed, `Secure`, `HttpOnly`, `SameSite=Lax` and `Path=/` (RFC 6265bis), whatever the
//! listener's TLS mode, because a TLS-terminating proxy in front still serves it over HTTPS.

use http::header::{self, HeaderMap, HeaderValue};

/// `Set-Cookie` for `name=value`; `max_age` in seconds, `None` for a browser-session cookie.
pub fn set(name: &str, value: &str, max_age: Option<u64>) -> Option<HeaderValue> {
    let mut text = format!("{name}={value}; Path=/; Secure; HttpOnly; SameSite=Lax");
    if let Some(age) = max_age {
        text.push_str(&format!("; Max-Age={age}"));
    }
    HeaderValue::from_str(&text).ok()
}

/// `Set-Cookie` that deletes `name`.
pub fn clear(name: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!(
        "{name}=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0"
    ))
    .ok()
}

/// The value of the cookie `name` in the request's `Cookie` headers. A header value that is
/// not text ([`is_text`]) is not read.
///
/// Read as bytes ([`pairs`]), and only the value found is made a `str`: checking each header
/// with `HeaderValue::to_str` (a byte at a time), then splitting it with `str`'s searchers,
/// cost about 780 instructions per lookup of a lone session cookie, this about 500
/// (callgrind); every session request makes one.
pub fn get<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let name = name.as_bytes();
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter(|value| is_text(value))
        .flat_map(|value| pairs(value.as_bytes()))
        .find_map(|pair| {
            let value = pair.strip_prefix(name)?.strip_prefix(b"=")?;
            std::str::from_utf8(value).ok()
        })
}

/// Whether a header value is text, as `HeaderValue::to_str` decides (visible ASCII and
/// tabs): a value can hold nothing else but bytes past 0x7f, so this is an ASCII test, a
/// word at a time.
pub fn is_text(value: &HeaderValue) -> bool {
    value.as_bytes().is_ascii()
}

/// The `name=value` pairs of one `Cookie` header value: split at `;` (`memchr`'s vectorized
/// search; a byte loop cost more than `str` splitting), trimmed of spaces and tabs, empty
/// ones skipped.
pub fn pairs(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(value);
    std::iter::from_fn(move || loop {
        let now = rest?;
        let (pair, next) = match memchr::memchr(b';', now) {
            Some(at) => (now.get(..at).unwrap_or_default(), now.get(at + 1..)),
            None => (now, None),
        };
        rest = next;
        let pair = pair.trim_ascii();
        if !pair.is_empty() {
            return Some(pair);
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_and_lookup() {
        let c = set("__Host-x", "v", Some(60)).unwrap();
        assert_eq!(
            c,
            "__Host-x=v; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=60"
        );
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; __Host-x=abc"),
        );
        h.append(header::COOKIE, HeaderValue::from_static("b=2"));
        assert_eq!(get(&h, "__Host-x"), Some("abc"));
        assert_eq!(get(&h, "b"), Some("2"));
        assert_eq!(get(&h, "x"), None);
    }

    #[test]
    fn pairs_are_split_at_semicolons_and_trimmed() {
        let all: Vec<&[u8]> = pairs(b" a=1;b=2 ;; \tc= 3;=4;d;").collect();
        assert_eq!(all, [&b"a=1"[..], b"b=2", b"c= 3", b"=4", b"d"]);
        assert_eq!(pairs(b"").count(), 0);
        assert_eq!(pairs(b" ; ;").count(), 0);
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static(" a=1;b=2 ;; \tc= 3;=4;d;e=v=w;a=again"),
        );
        assert_eq!(get(&h, "a"), Some("1"));
        assert_eq!(get(&h, "c"), Some(" 3"));
        assert_eq!(get(&h, "d"), None);
        assert_eq!(get(&h, "e"), Some("v=w"));
        // A name is the whole text before `=`: `ab` is not `a`, and `a =1` names `a `.
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, HeaderValue::from_static("ab=1; a =2"));
        assert_eq!(get(&h, "a"), None);
        assert_eq!(get(&h, "ab"), Some("1"));
    }

    #[test]
    fn a_header_that_is_not_text_is_not_read() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_bytes(b"a=\xe9; b=2").unwrap(),
        );
        h.append(header::COOKIE, HeaderValue::from_static("a=3"));
        assert_eq!(get(&h, "a"), Some("3"));
        assert_eq!(get(&h, "b"), None);
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_bytes("a=\u{e9}".as_bytes()).unwrap(),
        );
        assert_eq!(get(&h, "a"), None);
        // `is_text` is `to_str`'s test, for every byte a header value can hold.
        for byte in 0u8..=255 {
            if let Ok(value) = HeaderValue::from_bytes(&[b'a', byte]) {
                assert_eq!(is_text(&value), value.to_str().is_ok(), "{byte}");
            }
        }
    }
}
