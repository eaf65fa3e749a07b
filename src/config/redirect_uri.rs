//! The redirect URI rules of RFC 9700 §2.1 and RFC 8252 §7, for configured clients and for
//! dynamic registration alike: exact strings; `http` only on loopback; private-use schemes
//! for native apps; no authorization-response parameter already in the query.

/// A Back-Channel Logout URI (Back-Channel Logout 1.0 §2.2), configured or registered: an
/// absolute http(s) URL the gateway POSTs logout tokens to, under the redirect URI rules
/// (so `http` only on loopback, and no fragment).
pub fn check_backchannel_logout_uri(uri: &str) -> std::result::Result<(), String> {
    if !(uri.starts_with("https://") || uri.starts_with("http://")) {
        return Err("must be an https:// URL (http:// only on loopback)".to_owned());
    }
    check_redirect_uri(uri)
}

/// A redirect URI a client may register: matched later by exact string, so it must be
/// absolute, without fragment, wildcard or user information; `http` only on loopback
/// (RFC 8252 §7.3); other schemes only as private-use reverse-domain names (RFC 8252 §7.1).
pub fn check_redirect_uri(uri: &str) -> std::result::Result<(), String> {
    if uri.len() > 2048 {
        return Err("is longer than 2048 characters".to_owned());
    }
    if uri.bytes().any(|b| b <= b' ' || b == 0x7f || b >= 0x80) {
        return Err("must not contain spaces, control bytes or non-ASCII characters".to_owned());
    }
    if uri.contains('#') {
        return Err("must not have a fragment (RFC 6749 §3.1.2)".to_owned());
    }
    if uri.contains('*') {
        return Err(
            "must not contain wildcards: redirect URIs are compared as exact strings".to_owned(),
        );
    }
    if let Some(name) = response_parameter_in(uri) {
        return Err(format!(
            "its query holds `{name}`, a parameter the authorization response itself carries: the client could not tell the registered one from the real one (RFC 9700 §4.1, §4.4)"
        ));
    }
    let Some((scheme, rest)) = uri.split_once(':') else {
        return Err("must be an absolute URI".to_owned());
    };
    let scheme_ok = scheme
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_lowercase())
        && scheme.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.')
        });
    if !scheme_ok {
        return Err("must start with a lower-case scheme".to_owned());
    }
    match scheme {
        "https" | "http" => {
            let Some(after) = rest.strip_prefix("//") else {
                return Err("must be an absolute URL (scheme://host/path)".to_owned());
            };
            let authority = after.split(['/', '?']).next().unwrap_or("");
            if authority.contains('@') {
                return Err("must not contain user information".to_owned());
            }
            let host = host_of(authority);
            if host.is_empty() {
                return Err("needs a host".to_owned());
            }
            // A host and port a browser reads as this check does, or none: `[::1]x`, `:80x`
            // or `exa<mple.com` were accepted, and browsers refuse them (found by fuzzing).
            if !host_and_port_are_plain(host, authority.get(host.len()..).unwrap_or("")) {
                return Err("needs a plain host (a DNS name, an IPv4 address or [IPv6]) and an optional numeric port".to_owned());
            }
            if scheme == "http" && !matches!(host, "127.0.0.1" | "[::1]" | "localhost") {
                return Err("http:// is allowed only for loopback (127.0.0.1, [::1], localhost); use https://".to_owned());
            }
            Ok(())
        }
        _ if scheme.contains('.') => {
            // RFC 8252 §7.1's form is `com.example.app:/path`; one written with `//` has an
            // authority, which must then be one a URL parser reads as this check does
            // (`htt.p://t{:p//@…` was accepted; found by fuzzing).
            if let Some(after) = rest.strip_prefix("//") {
                let authority = after.split(['/', '?']).next().unwrap_or("");
                let host = host_of(authority);
                let plain = host_and_port_are_plain(host, authority.get(host.len()..).unwrap_or(""));
                if !authority.is_empty() && (authority.contains('@') || !plain) {
                    return Err("a private-use scheme's authority, when it has one, must be a plain host and optional port".to_owned());
                }
            }
            Ok(())
        }
        _ => Err(format!(
            "the scheme `{scheme}` is not allowed: use https://, http:// on loopback, or a private-use scheme like com.example.app:/callback"
        )),
    }
}

