//! The one canonical path normalisation, used both to choose a route and to build the path
//! the upstream receives, so that no upstream can see a path that matched another route.
//!
//! What it does (RFC 3986 §6.2.2 plus the refusals that reverse proxies have learnt the hard
//! way): percent-encoded unreserved characters are decoded, other escapes are kept with
//! upper-case hex, `.` and `..` segments are resolved, repeated slashes are merged. It refuses
//! what different servers read differently: `%2F` and `%5C` (a slash that is not one), `%00`
//! and control bytes, raw backslashes and `#`, non-ASCII bytes, `..;` path-parameter tricks
//! and `..` climbing above the root. The query never takes part: callers pass only the path.

use std::borrow::Cow;
use std::fmt;

/// Why a request path was refused (always a 400).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathRejection {
    /// The request target is not an absolute path (`*`, empty).
    NotAbsolute,
    /// `%2F`: a slash hidden from segment splitting.
    EncodedSlash,
    /// `%5C` or a raw `\`: a separator on some servers, not on others.
    Backslash,
    /// `%00`, or any raw or encoded control byte.
    ControlByte,
    /// `%` not followed by two hex digits.
    BadEscape,
    /// A raw `#` or a byte outside ASCII.
    IllegalCharacter,
    /// A `..;` or `.;` segment (Tomcat-style path parameters on a dot segment).
    DotSegmentParameter,
    /// `..` above the root.
    ClimbsAboveRoot,
    /// A `;` path parameter (raw or `%3B`) on a route that does not accept them.
    PathParameter,
}

impl fmt::Display for PathRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PathRejection::NotAbsolute => "the path must start with `/`",
            PathRejection::EncodedSlash => "the path holds an encoded slash (%2F)",
            PathRejection::Backslash => "the path holds a backslash or %5C",
            PathRejection::ControlByte => "the path holds a NUL or control byte",
            PathRejection::BadEscape => "the path holds a malformed percent-escape",
            PathRejection::IllegalCharacter => "the path holds `#` or a non-ASCII byte",
            PathRejection::DotSegmentParameter => "the path holds a `..;` segment",
            PathRejection::ClimbsAboveRoot => "the path climbs above the root",
            PathRejection::PathParameter => "the path holds a `;` path parameter",
        })
    }
}

impl std::error::Error for PathRejection {}

/// Normalises an absolute request path (without its query). Most paths are already in
/// normal form and are returned borrowed, after one scan.
pub fn normalize(raw: &str) -> Result<Cow<'_, str>, PathRejection> {
    let bytes = raw.as_bytes();
    if bytes.first() != Some(&b'/') {
        return Err(PathRejection::NotAbsolute);
    }
    if is_plain(bytes) {
        return Ok(Cow::Borrowed(raw));
    }
    normalize_slow(raw).map(Cow::Owned)
}

/// Whether a request path, as received, carries path parameters: a `;` in a segment, raw or
/// encoded (`%3B`, `%3b`). Tomcat, Jetty and Spring cut a segment's `;…` off before they
/// route; the gateway does not, so the two would read `/api/admin;x/y` as different paths.
/// Checked on the raw path: normalising first could make a parameter vanish with the segment
/// a `..` removes (`/a/;x/../b`), which a server that cuts first reads differently.
pub fn has_parameters(raw: &str) -> bool {
    raw.contains(';')
        || raw
            .as_bytes()
            .windows(3)
            .any(|w| matches!(w, [b'%', b'3', b'B' | b'b']))
}

/// A request path with every segment's parameters cut off, then normalised (`/a;x/b` →
/// `/a/b`, `/a/;x/../b` → `/b`): the path a server that cuts parameters first serves, which
/// is the one to choose a route by.
pub fn without_parameters(raw: &str) -> Result<String, PathRejection> {
    let mut cut = String::with_capacity(raw.len());
    for (i, segment) in raw.split('/').enumerate() {
        if i > 0 {
            cut.push('/');
        }
        let end = segment
            .as_bytes()
            .windows(3)
            .position(|w| matches!(w, [b'%', b'3', b'B' | b'b']))
            .into_iter()
            .chain(segment.find(';'))
            .min()
            .unwrap_or(segment.len());
        cut.push_str(segment.get(..end).unwrap_or(segment));
    }
    normalize(&cut).map(Cow::into_owned)
}

