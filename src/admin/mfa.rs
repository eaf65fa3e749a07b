//! `POST /admin/mfa/reset` `{"user": NAME}` (`authgate user reset-mfa NAME`): removes the
//! user's second factors from the store (the TOTP secret, a pending one, the recovery codes
//! and the failure count), so the user enrols again at the next sign-in, and revokes
//! everything of the user as `POST /admin/revoke {"user"}` does: a session or token that a
//! lost or stolen factor got stops working from the next request.

use http::{Response, StatusCode};
use serde::{Deserialize, Serialize};

use super::api::{name_ok, revoke_user, store_down};
use super::AdminState;
use crate::http::body::Body;
use crate::http::response;
use crate::rescue::AdminRejection;

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    pub user: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ResetOutcome {
    pub user: String,
    /// The user had a factor (or a pending one, or failures) and it is gone.
    pub factors_removed: bool,
    /// Live grants (sign-ins, sessions) ended.
    pub grants: usize,
}

pub(super) async fn reset(
    state: &AdminState,
    body: &[u8],
) -> Result<Response<Body>, AdminRejection> {
    let request: ResetRequest =
        serde_json::from_slice(body).map_err(|_| AdminRejection::BadName)?;
    if !name_ok(&request.user) {
        return Err(AdminRejection::BadName);
    }
    let factors_removed = state
        .store
        .remove_factors(&request.user)
        .await
        .map_err(store_down)?;
    let now = state.clock.now();
    let grants = revoke_user(state, &request.user, now)
        .await
        .map_err(store_down)?;
    tracing::info!(
        user = %request.user,
        factors_removed,
        grants,
        "second factors reset through the admin API"
    );
    Ok(response::json(
        StatusCode::OK,
        &ResetOutcome {
            user: request.user,
            factors_removed,
            grants,
        },
    ))
}
