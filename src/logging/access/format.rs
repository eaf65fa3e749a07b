//! One access line, formatted as logfmt or JSON straight into the caller's buffer: no
//! allocation (the buffer is reused, see `buffer.rs`), no `fmt` machinery for the common
//! fields. What the none route's line cost was measured per field (callgrind, issue 17) and
//! cut where it went: the timestamp's date and time are formatted once per second per
//! buffer ([`Stamp`]), numbers two digits at a time (`itoa`), and a text field is scanned
//! once for what it needs and, as nearly always, copied as one slice.
//!
//! Every text field that could hold a byte to escape is escaped, whoever set it: the path
//! (from the client) and the reason on every line; the route and the upstream (from the
//! configuration) unless their route's label found them [`plain`] once, when it was built.
//! The method is an `http::Method`, a token (RFC 9110 `tchar`: no space, `=`, quote,
//! backslash or control byte), and the request id is plain by construction
//! (`middleware::request_id`); those two are copied as they are, and a debug build checks
//! the id. A quote, a backslash, a newline or any other control byte can therefore neither
//! end a value nor start a forged line. Only fields of [`Entry`] are ever written; no header
//! value (so neither `Authorization` nor `Cookie`) and no query string reaches this module.
//!
//! Scanning a field cost about 100 instructions plus 9 per byte (callgrind: 310 for a
//! 22-byte upstream), so the fields known plain skip it: about 570 instructions of the
//! none route's line.

use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use http::Method;

use crate::config::AccessFormat;

/// Everything one access line holds, in the order it is written. Absent text is `"-"`.
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    /// When the line was written (the response's end).
    pub time: SystemTime,
    /// A token (RFC 9110): written as it is.
    pub method: &'a Method,
    /// The request's path, never its query.
    pub path: &'a str,
    pub status: u16,
    pub route: &'a str,
    pub upstream: &'a str,
    /// `route` and `upstream` are both [`plain`] (checked once per route): written as they
    /// are. False: both are scanned, and escaped if need be.
    pub label_plain: bool,
    /// Why the gateway answered itself.
    pub reason: &'a str,
    /// The client connection's address ([`peer_text`]), `-` when unknown.
    pub peer: &'a str,
    /// Body bytes sent.
    pub bytes: u64,
    /// From the request to the end of its response body, in microseconds.
    pub duration_us: u64,
    /// False when the client or the upstream broke off.
    pub complete: bool,
    /// [`plain`] by construction (`middleware::request_id` makes it of hex digits, or keeps
    /// a trusted proxy's only when it is of `A-Z a-z 0-9 . _ : -`): its bytes (the header
    /// value's), written as they are; empty when there is none.
    pub request_id: &'a [u8],
}

/// Whether `text` needs neither quotes (logfmt) nor escapes (either format): then it may be
/// copied into a line as it is.
pub fn plain(text: &str) -> bool {
    !text.is_empty() && needs(text) == 0
}

/// The formatted timestamp of the last second a shard wrote, so that its lines within one
/// second copy the date and time instead of computing them: only the milliseconds change.
#[derive(Debug, Clone)]
pub struct Stamp {
    /// The second `text` holds (seconds since the epoch); `None` before the first line.
    second: Option<u64>,
    /// `2026-12-02T16:14:26.000Z`: the milliseconds are written into it per line.
    text: [u8; STAMP_LEN],
}

/// The length of an RFC 3339 UTC timestamp with milliseconds, years 0000 to 9999.
const STAMP_LEN: usize = 24;

impl Default for Stamp {
    fn default() -> Self {
        Stamp {
            second: None,
            text: [b'0'; STAMP_LEN],
        }
    }
}

/// Appends `entry` as one line (ending in `\n`) to `out`; `stamp` is the caller's
/// timestamp cache (one per buffer).
pub fn write_line(out: &mut Vec<u8>, stamp: &mut Stamp, format: AccessFormat, entry: &Entry<'_>) {
    match format {
        AccessFormat::Logfmt => logfmt(out, stamp, entry),
        AccessFormat::Json => json(out, stamp, entry),
    }
}

fn logfmt(out: &mut Vec<u8>, stamp: &mut Stamp, e: &Entry<'_>) {
    out.extend_from_slice(b"timestamp=");
    timestamp(out, stamp, e.time);
    out.extend_from_slice(b" method=");
    out.extend_from_slice(e.method.as_str().as_bytes());
    logfmt_text(out, b" path=", e.path);
    out.extend_from_slice(b" status=");
    number(out, u64::from(e.status));
    label(out, e, [b" route=", b" upstream="], logfmt_text);
    logfmt_text(out, b" reason=", e.reason);
    out.extend_from_slice(b" peer=");
    out.extend_from_slice(e.peer.as_bytes());
    out.extend_from_slice(b" bytes=");
    number(out, e.bytes);
    out.extend_from_slice(b" duration_ms=");
    millis(out, e.duration_us);
    out.extend_from_slice(if e.complete {
        b" complete=true"
    } else {
        b" complete=false"
    });
    out.extend_from_slice(b" request_id=");
    out.extend_from_slice(id_text(e.request_id));
    out.push(b'\n');
}

