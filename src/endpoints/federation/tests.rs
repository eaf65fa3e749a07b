//! The relying party against small fake providers on 127.0.0.1 (an OpenID provider signing
//! with a ring key, and a GitHub stand-in): the flow end to end through `start_for` and
//! `callback`, each refusal of the callback, the key rotation, a provider that is down, and
//! the round trips a sign-in costs (counted by the fakes). The real-provider tests (panva's
//! oidc-provider) are fed-tests' `tests/it/federation_*.rs`.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use bytes::Bytes;
use http::header::{HeaderMap, HeaderValue, COOKIE, LOCATION, SET_COOKIE};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use serde_json::{json, Value};

use super::*;
use crate::clock::ManualClock;
use crate::federation::id_token::IdTokenInvalid;
use crate::federation::jwks::{self, test_keys::TestKey};
use crate::gateway_paths::LOGIN_COOKIE;
use crate::oauth::login::PasswordChecker;
use crate::oauth::{AuthServer, Lasting};
use crate::store::memory::MemoryStore;
use crate::tokens::keyring::{KeyRing, SigningKey};

const START: u64 = 1_800_000_000;
const SUBJECT: &str = "248289761001";
const CLIENT_SECRET: &str = "upstream-secret-0123456789";

/// What the fake provider knows and counts.
#[derive(Default)]
struct IdpState {
    hits: HashMap<String, usize>,
    /// The nonce and challenge of the flow in progress (read from the redirect).
    nonce: String,
    challenge: String,
    /// The kid the fake signs with; keys[kid] are published.
    kid: String,
    /// Claims to change in the next ID token.
    tweak: Option<fn(&mut Value)>,
    /// Whether the ID token carries the email (else only UserInfo has it).
    thin: bool,
}

struct Idp {
    port: u16,
    state: Arc<Mutex<IdpState>>,
    /// Every key the fake can sign with, and whether its JWKS publishes it.
    keys: Arc<Mutex<Vec<(String, TestKey, bool)>>>,
}

impl Idp {
    fn issuer(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn hits(&self, path: &str) -> usize {
        self.state
            .lock()
            .unwrap()
            .hits
            .get(path)
            .copied()
            .unwrap_or(0)
    }

    fn total(&self) -> usize {
        self.state.lock().unwrap().hits.values().sum()
    }

    /// Signs with a new key from now on, published or not.
    fn rotate(&self, kid: &str, published: bool) {
        self.keys
            .lock()
            .unwrap()
            .push((kid.to_owned(), TestKey::es256(kid), published));
        self.state.lock().unwrap().kid = kid.to_owned();
    }
}

fn json_response(status: StatusCode, value: Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(value.to_string())))
        .unwrap()
}

fn sign(key: &TestKey, kid: &str, claims: &Value) -> String {
    key.jws(&json!({"alg": "ES256", "kid": kid}), claims)
}

async fn serve<F, Fut>(handler: F) -> u16
where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Response<Full<Bytes>>> + Send,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let handler = handler.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let handler = handler.clone();
                    async move { Ok::<_, Infallible>(handler(req).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(tcp), service)
                    .await;
            });
        }
    });
    port
}