/// True when `path` has nothing to decode, resolve, merge or refuse: no escape, no special
/// byte, and no segment that is empty or starts with a dot.
fn is_plain(path: &[u8]) -> bool {
    let mut after_slash = false;
    for &b in path {
        let special = matches!(b, b'%' | b'\\' | b'#' | 0x00..=0x1f | 0x7f..=0xff);
        if special || (after_slash && (b == b'/' || b == b'.')) {
            return false;
        }
        after_slash = b == b'/';
    }
    true
}

fn normalize_slow(raw: &str) -> Result<String, PathRejection> {
    let mut out = String::with_capacity(raw.len());
    // Byte offsets in `out` where each kept segment's leading '/' sits, for `..`.
    let mut starts: Vec<usize> = Vec::new();
    let mut segment = String::new();
    let mut trailing_slash = false;
    // `raw` starts with `/` (checked by `normalize`).
    for raw_segment in raw.get(1..).unwrap_or("").split('/') {
        decode_segment(raw_segment, &mut segment)?;
        // A dot segment with parameters, raw or encoded (`..;x`, `..%3Bx`), is `..` to a
        // server that cuts parameters off before resolving dots.
        let name = segment.split(';').next().unwrap_or("");
        let name = name.split("%3B").next().unwrap_or("");
        if name.len() < segment.len() && (name == "." || name == "..") {
            return Err(PathRejection::DotSegmentParameter);
        }
        match segment.as_str() {
            "" => trailing_slash = true,
            "." => trailing_slash = true,
            ".." => {
                let start = starts.pop().ok_or(PathRejection::ClimbsAboveRoot)?;
                out.truncate(start);
                trailing_slash = true;
            }
            kept => {
                starts.push(out.len());
                out.push('/');
                out.push_str(kept);
                trailing_slash = false;
            }
        }
    }
    if out.is_empty() || trailing_slash {
        out.push('/');
    }
    Ok(out)
}

