//! The signing keys through the admin listener (`authgate keys list|rotate`):
//!
//! | request | answer |
//! | --- | --- |
//! | `GET /admin/keys` | [`KeyList`]: every key with its state and dates, the retention, the JWKS max-age |
//! | `POST /admin/keys/rotate` `{"algs"?:["ES256",…],"force"?:bool}` | the [`KeyList`] after the rotation; 409 while a Next key is younger than the JWKS max-age (unless `force`) |
//!
//! A rotation applies to the store (shared by every gateway of a Redis deployment) and to
//! this gateway at once; the others take it at their next refresh (at most
//! [`crate::store::signing_keys::REFRESH_SECS`] later, or when a token names the new key).

use http::{Response, StatusCode};
use serde::{Deserialize, Serialize};

use super::AdminState;
use crate::http::body::Body;
use crate::http::response;
use crate::store::signing_keys::KeysError;
use crate::tokens::jose::{Alg, KeyInfo, KeySet, JWKS_MAX_AGE_SECS};

/// What `GET /admin/keys` answers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyList {
    pub keys: Vec<KeyInfo>,
    /// How long a retired key stays published under the running configuration.
    pub retention_secs: u64,
    /// The JWKS `Cache-Control: max-age`, and the least time a Next key waits to sign.
    pub jwks_max_age_secs: u64,
}

/// What `POST /admin/keys/rotate` takes.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotateRequest {
    /// The algorithms to rotate; all when absent or empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub algs: Vec<Alg>,
    /// Rotate even though a Next key was published less than the JWKS max-age ago.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub force: bool,
}

fn error(status: StatusCode, message: &str) -> Response<Body> {
    response::json(status, &serde_json::json!({ "error": message }))
}

fn listed(set: &KeySet, retention_secs: u64) -> Response<Body> {
    response::json(
        StatusCode::OK,
        &KeyList {
            keys: set.keys(),
            retention_secs,
            jwks_max_age_secs: JWKS_MAX_AGE_SECS,
        },
    )
}

/// `GET /admin/keys`.
pub fn list(state: &AdminState) -> Response<Body> {
    let Some(auth) = state.auth.as_ref().map(|current| current()) else {
        return error(StatusCode::NOT_FOUND, "this gateway has no signing keys");
    };
    listed(&auth.signing.snapshot(), auth.key_retention().secs)
}

/// `POST /admin/keys/rotate`.
pub async fn rotate(state: &AdminState, body: &[u8]) -> Response<Body> {
    let Some(auth) = state.auth.as_ref().map(|current| current()) else {
        return error(StatusCode::NOT_FOUND, "this gateway has no signing keys");
    };
    let request: RotateRequest = if body.iter().all(u8::is_ascii_whitespace) {
        RotateRequest::default()
    } else {
        match serde_json::from_slice(body) {
            Ok(request) => request,
            Err(_) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "the body must be {\"algs\":[\"RS256\"|\"ES256\"|\"EdDSA\",…],\"force\":bool} (both optional)",
                )
            }
        }
    };
    match auth.rotate_signing_keys(&request.algs, request.force).await {
        Ok(set) => {
            tracing::info!(
                algs = ?request.algs,
                force = request.force,
                "signing keys rotated through the admin API"
            );
            listed(&set, auth.key_retention().secs)
        }
        Err(KeysError::Rotate(err)) => error(StatusCode::CONFLICT, &err.to_string()),
        Err(KeysError::Contended) => error(
            StatusCode::CONFLICT,
            "the signing keys kept changing during the rotation; try again",
        ),
        Err(err) => {
            tracing::warn!(error = %err, "admin key rotation failed");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the signing keys could not be rotated; see the gateway's log",
            )
        }
    }
}
