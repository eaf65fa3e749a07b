//! The account page (contract §9): a person's second factors, listed, added and removed,
//! and their recovery codes replaced; and its TOTP set-up page. Every form is a POST bound to
//! the login session by its CSRF token (`endpoints::oauth::account` checks it, and that the
//! sign-in is fresh). With passkeys the overview carries a passkey registration
//! (`super::passkey`) and only then allows the passkey script.

use http::{Response, StatusCode};

use super::factor::{alert_line, one_time_code_field, provisioning, Enrolment};
use super::page;
use super::passkey::{allow_own_script, section, PasskeyForm};
use crate::gateway_paths::{ACCOUNT_PATH, LOGOUT_PATH};
use crate::http::body::Body;
use crate::http::html::escape;

/// One passkey as listed.
pub struct ListedPasskey<'a> {
    pub id: &'a str,
    pub name: &'a str,
    /// May be synced to other devices.
    pub synced: bool,
}

/// What the overview shows.
pub struct Overview<'a> {
    pub user: &'a str,
    pub totp: bool,
    pub passkeys: &'a [ListedPasskey<'a>],
    pub recovery_left: usize,
    pub csrf: &'a str,
    /// The passkey registration, with passkeys on.
    pub add_passkey: Option<&'a PasskeyForm<'a>>,
    pub notice: Option<&'a str>,
}

/// A one-button form posting `action` (and `id`) to the account page.
fn button(csrf: &str, action: &str, id: Option<&str>, label: &str) -> String {
    let id = id.map_or(String::new(), |id| {
        format!(
            "<input type=\"hidden\" name=\"id\" value=\"{}\">\n",
            escape(id)
        )
    });
    format!(
        r#"<form method="post" action="{ACCOUNT_PATH}" class="inline">
<input type="hidden" name="csrf" value="{csrf}">
<input type="hidden" name="action" value="{action}">
{id}<button type="submit">{label}</button>
</form>"#,
        csrf = escape(csrf),
        action = escape(action),
        label = escape(label),
    )
}

/// The overview of a person's factors.
pub fn overview(o: &Overview<'_>) -> Response<Body> {
    let mut items = String::new();
    if o.totp {
        items.push_str(&format!(
            "<li id=\"factor-totp\"><strong>Authenticator app</strong> (TOTP)\n{}</li>\n",
            button(o.csrf, "remove-totp", None, "Remove")
        ));
    }
    for p in o.passkeys {
        items.push_str(&format!(
            "<li class=\"factor-passkey\"><strong>{}</strong> (passkey, {})\n{}</li>\n",
            escape(p.name),
            if p.synced { "synced" } else { "on one device" },
            button(o.csrf, "remove-passkey", Some(p.id), "Remove")
        ));
    }
    if items.is_empty() {
        items.push_str("<li id=\"no-factor\">No second factor yet.</li>\n");
    }
    let recovery = if o.totp || !o.passkeys.is_empty() {
        format!(
            "<p>Recovery codes left: <strong id=\"recovery-left\">{}</strong></p>\n{}",
            o.recovery_left,
            button(o.csrf, "regenerate", None, "New recovery codes")
        )
    } else {
        String::new()
    };
    let totp_label = if o.totp {
        "Replace the authenticator app"
    } else {
        "Add an authenticator app"
    };
    let notice = o.notice.map_or(String::new(), |n| {
        format!("<p class=\"notice\" role=\"status\">{}</p>\n", escape(n))
    });
    let body = format!(
        r#"<h1>Your account</h1>
<p>Signed in as <strong>{user}</strong>. <a href="{LOGOUT_PATH}">Sign out</a></p>
{notice}<h2>Second factors</h2>
<ul class="factors">
{items}</ul>
{recovery}
{add_totp}"#,
        user = escape(o.user),
        add_totp = button(o.csrf, "add-totp", None, totp_label),
    );
    match o.add_passkey {
        None => page(StatusCode::OK, "Your account", &body),
        Some(form) => {
            let body = format!("{body}\n{}", section(form));
            let mut response = page(StatusCode::OK, "Your account", &body);
            allow_own_script(&mut response);
            response
        }
    }
}

/// The account's TOTP set-up: the new secret, and its first code (it replaces the old
/// secret only then).
pub fn totp_enrol(
    user: &str,
    enrolment: &Enrolment<'_>,
    csrf: &str,
    error: Option<&str>,
) -> Response<Body> {
    let body = format!(
        r#"<h1>Add an authenticator app</h1>
<p><strong>{user}</strong>: scan the code with an authenticator app, or enter the key by hand, then type the six-digit code it shows.</p>
{shown}
{alert}<form method="post" action="{ACCOUNT_PATH}/totp">
<input type="hidden" name="csrf" value="{csrf}">
{field}
<button type="submit">Turn on</button>
</form>
<p><a href="{ACCOUNT_PATH}">Back to your account</a></p>"#,
        user = escape(user),
        shown = provisioning(enrolment),
        alert = alert_line(error),
        csrf = escape(csrf),
        field = one_time_code_field("Code from the app"),
    );
    page(StatusCode::OK, "Add an authenticator app", &body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn text(response: Response<Body>) -> (String, String) {
        let csp = response.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (csp, String::from_utf8(bytes.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn the_overview_lists_factors_with_a_form_each() {
        let keys = [ListedPasskey {
            id: "a\"b",
            name: "<Laptop>",
            synced: false,
        }];
        let o = Overview {
            user: "alice",
            totp: true,
            passkeys: &keys,
            recovery_left: 7,
            csrf: "tok",
            add_passkey: None,
            notice: Some("Removed."),
        };
        let (csp, html) = text(overview(&o)).await;
        assert!(
            !csp.contains("script-src"),
            "no script without a passkey part"
        );
        assert!(html.contains("&lt;Laptop&gt;") && html.contains("value=\"a&quot;b\""));
        assert!(html.contains("name=\"action\" value=\"remove-totp\""));
        assert!(html.contains("name=\"action\" value=\"remove-passkey\""));
        assert!(html.contains("<strong id=\"recovery-left\">7</strong>"));
        assert!(html.contains("Replace the authenticator app"));
        assert_eq!(html.matches("name=\"csrf\" value=\"tok\"").count(), 4);

        let none = Overview {
            totp: false,
            passkeys: &[],
            ..o
        };
        let (_, html) = text(overview(&none)).await;
        assert!(html.contains("No second factor yet.") && !html.contains("recovery-left"));
    }
}