/// The parameters an authorization response (RFC 6749 §4.1.2, §4.1.2.1, §4.2.2; RFC 9207)
/// adds to the redirect URI.
pub const RESPONSE_PARAMETERS: [&str; 7] = [
    "code",
    "state",
    "iss",
    "error",
    "error_description",
    "error_uri",
    "access_token",
];

/// The first response parameter that `uri`'s query already holds, if any.
///
/// Names are percent-decoded and form-decoded as a client's query parser reads them
/// (`%63ode` is `code`). They are compared without regard to case: RFC 6749 names are
/// case-sensitive, but some clients' query collections fold case (ASP.NET's does), and no
/// legitimate redirect URI needs a `Code` or `STATE` of its own.
pub fn response_parameter_in(uri: &str) -> Option<&'static str> {
    let without_fragment = uri.split('#').next().unwrap_or("");
    let (_, query) = without_fragment.split_once('?')?;
    form_urlencoded::parse(query.as_bytes()).find_map(|(name, _)| {
        RESPONSE_PARAMETERS
            .iter()
            .find(|p| p.eq_ignore_ascii_case(name.trim()))
            .copied()
    })
}

/// Whether `host` is a DNS name or IPv4 address (letters, digits, `-`, `.`, `_`) or a
/// bracketed IPv6 address, and `port` (what follows the host) is empty or `:` and at most
/// 65535.
fn host_and_port_are_plain(host: &str, port: &str) -> bool {
    let host_ok = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(v6) => {
            !v6.is_empty()
                && v6
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        }
        None => {
            host.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
                && (!ends_in_a_number(host) || host.parse::<std::net::Ipv4Addr>().is_ok())
                && punycode_decodes(host)
        }
    };
    let port_ok = match port.strip_prefix(':') {
        None => port.is_empty(),
        Some(digits) => {
            digits.is_empty()
                || (digits.len() <= 5
                    && digits.bytes().all(|b| b.is_ascii_digit())
                    && digits.parse::<u32>().is_ok_and(|n| n <= 65535))
        }
    };
    host_ok && port_ok
}

/// Whether every `xn--` label of `host` is valid punycode: a browser refuses a host whose
/// label does not decode (`XN--Ec4p…` was accepted; found by fuzzing). Decoded by `idna`, the
/// crate URL parsers use.
fn punycode_decodes(host: &str) -> bool {
    let encoded = host.split('.').any(|label| {
        label
            .get(..4)
            .is_some_and(|start| start.eq_ignore_ascii_case("xn--"))
    });
    !encoded || idna::domain_to_ascii(host).is_ok()
}

