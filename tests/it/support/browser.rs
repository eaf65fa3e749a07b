//! A browser made of reqwest: its own cookie jar, redirects not followed, `Accept: text/html`
//! on navigations, `Origin` on form posts, so each step of a sign-in is taken by hand and
//! every `Location` and `Set-Cookie` can be read.

use std::sync::Arc;

use reqwest::cookie::{CookieStore, Jar};
use reqwest::{StatusCode, Url};

pub use super::page::Page;

/// A browser on the gateway at `origin`.
pub struct Browser {
    client: reqwest::Client,
    jar: Arc<Jar>,
    origin: String,
}

/// The pages met on the way through a sign-in, and where it ended.
#[derive(Debug)]
pub struct Journey {
    /// `"STATUS URL"` of every response on the way, in order.
    pub steps: Vec<String>,
    /// The last response: not a redirect within the gateway and not the login page.
    pub last: Page,
}

impl Browser {
    /// A browser from `builder` (TLS roots and name resolution set) with a fresh jar.
    pub fn new(builder: reqwest::ClientBuilder, origin: &str) -> Browser {
        let jar = Arc::new(Jar::default());
        let client = builder
            .cookie_provider(jar.clone())
            .build()
            .expect("client");
        Browser {
            client,
            jar,
            origin: origin.to_owned(),
        }
    }

    /// `url` as an absolute URL (a path is on the gateway).
    pub fn absolute(&self, url: &str) -> String {
        if url.starts_with('/') {
            format!("{}{url}", self.origin)
        } else {
            url.to_owned()
        }
    }

    /// Whether `location` points into the gateway (a path, or an absolute URL on its origin).
    pub fn is_ours(&self, location: &str) -> bool {
        (location.starts_with('/') && !location.starts_with("//"))
            || location == self.origin
            || location.starts_with(&format!("{}/", self.origin))
    }

    /// A navigation: GET with `Accept: text/html`.
    pub async fn get(&self, url: &str) -> Page {
        self.get_with(url, &[]).await
    }

    /// A navigation with more request headers.
    pub async fn get_with(&self, url: &str, headers: &[(&str, &str)]) -> Page {
        let url = self.absolute(url);
        let mut request = self.client.get(&url).header(
            "accept",
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        );
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        Page::read(url, request.send().await.expect("GET")).await
    }

    /// A form post to a path on the gateway, as a page of the gateway sends it.
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Page {
        self.post_with(
            path,
            form,
            &[("origin", &self.origin), ("sec-fetch-site", "same-origin")],
        )
        .await
    }

    /// A form post with exactly these extra request headers.
    pub async fn post_with(
        &self,
        path: &str,
        form: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Page {
        let url = self.absolute(path);
        let mut request = self
            .client
            .post(&url)
            .header("accept", "text/html")
            .form(form);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        Page::read(url, request.send().await.expect("POST")).await
    }

    /// Submits the login form of `page`.
    pub async fn sign_in(&self, page: &Page, user: &str, password: &str) -> Page {
        assert!(page.is_login(), "not the login page: {page:?}");
        let csrf = page.hidden("csrf").expect("login csrf");
        let request = page.hidden("request").expect("login request");
        self.post(
            "/oauth2/login",
            &[
                ("csrf", &csrf),
                ("request", &request),
                ("username", user),
                ("password", password),
            ],
        )
        .await
    }

    /// Follows `page`'s redirect (within the gateway).
    pub async fn follow(&self, page: &Page) -> Page {
        let location = page
            .location()
            .unwrap_or_else(|| panic!("not a redirect: {page:?}"));
        assert!(
            self.is_ours(&location),
            "a redirect off the gateway: {location}"
        );
        self.get(&location).await
    }

    /// Opens `url` and goes on like a browser and its user: follows every redirect within the
    /// gateway and signs in as `user` at the login page, until a response that is neither.
    pub async fn sign_in_at(&self, url: &str, user: &str, password: &str) -> Journey {
        let mut steps = Vec::new();
        let mut page = self.get(url).await;
        for _ in 0..12 {
            steps.push(format!("{} {}", page.status.as_u16(), page.url));
            if page.is_login() {
                page = self.sign_in(&page, user, password).await;
                assert_eq!(page.status, StatusCode::SEE_OTHER, "login answer: {page:?}");
            } else if page.status.is_redirection()
                && page.location().is_some_and(|l| self.is_ours(&l))
            {
                page = self.follow(&page).await;
            } else {
                return Journey { steps, last: page };
            }
        }
        panic!("no end to the redirects: {steps:#?}");
    }

    /// The value of cookie `name` in the jar, for the gateway.
    pub fn cookie(&self, name: &str) -> Option<String> {
        let url = Url::parse(&self.origin).expect("origin URL");
        let header = self.jar.cookies(&url)?;
        header.to_str().ok()?.split(';').find_map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (k == name && !v.is_empty()).then(|| v.to_owned())
        })
    }

    /// The names of the jar's cookies for the gateway.
    pub fn cookie_names(&self) -> Vec<String> {
        let url = Url::parse(&self.origin).expect("origin URL");
        let Some(header) = self.jar.cookies(&url) else {
            return Vec::new();
        };
        header
            .to_str()
            .unwrap_or("")
            .split(';')
            .filter_map(|pair| pair.trim().split_once('=').map(|(k, _)| k.to_owned()))
            .collect()
    }

    /// Puts a cookie into the jar as if the site had set it (`Set-Cookie` syntax).
    pub fn add_cookie(&self, set_cookie: &str) {
        let url = Url::parse(&self.origin).expect("origin URL");
        self.jar.add_cookie_str(set_cookie, &url);
    }
}

/// The attributes of a `Set-Cookie` header, names lower case: `[("path", "/"), ("secure", "")]`.
pub fn cookie_attributes(set_cookie: &str) -> Vec<(String, String)> {
    set_cookie
        .split(';')
        .skip(1)
        .map(|attr| {
            let attr = attr.trim();
            match attr.split_once('=') {
                Some((k, v)) => (k.trim().to_ascii_lowercase(), v.trim().to_owned()),
                None => (attr.to_ascii_lowercase(), String::new()),
            }
        })
        .collect()
}
