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

/// The value of the cookie `name` in the request's `Cookie` headers.
pub fn get<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (k == name).then_some(v)
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
}
