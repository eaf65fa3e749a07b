//! What the gate checks of a federated principal `ID:SUB` besides its credential: that its
//! provider is still configured, and that it holds only what that provider can still give
//! (so a reload that removes a provider, or one of its scopes, takes effect at the next
//! request); and where the `allow` lists' facts of a person come from when its session does
//! not carry them.
//!
//! A local user name never holds `:` (checked at load), so `ID:SUB` is a federated
//! principal; a linked local user is its `[[users]]` name and is not concerned.

use std::sync::Arc;

use super::{AuthnFailure, Caller, Identity};
use crate::oauth::AuthServer;
use crate::store::AllowFacts;

/// The provider id of a federated principal.
fn provider_of(user: &str) -> Option<&str> {
    user.split_once(':').map(|(id, _)| id)
}

/// Whether `identity` may still count: a federated principal only while its provider is
/// configured, its scopes then cut to those the provider can still give. In memory only.
pub(super) fn under_provider(auth: &AuthServer, identity: &mut Identity) -> bool {
    let Some(id) = identity.user().and_then(provider_of) else {
        return true;
    };
    let Some(provider) = auth.provider(id) else {
        tracing::info!(
            user = identity.user().unwrap_or_default(),
            provider = id,
            "refused: the identity provider is no longer configured"
        );
        return false;
    };
    let givable = |s: &&str| s.is_empty() || provider.can_give(s);
    if !identity.scope().split(' ').all(|s| givable(&s)) {
        let scope = identity
            .scope()
            .split(' ')
            .filter(|s| !s.is_empty() && givable(s))
            .collect::<Vec<_>>()
            .join(" ");
        let caller = &identity.caller;
        identity.caller = Arc::new(Caller::new(
            caller.user().map(str::to_owned),
            caller.client_id().to_owned(),
            scope,
        ));
    }
    true
}

/// The `allow`-list facts of `user` when no session carried them: a local user's from the
/// file (computed with the configuration); a federated person's from its record, read once
/// per access `token` and kept in [`AuthServer::token_facts`] for the token's life (and
/// read each time only for a route session begun before sessions carried them).
pub(super) async fn facts(
    auth: &AuthServer,
    user: &str,
    token: Option<&[u8]>,
) -> Result<Option<Arc<AllowFacts>>, AuthnFailure> {
    if let Some(local) = auth.local_facts.get(user) {
        return Ok(Some(local.clone()));
    }
    let cached = provider_of(user).and(token);
    if let Some(found) = cached.and_then(|t| auth.token_facts.get(t)) {
        return Ok(found);
    }
    let person = auth
        .person(user)
        .await
        .map_err(|_| AuthnFailure::StoreUnavailable)?;
    let facts = person.map(|p| Arc::new(p.allow_facts()));
    if let Some(token) = cached {
        auth.token_facts.put(token, facts.clone());
    }
    Ok(facts)
}

#[cfg(test)]
mod tests;
