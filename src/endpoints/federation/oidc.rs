//! An OpenID Connect provider as the relying party meets it: its discovery document and its
//! keys, each fetched lazily at first use and kept (discovery for [`DISCOVERY_MAX_AGE_SECS`],
//! the keys by the rule of `federation::jwks`), a failed refresh keeping what was known;
//! and the sign-in's back-channel half: the code exchange, the ID token's verification,
//! UserInfo when a claim the gates need is missing.
//!
//! Concurrent sign-ins share one fetch: each cache is behind an async lock held across its
//! fetch, so a burst of sign-ins against a cold or rotated provider sends one request.
//! Upstream tokens live only in this module's locals: never in a cookie, a log line or a
//! header to an upstream.

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use http::header::AUTHORIZATION;
use http::StatusCode;
use serde::Deserialize;
use tokio::sync::Mutex;

use super::client::{self, FetchError, Outbound};
use crate::config::{Gates, ProviderConfig};
use crate::federation::discovery::{
    discovery_url, ProviderMetadata, TokenAuth, MAX_DOCUMENT_BYTES,
};
use crate::federation::flow::FederatedFlow;
use crate::federation::id_token::{self, Expected, IdClaims, IdTokenInvalid};
use crate::federation::jwks::{self, Freshness, UpstreamKey, MAX_JWKS_BYTES};
use crate::federation::refused::FederationRefused;

/// A discovery document this old is fetched again at its next use.
pub const DISCOVERY_MAX_AGE_SECS: u64 = 24 * 3600;
/// A failed discovery fetch is not retried sooner than this (sign-ins meanwhile get the
/// "unavailable" page at once instead of each waiting for the timeout).
const DISCOVERY_RETRY_SECS: u64 = 5;
/// The largest token or UserInfo response read.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

#[derive(Default)]
struct DiscoveryCache {
    metadata: Option<Arc<ProviderMetadata>>,
    fetched_at: u64,
    failed_at: Option<u64>,
}

#[derive(Default)]
struct KeyCache {
    keys: Arc<Vec<UpstreamKey>>,
    freshness: Freshness,
}

/// One OpenID provider's caches.
pub struct OidcProvider {
    /// The provider's id, for log lines.
    id: String,
    issuer: String,
    discovery: Mutex<DiscoveryCache>,
    keys: Mutex<KeyCache>,
}

/// A provider's refusal of a fetch, for the log line and the page.
fn fetch_failed(id: &str, what: &str, err: &FetchError) -> FederationRefused {
    tracing::warn!(provider = id, cause = %err, "{what} fetch failed");
    FederationRefused::ProviderUnavailable
}

impl OidcProvider {
    pub fn new(id: &str, issuer: &str) -> OidcProvider {
        OidcProvider {
            id: id.to_owned(),
            issuer: issuer.to_owned(),
            discovery: Mutex::new(DiscoveryCache::default()),
            keys: Mutex::new(KeyCache::default()),
        }
    }

    /// The discovery document, fetched if never fetched or too old (a failed refresh of an
    /// old one keeps it).
    pub async fn metadata(&self, now: u64) -> Result<Arc<ProviderMetadata>, FederationRefused> {
        let mut cache = self.discovery.lock().await;
        if let Some(known) = &cache.metadata {
            if now < cache.fetched_at.saturating_add(DISCOVERY_MAX_AGE_SECS) {
                return Ok(known.clone());
            }
        }
        if cache
            .failed_at
            .is_some_and(|at| now < at.saturating_add(DISCOVERY_RETRY_SECS))
        {
            return cache
                .metadata
                .clone()
                .ok_or(FederationRefused::ProviderUnavailable);
        }
        match self.fetch_metadata().await {
            Ok(fresh) => {
                let fresh = Arc::new(fresh);
                cache.metadata = Some(fresh.clone());
                cache.fetched_at = now;
                cache.failed_at = None;
                Ok(fresh)
            }
            Err(refused) => {
                cache.failed_at = Some(now);
                cache.metadata.clone().ok_or(refused)
            }
        }
    }

    async fn fetch_metadata(&self) -> Result<ProviderMetadata, FederationRefused> {
        let url = discovery_url(&self.issuer);
        let answer = client::send(Outbound::get(&url), MAX_DOCUMENT_BYTES)
            .await
            .map_err(|e| fetch_failed(&self.id, "discovery", &e))?;
        if answer.status != StatusCode::OK {
            tracing::warn!(provider = %self.id, status = answer.status.as_u16(), "discovery answered with an error");
            return Err(FederationRefused::ProviderUnavailable);
        }
        ProviderMetadata::parse(&answer.body, &self.issuer).map_err(|e| {
            tracing::warn!(provider = %self.id, cause = %e, "discovery document refused");
            FederationRefused::ProviderMisconfigured
        })
    }