async fn start_idp() -> Idp {
    let state = Arc::new(Mutex::new(IdpState {
        kid: "k1".to_owned(),
        ..IdpState::default()
    }));
    let keys = Arc::new(Mutex::new(vec![(
        "k1".to_owned(),
        TestKey::es256("k1"),
        true,
    )]));
    let port_cell = Arc::new(std::sync::OnceLock::<u16>::new());
    let (s, k, p) = (state.clone(), keys.clone(), port_cell.clone());
    let port = serve(move |req: Request<Incoming>| {
        let (state, keys, port) = (s.clone(), k.clone(), p.clone());
        async move {
            let issuer = format!("http://127.0.0.1:{}", port.get().copied().unwrap_or(0));
            let path = req.uri().path().to_owned();
            *state.lock().unwrap().hits.entry(path.clone()).or_default() += 1;
            let auth = req
                .headers()
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            let body = req.into_body().collect().await.unwrap().to_bytes();
            let form: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
            match path.as_str() {
                "/.well-known/openid-configuration" => json_response(
                    StatusCode::OK,
                    json!({
                        "issuer": issuer,
                        "authorization_endpoint": format!("{issuer}/auth"),
                        "token_endpoint": format!("{issuer}/token"),
                        "jwks_uri": format!("{issuer}/jwks"),
                        "userinfo_endpoint": format!("{issuer}/me"),
                        "authorization_response_iss_parameter_supported": true,
                    }),
                ),
                "/jwks" => {
                    let keys = keys.lock().unwrap();
                    json_response(
                        StatusCode::OK,
                        json!({"keys": keys.iter().filter(|(_, _, p)| *p).map(|(_, k, _)| k.jwk.clone()).collect::<Vec<_>>()}),
                    )
                }
                "/token" => {
                    let state = state.lock().unwrap();
                    let basic = oidc::basic_credentials("authgate-upstream", CLIENT_SECRET);
                    let verifier = form.get("code_verifier").cloned().unwrap_or_default();
                    let pkce = URL_SAFE_NO_PAD
                        .encode(<sha2::Sha256 as sha2::Digest>::digest(verifier.as_bytes()));
                    if auth != basic
                        || form.get("code").map(String::as_str) != Some("good-code")
                        || pkce != state.challenge
                    {
                        return json_response(StatusCode::BAD_REQUEST, json!({"error": "invalid_grant"}));
                    }
                    let mut claims = json!({
                        "iss": issuer, "sub": SUBJECT, "aud": "authgate-upstream",
                        "exp": START + 300, "iat": START, "nonce": state.nonce,
                    });
                    if !state.thin {
                        claims["email"] = "jane@example.com".into();
                        claims["email_verified"] = true.into();
                    }
                    if let Some(tweak) = state.tweak {
                        tweak(&mut claims);
                    }
                    let keys = keys.lock().unwrap();
                    let (kid, key, _) = keys.iter().find(|(kid, _, _)| *kid == state.kid).unwrap();
                    json_response(
                        StatusCode::OK,
                        json!({"access_token": "upstream-access", "token_type": "Bearer", "id_token": sign(key, kid, &claims)}),
                    )
                }
                "/me" if auth == "Bearer upstream-access" => json_response(
                    StatusCode::OK,
                    json!({"sub": SUBJECT, "email": "jane@example.com", "email_verified": true}),
                ),
                _ => json_response(StatusCode::NOT_FOUND, json!({"error": "not_found"})),
            }
        }
    })
    .await;
    let _ = port_cell.set(port);
    Idp { port, state, keys }
}

struct Rp {
    auth: AuthServer,
    clock: Arc<ManualClock>,
    federation: Federation,
    _dir: tempfile::TempDir,
}

/// A gateway configuration with the provider `corp` at `issuer` (and a GitHub provider at
/// `github`), admitting everyone.
fn rp(issuer: &str, github: &str, email_gate: bool) -> Rp {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, CLIENT_SECRET).unwrap();
    let gate = if email_gate {
        r#"allow_email_domains = ["example.com"]"#
    } else {
        "allow_all = true"
    };
    let text = format!(
        r#"[server]
listen = "127.0.0.1:0"
public_url = "https://gw.example"
data_dir = "{data}"
[server.tls]
mode = "off"
[admin]
listen = "off"
[scopes]
"app" = "The app"
[[clients]]
id = "spa"
type = "public"
redirect_uris = ["https://app.example/cb"]
scopes = ["app"]
[[providers]]
id = "corp"
type = "oidc"
issuer = "{issuer}"
client_id = "authgate-upstream"
client_secret = "file:{secret}"
{gate}
grant_scopes = ["app"]
[[providers]]
id = "gh"
type = "github"
github_url = "{github}"
api_url = "{github}/api"
client_id = "gh-client"
client_secret = "file:{secret}"
allow_orgs = ["acme"]
grant_scopes = ["app"]
"#,
        data = dir.path().display(),
        secret = secret.display(),
    );
    let config = Config::from_toml_str(&text).unwrap();
    let clock = Arc::new(ManualClock::new(START));
    let lasting = Lasting {
        store: Arc::new(MemoryStore::new()),
        clock: clock.clone(),
        metrics: Arc::new(crate::metrics::Metrics::new().unwrap()),
        login: Arc::new(PasswordChecker::new()),
        signing: Arc::new(crate::tokens::jose::Keys::new(
            crate::oauth::test_server::test_key_set().clone(),
        )),
        factor_key: Arc::new(crate::mfa::seal::FactorKey::from_bytes(&[5; 32])),
    };
    let keys = KeyRing::new(SigningKey::new(&[7u8; 32]).unwrap(), Vec::new());
    Rp {
        auth: AuthServer::new(&config, keys, &lasting),
        clock,
        federation: Federation::new(&config),
        _dir: dir,
    }
}

