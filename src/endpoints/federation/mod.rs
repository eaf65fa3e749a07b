//! Sign-in through upstream identity providers as HTTP (issue 15, contract §8): the
//! relying party half. `federation` holds the plain-type parts (discovery, keys, ID tokens,
//! the flow's state); this module fetches, redirects and sets cookies.
//!
//! - `GET /oauth2/start/ID?request=QUERY` ([`start`]): the login page's button (or
//!   `provider=`/`idp_hint=` on `/oauth2/authorize`) for the pending authorization request
//!   `QUERY`; redirects to the provider with `state`, PKCE S256 and a `nonce`, which travel
//!   in a MAC'd flow cookie named after the state;
//! - `GET /oauth2/callback/ID` ([`callback`]): one per provider, so an answer of one
//!   provider is never taken for another's; checks the flow (this browser's, this
//!   provider's, not expired, taken once across the store), the RFC 9207 `iss`, then
//!   identifies the person ([`oidc`], [`github`]), asks `federation::admit`, and signs in as
//!   a password login does ([`handover`]): a login session, then the pending request
//!   resumes (consent and codes as for a local user).
//!
//! [`Federation`] is built with each configuration and keeps each provider's caches
//! (discovery, keys); nothing is fetched at build: a provider that is down never stops the
//! gateway from starting or serving local users. [`Federation::warm`] fetches discovery in
//! the background once, to log a warning early.

pub mod client;
pub mod github;
mod handover;
pub mod oidc;

use std::collections::HashMap;
use std::sync::Arc;

use http::header::{self, HeaderMap};
use http::{Response, StatusCode};
use subtle::ConstantTimeEq;

use crate::config::{Config, ProviderConfig, ProviderKind};
use crate::federation::flow::{self, FederatedFlow, FLOW_TTL_SECS, MAC_PURPOSE};
use crate::federation::refused::FederationRefused;
use crate::gateway_paths::PROVIDER_CALLBACK_PREFIX;
use crate::http::body::Body;
use crate::http::cookie;
use crate::http::pages;
use crate::http::response;
use crate::oauth::AuthServer;
use crate::rescue::Rejection;
use oidc::OidcProvider;

/// A callback's whole back-channel work (discovery, token, keys, UserInfo or GitHub's
/// pages): each request has its own limit, this bounds their sum, so a slow provider never
/// holds a browser longer.
pub const CALLBACK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The longest flow cookie value set (browsers keep 4096 bytes per cookie, name included).
const MAX_COOKIE_VALUE: usize = 3800;

/// One configured provider and its caches.
pub struct Provider {
    pub config: ProviderConfig,
    /// `PUBLIC_URL/oauth2/callback/ID`.
    pub redirect_uri: String,
    oidc: Option<OidcProvider>,
}

/// The providers of one configuration.
pub struct Federation {
    /// What `federation::admit` reads (the providers, the users and their identities).
    config: Arc<Config>,
    providers: HashMap<String, Provider>,
}

impl Federation {
    pub fn new(config: &Config) -> Federation {
        let public = config.server.public_url.origin.clone();
        let providers = config
            .providers
            .iter()
            .map(|p| {
                let oidc = match &p.kind {
                    ProviderKind::Oidc { issuer } => Some(OidcProvider::new(&p.id, issuer)),
                    ProviderKind::Github { .. } => None,
                };
                let provider = Provider {
                    config: p.clone(),
                    redirect_uri: format!("{public}{PROVIDER_CALLBACK_PREFIX}{}", p.id),
                    oidc,
                };
                (p.id.clone(), provider)
            })
            .collect();
        Federation {
            config: Arc::new(config.clone()),
            providers,
        }
    }

    /// Fetches each OpenID provider's discovery document in the background, so a provider
    /// that is down or misconfigured is in the log at start-up (a warning: the gateway
    /// serves on, and retries at the first sign-in). Outside a runtime, does nothing.
    pub fn warm(self: &Arc<Self>, now: u64) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if self.providers.values().all(|p| p.oidc.is_none()) {
            return;
        }
        let federation = self.clone();
        runtime.spawn(async move {
            for provider in federation.providers.values() {
                if let Some(oidc) = &provider.oidc {
                    if oidc.metadata(now).await.is_err() {
                        tracing::warn!(provider = %provider.config.id, "provider unreachable at start-up: its sign-ins fail until it answers; local users are served");
                    }
                }
            }
        });
    }

    /// Fetches every OpenID provider's discovery document now: a line per provider that is
    /// unreachable or misconfigured (for `authgate check`, which warns and still passes).
    pub async fn probe(&self, now: u64) -> Vec<String> {
        let mut problems = Vec::new();
        for provider in self.providers.values() {
            if let (Some(oidc), ProviderKind::Oidc { issuer }) =
                (&provider.oidc, &provider.config.kind)
            {
                if let Err(refused) = oidc.metadata(now).await {
                    problems.push(format!(
                        "provider {}: discovery at {issuer} failed ({}): its sign-ins fail until it answers; local users are served",
                        provider.config.id,
                        refused.reason()
                    ));
                }
            }
        }
        problems
    }

    fn provider(&self, id: &str) -> Result<&Provider, FederationRefused> {
        self.providers
            .get(id)
            .ok_or(FederationRefused::UnknownProvider)
    }
}

