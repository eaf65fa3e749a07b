//! One access line, formatted as logfmt or JSON straight into the caller's buffer: no
//! allocation (the buffer is reused, see `buffer.rs`), no `fmt` machinery for the common
//! fields (numbers, IPv4 peers and the timestamp are written digit by digit).
//!
//! Every text field is escaped, whoever set it: the path and the method come from the
//! client, the route and upstream from the configuration. A quote, a backslash, a newline
//! or any other control byte can therefore neither end a value nor start a forged line. Only
//! fields of [`Entry`] are ever written; no header value (so neither `Authorization` nor
//! `Cookie`) and no query string reaches this module.

use std::io::Write as _;
use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::config::AccessFormat;

/// Everything one access line holds, in the order it is written. Absent text is `"-"`.
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    /// When the line was written (the response's end).
    pub time: SystemTime,
    pub method: &'a str,
    /// The request's path, never its query.
    pub path: &'a str,
    pub status: u16,
    pub route: &'a str,
    pub upstream: &'a str,
    /// Why the gateway answered itself.
    pub reason: &'a str,
    pub peer: Option<SocketAddr>,
    /// Body bytes sent.
    pub bytes: u64,
    /// From the request to the end of its response body, in microseconds.
    pub duration_us: u64,
    /// False when the client or the upstream broke off.
    pub complete: bool,
    pub request_id: &'a str,
}

/// Appends `entry` as one line (ending in `\n`) to `out`.
pub fn write_line(out: &mut Vec<u8>, format: AccessFormat, entry: &Entry<'_>) {
    match format {
        AccessFormat::Logfmt => logfmt(out, entry),
        AccessFormat::Json => json(out, entry),
    }
}

fn logfmt(out: &mut Vec<u8>, e: &Entry<'_>) {
    out.extend_from_slice(b"timestamp=");
    timestamp(out, e.time);
    logfmt_text(out, b" method=", e.method);
    logfmt_text(out, b" path=", e.path);
    out.extend_from_slice(b" status=");
    number(out, u64::from(e.status));
    logfmt_text(out, b" route=", e.route);
    logfmt_text(out, b" upstream=", e.upstream);
    logfmt_text(out, b" reason=", e.reason);
    out.extend_from_slice(b" peer=");
    peer(out, e.peer);
    out.extend_from_slice(b" bytes=");
    number(out, e.bytes);
    out.extend_from_slice(b" duration_ms=");
    millis(out, e.duration_us);
    out.extend_from_slice(if e.complete {
        b" complete=true"
    } else {
        b" complete=false"
    });
    logfmt_text(out, b" request_id=", e.request_id);
    out.push(b'\n');
}

fn json(out: &mut Vec<u8>, e: &Entry<'_>) {
    out.extend_from_slice(b"{\"timestamp\":\"");
    timestamp(out, e.time);
    json_text(out, b"\",\"method\":\"", e.method);
    json_text(out, b"\",\"path\":\"", e.path);
    out.extend_from_slice(b"\",\"status\":");
    number(out, u64::from(e.status));
    json_text(out, b",\"route\":\"", e.route);
    json_text(out, b"\",\"upstream\":\"", e.upstream);
    json_text(out, b"\",\"reason\":\"", e.reason);
    out.extend_from_slice(b"\",\"peer\":\"");
    peer(out, e.peer);
    out.extend_from_slice(b"\",\"bytes\":");
    number(out, e.bytes);
    out.extend_from_slice(b",\"duration_ms\":");
    millis(out, e.duration_us);
    out.extend_from_slice(if e.complete {
        b",\"complete\":true"
    } else {
        b",\"complete\":false"
    });
    json_text(out, b",\"request_id\":\"", e.request_id);
    out.extend_from_slice(b"\"}\n");
}

/// Whether `byte` must be escaped inside a quoted value (both formats).
fn needs_escape(byte: u8) -> bool {
    byte < 0x20 || byte == 0x7f || byte == b'"' || byte == b'\\'
}

