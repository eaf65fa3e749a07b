//! CORS (the Fetch standard's CORS protocol) for routes with a `[routes.cors]` section and
//! for the token, revocation and UserInfo endpoints (contract §10): the decision for a
//! preflight and the headers of an actual response, as plain functions over a request's
//! headers and a [`CorsPolicy`] built once per configuration.
//!
//! Where it sits: the dispatcher answers a preflight to a CORS route from here, before the
//! route's authentication (a browser never sends credentials on a preflight), and runs
//! [`CorsPolicy::apply`] on every answer of that route, the gateway's own refusals (401, 403,
//! 502, ...) included, so a single-page app can read why it was refused.
//!
//! Security caveats, each decided here once:
//! - Origins are compared as exact bytes with the serialisation a browser sends (`scheme://
//!   host[:port]`, lower case, no default port); no wildcard, no pattern, no `null`.
//! - On a CORS route the gateway owns CORS: every `Access-Control-*` header an upstream sends
//!   is removed before the gateway's own are added. An upstream that reflects any origin, or
//!   sends `*`, would otherwise widen the operator's list, and a second
//!   `Access-Control-Allow-Origin` makes browsers refuse the response outright.
//! - `Vary: Origin` goes on every answer of a CORS route, with an `Origin` or without, as the
//!   Fetch standard asks of a server whose `Access-Control-Allow-Origin` depends on the
//!   request (§3.2.5): otherwise a shared cache could hand an answer made for one origin, or
//!   for none, to another.
//! - `Access-Control-Allow-Credentials` only with the explicit `allow_credentials = true`:
//!   a bearer token in `Authorization` is not a credential in the Fetch sense (cookies are),
//!   so an API called with tokens never needs it.

use std::time::Duration;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Response, StatusCode};

use super::body::{self, Body};

/// What a [`CorsPolicy`] allows, as validated from the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorsSettings {
    /// Exact origins, as a browser serialises them.
    pub origins: Vec<String>,
    pub methods: Vec<Method>,
    /// Request headers a preflight may ask for (lower case).
    pub headers: Vec<HeaderName>,
    /// Response headers a page may read besides the CORS-safelisted ones;
    /// `WWW-Authenticate` is always among them.
    pub expose: Vec<HeaderName>,
    pub max_age: Duration,
    pub credentials: bool,
}

/// One configuration's CORS answers, every header value computed once when it is built.
#[derive(Debug, Clone)]
pub struct CorsPolicy {
    settings: CorsSettings,
    /// `Access-Control-Allow-Origin` for each allowed origin, in `settings.origins` order.
    origins: Vec<HeaderValue>,
    allow_methods: HeaderValue,
    allow_headers: Option<HeaderValue>,
    expose_headers: HeaderValue,
    max_age: HeaderValue,
}

