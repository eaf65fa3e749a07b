//! Key rotation under load (issue 14 "Tests"), seen by the `openidconnect` crate as a
//! relying party that caches the JWKS: the key a rotation promotes was published before it
//! signs, so a client holding the JWKS from before keeps verifying the new ID tokens, signed
//! while sign-ins run; the previous key stays published, so its tokens keep verifying; and
//! once retired past its retention it is gone, and a token it signed is refused.
//!
//! Rotation goes through the admin listener, as `authgate keys rotate` does; the gateway's
//! manual clock is moved past the JWKS max-age (a Next key must have been published that long
//! before it may sign) and past the retention.

use futures_util::future::join_all;
use reqwest::StatusCode;

use crate::support::oauth::{jwt_claims, jwt_header, AuthGateway};
use crate::support::oidc::{verify_id_token, Provider, ALICE, OPENID_SCOPES, RP, RP_ES256};

/// More than the JWKS max-age (an hour): a Next key published before may sign.
const PAST_MAX_AGE: u64 = 3_601;
/// More than any retention the fixture can give (its lifetimes are hours at most).
const PAST_RETENTION: u64 = 400 * 24 * 3600;

/// Rotates every algorithm's keys through the admin listener, as `authgate keys rotate`.
async fn rotate(gateway: &AuthGateway) {
    let response = reqwest::Client::new()
        .post(format!("http://{}/admin/keys/rotate", gateway.admin()))
        .bearer_auth(gateway.admin_token())
        .json(&serde_json::json!({}))
        .send()
        .await
        .expect("rotation request");
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    assert_eq!(status, StatusCode::OK, "rotation refused: {body}");
}

/// Whether `jwks` publishes the key `kid`.
fn has_kid(jwks: &openidconnect::core::CoreJsonWebKeySet, kid: &str) -> bool {
    jwks.keys()
        .iter()
        .any(|k| openidconnect::JsonWebKey::key_id(k).map(|i| i.as_str()) == Some(kid))
}

/// The `kid` of `token`'s header.
fn kid(token: &str) -> String {
    jwt_header(token)["kid"].as_str().expect("kid").to_owned()
}

#[tokio::test]
async fn a_relying_party_that_cached_the_jwks_before_a_rotation_keeps_verifying_under_load() {
    let provider = &Provider::start("").await;
    // The relying parties' JWKS: the one discovery fetched, before any rotation.
    let cached = provider.metadata.jwks().clone();
    let clients = &[provider.client(RP), provider.client(RP_ES256)];

    let before: Vec<_> = join_all(
        clients
            .iter()
            .map(|client| provider.sign_in(client, ALICE, &OPENID_SCOPES)),
    )
    .await;
    let old_kids: Vec<String> = before.iter().map(|(_, s)| kid(&s.id_token())).collect();

    // Sign-ins run while the keys rotate: four rounds of four (two per client), the
    // rotation during the second round.
    provider.gateway.advance(PAST_MAX_AGE);
    let mut during = Vec::new();
    for round in 0..4 {
        let flows = join_all([0, 1, 0, 1].map(|i| async move {
            let (_, signed) = provider.sign_in(&clients[i], ALICE, &OPENID_SCOPES).await;
            (i, signed)
        }));
        if round == 1 {
            let (signed, ()) = tokio::join!(flows, rotate(&provider.gateway));
            during.extend(signed);
        } else {
            during.extend(flows.await);
        }
    }
    // Every token verifies with the JWKS cached before the rotation: pre-publication.
    let mut new_kids = Vec::new();
    for (i, signed) in &during {
        let (_, alg) = verify_id_token(&clients[*i], &signed.id_token(), &signed.nonce, Some(signed.access_token()))
            .unwrap_or_else(|err| panic!("a token signed under load, around the rotation, did not verify with the JWKS cached before it: {err}"));
        new_kids.push((alg, kid(&signed.id_token())));
    }
    // The last round is signed with the promoted keys only.
    let last: Vec<&String> = new_kids.iter().rev().take(4).map(|(_, k)| k).collect();
    for k in &last {
        assert!(
            !old_kids.contains(k),
            "still signed with a previous key after the rotation: {k}"
        );
    }
    for k in &last {
        assert!(
            has_kid(&cached, k),
            "the promoted key {k} was in the JWKS before it signed"
        );
    }

    // The tokens signed before the rotation keep verifying, with the JWKS cached then and
    // with the one served now (the previous keys stay published).
    let fresh = provider.fetch_jwks().await;
    for ((_, signed), id) in before.iter().zip([RP, RP_ES256]) {
        for client in [
            provider.client(id),
            provider.client_with_jwks(id, fresh.clone()),
        ] {
            verify_id_token(
                &client,
                &signed.id_token(),
                &signed.nonce,
                Some(signed.access_token()),
            )
            .unwrap_or_else(|err| panic!("{id}: a token of the previous key: {err}"));
        }
    }
}