/// Whether a logfmt value must be quoted: empty, or holding a space, `=`, a quote or
/// anything [`needs_escape`].
fn needs_quotes(text: &str) -> bool {
    text.is_empty()
        || text
            .bytes()
            .any(|b| b == b' ' || b == b'=' || needs_escape(b))
}

fn logfmt_text(out: &mut Vec<u8>, key: &[u8], text: &str) {
    out.extend_from_slice(key);
    if needs_quotes(text) {
        out.push(b'"');
        escaped(out, text);
        out.push(b'"');
    } else {
        out.extend_from_slice(text.as_bytes());
    }
}

/// `prefix` (which opens the value's quotes) and `text` escaped as a JSON string's content.
fn json_text(out: &mut Vec<u8>, prefix: &[u8], text: &str) {
    out.extend_from_slice(prefix);
    escaped(out, text);
}

/// `text` with quotes, backslashes and control bytes escaped as JSON does (`\"`, `\\`, `\n`,
/// `\r`, `\t`, else `\u00XX`); logfmt readers take the same escapes. Everything else,
/// non-ASCII UTF-8 included, is copied as it is (`text` is valid UTF-8, so is the output).
fn escaped(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    let mut plain_from = 0;
    for (at, &byte) in bytes.iter().enumerate() {
        if !needs_escape(byte) {
            continue;
        }
        out.extend_from_slice(bytes.get(plain_from..at).unwrap_or_default());
        plain_from = at + 1;
        match byte {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            other => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(other >> 4)]);
                out.push(HEX[usize::from(other & 0xf)]);
            }
        }
    }
    out.extend_from_slice(bytes.get(plain_from..).unwrap_or_default());
}

/// `n` in decimal.
fn number(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(digits.get(at..).unwrap_or_default());
}

/// `us` microseconds as milliseconds with up to three decimals and no trailing zeros
/// (`1234` → `1.234`, `1200` → `1.2`, `5000` → `5`): a JSON number and a logfmt value alike.
fn millis(out: &mut Vec<u8>, us: u64) {
    number(out, us / 1000);
    let mut frac = us % 1000;
    if frac == 0 {
        return;
    }
    let mut width = 3;
    while frac.is_multiple_of(10) {
        frac /= 10;
        width -= 1;
    }
    out.push(b'.');
    let mut digits = [b'0'; 3];
    let mut at = width;
    while frac > 0 {
        at -= 1;
        digits[at] = b'0' + (frac % 10) as u8;
        frac /= 10;
    }
    out.extend_from_slice(digits.get(..width).unwrap_or_default());
}

/// The client connection's address, `-` when unknown. IPv4 digit by digit; IPv6 (rarer,
/// and with scope ids) through its `Display`, which writes into `out` without allocating.
fn peer(out: &mut Vec<u8>, peer: Option<SocketAddr>) {
    match peer {
        None => out.push(b'-'),
        Some(SocketAddr::V4(v4)) => {
            for (i, octet) in v4.ip().octets().iter().enumerate() {
                if i > 0 {
                    out.push(b'.');
                }
                number(out, u64::from(*octet));
            }
            out.push(b':');
            number(out, u64::from(v4.port()));
        }
        Some(v6) => {
            let _ = write!(out, "{v6}");
        }
    }
}

/// `time` as RFC 3339 in UTC with milliseconds: `2026-12-02T16:14:26.123Z`.
fn timestamp(out: &mut Vec<u8>, time: SystemTime) {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (year, month, day) = civil_from_days(secs / 86_400);
    let of_day = secs % 86_400;
    padded(out, year, 4);
    out.push(b'-');
    padded(out, month, 2);
    out.push(b'-');
    padded(out, day, 2);
    out.push(b'T');
    padded(out, of_day / 3600, 2);
    out.push(b':');
    padded(out, of_day / 60 % 60, 2);
    out.push(b':');
    padded(out, of_day % 60, 2);
    out.push(b'.');
    padded(out, u64::from(since.subsec_millis()), 3);
    out.push(b'Z');
}