const REQUEST: &str = "response_type=code&client_id=spa&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&scope=app&state=app-state&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256";

fn query_of(location: &str) -> HashMap<String, String> {
    let (_, query) = location.split_once('?').unwrap();
    form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

/// A browser's start: the provider's authorization URL's parameters and the flow cookie.
async fn begin(rp: &Rp, provider: &str, idp: Option<&Idp>) -> (HashMap<String, String>, HeaderMap) {
    let response = start_for(&rp.federation, &rp.auth, provider, REQUEST)
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FOUND);
    let location = response.headers()[LOCATION].to_str().unwrap().to_owned();
    let params = query_of(&location);
    if let Some(idp) = idp {
        let mut state = idp.state.lock().unwrap();
        state.nonce = params["nonce"].clone();
        state.challenge = params["code_challenge"].clone();
    }
    let set = response.headers()[SET_COOKIE].to_str().unwrap();
    let pair = set.split(';').next().unwrap();
    let mut headers = HeaderMap::new();
    headers.insert(COOKIE, HeaderValue::from_str(pair).unwrap());
    (params, headers)
}

async fn answer(
    rp: &Rp,
    provider: &str,
    headers: &HeaderMap,
    query: &str,
) -> Result<Response<Body>, Rejection> {
    callback(&rp.federation, &rp.auth, headers, provider, Some(query)).await
}

fn callback_query(state: &str, iss: Option<&str>) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    q.append_pair("code", "good-code")
        .append_pair("state", state);
    if let Some(iss) = iss {
        q.append_pair("iss", iss);
    }
    q.finish()
}

/// The principal of the login session a response set.
async fn signed_in_as(rp: &Rp, response: &Response<Body>) -> String {
    let login = response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix(&format!("{LOGIN_COOKIE}=")))
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let session = rp.auth.touch_session(&login).await.unwrap().unwrap();
    session.user
}

#[tokio::test]
async fn a_sign_in_resumes_the_request_as_the_principal_and_costs_one_token_round_trip() {
    let idp = start_idp().await;
    let rp = rp(&idp.issuer(), "http://127.0.0.1:9", false);
    let (params, headers) = begin(&rp, "corp", Some(&idp)).await;
    assert_eq!(params["response_type"], "code");
    assert_eq!(params["client_id"], "authgate-upstream");
    assert_eq!(
        params["redirect_uri"],
        "https://gw.example/oauth2/callback/corp"
    );
    assert_eq!(params["code_challenge_method"], "S256");
    assert!(params["scope"].split(' ').any(|s| s == "openid"));
    assert_ne!(params["state"], params["nonce"]);
    let discovery_before_callback = idp.total();
    let timer = std::time::Instant::now();

    let response = answer(
        &rp,
        "corp",
        &headers,
        &callback_query(&params["state"], Some(&idp.issuer())),
    )
    .await
    .unwrap();
    let first_callback = timer.elapsed();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = response.headers()[LOCATION].to_str().unwrap();
    assert_eq!(location, format!("/oauth2/authorize?{REQUEST}"));
    assert_eq!(
        signed_in_as(&rp, &response).await,
        format!("corp:{SUBJECT}")
    );
    let cleared = response.headers().get_all(SET_COOKIE).iter().any(|v| {
        v.to_str().unwrap().starts_with("__Host-authgate-fed-")
            && v.to_str().unwrap().contains("Max-Age=0")
    });
    assert!(cleared, "the flow cookie is cleared");

    // Round trips of the first sign-in: discovery once (at the start), then the token
    // endpoint once and the JWKS once; no UserInfo (the token has the claims).
    assert_eq!(discovery_before_callback, 1);
    assert_eq!(idp.hits("/.well-known/openid-configuration"), 1);
    assert_eq!(idp.hits("/token"), 1);
    assert_eq!(idp.hits("/jwks"), 1);
    assert_eq!(idp.hits("/me"), 0);
    let first = idp.total();
    // A second sign-in: the token endpoint only.
    let (params, headers) = begin(&rp, "corp", Some(&idp)).await;
    let timer = std::time::Instant::now();
    answer(
        &rp,
        "corp",
        &headers,
        &callback_query(&params["state"], Some(&idp.issuer())),
    )
    .await
    .unwrap();
    let later_callback = timer.elapsed();
    let second = idp.total() - first;
    assert_eq!(second, 1);
    eprintln!(
        "round trips to the provider: first sign-in {first} (discovery 1, JWKS 1, token 1), \
         each later sign-in {second} (token); callback {first_callback:?} first, \
         {later_callback:?} later (debug build, fake provider on loopback)"
    );
}

