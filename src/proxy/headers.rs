//! Header hygiene between the client and the upstream.
//!
//! Order matters and is fixed in [`prepare_request_headers`]: first the client's hop-by-hop
//! headers go (RFC 9110 §7.6.1), then every identity, forwarding and routing header the client
//! sent, in any letter case and with `_` for `-` (some upstream stacks fold the two), and only
//! then does the gateway add its own. Forwarding headers from a configured trusted proxy are
//! kept and extended instead of replaced.

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

// Names the request path sets or looks up on every request, made once: a `&str` key would be
// parsed, and a non-standard one copied, at each use.
const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
const KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");

/// Headers only the gateway may set towards an upstream: identities it vouches for (the
/// signed `X-Auth-Assertion` of `assertion.rs` included, removed on every route).
const IDENTITY: [&str; 4] = [
    "x-auth-user",
    "x-auth-client",
    "x-auth-scopes",
    "x-auth-assertion",
];

/// Headers that say where a request came from. From an untrusted peer they are lies at worst
/// and noise at best; from a trusted proxy they are kept.
const FORWARDING: [&str; 9] = [
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "x-forwarded-port",
    "x-forwarded-prefix",
    "x-forwarded-uri",
    "x-real-ip",
    "x-client-ip",
];

/// Headers several frameworks route on (IIS, Symfony, Zend): an upstream would serve another
/// path than the one the gateway matched and authorised. Stripped from every peer, trusted
/// proxies included, since a load balancer passes on whatever its client sent.
const ROUTING: [&str; 3] = ["x-original-url", "x-original-uri", "x-rewrite-url"];

/// Fixed hop-by-hop names (RFC 9110 §7.6.1, plus the de-facto `Keep-Alive`); every `Proxy-*`
/// header and whatever `Connection` names go too.
static HOP_BY_HOP: [HeaderName; 6] = [
    header::CONNECTION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    KEEP_ALIVE,
];

/// What the hop-by-hop pass saw besides, so that its callers skip a lookup of their own
/// (each costs a hash and a probe, on every request and response). A header removed after the
/// pass (one that `Connection` named) can leave a `true` that no longer holds, never a
/// `false` that does not: a `true` only costs the lookup it would have saved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Seen {
    /// A `Cookie` header.
    pub cookie: bool,
    /// A `Set-Cookie` header.
    pub set_cookie: bool,
    /// A name of the identity, forwarding or routing lists, in any spelling (whether it goes
    /// depends on the peer: `prepare_request_headers` decides).
    pub suspect: bool,
}

/// Removes hop-by-hop headers: those `Connection` names, then the fixed list.
pub fn remove_hop_by_hop(headers: &mut HeaderMap) -> Seen {
    remove_hop_by_hop_keeping(headers, None)
}

/// [`remove_hop_by_hop`], except that `Connection` cannot name `keep` away.
fn remove_hop_by_hop_keeping(headers: &mut HeaderMap, keep: Option<&HeaderName>) -> Seen {
    // One pass over the names finds which are present: most messages carry none, or only
    // `Connection`, and removing an absent name still costs a lookup.
    let mut present = [false; 6];
    let mut proxy = false;
    let mut seen = Seen::default();
    for name in headers.keys() {
        let name = name.as_str();
        match hop_by_hop(name) {
            Some(i) => present[i] = true,
            None => match name {
                "cookie" => seen.cookie = true,
                "set-cookie" => seen.set_cookie = true,
                _ => match name.as_bytes().first() {
                    // A length test rejects most names (the request id's among them).
                    Some(b'x' | b'f') => seen.suspect |= suspect(name),
                    Some(b'p') => proxy |= name.starts_with("proxy-"),
                    _ => {}
                },
            },
        }
    }
    if present[0] {
        if let Some(named) = connection_tokens(headers) {
            for name in named.iter().filter(|name| Some(*name) != keep) {
                headers.remove(name);
            }
        }
    }
    for (name, _) in HOP_BY_HOP.iter().zip(present).filter(|(_, p)| *p) {
        headers.remove(name);
    }
    if proxy {
        let proxy: Vec<HeaderName> = headers
            .keys()
            .filter(|n| n.as_str().starts_with("proxy-"))
            .cloned()
            .collect();
        for name in proxy {
            headers.remove(name);
        }
    }
    seen
}