/// The `provider=` or `idp_hint=` of an authorization request, if it names a provider.
pub fn hinted_provider<'f>(federation: &'f Federation, query: &str) -> Option<&'f str> {
    form_urlencoded::parse(query.as_bytes())
        .filter(|(k, _)| k == "provider" || k == "idp_hint")
        .find_map(|(_, v)| {
            federation
                .providers
                .get_key_value(v.as_ref())
                .map(|(id, _)| id.as_str())
        })
}

/// The authorization request without its `provider`/`idp_hint`: what the flow resumes, so
/// that a browser back from the provider is never sent to it again (no loop).
pub fn without_hint(query: &str) -> String {
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        if k != "provider" && k != "idp_hint" {
            out.append_pair(&k, &v);
        }
    }
    out.finish()
}

fn param(query: &str, name: &str) -> Option<String> {
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn redirect_with_cookie(
    location: &str,
    set: Option<http::HeaderValue>,
) -> Result<Response<Body>, Rejection> {
    let mut response =
        response::redirect(StatusCode::FOUND, location).ok_or(Rejection::Internal)?;
    pages::secure_page_headers(&mut response);
    if let Some(set) = set {
        response.headers_mut().append(header::SET_COOKIE, set);
    }
    Ok(response)
}

/// `GET /oauth2/start/ID?request=QUERY`: to the provider's sign-in.
pub async fn start(
    federation: &Federation,
    auth: &AuthServer,
    id: &str,
    query: Option<&str>,
) -> Result<Response<Body>, Rejection> {
    let request = param(query.unwrap_or(""), "request").unwrap_or_default();
    start_for(federation, auth, id, &request).await
}

/// To the provider `id`'s sign-in for the pending authorization request `request`.
pub async fn start_for(
    federation: &Federation,
    auth: &AuthServer,
    id: &str,
    request: &str,
) -> Result<Response<Body>, Rejection> {
    let provider = federation.provider(id)?;
    let request = without_hint(request);
    // Only a request the authorization endpoint accepts is carried: the flow ends there.
    if auth.check_authorize(&request).await.is_err() {
        return Err(FederationRefused::BadRequest.into());
    }
    let now = auth.now();
    let flow = FederatedFlow::begin(&provider.config.id, &request, now);
    let payload = flow.payload();
    let value = format!("{payload}.{}", auth.csrf.token(MAC_PURPOSE, &[&payload]));
    if value.len() > MAX_COOKIE_VALUE {
        return Err(FederationRefused::RequestTooLarge.into());
    }
    let location = match (&provider.config.kind, &provider.oidc) {
        (ProviderKind::Oidc { .. }, Some(oidc)) => {
            let meta = oidc.metadata(now).await?;
            let scope = provider.config.scopes.join(" ");
            crate::oauth::authorize::with_query(
                &meta.authorization_endpoint,
                &[
                    ("response_type", "code"),
                    ("client_id", &provider.config.client_id),
                    ("redirect_uri", &provider.redirect_uri),
                    ("scope", &scope),
                    ("state", &flow.state),
                    ("nonce", &flow.nonce),
                    ("code_challenge", &flow.challenge()),
                    ("code_challenge_method", "S256"),
                ],
            )
        }
        (ProviderKind::Github { web_url, .. }, _) => {
            github::authorize_url(&provider.config, web_url, &flow, &provider.redirect_uri)
        }
        (ProviderKind::Oidc { .. }, None) => return Err(Rejection::Internal),
    };
    tracing::debug!(provider = %provider.config.id, "sign-in sent to the provider");
    redirect_with_cookie(
        &location,
        cookie::set(&flow.cookie_name(), &value, Some(FLOW_TTL_SECS)),
    )
}

/// This browser's flow for the callback's `state`, checked: MAC, expiry, state, provider.
fn open_flow(
    auth: &AuthServer,
    headers: &HeaderMap,
    provider: &str,
    state: &str,
) -> Result<FederatedFlow, FederationRefused> {
    let name = flow::cookie_name(state);
    let raw = cookie::get(headers, &name).ok_or(FederationRefused::CookieMissing)?;
    let (payload, mac) = raw
        .split_once('.')
        .ok_or(FederationRefused::CookieDamaged)?;
    if !auth.csrf.verify(mac, MAC_PURPOSE, &[payload]) {
        return Err(FederationRefused::CookieDamaged);
    }
    let flow = FederatedFlow::decode(payload).ok_or(FederationRefused::CookieDamaged)?;
    if flow.expires_at <= auth.now() {
        return Err(FederationRefused::Expired);
    }
    if !bool::from(flow.state.as_bytes().ct_eq(state.as_bytes())) {
        return Err(FederationRefused::OtherBrowser);
    }
    if flow.provider != provider {
        return Err(FederationRefused::OtherProvider);
    }
    Ok(flow)
}

/// `GET /oauth2/callback/ID`: the provider's answer.
pub async fn callback(
    federation: &Federation,
    auth: &AuthServer,
    headers: &HeaderMap,
    id: &str,
    query: Option<&str>,
) -> Result<Response<Body>, Rejection> {
    let provider = federation.provider(id)?;
    let work = identify(federation, provider, auth, headers, query.unwrap_or(""));
    let result = match tokio::time::timeout(CALLBACK_TIMEOUT, work).await {
        Ok(result) => result,
        Err(_elapsed) => {
            tracing::warn!(
                provider = id,
                limit_secs = CALLBACK_TIMEOUT.as_secs(),
                "the provider's answers took too long"
            );
            Err(FederationRefused::ProviderUnavailable)
        }
    };
    let (flow, identity) = result.inspect_err(|refused| {
        tracing::info!(
            provider = id,
            reason = refused.reason(),
            "provider sign-in refused"
        );
    })?;
    handover::sign_in(federation, auth, headers, &flow, &identity).await
}

/// The callback's checks and the provider's answers: the flow and who signed in.
async fn identify(
    _federation: &Federation,
    provider: &Provider,
    auth: &AuthServer,
    headers: &HeaderMap,
    query: &str,
) -> Result<(FederatedFlow, crate::federation::identity::ExternalIdentity), FederationRefused> {
    if let Some(error) = param(query, "error") {
        tracing::info!(provider = %provider.config.id, error = oidc::loggable_error(Some(&error)), "the provider answered an error");
        return Err(FederationRefused::Cancelled);
    }
    let state = param(query, "state").ok_or(FederationRefused::NoState)?;
    let code = param(query, "code").ok_or(FederationRefused::NoCode)?;
    let flow = open_flow(auth, headers, &provider.config.id, &state)?;
    let now = auth.now();
    let iss = param(query, "iss");
    let identity = match (&provider.config.kind, &provider.oidc) {
        (ProviderKind::Oidc { issuer }, Some(oidc)) => {
            if iss.as_deref().is_some_and(|iss| iss != issuer) {
                return Err(FederationRefused::OtherIssuer);
            }
            let meta = oidc.metadata(now).await?;
            if iss.is_none() && meta.iss_parameter_supported {
                return Err(FederationRefused::IssuerMissing);
            }
            claim(auth, &flow).await?;
            let claims = oidc
                .identify(
                    &provider.config,
                    &meta,
                    &flow,
                    &code,
                    &provider.redirect_uri,
                    now,
                )
                .await?;
            handover::identity_of(&provider.config.id, &claims)
        }
        (ProviderKind::Github { web_url, api_url }, _) => {
            if iss.is_some() {
                return Err(FederationRefused::OtherIssuer);
            }
            claim(auth, &flow).await?;
            github::identify(
                &provider.config,
                web_url,
                api_url,
                &flow,
                &code,
                &provider.redirect_uri,
            )
            .await?
        }
        (ProviderKind::Oidc { .. }, None) => return Err(FederationRefused::ProviderMisconfigured),
    };
    Ok((flow, identity))
}

/// Takes the flow's callback once, across every gateway of the store: a replayed answer
/// (back button, a copied URL with the cookie) is refused before its code is sent anywhere.
async fn claim(auth: &AuthServer, flow: &FederatedFlow) -> Result<(), FederationRefused> {
    let first = auth
        .store
        .claim_once(&flow.claim_key(), flow.expires_at, auth.now())
        .await
        .map_err(|_| FederationRefused::StoreUnavailable)?;
    if first {
        Ok(())
    } else {
        Err(FederationRefused::Replayed)
    }
}

#[cfg(test)]
mod tests;