    /// The keys, fetched when stale; with `unknown_kid`, refetched if the rate limit allows.
    async fn keys(
        &self,
        meta: &ProviderMetadata,
        now: u64,
        unknown_kid: bool,
    ) -> Result<Arc<Vec<UpstreamKey>>, FederationRefused> {
        let mut cache = self.keys.lock().await;
        let fetch = cache.freshness.stale(now) || (unknown_kid && cache.freshness.may_refetch(now));
        if fetch {
            cache.freshness.tried_at = Some(now);
            match self.fetch_keys(meta).await {
                Ok(keys) => {
                    cache.keys = Arc::new(keys);
                    cache.freshness.fetched_at = Some(now);
                }
                Err(refused) if cache.keys.is_empty() => return Err(refused),
                Err(_) => {}
            }
        }
        if cache.keys.is_empty() {
            return Err(FederationRefused::ProviderUnavailable);
        }
        Ok(cache.keys.clone())
    }

    async fn fetch_keys(
        &self,
        meta: &ProviderMetadata,
    ) -> Result<Vec<UpstreamKey>, FederationRefused> {
        let answer = client::send(Outbound::get(&meta.jwks_uri), MAX_JWKS_BYTES)
            .await
            .map_err(|e| fetch_failed(&self.id, "JWKS", &e))?;
        if answer.status != StatusCode::OK {
            tracing::warn!(provider = %self.id, status = answer.status.as_u16(), "JWKS answered with an error");
            return Err(FederationRefused::ProviderUnavailable);
        }
        let keys = jwks::parse(&answer.body).map_err(|e| {
            tracing::warn!(provider = %self.id, cause = %e, "JWKS refused");
            FederationRefused::ProviderMisconfigured
        })?;
        tracing::info!(provider = %self.id, keys = keys.len(), "provider keys fetched");
        Ok(keys)
    }

    /// The code exchange, the ID token's verification and UserInfo when needed: the
    /// verified claims of the person who signed in.
    pub async fn identify(
        &self,
        provider: &ProviderConfig,
        meta: &ProviderMetadata,
        flow: &FederatedFlow,
        code: &str,
        redirect_uri: &str,
        now: u64,
    ) -> Result<IdClaims, FederationRefused> {
        let tokens = exchange(provider, meta, flow, code, redirect_uri).await?;
        let id_token = tokens.id_token.as_deref().ok_or_else(|| {
            tracing::warn!(provider = %provider.id, "the token response has no id_token (is the openid scope asked?)");
            FederationRefused::ExchangeFailed
        })?;
        let expected = Expected {
            issuer: &meta.issuer,
            client_id: &provider.client_id,
            nonce: &flow.nonce,
            now,
        };
        let keys = self.keys(meta, now, false).await?;
        let mut claims = match id_token::verify(id_token, &keys, &expected) {
            Err(IdTokenInvalid::UnknownKey) if id_token::header_kid(id_token).is_some() => {
                let keys = self.keys(meta, now, true).await?;
                id_token::verify(id_token, &keys, &expected)
            }
            other => other,
        }
        .map_err(|invalid| {
            tracing::warn!(provider = %provider.id, reason = invalid.reason(), "ID token refused");
            FederationRefused::IdToken(invalid)
        })?;
        if needs_userinfo(&claims, &provider.gates, provider) {
            if let (Some(url), Some(access)) = (&meta.userinfo_endpoint, &tokens.access_token) {
                let info = userinfo(&provider.id, url, access).await?;
                claims.merge_userinfo(&info).map_err(|invalid| {
                    tracing::warn!(provider = %provider.id, "UserInfo names another subject than the ID token");
                    FederationRefused::IdToken(invalid)
                })?;
            }
        }
        if !claims.has_groups()
            && claims.groups_elsewhere()
            && groups_matter(&provider.gates, provider)
        {
            return Err(FederationRefused::GroupsElsewhere);
        }
        Ok(claims)
    }
}

/// Whether a gate or a scope mapping reads groups.
fn groups_matter(gates: &Gates, provider: &ProviderConfig) -> bool {
    !gates.allow_groups.is_empty() || !provider.group_scopes.is_empty()
}

