//! What an upstream learns about the caller, and what it must never see.
//!
//! After header hygiene has removed every client-sent `X-Auth-*` (in `headers.rs`), the
//! gateway adds `X-Auth-User` (only for a user), `X-Auth-Client` and `X-Auth-Scopes`. The
//! gateway's own cookies are cut out of `Cookie` while the application's pass untouched; a
//! bearer token is forwarded unless the route says `forward_token = false`; a session is never
//! turned into a replayable header. Upstream `Set-Cookie` for a gateway cookie is dropped.

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

use super::headers::Seen;
use crate::authn::{Identity, Via};
use crate::gateway_paths::COOKIE_PREFIX;
use crate::http::cookie;

const X_AUTH_USER: HeaderName = HeaderName::from_static("x-auth-user");
const X_AUTH_CLIENT: HeaderName = HeaderName::from_static("x-auth-client");
const X_AUTH_SCOPES: HeaderName = HeaderName::from_static("x-auth-scopes");

/// Adds the identity headers and removes the gateway's credentials from the request;
/// `seen` is what header hygiene saw of it (`prepare_request_headers`), whose `cookie` spares
/// the `Cookie` lookup of a request without one.
pub fn apply(
    headers: &mut HeaderMap,
    seen: Seen,
    identity: Option<&Identity>,
    forward_token: bool,
) {
    if seen.cookie {
        strip_gateway_cookies(headers);
    }
    let Some(identity) = identity else {
        return;
    };
    if identity.via == Via::Bearer && !forward_token {
        headers.remove(header::AUTHORIZATION);
    }
    insert(headers, identity);
}

/// Sets `X-Auth-User` (only for a user), `X-Auth-Client` and `X-Auth-Scopes` from `identity`,
/// with the values made once with its caller (a clone is a reference count).
pub fn insert(headers: &mut HeaderMap, identity: &Identity) {
    let values = identity.caller.headers();
    if let Some(user) = &values.user {
        headers.insert(X_AUTH_USER, user.clone());
    }
    if let Some(client) = &values.client {
        headers.insert(X_AUTH_CLIENT, client.clone());
    }
    if let Some(scopes) = &values.scopes {
        headers.insert(X_AUTH_SCOPES, scopes.clone());
    }
}

/// Removes `__Host-authgate-*` cookies from every `Cookie` header, keeping the others. One
/// pass over the bytes ([`cookie::pairs`]) finds whether there is one of ours and whether
/// there are others; the header is only removed when all are ours (a session route's browser
/// without cookies of the application: no copy made), and rebuilt when both.
fn strip_gateway_cookies(headers: &mut HeaderMap) {
    let (mut ours, mut theirs) = (false, false);
    for value in headers.get_all(header::COOKIE) {
        if !cookie::is_text(value) {
            // A value that is no text is not forwarded: it counts as one of ours.
            ours = true;
            continue;
        }
        for pair in cookie::pairs(value.as_bytes()) {
            if pair.starts_with(COOKIE_PREFIX.as_bytes()) {
                ours = true;
            } else {
                theirs = true;
            }
        }
    }
    if !ours {
        return;
    }
    let kept = theirs.then(|| {
        let kept: Vec<&[u8]> = headers
            .get_all(header::COOKIE)
            .iter()
            .filter(|value| cookie::is_text(value))
            .flat_map(|value| cookie::pairs(value.as_bytes()))
            .filter(|pair| !pair.starts_with(COOKIE_PREFIX.as_bytes()))
            .collect();
        HeaderValue::from_bytes(&kept.join(&b"; "[..]))
    });
    headers.remove(header::COOKIE);
    if let Some(Ok(value)) = kept {
        headers.insert(header::COOKIE, value);
    }
}

/// Drops any upstream `Set-Cookie` that would set or clear one of the gateway's cookies.
pub fn drop_gateway_cookies_set_by(headers: &mut HeaderMap) {
    let ours = |v: &HeaderValue| {
        v.to_str()
            .is_ok_and(|t| t.trim_start().starts_with(COOKIE_PREFIX))
    };
    let theirs = headers.get_all(header::SET_COOKIE).iter().any(ours);
    if !theirs {
        return;
    }
    let kept: Vec<HeaderValue> = headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter(|v| !ours(v))
        .cloned()
        .collect();
    headers.remove(header::SET_COOKIE);
    for value in kept {
        headers.append(header::SET_COOKIE, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As if hygiene had seen every kind of header.
    fn every() -> Seen {
        Seen {
            cookie: true,
            set_cookie: true,
            suspect: true,
        }
    }

    #[test]
    fn identity_and_cookie_hygiene() {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer t"));
        h.append(
            header::COOKIE,
            HeaderValue::from_static("app=1; __Host-authgate-session=secret; theme=dark"),
        );
        let identity = Identity::new(
            Some("alice".into()),
            "spa".into(),
            "api:read app".into(),
            Via::Bearer,
            false,
        );
        apply(&mut h, every(), Some(&identity), false);
        assert_eq!(h["cookie"], "app=1; theme=dark");
        assert!(h.get(header::AUTHORIZATION).is_none());
        assert_eq!(h["x-auth-user"], "alice");
        assert_eq!(h["x-auth-client"], "spa");
        assert_eq!(h["x-auth-scopes"], "api:read app");
    }

    #[test]
    fn client_identity_has_no_user_and_only_gateway_cookie_goes() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("__Host-authgate-session=s"),
        );
        let identity = Identity::new(None, "worker".into(), String::new(), Via::Bearer, false);
        apply(&mut h, every(), Some(&identity), true);
        assert!(h.get(header::COOKIE).is_none());
        assert!(h.get("x-auth-user").is_none());
        assert_eq!(h["x-auth-client"], "worker");
    }

    #[test]
    fn cookies_of_the_application_alone_pass_untouched_and_two_headers_merge() {
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, HeaderValue::from_static("app=1;theme=dark"));
        apply(&mut h, every(), None, true);
        assert_eq!(h["cookie"], "app=1;theme=dark", "not rebuilt");
        h.append(
            header::COOKIE,
            HeaderValue::from_static(" __Host-authgate-login=x ; lang=en"),
        );
        apply(&mut h, every(), None, true);
        let all: Vec<_> = h.get_all(header::COOKIE).iter().collect();
        assert_eq!(all, ["app=1; theme=dark; lang=en"]);
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, HeaderValue::from_bytes(b"a=\xff").unwrap());
        h.append(header::COOKIE, HeaderValue::from_static("b=2"));
        apply(&mut h, every(), None, true);
        assert_eq!(
            h["cookie"], "b=2",
            "a value that is no text is not forwarded"
        );
    }

    #[test]
    fn upstream_cannot_set_gateway_cookies() {
        let mut h = HeaderMap::new();
        h.append(
            header::SET_COOKIE,
            HeaderValue::from_static("__Host-authgate-session=evil; Path=/"),
        );
        h.append(header::SET_COOKIE, HeaderValue::from_static("app=1"));
        drop_gateway_cookies_set_by(&mut h);
        let left: Vec<_> = h.get_all(header::SET_COOKIE).iter().collect();
        assert_eq!(left, ["app=1"]);
    }
}
