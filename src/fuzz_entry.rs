//! The entry points of the fuzz targets in `fuzz/` (cargo-fuzz, see `fuzz/README.md`): one
//! `pub fn name(data: &[u8])` per parser that network or file input reaches, each calling the
//! real parser and asserting what must hold of its answer. Not an API: nothing in the gateway
//! calls these, and they may panic (an assertion failing is how a fuzz target reports a bug).
//!
//! They live in the crate, not in `fuzz/`, so that the parsers can stay private to their
//! modules (at most `pub(crate)`). The gateway state a few of them need (an [`AuthServer`]
//! over a memory store, a single-threaded runtime) is built once per process.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};

use crate::authn::{bearer, flow, return_to};
use crate::clock::ManualClock;
use crate::config::{check_redirect_uri, Config};
use crate::endpoints::oauth::form as endpoints;
use crate::endpoints::sign_in;
use crate::http::cookie;
use crate::http::path;
use crate::oauth::registration::ClientMetadata;
use crate::oauth::{csrf::FormKey, login::PasswordChecker, seal};
use crate::oauth::{AuthServer, Lasting, TokenResponse};
use crate::store::memory::change::Change;
use crate::store::memory::MemoryStore;
use crate::store::persist::record;
use crate::store::SealedSuccessor;
use crate::tokens::jose::{Alg, KeySet};
use crate::tokens::jwt::{self, AccessClaims, Expected};
use crate::tokens::keyring::{KeyRing, SigningKey};

/// The time of the fuzzing gateway's clock.
const NOW: u64 = 1_800_000_000;
/// The initial access token of the fuzzing gateway's registration endpoint.
const REGISTRATION_TOKEN: &str = "fuzz-registration-token";
const ISSUER: &str = "https://gw.example.com";
const CONFIG: &str = r#"[server]
listen = "127.0.0.1:8443"
public_url = "https://gw.example.com"

[scopes]
"api:read" = "Read"
"api:write" = "Write"
"#;

fn key() -> Option<SigningKey> {
    SigningKey::new(&[7u8; 32]).ok()
}

fn ring() -> Option<KeyRing> {
    Some(KeyRing::new(key()?, Vec::new()))
}

/// An authorization server over a memory store, and a runtime to drive it (also used by
/// the flow cookie's property tests).
pub(crate) struct Gateway {
    pub(crate) runtime: tokio::runtime::Runtime,
    pub(crate) auth: AuthServer,
}

fn build_gateway() -> Option<Gateway> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .ok()?;
    let config = Config::from_toml_str(CONFIG).ok()?;
    let lasting = Lasting {
        store: Arc::new(MemoryStore::new()),
        clock: Arc::new(ManualClock::new(NOW)),
        metrics: Arc::new(crate::metrics::Metrics::new().ok()?),
        login: Arc::new(PasswordChecker::new()),
        signing: Arc::new(crate::tokens::jose::Keys::empty()),
        factor_key: Arc::new(crate::mfa::seal::FactorKey::from_bytes(&[5; 32])),
    };
    let mut auth = AuthServer::new(&config, ring()?, &lasting);
    auth.registration_token = Some(crate::tokens::opaque::TokenHash::of(REGISTRATION_TOKEN));
    auth.registration.scopes = vec!["api:read".to_owned(), "api:write".to_owned()];
    // Bounded, so a long run does not grow the store for ever; past it the validation still runs.
    auth.registration.max_clients = 64;
    Some(Gateway { runtime, auth })
}

pub(crate) fn gateway() -> Option<&'static Gateway> {
    static GATEWAY: OnceLock<Option<Gateway>> = OnceLock::new();
    GATEWAY.get_or_init(build_gateway).as_ref()
}

/// A stable position in `0..len` picked by the input, so that a crash reproduces.
fn pick(data: &[u8], salt: usize, len: usize) -> usize {
    let mixed = data.iter().fold(salt.wrapping_mul(0x9e37_79b9), |h, &b| {
        h.rotate_left(5) ^ usize::from(b)
    });
    mixed % len.max(1)
}

