//! Upstreams built into the gateway, so the starter configuration serves something with no
//! other server running: `static://STATUS` answers a fixed status, and `whoami://` shows the
//! request exactly as an upstream would receive it (after path normalisation, header hygiene
//! and the identity headers), as HTML for a browser and JSON otherwise.
//!
//! whoami never displays credential values: `Authorization` shows only its scheme and `Cookie`
//! only its cookie names, so the page is safe to screenshot or paste into a ticket.

use http::header;
use http::request::Parts;
use http::{Response, StatusCode};
use serde::Serialize;

use crate::http::body::Body;
use crate::http::html::escape;
use crate::http::response;

/// The answer of a `static://STATUS` upstream.
pub fn static_response(status: StatusCode) -> Response<Body> {
    if status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED {
        let mut res = Response::new(crate::http::body::empty());
        *res.status_mut() = status;
        return res;
    }
    let reason = status.canonical_reason().unwrap_or("");
    response::text(status, format!("{} {reason}", status.as_u16()))
}

#[derive(Serialize)]
struct Whoami<'a> {
    method: &'a str,
    path: &'a str,
    query: Option<&'a str>,
    version: String,
    headers: Vec<(&'a str, String)>,
}

/// The answer of a `whoami://` upstream to the forwarded request `parts`, as HTML when the
/// client asked for it ([`crate::http::response::wants_html`] on the client's own headers).
pub fn whoami(parts: &Parts, html: bool) -> Response<Body> {
    let view = Whoami {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query(),
        version: format!("{:?}", parts.version),
        headers: parts
            .headers
            .iter()
            .map(|(name, value)| (name.as_str(), displayed_value(name, value)))
            .collect(),
    };
    if html {
        response::with_type(
            StatusCode::OK,
            "text/html; charset=utf-8",
            render_html(&view),
        )
    } else {
        let json = serde_json::to_vec_pretty(&view).unwrap_or_default();
        response::with_type(StatusCode::OK, "application/json", json)
    }
}

fn displayed_value(name: &header::HeaderName, value: &header::HeaderValue) -> String {
    let text = String::from_utf8_lossy(value.as_bytes());
    if *name == header::AUTHORIZATION || *name == header::PROXY_AUTHORIZATION {
        let scheme = text.split_whitespace().next().unwrap_or("");
        return format!("{scheme} [redacted]");
    }
    if *name == header::COOKIE {
        return text
            .split(';')
            .filter_map(|pair| pair.split('=').next())
            .map(|cookie_name| format!("{}=[redacted]", cookie_name.trim()))
            .collect::<Vec<_>>()
            .join("; ");
    }
    text.into_owned()
}

fn render_html(view: &Whoami<'_>) -> String {
    let mut rows = String::new();
    for (name, value) in &view.headers {
        let highlight = if name.starts_with("x-auth-") {
            " class=\"identity\""
        } else {
            ""
        };
        rows.push_str(&format!(
            "<tr{highlight}><th scope=\"row\">{}</th><td>{}</td></tr>\n",
            escape(name),
            escape(value)
        ));
    }
    let target = match view.query {
        Some(q) => format!("{}?{}", view.path, q),
        None => view.path.to_owned(),
    };
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>whoami · authgate</title>
<style>
body {{ font: 16px/1.5 system-ui, sans-serif; margin: 0; background: #f5f6f8; color: #1d2330; }}
main {{ max-width: 56rem; margin: 2rem auto; padding: 2rem; background: #fff; border-radius: 12px; box-shadow: 0 1px 4px rgba(0,0,0,.08); }}
h1 {{ margin-top: 0; font-size: 1.4rem; }}
code {{ background: #eef0f4; padding: .1rem .35rem; border-radius: 4px; }}
table {{ border-collapse: collapse; width: 100%; font-size: .92rem; }}
th, td {{ text-align: left; padding: .35rem .6rem; border-bottom: 1px solid #e4e7ec; vertical-align: top; word-break: break-all; }}
th {{ width: 16rem; font-weight: 600; }}
tr.identity {{ background: #eaf6ee; }}
</style>
</head>
<body>
<main>
<h1>What the upstream received</h1>
<p><code>{method} {target} {version}</code></p>
<table>
{rows}</table>
</main>
</body>
</html>
"#,
        method = escape(view.method),
        target = escape(&target),
        version = escape(&view.version),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn credentials_are_never_displayed() {
        let auth = displayed_value(
            &header::AUTHORIZATION,
            &HeaderValue::from_static("Bearer abc.def"),
        );
        assert_eq!(auth, "Bearer [redacted]");
        let cookie = displayed_value(
            &header::COOKIE,
            &HeaderValue::from_static("a=1; __Host-s=secret"),
        );
        assert_eq!(cookie, "a=[redacted]; __Host-s=[redacted]");
    }
}
