//! `authgate::fuzz_entry::redirect_uri`, and what a browser makes of an accepted `http(s)`
//! URI: the WHATWG parser reads it, finds no user information, and for `http` a loopback
//! host, so the check and the browser agree on where the code goes.
#![no_main]

use authgate::config::check_redirect_uri;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    authgate::fuzz_entry::redirect_uri(data);
    let Ok(uri) = std::str::from_utf8(data) else {
        return;
    };
    // Only where a browser parses the URI: a private-use scheme (`com.example.app:/cb`) is
    // handed to the OS as a string. (`htt.p://h:port-that-is-not-a-number` is accepted
    // today; see the issue 12 note.)
    if check_redirect_uri(uri).is_err() || !(uri.starts_with("https:") || uri.starts_with("http:"))
    {
        return;
    }
    let parsed = url::Url::parse(uri);
    assert!(
        parsed.is_ok(),
        "accepted but unparseable: {uri:?} ({parsed:?})"
    );
    let Ok(parsed) = parsed else {
        return;
    };
    assert!(
        parsed.username().is_empty() && parsed.password().is_none(),
        "{uri:?}"
    );
    if parsed.scheme() == "http" {
        let host = parsed.host_str().unwrap_or_default();
        assert!(
            matches!(host, "127.0.0.1" | "[::1]" | "localhost"),
            "http to {host:?}: {uri:?}"
        );
    }
    if parsed.scheme() == "https" {
        assert!(parsed.host_str().is_some_and(|h| !h.is_empty()), "{uri:?}");
    }
});
