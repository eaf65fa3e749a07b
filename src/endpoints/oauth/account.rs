//! The account page (contract §9, issue 16 item 4), as HTTP: `GET /oauth2/account` lists the
//! person's second factors; `POST /oauth2/account` removes one, replaces the recovery codes
//! (shown once) or starts a TOTP set-up, whose first code is `POST /oauth2/account/totp`; a
//! new passkey's answer is `POST /oauth2/account/passkey`.
//!
//! Everything here needs a fresh sign-in: the login session's last authentication at most
//! [`FRESH_SECS`] ago, and with the second factor when the person has one (a session still
//! at its password step of a person with a factor is not signed in). Otherwise the browser
//! is sent to sign in again (`prompt=login`), and comes back here. Forms are CSRF-bound to
//! the login session and must be same-origin posts. A factor added here proves itself (a
//! correct first code, a registration), so a session without a second factor gets it (a new
//! session id) as a sign-in with it would.

use http::header::HeaderMap;
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;

use super::browser::login_session;
use super::factor::upgrade_session;
use super::form::{read_form, same_origin_post};
use super::passkey::{binding, or_shown, Answer, Part};
use super::{redirect, set_cookie};
use crate::authn::flow::SignInRefused;
use crate::gateway_paths::{ACCOUNT_PATH, LOGIN_COOKIE};
use crate::http::body::Body;
use crate::http::cookie;
use crate::http::pages::account::{self, ListedPasskey, Overview};
use crate::http::pages::factor::{recovery_codes, Enrolment};
use crate::http::pages::passkey::PasskeyForm;
use crate::mfa::passkey::method_of;
use crate::mfa::Refused;
use crate::oauth::AuthServer;
use crate::rescue::Rejection;
use crate::store::factors::Factors;
use crate::store::sign_in::{SignIn, AMR_OTP};
use crate::store::SessionRecord;

/// How recent the last authentication must be for the account page.
pub const FRESH_SECS: u64 = 600;

fn unavailable() -> Rejection {
    Rejection::SignIn(SignInRefused::StoreUnavailable)
}

/// A fresh login session: its id, record and the person's factors.
struct Fresh {
    session_id: String,
    session: SessionRecord,
    factors: Factors,
    csrf: String,
}

/// Whether a login session that signed in as `sign_in` may use the account page at `now`,
/// for a person who has (`enrolled`) a second factor or not.
pub fn is_fresh(sign_in: &SignIn, enrolled: bool, now: u64) -> bool {
    now <= sign_in.auth_time.saturating_add(FRESH_SECS)
        && (!enrolled || sign_in.has_second_factor())
}

/// This browser's login session, if it is fresh enough.
async fn fresh(auth: &AuthServer, headers: &HeaderMap) -> Result<Option<Fresh>, Rejection> {
    let Some((session_id, session)) = login_session(auth, headers).await? else {
        return Ok(None);
    };
    let now = auth.now();
    let factors = auth
        .store
        .factors(&session.user, now)
        .await
        .map_err(|_| unavailable())?
        .unwrap_or_default();
    let sign_in = session
        .sign_in
        .clone()
        .unwrap_or_else(|| SignIn::password(session.created_at));
    if !is_fresh(&sign_in, factors.enrolled(), now) {
        tracing::info!(user = %session.user, reason = "not_fresh", "account page: sign in again");
        return Ok(None);
    }
    let csrf = auth.csrf.token("account", &[&session_id]);
    Ok(Some(Fresh {
        session_id,
        session,
        factors,
        csrf,
    }))
}

/// Sign in again, then back here.
fn sign_in_again(auth: &AuthServer) -> Response<Body> {
    crate::endpoints::sign_in::start_fresh(auth, ACCOUNT_PATH)
}

/// `GET /oauth2/account`.
pub(super) async fn show(
    auth: &AuthServer,
    headers: &HeaderMap,
) -> Result<Response<Body>, Rejection> {
    match fresh(auth, headers).await? {
        Some(fresh) => overview(auth, &fresh, None).await,
        None => Ok(sign_in_again(auth)),
    }
}