fn json(out: &mut Vec<u8>, stamp: &mut Stamp, e: &Entry<'_>) {
    out.extend_from_slice(b"{\"timestamp\":\"");
    timestamp(out, stamp, e.time);
    out.extend_from_slice(b"\",\"method\":\"");
    out.extend_from_slice(e.method.as_str().as_bytes());
    json_text(out, b"\",\"path\":\"", e.path);
    out.extend_from_slice(b"\",\"status\":");
    number(out, u64::from(e.status));
    label(out, e, [b",\"route\":\"", b"\",\"upstream\":\""], json_text);
    json_text(out, b"\",\"reason\":\"", e.reason);
    out.extend_from_slice(b"\",\"peer\":\"");
    out.extend_from_slice(e.peer.as_bytes());
    out.extend_from_slice(b"\",\"bytes\":");
    number(out, e.bytes);
    out.extend_from_slice(b",\"duration_ms\":");
    millis(out, e.duration_us);
    out.extend_from_slice(if e.complete {
        b",\"complete\":true"
    } else {
        b",\"complete\":false"
    });
    out.extend_from_slice(b",\"request_id\":\"");
    out.extend_from_slice(id_text(e.request_id));
    out.extend_from_slice(b"\"}\n");
}

/// `route` and `upstream`, each after its key (`keys`): copied as they are when the label
/// is plain, else through the format's `text` writer, which escapes.
fn label(out: &mut Vec<u8>, e: &Entry<'_>, keys: [&[u8]; 2], text: fn(&mut Vec<u8>, &[u8], &str)) {
    let [route_key, upstream_key] = keys;
    if e.label_plain {
        out.extend_from_slice(route_key);
        out.extend_from_slice(e.route.as_bytes());
        out.extend_from_slice(upstream_key);
        out.extend_from_slice(e.upstream.as_bytes());
    } else {
        text(out, route_key, e.route);
        text(out, upstream_key, e.upstream);
    }
}

/// The request id as written: `-` when there is none, and (in a debug build) checked
/// [`plain`], as `middleware::request_id` makes every id.
fn id_text(id: &[u8]) -> &[u8] {
    debug_assert!(
        id.is_empty() || std::str::from_utf8(id).is_ok_and(plain),
        "a request id that is not plain"
    );
    if id.is_empty() {
        b"-"
    } else {
        id
    }
}

/// What a text value needs, as bits: [`ESCAPE`], some byte must be escaped inside quotes
/// (both formats); [`QUOTE`], the value needs logfmt's quotes (a space or `=`, or a byte
/// to escape).
const ESCAPE: u8 = 1;
const QUOTE: u8 = 2;

/// Whether `byte` must be escaped inside a quoted value (both formats).
fn needs_escape(byte: u8) -> bool {
    byte < 0x20 || byte == 0x7f || byte == b'"' || byte == b'\\'
}

/// The [`ESCAPE`] and [`QUOTE`] bits `text` needs, in one pass of comparisons without an
/// early exit, which the compiler turns into vector instructions (a path, a route, an id:
/// a few dozen bytes that almost never need anything, then copied as one slice).
fn needs(text: &str) -> u8 {
    text.bytes().fold(0, |all, b| {
        let escape = u8::from(needs_escape(b));
        let quote = u8::from(b == b' ') | u8::from(b == b'=');
        all | (escape * (ESCAPE | QUOTE)) | (quote * QUOTE)
    })
}