/// The index in [`HOP_BY_HOP`] of the (lower-case) header name `name`. A match on the text
/// (a length test, then at most two comparisons), not six `HeaderName` comparisons per
/// header: this runs over every request's and every response's headers.
fn hop_by_hop(name: &str) -> Option<usize> {
    match name {
        "connection" => Some(0),
        "te" => Some(1),
        "trailer" => Some(2),
        "transfer-encoding" => Some(3),
        "upgrade" => Some(4),
        "keep-alive" => Some(5),
        _ => None,
    }
}

/// The header names listed in `Connection`, when there are any besides the usual ones.
fn connection_tokens(headers: &HeaderMap) -> Option<Vec<HeaderName>> {
    let mut named = Vec::new();
    for value in headers.get_all(header::CONNECTION) {
        let Ok(text) = value.to_str() else { continue };
        for token in text.split(',') {
            let token = token.trim();
            if token.is_empty()
                || token.eq_ignore_ascii_case("close")
                || token.eq_ignore_ascii_case("keep-alive")
                || token.eq_ignore_ascii_case("upgrade")
            {
                continue;
            }
            if let Ok(name) = HeaderName::from_bytes(token.as_bytes()) {
                named.push(name);
            }
        }
    }
    (!named.is_empty()).then_some(named)
}

/// Whether `Connection` holds the token `wanted`.
pub fn connection_has(headers: &HeaderMap, wanted: &str) -> bool {
    headers.get_all(header::CONNECTION).iter().any(|value| {
        value.to_str().is_ok_and(|text| {
            text.split(',')
                .any(|token| token.trim().eq_ignore_ascii_case(wanted))
        })
    })
}

/// Whether `name` is on one of the lists hygiene strips, in any spelling.
fn suspect(name: &str) -> bool {
    spelled_as(name, &IDENTITY) || spelled_as(name, &ROUTING) || spelled_as(name, &FORWARDING)
}

/// `name` lower-cased (already, by `http`) with `_` read as `-`, compared against `list`.
fn spelled_as(name: &str, list: &[&str]) -> bool {
    list.iter().any(|wanted| {
        name.len() == wanted.len()
            && name
                .bytes()
                .zip(wanted.bytes())
                .all(|(a, b)| a == b || (a == b'_' && b == b'-'))
    })
}

/// Where the request came from, as the gateway saw it.
#[derive(Debug, Clone)]
pub struct Peer {
    /// The peer's IP address as text, the gateway's entry in `X-Forwarded-For`.
    pub ip: HeaderValue,
    /// The peer is a configured trusted proxy: its forwarding headers are believed.
    pub trusted: bool,
    /// The client connection used TLS.
    pub tls: bool,
}