#[tokio::test]
async fn a_replayed_or_foreign_callback_is_refused() {
    let idp = start_idp().await;
    let rp = rp(&idp.issuer(), "http://127.0.0.1:9", false);
    let (params, headers) = begin(&rp, "corp", Some(&idp)).await;
    let good = callback_query(&params["state"], Some(&idp.issuer()));
    let refused = |r: Result<Response<Body>, Rejection>| match r {
        Err(Rejection::Federation(why)) => why,
        Err(other) => panic!("{other:?}"),
        Ok(response) => panic!("accepted: {}", response.status()),
    };
    // Another browser (no cookie), a damaged cookie, another provider's callback, another
    // issuer: refused before the code is used.
    assert_eq!(
        refused(answer(&rp, "corp", &HeaderMap::new(), &good).await),
        FederationRefused::CookieMissing
    );
    let mut damaged = headers.clone();
    let value = headers[COOKIE].to_str().unwrap().replace('.', ".x");
    damaged.insert(COOKIE, HeaderValue::from_str(&value).unwrap());
    assert_eq!(
        refused(answer(&rp, "corp", &damaged, &good).await),
        FederationRefused::CookieDamaged
    );
    assert_eq!(
        refused(answer(&rp, "gh", &headers, &good).await),
        FederationRefused::OtherProvider
    );
    let other_iss = callback_query(&params["state"], Some("http://127.0.0.1:1"));
    assert_eq!(
        refused(answer(&rp, "corp", &headers, &other_iss).await),
        FederationRefused::OtherIssuer
    );
    // The provider promises iss: an answer without it is refused.
    let no_iss = callback_query(&params["state"], None);
    assert_eq!(
        refused(answer(&rp, "corp", &headers, &no_iss).await),
        FederationRefused::IssuerMissing
    );
    assert_eq!(
        refused(answer(&rp, "corp", &headers, "error=access_denied").await),
        FederationRefused::Cancelled
    );
    assert_eq!(
        refused(answer(&rp, "corp", &headers, "code=x").await),
        FederationRefused::NoState
    );
    assert_eq!(idp.hits("/token"), 0);
    // The real answer once; the same answer again is a replay.
    answer(&rp, "corp", &headers, &good).await.unwrap();
    assert_eq!(
        refused(answer(&rp, "corp", &headers, &good).await),
        FederationRefused::Replayed
    );
    assert_eq!(idp.hits("/token"), 1);
    // Expired flows are refused.
    let (params, headers) = begin(&rp, "corp", Some(&idp)).await;
    let late = callback_query(&params["state"], Some(&idp.issuer()));
    rp.clock.advance(crate::federation::flow::FLOW_TTL_SECS);
    assert_eq!(
        refused(answer(&rp, "corp", &headers, &late).await),
        FederationRefused::Expired
    );
}

#[tokio::test]
async fn a_wrong_nonce_or_audience_in_the_id_token_is_refused() {
    let idp = start_idp().await;
    let rp = rp(&idp.issuer(), "http://127.0.0.1:9", false);
    for (tweak, want) in [
        (
            (|c: &mut Value| c["nonce"] = "other".into()) as fn(&mut Value),
            IdTokenInvalid::Nonce,
        ),
        (
            |c: &mut Value| c["aud"] = "someone-else".into(),
            IdTokenInvalid::Audience,
        ),
        (
            |c: &mut Value| c["iss"] = "http://127.0.0.1:1".into(),
            IdTokenInvalid::Issuer,
        ),
        (
            |c: &mut Value| c["exp"] = (START - 120).into(),
            IdTokenInvalid::Expired,
        ),
    ] {
        idp.state.lock().unwrap().tweak = Some(tweak);
        let (params, headers) = begin(&rp, "corp", Some(&idp)).await;
        let result = answer(
            &rp,
            "corp",
            &headers,
            &callback_query(&params["state"], Some(&idp.issuer())),
        )
        .await;
        assert!(
            matches!(result, Err(Rejection::Federation(FederationRefused::IdToken(got))) if got == want),
            "{want:?}"
        );
    }
}

