//! One view of whoever a principal is, for the authorization server and the route gate: a
//! `[[users]]` entry, or a federated person remembered at sign-in (`store::PersonRecord`).
//! Consent, ID-token claims, UserInfo, refresh and the `allow` lists read a [`Person`], so a
//! principal `ID:SUB` is treated exactly like a local user.

use super::admit::Admitted;
use crate::config::{ProviderConfig, UserConfig};
use crate::store::{AllowFacts, PersonRecord};

/// Whoever a principal is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// The user name or `ID:SUB`: `sub` in tokens, `X-Auth-User` upstream.
    pub name: String,
    /// The most this person may grant.
    pub scopes: Vec<String>,
    pub email: Option<String>,
    /// `[[users]]` addresses are the operator's word: verified.
    pub email_verified: bool,
    pub display_name: Option<String>,
    pub groups: Vec<String>,
    /// The provider of a federated principal; `None` for a `[[users]]` entry.
    pub provider: Option<String>,
}

impl Person {
    pub fn local(user: &UserConfig) -> Person {
        Person {
            name: user.name.clone(),
            scopes: user.scopes.clone(),
            email: user.claims.email.clone(),
            email_verified: user.claims.email.is_some(),
            display_name: user.claims.display_name.clone(),
            groups: user.claims.groups.clone(),
            provider: None,
        }
    }

    /// A remembered federated person, under the provider's configuration now in force: of
    /// its scopes only those the provider can still give (`grant_scopes` and every
    /// `group_scopes` entry), so a reload that takes a scope away takes it at once.
    pub fn federated(principal: &str, record: &PersonRecord, provider: &ProviderConfig) -> Person {
        Person {
            name: principal.to_owned(),
            scopes: record
                .scopes
                .iter()
                .filter(|s| provider.can_give(s))
                .cloned()
                .collect(),
            email: record.email.clone(),
            email_verified: record.email_verified,
            display_name: record.name.clone(),
            groups: record.groups.clone(),
            provider: Some(record.provider.clone()),
        }
    }

    /// The domain of a verified address (lower case), for `allow = ["domain:…"]`.
    pub fn verified_domain(&self) -> Option<String> {
        let email = self.email.as_deref().filter(|_| self.email_verified)?;
        super::email::parse(email).ok().map(|a| a.domain)
    }

    /// What a route's `allow` list reads of this person (`authn::allow`).
    pub fn allow_facts(&self) -> AllowFacts {
        AllowFacts {
            provider: self.provider.clone(),
            groups: self.groups.clone(),
            domain: self.verified_domain(),
        }
    }
}

/// What the store keeps of an admitted federated person, until `expires_at`.
pub fn record_of(admitted: &Admitted, expires_at: u64) -> PersonRecord {
    PersonRecord {
        provider: admitted.provider.clone(),
        scopes: admitted.scopes.clone(),
        email: admitted.email.clone(),
        email_verified: admitted.email_verified,
        name: admitted.name.clone(),
        groups: admitted.groups.clone(),
        expires_at,
    }
}
