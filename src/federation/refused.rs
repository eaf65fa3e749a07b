//! Why a sign-in through an upstream provider stopped before the gates: each is answered by
//! `rescue` with a page saying so and what to do (never another redirect, so a browser that
//! drops cookies cannot loop), and logged by its [`reason`](FederationRefused::reason). The
//! gates' own refusals (the 403 "not admitted" page) are `federation::admit`'s.

use super::id_token::IdTokenInvalid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FederationRefused {
    /// No provider has this id.
    UnknownProvider,
    /// The start link's pending authorization request is not valid.
    BadRequest,
    /// The provider could not be reached, or answered its discovery or keys with an error.
    ProviderUnavailable,
    /// The provider's discovery document or keys cannot be used (the log says why).
    ProviderMisconfigured,
    /// The provider answered `error` (the person declined, or it refused).
    Cancelled,
    NoState,
    NoCode,
    /// This browser has no flow cookie for the state.
    CookieMissing,
    /// The flow cookie does not verify or decode.
    CookieDamaged,
    Expired,
    /// The flow cookie is for another state.
    OtherBrowser,
    /// The flow went to another provider than this callback's (mix-up).
    OtherProvider,
    /// `iss` names another issuer (RFC 9207).
    OtherIssuer,
    /// The provider promises `iss` and the answer has none.
    IssuerMissing,
    /// This callback was already taken.
    Replayed,
    /// The token endpoint refused the code or did not answer usably.
    ExchangeFailed,
    /// The ID token did not verify.
    IdToken(IdTokenInvalid),
    /// UserInfo (or GitHub's API) did not answer usably.
    ProfileFailed,
    /// The groups a gate needs are not in the token (Entra's overage).
    GroupsElsewhere,
    /// The start link's request is too large to keep in a cookie.
    RequestTooLarge,
    /// The session could not be stored.
    StoreUnavailable,
}

impl FederationRefused {
    /// A stable name for logs and the access line.
    pub fn reason(self) -> &'static str {
        use FederationRefused::*;
        match self {
            UnknownProvider => "federation_unknown_provider",
            BadRequest => "federation_bad_request",
            ProviderUnavailable => "federation_provider_unavailable",
            ProviderMisconfigured => "federation_provider_misconfigured",
            Cancelled => "federation_cancelled",
            NoState => "federation_no_state",
            NoCode => "federation_no_code",
            CookieMissing => "federation_cookie_missing",
            CookieDamaged => "federation_cookie_damaged",
            Expired => "federation_expired",
            OtherBrowser => "federation_other_browser",
            OtherProvider => "federation_other_provider",
            OtherIssuer => "federation_other_issuer",
            IssuerMissing => "federation_issuer_missing",
            Replayed => "federation_replayed",
            ExchangeFailed => "federation_exchange_failed",
            IdToken(invalid) => invalid.reason(),
            ProfileFailed => "federation_profile_failed",
            GroupsElsewhere => "federation_groups_elsewhere",
            RequestTooLarge => "federation_request_too_large",
            StoreUnavailable => "store_unavailable",
        }
    }

    /// The HTTP status of the page: the person's or browser's doing is 4xx, the provider's
    /// 502, ours 503.
    pub fn status(self) -> u16 {
        use FederationRefused::*;
        match self {
            UnknownProvider => 404,
            Cancelled | GroupsElsewhere => 403,
            ProviderUnavailable
            | ProviderMisconfigured
            | ExchangeFailed
            | IdToken(_)
            | ProfileFailed => 502,
            StoreUnavailable => 503,
            _ => 400,
        }
    }

    /// What the page tells the person.
    pub fn message(self) -> &'static str {
        use FederationRefused::*;
        match self {
            UnknownProvider => "There is no such sign-in provider.",
            BadRequest => "The sign-in request is not valid. Start again from the application.",
            ProviderUnavailable => "The sign-in provider cannot be reached right now. Try again shortly, or sign in another way.",
            ProviderMisconfigured => "The sign-in provider is not set up in a way the gateway can use. The gateway's log says why; tell its administrator.",
            Cancelled => "Sign-in at the provider was cancelled or refused. Go back and try again.",
            NoState => "The sign-in answer has no state.",
            NoCode => "The sign-in answer has no code.",
            CookieMissing => "This browser did not keep the sign-in cookie: cookies may be blocked, the address may differ from the gateway's public URL, or the sign-in took too long. Start again from the application.",
            CookieDamaged => "The sign-in cookie is damaged. Start again from the application.",
            Expired => "The sign-in took too long. Start again from the application.",
            OtherBrowser => "The sign-in answer does not belong to this browser.",
            OtherProvider => "The sign-in answer belongs to another provider.",
            OtherIssuer => "The sign-in answer came from another issuer.",
            IssuerMissing => "The sign-in answer does not say which issuer sent it.",
            Replayed => "This sign-in answer was already used. Start again from the application.",
            ExchangeFailed => "The provider did not complete the sign-in. Start again from the application.",
            IdToken(IdTokenInvalid::IssuedInFuture) | IdToken(IdTokenInvalid::Expired) => "The provider's answer could not be accepted: the clocks of the provider and the gateway disagree. Tell the gateway's administrator.",
            IdToken(_) => "The provider's identity token could not be verified. Start again from the application.",
            ProfileFailed => "The provider did not say who you are. Start again from the application.",
            GroupsElsewhere => "The provider sent too many groups to list in its token, and a group decides who may sign in here. Ask the administrator to assign groups to the application at the provider (or emit app roles).",
            RequestTooLarge => "The sign-in request is too large. Start again from the application.",
            StoreUnavailable => "The session store is unavailable. Try again shortly.",
        }
    }
}
