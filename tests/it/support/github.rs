//! A local stand-in of GitHub's OAuth app endpoints and REST API (GitHub itself cannot be
//! reached from the tests), on the hyper server of [`super::upstream`], so every request the
//! gateway makes is recorded.
//!
//! It behaves as GitHub documents and as the research notes found (`../shared/research/
//! federation.md` §3), quirks included:
//! - `GET /login/oauth/authorize` (the browser): with `login=NAME` added (what the person
//!   types at GitHub) it redirects to the registered `redirect_uri` with `code` and `state`;
//!   without it, a page asking who signs in. An unknown client or redirect URI gets an error
//!   page, never a redirect.
//! - `POST /login/oauth/access_token`: client secret (form or Basic), single-use code, exact
//!   `redirect_uri`, the PKCE S256 verifier when the request carried a challenge. It answers
//!   form-encoded unless asked for `application/json`, and every error with **200** and an
//!   `error` field.
//! - the API under `/api/v3` (GitHub Enterprise Server's layout, `api_url` in the gateway):
//!   `GET /user`, `/user/emails`, `/user/orgs` and `/user/teams`, with a bearer (or `token`)
//!   credential; the lists paginated as GitHub does (`per_page` default 30, at most 100,
//!   `page`, a `Link` header with `rel="next"` and `rel="last"`).
//!
//! The people are [`GithubUser`]s: numeric id, login, emails with their `primary` and
//! `verified` flags, orgs and `org/team`s.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::upstream::{full, Seen, TestBody, TestUpstream};

/// The gateway's OAuth app at the stand-in.
pub const GITHUB_CLIENT_ID: &str = "Iv1.authgate-test-app";
pub const GITHUB_CLIENT_SECRET: &str = "gh-app-secret-Nd4Lq9Zx2Rm7Tc5Wp0Bk8Hv3Jy6Fs1Ga";

/// One person at the stand-in.
#[derive(Debug, Clone)]
pub struct GithubUser {
    pub id: u64,
    pub login: String,
    pub name: Option<String>,
    /// `(address, primary, verified)`.
    pub emails: Vec<(String, bool, bool)>,
    pub orgs: Vec<String>,
    /// `(org, team slug)`.
    pub teams: Vec<(String, String)>,
}

impl GithubUser {
    /// `login` with id `id`, no emails, orgs or teams.
    pub fn new(id: u64, login: &str) -> GithubUser {
        GithubUser {
            id,
            login: login.to_owned(),
            name: Some(format!("{login} (test)")),
            emails: Vec::new(),
            orgs: Vec::new(),
            teams: Vec::new(),
        }
    }

    pub fn email(mut self, address: &str, primary: bool, verified: bool) -> GithubUser {
        self.emails.push((address.to_owned(), primary, verified));
        self
    }

    pub fn orgs(mut self, orgs: &[&str]) -> GithubUser {
        self.orgs.extend(orgs.iter().map(|o| (*o).to_owned()));
        self
    }

    pub fn team(mut self, org: &str, slug: &str) -> GithubUser {
        self.teams.push((org.to_owned(), slug.to_owned()));
        self
    }
}

struct Grant {
    login: String,
    redirect_uri: String,
    challenge: Option<String>,
}

#[derive(Default)]
struct State {
    users: HashMap<String, GithubUser>,
    redirect_uris: Vec<String>,
    codes: HashMap<String, Grant>,
    tokens: HashMap<String, String>,
    issued: u64,
}

/// The stand-in. Dropping it stops it.
pub struct GithubStandIn {
    server: TestUpstream,
    state: Arc<Mutex<State>>,
}

impl GithubStandIn {
    /// Serves `users` for the client [`GITHUB_CLIENT_ID`].
    pub async fn start(users: Vec<GithubUser>) -> GithubStandIn {
        let state = Arc::new(Mutex::new(State {
            users: users.into_iter().map(|u| (u.login.clone(), u)).collect(),
            ..State::default()
        }));
        let shared = state.clone();
        let server = TestUpstream::serve(move |req| {
            let state = shared.clone();
            async move { answer(&state, req).await }
        })
        .await;
        GithubStandIn { server, state }
    }

