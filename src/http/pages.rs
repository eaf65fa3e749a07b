//! The interactive pages: login (the password form and a button per upstream provider),
//! consent, errors (the "not admitted" page of a provider's gates among them) and the logout
//! confirmation.
//!
//! Plain HTML and one stylesheet served by the gateway (`/oauth2/assets/authgate.css`), no
//! script at all. Every page carries a Content-Security-Policy without inline script or
//! style and with `frame-ancestors 'none'`, `X-Frame-Options: DENY`, `Cache-Control:
//! no-store` and `Referrer-Policy: no-referrer` (RFC 9700 §4.16, clickjacking).

pub mod account;
pub mod factor;
pub mod passkey;

use http::header::{self, HeaderValue};
use http::{Response, StatusCode};

use crate::gateway_paths::{provider_start_url, LOGOUT_PATH, STYLESHEET_PATH};
use crate::http::body::{full, Body};
use crate::http::html::escape;

const CSP: &str =
    "default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Adds the headers every interactive page carries.
pub fn secure_page_headers(response: &mut Response<Body>) {
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
}

/// An HTML page with the secure headers.
pub fn page(status: StatusCode, title: &str, body: &str) -> Response<Body> {
    let html = format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · authgate</title>
<link rel="stylesheet" href="{STYLESHEET_PATH}">
</head>
<body>
<main class="card">
{body}
</main>
</body>
</html>
"#,
        title = escape(title),
    );
    let mut response = Response::new(full(html));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    secure_page_headers(&mut response);
    response
}