/// Cleans the client's headers and adds the gateway's forwarding headers, and says what the
/// hop-by-hop pass saw ([`Seen`]). `host` is the `Host` the client asked for, when it sent one;
/// `own` is a header the gateway itself has put in already (the request id), which a client's
/// `Connection` cannot name away.
pub fn prepare_request_headers(
    headers: &mut HeaderMap,
    peer: &Peer,
    host: Option<&HeaderValue>,
    own: &HeaderName,
) -> Seen {
    let seen = remove_hop_by_hop_keeping(headers, Some(own));

    let prior_for: Option<String> = if peer.trusted {
        let values: Vec<&str> = headers
            .get_all(&X_FORWARDED_FOR)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        (!values.is_empty()).then(|| values.join(", "))
    } else {
        None
    };
    let prior_proto = peer
        .trusted
        .then(|| headers.get(&X_FORWARDED_PROTO).cloned())
        .flatten();
    let prior_host = peer
        .trusted
        .then(|| headers.get(&X_FORWARDED_HOST).cloned())
        .flatten();

    // Without a suspect name there is nothing to look for.
    let suspicious: Vec<HeaderName> = if !seen.suspect {
        Vec::new()
    } else {
        headers
            .keys()
            .filter(|name| {
                // A trusted proxy's forwarding headers, spelled exactly, stay (`X-Forwarded-For`
                // is rebuilt below): the lists share no name, so that spares no identity or
                // routing header.
                let name = name.as_str();
                let kept = peer.trusted && FORWARDING.contains(&name) && name != "x-forwarded-for";
                suspect(name) && !kept
            })
            .cloned()
            .collect()
    };
    for name in suspicious {
        headers.remove(name);
    }

    let forwarded_for = match prior_for {
        Some(prior) => peer
            .ip
            .to_str()
            .ok()
            .and_then(|ip| HeaderValue::from_str(&format!("{prior}, {ip}")).ok()),
        None => Some(peer.ip.clone()),
    };
    if let Some(value) = forwarded_for {
        headers.insert(X_FORWARDED_FOR, value);
    }
    let proto = prior_proto
        .unwrap_or_else(|| HeaderValue::from_static(if peer.tls { "https" } else { "http" }));
    headers.insert(X_FORWARDED_PROTO, proto);
    if let Some(host) = prior_host.or_else(|| host.cloned()) {
        headers.insert(X_FORWARDED_HOST, host);
    }
    seen
}