/// `http::path::normalize`: the output is absolute, in normal form (normalising it again
/// gives it back), has no dot or empty segments, and so never climbs above `/`.
pub fn path_normalize(data: &[u8]) {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(out) = path::normalize(raw) else {
        return;
    };
    assert!(out.starts_with('/'), "{raw:?} -> {out:?}");
    assert!(
        matches!(path::normalize(&out), Ok(again) if again == out),
        "not idempotent: {raw:?} -> {out:?}"
    );
    let inner = out.strip_prefix('/').unwrap_or(&out);
    let inner = inner.strip_suffix('/').unwrap_or(inner);
    if !inner.is_empty() {
        for segment in inner.split('/') {
            assert!(
                !matches!(segment, "" | "." | ".."),
                "{raw:?} -> {out:?} keeps segment {segment:?}"
            );
        }
    }
    // What was refused stays refused in the output.
    let upper = out.to_ascii_uppercase();
    assert!(
        !upper.contains("%2F") && !upper.contains("%5C") && !upper.contains("%00"),
        "{raw:?} -> {out:?}"
    );
    assert!(
        !out.bytes()
            .any(|b| b < 0x20 || b == 0x7f || b >= 0x80 || b == b'\\' || b == b'#'),
        "{raw:?} -> {out:?}"
    );
}

/// The OAuth endpoints' form parser (`Form::parse`, `form_decode`) and the query check for
/// `access_token`: a parsed form answers every name with its first value, and decoding is
/// stable under re-encoding.
pub fn form(data: &[u8]) {
    let form = endpoints::Form::parse(Bytes::copy_from_slice(data));
    let mut seen: Vec<String> = Vec::new();
    for (k, v) in form_urlencoded::parse(data).take(64) {
        if seen.iter().any(|s| *s == k) {
            continue;
        }
        assert_eq!(form.get(&k), Some(v.as_ref()), "first value of {k:?}");
        seen.push(k.into_owned());
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let decoded = endpoints::form_decode(text);
    let encoded: String = form_urlencoded::byte_serialize(decoded.as_bytes()).collect();
    assert_eq!(endpoints::form_decode(&encoded), decoded, "{text:?}");
    let _ = bearer::token_in_query(Some(text));
}

/// Header values from the input's lines (at most 8); a line that is not a valid header value
/// is dropped, as hyper would refuse it.
fn header_values(data: &[u8]) -> Vec<HeaderValue> {
    data.split(|&b| b == b'\n')
        .take(8)
        .filter_map(|line| HeaderValue::from_bytes(line).ok())
        .collect()
}

/// The `Authorization` header: the bearer reader (RFC 6750) and the client authentication
/// reader of the token endpoint (HTTP Basic, RFC 6749 §2.3.1). One input line per header.
pub fn authorization(data: &[u8]) {
    let values = header_values(data);
    let mut headers = HeaderMap::new();
    for value in &values {
        headers.append(header::AUTHORIZATION, value.clone());
    }
    match bearer::presented(&headers) {
        bearer::Presented::None => assert!(values.is_empty()),
        bearer::Presented::Bearer(token) => {
            assert_eq!(values.len(), 1);
            assert!(!token.is_empty());
            // Only a token in the token68 alphabet is called well-formed, and it is ASCII.
            if bearer::well_formed(token) {
                let padding = token.iter().rev().take_while(|&&b| b == b'=').count();
                assert!(
                    token[..token.len() - padding]
                        .iter()
                        .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(b)),
                    "{token:?}"
                );
            }
            let raw = values[0].as_bytes();
            assert!(raw.len() > 7 && raw[..7].eq_ignore_ascii_case(b"bearer "));
            assert!(raw.ends_with(token));
        }
        bearer::Presented::Malformed | bearer::Presented::OtherScheme => {}
    }
    let form = endpoints::Form::parse(Bytes::from_static(b"client_id=app&grant_type=x"));
    if let Ok(credentials) = endpoints::client_credentials(&headers, &form) {
        if let Some(id) = credentials.id {
            assert!(!id.is_empty() || headers.contains_key(header::AUTHORIZATION));
        }
    }
}