/// What a preflight gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preflight<'p> {
    /// Allowed: the `Access-Control-Allow-Origin` value for the requesting origin.
    Allowed(&'p HeaderValue),
    /// Refused, and why (for the access log; the browser only sees the headers missing).
    Refused(&'static str),
}

static VARY_ORIGIN: HeaderValue = HeaderValue::from_static("Origin");
/// The `Vary` of every preflight answer, allowed or refused: the answer depends on all three.
pub static VARY_PREFLIGHT: HeaderValue = HeaderValue::from_static(
    "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
);
static TRUE: HeaderValue = HeaderValue::from_static("true");

/// The CORS headers a server sends; an upstream's are removed on a CORS route.
const RESPONSE_HEADER_PREFIX: &str = "access-control-";

/// A CORS preflight: `OPTIONS` with `Origin` and `Access-Control-Request-Method` (Fetch
/// §4.8). Any other `OPTIONS` is an ordinary request, authenticated and forwarded.
pub fn is_preflight(method: &Method, headers: &HeaderMap) -> bool {
    method == Method::OPTIONS
        && headers.contains_key(header::ORIGIN)
        && headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
}

impl CorsPolicy {
    /// The policy for `settings`. Values that could not be a header value (the validator
    /// lets none through) are left out rather than answered.
    pub fn new(settings: CorsSettings) -> CorsPolicy {
        let origins = settings
            .origins
            .iter()
            .filter_map(|o| HeaderValue::from_str(o).ok())
            .collect();
        let joined = |names: &mut dyn Iterator<Item = &str>| {
            let text = names.collect::<Vec<_>>().join(", ");
            HeaderValue::from_str(&text).ok().filter(|v| !v.is_empty())
        };
        let allow_methods = joined(&mut settings.methods.iter().map(Method::as_str))
            .unwrap_or_else(|| HeaderValue::from_static("GET, HEAD, POST"));
        let allow_headers = joined(&mut settings.headers.iter().map(HeaderName::as_str));
        let expose_headers = joined(
            &mut std::iter::once("www-authenticate").chain(
                settings
                    .expose
                    .iter()
                    .map(HeaderName::as_str)
                    .filter(|n| *n != "www-authenticate"),
            ),
        )
        .unwrap_or_else(|| HeaderValue::from_static("www-authenticate"));
        let max_age = HeaderValue::from(settings.max_age.as_secs());
        CorsPolicy {
            settings,
            origins,
            allow_methods,
            allow_headers,
            expose_headers,
            max_age,
        }
    }

    pub fn settings(&self) -> &CorsSettings {
        &self.settings
    }

    /// The `Access-Control-Allow-Origin` value for the request's origin, when it is one of
    /// the allowed ones. A request with two `Origin` lines has none.
    pub fn allowed_origin(&self, headers: &HeaderMap) -> Option<&HeaderValue> {
        let mut all = headers.get_all(header::ORIGIN).iter();
        let origin = all.next()?;
        if all.next().is_some() {
            return None;
        }
        self.origins
            .iter()
            .find(|allowed| allowed.as_bytes() == origin.as_bytes())
    }

    /// Whether the preflight in `headers` is allowed: its origin, its requested method and
    /// every requested header.
    pub fn decide_preflight(&self, headers: &HeaderMap) -> Preflight<'_> {
        let Some(origin) = self.allowed_origin(headers) else {
            return Preflight::Refused("cors_origin");
        };
        let mut methods = headers
            .get_all(header::ACCESS_CONTROL_REQUEST_METHOD)
            .iter();
        let method = methods
            .next()
            .filter(|_| methods.next().is_none())
            .and_then(|m| Method::from_bytes(m.as_bytes()).ok());
        if !method.is_some_and(|m| self.settings.methods.contains(&m)) {
            return Preflight::Refused("cors_method");
        }
        for line in headers.get_all(header::ACCESS_CONTROL_REQUEST_HEADERS) {
            let Ok(text) = line.to_str() else {
                return Preflight::Refused("cors_header");
            };
            for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                let allowed = self
                    .settings
                    .headers
                    .iter()
                    .any(|h| h.as_str().eq_ignore_ascii_case(name));
                if !allowed {
                    return Preflight::Refused("cors_header");
                }
            }
        }
        Preflight::Allowed(origin)
    }

    /// The gateway's answer to an allowed preflight (from
    /// [`decide_preflight`](Self::decide_preflight)): 204 with the `Access-Control-Allow-*`
    /// headers. A refused one is `rescue`'s to answer.
    pub fn preflight(&self, origin: &HeaderValue) -> Response<Body> {
        let mut res = Response::new(body::empty());
        *res.status_mut() = StatusCode::NO_CONTENT;
        let out = res.headers_mut();
        out.insert(header::VARY, VARY_PREFLIGHT.clone());
        out.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        out.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            self.allow_methods.clone(),
        );
        if let Some(allow_headers) = &self.allow_headers {
            out.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, allow_headers.clone());
        }
        out.insert(header::ACCESS_CONTROL_MAX_AGE, self.max_age.clone());
        if self.settings.credentials {
            out.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, TRUE.clone());
        }
        res
    }

    /// The CORS headers of an actual response on this policy's route: whatever
    /// `Access-Control-*` the upstream sent goes, `Vary: Origin` is added, and for an
    /// allowed `origin` (from [`allowed_origin`](Self::allowed_origin))
    /// `Access-Control-Allow-Origin` and `-Expose-Headers` (and `-Allow-Credentials` when
    /// configured).
    pub fn apply(&self, origin: Option<&HeaderValue>, headers: &mut HeaderMap) {
        remove_upstream_cors(headers);
        headers.append(header::VARY, VARY_ORIGIN.clone());
        if let Some(origin) = origin {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
            headers.insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                self.expose_headers.clone(),
            );
            if self.settings.credentials {
                headers.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, TRUE.clone());
            }
        }
    }
}

