//! One journal line: `{"seq":N,"sum":"…","change":{…}}` and a newline.
//!
//! `seq` numbers every change since the store was created, across journal files and
//! snapshots, so a missing or repeated line is noticed. `sum` is the first 64 bits of the
//! SHA-256 of the change's JSON exactly as written, so a flipped byte inside a line that still
//! parses (a digit of an expiry, a letter of a hash) is noticed too.

use serde::Deserialize;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use crate::store::memory::change::Change;

fn checksum(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    let mut out = String::with_capacity(16);
    for byte in &digest[..8] {
        out.push(char::from(b"0123456789abcdef"[usize::from(byte >> 4)]));
        out.push(char::from(b"0123456789abcdef"[usize::from(byte & 15)]));
    }
    out
}

/// Appends the line for change number `seq`, whose JSON is `body`, to `out`.
pub fn encode_into(out: &mut Vec<u8>, seq: u64, body: &[u8]) {
    out.extend_from_slice(b"{\"seq\":");
    out.extend_from_slice(seq.to_string().as_bytes());
    out.extend_from_slice(b",\"sum\":\"");
    out.extend_from_slice(checksum(body).as_bytes());
    out.extend_from_slice(b"\",\"change\":");
    out.extend_from_slice(body);
    out.extend_from_slice(b"}\n");
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope<'a> {
    seq: u64,
    sum: String,
    #[serde(borrow)]
    change: &'a RawValue,
}

/// Reads one line (without its newline). The error says what is wrong, never what the line
/// holds (it may hold hashes and user names, but no secrets; still, keep errors short).
pub fn decode(line: &[u8]) -> Result<(u64, Change), String> {
    let envelope: Envelope<'_> =
        serde_json::from_slice(line).map_err(|e| format!("not a journal record ({e})"))?;
    if checksum(envelope.change.get().as_bytes()) != envelope.sum {
        return Err(format!(
            "record {} fails its checksum: the line was altered",
            envelope.seq
        ));
    }
    let change: Change = serde_json::from_str(envelope.change.get()).map_err(|e| {
        format!(
            "record {} is not a change this version knows ({e})",
            envelope.seq
        )
    })?;
    Ok((envelope.seq, change))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(seq: u64, change: &Change) -> Vec<u8> {
        let mut out = Vec::new();
        encode_into(&mut out, seq, &serde_json::to_vec(change).unwrap());
        out
    }

    #[test]
    fn round_trip() {
        let change = Change::RevokeAccess {
            jti: "j1".into(),
            expires_at: 77,
        };
        let bytes = line(5, &change);
        assert_eq!(bytes.last(), Some(&b'\n'));
        let (seq, back) = decode(&bytes[..bytes.len() - 1]).unwrap();
        assert_eq!(seq, 5);
        assert!(matches!(back, Change::RevokeAccess { jti, expires_at: 77 } if jti == "j1"));
    }

    #[test]
    fn an_altered_line_that_still_parses_is_caught() {
        let change = Change::RevokeAccess {
            jti: "j1".into(),
            expires_at: 77,
        };
        let text = String::from_utf8(line(5, &change)).unwrap();
        let altered = text.trim_end().replace("77", "78");
        let err = decode(altered.as_bytes()).unwrap_err();
        assert!(err.contains("checksum"), "{err}");
        assert!(decode(b"{\"seq\":1").is_err());
        assert!(decode(b"garbage").is_err());
    }
}
