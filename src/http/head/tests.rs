//! The request-head rules as tables of cases.

use super::*;

fn headers(lines: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in lines {
        map.append(
            header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_bytes(value.as_bytes()).unwrap(),
        );
    }
    map
}

/// The host's name and authority as `check` gives them, or its refusal.
type Checked = Result<(Option<String>, Option<String>), HeadRejection>;

/// One case of a table: version, target, header lines, what `check` gives.
type Case<'a> = (Version, &'a str, &'a [(&'a str, &'a str)], Checked);

fn run(method: &str, version: Version, target: &str, lines: &[(&str, &str)]) -> Checked {
    let method = Method::from_bytes(method.as_bytes()).unwrap();
    let uri: Uri = target.parse().unwrap();
    let map = headers(lines);
    check(&method, version, &uri, &map).map(|host| {
        (
            host.name().map(|n| n.into_owned()),
            host.authority().map(|a| a.to_str().unwrap().to_owned()),
        )
    })
}

fn host(name: &str, authority: &str) -> Checked {
    Ok((Some(name.to_owned()), Some(authority.to_owned())))
}

const H11: Version = Version::HTTP_11;
const H10: Version = Version::HTTP_10;
const H2: Version = Version::HTTP_2;

#[test]
fn exactly_one_valid_host_on_http_1_1() {
    use HeadRejection::*;
    let cases: &[Case] = &[
        (
            H11,
            "/",
            &[("host", "a.example")],
            host("a.example", "a.example"),
        ),
        (
            H11,
            "/",
            &[("host", "A.Example:8443")],
            host("a.example", "A.Example:8443"),
        ),
        (
            H11,
            "/",
            &[("host", "[::1]:8443")],
            host("[::1]", "[::1]:8443"),
        ),
        (H11, "/", &[], Err(MissingHost)),
        (H11, "/", &[("host", "a"), ("host", "a")], Err(RepeatedHost)),
        (H11, "/", &[("host", "a"), ("host", "b")], Err(RepeatedHost)),
        (H11, "/", &[("host", "a, b")], Err(InvalidHost)),
        (H11, "/", &[("host", "user@a")], Err(InvalidHost)),
        (H11, "/", &[("host", "a b")], Err(InvalidHost)),
        (H11, "/", &[("host", "a/b")], Err(InvalidHost)),
        // An empty Host names no host (RFC 9112 §3.2); only routes without `host` serve it.
        (H11, "/", &[("host", "")], Ok((None, None))),
        // HTTP/1.0 may leave it out.
        (H10, "/", &[], Ok((None, None))),
        (H10, "/", &[("host", "a"), ("host", "a")], Err(RepeatedHost)),
    ];
    for (version, target, lines, expected) in cases {
        assert_eq!(
            &run("GET", *version, target, lines),
            expected,
            "{version:?} {target} {lines:?}"
        );
    }
}

#[test]
fn a_target_authority_is_the_host_and_host_must_agree() {
    use HeadRejection::*;
    let cases: &[Case] = &[
        // Absolute form (RFC 9112 §3.2.2).
        (
            H11,
            "http://a.example/x",
            &[("host", "a.example")],
            host("a.example", "a.example"),
        ),
        (
            H11,
            "http://A.example/x",
            &[("host", "a.EXAMPLE")],
            host("a.example", "A.example"),
        ),
        (
            H11,
            "http://a.example/x",
            &[("host", "a.example:80")],
            host("a.example", "a.example"),
        ),
        (
            H11,
            "https://a.example/x",
            &[("host", "a.example:443")],
            host("a.example", "a.example"),
        ),
        (
            H11,
            "http://a.example/x",
            &[("host", "b.example")],
            Err(HostMismatch),
        ),
        (
            H11,
            "http://a.example/x",
            &[("host", "a.example:8080")],
            Err(HostMismatch),
        ),
        (H11, "http://a.example/x", &[], Err(MissingHost)),
        (
            H11,
            "http://a.example/x",
            &[("host", "a"), ("host", "a")],
            Err(RepeatedHost),
        ),
        (
            H11,
            "http://u@a.example/x",
            &[("host", "a.example")],
            Err(InvalidHost),
        ),
        // HTTP/2: `:authority` with or without a `host` that agrees.
        (
            H2,
            "https://a.example/x",
            &[],
            host("a.example", "a.example"),
        ),
        (
            H2,
            "https://a.example/x",
            &[("host", "a.example")],
            host("a.example", "a.example"),
        ),
        (
            H2,
            "https://a.example/x",
            &[("host", "b.example")],
            Err(HostMismatch),
        ),
        (
            H2,
            "/x",
            &[("host", "a.example")],
            host("a.example", "a.example"),
        ),
        (H2, "/x", &[], Err(MissingHost)),
    ];
    for (version, target, lines, expected) in cases {
        assert_eq!(
            &run("GET", *version, target, lines),
            expected,
            "{version:?} {target} {lines:?}"
        );
    }
}