    /// `http://127.0.0.1:PORT`: the gateway's `github_url`.
    pub fn web_url(&self) -> String {
        self.server.url()
    }

    /// `http://127.0.0.1:PORT/api/v3`: the gateway's `api_url`.
    pub fn api_url(&self) -> String {
        format!("{}/api/v3", self.server.url())
    }

    /// Registers `uri` as the OAuth app's callback (GitHub takes one; a test may add more).
    pub fn allow_redirect_uri(&self, uri: &str) {
        self.state
            .lock()
            .expect("state")
            .redirect_uris
            .push(uri.to_owned());
    }

    /// Every request it received.
    pub fn requests(&self) -> Vec<Seen> {
        self.server.requests()
    }

    /// Every access token it issued (to check that none reached an upstream or a cookie).
    pub fn issued_tokens(&self) -> Vec<String> {
        self.state
            .lock()
            .expect("state")
            .tokens
            .keys()
            .cloned()
            .collect()
    }

    /// The browser at GitHub: `authorize_url` (where the gateway sent it) with the person's
    /// `login` added; GitHub's answer, a redirect to the gateway's callback, as its
    /// `Location` (not followed).
    pub async fn sign_in(
        &self,
        browser: &super::browser::Browser,
        authorize_url: &str,
        login: &str,
    ) -> String {
        assert!(
            authorize_url.starts_with(&format!("{}/login/oauth/authorize?", self.web_url())),
            "not the stand-in's authorize endpoint: {authorize_url}"
        );
        let page = browser.get(&format!("{authorize_url}&login={login}")).await;
        assert_eq!(page.status, StatusCode::FOUND, "GitHub's answer: {page:?}");
        page.location().expect("Location")
    }
}

async fn answer(state: &Mutex<State>, req: Request<Incoming>) -> Response<TestBody> {
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or("").to_owned();
    let params = pairs(&query);
    let headers = req.headers().clone();
    let method = req.method().clone();
    let body = match req.into_body().collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return text(StatusCode::BAD_REQUEST, "unreadable body"),
    };
    match (method.as_str(), path.as_str()) {
        ("GET", "/login/oauth/authorize") => authorize(state, &params),
        ("POST", "/login/oauth/access_token") => {
            let form = pairs(&String::from_utf8_lossy(&body));
            let json_wanted = headers
                .get("accept")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|a| a.contains("application/json"));
            let basic = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Basic "))
                .and_then(|b| STANDARD.decode(b).ok())
                .and_then(|b| String::from_utf8(b).ok());
            let fields = access_token(state, &form, basic.as_deref());
            if json_wanted {
                json_response(StatusCode::OK, &Value::Object(fields), None)
            } else {
                let mut out = form_urlencoded::Serializer::new(String::new());
                for (k, v) in &fields {
                    out.append_pair(k, v.as_str().unwrap_or_default());
                }
                let mut res = Response::new(full(out.finish()));
                res.headers_mut().insert(
                    "content-type",
                    http::HeaderValue::from_static("application/x-www-form-urlencoded"),
                );
                res
            }
        }
        ("GET", api) if api.starts_with("/api/v3/") => {
            let token = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| {
                    v.strip_prefix("Bearer ")
                        .or_else(|| v.strip_prefix("token "))
                })
                .map(str::to_owned);
            let user = {
                let state = state.lock().expect("state");
                token
                    .and_then(|t| state.tokens.get(&t).cloned())
                    .and_then(|login| state.users.get(&login).cloned())
            };
            let Some(user) = user else {
                return json_response(
                    StatusCode::UNAUTHORIZED,
                    &json!({"message": "Requires authentication"}),
                    None,
                );
            };
            api_answer(&user, api.trim_start_matches("/api/v3"), &params, &headers)
        }
        _ => json_response(
            StatusCode::NOT_FOUND,
            &json!({"message": "Not Found"}),
            None,
        ),
    }
}