/// The WHATWG URL standard's "ends in a number": a host whose last label is decimal or
/// `0x` hex is read as an IPv4 address, so `app.example.1` is no host to a browser.
fn ends_in_a_number(host: &str) -> bool {
    let last = host
        .strip_suffix('.')
        .unwrap_or(host)
        .rsplit('.')
        .next()
        .unwrap_or("");
    let hex = last.strip_prefix("0x").or_else(|| last.strip_prefix("0X"));
    (!last.is_empty() && last.bytes().all(|b| b.is_ascii_digit()))
        || hex.is_some_and(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The host of an authority (`host[:port]`, `[v6]:port`).
fn host_of(authority: &str) -> &str {
    if authority.starts_with('[') {
        return match authority.find(']') {
            Some(end) => authority.get(..=end).unwrap_or(""),
            None => "",
        };
    }
    authority.split(':').next().unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uri_rules() {
        for ok in [
            "https://app.example.com/callback",
            "https://app.example.com:8443/cb?x=1",
            "http://127.0.0.1:5173/callback",
            "http://[::1]/cb",
            "http://localhost:3000/cb",
            "com.example.app:/oauth2redirect",
        ] {
            assert_eq!(check_redirect_uri(ok), Ok(()), "{ok}");
        }
        for bad in [
            "/callback",
            "https://app.example.com/cb#frag",
            "https://*.example.com/cb",
            "http://app.example.com/cb",
            "https://user@app.example.com/cb",
            "javascript:alert(1)",
            "data:text/html,x",
            "file:///etc/passwd",
            "https:///cb",
            "HTTPS://app.example.com/cb",
            "https://app.example.com/c b",
            "http://127.0.0.1.evil.com/cb",
            "https://app.example.com/cb?code=1",
        ] {
            assert!(check_redirect_uri(bad).is_err(), "{bad}");
        }
    }

    /// Regression (fuzz target redirect_uri): an authority whose port is not a number, whose
    /// host holds a byte no browser accepts in a host, or whose host ends in a number without
    /// being an IPv4 address (WHATWG reads it as one and fails) was accepted.
    #[test]
    fn redirect_uri_with_a_malformed_port_or_host_is_refused() {
        for bad in [
            "http://[::1]:517back",
            "http://[::1]x/cb",
            "http://localhost:80x/cb",
            "http://localhost:99999/cb",
            "https://app.example.com:-1/cb",
            "https://exa<mple.com/cb",
            "https://app.example.com%2F.evil/cb",
            "https://app.example.com\\.evil.com/cb",
            "https://[]/cb",
            "https://app.example.com0.1:9000/cb",
            "https://app.example.0x1f/cb",
            "https://256.0.0.1/cb",
            "https://127.1/cb",
        ] {
            assert!(check_redirect_uri(bad).is_err(), "{bad}");
        }
        for ok in [
            "http://[::1]:5173/cb",
            "http://localhost:/cb",
            "https://app_1.example.com:65535/cb",
            "https://10.0.0.5/cb?x=1",
            "https://app1.example.com/cb",
            "https://app.example.com./cb",
        ] {
            assert_eq!(check_redirect_uri(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn redirect_uri_with_bad_punycode_or_a_malformed_private_scheme_authority_is_refused() {
        // Found by the redirect_uri fuzz target: URL parsers refuse both.
        for bad in [
            "https://XN--Ec4p.example.com/cb",
            "https://xn--ec4p.example.com/cb",
            "https://app.xn--/cb",
            "htt.p://t{:p//@x/cb",
            "com.example.app://u@host/cb",
            "com.example.app://host:80x/cb",
        ] {
            assert!(check_redirect_uri(bad).is_err(), "{bad}");
        }
        for ok in [
            "https://xn--bcher-kva.example/cb",
            "com.example.app:/cb",
            "com.example.app:///cb",
            "com.example.app://callback/cb",
        ] {
            assert_eq!(check_redirect_uri(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn redirect_uris_that_carry_response_parameters() {
        let cases: &[(&str, Option<&str>)] = &[
            ("https://app.example/cb", None),
            ("https://app.example/cb?", None),
            ("https://app.example/cb?x=1&tenant=a", None),
            // Names that only contain or resemble one are not one.
            ("https://app.example/cb?codes=1&statement=2&issuer=3", None),
            ("https://app.example/cb?x=code&y=state", None),
            ("https://app.example/code/state?iss_hint=1", None),
            ("https://app.example/cb?code=1", Some("code")),
            ("https://app.example/cb?state=x", Some("state")),
            ("https://app.example/cb?iss=https://evil", Some("iss")),
            ("https://app.example/cb?error=access_denied", Some("error")),
            (
                "https://app.example/cb?error_description=x",
                Some("error_description"),
            ),
            ("https://app.example/cb?error_uri=x", Some("error_uri")),
            (
                "https://app.example/cb?access_token=x",
                Some("access_token"),
            ),
            // Anywhere in the query, with or without a value.
            ("https://app.example/cb?a=1&state", Some("state")),
            ("https://app.example/cb?a=1&&code=", Some("code")),
            // Percent-encoded names are decoded as a client would.
            ("https://app.example/cb?%63ode=1", Some("code")),
            ("https://app.example/cb?st%61te=1", Some("state")),
            ("https://app.example/cb?error%5Furi=1", Some("error_uri")),
            // Case folded, for clients whose query collections ignore it.
            ("https://app.example/cb?Code=1", Some("code")),
            ("https://app.example/cb?STATE=1", Some("state")),
            // Private-use and loopback redirect URIs follow the same rule.
            ("com.example.app:/cb?iss=x", Some("iss")),
            ("http://127.0.0.1:5173/cb?code=1", Some("code")),
        ];
        for (uri, expected) in cases {
            assert_eq!(response_parameter_in(uri), *expected, "{uri}");
            assert_eq!(
                check_redirect_uri(uri).is_err(),
                expected.is_some(),
                "{uri}"
            );
        }
    }
}