async fn overview(
    auth: &AuthServer,
    fresh: &Fresh,
    notice: Option<&str>,
) -> Result<Response<Body>, Rejection> {
    let user = fresh.session.user.as_str();
    let part = match &auth.passkeys {
        Some(passkeys) => {
            let begun = passkeys
                .begin_registration(
                    auth.store.as_ref(),
                    user,
                    &binding(&fresh.session_id),
                    auth.now(),
                )
                .await;
            or_shown(begun)?.map(|begun| {
                let hidden = vec![("csrf", fresh.csrf.clone())];
                Part::new(
                    "/oauth2/account/passkey",
                    true,
                    begun,
                    hidden,
                    "Add a passkey",
                    "Create a passkey",
                )
            })
        }
        None => None,
    };
    let listed: Vec<ListedPasskey<'_>> = fresh
        .factors
        .passkeys
        .iter()
        .map(|p| ListedPasskey {
            id: &p.id,
            name: &p.name,
            synced: p.backup_eligible,
        })
        .collect();
    let page = |add_passkey: Option<&PasskeyForm<'_>>| {
        account::overview(&Overview {
            user,
            totp: fresh.factors.totp.is_some(),
            passkeys: &listed,
            recovery_left: fresh.factors.recovery.len(),
            csrf: &fresh.csrf,
            add_passkey,
            notice,
        })
    };
    Ok(match &part {
        Some(part) => part.with(|form| page(Some(form))),
        None => page(None),
    })
}

/// A checked account form: the fresh session, and the form's fields.
struct Posted {
    fresh: Fresh,
    action: String,
    id: String,
    code: String,
    answer: Answer,
}

/// Reads and checks an account form; `Err(response)` answers it already (sign in again, or
/// the page again when the form is stale).
async fn posted(
    auth: &AuthServer,
    req: Request<Incoming>,
) -> Result<Result<Posted, Response<Body>>, Rejection> {
    let (headers, form) = read_form(req).await?;
    let Some(fresh) = fresh(auth, &headers).await? else {
        return Ok(Err(sign_in_again(auth)));
    };
    let csrf_ok = auth.csrf.verify(
        form.get("csrf").unwrap_or(""),
        "account",
        &[&fresh.session_id],
    );
    if !csrf_ok || !same_origin_post(&headers, &auth.settings.issuer) || form.repeated {
        tracing::info!(user = %fresh.session.user, reason = "stale_form", "account form refused");
        let notice = "The form expired. Nothing was changed.";
        return overview(auth, &fresh, Some(notice)).await.map(Err);
    }
    let field = |name: &str| {
        form.get(name)
            .filter(|v| v.len() <= 256)
            .unwrap_or("")
            .to_owned()
    };
    Ok(Ok(Posted {
        action: field("action"),
        id: field("id"),
        code: field("code"),
        answer: Answer::of(&form),
        fresh,
    }))
}

fn back() -> Result<Response<Body>, Rejection> {
    redirect(StatusCode::SEE_OTHER, ACCOUNT_PATH)
}

/// `POST /oauth2/account`: remove a factor, replace the recovery codes, or start a TOTP
/// set-up.
pub(super) async fn act(
    auth: &AuthServer,
    req: Request<Incoming>,
) -> Result<Response<Body>, Rejection> {
    let posted = match posted(auth, req).await? {
        Ok(posted) => posted,
        Err(response) => return Ok(response),
    };
    let (store, now) = (auth.store.as_ref(), auth.now());
    let user = posted.fresh.session.user.as_str();
    let removed = match posted.action.as_str() {
        "remove-totp" => store.remove_totp(user).await,
        "remove-passkey" => store.remove_passkey(user, &posted.id).await,
        "regenerate" => {
            return match auth.factors.regenerate_recovery(store, user).await {
                Ok(codes) => Ok(recovery_codes(&codes, ACCOUNT_PATH)),
                Err(Refused::NoFactor) => back(),
                Err(_) => Err(unavailable()),
            };
        }
        "add-totp" => {
            let provisioning = auth
                .factors
                .begin_enrolment(store, user, now)
                .await
                .map_err(|_| unavailable())?;
            return Ok(totp_page(&posted.fresh, &provisioning, None));
        }
        _ => return back(),
    };
    if removed.map_err(|_| unavailable())? {
        tracing::info!(user = %user, action = %posted.action, "second factor removed");
    }
    back()
}

