//! The gates of a provider, each refusing on its own through a real OpenID provider: an email
//! not verified (false, absent, or the string "true"), another domain, addresses built to fool
//! a lax parser (`a@evil.com@example.com`, oauth2-proxy's advisory), a missing group. Each
//! refusal is a 403 page naming the gate, with no session and no redirect (no loop back to the
//! provider), and the upstream never sees the request. Admissions beside them: `allow_emails`,
//! `allow_all`, and groups read from UserInfo when the ID token is thin.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::browser::Browser;
use crate::support::federated::{
    has_session, oidc_provider, sign_in_with_idp, FederatedSignIn, Federation,
};
use crate::support::idp::{Idp, IdpSettings};
use crate::support::protected::protected;
use crate::support::TestUpstream;

const CORP: &str = "Corp SSO";
const DOMAIN_GATE: &str = "allow_email_domains = [\"example.com\"]\ngrant_scopes = [\"app\"]\n";
const GROUP_GATE: &str = "allow_groups = [\"staff\"]\ngrant_scopes = [\"app\"]\n\
                          scopes = [\"openid\", \"email\", \"groups\"]\n";

/// An IdP with `accounts`, a gateway whose provider `corp` has `gates`, and its session route.
struct Setup {
    idp: Idp,
    app: TestUpstream,
    fed: Federation,
}

async fn setup(settings: IdpSettings, gates: &str) -> Setup {
    let mut idp = Idp::start(settings).await;
    let app = TestUpstream::echo("app").await;
    let routes = vec![protected("/app/", &app.url(), "session", &["app"])];
    let providers = oidc_provider("corp", CORP, &idp, gates);
    let fed = Federation::start(routes, &providers, &mut [("corp", &mut idp)]).await;
    Setup { idp, app, fed }
}

impl Setup {
    async fn sign_in(&self, sub: &str) -> (Browser, FederatedSignIn) {
        let browser = self.fed.browser();
        let signed = sign_in_with_idp(&browser, &self.idp, "/app/", CORP, sub).await;
        (browser, signed)
    }

    /// Signs in as `sub` and checks the refusal: a 403 HTML page whose text names the gate
    /// (`gate_words`, any of them, case-insensitive), no redirect, no session, nothing
    /// upstream. Returns the page's text, lower case.
    async fn assert_refused(&self, sub: &str, gate_words: &[&str]) -> String {
        let hits = self.app.hits();
        let (browser, signed) = self.sign_in(sub).await;
        let page = &signed.journey.last;
        assert_eq!(
            page.status,
            StatusCode::FORBIDDEN,
            "{sub}: not refused: {page:?}\n{:#?}",
            signed.journey.steps
        );
        assert!(page.is_html(), "{sub}: {page:?}");
        assert!(page.location().is_none(), "{sub}: a redirect: {page:?}");
        let text = page.body.to_lowercase();
        assert!(
            gate_words.iter().any(|w| text.contains(w)),
            "{sub}: the page does not name the gate ({gate_words:?}): {}",
            page.body
        );
        assert!(!has_session(&browser), "{sub}: a session after a refusal");
        assert_eq!(self.app.hits(), hits, "{sub}: the upstream was reached");
        // The refusal is final: the callback led to the page within the gateway, not back to
        // the provider (no loop), and opening the app again shows the choice, not the provider.
        assert!(
            signed.journey.steps.len() <= 2,
            "{:#?}",
            signed.journey.steps
        );
        let again = browser.get("/app/").await;
        let location = again.location().unwrap_or_default();
        assert!(
            !location.starts_with(&self.idp.issuer()),
            "{sub}: sent back to the provider: {again:?}"
        );
        text
    }

    async fn assert_admitted(&self, sub: &str) {
        let (_, signed) = self.sign_in(sub).await;
        let echoed = signed.journey.last.echoed();
        assert_eq!(
            echoed.header("x-auth-user"),
            Some(format!("corp:{sub}").as_str())
        );
    }
}