#[tokio::test]
async fn a_rotated_key_is_fetched_once_and_unknown_kids_are_rate_limited() {
    let idp = start_idp().await;
    let rp = rp(&idp.issuer(), "http://127.0.0.1:9", false);
    let sign_in = || async {
        let (params, headers) = begin(&rp, "corp", Some(&idp)).await;
        answer(
            &rp,
            "corp",
            &headers,
            &callback_query(&params["state"], Some(&idp.issuer())),
        )
        .await
    };
    sign_in().await.unwrap();
    assert_eq!(idp.hits("/jwks"), 1);
    // The provider rotates: the unknown kid refetches the keys once, and the sign-in passes.
    rp.clock.advance(jwks::REFETCH_INTERVAL_SECS);
    idp.rotate("k2", true);
    sign_in().await.unwrap();
    assert_eq!(idp.hits("/jwks"), 2);
    // Tokens under a kid nobody publishes, within 30 s of the last fetch: no refetch.
    idp.rotate("k3", false);
    for _ in 0..3 {
        let result = sign_in().await;
        assert!(matches!(
            result,
            Err(Rejection::Federation(FederationRefused::IdToken(
                IdTokenInvalid::UnknownKey
            )))
        ));
    }
    assert_eq!(idp.hits("/jwks"), 2);
    // 30 s later one more refetch is allowed.
    rp.clock.advance(jwks::REFETCH_INTERVAL_SECS);
    assert!(sign_in().await.is_err());
    assert_eq!(idp.hits("/jwks"), 3);
}

#[tokio::test]
async fn userinfo_is_asked_when_a_gate_needs_a_claim_the_token_lacks() {
    let idp = start_idp().await;
    idp.state.lock().unwrap().thin = true;
    let rp = rp(&idp.issuer(), "http://127.0.0.1:9", true);
    let (params, headers) = begin(&rp, "corp", Some(&idp)).await;
    let response = answer(
        &rp,
        "corp",
        &headers,
        &callback_query(&params["state"], Some(&idp.issuer())),
    )
    .await
    .unwrap();
    assert_eq!(
        signed_in_as(&rp, &response).await,
        format!("corp:{SUBJECT}")
    );
    assert_eq!(idp.hits("/me"), 1);
}

#[tokio::test]
async fn a_provider_that_is_down_gets_a_page_and_the_next_try_works_once_it_answers() {
    // A port with nothing listening.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let rp = rp(
        &format!("http://127.0.0.1:{closed}"),
        "http://127.0.0.1:9",
        false,
    );
    let result = start_for(&rp.federation, &rp.auth, "corp", REQUEST).await;
    assert!(matches!(
        result,
        Err(Rejection::Federation(
            FederationRefused::ProviderUnavailable
        ))
    ));
    let result = start_for(&rp.federation, &rp.auth, "nope", REQUEST).await;
    assert!(matches!(
        result,
        Err(Rejection::Federation(FederationRefused::UnknownProvider))
    ));
    let result = start_for(&rp.federation, &rp.auth, "corp", "client_id=unknown").await;
    assert!(matches!(
        result,
        Err(Rejection::Federation(FederationRefused::BadRequest))
    ));
}

#[test]
fn hints_name_only_configured_providers_and_are_dropped_from_the_resumed_request() {
    let rp = rp("https://idp.example.com", "https://github.example", false);
    assert_eq!(
        hinted_provider(&rp.federation, "client_id=spa&provider=corp"),
        Some("corp")
    );
    assert_eq!(
        hinted_provider(&rp.federation, "idp_hint=gh&client_id=spa"),
        Some("gh")
    );
    assert_eq!(
        hinted_provider(&rp.federation, "provider=other&client_id=spa"),
        None
    );
    assert_eq!(hinted_provider(&rp.federation, "client_id=spa"), None);
    assert_eq!(without_hint("a=1&provider=corp&b=2&idp_hint=x"), "a=1&b=2");
}