/// `n` in decimal with at least `width` digits (at most 4 are padded).
fn padded(out: &mut Vec<u8>, n: u64, width: usize) {
    let mut below = 10u64.pow(width.saturating_sub(1).min(3) as u32);
    while below > 1 && n < below {
        out.push(b'0');
        below /= 10;
    }
    number(out, n);
}

/// The proleptic Gregorian date of the `days`-th day after 1970-01-01 (H. Hinnant's
/// `civil_from_days`, for days on or after the epoch).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn entry(path: &'static str) -> Entry<'static> {
        Entry {
            time: UNIX_EPOCH + Duration::from_millis(1_796_228_066_123),
            method: "GET",
            path,
            status: 200,
            route: "/api/",
            upstream: "http://127.0.0.1:9000",
            reason: "-",
            peer: Some("127.0.0.1:40000".parse().unwrap()),
            bytes: 1234,
            duration_us: 1_500,
            complete: true,
            request_id: "0f3a",
        }
    }

    fn line(format: AccessFormat, entry: &Entry<'_>) -> String {
        let mut out = Vec::new();
        write_line(&mut out, format, entry);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn logfmt_keeps_the_documented_fields_in_order() {
        assert_eq!(
            line(AccessFormat::Logfmt, &entry("/api/x")),
            "timestamp=2026-12-02T16:14:26.123Z method=GET path=/api/x status=200 route=/api/ \
             upstream=http://127.0.0.1:9000 reason=- peer=127.0.0.1:40000 bytes=1234 \
             duration_ms=1.5 complete=true request_id=0f3a\n"
        );
    }

    #[test]
    fn json_is_one_object_with_typed_fields() {
        let text = line(AccessFormat::Json, &entry("/api/x"));
        assert!(
            text.ends_with("}\n") && text.matches('\n').count() == 1,
            "{text}"
        );
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        let mut expected = [
            "timestamp",
            "method",
            "path",
            "status",
            "route",
            "upstream",
            "reason",
            "peer",
            "bytes",
            "duration_ms",
            "complete",
            "request_id",
        ];
        expected.sort_unstable();
        assert_eq!(keys, expected, "serde_json's map is sorted");
        assert_eq!(v["timestamp"], "2026-12-02T16:14:26.123Z");
        assert_eq!(v["status"], 200);
        assert_eq!(v["bytes"], 1234);
        assert_eq!(v["duration_ms"], 1.5);
        assert_eq!(v["complete"], true);
        assert_eq!(v["peer"], "127.0.0.1:40000");
        assert!(
            text.starts_with("{\"timestamp\":")
                && text.contains("\"complete\":true,\"request_id\":")
        );
    }

    /// Every byte a path could hold, quotes, backslashes, newlines and control bytes
    /// included, comes back intact from a JSON parser, on one line.
    #[test]
    fn json_escapes_whatever_the_path_holds() {
        let nasty: String = (0u8..0x80)
            .map(char::from)
            .chain("é/ü\u{2028}".chars())
            .collect();
        let mut e = entry("");
        e.path = &nasty;
        e.method = "GE\"T";
        let text = line(AccessFormat::Json, &e);
        assert_eq!(text.matches('\n').count(), 1, "{text}");
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["path"], nasty.as_str());
        assert_eq!(v["method"], "GE\"T");
        assert!(text.contains(r"\t\n\u000b\u000c\r"), "{text}");
        assert!(
            text.contains(r##"!\""##) && text.contains(r"[\\]"),
            "{text}"
        );
        assert!(text.contains("\\u0000") && text.contains("\\u001b") && text.contains("\\u007f"));
    }

    #[test]
    fn logfmt_quotes_and_escapes_only_what_must_be() {
        let cases: &[(&str, &str)] = &[
            ("/plain/path-_.~%20", "path=/plain/path-_.~%20 "),
            ("/a b", "path=\"/a b\" "),
            ("/a=b", "path=\"/a=b\" "),
            ("/q\"uote", "path=\"/q\\\"uote\" "),
            ("/back\\slash", "path=\"/back\\\\slash\" "),
            ("/new\nline status=500", "path=\"/new\\nline status=500\" "),
            ("/cr\r/tab\t", "path=\"/cr\\r/tab\\t\" "),
            (
                "/esc\u{1b}[31m/del\u{7f}",
                "path=\"/esc\\u001b[31m/del\\u007f\" ",
            ),
            ("", "path=\"\" "),
            ("/é", "path=/é "),
        ];
        for (path, expected) in cases {
            let text = line(AccessFormat::Logfmt, &entry(path));
            assert!(text.contains(expected), "{path:?}: {text}");
            assert_eq!(text.matches('\n').count(), 1, "{text}");
            assert!(text.contains(" status=200 "), "{text}");
        }
    }

    #[test]
    fn absent_fields_and_other_values() {
        let mut e = entry("/");
        e.peer = None;
        e.complete = false;
        e.duration_us = 0;
        e.bytes = 0;
        e.status = 502;
        e.route = "-";
        e.reason = "upstream_timeout";
        let text = line(AccessFormat::Logfmt, &e);
        assert!(
            text.contains(" status=502 route=- upstream=http://127.0.0.1:9000 reason=upstream_timeout peer=- bytes=0 duration_ms=0 complete=false "),
            "{text}"
        );
        e.peer = Some("[::1%3]:8443".parse().unwrap());
        assert!(line(AccessFormat::Logfmt, &e).contains(" peer=[::1%3]:8443 "));
        let v: serde_json::Value = serde_json::from_str(&line(AccessFormat::Json, &e)).unwrap();
        assert_eq!(v["peer"], "[::1%3]:8443");
        assert_eq!(v["complete"], false);
    }

    #[test]
    fn durations_are_milliseconds_without_trailing_zeros() {
        let cases: &[(u64, &str)] = &[
            (0, "0"),
            (1, "0.001"),
            (10, "0.01"),
            (123, "0.123"),
            (1_000, "1"),
            (1_200, "1.2"),
            (1_230, "1.23"),
            (12_345_678, "12345.678"),
            (u64::MAX, "18446744073709551.615"),
        ];
        for (us, text) in cases {
            let mut out = Vec::new();
            millis(&mut out, *us);
            assert_eq!(String::from_utf8(out).unwrap(), *text, "{us}");
        }
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        let cases: &[(u64, &str)] = &[
            (0, "1970-01-01T00:00:00.000Z"),
            (951_782_400_007, "2000-02-29T00:00:00.007Z"),
            (1_709_251_199_999, "2024-02-29T23:59:59.999Z"),
            (4_102_444_800_000, "2100-01-01T00:00:00.000Z"),
            (253_402_300_799_000, "9999-12-31T23:59:59.000Z"),
        ];
        for (ms, text) in cases {
            let mut out = Vec::new();
            timestamp(&mut out, UNIX_EPOCH + Duration::from_millis(*ms));
            assert_eq!(String::from_utf8(out).unwrap(), *text, "{ms}");
        }
    }

    #[test]
    fn formatting_into_a_buffer_with_room_does_not_grow_it() {
        let mut out = Vec::with_capacity(16 * 1024);
        let before = out.as_ptr();
        for _ in 0..10 {
            write_line(&mut out, AccessFormat::Json, &entry("/api/x"));
            write_line(&mut out, AccessFormat::Logfmt, &entry("/api/x"));
        }
        assert_eq!(out.as_ptr(), before);
        assert_eq!(out.capacity(), 16 * 1024);
    }
}