fn one(sub: &str, claims: Value) -> IdpSettings {
    IdpSettings::new().account(sub, claims)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unverified_email_does_not_pass_the_domain_gate() {
    let s = setup(
        one(
            "unverified",
            json!({"email": "una@example.com", "email_verified": false}),
        ),
        DOMAIN_GATE,
    )
    .await;
    s.assert_refused("unverified", &["verified"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_verified_only_as_a_string_or_not_at_all_does_not_count() {
    let s = setup(
        IdpSettings::new()
            .account(
                "stringly",
                json!({"email": "str@example.com", "email_verified": "true"}),
            )
            .account("silent", json!({"email": "quiet@example.com"})),
        DOMAIN_GATE,
    )
    .await;
    s.assert_refused("stringly", &["verified"]).await;
    s.assert_refused("silent", &["verified"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verified_email_of_another_domain_is_refused_by_the_domain_gate() {
    let s = setup(
        IdpSettings::new()
            .account(
                "outsider",
                json!({"email": "out@example.org", "email_verified": true}),
            )
            .account(
                "member",
                json!({"email": "in@example.com", "email_verified": true}),
            ),
        DOMAIN_GATE,
    )
    .await;
    let page = s.assert_refused("outsider", &["email"]).await;
    // The email gate's refusal, not the verification's.
    assert!(!page.contains("verified"), "{page}");
    s.assert_admitted("member").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn addresses_made_to_fool_a_lax_parser_are_refused() {
    let tricks = [
        ("two-ats", "a@evil.com@example.com"),
        ("suffix", "a@example.com.evil.org"),
        ("glued", "a@evilexample.com"),
        ("quoted", "\"a@example.com\"@evil.com"),
        ("subdomain-dot", "a@.example.com"),
        ("trailing-dot", "a@example.com."),
    ];
    let mut settings = IdpSettings::new();
    for (sub, email) in tricks {
        settings = settings.account(sub, json!({"email": email, "email_verified": true}));
    }
    let s = setup(settings, DOMAIN_GATE).await;
    for (sub, _) in tricks {
        s.assert_refused(sub, &["email"]).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_outside_the_required_group_is_refused_by_the_group_gate() {
    let s = setup(
        IdpSettings::new()
            .account(
                "dev",
                json!({"email": "dev@example.com", "email_verified": true, "groups": ["dev"]}),
            )
            .account(
                "nogroups",
                json!({"email": "n@example.com", "email_verified": true}),
            )
            .account("staffer", json!({"groups": ["dev", "staff"]})),
        GROUP_GATE,
    )
    .await;
    s.assert_refused("dev", &["group"]).await;
    s.assert_refused("nogroups", &["group"]).await;
    s.assert_admitted("staffer").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_missing_from_a_thin_id_token_are_read_from_userinfo() {
    let s = setup(
        IdpSettings::new()
            .thin_id_token()
            .account("staffer", json!({"groups": ["staff"]}))
            .account("dev", json!({"groups": ["dev"]})),
        GROUP_GATE,
    )
    .await;
    s.assert_admitted("staffer").await;
    s.assert_refused("dev", &["group"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allow_emails_admits_exactly_the_listed_verified_addresses() {
    let s = setup(
        IdpSettings::new()
            .account(
                "bob",
                json!({"email": "bob@partner.org", "email_verified": true}),
            )
            .account(
                "eve",
                json!({"email": "eve@partner.org", "email_verified": true}),
            )
            .account(
                "bob-unverified",
                json!({"email": "bob@partner.org", "email_verified": false}),
            ),
        "allow_emails = [\"bob@partner.org\"]\ngrant_scopes = [\"app\"]\n",
    )
    .await;
    s.assert_admitted("bob").await;
    let page = s.assert_refused("eve", &["email"]).await;
    assert!(!page.contains("verified"), "{page}");
    s.assert_refused("bob-unverified", &["verified"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allow_all_admits_a_person_without_any_email() {
    let s = setup(
        one("anyone", json!({"name": "No Email"})),
        "allow_all = true\ngrant_scopes = [\"app\"]\n",
    )
    .await;
    s.assert_admitted("anyone").await;
}
