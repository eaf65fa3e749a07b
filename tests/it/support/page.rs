//! A response as a browser sees it: the one `Page` of the browsers in [`super::browser`] and
//! [`super::oauth`], with what the tests read off it (redirects, forms, alerts, cookies).

use reqwest::header::HeaderMap;
use reqwest::StatusCode;

use super::oauth::Callback;
use super::upstream::Echoed;

/// A response as a browser sees it.
pub struct Page {
    /// The URL requested.
    pub url: String,
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl std::fmt::Debug for Page {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Page")
            .field("url", &self.url)
            .field("status", &self.status)
            .field("location", &self.location())
            .field("alert", &self.alert())
            .field("set-cookie", &self.set_cookie_names())
            .field("body", &self.body.chars().take(600).collect::<String>())
            .finish()
    }
}

impl Page {
    pub async fn read(url: String, response: reqwest::Response) -> Page {
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.text().await.expect("body");
        Page {
            url,
            status,
            headers,
            body,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn location(&self) -> Option<String> {
        self.header("location").map(str::to_owned)
    }

    pub fn is_login(&self) -> bool {
        self.body.contains(r#"action="/oauth2/login""#)
    }

    pub fn is_consent(&self) -> bool {
        self.body.contains(r#"action="/oauth2/consent""#)
    }

    pub fn is_html(&self) -> bool {
        self.header("content-type")
            .is_some_and(|t| t.starts_with("text/html"))
    }

    /// The value of the hidden input `name`, unescaped.
    pub fn hidden(&self, name: &str) -> Option<String> {
        super::html::hidden_input(&self.body, name)
    }

    /// The text of the page's alert, if it shows one.
    pub fn alert(&self) -> Option<String> {
        super::html::alert(&self.body)
    }

    /// Every `Set-Cookie` header, whole.
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect()
    }

    /// The `Set-Cookie` header for the cookie `name`.
    pub fn set_cookie(&self, name: &str) -> Option<String> {
        self.set_cookies()
            .into_iter()
            .find(|c| c.split_once('=').is_some_and(|(k, _)| k.trim() == name))
    }

    /// The `Set-Cookie` headers' cookie names.
    pub fn set_cookie_names(&self) -> Vec<String> {
        self.set_cookies()
            .iter()
            .filter_map(|c| c.split_once('=').map(|(k, _)| k.trim().to_owned()))
            .collect()
    }

    /// What the echo upstream received.
    pub fn echoed(&self) -> Echoed {
        assert_eq!(
            self.status,
            StatusCode::OK,
            "not the upstream's answer: {self:?}"
        );
        serde_json::from_str(&self.body)
            .unwrap_or_else(|err| panic!("not the echo upstream's JSON ({err}): {self:?}"))
    }

    /// The redirect that leaves the gateway, parsed.
    pub fn callback(&self) -> Callback {
        let location = self.location().expect("a redirect");
        Callback::parse(&location)
    }
}
