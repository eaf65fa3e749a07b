//! The passkey part of a page (contract §9): the WebAuthn options as a JSON data block, a
//! button, and the form the answer goes back in by a normal POST; and the one script that
//! joins them, a static file served at [`SCRIPT_PATH`].
//!
//! Only pages with this part allow that script: their Content-Security-Policy adds
//! `script-src 'self'` ([`allow_own_script`]), every other page keeps the policy without
//! any script. No inline script, no `connect-src`: the options travel in a
//! `<script type="application/json">` block (not executed), with `<`, `>` and `&` escaped so
//! that nothing in them can close it.

use http::header::{self, HeaderValue};
use http::Response;

use crate::gateway_paths::{PASSKEY_SCRIPT_PATH, PASSKEY_SIGN_IN_PATH};
use crate::http::body::{full, Body};
use crate::http::html::escape;

const SCRIPT: &str = include_str!("passkey.js");

/// The CSP of a page with a passkey part: the usual one, and this site's own scripts.
const CSP_WITH_SCRIPT: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'";

/// What one passkey part of a page is.
pub struct PasskeyForm<'a> {
    /// Where the answer is posted.
    pub action: &'a str,
    /// A registration (`navigator.credentials.create`), else a sign-in (`get`).
    pub create: bool,
    /// The options from `mfa::passkey` (JSON).
    pub options: &'a str,
    /// Hidden fields besides `credential` (csrf, the pending request, the ceremony).
    pub hidden: &'a [(&'a str, &'a str)],
    pub heading: &'a str,
    pub button: &'a str,
    /// Ask for a label (a registration).
    pub name_field: bool,
}

/// JSON made safe inside a `<script>` element: nothing in it can end the element or start
/// a comment there.
pub fn json_in_script(json: &str) -> String {
    json.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

/// The passkey part of a page, as HTML.
pub fn section(form: &PasskeyForm<'_>) -> String {
    let mut hidden = String::new();
    for (name, value) in form.hidden {
        hidden.push_str(&format!(
            "<input type=\"hidden\" name=\"{}\" value=\"{}\">\n",
            escape(name),
            escape(value)
        ));
    }
    let name_field = if form.name_field {
        "<label for=\"passkey-name\">Name for this passkey</label>\n<input id=\"passkey-name\" name=\"name\" type=\"text\" maxlength=\"64\" placeholder=\"Laptop\">\n"
    } else {
        ""
    };
    format!(
        r#"<section class="passkey">
<h2>{heading}</h2>
<script type="application/json" id="webauthn-options" data-ceremony="{ceremony}">{options}</script>
<form method="post" action="{action}" id="passkey-form">
{hidden}<input type="hidden" name="credential" value="">
{name_field}<button type="button" id="passkey-go">{button}</button>
</form>
<p id="passkey-status" class="muted" role="status"></p>
</section>
<script src="{PASSKEY_SCRIPT_PATH}" defer></script>"#,
        heading = escape(form.heading),
        ceremony = if form.create { "create" } else { "get" },
        options = json_in_script(form.options),
        action = escape(form.action),
        button = escape(form.button),
    )
}

/// The login page's way to passwordless sign-in, carrying the pending request `query`.
pub fn sign_in_link(query: &str) -> String {
    let request = form_urlencoded::Serializer::new(String::new())
        .append_pair("request", query)
        .finish();
    format!(
        "\n<p class=\"muted divider\"><a id=\"passkey-sign-in\" href=\"{}?{}\">Sign in with a passkey</a></p>",
        PASSKEY_SIGN_IN_PATH,
        escape(&request)
    )
}

/// The passwordless sign-in page's first step: the user name. `csrf` is bound to this
/// browser's pre-login cookie.
pub fn user_name_page(
    query: &str,
    csrf: &str,
    error: Option<&str>,
    username: &str,
) -> Response<Body> {
    let alert = error.map_or(String::new(), |e| {
        format!("<p class=\"alert\" role=\"alert\">{}</p>\n", escape(e))
    });
    let body = format!(
        r#"<h1>Sign in with a passkey</h1>
{alert}<form method="post" action="{PASSKEY_SIGN_IN_PATH}">
<input type="hidden" name="csrf" value="{csrf}">
<input type="hidden" name="request" value="{query}">
<label for="username">User name</label>
<input id="username" name="username" type="text" autocomplete="username webauthn" autocapitalize="none" spellcheck="false" required autofocus value="{username}">
<button type="submit">Continue</button>
</form>"#,
        csrf = escape(csrf),
        query = escape(query),
        username = escape(username),
    );
    super::page(http::StatusCode::OK, "Sign in with a passkey", &body)
}

/// The passwordless sign-in page's second step: a passkey of `user`.
pub fn passwordless_page(user: &str, form: &PasskeyForm<'_>) -> Response<Body> {
    let body = format!(
        "<h1>Sign in with a passkey</h1>\n<p>Signing in as <strong>{}</strong>.</p>\n{}",
        escape(user),
        section(form)
    );
    let mut response = super::page(http::StatusCode::OK, "Sign in with a passkey", &body);
    allow_own_script(&mut response);
    response
}

/// Lets a page run this site's own scripts (the passkey script), nothing else.
pub fn allow_own_script(response: &mut Response<Body>) {
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP_WITH_SCRIPT),
    );
}

/// The passkey script.
pub fn script() -> Response<Body> {
    let mut response = Response::new(full(SCRIPT));
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/javascript; charset=utf-8"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_cannot_close_their_script_element() {
        let json = r#"{"publicKey":{"user":{"name":"</script><script>alert(1)</script>&<!--"}}}"#;
        let safe = json_in_script(json);
        assert!(!safe.contains('<') && !safe.contains('>') && !safe.contains('&'));
        let back: serde_json::Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(
            back["publicKey"]["user"]["name"],
            "</script><script>alert(1)</script>&<!--"
        );
    }

    #[test]
    fn the_section_escapes_its_fields_and_loads_the_script() {
        let html = section(&PasskeyForm {
            action: "/oauth2/mfa/passkey",
            create: false,
            options: "{\"publicKey\":{}}",
            hidden: &[("request", "a=1&b=\"2\"")],
            heading: "Or use a passkey",
            button: "Use a passkey",
            name_field: false,
        });
        assert!(html.contains("data-ceremony=\"get\""));
        assert!(html.contains("value=\"a=1&amp;b=&quot;2&quot;\""));
        assert!(html.contains(&format!(
            "<script src=\"{PASSKEY_SCRIPT_PATH}\" defer></script>"
        )));
        assert!(!html.contains("name=\"name\""));
        let mut page = Response::new(full(""));
        allow_own_script(&mut page);
        let csp = page.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap();
        assert!(csp.contains("script-src 'self'") && csp.contains("default-src 'none'"));
        assert!(!csp.contains("unsafe"));
    }
}