#[test]
fn chunked_exactly_once_and_no_other_coding() {
    use HeadRejection::*;
    let ok = host("a", "a");
    let cases: &[(&[(&str, &str)], _)] = &[
        (&[("transfer-encoding", "chunked")], ok.clone()),
        (&[("transfer-encoding", "Chunked")], ok.clone()),
        (&[("transfer-encoding", " , chunked")], ok.clone()),
        (
            &[
                ("transfer-encoding", "chunked"),
                ("transfer-encoding", "chunked"),
            ],
            Err(BadFraming),
        ),
        (
            &[("transfer-encoding", "chunked, chunked")],
            Err(BadFraming),
        ),
        (
            &[("transfer-encoding", "gzip, chunked")],
            Err(UnsupportedCoding),
        ),
        (
            &[
                ("transfer-encoding", "gzip"),
                ("transfer-encoding", "chunked"),
            ],
            Err(UnsupportedCoding),
        ),
        (
            &[("transfer-encoding", "identity, chunked")],
            Err(UnsupportedCoding),
        ),
        (
            &[("transfer-encoding", "chunked;x=1")],
            Err(UnsupportedCoding),
        ),
        (&[("transfer-encoding", "x\u{80}")], Err(BadFraming)),
    ];
    for (extra, expected) in cases {
        let mut lines = vec![("host", "a")];
        lines.extend_from_slice(extra);
        assert_eq!(&run("POST", H11, "/", &lines), expected, "{extra:?}");
    }
}

#[test]
fn trace_track_and_connect_are_never_forwarded() {
    for method in ["TRACE", "TRACK", "CONNECT"] {
        assert_eq!(
            run(method, H11, "/", &[("host", "a")]),
            Err(HeadRejection::MethodRefused),
            "{method}"
        );
    }
    for method in [
        "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "PROPFIND",
    ] {
        assert!(run(method, H11, "/", &[("host", "a")]).is_ok(), "{method}");
    }
}

#[test]
fn plain_host_only_takes_what_the_full_authority_parse_accepts() {
    let cases = [
        ("example.com", Some("example.com")),
        ("Example.COM:8080", Some("Example.COM")),
        ("127.0.0.1:443", Some("127.0.0.1")),
        ("a-b.c:1", Some("a-b.c")),
        ("x:", None),
        (":80", None),
        ("[::1]:80", None),
        ("user@host", None),
        ("h%41", None),
        ("host:123456", None),
        ("host:8a", None),
        ("ho st", None),
        ("h_o", None),
        ("", None),
    ];
    for (text, expected) in cases {
        assert_eq!(plain_host(text), expected, "{text:?}");
        if let Some(host) = plain_host(text) {
            let authority: Authority = text.parse().unwrap();
            assert_eq!(authority.host(), host, "{text:?}");
        }
    }
}

#[test]
fn a_host_is_a_dns_name_or_an_ip_literal_and_its_trailing_dot_names_the_same_host() {
    use HeadRejection::InvalidHost;
    // What the URI grammar allows in a host but a server or virtual host behind may read
    // otherwise than the gateway's exact match.
    for bad in [
        "gr%61fana.example",
        "a!b.example",
        "a..example",
        ".a.example",
        ".",
        "a;b",
    ] {
        assert_eq!(
            run("GET", H11, "/", &[("host", bad)]),
            Err(InvalidHost),
            "{bad}"
        );
    }
    for (sent, name) in [
        ("A.example.", "a.example"),
        ("a.example.:8443", "a.example"),
        ("my_service:80", "my_service"),
        ("[::1]", "[::1]"),
    ] {
        assert_eq!(
            run("GET", H11, "/", &[("host", sent)]),
            host(name, sent),
            "{sent}"
        );
    }
    let absolute = run("GET", H11, "http://a.example./x", &[("host", "a.example.")]);
    assert_eq!(absolute, host("a.example", "a.example."));
    // (An escape in an absolute-form authority never gets here: the URI parser refuses it.)
}