fn totp_page(
    fresh: &Fresh,
    provisioning: &crate::mfa::totp::Provisioning,
    error: Option<&str>,
) -> Response<Body> {
    let enrolment = Enrolment {
        uri: &provisioning.uri,
        secret_base32: &provisioning.secret_base32,
        qr_svg: &provisioning.qr_svg,
    };
    account::totp_enrol(&fresh.session.user, &enrolment, &fresh.csrf, error)
}

/// `POST /oauth2/account/totp`: the first code of the new secret; it replaces the old one
/// (and the recovery codes, shown once) only now.
pub(super) async fn confirm_totp(
    auth: &AuthServer,
    req: Request<Incoming>,
) -> Result<Response<Body>, Rejection> {
    let posted = match posted(auth, req).await? {
        Ok(posted) => posted,
        Err(response) => return Ok(response),
    };
    let (store, now) = (auth.store.as_ref(), auth.now());
    let user = posted.fresh.session.user.as_str();
    let error = match auth.factors.confirm(store, user, &posted.code, now).await {
        Ok(codes) => {
            let page = recovery_codes(&codes, ACCOUNT_PATH);
            return proved(auth, &posted.fresh, AMR_OTP, page).await;
        }
        Err(Refused::Wrong) => {
            "That code is not right, or was already used. Try the next one.".to_owned()
        }
        Err(Refused::Throttled(wait)) => {
            format!("Too many wrong codes. Wait {wait} seconds and try again.")
        }
        Err(Refused::NoFactor) => "The set-up took too long. Here is a new key.".to_owned(),
        Err(Refused::Unavailable) => return Err(unavailable()),
    };
    let provisioning = auth
        .factors
        .pending_or_new_enrolment(store, user, now)
        .await
        .map_err(|_| unavailable())?;
    Ok(totp_page(&posted.fresh, &provisioning, Some(&error)))
}

/// `POST /oauth2/account/passkey`: a new passkey's answer.
pub(super) async fn add_passkey(
    auth: &AuthServer,
    req: Request<Incoming>,
) -> Result<Response<Body>, Rejection> {
    let Some(passkeys) = auth.passkeys.clone() else {
        return Err(Rejection::NoRoute);
    };
    let posted = match posted(auth, req).await? {
        Ok(posted) => posted,
        Err(response) => return Ok(response),
    };
    let (store, now) = (auth.store.as_ref(), auth.now());
    let fresh = &posted.fresh;
    let user = fresh.session.user.as_str();
    let registered = passkeys
        .finish_registration(
            store,
            user,
            &binding(&fresh.session_id),
            posted.answer.reply(),
            &posted.answer.name,
            now,
        )
        .await;
    let Some(record) = or_shown(registered)? else {
        let notice = "The passkey could not be added. Try again.";
        return overview(auth, fresh, Some(notice)).await;
    };
    let page = match auth.factors.recovery_if_none(store, user, now).await {
        Ok(Some(codes)) => recovery_codes(&codes, ACCOUNT_PATH),
        Ok(None) => back()?,
        Err(_) => return Err(unavailable()),
    };
    proved(auth, fresh, method_of(record.backup_eligible), page).await
}

/// A factor just added proved itself (its first code, a registration): the login session
/// counts it from now on, as a sign-in with it would (so a person who had none is not sent
/// to sign in again by the next page), then `page`.
async fn proved(
    auth: &AuthServer,
    fresh: &Fresh,
    method: &str,
    mut page: Response<Body>,
) -> Result<Response<Body>, Rejection> {
    let sign_in = fresh
        .session
        .sign_in
        .clone()
        .unwrap_or_else(|| SignIn::password(fresh.session.created_at));
    if sign_in.has_second_factor() {
        return Ok(page);
    }
    let id = upgrade_session(auth, &fresh.session_id, &fresh.session, method).await?;
    set_cookie(
        &mut page,
        cookie::set(LOGIN_COOKIE, &id, Some(auth.settings.session_max)),
    );
    Ok(page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_means_recent_and_with_the_second_factor_one_has() {
        let password = SignIn::password(1000);
        assert!(is_fresh(&password, false, 1000 + FRESH_SECS));
        assert!(!is_fresh(&password, false, 1001 + FRESH_SECS));
        assert!(!is_fresh(&password, true, 1000), "the password step alone");
        let both = password.with_second_factor("otp", 2000);
        assert!(is_fresh(&both, true, 2000 + FRESH_SECS));
        assert!(!is_fresh(&both, true, 2001 + FRESH_SECS));
    }
}