/// `ip` as a header value, made once per connection for `X-Forwarded-For`.
pub fn ip_header_value(ip: std::net::IpAddr) -> HeaderValue {
    HeaderValue::from_maybe_shared(bytes::Bytes::from(ip.to_string()))
        .unwrap_or_else(|_| HeaderValue::from_static("unknown"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr};

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    /// The gateway's own header in the tests: a request id.
    const OWN: HeaderName = HeaderName::from_static("x-request-id");

    #[test]
    fn a_clients_connection_cannot_name_the_gateways_own_header_away() {
        let mut h = map(&[
            ("connection", "x-request-id, x-hop"),
            ("x-request-id", "gateway-made"),
            ("x-hop", "1"),
        ]);
        prepare_request_headers(&mut h, &peer(), None, &OWN);
        assert_eq!(h["x-request-id"], "gateway-made");
        assert!(h.get("x-hop").is_none());
        // A response's hop-by-hop pass keeps nothing back.
        let mut h = map(&[("connection", "x-request-id"), ("x-request-id", "upstream")]);
        remove_hop_by_hop(&mut h);
        assert!(h.get("x-request-id").is_none());
    }

    fn peer() -> Peer {
        Peer {
            ip: ip_header_value(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 7))),
            trusted: false,
            tls: true,
        }
    }

    #[test]
    fn a_trusted_proxys_forwarding_names_are_no_identity_or_routing_name() {
        for name in FORWARDING {
            assert!(
                !spelled_as(name, &IDENTITY) && !spelled_as(name, &ROUTING),
                "{name}"
            );
        }
    }

    #[test]
    fn the_hop_by_hop_pass_says_what_else_it_saw() {
        let mut plain = map(&[
            ("host", "a"),
            ("accept", "*/*"),
            ("proxy-authorization", "x"),
        ]);
        assert_eq!(remove_hop_by_hop(&mut plain), Seen::default());
        assert!(plain.get("proxy-authorization").is_none());
        let mut h = map(&[("cookie", "a=1"), ("x-auth-user", "mallory")]);
        let seen = remove_hop_by_hop(&mut h);
        assert_eq!(
            (seen.cookie, seen.set_cookie, seen.suspect),
            (true, false, true)
        );
        let mut h = map(&[("set-cookie", "a=1"), ("forwarded", "for=1.2.3.4")]);
        let seen = remove_hop_by_hop(&mut h);
        assert_eq!(
            (seen.cookie, seen.set_cookie, seen.suspect),
            (false, true, true)
        );
        // The request id and an application's own `x-` header are no suspects; an identity
        // header spelled with `_` is.
        let mut h = map(&[("x-request-id", "1"), ("x-app-trace", "2"), ("fancy", "3")]);
        assert!(!remove_hop_by_hop(&mut h).suspect);
        let mut h = map(&[("x_auth_user", "mallory")]);
        assert!(remove_hop_by_hop(&mut h).suspect);
        // What the pass saw is what the request's cleaning relies on.
        let mut h = map(&[("x-forwarded-for", "1.2.3.4"), ("cookie", "a=1")]);
        let seen = prepare_request_headers(&mut h, &peer(), None, &OWN);
        assert!(seen.cookie && seen.suspect);
        assert_eq!(h["x-forwarded-for"], "10.0.0.7");
    }

    #[test]
    fn hop_by_hop_and_connection_named_headers_go() {
        let mut h = map(&[
            ("connection", "keep-alive, X-Secret-Hop"),
            ("connection", "close"),
            ("x-secret-hop", "1"),
            ("keep-alive", "timeout=5"),
            ("te", "trailers"),
            ("trailer", "x-checksum"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "h2c"),
            ("proxy-authorization", "Basic abc"),
            ("proxy-connection", "keep-alive"),
            ("accept", "*/*"),
        ]);
        remove_hop_by_hop(&mut h);
        let left: Vec<&str> = h.keys().map(|k| k.as_str()).collect();
        assert_eq!(left, ["accept"]);
    }

    #[test]
    fn the_name_match_agrees_with_the_list() {
        for (i, name) in HOP_BY_HOP.iter().enumerate() {
            assert_eq!(hop_by_hop(name.as_str()), Some(i), "{name}");
        }
        for other in ["accept", "proxy-connection", "tee", "connections", ""] {
            assert_eq!(hop_by_hop(other), None, "{other}");
        }
    }

    #[test]
    fn spoofed_identity_and_forwarding_in_every_spelling() {
        let mut h = map(&[
            ("X-Auth-User", "admin"),
            ("x_auth_user", "admin"),
            ("X_AUTH_CLIENT", "x"),
            ("x-auth_scopes", "all"),
            ("X-Forwarded-For", "1.2.3.4"),
            ("x_forwarded_for", "1.2.3.4"),
            ("X-Forwarded-Host", "evil"),
            ("x-forwarded-proto", "http"),
            ("Forwarded", "for=1.2.3.4"),
            ("X-Real-IP", "1.2.3.4"),
            ("X-Original-URL", "/admin"),
            ("x-rewrite-url", "/admin"),
            ("x-app", "kept"),
        ]);
        let host = HeaderValue::from_static("gw.example.com");
        prepare_request_headers(&mut h, &peer(), Some(&host), &OWN);
        let mut left: Vec<(String, String)> = h
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_owned()))
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                ("x-app".to_owned(), "kept".to_owned()),
                ("x-forwarded-for".to_owned(), "10.0.0.7".to_owned()),
                ("x-forwarded-host".to_owned(), "gw.example.com".to_owned()),
                ("x-forwarded-proto".to_owned(), "https".to_owned()),
            ]
        );
    }

    #[test]
    fn trusted_proxy_forwarding_is_extended() {
        let mut h = map(&[
            ("x-forwarded-for", "203.0.113.9"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "public.example.com"),
            ("x_forwarded_for", "6.6.6.6"),
            ("x-auth-user", "admin"),
            ("x-original-url", "/admin"),
            ("x-rewrite-url", "/admin"),
        ]);
        let peer = Peer {
            trusted: true,
            tls: false,
            ..peer()
        };
        prepare_request_headers(
            &mut h,
            &peer,
            Some(&HeaderValue::from_static("internal")),
            &OWN,
        );
        assert_eq!(h["x-forwarded-for"], "203.0.113.9, 10.0.0.7");
        assert_eq!(h["x-forwarded-proto"], "https");
        assert_eq!(h["x-forwarded-host"], "public.example.com");
        assert!(h.get("x_forwarded_for").is_none());
        assert!(h.get("x-auth-user").is_none());
        assert!(h.get("x-original-url").is_none());
        assert!(h.get("x-rewrite-url").is_none());
    }
}