/// The `Cookie` header reader: one input line per header, the first line is the cookie
/// name looked up. A value found is a whole pair's value; what `cookie::set` writes is read
/// back unchanged.
pub fn cookie(data: &[u8]) {
    let mut lines = data.splitn(2, |&b| b == b'\n');
    let name = String::from_utf8_lossy(lines.next().unwrap_or_default()).into_owned();
    let values = header_values(lines.next().unwrap_or_default());
    let mut headers = HeaderMap::new();
    for value in values {
        headers.append(header::COOKIE, value);
    }
    for wanted in [name.as_str(), crate::gateway_paths::SESSION_COOKIE] {
        if let Some(found) = cookie::get(&headers, wanted) {
            assert!(!found.contains(';'), "{found:?}");
            let pair = format!("{wanted}={found}");
            assert!(
                headers
                    .get_all(header::COOKIE)
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .any(|v| v.contains(&pair)),
                "{pair:?}"
            );
        }
    }
    // Round trip of what the gateway sets, for names and values it could set.
    let value = name.rsplit('=').next().unwrap_or_default();
    let simple = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_graphic() && !b";=,\"\\".contains(&b))
    };
    let cookie_name = name.split('=').next().unwrap_or_default();
    if simple(cookie_name) && simple(value) {
        if let Some(set) = cookie::set(cookie_name, value, Some(60)) {
            let mut back = HeaderMap::new();
            back.append(header::COOKIE, set);
            assert_eq!(cookie::get(&back, cookie_name), Some(value));
        }
    }
}

/// Replaces the byte at `at` of an ASCII token with another printable ASCII byte.
fn altered(token: &str, at: usize, by: u8) -> Option<String> {
    let mut bytes = token.as_bytes().to_vec();
    let old = *bytes.get(at)?;
    // 0x21..=0x7e: printable, so the token stays a &str.
    let mut new = 0x21 + ((u16::from(old) + u16::from(by)) % 94) as u8;
    if new == old {
        new = if old == b'A' { b'B' } else { b'A' };
    }
    bytes[at] = new;
    String::from_utf8(bytes).ok()
}

/// The JWT codec: any input as a token never panics (and, unsigned by our key, never
/// verifies); any input that is a claims object signs into a token that verifies back to
/// the same claims, and stops verifying when any byte is changed.
pub fn jwt(data: &[u8]) {
    let Some(keys) = ring() else {
        return;
    };
    if let Ok(token) = std::str::from_utf8(data) {
        let expected = Expected {
            issuer: ISSUER,
            audience: ISSUER,
            now: NOW,
        };
        assert!(
            jwt::verify(token, &keys, expected).is_err(),
            "forged {token:?}"
        );
    }
    let Ok(claims) = serde_json::from_slice::<AccessClaims>(data) else {
        return;
    };
    let token = jwt::sign(&claims, keys.current());
    let now = claims.nbf.unwrap_or(claims.iat);
    let expected = Expected {
        issuer: &claims.iss,
        audience: &claims.aud,
        now,
    };
    let verified = jwt::verify(&token, &keys, expected);
    if token.len() > jwt::MAX_TOKEN_BYTES {
        assert_eq!(verified, Err(jwt::TokenInvalid::Malformed));
        return;
    }
    if claims.exp.saturating_add(jwt::LEEWAY_SECS) <= now {
        assert_eq!(verified, Err(jwt::TokenInvalid::Expired));
        return;
    }
    assert_eq!(verified.as_ref(), Ok(&claims), "{token}");
    for salt in 0..4 {
        let at = pick(data, salt, token.len());
        if let Some(bad) = altered(&token, at, data.len() as u8 ^ salt as u8) {
            assert!(
                jwt::verify(&bad, &keys, expected).is_err(),
                "byte {at} changed still verifies"
            );
        }
    }
}