fn authorize(state: &Mutex<State>, params: &HashMap<String, String>) -> Response<TestBody> {
    let mut state = state.lock().expect("state");
    if params.get("client_id").map(String::as_str) != Some(GITHUB_CLIENT_ID) {
        return text(StatusCode::NOT_FOUND, "unknown OAuth app");
    }
    let Some(redirect_uri) = params.get("redirect_uri") else {
        return text(StatusCode::BAD_REQUEST, "no redirect_uri");
    };
    if !state.redirect_uris.contains(redirect_uri) {
        return text(
            StatusCode::OK,
            "The redirect_uri is not associated with this application.",
        );
    }
    let Some(login) = params.get("login") else {
        return text(StatusCode::OK, "Sign in to GitHub (add login=NAME)");
    };
    if !state.users.contains_key(login) {
        return text(StatusCode::OK, "Incorrect username or password.");
    }
    if let Some(method) = params.get("code_challenge_method") {
        if method != "S256" {
            return text(StatusCode::BAD_REQUEST, "unsupported code_challenge_method");
        }
    }
    state.issued += 1;
    let code = format!("gh-code-{}-{}", state.issued, random_hex());
    state.codes.insert(
        code.clone(),
        Grant {
            login: login.clone(),
            redirect_uri: redirect_uri.clone(),
            challenge: params.get("code_challenge").cloned(),
        },
    );
    let mut location = reqwest::Url::parse(redirect_uri).expect("registered URI");
    location.query_pairs_mut().append_pair("code", &code);
    if let Some(s) = params.get("state") {
        location.query_pairs_mut().append_pair("state", s);
    }
    let mut res = Response::new(full(""));
    *res.status_mut() = StatusCode::FOUND;
    res.headers_mut().insert(
        "location",
        http::HeaderValue::from_str(location.as_str()).expect("location"),
    );
    res
}

/// The token endpoint's fields: a token, or GitHub's `error` (answered with 200 either way).
fn access_token(
    state: &Mutex<State>,
    form: &HashMap<String, String>,
    basic: Option<&str>,
) -> serde_json::Map<String, Value> {
    let error = |code: &str, description: &str| {
        let mut fields = serde_json::Map::new();
        fields.insert("error".into(), json!(code));
        fields.insert("error_description".into(), json!(description));
        fields
    };
    let (client_id, secret) = match basic.and_then(|b| b.split_once(':')) {
        Some((id, secret)) => (id.to_owned(), secret.to_owned()),
        None => (
            form.get("client_id").cloned().unwrap_or_default(),
            form.get("client_secret").cloned().unwrap_or_default(),
        ),
    };
    if client_id != GITHUB_CLIENT_ID || secret != GITHUB_CLIENT_SECRET {
        return error(
            "incorrect_client_credentials",
            "The client_id and/or client_secret passed are incorrect.",
        );
    }
    let mut state = state.lock().expect("state");
    let Some(grant) = form.get("code").and_then(|c| state.codes.remove(c)) else {
        return error(
            "bad_verification_code",
            "The code passed is incorrect or expired.",
        );
    };
    if form.get("redirect_uri") != Some(&grant.redirect_uri) {
        return error(
            "redirect_uri_mismatch",
            "The redirect_uri MUST match the registered callback URL for this application.",
        );
    }
    if let Some(challenge) = &grant.challenge {
        let verifier = form.get("code_verifier").cloned().unwrap_or_default();
        if &URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) != challenge {
            return error("bad_verification_code", "The code_verifier does not match.");
        }
    }
    let token = format!("gho_{}", random_hex());
    state.tokens.insert(token.clone(), grant.login);
    let mut fields = serde_json::Map::new();
    fields.insert("access_token".into(), json!(token));
    fields.insert("token_type".into(), json!("bearer"));
    fields.insert("scope".into(), json!("read:org,user:email"));
    fields
}

