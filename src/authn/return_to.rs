//! Where a browser may be sent back to after signing in or out: a same-origin relative path,
//! parsed and re-serialised, or `/`.
//!
//! oauth2-proxy's advisories are the catalogue: `//evil.example`, `/\evil.example`,
//! `https://…`, `javascript:`, and their percent-encoded, tab- and newline-laced and
//! mixed-slash forms. Anything that is not plainly a path on this site becomes `/`.

use crate::http::path::normalize;

/// A safe return path for `candidate` (path and optional query), or `/`.
pub fn safe_return_path(candidate: &str) -> String {
    check(candidate).unwrap_or_else(|| "/".to_owned())
}

fn check(candidate: &str) -> Option<String> {
    if candidate.len() > 2048 {
        return None;
    }
    // Browsers drop tabs and newlines inside URLs, so they can hide `//`.
    if candidate
        .bytes()
        .any(|b| b < 0x21 || b == 0x7f || b >= 0x80)
    {
        return None;
    }
    let (path, query) = match candidate.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (candidate, None),
    };
    if !path.starts_with('/') || path.starts_with("//") || path.contains('\\') {
        return None;
    }
    // Decode once more than a browser would and look again: `/%2F/evil`, `/%5Cevil`.
    let lowered = path.to_ascii_lowercase();
    if lowered.contains("%2f") || lowered.contains("%5c") || lowered.contains("%09") {
        return None;
    }
    let normal = normalize(path).ok()?;
    if normal.starts_with("//") {
        return None;
    }
    if query.is_some_and(|q| q.contains('#')) {
        return None;
    }
    Some(match query {
        Some(q) => format!("{normal}?{q}"),
        None => normal.into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_paths_survive() {
        assert_eq!(safe_return_path("/"), "/");
        assert_eq!(safe_return_path("/app/page?x=1&y=2"), "/app/page?x=1&y=2");
        assert_eq!(safe_return_path("/a/./b/../c"), "/a/c");
    }

    #[test]
    fn open_redirect_forms_never_leave_the_site() {
        for bad in [
            "//evil.example",
            "///evil.example",
            "/\\evil.example",
            "\\/evil.example",
            "/\\/evil.example",
            "https://evil.example",
            "http:evil.example",
            "javascript:alert(1)",
            "JaVaScRiPt:alert(1)",
            "/%2Fevil.example",
            "/%2fevil.example",
            "/%5Cevil.example",
            "/%5cevil.example",
            "%2F%2Fevil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "/%09/evil.example",
            " //evil.example",
            "evil.example",
            "",
            "/../../evil",
            "/x#//evil",
        ] {
            assert_eq!(safe_return_path(bad), "/", "{bad:?}");
        }
    }
}
