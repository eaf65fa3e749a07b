//! ID tokens through the token endpoint's grants: their claims and header, the refresh
//! rules, what each client's settings change, and the hint check.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use super::*;
use crate::oauth::test_server::*;
use crate::oauth::TokenResponse;
use crate::tokens::jose::Alg;

/// A code for `alice` at `client` with `scope` and `extra` query parameters.
async fn code(server: &TestServer, client: &str, scope: &str, extra: &str) -> String {
    server.code_plus(client, scope, extra).await
}

async fn rp_tokens(server: &TestServer, scope: &str, extra: &str) -> TokenResponse {
    let code = code(server, RP, scope, extra).await;
    server
        .redeem(confidential(RP, RP_SECRET), &code, None, Some(VERIFIER))
        .await
        .unwrap()
}

fn header(token: &str) -> serde_json::Value {
    let first = token.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(first).unwrap()).unwrap()
}

fn payload(token: &str) -> serde_json::Value {
    let second = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(second).unwrap()).unwrap()
}

#[tokio::test]
async fn an_openid_code_gets_an_id_token_with_every_protocol_claim() {
    let server = TestServer::new();
    server.advance(7);
    let tokens = rp_tokens(
        &server,
        "openid profile email groups",
        "&nonce=n-0S6_WzA2Mj",
    )
    .await;
    let id_token = tokens.id_token.as_deref().expect("an ID token");
    assert_eq!(
        header(id_token),
        serde_json::json!({"alg": "RS256", "typ": "JWT", "kid": header(id_token)["kid"]})
    );
    let claims = server.auth.verify_id_token_hint(id_token, false).unwrap();
    let now = START + 7;
    assert_eq!(claims.iss, ISSUER);
    assert_eq!(claims.sub, ALICE);
    assert_eq!(claims.aud, RP);
    assert_eq!(claims.azp.as_deref(), Some(RP));
    assert_eq!(claims.iat, now);
    assert_eq!(claims.exp, now + ID_TOKEN_TTL);
    assert_eq!(claims.auth_time, Some(START));
    assert_eq!(claims.sid.as_deref(), Some(SID));
    assert_eq!(claims.nonce.as_deref(), Some("n-0S6_WzA2Mj"));
    assert_eq!(
        claims.at_hash,
        Some(half_hash(Alg::Rs256, &tokens.access_token))
    );
    let scope_claims = &claims.scope_claims;
    assert_eq!(scope_claims.preferred_username.as_deref(), Some(ALICE));
    assert_eq!(scope_claims.name.as_deref(), Some(ALICE_DISPLAY_NAME));
    assert_eq!(scope_claims.email.as_deref(), Some(ALICE_EMAIL));
    assert_eq!(scope_claims.email_verified, Some(true));
    assert_eq!(
        scope_claims.groups,
        Some(vec!["admins".to_owned(), "dev".to_owned()])
    );
    // No `nbf`: relying parties whose clock is behind would refuse the token.
    assert!(payload(id_token).get("nbf").is_none());
}

#[tokio::test]
async fn without_a_nonce_there_is_none_and_without_openid_no_id_token() {
    let server = TestServer::new();
    let tokens = rp_tokens(&server, "openid", "").await;
    let claims = server
        .auth
        .verify_id_token_hint(tokens.id_token.as_deref().unwrap(), false)
        .unwrap();
    assert_eq!(claims.nonce, None);
    assert!(payload(tokens.id_token.as_deref().unwrap())
        .get("nonce")
        .is_none());

    let plain = rp_tokens(&server, "api:read", "&nonce=ignored").await;
    assert_eq!(plain.id_token, None);
    assert!(
        plain.refresh_token.is_some(),
        "a request without openid gets a refresh token as before"
    );
}

#[tokio::test]
async fn an_openid_grant_gets_a_refresh_token_only_with_offline_access() {
    let server = TestServer::new();
    let online = rp_tokens(&server, "openid email", "").await;
    assert!(online.id_token.is_some());
    assert_eq!(online.refresh_token, None, "OIDC Core §11");
    let offline = rp_tokens(&server, "openid email offline_access", "").await;
    assert!(offline.refresh_token.is_some());
}

