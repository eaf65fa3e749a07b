//! Property tests of the flow cookie: what [`begin`] seals decodes back to a [`FlowState`]
//! with a safe return path and is accepted by [`finish`] (which then fails on the made-up
//! code), and the same cookie with any byte of its value changed is refused as damaged.

use std::sync::OnceLock;

use super::*;
use http::header::{self, HeaderValue};
use proptest::prelude::*;

use crate::oauth::test_server::TestServer;

/// An authorization server over a memory store, and a runtime to drive it.
struct Gateway {
    runtime: tokio::runtime::Runtime,
    server: TestServer,
}

fn gateway() -> &'static Gateway {
    static GATEWAY: OnceLock<Gateway> = OnceLock::new();
    GATEWAY.get_or_init(|| Gateway {
        runtime: tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap(),
        server: TestServer::new(),
    })
}

/// The flow cookie a sign-in returning to `rd` sets, as `(name, value)`, and its `state`.
fn started(gw: &Gateway, rd: &str) -> Option<(String, String, String)> {
    let started = begin(&gw.server.auth, rd, false);
    let state = form_urlencoded::parse(started.authorize_url.split_once('?')?.1.as_bytes())
        .find(|(k, _)| k == "state")?
        .1
        .into_owned();
    Some((started.cookie_name, started.cookie_value, state))
}

/// The callback's answer to `cookie` and `state` with a code nobody issued.
fn callback_answer(gw: &Gateway, name: &str, value: &str, state: &str) -> Option<SignInRefused> {
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&format!("{name}={value}")) {
        headers.append(header::COOKIE, v);
    }
    let query = format!("state={state}&code=made-up");
    gw.runtime
        .block_on(finish(&gw.server.auth, &headers, &query))
        .err()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn flow_cookie_round_trips(rd in "[ -~]{0,60}") {
        let gw = gateway();
        let (name, value, state) = started(gw, &rd).unwrap();
        let (payload, mac) = value.split_once('.').unwrap();
        prop_assert!(gw.server.auth.csrf.verify(mac, "flow", &[payload]));
        let json = URL_SAFE_NO_PAD.decode(payload).unwrap();
        let flow: FlowState = serde_json::from_slice(&json).unwrap();
        prop_assert_eq!(&flow.state, &state);
        prop_assert_eq!(&flow.return_to, &safe_return_path(&rd));
        prop_assert_eq!(URL_SAFE_NO_PAD.encode(serde_json::to_vec(&flow).unwrap()), payload);
        // The callback accepts the cookie and only then fails, on the code.
        prop_assert_eq!(
            callback_answer(gw, &name, &value, &state),
            Some(SignInRefused::ExchangeFailed)
        );
    }

    #[test]
    fn flow_cookie_with_any_byte_changed_never_verifies(
        rd in "/[a-z/]{0,20}",
        at in any::<prop::sample::Index>(),
        to in prop::sample::select(
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.".to_vec()
        ),
    ) {
        let gw = gateway();
        let (name, value, state) = started(gw, &rd).unwrap();
        let mut bytes = value.into_bytes();
        let i = at.index(bytes.len());
        prop_assume!(bytes[i] != to);
        bytes[i] = to;
        let altered = String::from_utf8(bytes).unwrap();
        prop_assert_eq!(
            callback_answer(gw, &name, &altered, &state),
            Some(SignInRefused::CookieDamaged),
            "byte {}",
            i
        );
    }
}
