//! A federated person through the authorization server: remembered, granted, given tokens,
//! an ID token, UserInfo and refreshes like a `[[users]]` entry; forgotten when its record
//! ends or its provider goes; its scopes cut when the provider's configuration cuts them.

use crate::federation::admit::Admitted;
use crate::oauth::error::ErrorCode;
use crate::oauth::test_server::*;

const PERSON: &str = "corp:248289761001";

fn admitted(scopes: &[&str]) -> Admitted {
    Admitted {
        principal: PERSON.into(),
        local_user: false,
        provider: CORP.into(),
        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        email: Some("jane@example.com".into()),
        email_verified: false,
        name: Some("Jane".into()),
        groups: vec!["admins".into()],
    }
}

async fn code_for(server: &TestServer, scope: &str) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", RP)
        .append_pair("scope", scope)
        .append_pair("code_challenge", &challenge(VERIFIER))
        .append_pair("code_challenge_method", "S256")
        .append_pair("nonce", "n-1")
        .finish();
    server.code_with(&query, PERSON).await
}

#[tokio::test]
async fn a_remembered_person_gets_tokens_claims_and_refreshes_like_a_user() {
    let mut server = TestServer::new();
    assert_eq!(server.auth.person(PERSON).await.unwrap(), None);
    let all = [
        "api:read",
        "api:write",
        "openid",
        "profile",
        "email",
        "groups",
        "offline_access",
    ];
    server.auth.remember_person(&admitted(&all)).await.unwrap();
    let person = server.auth.person(PERSON).await.unwrap().unwrap();
    assert_eq!(person.name, PERSON);
    assert_eq!(person.provider.as_deref(), Some(CORP));

    let code = code_for(
        &server,
        "openid profile email groups offline_access api:read",
    )
    .await;
    let tokens = server
        .redeem(confidential(RP, RP_SECRET), &code, None, Some(VERIFIER))
        .await
        .unwrap();
    assert_eq!(
        tokens.scope,
        "openid profile email groups offline_access api:read"
    );
    assert!(tokens.id_token.is_some());
    let info = server.auth.userinfo(&tokens.access_token).await.unwrap();
    assert_eq!(info.sub, PERSON);
    assert_eq!(info.claims.preferred_username.as_deref(), Some(PERSON));
    assert_eq!(info.claims.name.as_deref(), Some("Jane"));
    assert_eq!(info.claims.email.as_deref(), Some("jane@example.com"));
    assert_eq!(
        info.claims.email_verified,
        Some(false),
        "the provider's word, not ours"
    );
    assert_eq!(info.claims.groups, Some(vec!["admins".to_owned()]));

    let refresh = tokens.refresh_token.unwrap();
    let again = server
        .refresh(confidential(RP, RP_SECRET), &refresh, None)
        .await
        .unwrap();
    assert!(again.id_token.is_some());

    // The provider is removed by a reload: the person is nobody any more.
    server.auth.providers.clear();
    assert_eq!(server.auth.person(PERSON).await.unwrap(), None);
    let refused = server
        .refresh(
            confidential(RP, RP_SECRET),
            &again.refresh_token.unwrap(),
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(refused.code, ErrorCode::InvalidGrant);
    assert!(server.auth.userinfo(&again.access_token).await.is_err());
}

#[tokio::test]
async fn scopes_are_what_the_provider_can_give_now() {
    let mut server = TestServer::new();
    server
        .auth
        .remember_person(&admitted(&["api:read", "api:write", "admin"]))
        .await
        .unwrap();
    // `admin` is not the provider's to give (a record written under another configuration).
    let person = server.auth.person(PERSON).await.unwrap().unwrap();
    assert_eq!(person.scopes, ["api:read", "api:write"]);
    server.auth.providers[0].group_scopes.clear();
    let person = server.auth.person(PERSON).await.unwrap().unwrap();
    assert_eq!(person.scopes, ["api:read"]);
}

#[tokio::test]
async fn the_record_outlives_every_grant_its_login_can_start_and_no_more() {
    let server = TestServer::new();
    server
        .auth
        .remember_person(&admitted(&["api:read"]))
        .await
        .unwrap();
    let lasts = SESSION_MAX + CODE_TTL + 86_400;
    server.clock.advance(lasts - 1);
    assert!(server.auth.person(PERSON).await.unwrap().is_some());
    server.clock.advance(1);
    assert_eq!(server.auth.person(PERSON).await.unwrap(), None);
}

#[tokio::test]
async fn a_linked_user_is_its_users_entry_and_nothing_is_remembered() {
    let server = TestServer::new();
    let linked = Admitted {
        principal: ALICE.into(),
        local_user: true,
        ..admitted(&["api:read"])
    };
    server.auth.remember_person(&linked).await.unwrap();
    assert_eq!(server.auth.store.person(ALICE, START).await.unwrap(), None);
    assert_eq!(
        server.auth.person(ALICE).await.unwrap().unwrap().provider,
        None
    );
    // Names without a provider prefix, or of another provider, are nobody.
    assert_eq!(server.auth.person("nobody").await.unwrap(), None);
    assert_eq!(
        server.auth.person("other:248289761001").await.unwrap(),
        None
    );
}