#[tokio::test]
async fn a_refresh_returns_an_id_token_of_the_same_login() {
    let server = TestServer::new();
    let first = rp_tokens(&server, "openid profile offline_access", "&nonce=abc").await;
    let before = server
        .auth
        .verify_id_token_hint(first.id_token.as_deref().unwrap(), false)
        .unwrap();
    server.advance(120);
    let refreshed = server
        .refresh(
            confidential(RP, RP_SECRET),
            first.refresh_token.as_deref().unwrap(),
            None,
        )
        .await
        .unwrap();
    let id_token = refreshed.id_token.as_deref().expect("a new ID token");
    let after = server.auth.verify_id_token_hint(id_token, false).unwrap();
    assert_eq!(
        (
            &after.iss,
            &after.sub,
            &after.aud,
            after.auth_time,
            &after.sid,
            &after.nonce
        ),
        (
            &before.iss,
            &before.sub,
            &before.aud,
            before.auth_time,
            &before.sid,
            &before.nonce
        )
    );
    assert_eq!(after.iat, before.iat + 120);
    assert_eq!(
        after.at_hash,
        Some(half_hash(Alg::Rs256, &refreshed.access_token))
    );

    // A refresh narrowed to leave out openid gets no ID token.
    let narrowed = server
        .refresh(
            confidential(RP, RP_SECRET),
            refreshed.refresh_token.as_deref().unwrap(),
            Some("profile"),
        )
        .await
        .unwrap();
    assert_eq!(narrowed.id_token, None);
}

#[tokio::test]
async fn a_client_chooses_its_algorithm_and_minimal_claims() {
    let server = TestServer::new();
    let code = code(&server, RP_ES, "openid profile email", "&nonce=n").await;
    let tokens = server
        .redeem(public(RP_ES), &code, None, Some(VERIFIER))
        .await
        .unwrap();
    let id_token = tokens.id_token.as_deref().unwrap();
    assert_eq!(header(id_token)["alg"], "ES256");
    let claims = server.auth.verify_id_token_hint(id_token, false).unwrap();
    assert_eq!(claims.scope_claims, ScopeClaims::default());
    assert_eq!(
        claims.at_hash,
        Some(half_hash(Alg::Es256, &tokens.access_token))
    );
    assert_eq!(claims.nonce.as_deref(), Some("n"));
}

#[tokio::test]
async fn id_tokens_and_access_tokens_never_pass_for_each_other() {
    let server = TestServer::new();
    let tokens = rp_tokens(&server, "openid", "").await;
    let id_token = tokens.id_token.as_deref().unwrap();
    assert!(server.auth.verify_access(id_token).await.is_err());
    assert!(server
        .auth
        .verify_id_token_hint(&tokens.access_token, true)
        .is_err());
}

#[tokio::test]
async fn a_hint_may_be_expired_but_not_modified() {
    let server = TestServer::new();
    let tokens = rp_tokens(&server, "openid", "").await;
    let id_token = tokens.id_token.unwrap();
    server.advance(ID_TOKEN_TTL + LEEWAY_SECS + 1);
    assert_eq!(
        server.auth.verify_id_token_hint(&id_token, false),
        Err(TokenInvalid::Expired)
    );
    assert!(server.auth.verify_id_token_hint(&id_token, true).is_ok());
    assert_eq!(
        server.auth.judge_hint(Some(&id_token)),
        Hint::Subject(ALICE.to_owned())
    );

    // A character in the middle of the payload changed (the last one of a signature may
    // only carry padding bits).
    let (head, rest) = id_token.split_once('.').unwrap();
    let (body, signature) = rest.split_once('.').unwrap();
    let mut body = body.to_owned().into_bytes();
    let middle = body.len() / 2;
    body[middle] = if body[middle] == b'A' { b'B' } else { b'A' };
    let modified = format!("{head}.{}.{signature}", String::from_utf8(body).unwrap());
    assert!(server.auth.verify_id_token_hint(&modified, true).is_err());
    assert_eq!(server.auth.judge_hint(Some(&modified)), Hint::Invalid);
    assert_eq!(server.auth.judge_hint(Some("not-a-jwt")), Hint::Invalid);
    assert_eq!(server.auth.judge_hint(None), Hint::Absent);
}

