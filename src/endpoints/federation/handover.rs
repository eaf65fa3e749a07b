//! From a verified upstream identity to a signed-in browser: the claims become an
//! `ExternalIdentity`, `federation::admit` decides (its refusal is the 403 page naming the
//! gate), the person's record is kept for the authorization server (`remember_person`), and the browser is
//! signed in exactly as a password login signs it in (`oauth::browser::signed_in`: a new
//! login session, then the pending authorization request resumes, consent included). The
//! spent flow cookie is cleared on the way.

use http::header::{self, HeaderMap};
use http::Response;

use super::Federation;
use crate::federation::flow::FederatedFlow;
use crate::federation::id_token::IdClaims;
use crate::federation::identity::ExternalIdentity;
use crate::federation::refused::FederationRefused;
use crate::http::body::Body;
use crate::http::cookie;
use crate::oauth::AuthServer;
use crate::rescue::Rejection;

/// The identity an OpenID provider's verified claims describe.
pub fn identity_of(provider: &str, claims: &IdClaims) -> ExternalIdentity {
    ExternalIdentity {
        provider: provider.to_owned(),
        subject: claims.subject.clone(),
        email: claims.email().map(str::to_owned),
        email_verified: claims.email_verified(),
        groups: claims.groups(),
        hosted_domain: claims.hosted_domain().map(str::to_owned),
        username: claims.username().map(str::to_owned),
        name: claims.name().map(str::to_owned),
    }
}

/// Admits `identity` and signs this browser in, resuming `flow`'s authorization request.
pub async fn sign_in(
    federation: &Federation,
    auth: &AuthServer,
    headers: &HeaderMap,
    flow: &FederatedFlow,
    identity: &ExternalIdentity,
) -> Result<Response<Body>, Rejection> {
    let admitted = match crate::federation::admit::admit(&federation.config, identity) {
        Ok(admitted) => admitted,
        Err(refusal) => {
            tracing::info!(provider = %identity.provider, subject = %identity.subject, "provider sign-in not admitted");
            return Err(Rejection::NotAdmitted(refusal));
        }
    };
    // The authorization server treats the principal like a `[[users]]` entry from now on
    // (consent, claims, refresh), on every gateway of the store.
    auth.remember_person(&admitted)
        .await
        .map_err(|_| FederationRefused::StoreUnavailable)?;
    tracing::info!(
        provider = %identity.provider,
        user = %admitted.principal,
        local_user = admitted.local_user,
        "login succeeded"
    );
    let mut response = crate::endpoints::oauth::browser::signed_in(
        auth,
        headers,
        &admitted.principal,
        &flow.request,
        // RFC 8176 has no value for "an upstream provider said so": no `amr`, one factor.
        crate::store::sign_in::SignIn {
            amr: Vec::new(),
            auth_time: auth.now(),
        },
    )
    .await?;
    if let Some(clear) = cookie::clear(&flow.cookie_name()) {
        response.headers_mut().append(header::SET_COOKIE, clear);
    }
    Ok(response)
}