/// Removes every `Access-Control-*` header; allocates only when there is one.
fn remove_upstream_cors(headers: &mut HeaderMap) {
    let found = |name: &HeaderName| name.as_str().starts_with(RESPONSE_HEADER_PREFIX);
    if !headers.keys().any(found) {
        return;
    }
    let names: Vec<HeaderName> = headers.keys().filter(|n| found(n)).cloned().collect();
    for name in names {
        headers.remove(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(credentials: bool) -> CorsPolicy {
        CorsPolicy::new(CorsSettings {
            origins: vec![
                "https://app.example.com".to_owned(),
                "http://localhost:5173".to_owned(),
            ],
            methods: vec![Method::GET, Method::POST, Method::DELETE],
            headers: vec![header::AUTHORIZATION, header::CONTENT_TYPE],
            expose: vec![HeaderName::from_static("x-total-count")],
            max_age: Duration::from_secs(600),
            credentials,
        })
    }

    fn request(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(*name, HeaderValue::from_static(value));
        }
        headers
    }

    type Pair = (&'static str, &'static str);
    type Decided = Result<&'static str, &'static str>;

    #[test]
    fn preflight_decisions() {
        let p = policy(false);
        let cases: [(&[Pair], Decided); 10] = [
            (
                &[
                    ("origin", "https://app.example.com"),
                    ("access-control-request-method", "DELETE"),
                ],
                Ok("https://app.example.com"),
            ),
            (
                &[
                    ("origin", "http://localhost:5173"),
                    ("access-control-request-method", "POST"),
                    (
                        "access-control-request-headers",
                        "authorization,content-type",
                    ),
                ],
                Ok("http://localhost:5173"),
            ),
            (
                &[
                    ("origin", "https://app.example.com"),
                    ("access-control-request-method", "GET"),
                    ("access-control-request-headers", "Authorization"),
                ],
                Ok("https://app.example.com"),
            ),
            (
                &[
                    ("origin", "https://evil.example"),
                    ("access-control-request-method", "GET"),
                ],
                Err("cors_origin"),
            ),
            (
                // Exact bytes: browsers send lower case, so a differently cased one is not it.
                &[
                    ("origin", "https://APP.example.com"),
                    ("access-control-request-method", "GET"),
                ],
                Err("cors_origin"),
            ),
            (
                &[
                    ("origin", "https://app.example.com/"),
                    ("access-control-request-method", "GET"),
                ],
                Err("cors_origin"),
            ),
            (
                &[("origin", "null"), ("access-control-request-method", "GET")],
                Err("cors_origin"),
            ),
            (
                &[
                    ("origin", "https://app.example.com"),
                    ("access-control-request-method", "PUT"),
                ],
                Err("cors_method"),
            ),
            (
                // Methods are case-sensitive (Fetch normalises only the six it knows).
                &[
                    ("origin", "https://app.example.com"),
                    ("access-control-request-method", "delete"),
                ],
                Err("cors_method"),
            ),
            (
                &[
                    ("origin", "https://app.example.com"),
                    ("access-control-request-method", "GET"),
                    ("access-control-request-headers", "authorization, x-secret"),
                ],
                Err("cors_header"),
            ),
        ];
        for (pairs, want) in cases {
            let got = match p.decide_preflight(&request(pairs)) {
                Preflight::Allowed(origin) => Ok(origin.to_str().unwrap_or("")),
                Preflight::Refused(why) => Err(why),
            };
            assert_eq!(got, want, "{pairs:?}");
        }
        let two = request(&[
            ("origin", "https://app.example.com"),
            ("origin", "https://app.example.com"),
            ("access-control-request-method", "GET"),
        ]);
        assert_eq!(p.decide_preflight(&two), Preflight::Refused("cors_origin"));
    }

    #[test]
    fn preflight_answers() {
        let p = policy(false);
        let asked = request(&[
            ("origin", "https://app.example.com"),
            ("access-control-request-method", "POST"),
        ]);
        let Preflight::Allowed(origin) = p.decide_preflight(&asked) else {
            panic!("an allowed preflight");
        };
        let res = p.preflight(origin);
        assert_eq!(res.status(), StatusCode::NO_CONTENT);
        let h = res.headers();
        assert_eq!(h["access-control-allow-origin"], "https://app.example.com");
        assert_eq!(h["access-control-allow-methods"], "GET, POST, DELETE");
        assert_eq!(
            h["access-control-allow-headers"],
            "authorization, content-type"
        );
        assert_eq!(h["access-control-max-age"], "600");
        assert!(h["vary"].to_str().unwrap_or("").starts_with("Origin"));
        assert!(!h.contains_key("access-control-allow-credentials"));

        let credentialed = policy(true);
        let res = credentialed.preflight(origin);
        assert_eq!(res.headers()["access-control-allow-credentials"], "true");
    }

    #[test]
    fn actual_responses_replace_the_upstreams_cors() {
        let p = policy(false);
        let mut upstream = request(&[
            ("access-control-allow-origin", "*"),
            ("access-control-allow-credentials", "true"),
            ("access-control-expose-headers", "x-internal"),
            ("content-type", "application/json"),
        ]);
        let asked = request(&[("origin", "https://app.example.com")]);
        p.apply(p.allowed_origin(&asked), &mut upstream);
        assert_eq!(
            upstream["access-control-allow-origin"],
            "https://app.example.com"
        );
        assert_eq!(
            upstream["access-control-expose-headers"],
            "www-authenticate, x-total-count"
        );
        assert!(!upstream.contains_key("access-control-allow-credentials"));
        assert_eq!(upstream["vary"], "Origin");
        assert_eq!(upstream["content-type"], "application/json");

        let mut other = request(&[("access-control-allow-origin", "https://evil.example")]);
        let asked = request(&[("origin", "https://evil.example")]);
        p.apply(p.allowed_origin(&asked), &mut other);
        assert!(other
            .keys()
            .all(|n| !n.as_str().starts_with("access-control-")));
        assert_eq!(other["vary"], "Origin");
    }

    #[test]
    fn only_a_preflight_is_a_preflight() {
        let both = request(&[
            ("origin", "https://app.example.com"),
            ("access-control-request-method", "GET"),
        ]);
        assert!(is_preflight(&Method::OPTIONS, &both));
        assert!(!is_preflight(&Method::GET, &both));
        let plain = request(&[("origin", "https://app.example.com")]);
        assert!(!is_preflight(&Method::OPTIONS, &plain));
    }
}