#[tokio::test]
async fn a_token_signed_by_a_retired_and_removed_key_is_refused() {
    let provider = Provider::start("").await;
    let client = provider.client(RP);
    let (browser, old) = provider.sign_in(&client, ALICE, &OPENID_SCOPES).await;
    let old_kid = kid(&old.id_token());

    provider.gateway.advance(PAST_MAX_AGE);
    rotate(&provider.gateway).await;
    // Retired, the key stays published while its tokens live: at the ID token's expiry (on
    // the gateway's clock), after another refresh of the keys, it is still in the JWKS, and
    // the token verifies against the JWKS served then.
    let exp = jwt_claims(&old.id_token())["exp"].as_u64().expect("exp");
    provider
        .gateway
        .advance(exp.saturating_sub(provider.gateway.now()));
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let retired = provider.fetch_jwks().await;
    assert!(
        has_kid(&retired, &old_kid),
        "the retired key is still published at its tokens' expiry"
    );
    verify_id_token(
        &provider.client_with_jwks(RP, retired),
        &old.id_token(),
        &old.nonce,
        Some(old.access_token()),
    )
    .unwrap_or_else(|err| panic!("a token of the retired key, with the JWKS served now: {err}"));
    // Past the retention, the next rotation drops it.
    provider.gateway.advance(PAST_RETENTION);
    rotate(&provider.gateway).await;
    let fresh = provider.fetch_jwks().await;
    assert!(
        !has_kid(&fresh, &old_kid),
        "the key {old_kid} is no longer published"
    );
    // A relying party with the current JWKS refuses the token (its exp is in the future for
    // the crate, which reads the real clock: the refusal is the missing key's).
    let current = provider.client_with_jwks(RP, fresh);
    let refused = verify_id_token(&current, &old.id_token(), &old.nonce, None);
    assert!(refused.is_err(), "a token of a removed key verified");
    // The gateway refuses it as an id_token_hint: no redirect to the relying party.
    let end_session = provider
        .metadata
        .additional_metadata()
        .end_session_endpoint
        .clone()
        .expect("end_session_endpoint");
    let url = openidconnect::LogoutRequest::from(end_session)
        .set_id_token_hint(openidconnect::TokenResponse::id_token(&old.tokens).expect("ID token"))
        .set_post_logout_redirect_uri(
            openidconnect::PostLogoutRedirectUrl::new(
                crate::support::oidc::RP_LOGGED_OUT.to_owned(),
            )
            .expect("URL"),
        )
        .http_get_url();
    let page = browser.open(url.as_str()).await;
    assert!(
        !page
            .location()
            .is_some_and(|l| l.starts_with(crate::support::oidc::RP_LOGGED_OUT)),
        "a hint signed by a removed key was trusted: {page:?}"
    );
    // New sign-ins still work, with the current keys.
    let (_, new) = provider.sign_in(&current, ALICE, &OPENID_SCOPES).await;
    new.verify(&current);
}
