//! `authgate::fuzz_entry::return_path`, and what a browser makes of the answer: resolved
//! against the gateway's own URL by the WHATWG parser, a return path never leaves the origin.
#![no_main]

use authgate::authn::return_to::safe_return_path;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    authgate::fuzz_entry::return_path(data);
    let out = safe_return_path(&String::from_utf8_lossy(data));
    let Ok(base) = url::Url::parse("https://gw.example.com/some/page?x=1") else {
        return;
    };
    let joined = base.join(&out);
    assert!(
        matches!(&joined, Ok(u) if u.origin() == base.origin()
            && u.username().is_empty() && u.password().is_none()),
        "{out:?} -> {joined:?}"
    );
});