fn logfmt_text(out: &mut Vec<u8>, key: &[u8], text: &str) {
    out.extend_from_slice(key);
    if text.is_empty() || needs(text) & QUOTE != 0 {
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
    if needs(text) & ESCAPE == 0 {
        out.extend_from_slice(text.as_bytes());
    } else {
        escaped(out, text);
    }
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

/// `n` in decimal (`itoa`: two digits per step from a table, no `fmt`).
fn number(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// `us` microseconds as milliseconds with up to three decimals and no trailing zeros
/// (`1234` → `1.234`, `1200` → `1.2`, `5000` → `5`): a JSON number and a logfmt value alike.
fn millis(out: &mut Vec<u8>, us: u64) {
    number(out, us / 1000);
    let frac = (us % 1000) as usize;
    if frac == 0 {
        return;
    }
    let digits = [
        b'.',
        b'0' + (frac / 100) as u8,
        b'0' + (frac / 10 % 10) as u8,
        b'0' + (frac % 10) as u8,
    ];
    let width = if !frac.is_multiple_of(10) {
        4
    } else if !frac.is_multiple_of(100) {
        3
    } else {
        2
    };
    out.extend_from_slice(digits.get(..width).unwrap_or_default());
}

/// A client connection's address as its lines write it (`127.0.0.1:40000`,
/// `[::1%3]:8443`): made once per connection, copied into each line as it is (digits,
/// dots, colons, brackets and `%`, nothing to escape).
pub fn peer_text(peer: SocketAddr) -> String {
    peer.to_string()
}

/// `time` as RFC 3339 in UTC with milliseconds: `2026-12-02T16:14:26.123Z`; the date and
/// time of day are computed once per second (`stamp`), the milliseconds per line.
fn timestamp(out: &mut Vec<u8>, stamp: &mut Stamp, time: SystemTime) {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    if stamp.second != Some(secs) {
        stamp.text = whole_second(secs);
        stamp.second = Some(secs);
    }
    let ms = since.subsec_millis();
    let [.., hundreds, tens, ones, _] = &mut stamp.text;
    *hundreds = b'0' + (ms / 100) as u8;
    *tens = b'0' + (ms / 10 % 10) as u8;
    *ones = b'0' + (ms % 10) as u8;
    out.extend_from_slice(&stamp.text);
}

/// `secs` after the epoch as `YYYY-MM-DDTHH:MM:SS.000Z` (years past 9999 are cut to their
/// last four digits: no log line lives that long).
fn whole_second(secs: u64) -> [u8; STAMP_LEN] {
    let (year, month, day) = civil_from_days(secs / 86_400);
    let of_day = secs % 86_400;
    let two = |n: u64| [b'0' + (n / 10 % 10) as u8, b'0' + (n % 10) as u8];
    let [y1, y2] = two(year / 100);
    let [y3, y4] = two(year);
    let [mo1, mo2] = two(month);
    let [d1, d2] = two(day);
    let [h1, h2] = two(of_day / 3600);
    let [mi1, mi2] = two(of_day / 60 % 60);
    let [s1, s2] = two(of_day % 60);
    [
        y1, y2, y3, y4, b'-', mo1, mo2, b'-', d1, d2, b'T', h1, h2, b':', mi1, mi2, b':', s1, s2,
        b'.', b'0', b'0', b'0', b'Z',
    ]
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
            method: &Method::GET,
            path,
            status: 200,
            route: "/api/",
            upstream: "http://127.0.0.1:9000",
            label_plain: true,
            reason: "-",
            peer: "127.0.0.1:40000",
            bytes: 1234,
            duration_us: 1_500,
            complete: true,
            request_id: b"0f3a",
        }
    }

    fn line(format: AccessFormat, entry: &Entry<'_>) -> String {
        let mut out = Vec::new();
        write_line(&mut out, &mut Stamp::default(), format, entry);
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
        e.route = &nasty;
        e.label_plain = false;
        let text = line(AccessFormat::Json, &e);
        assert_eq!(text.matches('\n').count(), 1, "{text}");
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["path"], nasty.as_str());
        assert_eq!(v["route"], nasty.as_str());
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

    /// The fields written without a scan: a method is a token, which needs nothing in
    /// either format (`http` refuses any other), and a label is copied only when [`plain`].
    #[test]
    fn what_is_written_unscanned_needs_nothing() {
        for byte in 0u8..=255 {
            if let Ok(method) = Method::from_bytes(&[b'G', byte, b'T']) {
                assert!(plain(method.as_str()), "{byte}");
            }
        }
        for text in ["a b", "a=b", "a\"b", "a\\b", "a\nb", "", "a\u{7f}"] {
            assert!(!plain(text), "{text:?}");
        }
        assert!(plain("/api/") && plain("http://127.0.0.1:9000/x?y") && plain("é"));
        let mut e = entry("/");
        e.route = "/a b/";
        e.label_plain = plain(e.route);
        assert!(line(AccessFormat::Logfmt, &e).contains(" route=\"/a b/\" "));
        e.request_id = b"";
        assert!(line(AccessFormat::Logfmt, &e).ends_with(" request_id=-\n"));
    }

    #[test]
    fn absent_fields_and_other_values() {
        let mut e = entry("/");
        e.peer = "-";
        e.complete = false;
        e.duration_us = 0;
        e.bytes = 0;
        e.status = 502;
        e.route = "-";
        e.label_plain = plain(e.route) && plain(e.upstream);
        e.reason = "upstream_timeout";
        let text = line(AccessFormat::Logfmt, &e);
        assert!(
            text.contains(" status=502 route=- upstream=http://127.0.0.1:9000 reason=upstream_timeout peer=- bytes=0 duration_ms=0 complete=false "),
            "{text}"
        );
        let v6 = peer_text("[::1%3]:8443".parse().unwrap());
        e.peer = &v6;
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
            timestamp(
                &mut out,
                &mut Stamp::default(),
                UNIX_EPOCH + Duration::from_millis(*ms),
            );
            assert_eq!(String::from_utf8(out).unwrap(), *text, "{ms}");
        }
    }

    /// One stamp across lines: within a second only the milliseconds change; across a
    /// second, minute, day and year boundary (and back, as lines of two threads sharing a
    /// buffer may come) the whole stamp is right again.
    #[test]
    fn a_cached_stamp_rolls_over_at_every_boundary() {
        let mut stamp = Stamp::default();
        let cases: &[(u64, &str)] = &[
            (1_796_228_066_123, "2026-12-02T16:14:26.123Z"),
            (1_796_228_066_999, "2026-12-02T16:14:26.999Z"),
            (1_796_228_066_000, "2026-12-02T16:14:26.000Z"),
            (1_796_228_067_000, "2026-12-02T16:14:27.000Z"),
            (1_796_228_066_500, "2026-12-02T16:14:26.500Z"),
            (1_796_228_099_999, "2026-12-02T16:14:59.999Z"),
            (1_796_228_100_001, "2026-12-02T16:15:00.001Z"),
            (1_798_761_599_999, "2026-12-31T23:59:59.999Z"),
            (1_798_761_600_000, "2027-01-01T00:00:00.000Z"),
            (1_798_761_600_042, "2027-01-01T00:00:00.042Z"),
        ];
        for (ms, text) in cases {
            let mut out = b"x".to_vec();
            timestamp(
                &mut out,
                &mut stamp,
                UNIX_EPOCH + Duration::from_millis(*ms),
            );
            assert_eq!(&out[1..], text.as_bytes(), "{ms}");
        }
        // Whole lines through one stamp, in both formats.
        let mut e = entry("/");
        let mut out = Vec::new();
        e.time = UNIX_EPOCH + Duration::from_millis(1_796_228_066_999);
        write_line(&mut out, &mut stamp, AccessFormat::Logfmt, &e);
        e.time = UNIX_EPOCH + Duration::from_millis(1_796_228_067_001);
        write_line(&mut out, &mut stamp, AccessFormat::Json, &e);
        let text = String::from_utf8(out).unwrap();
        let mut lines = text.lines();
        assert!(lines
            .next()
            .unwrap()
            .starts_with("timestamp=2026-12-02T16:14:26.999Z method=GET "));
        assert!(lines
            .next()
            .unwrap()
            .starts_with("{\"timestamp\":\"2026-12-02T16:14:27.001Z\",\"method\":"));
    }

    #[test]
    fn numbers_and_peers_digit_for_digit() {
        for n in [0, 7, 10, 99, 100, 404, 65_535, 1_000_000, u64::MAX] {
            let mut out = Vec::new();
            number(&mut out, n);
            assert_eq!(out, n.to_string().as_bytes());
        }
        for addr in [
            "0.0.0.0:0",
            "255.255.255.255:65535",
            "10.1.20.255:8080",
            "[::1]:443",
            "[fe80::1%2]:8443",
        ] {
            assert_eq!(peer_text(addr.parse().unwrap()), addr);
        }
    }

    #[test]
    fn text_needs_exactly_what_it_holds() {
        assert_eq!(needs("/api/x-_.~%20é"), 0);
        assert_eq!(needs(""), 0);
        assert_eq!(needs("a b"), QUOTE);
        assert_eq!(needs("a=b"), QUOTE);
        for escaped in ["\"", "\\", "\n", "\u{0}", "\u{1f}", "\u{7f}"] {
            assert_eq!(
                needs(&format!("/a{escaped}b")),
                ESCAPE | QUOTE,
                "{escaped:?}"
            );
        }
        // A long plain value, then one byte to escape at its very end.
        let long = "a".repeat(1000);
        assert_eq!(needs(&long), 0);
        assert_eq!(needs(&format!("{long}\"")), ESCAPE | QUOTE);
    }

    #[test]
    fn formatting_into_a_buffer_with_room_does_not_grow_it() {
        let mut out = Vec::with_capacity(16 * 1024);
        let before = out.as_ptr();
        let mut stamp = Stamp::default();
        for _ in 0..10 {
            write_line(&mut out, &mut stamp, AccessFormat::Json, &entry("/api/x"));
            write_line(&mut out, &mut stamp, AccessFormat::Logfmt, &entry("/api/x"));
        }
        assert_eq!(out.as_ptr(), before);
        assert_eq!(out.capacity(), 16 * 1024);
    }
}