/// The published keys' JWS codec and the access-token verifier of either kind
/// (`tokens::jose::jws`, `jwt::verify_any`): any input as a token never panics and never
/// verifies (it is signed by none of our keys); any claims object signed under ES256 or
/// EdDSA verifies back to the same claims as an access token, is never taken for an ID token
/// (`typ`), and stops verifying when any byte is changed.
pub fn jws(data: &[u8]) {
    let (Some(ring), Some(set)) = (ring(), published_keys()) else {
        return;
    };
    if let Ok(token) = std::str::from_utf8(data) {
        let expected = Expected {
            issuer: ISSUER,
            audience: ISSUER,
            now: NOW,
        };
        assert!(
            set.verify(token, &["JWT", "at+jwt"]).is_err(),
            "forged {token:?}"
        );
        assert!(
            jwt::verify_any(token, &ring, set, expected).is_err(),
            "forged {token:?}"
        );
    }
    let Ok(claims) = serde_json::from_slice::<AccessClaims>(data) else {
        return;
    };
    let alg = if data.len().is_multiple_of(2) {
        Alg::Es256
    } else {
        Alg::EdDsa
    };
    let Ok(token) = jwt::sign_jws(&claims, set, alg) else {
        return;
    };
    let now = claims.nbf.unwrap_or(claims.iat);
    let expected = Expected {
        issuer: &claims.iss,
        audience: &claims.aud,
        now,
    };
    let verified = jwt::verify_any(&token, &ring, set, expected);
    if token.len() > jwt::MAX_TOKEN_BYTES {
        assert_eq!(verified, Err(jwt::TokenInvalid::Malformed));
        return;
    }
    if claims.exp.saturating_add(jwt::LEEWAY_SECS) <= now {
        assert_eq!(verified, Err(jwt::TokenInvalid::Expired));
        return;
    }
    assert_eq!(verified.as_ref(), Ok(&claims), "{token}");
    assert_eq!(
        set.verify(&token, &["JWT"]).map(|_| ()),
        Err(jwt::TokenInvalid::Type),
        "an access token taken for an ID token"
    );
    for salt in 0..4 {
        let at = pick(data, salt, token.len());
        if let Some(bad) = altered(&token, at, data.len() as u8 ^ salt as u8) {
            assert!(
                jwt::verify_any(&bad, &ring, set, expected).is_err(),
                "byte {at} changed still verifies"
            );
        }
    }
}

/// ES256 and EdDSA keys, generated once per fuzzing process.
fn published_keys() -> Option<&'static KeySet> {
    static SET: OnceLock<Option<KeySet>> = OnceLock::new();
    SET.get_or_init(|| KeySet::generate(&[Alg::Es256, Alg::EdDsa], NOW).ok())
        .as_ref()
}

/// The sealed successor of a refresh rotation: any bytes open to nothing (or to what a seal
/// holds); a seal opens with its token only, and not once any byte is changed. The first
/// input byte is the length of the old refresh token taken from the rest.
pub fn sealed_value(data: &[u8]) {
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let (old, body) = rest.split_at(usize::from(n).min(rest.len()));
    let old = String::from_utf8_lossy(old);
    let _ = seal::open(&old, &SealedSuccessor(body.to_vec()));
    let pair = TokenResponse {
        access_token: String::from_utf8_lossy(body).into_owned(),
        token_type: "Bearer".to_owned(),
        expires_in: body.len() as u64,
        refresh_token: (n % 2 == 0).then(|| old.clone().into_owned()),
        scope: "api:read".to_owned(),
        id_token: None,
    };
    let sealed = seal::seal(&old, &pair);
    assert_eq!(seal::open(&old, &sealed).as_ref(), Some(&pair));
    assert_eq!(seal::open(&format!("{old}x"), &sealed), None);
    let mut bad = sealed.0.clone();
    let at = pick(data, 1, bad.len());
    if let Some(byte) = bad.get_mut(at) {
        *byte ^= n.max(1);
    }
    assert_eq!(seal::open(&old, &SealedSuccessor(bad)), None, "byte {at}");
}

