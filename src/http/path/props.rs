//! Property tests of [`normalize`]: its output is a fixed point (normalising it again gives
//! it back), always absolute, never holds a dot or empty segment, and agrees with a model of
//! dot-segment removal (RFC 3986 §5.2.4) that refuses any climb above `/`.

use super::*;
use proptest::prelude::*;

/// Segments of the kinds that matter: names, dots in every spelling, empties, escapes.
fn segment() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "a", "b", "api", "x-y", "%41", "~u", "a;b", ".a", "..a", "a..", "", ".", "..", "%2e",
        "%2E%2e", ".%2E", "%20",
    ])
}

/// What a segment is after decoding: `None` for `.`, `Some("..")` for a climb.
fn decoded(segment: &str) -> &str {
    match segment {
        "%41" => "A",
        "%2e" => ".",
        "%2E%2e" | ".%2E" => "..",
        other => other,
    }
}

/// The model: resolve dot segments over a stack; a `..` on an empty stack is refused.
fn model(segments: &[&str]) -> Result<String, PathRejection> {
    let mut stack: Vec<&str> = Vec::new();
    let mut trailing = false;
    for s in segments {
        match decoded(s) {
            "" | "." => trailing = true,
            ".." => {
                stack.pop().ok_or(PathRejection::ClimbsAboveRoot)?;
                trailing = true;
            }
            kept => {
                stack.push(kept);
                trailing = false;
            }
        }
    }
    let mut out = String::new();
    for s in &stack {
        out.push('/');
        out.push_str(s);
    }
    if out.is_empty() || trailing {
        out.push('/');
    }
    Ok(out)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn normalize_is_idempotent_and_absolute(raw in "/[a-zA-Z0-9./%;~_-]{0,40}") {
        if let Ok(out) = normalize(&raw) {
            prop_assert!(out.starts_with('/'));
            // Equal, not necessarily borrowed: the fast path takes only escape-free paths.
            let again = normalize(&out);
            prop_assert!(matches!(&again, Ok(a) if *a == out), "{raw:?} -> {out:?}");
            let inner = out.trim_start_matches('/');
            let inner = inner.strip_suffix('/').unwrap_or(inner);
            if !inner.is_empty() {
                for s in inner.split('/') {
                    prop_assert!(!matches!(s, "" | "." | ".."), "{raw:?} -> {out:?}");
                }
            }
        }
    }

    #[test]
    fn normalize_agrees_with_the_dot_segment_model(
        segments in prop::collection::vec(segment(), 0..10)
    ) {
        let raw = format!("/{}", segments.join("/"));
        let got = normalize(&raw).map(Cow::into_owned);
        prop_assert_eq!(got, model(&segments), "{}", raw);
    }

    #[test]
    fn normalize_never_climbs_above_the_root(
        segments in prop::collection::vec(prop::sample::select(vec!["a", "..", "%2e%2e", "."]), 0..12)
    ) {
        let raw = format!("/{}", segments.join("/"));
        let mut depth: i32 = 0;
        let mut climbs = false;
        for s in &segments {
            match *s {
                "a" => depth += 1,
                "." => {}
                _ => {
                    depth -= 1;
                    climbs |= depth < 0;
                }
            }
        }
        match normalize(&raw) {
            Ok(out) => {
                prop_assert!(!climbs, "{raw:?} -> {out:?}");
                prop_assert_eq!(out.matches("/a").count() as i32, depth);
            }
            Err(e) => {
                prop_assert!(climbs);
                prop_assert_eq!(e, PathRejection::ClimbsAboveRoot);
            }
        }
    }

    #[test]
    fn normalize_never_panics_on_any_text(raw in any::<String>()) {
        let _ = normalize(&raw);
        let _ = normalize(&format!("/{raw}"));
    }
}
