//! RFC 6238 TOTP with the parameters every authenticator app speaks (SHA-1, 6 digits, 30 s)
//! and one step of skew either way, through `totp-rs` (which compares in constant time and
//! returns the matched time step, so that the caller can accept each step once). Also the
//! `otpauth://totp/...` URI of an enrolment and its QR code as SVG (rects and paths only: no
//! script and no style, so the page's CSP stays as it is).

use rand::RngCore;
use totp_rs::{Algorithm, Builder, Totp};

/// Seconds per step (RFC 6238 §4 `X`).
pub const STEP_SECS: u64 = 30;
/// Steps accepted either side of the current one.
pub const SKEW: u16 = 1;
pub const DIGITS: u8 = 6;
/// 160 bits, as RFC 4226 §4 recommends.
pub const SECRET_LEN: usize = 20;

/// A new random secret, from the operating system's generator.
pub fn new_secret() -> Vec<u8> {
    let mut secret = vec![0u8; SECRET_LEN];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    secret
}

/// The otpauth label may not hold `:` (its separator): a federated principal's `ID:SUB`
/// shows as `ID/SUB`.
fn label(account: &str) -> String {
    account.replace(':', "/")
}

fn totp(secret: &[u8], issuer: &str, account: &str) -> Option<Totp> {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(DIGITS)
        .with_skew(SKEW)
        .with_step_duration(STEP_SECS)
        .with_secret(secret.to_vec())
        .with_issuer(Some(issuer.to_owned()))
        .with_account_name(label(account))
        .build()
        .ok()
}

/// The time step a code matches at `now` (the current one or one either side), if any.
/// Anything but six ASCII digits (spaces allowed) matches nothing.
pub fn check(secret: &[u8], code: &str, now: u64) -> Option<u64> {
    let digits: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if digits.len() != usize::from(DIGITS) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    totp(secret, "authgate", "user")?.check(&digits, now)
}

/// The code of `secret` at `now` (tests, and the enrolment check of tests elsewhere).
pub fn code_at(secret: &[u8], now: u64) -> Option<String> {
    Some(totp(secret, "authgate", "user")?.generate(now).to_string())
}

/// What an enrolment page shows: the otpauth URI, the base32 secret for manual entry, and
/// the URI as a QR code.
pub struct Provisioning {
    pub uri: String,
    pub secret_base32: String,
    pub qr_svg: String,
}

/// The enrolment of `secret` for `account` at `issuer`.
pub fn provisioning(secret: &[u8], issuer: &str, account: &str) -> Option<Provisioning> {
    let totp = totp(secret, issuer, account)?;
    let uri = totp.to_url().ok()?;
    let qr_svg = qrcode::QrCode::new(uri.as_bytes())
        .ok()?
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .build();
    // The SVG renderer writes an XML declaration: not wanted inside an HTML page.
    let qr_svg = match qr_svg.find("<svg") {
        Some(at) => qr_svg.get(at..).unwrap_or_default().to_owned(),
        None => qr_svg,
    };
    Some(Provisioning {
        uri,
        secret_base32: totp.secret().to_base32(),
        qr_svg,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, SHA-1 rows (8 digits there; the last six are the 6-digit code).
    #[test]
    fn rfc_6238_test_vectors() {
        let secret = b"12345678901234567890";
        for (time, eight) in [
            (59u64, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
        ] {
            let six = &eight[2..];
            assert_eq!(code_at(secret, time).as_deref(), Some(six), "{time}");
            assert_eq!(check(secret, six, time), Some(time / 30));
        }
    }

    #[test]
    fn one_step_of_skew_either_way_and_no_more() {
        let secret = new_secret();
        let now = 1_700_000_015;
        let step = now / 30;
        let code = |t: u64| code_at(&secret, t).unwrap();
        assert_eq!(check(&secret, &code(now), now), Some(step));
        assert_eq!(check(&secret, &code(now - 30), now), Some(step - 1));
        assert_eq!(check(&secret, &code(now + 30), now), Some(step + 1));
        assert_eq!(check(&secret, &code(now - 60), now), None);
        assert_eq!(check(&secret, &code(now + 60), now), None);
        let spaced = format!("{} {}", &code(now)[..3], &code(now)[3..]);
        assert_eq!(check(&secret, &spaced, now), Some(step));
        for bad in ["", "12345", "1234567", "12345a", "１２３４５６", "-12345"] {
            assert_eq!(check(&secret, bad, now), None, "{bad}");
        }
        assert_eq!(check(&new_secret(), &code(now), now), None);
    }

    #[test]
    fn the_provisioning_uri_and_qr_code() {
        let secret = b"12345678901234567890";
        let p = provisioning(secret, "gw.example", "corp:42").unwrap();
        assert!(
            p.uri.starts_with("otpauth://totp/gw.example:corp%2F42?"),
            "{}",
            p.uri
        );
        assert!(p.uri.contains("secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"));
        assert!(p.uri.contains("issuer=gw.example"));
        assert_eq!(p.secret_base32, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        assert!(p.qr_svg.starts_with("<svg"));
        for banned in ["<script", "style=", "<style", "href", "on"] {
            if banned == "on" {
                assert!(!p.qr_svg.contains(" on"), "an event attribute");
            } else {
                assert!(!p.qr_svg.contains(banned), "{banned}");
            }
        }
        let again = totp_rs::Totp::from_url(&p.uri).unwrap();
        assert_eq!(again.generate(59).to_string(), "287082");
    }
}