#[tokio::test]
async fn a_code_issued_before_openid_loads_and_gets_no_id_token() {
    // A grant stored by an older gateway has no `oidc` member.
    let json = r#"{"client_id":"rp","user":"alice","redirect_uri":"https://rp.example/callback","scope":"openid","code_challenge":null,"family":"f","expires_at":1}"#;
    let grant: crate::store::CodeGrant = serde_json::from_str(json).unwrap();
    assert_eq!(grant.oidc, None);
    let record =
        r#"{"family":"f","client_id":"rp","user":"alice","scope":"openid","expires_at":1}"#;
    let record: crate::store::RefreshRecord = serde_json::from_str(record).unwrap();
    assert_eq!(record.oidc, None);
}

/// What an ID token adds to a code exchange, in this (debug) test build: run with
/// `cargo test --lib id_token::tests::cost -- --ignored --nocapture`. The memory store here
/// does not fsync, so the exchange without `openid` is cheaper than a gateway's.
#[tokio::test]
#[ignore]
async fn cost() {
    let server = TestServer::new();
    const N: u32 = 200;
    let mut report = Vec::new();
    for (label, client, secret, scope) in [
        ("plain", RP, Some(RP_SECRET), "api:read"),
        ("openid RS256", RP, Some(RP_SECRET), "openid api:read"),
        ("openid ES256", RP_ES, None, "openid"),
    ] {
        let mut codes = Vec::new();
        for _ in 0..N {
            codes.push(code(&server, client, scope, "&nonce=n").await);
        }
        let started = std::time::Instant::now();
        for code in &codes {
            let creds = match secret {
                Some(secret) => confidential(client, secret),
                None => public(client),
            };
            server
                .redeem(creds, code, None, Some(VERIFIER))
                .await
                .unwrap();
        }
        let micros = started.elapsed().as_micros() / u128::from(N);
        report.push(format!("{label}: {micros} us per code exchange"));
    }
    println!("{}", report.join("\n"));
}

/// How the user signed in reaches the ID token, the access token and every refresh's pair
/// unchanged; a grant from before second factors has no `amr` or `acr` and keeps verifying.
#[tokio::test]
async fn id_and_access_tokens_say_how_the_user_signed_in_and_refreshes_keep_it() {
    use crate::store::sign_in::{SignIn, AMR_OTP};
    let server = TestServer::new();
    let stepped_up = SignIn::password(START).with_second_factor(AMR_OTP, START + 3);
    *server.sign_in.lock().unwrap() = Some(stepped_up.clone());
    server.advance(7);
    let tokens = rp_tokens(&server, "openid offline_access", "").await;
    let id = payload(tokens.id_token.as_deref().unwrap());
    assert_eq!(id["amr"], serde_json::json!(["pwd", "otp", "mfa"]));
    assert_eq!(id["acr"], "urn:authgate:2fa");
    assert_eq!(id["auth_time"], START + 3, "the step-up's time");
    let access = payload(&tokens.access_token);
    assert_eq!(access["amr"], id["amr"]);
    assert_eq!(access["acr"], id["acr"]);
    assert_eq!(access["auth_time"], START + 3);
    server.advance(60);
    let refreshed = server
        .refresh(
            confidential(RP, RP_SECRET),
            tokens.refresh_token.as_deref().unwrap(),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        payload(refreshed.id_token.as_deref().unwrap())["amr"],
        id["amr"]
    );
    assert_eq!(payload(&refreshed.access_token)["auth_time"], START + 3);

    *server.sign_in.lock().unwrap() = None;
    let old = rp_tokens(&server, "openid", "").await;
    let id = payload(old.id_token.as_deref().unwrap());
    assert!(id.get("amr").is_none() && id.get("acr").is_none(), "{id}");
    assert_eq!(id["auth_time"], START);
    assert!(payload(&old.access_token).get("amr").is_none());
    assert!(server.auth.verify_access(&old.access_token).await.is_ok());
}
