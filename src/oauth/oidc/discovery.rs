//! The OpenID Provider configuration (OpenID Connect Discovery 1.0 §3), served at
//! `/.well-known/openid-configuration`: the RFC 8414 document of `oauth::metadata` with the
//! OpenID members added, so the two agree on every member they share (`issuer` is
//! `public_url` exactly in both).
//!
//! What it says, and why:
//! - `id_token_signing_alg_values_supported`: only the algorithms a key signs with now,
//!   RS256 first (OIDC Core §15.1; some relying parties take the first, and oauth4webapi
//!   trusts the list when its client names none); never `none`;
//! - `subject_types_supported: ["public"]`: `sub` is the user's name for every client;
//! - `request_parameter_supported`, `request_uri_parameter_supported` and
//!   `claims_parameter_supported` are `false`, written out because Discovery makes
//!   `request_uri_parameter_supported` true when it is omitted;
//! - `acr_values_supported`: `urn:authgate:1fa` and `urn:authgate:2fa` (second factors:
//!   `acr_values=urn:authgate:2fa` asks for a sign-in with one);
//! - `backchannel_logout_supported` (Back-Channel Logout 1.0 §2.1) is set by the logout side
//!   in [`AuthServer::logout_members`].

use serde_json::{json, Value};

use super::claims::CLAIMS_SUPPORTED;
use crate::gateway_paths::USERINFO_PATH;
use crate::oauth::AuthServer;
use crate::tokens::jose::Alg;

impl AuthServer {
    /// The discovery document.
    pub fn openid_configuration(&self) -> Value {
        let base = &self.settings.issuer;
        let mut doc = self.metadata();
        let algs: Vec<&str> = self.id_token_algs().into_iter().map(Alg::as_str).collect();
        let members = json!({
            "userinfo_endpoint": format!("{base}{USERINFO_PATH}"),
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": algs,
            "claims_supported": CLAIMS_SUPPORTED,
            "claim_types_supported": ["normal"],
            "request_parameter_supported": false,
            "request_uri_parameter_supported": false,
            "claims_parameter_supported": false,
            // One factor, or a second factor too (`acr_values` asks for the latter).
            "acr_values_supported": [
                crate::store::sign_in::ACR_ONE_FACTOR,
                crate::store::sign_in::ACR_TWO_FACTORS,
            ],
        });
        if let (Some(doc), Value::Object(members)) = (doc.as_object_mut(), members) {
            doc.extend(members);
        }
        self.logout_members(&mut doc);
        doc
    }

    /// The algorithms ID tokens are signed with now, in [`Alg::ALL`]'s order (RS256 first).
    pub fn id_token_algs(&self) -> Vec<Alg> {
        let signing = self.signing.snapshot().signing_algs();
        Alg::ALL
            .into_iter()
            .filter(|alg| signing.contains(alg))
            .collect()
    }

    /// The logout members (Back-Channel Logout 1.0 §2.1): logout tokens are sent
    /// (`oauth::backchannel`), and carry the ended session's `sid`.
    fn logout_members(&self, doc: &mut Value) {
        doc["backchannel_logout_supported"] = Value::Bool(true);
        doc["backchannel_logout_session_supported"] = Value::Bool(true);
    }
}

#[cfg(test)]
mod tests;