/// A GitHub stand-in: the token endpoint, the user, its emails (primary unverified when
/// asked), and organisations on two pages.
async fn start_github(primary_verified: bool) -> (u16, Arc<Mutex<HashMap<String, usize>>>) {
    let hits = Arc::new(Mutex::new(HashMap::<String, usize>::new()));
    let h = hits.clone();
    let port_cell = Arc::new(std::sync::OnceLock::<u16>::new());
    let p = port_cell.clone();
    let port = serve(move |req: Request<Incoming>| {
        let (hits, port) = (h.clone(), p.clone());
        async move {
            let base = format!("http://127.0.0.1:{}", port.get().copied().unwrap_or(0));
            let path = req.uri().path().to_owned();
            let page = req.uri().query().unwrap_or("").contains("page=2");
            *hits.lock().unwrap().entry(path.clone()).or_default() += 1;
            let token_ok = req.headers().get("authorization").and_then(|v| v.to_str().ok()) == Some("Bearer gh-token");
            let json = req.headers().get("accept").and_then(|v| v.to_str().ok()) == Some("application/json");
            match path.as_str() {
                // GitHub answers errors with 200.
                "/login/oauth/access_token" if !json => json_response(StatusCode::OK, json!({"error": "wants_json"})),
                "/login/oauth/access_token" => json_response(StatusCode::OK, json!({"access_token": "gh-token", "token_type": "bearer"})),
                _ if !token_ok => json_response(StatusCode::UNAUTHORIZED, json!({"message": "Bad credentials"})),
                "/api/user" => json_response(StatusCode::OK, json!({"id": 583231, "login": "octocat", "name": "The Octocat"})),
                "/api/user/emails" => json_response(StatusCode::OK, json!([
                    {"email": "old@example.com", "primary": false, "verified": true},
                    {"email": "octo@example.com", "primary": true, "verified": primary_verified},
                ])),
                "/api/user/orgs" if !page => {
                    let mut r = json_response(StatusCode::OK, json!([{"login": "other"}]));
                    let link = format!(r#"<{base}/api/user/orgs?per_page=100&page=2>; rel="next", <{base}/api/user/orgs?per_page=100&page=2>; rel="last""#);
                    r.headers_mut().insert("link", HeaderValue::from_str(&link).unwrap());
                    r
                }
                "/api/user/orgs" => json_response(StatusCode::OK, json!([{"login": "acme"}])),
                "/api/user/teams" => json_response(StatusCode::OK, json!([{"slug": "platform", "organization": {"login": "acme"}}])),
                _ => json_response(StatusCode::NOT_FOUND, json!({"message": "Not Found"})),
            }
        }
    })
    .await;
    let _ = port_cell.set(port);
    (port, hits)
}

/// What the GitHub stand-in says of the person, through `github::identify`.
async fn github_identity(rp: &Rp) -> crate::federation::identity::ExternalIdentity {
    let provider = rp.federation.provider("gh").unwrap();
    let ProviderKind::Github { web_url, api_url } = &provider.config.kind else {
        panic!("gh is a GitHub provider")
    };
    let flow = FederatedFlow::begin("gh", REQUEST, START);
    let redirect = &provider.redirect_uri;
    github::identify(&provider.config, web_url, api_url, &flow, "code", redirect)
        .await
        .unwrap()
}

#[tokio::test]
async fn github_identity_comes_from_its_api_with_orgs_on_page_two() {
    let (port, hits) = start_github(true).await;
    let base = format!("http://127.0.0.1:{port}");
    let rp = rp("https://idp.example.com", &base, false);
    let (params, headers) = begin(&rp, "gh", None).await;
    assert_eq!(params["client_id"], "gh-client");
    assert_eq!(params["code_challenge_method"], "S256");
    assert_eq!(
        params["redirect_uri"],
        "https://gw.example/oauth2/callback/gh"
    );
    let identity = github_identity(&rp).await;
    assert_eq!(identity.subject, "583231");
    assert_eq!(identity.username.as_deref(), Some("octocat"));
    assert_eq!(identity.email.as_deref(), Some("octo@example.com"));
    assert!(identity.email_verified);
    assert_eq!(identity.groups, ["other", "acme", "acme/platform"]);
    assert_eq!(hits.lock().unwrap()["/api/user/orgs"], 2);
    // The whole callback: admitted through the org gate as gh:583231.
    let response = answer(&rp, "gh", &headers, &callback_query(&params["state"], None))
        .await
        .unwrap();
    assert_eq!(signed_in_as(&rp, &response).await, "gh:583231");
    let total: usize = hits.lock().unwrap().values().sum();
    eprintln!("GitHub round trips for two identifications: {total}");
}

#[tokio::test]
async fn a_github_primary_email_that_is_not_verified_does_not_count_as_verified() {
    let (port, _) = start_github(false).await;
    let rp = rp(
        "https://idp.example.com",
        &format!("http://127.0.0.1:{port}"),
        false,
    );
    let identity = github_identity(&rp).await;
    assert_eq!(identity.email.as_deref(), Some("octo@example.com"));
    assert!(!identity.email_verified);
}