/// Decodes one segment into `out`: unreserved escapes decoded, others kept upper-cased.
fn decode_segment(raw: &str, out: &mut String) -> Result<(), PathRejection> {
    out.clear();
    let bytes = raw.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'%' => {
                let hi = bytes.get(i + 1).and_then(|c| hex_value(*c));
                let lo = bytes.get(i + 2).and_then(|c| hex_value(*c));
                let (Some(hi), Some(lo)) = (hi, lo) else {
                    return Err(PathRejection::BadEscape);
                };
                let value = hi << 4 | lo;
                match value {
                    b'/' => return Err(PathRejection::EncodedSlash),
                    b'\\' => return Err(PathRejection::Backslash),
                    0x00..=0x1f | 0x7f => return Err(PathRejection::ControlByte),
                    v if is_unreserved(v) => out.push(char::from(v)),
                    v => {
                        out.push('%');
                        out.push(char::from(HEX_UPPER[usize::from(v >> 4)]));
                        out.push(char::from(HEX_UPPER[usize::from(v & 0xf)]));
                    }
                }
                i += 3;
            }
            b'\\' => return Err(PathRejection::Backslash),
            0x00..=0x1f | 0x7f => return Err(PathRejection::ControlByte),
            b'#' | 0x80..=0xff => return Err(PathRejection::IllegalCharacter),
            _ => {
                out.push(char::from(b));
                i += 1;
            }
        }
    }
    Ok(())
}

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// RFC 3986 §2.3.
fn is_unreserved(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_forms() {
        let cases = [
            ("/", "/"),
            ("/api", "/api"),
            ("/api/", "/api/"),
            ("/a/b/c", "/a/b/c"),
            ("//a///b", "/a/b"),
            ("/a/./b", "/a/b"),
            ("/a/b/..", "/a/"),
            ("/a/b/../c", "/a/c"),
            ("/a/.", "/a/"),
            ("/%61%70%69/x", "/api/x"),
            ("/a/%2E%2E/b", "/b"),
            ("/a%20b", "/a%20b"),
            ("/a%3fb", "/a%3Fb"),
            ("/~user/-_.", "/~user/-_."),
            ("/a;b=c", "/a;b=c"),
            ("/..a/b..", "/..a/b.."),
        ];
        for (raw, want) in cases {
            assert_eq!(normalize(raw).as_deref(), Ok(want), "normalize({raw:?})");
        }
    }

    #[test]
    fn refusals() {
        use PathRejection::*;
        let cases = [
            ("", NotAbsolute),
            ("*", NotAbsolute),
            ("api", NotAbsolute),
            ("/a%2Fb", EncodedSlash),
            ("/a%2fb", EncodedSlash),
            ("/a%5Cb", Backslash),
            ("/a%5cb", Backslash),
            ("/a\\b", Backslash),
            ("/a%00b", ControlByte),
            ("/a\0b", ControlByte),
            ("/a%0Ab", ControlByte),
            ("/a\tb", ControlByte),
            ("/a%7f", ControlByte),
            ("/a%zz", BadEscape),
            ("/a%4", BadEscape),
            ("/a%", BadEscape),
            ("/a#b", IllegalCharacter),
            ("/caf\u{e9}", IllegalCharacter),
            ("/..;/admin", DotSegmentParameter),
            ("/a/..;x/b", DotSegmentParameter),
            ("/a/.;/b", DotSegmentParameter),
            ("/a/..%3Bx/b", DotSegmentParameter),
            ("/a/%2e%2e%3bx/b", DotSegmentParameter),
            ("/a/.%3B/b", DotSegmentParameter),
            ("/..", ClimbsAboveRoot),
            ("/../a", ClimbsAboveRoot),
            ("/a/../..", ClimbsAboveRoot),
            ("/a/%2e%2e/%2e%2e/etc", ClimbsAboveRoot),
        ];
        for (raw, want) in cases {
            assert_eq!(normalize(raw), Err(want), "normalize({raw:?})");
        }
    }

    #[test]
    fn fast_path_agrees_with_the_full_algorithm() {
        for raw in [
            "/", "/api/x", "/a.b/c.d", "/a;b", "/x-y_z~", "/a/", "/a//b", "/a/.b", "/a%41",
        ] {
            assert_eq!(normalize(raw), normalize_slow(raw).map(Cow::Owned), "{raw}");
        }
        assert!(matches!(
            normalize("/api/v1/users.json"),
            Ok(Cow::Borrowed(_))
        ));
    }

    #[test]
    fn idempotent() {
        for raw in ["/a//b/./c/../d/", "/%7euser", "/x%20y/%41"] {
            let once = normalize(raw).unwrap();
            assert_eq!(normalize(&once).unwrap(), once);
        }
    }

    #[test]
    fn path_parameters_are_found_raw_and_encoded_and_cut_for_matching() {
        for (path, has) in [
            ("/api/admin;x/y", true),
            ("/api/admin%3Bx/y", true),
            ("/api/admin%3bx/y", true),
            ("/api;", true),
            ("/api/admin/y", false),
            ("/api/%3A", false),
            ("/api/%3", false),
        ] {
            assert_eq!(has_parameters(path), has, "{path}");
        }
        for (path, cut) in [
            ("/api/admin;x/y", "/api/admin/y"),
            ("/api/admin%3Bx=1/y", "/api/admin/y"),
            ("/api/admin%3bx/y", "/api/admin/y"),
            ("/api/admin;jsessionid=1", "/api/admin"),
            ("/api/;x/admin", "/api/admin"),
            ("/a/;x/../b", "/b"),
            ("/a;x/b;y/", "/a/b/"),
            ("/;x", "/"),
            ("/a/b", "/a/b"),
        ] {
            assert_eq!(without_parameters(path).as_deref(), Ok(cut), "{path}");
        }
        assert_eq!(
            without_parameters("/a;x/../.."),
            Err(PathRejection::ClimbsAboveRoot)
        );
    }
}

#[cfg(test)]
mod props;
