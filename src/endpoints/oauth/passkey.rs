//! Passkeys in the second step of a sign-in, as HTTP (contract §9): the passkey part of the
//! code page (the user's passkeys, UV preferred) and of the enrolment page (a registration),
//! and their posts, `POST /oauth2/mfa/passkey` and `POST /oauth2/mfa/passkey/enrol`. The
//! ceremonies are `mfa::passkey`'s; the forms are `factor.rs`'s (CSRF-bound to the login
//! session, same-origin posts), and so is what follows a success ([`super::factor::accepted`]:
//! a new login session whose sign-in adds `hwk` or `swk` and `mfa`).
//!
//! The code page offers the passkey ceremony of its login session, the same one each time
//! it is shown while enough of it is left (`Passkeys::begin_second_factor`), so reloading
//! it stores nothing new; the enrolment page begins a registration each time. A post takes
//! its ceremony, once, whether the answer verifies or not.

use http::{Request, Response};
use hyper::body::Incoming;

use super::factor::{self, Posted, Shown};
use crate::authn::flow::SignInRefused;
use crate::http::body::Body;
use crate::http::pages::passkey::PasskeyForm;
use crate::mfa::passkey::{method_of, Begun, PasskeyRefused, Reply, MAX_RESPONSE_BYTES};
use crate::oauth::AuthServer;
use crate::rescue::Rejection;
use crate::store::passkeys::CeremonyPurpose;
use crate::tokens::opaque::TokenHash;

const NOT_ACCEPTED: &str = "The passkey was not accepted. Try again.";

/// What a passkey form posts besides the CSRF token and the pending request.
#[derive(Debug, Clone, Default)]
pub(super) struct Answer {
    pub(super) ceremony: String,
    /// The browser's `PublicKeyCredential.toJSON()`.
    pub(super) credential: String,
    pub(super) name: String,
}

impl Answer {
    pub(super) fn reply(&self) -> Reply<'_> {
        Reply {
            ceremony: &self.ceremony,
            response: &self.credential,
        }
    }

    /// The fields of `form`; an oversized one is left empty (and refused as no answer).
    pub(super) fn of(form: &super::form::Form) -> Answer {
        let field = |name: &str, max: usize| {
            form.get(name)
                .filter(|v| v.len() <= max)
                .unwrap_or("")
                .to_owned()
        };
        Answer {
            ceremony: field("ceremony", 64),
            credential: field("credential", MAX_RESPONSE_BYTES),
            name: field("name", 256),
        }
    }
}

/// The binding of a ceremony begun for the login session `session_id`.
pub(super) fn binding(session_id: &str) -> String {
    TokenHash::of(session_id).to_hex()
}