/// CSRF tokens (`oauth::csrf`): any input as a token never verifies; a token made for a
/// purpose and binding verifies for them only, and not once any byte is changed. Input:
/// `token\npurpose\nbinding…`.
pub fn csrf_token(data: &[u8]) {
    let Some(key) = key() else {
        return;
    };
    let key = FormKey::derive(&key);
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split('\n');
    let token = parts.next().unwrap_or_default();
    let purpose = parts.next().unwrap_or_default();
    let binding: Vec<&str> = parts.take(4).collect();
    assert!(!key.verify(token, purpose, &binding), "forged {token:?}");
    let made = key.token(purpose, &binding);
    assert!(key.verify(&made, purpose, &binding));
    assert!(!key.verify(&made, &format!("{purpose}x"), &binding));
    let mut joined = binding.concat();
    joined.push('x');
    assert!(!key.verify(&made, purpose, &[&joined]));
    let at = pick(data, 2, made.len());
    if let Some(bad) = altered(&made, at, data.len() as u8) {
        assert!(!key.verify(&bad, purpose, &binding), "byte {at}");
    }
}

/// The sign-in flow cookie (`authn::flow`): the input is the query of `/oauth2/start`. The
/// redirect stays on the authorization endpoint, the flow cookie carries a valid MAC over a
/// `FlowState` whose return path is safe, and the callback that presents it passes every
/// check of the cookie and fails only on the made-up code.
pub fn flow_cookie(data: &[u8]) {
    let Some(gw) = gateway() else {
        return;
    };
    let Ok(query) = std::str::from_utf8(data) else {
        return;
    };
    let response = sign_in::start_from_query(&gw.auth, Some(query));
    assert_eq!(response.status(), http::StatusCode::FOUND);
    let location = response
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(location.starts_with("/oauth2/authorize?"), "{location}");
    let Some(set) = response
        .headers()
        .get(header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
    else {
        // `cookie::set` refused the value: no flow cookie, the sign-in cannot finish.
        return;
    };
    let pair = set.split(';').next().unwrap_or_default();
    let (name, value) = pair.split_once('=').unwrap_or_default();
    let state = name
        .strip_prefix("__Host-authgate-flow-")
        .unwrap_or_default();
    assert!(!state.is_empty(), "{set}");
    let (payload, mac) = value.split_once('.').unwrap_or_default();
    assert!(gw.auth.csrf.verify(mac, "flow", &[payload]), "{value}");
    let json = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
        .unwrap_or_default();
    assert!(serde_json::from_slice::<flow::FlowState>(&json).is_ok());
    let fields: serde_json::Value = serde_json::from_slice(&json).unwrap_or_default();
    let back = fields["r"].as_str().unwrap_or_default();
    assert_eq!(return_to::safe_return_path(back), back);
    let full_state = fields["s"].as_str().unwrap_or_default();

    let mut headers = HeaderMap::new();
    if let Ok(cookie) = HeaderValue::from_str(pair) {
        headers.append(header::COOKIE, cookie);
    }
    let query = format!("state={full_state}&code=not-a-code&iss={ISSUER}");
    let answer = gw
        .runtime
        .block_on(sign_in::callback(&gw.auth, &headers, Some(&query)));
    // The cookie passed; only the made-up code failed.
    assert!(
        matches!(answer, Err(flow::SignInRefused::ExchangeFailed)),
        "{:?}",
        answer.err()
    );
}

/// `/oauth2/callback` with any query (its parameter lookup) and any `Cookie` header (the flow
/// cookie's reader): input `query\ncookie header`. Without our key nothing can pass the MAC,
/// so every answer is a refusal from before or at the MAC check, rescued as a 4xx page.
pub fn flow_callback(data: &[u8]) {
    let Some(gw) = gateway() else {
        return;
    };
    let text = String::from_utf8_lossy(data);
    let (query, cookies) = text.split_once('\n').unwrap_or((&text, ""));
    let mut headers = HeaderMap::new();
    for value in header_values(cookies.as_bytes()) {
        headers.append(header::COOKIE, value);
    }
    let answer = gw
        .runtime
        .block_on(sign_in::callback(&gw.auth, &headers, Some(query)));
    use flow::SignInRefused::*;
    // Only refusals that come before the MAC check, or the MAC check itself.
    let refused = answer.err();
    assert!(
        matches!(
            refused,
            Some(Cancelled | NoState | NoCode | OtherIssuer | CookieMissing | CookieDamaged)
        ),
        "{refused:?}"
    );
    if let Some(refused) = refused {
        let page = crate::rescue::rescue(refused.into());
        assert!(page.status().is_client_error(), "{}", page.status());
    }
}

/// `check_redirect_uri` (configuration and dynamic registration) on the input as one URI,
/// and, when the input is a JSON registration request, the whole registration: every
/// redirect URI a registered client holds passes the check.
pub fn redirect_uri(data: &[u8]) {
    if let Ok(uri) = std::str::from_utf8(data) {
        if check_redirect_uri(uri).is_ok() {
            assert!(!uri.contains('#') && !uri.contains('*') && uri.len() <= 2048);
            assert!(!uri.bytes().any(|b| b <= b' ' || b >= 0x7f), "{uri:?}");
        }
    }
    let Ok(metadata) = serde_json::from_slice::<ClientMetadata>(data) else {
        return;
    };
    let Some(gw) = gateway() else {
        return;
    };
    let registered = gw
        .runtime
        .block_on(gw.auth.register(Some(REGISTRATION_TOKEN), metadata));
    if let Ok(client) = registered {
        for uri in &client.redirect_uris {
            assert_eq!(check_redirect_uri(uri), Ok(()), "{uri:?}");
        }
    }
}

/// `safe_return_path`: always a same-origin relative path (its path starts with one `/`, not
/// `//`, and holds no `\`), with no byte a browser would drop or reinterpret, and stable.
pub fn return_path(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let out = return_to::safe_return_path(&text);
    assert!(out.starts_with('/'), "{text:?} -> {out:?}");
    let path = out.split('?').next().unwrap_or_default();
    assert!(!path.starts_with("//") && !path.contains('\\'), "{out:?}");
    assert!(
        !out.bytes().any(|b| b <= b' ' || b >= 0x7f),
        "{text:?} -> {out:?}"
    );
    assert_eq!(return_to::safe_return_path(&out), out, "not stable");
}

/// One journal line (`store::persist::record`): any bytes are refused or read as a change,
/// and a change read re-encodes to a line that reads back the same.
pub fn journal_record(data: &[u8]) {
    let Ok((seq, change)) = record::decode(data) else {
        return;
    };
    let Ok(body) = serde_json::to_vec(&change) else {
        return;
    };
    let mut line = Vec::new();
    record::encode_into(&mut line, seq, &body);
    assert_eq!(line.pop(), Some(b'\n'));
    let again = record::decode(&line);
    let again_body = again
        .as_ref()
        .ok()
        .and_then(|(_, c): &(u64, Change)| serde_json::to_vec(c).ok());
    assert!(
        matches!(&again, Ok((s, _)) if *s == seq) && again_body.as_deref() == Some(&body[..]),
        "{:?}",
        String::from_utf8_lossy(&line)
    );
}

/// The configuration loader (`Config::from_toml_str`): any text is a configuration or an
/// error, and a configuration's summary and warnings can be made.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(config) = Config::from_toml_str(text) {
        let _ = config.summary();
        let _ = config.warnings();
    }
}
