//! The second-factor pages (contract §9): the code page of a sign-in (a TOTP code or a
//! recovery code), the TOTP enrolment page (the `otpauth://` URI as text, the base32 secret
//! for manual entry and a server-rendered SVG QR code: no script, and the SVG has no style,
//! so the CSP of every page holds), and the page that shows the recovery codes once. With
//! passkeys, the code and enrolment pages also carry a passkey part (`super::passkey`), and
//! only then allow the passkey script.

use http::{Response, StatusCode};

use super::page;
use super::passkey::{allow_own_script, section, PasskeyForm};
use crate::http::body::Body;
use crate::http::html::escape;

fn alert(error: Option<&str>) -> String {
    error.map_or(String::new(), |e| {
        format!("<p class=\"alert\" role=\"alert\">{}</p>\n", escape(e))
    })
}

/// The form field every second-factor form posts: a one-time code, not remembered by the
/// browser.
fn code_field(label: &str) -> String {
    format!(
        r#"<label for="code">{label}</label>
<input id="code" name="code" type="text" inputmode="text" autocomplete="one-time-code" autocapitalize="none" spellcheck="false" maxlength="64" required autofocus>"#
    )
}

/// `page`, with a passkey part (and its script allowed) when there is one.
fn with_passkey(title: &str, body: &str, passkey: Option<&PasskeyForm<'_>>) -> Response<Body> {
    match passkey {
        None => page(StatusCode::OK, title, body),
        Some(form) => {
            let mut response = page(
                StatusCode::OK,
                title,
                &format!(
                    "{body}
{}",
                    section(form)
                ),
            );
            allow_own_script(&mut response);
            response
        }
    }
}

/// The code page of a sign-in for `user`. `query` is the pending authorization request;
/// `passkey` the passkey part, for a user with passkeys.
pub fn code(
    user: &str,
    query: &str,
    csrf: &str,
    error: Option<&str>,
    passkey: Option<&PasskeyForm<'_>>,
) -> Response<Body> {
    let body = format!(
        r#"<h1>Second factor</h1>
<p>Signing in as <strong>{user}</strong>. Enter the six-digit code from your authenticator app, or one of your recovery codes.</p>
{alert}<form method="post" action="/oauth2/mfa">
<input type="hidden" name="csrf" value="{csrf}">
<input type="hidden" name="request" value="{query}">
{field}
<button type="submit">Verify</button>
</form>"#,
        user = escape(user),
        alert = alert(error),
        csrf = escape(csrf),
        query = escape(query),
        field = code_field("Code"),
    );
    with_passkey("Second factor", &body, passkey)
}

/// What the enrolment page shows of a new secret.
pub struct Enrolment<'a> {
    pub uri: &'a str,
    pub secret_base32: &'a str,
    /// The QR code as an `<svg>` element (from `mfa::totp`: rects and paths only).
    pub qr_svg: &'a str,
}

/// What an authenticator app reads of a new secret: the QR code, the key, the otpauth URI.
pub fn provisioning(enrolment: &Enrolment<'_>) -> String {
    format!(
        r#"<div class="qr">{svg}</div>
<p class="muted">Key: <code id="totp-secret">{secret}</code></p>
<p class="muted">Link: <code id="otpauth-uri">{uri}</code></p>"#,
        svg = enrolment.qr_svg,
        secret = escape(enrolment.secret_base32),
        uri = escape(enrolment.uri),
    )
}

/// The form field of a one-time code (the code page's, the enrolment pages').
pub fn one_time_code_field(label: &str) -> String {
    code_field(label)
}

/// An alert line, or nothing.
pub fn alert_line(error: Option<&str>) -> String {
    alert(error)
}

/// The TOTP enrolment page (and a passkey registration beside it, with passkeys).
pub fn enrol(
    user: &str,
    enrolment: &Enrolment<'_>,
    query: &str,
    csrf: &str,
    error: Option<&str>,
    passkey: Option<&PasskeyForm<'_>>,
) -> Response<Body> {
    let body = format!(
        r#"<h1>Set up a second factor</h1>
<p><strong>{user}</strong>: this sign-in needs a second factor. Scan the code with an authenticator app, or enter the key by hand, then type the six-digit code it shows.</p>
{shown}
{alert}<form method="post" action="/oauth2/mfa/enrol">
<input type="hidden" name="csrf" value="{csrf}">
<input type="hidden" name="request" value="{query}">
{field}
<button type="submit">Turn on</button>
</form>"#,
        user = escape(user),
        shown = provisioning(enrolment),
        alert = alert(error),
        csrf = escape(csrf),
        query = escape(query),
        field = code_field("Code from the app"),
    );
    with_passkey("Set up a second factor", &body, passkey)
}

/// The recovery codes, shown once, and the way on to `next` (a local path).
pub fn recovery_codes(codes: &[String], next: &str) -> Response<Body> {
    let mut items = String::new();
    for code in codes {
        items.push_str(&format!("<li><code>{}</code></li>\n", escape(code)));
    }
    let body = format!(
        r#"<h1>Second factor on</h1>
<p>Keep these recovery codes somewhere safe. Each one signs you in once if you lose your authenticator. They are shown only now.</p>
<ul class="recovery-codes">
{items}</ul>
<a class="button" href="{next}">Continue</a>"#,
        next = escape(next),
    );
    page(StatusCode::OK, "Recovery codes", &body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn text(response: Response<Body>) -> String {
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn pages_escape_what_they_show_and_keep_the_csp() {
        let page = code("<alice>", "a=1&b=\"2\"", "tok", Some("<bad>"), None);
        assert!(page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'"));
        assert_eq!(page.headers()["cache-control"], "no-store");
        let html = text(page).await;
        assert!(html.contains("&lt;alice&gt;") && !html.contains("<alice>"));
        assert!(html.contains("a=1&amp;b=&quot;2&quot;"));
        assert!(html.contains("&lt;bad&gt;"));
        assert!(!html.contains("<script"));

        let enrolment = Enrolment {
            uri: "otpauth://totp/x:a?secret=ABC&issuer=x",
            secret_base32: "ABC",
            qr_svg: "<svg></svg>",
        };
        let html = text(enrol("alice", &enrolment, "q", "tok", None, None)).await;
        assert!(html.contains(
            "<code id=\"otpauth-uri\">otpauth://totp/x:a?secret=ABC&amp;issuer=x</code>"
        ));
        assert!(html.contains("<svg></svg>"));
        let html = text(recovery_codes(
            &["abcd-efgh".into()],
            "/oauth2/authorize?x=1",
        ))
        .await;
        assert!(html.contains("<code>abcd-efgh</code>"));
        assert!(html.contains("href=\"/oauth2/authorize?x=1\""));
    }
}