/// A passkey part of a page, owned (the page borrows it as a [`PasskeyForm`]).
pub(super) struct Part {
    action: &'static str,
    create: bool,
    options: String,
    hidden: Vec<(&'static str, String)>,
    heading: &'static str,
    button: &'static str,
}

impl Part {
    pub(super) fn new(
        action: &'static str,
        create: bool,
        begun: Begun,
        hidden: Vec<(&'static str, String)>,
        heading: &'static str,
        button: &'static str,
    ) -> Part {
        let mut hidden = hidden;
        hidden.push(("ceremony", begun.ceremony));
        Part {
            action,
            create,
            options: begun.options,
            hidden,
            heading,
            button,
        }
    }

    /// Calls `page` with this part as a [`PasskeyForm`].
    pub(super) fn with<R>(&self, page: impl FnOnce(&PasskeyForm<'_>) -> R) -> R {
        let hidden: Vec<(&str, &str)> = self
            .hidden
            .iter()
            .map(|(name, value)| (*name, value.as_str()))
            .collect();
        page(&PasskeyForm {
            action: self.action,
            create: self.create,
            options: &self.options,
            hidden: &hidden,
            heading: self.heading,
            button: self.button,
            name_field: self.create,
        })
    }
}

fn unavailable() -> Rejection {
    Rejection::SignIn(SignInRefused::StoreUnavailable)
}

/// A refusal that is not the person's doing ends the request; the others are shown.
pub(super) fn or_shown<T>(result: Result<T, PasskeyRefused>) -> Result<Option<T>, Rejection> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(PasskeyRefused::Unavailable) => Err(unavailable()),
        Err(_) => Ok(None),
    }
}

/// The passkey part of the code page: a sign-in with one of the user's passkeys, when
/// passkeys are on and the user has one.
pub(super) async fn second_factor_part(
    auth: &AuthServer,
    page: &Shown<'_>,
) -> Result<Option<Part>, Rejection> {
    let Some(passkeys) = &auth.passkeys else {
        return Ok(None);
    };
    let begun = passkeys
        .begin_second_factor(
            auth.store.as_ref(),
            page.user,
            page.session_id,
            &binding(page.session_id),
            auth.now(),
        )
        .await;
    Ok(or_shown(begun)?.map(|begun| {
        Part::new(
            "/oauth2/mfa/passkey",
            false,
            begun,
            hidden(page),
            "Or use a passkey",
            "Use a passkey",
        )
    }))
}

/// The passkey part of the enrolment page: a registration, when passkeys are on.
pub(super) async fn registration_part(
    auth: &AuthServer,
    page: &Shown<'_>,
) -> Result<Option<Part>, Rejection> {
    let Some(passkeys) = &auth.passkeys else {
        return Ok(None);
    };
    let begun = passkeys
        .begin_registration(
            auth.store.as_ref(),
            page.user,
            &binding(page.session_id),
            auth.now(),
        )
        .await;
    Ok(or_shown(begun)?.map(|begun| {
        Part::new(
            "/oauth2/mfa/passkey/enrol",
            true,
            begun,
            hidden(page),
            "Or set up a passkey",
            "Create a passkey",
        )
    }))
}

fn hidden(page: &Shown<'_>) -> Vec<(&'static str, String)> {
    vec![
        ("csrf", page.csrf.to_owned()),
        ("request", page.query.to_owned()),
    ]
}

fn shown(posted: &Posted) -> Shown<'_> {
    Shown {
        session_id: &posted.session_id,
        user: &posted.session.user,
        query: &posted.query,
        csrf: &posted.csrf,
    }
}

/// `POST /oauth2/mfa/passkey`: a passkey as the second factor.
pub(super) async fn verify(
    auth: &AuthServer,
    req: Request<Incoming>,
) -> Result<Response<Body>, Rejection> {
    let Some(passkeys) = auth.passkeys.clone() else {
        return Err(Rejection::NoRoute);
    };
    let posted = match factor::posted(auth, req).await? {
        Ok(posted) => posted,
        Err(response) => return Ok(response),
    };
    let answer = &posted.passkey;
    let proved = passkeys
        .finish_sign_in(
            auth.store.as_ref(),
            CeremonyPurpose::SecondFactor,
            &binding(&posted.session_id),
            Some(&posted.session.user),
            answer.reply(),
            auth.now(),
        )
        .await;
    match or_shown(proved)? {
        Some(proved) => factor::accepted(auth, &posted, proved.method, None).await,
        None => {
            auth.metrics.login_failed("passkey_refused");
            factor::code_page(auth, &shown(&posted), Some(NOT_ACCEPTED)).await
        }
    }
}

/// `POST /oauth2/mfa/passkey/enrol`: a new passkey as the first second factor; the
/// recovery codes follow, once.
pub(super) async fn enrol(
    auth: &AuthServer,
    req: Request<Incoming>,
) -> Result<Response<Body>, Rejection> {
    let Some(passkeys) = auth.passkeys.clone() else {
        return Err(Rejection::NoRoute);
    };
    let posted = match factor::posted(auth, req).await? {
        Ok(posted) => posted,
        Err(response) => return Ok(response),
    };
    let (store, now) = (auth.store.as_ref(), auth.now());
    let answer = &posted.passkey;
    let registered = passkeys
        .finish_registration(
            store,
            &posted.session.user,
            &binding(&posted.session_id),
            answer.reply(),
            &answer.name,
            now,
        )
        .await;
    let Some(record) = or_shown(registered)? else {
        auth.metrics.login_failed("passkey_refused");
        let message = "The passkey could not be set up. Try again.";
        return factor::enrol_page(auth, &shown(&posted), Some(message)).await;
    };
    let codes = auth
        .factors
        .recovery_if_none(store, &posted.session.user, now)
        .await
        .map_err(|_| unavailable())?;
    factor::accepted(auth, &posted, method_of(record.backup_eligible), codes).await
}
