//! Reading the gateway's own HTML pages the way a form-filling browser would: hidden inputs
//! and the alert text, with the entities the pages escape undone.

/// The value of the hidden input `name` in `body`, unescaped.
pub fn hidden_input(body: &str, name: &str) -> Option<String> {
    let marker = format!(r#"name="{name}" value=""#);
    let start = body.find(&marker)? + marker.len();
    let end = start + body[start..].find('"')?;
    Some(unescape(&body[start..end]))
}

/// The text of the page's `role="alert"` paragraph, if it shows one.
pub fn alert(body: &str) -> Option<String> {
    let start = body.find(r#"role="alert">"#)? + r#"role="alert">"#.len();
    let end = start + body[start..].find("</p>")?;
    Some(unescape(&body[start..end]))
}

/// Undoes the escaping of `authgate::http::html::escape`.
pub fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}