fn api_answer(
    user: &GithubUser,
    path: &str,
    params: &HashMap<String, String>,
    headers: &http::HeaderMap,
) -> Response<TestBody> {
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    match path {
        "/user" => {
            // The public email: GitHub leaves it null unless the person made one public.
            let public = user
                .emails
                .iter()
                .find(|(_, primary, _)| *primary)
                .map(|(address, _, _)| address.clone());
            json_response(
                StatusCode::OK,
                &json!({
                    "login": user.login, "id": user.id, "type": "User",
                    "name": user.name, "email": public,
                }),
                None,
            )
        }
        "/user/emails" => {
            let list: Vec<Value> = user
                .emails
                .iter()
                .map(|(email, primary, verified)| {
                    json!({"email": email, "primary": primary, "verified": verified, "visibility": null})
                })
                .collect();
            paged(&list, params, &format!("http://{host}/api/v3/user/emails"))
        }
        "/user/orgs" => {
            let list: Vec<Value> = user
                .orgs
                .iter()
                .enumerate()
                .map(|(i, org)| json!({"login": org, "id": 1000 + i}))
                .collect();
            paged(&list, params, &format!("http://{host}/api/v3/user/orgs"))
        }
        "/user/teams" => {
            let list: Vec<Value> = user
                .teams
                .iter()
                .enumerate()
                .map(|(i, (org, slug))| {
                    json!({"id": 5000 + i, "slug": slug, "name": slug,
                           "organization": {"login": org}})
                })
                .collect();
            paged(&list, params, &format!("http://{host}/api/v3/user/teams"))
        }
        _ => json_response(
            StatusCode::NOT_FOUND,
            &json!({"message": "Not Found"}),
            None,
        ),
    }
}

/// One page of `list` as GitHub serves it, with its `Link` header.
fn paged(list: &[Value], params: &HashMap<String, String>, base: &str) -> Response<TestBody> {
    let per_page = params
        .get("per_page")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(30)
        .clamp(1, 100);
    let page = params
        .get("page")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let last = list.len().div_ceil(per_page).max(1);
    let items: Vec<Value> = list
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .cloned()
        .collect();
    let mut links = Vec::new();
    if page < last {
        links.push(format!(
            "<{base}?per_page={per_page}&page={}>; rel=\"next\"",
            page + 1
        ));
        links.push(format!(
            "<{base}?per_page={per_page}&page={last}>; rel=\"last\""
        ));
    }
    if page > 1 {
        links.push(format!(
            "<{base}?per_page={per_page}&page=1>; rel=\"first\""
        ));
        links.push(format!(
            "<{base}?per_page={per_page}&page={}>; rel=\"prev\"",
            page - 1
        ));
    }
    let link = (!links.is_empty()).then(|| links.join(", "));
    json_response(StatusCode::OK, &Value::Array(items), link)
}

fn json_response(status: StatusCode, body: &Value, link: Option<String>) -> Response<TestBody> {
    let mut res = Response::new(full(body.to_string()));
    *res.status_mut() = status;
    res.headers_mut().insert(
        "content-type",
        http::HeaderValue::from_static("application/json; charset=utf-8"),
    );
    if let Some(link) = link {
        res.headers_mut()
            .insert("link", http::HeaderValue::from_str(&link).expect("link"));
    }
    res
}

fn text(status: StatusCode, body: &str) -> Response<TestBody> {
    let mut res = Response::new(full(body.to_owned()));
    *res.status_mut() = status;
    res.headers_mut().insert(
        "content-type",
        http::HeaderValue::from_static("text/html; charset=utf-8"),
    );
    res
}

fn pairs(text: &str) -> HashMap<String, String> {
    form_urlencoded::parse(text.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn random_hex() -> String {
    let bytes: [u8; 16] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
