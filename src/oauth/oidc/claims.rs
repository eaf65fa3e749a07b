//! The claims of the `profile`, `email` and `groups` scopes (OIDC Core §5.4, contract §7),
//! from a `[[users]]` entry or a federated person ([`Person`]): the same set in the ID token (unless the client asked for
//! `id_token_claims = "minimal"`) and at `/userinfo`.
//!
//! - `profile`: `preferred_username` (the user's `name`, also `sub`) and `name` (the
//!   entry's `display_name`, when it has one);
//! - `email`: `email` and `email_verified` (always `true` for a `[[users]]` entry: the
//!   operator wrote the address; a federated person's is the provider's word), when there is
//!   one;
//! - `groups`: `groups`, always a JSON array of strings (empty when the entry has none), so
//!   relying parties that map roles from it never see another shape.
//!
//! A claim the entry does not have is left out, never sent empty (OIDC Core §5.3.2).

use serde::{Deserialize, Serialize};

use crate::federation::person::Person;

/// The claims `claims_supported` names: the ID token's protocol claims and the scopes'.
pub const CLAIMS_SUPPORTED: [&str; 17] = [
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "amr",
    "acr",
    "nonce",
    "at_hash",
    "sid",
    "azp",
    "name",
    "preferred_username",
    "email",
    "email_verified",
    "groups",
];

/// The claims of the granted scopes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeClaims {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<String>>,
}

impl ScopeClaims {
    /// What `person` discloses under the space-separated `scope`.
    pub fn of(person: &Person, scope: &str) -> ScopeClaims {
        let granted = |wanted: &str| super::has_scope(scope, wanted);
        let mut claims = ScopeClaims::default();
        if granted("profile") {
            claims.preferred_username = Some(person.name.clone());
            claims.name = person.display_name.clone();
        }
        if granted("email") {
            if let Some(email) = &person.email {
                claims.email = Some(email.clone());
                claims.email_verified = Some(person.email_verified);
            }
        }
        if granted("groups") {
            claims.groups = Some(person.groups.clone());
        }
        claims
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{UserClaims, UserConfig};

    fn alice(claims: UserClaims) -> Person {
        Person::local(&UserConfig {
            name: "alice".into(),
            password_hash: None,
            scopes: Vec::new(),
            claims,
            identities: Vec::new(),
            mfa: false,
        })
    }

    fn full() -> Person {
        alice(UserClaims {
            email: Some("alice@example.com".into()),
            display_name: Some("Alice Liddell".into()),
            groups: vec!["admins".into(), "dev".into()],
        })
    }

    #[test]
    fn each_scope_discloses_its_own_claims() {
        let user = full();
        assert_eq!(ScopeClaims::of(&user, "openid"), ScopeClaims::default());
        let profile = ScopeClaims::of(&user, "openid profile");
        assert_eq!(profile.preferred_username.as_deref(), Some("alice"));
        assert_eq!(profile.name.as_deref(), Some("Alice Liddell"));
        assert_eq!(profile.email, None);
        assert_eq!(profile.groups, None);
        let email = ScopeClaims::of(&user, "email openid");
        assert_eq!(email.email.as_deref(), Some("alice@example.com"));
        assert_eq!(email.email_verified, Some(true));
        assert_eq!(email.name, None);
        let groups = ScopeClaims::of(&user, "openid groups");
        assert_eq!(groups.groups, Some(vec!["admins".into(), "dev".into()]));
    }

    #[test]
    fn missing_claims_are_left_out_but_groups_is_always_an_array() {
        let user = alice(UserClaims::default());
        let claims = ScopeClaims::of(&user, "openid profile email groups");
        let json = serde_json::to_value(&claims).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"preferred_username": "alice", "groups": []})
        );
    }

    #[test]
    fn every_claim_given_is_supported() {
        let json = serde_json::to_value(ScopeClaims::of(&full(), "profile email groups")).unwrap();
        for key in json.as_object().unwrap().keys() {
            assert!(CLAIMS_SUPPORTED.contains(&key.as_str()), "{key}");
        }
    }
}
