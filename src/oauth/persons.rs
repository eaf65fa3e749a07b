//! Who a principal is, for the authorization server: a `[[users]]` entry, or a person who
//! signed in through a provider, remembered in the store at each sign-in
//! ([`AuthServer::remember_person`]) so that every gateway sharing the store (and this one
//! after a restart) treats `ID:SUB` like a local user: what it may grant (consent, refresh),
//! its ID-token and UserInfo claims, the route `allow` lists.
//!
//! A record lasts as long as the longest grant its login session can start: the session's
//! absolute lifetime (codes can be issued from it until then), a code's, then a refresh
//! family's. So a refresh never outlives the record it is checked against; past it, the
//! person signs in again and the gates and group scopes are evaluated afresh.

use super::AuthServer;
use crate::config::ProviderConfig;
use crate::federation::admit::Admitted;
use crate::federation::person::{record_of, Person};
use crate::store::StoreError;

impl AuthServer {
    /// Remembers a person `federation::admit` let in, replacing what was remembered of the
    /// principal (its scopes and claims as of this sign-in). A linked local user needs
    /// nothing: its `[[users]]` entry says who it is.
    pub async fn remember_person(&self, admitted: &Admitted) -> Result<(), StoreError> {
        if admitted.local_user {
            return Ok(());
        }
        let s = &self.settings;
        let lasts = s
            .session_max
            .saturating_add(s.code_ttl)
            .saturating_add(s.refresh_ttl);
        let record = record_of(admitted, self.now().saturating_add(lasts));
        self.store.put_person(&admitted.principal, record).await
    }

    /// The configured provider `id`, if it still is.
    pub fn provider(&self, id: &str) -> Option<&ProviderConfig> {
        self.providers.iter().find(|p| p.id == id)
    }

    /// Whether a session or token of `principal` may still count: a `[[users]]` name (no
    /// `:`) yes; `ID:SUB` only while provider ID is configured, so that a reload removing
    /// a provider ends its people's login sessions too (else `/oauth2/authorize` would sign
    /// them straight back into the routes that refuse them: a loop).
    pub fn provider_in_force(&self, principal: &str) -> bool {
        principal
            .split_once(':')
            .is_none_or(|(id, _)| self.provider(id).is_some())
    }

    /// Whoever `principal` is: a `[[users]]` name, or `ID:SUB` remembered at a sign-in
    /// through a provider still configured (`None` otherwise, or once the record expired).
    pub async fn person(&self, principal: &str) -> Result<Option<Person>, StoreError> {
        if let Some(user) = self.users.get(principal) {
            return Ok(Some(Person::local(user)));
        }
        let Some((id, _)) = principal.split_once(':') else {
            return Ok(None);
        };
        let Some(provider) = self.provider(id) else {
            return Ok(None);
        };
        let record = self.store.person(principal, self.now()).await?;
        Ok(record
            .filter(|r| r.provider == id)
            .map(|r| Person::federated(principal, &r, provider)))
    }
}

#[cfg(test)]
mod tests;