/// Whether a claim a gate needs is missing from the ID token (OIDC Core §5.4: thin tokens
/// leave them to UserInfo).
fn needs_userinfo(claims: &IdClaims, gates: &Gates, provider: &ProviderConfig) -> bool {
    let email_gate = !gates.allow_email_domains.is_empty() || !gates.allow_emails.is_empty();
    let email_missing = claims.email().is_none() || !claims.says_email_verification();
    (email_gate && email_missing) || (groups_matter(gates, provider) && !claims.has_groups())
}

/// A token endpoint's answer (RFC 6749 §5.1), what of it is used.
#[derive(Deserialize)]
pub(super) struct TokenAnswer {
    pub access_token: Option<String>,
    pub id_token: Option<String>,
    error: Option<String>,
}

/// Sends a token request and reads the answer: a status other than 200, a body that is not
/// JSON or one with an `error` member (GitHub answers errors with 200) is a refusal, logged
/// with the status and the error code (never the body).
pub(super) async fn token_request(
    id: &str,
    request: Outbound<'_>,
) -> Result<TokenAnswer, FederationRefused> {
    let answer = client::send(request, MAX_RESPONSE_BYTES)
        .await
        .map_err(|e| {
            tracing::warn!(provider = id, cause = %e, "token request failed");
            FederationRefused::ExchangeFailed
        })?;
    let parsed: Option<TokenAnswer> = serde_json::from_slice(&answer.body).ok();
    match parsed {
        Some(tokens) if answer.status == StatusCode::OK && tokens.error.is_none() => Ok(tokens),
        other => {
            let code = other.as_ref().and_then(|t| t.error.as_deref());
            tracing::warn!(
                provider = id,
                status = answer.status.as_u16(),
                error = loggable_error(code),
                "token endpoint refused the code"
            );
            Err(FederationRefused::ExchangeFailed)
        }
    }
}

/// The provider's `error` code, if it is one a log line may show (RFC 6749 §5.2 codes are
/// short tokens; anything else is not echoed).
pub fn loggable_error(code: Option<&str>) -> &str {
    match code {
        Some(code)
            if code.len() <= 64 && code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') =>
        {
            code
        }
        Some(_) => "(not shown)",
        None => "(none)",
    }
}

/// The client authentication of RFC 6749 §2.3.1: id and secret form-urlencoded, then Basic.
pub fn basic_credentials(client_id: &str, secret: &str) -> String {
    let encode = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", encode(client_id), encode(secret)))
    )
}

async fn exchange(
    provider: &ProviderConfig,
    meta: &ProviderMetadata,
    flow: &FederatedFlow,
    code: &str,
    redirect_uri: &str,
) -> Result<TokenAnswer, FederationRefused> {
    let secret = provider.client_secret.expose();
    let form = {
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("grant_type", "authorization_code")
            .append_pair("code", code)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("code_verifier", &flow.verifier);
        if meta.token_auth == TokenAuth::Post {
            form.append_pair("client_id", &provider.client_id)
                .append_pair("client_secret", secret);
        }
        form.finish()
    };
    let mut request = Outbound::post_form(&meta.token_endpoint, form);
    if meta.token_auth == TokenAuth::Basic {
        request = request.header(
            AUTHORIZATION,
            &basic_credentials(&provider.client_id, secret),
        );
    }
    token_request(&provider.id, request).await
}

async fn userinfo(
    id: &str,
    url: &str,
    access_token: &str,
) -> Result<serde_json::Map<String, serde_json::Value>, FederationRefused> {
    let request = Outbound::get(url).header(AUTHORIZATION, &format!("Bearer {access_token}"));
    let answer = client::send(request, MAX_RESPONSE_BYTES)
        .await
        .map_err(|e| fetch_failed(id, "UserInfo", &e))?;
    if answer.status != StatusCode::OK || !answer.is_json() {
        tracing::warn!(
            provider = id,
            status = answer.status.as_u16(),
            "UserInfo did not answer JSON"
        );
        return Err(FederationRefused::ProfileFailed);
    }
    serde_json::from_slice(&answer.body).map_err(|_| {
        tracing::warn!(provider = id, "UserInfo's answer is not a JSON object");
        FederationRefused::ProfileFailed
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_encode_before_base64() {
        // RFC 6749 §2.3.1: both halves form-urlencoded first.
        assert_eq!(
            basic_credentials("my:client", "s e/c"),
            format!("Basic {}", STANDARD.encode("my%3Aclient:s+e%2Fc"))
        );
    }

    #[test]
    fn only_plain_error_codes_are_logged() {
        assert_eq!(loggable_error(Some("invalid_grant")), "invalid_grant");
        assert_eq!(loggable_error(Some("code=abc")), "(not shown)");
        assert_eq!(loggable_error(None), "(none)");
    }
}