/// The stylesheet.
pub fn stylesheet() -> Response<Body> {
    let mut response = Response::new(full(STYLESHEET));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    response.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// The login page. `query` is the pending authorization request; `error` a fixed message;
/// `providers` the upstream providers as (id, name), each a "Sign in with NAME" link to its
/// start; `password` whether the password form is shown (there are local users); `passkey`
/// whether a link offers passwordless sign-in with a passkey.
pub fn login(
    query: &str,
    csrf: &str,
    error: Option<&str>,
    username: &str,
    providers: &[(&str, &str)],
    password: bool,
    passkey: bool,
) -> Response<Body> {
    let alert = error.map_or(String::new(), |e| {
        format!("<p class=\"alert\" role=\"alert\">{}</p>\n", escape(e))
    });
    let mut buttons = String::new();
    for (id, name) in providers {
        buttons.push_str(&format!(
            "<a class=\"button\" href=\"{}\">Sign in with {}</a>\n",
            escape(&provider_start_url(id, query)),
            escape(name)
        ));
    }
    let buttons = match (buttons.is_empty(), password) {
        (true, _) => String::new(),
        (false, true) => format!(
            "<div class=\"providers\">\n{buttons}</div>\n<p class=\"muted divider\">or with a user name</p>\n"
        ),
        (false, false) => format!("<div class=\"providers\">\n{buttons}</div>"),
    };
    let mut form = if password {
        password_form(query, csrf, username)
    } else {
        String::new()
    };
    if passkey {
        form.push_str(&passkey::sign_in_link(query));
    }
    let body = format!(
        r#"<h1>Sign in</h1>
<p class="muted">to continue to the application</p>
{alert}{buttons}{form}"#
    );
    // A re-shown form is still a page to fill in: 200, not a 401 (which would need an HTTP
    // authentication challenge).
    page(StatusCode::OK, "Sign in", &body)
}

fn password_form(query: &str, csrf: &str, username: &str) -> String {
    format!(
        r#"<form method="post" action="/oauth2/login">
<input type="hidden" name="csrf" value="{csrf}">
<input type="hidden" name="request" value="{query}">
<label for="username">User name</label>
<input id="username" name="username" type="text" autocomplete="username" autocapitalize="none" spellcheck="false" required autofocus value="{username}">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>"#,
        csrf = escape(csrf),
        query = escape(query),
        username = escape(username),
    )
}

/// The 403 page of a person a provider signed in but its gates refused: the fixed `message`
/// and the `gate` (as the configuration names it), never a redirect back to the provider.
pub fn not_admitted(gate: &str, message: &str) -> Response<Body> {
    let body = format!(
        "<h1>Not admitted</h1>\n<p class=\"alert\" role=\"alert\">{}</p>\n<p class=\"muted\">Refused by: <code>{}</code>. If you should have access, ask this gateway's administrator.</p>",
        escape(message),
        escape(gate)
    );
    page(StatusCode::FORBIDDEN, "Not admitted", &body)
}

/// The 403 page of a route whose `allow` list admits no rule for `user`, signed in and
/// holding the route's scopes: who they are signed in as, and the way to sign in as someone
/// else (the logout confirmation), never a redirect back to sign in.
pub fn not_allowed(user: &str) -> Response<Body> {
    let body = format!(
        "<h1>Not allowed here</h1>\n<p class=\"alert\" role=\"alert\">This address admits only some people, and you are not among them.</p>\n<p>You are signed in as <strong>{}</strong>.</p>\n<p class=\"muted\">Refused by: this route's <code>allow</code> list. If you should have access, ask this gateway's administrator, or <a href=\"{LOGOUT_PATH}\">sign out</a> and sign in as someone else.</p>",
        escape(user)
    );
    page(StatusCode::FORBIDDEN, "Not allowed", &body)
}

/// The consent form: the client and each scope with its description.
pub fn consent(
    client_name: &str,
    user: &str,
    scopes: &[(String, String)],
    query: &str,
    csrf: &str,
) -> Response<Body> {
    let mut items = String::new();
    for (name, description) in scopes {
        items.push_str(&format!(
            "<li><strong>{}</strong><span>{}</span></li>\n",
            escape(description),
            escape(name)
        ));
    }
    if items.is_empty() {
        items.push_str("<li><strong>Know who you are</strong><span>no other access</span></li>\n");
    }
    let body = format!(
        r#"<h1>Allow access?</h1>
<p><strong>{client}</strong> asks to act as <strong>{user}</strong> with this access:</p>
<ul class="scopes">
{items}</ul>
<form method="post" action="/oauth2/consent">
<input type="hidden" name="csrf" value="{csrf}">
<input type="hidden" name="request" value="{query}">
<div class="actions">
<button type="submit" name="decision" value="deny" class="secondary">Deny</button>
<button type="submit" name="decision" value="approve">Allow</button>
</div>
</form>"#,
        client = escape(client_name),
        user = escape(user),
        csrf = escape(csrf),
        query = escape(query),
    );
    page(StatusCode::OK, "Allow access", &body)
}

/// An error page for what must not redirect.
pub fn error(status: StatusCode, message: &str) -> Response<Body> {
    let body = format!(
        "<h1>This request cannot continue</h1>\n<p class=\"alert\" role=\"alert\">{}</p>\n<p class=\"muted\">Go back to the application and try again. If this keeps happening, tell its administrator.</p>",
        escape(message)
    );
    page(status, "Error", &body)
}

/// The confirmation asked of a logout request that is not trusted on its own (cross-site,
/// no valid `id_token_hint`, or a hint for someone else). `redirect` is where the browser
/// goes afterwards (a client's registered URI), bound into `csrf` by the caller.
pub fn logout_confirm(csrf: &str, redirect: Option<&str>) -> Response<Body> {
    let redirect = redirect.map_or(String::new(), |target| {
        format!(
            "<input type=\"hidden\" name=\"redirect\" value=\"{}\">\n",
            escape(target)
        )
    });
    let body = format!(
        r#"<h1>Sign out?</h1>
<p>An application or another site asked to sign you out of authgate.</p>
<form method="post" action="{LOGOUT_PATH}">
<input type="hidden" name="csrf" value="{csrf}">
{redirect}<div class="actions"><button type="submit">Sign out</button></div>
</form>"#,
        csrf = escape(csrf)
    );
    page(StatusCode::OK, "Sign out", &body)
}

/// After logout.
pub fn logged_out() -> Response<Body> {
    page(
        StatusCode::OK,
        "Signed out",
        "<h1>You are signed out</h1>\n<p class=\"muted\">You can close this window.</p>",
    )
}

const STYLESHEET: &str = r#":root { color-scheme: light dark; --bg: #f4f5f7; --card: #fff; --fg: #1d2330; --muted: #5b6472; --accent: #2f5bea; --border: #d6dae1; --alert: #b42318; }
@media (prefers-color-scheme: dark) { :root { --bg: #14171c; --card: #1e232b; --fg: #e8eaee; --muted: #a0a8b5; --accent: #7b9bff; --border: #363d49; --alert: #ff8a80; } }
* { box-sizing: border-box; }
body { margin: 0; min-height: 100vh; display: grid; place-items: center; background: var(--bg); color: var(--fg); font: 16px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; }
.card { width: min(24rem, calc(100vw - 2rem)); background: var(--card); border: 1px solid var(--border); border-radius: 14px; padding: 2rem; box-shadow: 0 8px 30px rgba(0,0,0,.06); }
h1 { font-size: 1.35rem; margin: 0 0 .25rem; }
.muted { color: var(--muted); margin-top: 0; }
label { display: block; font-weight: 600; margin: 1rem 0 .35rem; }
input[type=text], input[type=password] { width: 100%; padding: .65rem .75rem; border: 1px solid var(--border); border-radius: 8px; background: transparent; color: inherit; font: inherit; }
input:focus-visible, button:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
button { margin-top: 1.25rem; width: 100%; padding: .7rem; border: 0; border-radius: 8px; background: var(--accent); color: #fff; font: inherit; font-weight: 600; cursor: pointer; }
button.secondary { background: transparent; color: var(--fg); border: 1px solid var(--border); }
a.button { display: block; box-sizing: border-box; margin-top: 1.25rem; width: 100%; padding: .7rem; border-radius: 8px; background: var(--accent); color: #fff; font-weight: 600; text-align: center; text-decoration: none; }
a.button:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
.providers a.button + a.button { margin-top: .75rem; }
.divider { text-align: center; margin: 1.25rem 0 0; }
.actions { display: flex; gap: .75rem; }
.alert { color: var(--alert); font-weight: 600; }
ul.scopes { list-style: none; padding: 0; margin: 1rem 0; border: 1px solid var(--border); border-radius: 8px; }
ul.scopes li { padding: .6rem .8rem; border-bottom: 1px solid var(--border); display: flex; flex-direction: column; }
ul.scopes li:last-child { border-bottom: 0; }
ul.scopes span { color: var(--muted); font-size: .85rem; font-family: ui-monospace, monospace; }
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn html(response: Response<Body>) -> String {
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn the_login_page_offers_each_provider_beside_or_instead_of_the_form() {
        let providers = [("corp", "Corp <SSO>"), ("gh", "GitHub")];
        let query = "client_id=authgate&state=a\"b";
        let both = html(login(query, "t", None, "", &providers, true, false)).await;
        assert!(both.contains("Sign in with Corp &lt;SSO&gt;</a>"), "{both}");
        assert!(both.contains("Sign in with GitHub</a>"));
        assert!(
            both.contains(
                "href=\"/oauth2/start/corp?request=client_id%3Dauthgate%26state%3Da%22b\""
            ),
            "{both}"
        );
        assert!(both.contains("action=\"/oauth2/login\""));
        assert!(both.contains("or with a user name"));
        let only = html(login(query, "t", None, "", &providers, false, false)).await;
        assert!(only.contains("Sign in with GitHub"));
        assert!(!only.contains("<form"), "{only}");
        let local = html(login(query, "t", Some("Wrong"), "al", &[], true, false)).await;
        assert!(local.contains("<form") && !local.contains("Sign in with"));
    }

    #[tokio::test]
    async fn not_admitted_is_a_403_page_naming_the_gate() {
        let response = not_admitted("allow_groups", "You are not in a group <here>.");
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
        let text = html(response).await;
        assert!(text.contains("<code>allow_groups</code>"));
        assert!(text.contains("a group &lt;here&gt;."));
    }

    #[tokio::test]
    async fn not_allowed_is_a_403_page_naming_who_is_signed_in() {
        let response = not_allowed("corp:<b>");
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
        assert!(response.headers().get(header::LOCATION).is_none());
        assert!(response.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        let text = html(response).await;
        assert!(
            text.contains("signed in as <strong>corp:&lt;b&gt;</strong>"),
            "{text}"
        );
        assert!(text.contains("<code>allow</code>"));
        assert!(text.contains("href=\"/oauth2/logout\""), "{text}");
    }
}
