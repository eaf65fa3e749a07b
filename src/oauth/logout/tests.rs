//! The logout decisions, one case per RP-Initiated Logout conformance module where a module
//! is a decision (the end-to-end tests in `tests/it/oidc_logout.rs` drive the same cases
//! through a real gateway and browser).

use super::*;

const RP: &str = "rp";
const RP_LOGOUT: &str = "https://rp.example/logged-out";

struct Registered;

impl LogoutClients for Registered {
    fn post_logout_redirect_uris(&self, client_id: &str) -> Vec<String> {
        match client_id {
            RP => vec![
                RP_LOGOUT.to_owned(),
                "https://rp.example/bye?k=1".to_owned(),
            ],
            _ => Vec::new(),
        }
    }
}

fn params(query: &str) -> LogoutParams {
    LogoutParams::parse(query.as_bytes())
}

fn hint(sub: &str, sid: Option<&str>) -> Hint {
    Hint::Valid(HintClaims {
        sub: sub.to_owned(),
        sid: sid.map(str::to_owned),
        aud: vec![RP.to_owned()],
    })
}

fn alice() -> BrowserSession {
    BrowserSession {
        user: "alice".to_owned(),
        sid: Some("sid-1".to_owned()),
    }
}

fn run(query: &str, hint: &Hint, session: Option<&BrowserSession>, arrival: Arrival) -> Outcome {
    decide(&params(query), hint, &Registered, session, arrival)
}

fn logout_to(target: &str) -> Outcome {
    Outcome::LogOut {
        redirect: Some(target.to_owned()),
    }
}

const NOWHERE: Outcome = Outcome::LogOut { redirect: None };
const ASK: Outcome = Outcome::Confirm { redirect: None };

#[test]
fn parse_reads_the_parameters_ignores_others_and_notes_repeats() {
    let p = params("id_token_hint=h&client_id=rp&post_logout_redirect_uri=https%3A%2F%2Frp.example%2Fx&state=s%20t&ui_locales=fr&logout_hint=a");
    assert_eq!(p.id_token_hint.as_deref(), Some("h"));
    assert_eq!(p.client_id.as_deref(), Some("rp"));
    assert_eq!(
        p.post_logout_redirect_uri.as_deref(),
        Some("https://rp.example/x")
    );
    assert_eq!(p.state.as_deref(), Some("s t"));
    assert!(!p.repeated);
    assert!(params("state=a&state=b").repeated);
    let rd = params("rd=/ok&rd=//evil.example");
    assert!(!rd.repeated, "rd keeps its first value");
    assert_eq!(rd.rd.as_deref(), Some("/ok"));
    assert_eq!(params("state=").state, None);
    assert_eq!(params("rd=/x").rd.as_deref(), Some("/x"));
}

#[test]
fn rp_initiated_logout_redirects_with_state() {
    let query = format!("post_logout_redirect_uri={RP_LOGOUT}&state=xyz");
    for arrival in [Arrival::Other, Arrival::SameOriginNavigation] {
        assert_eq!(
            run(&query, &hint("alice", None), Some(&alice()), arrival),
            logout_to(&format!("{RP_LOGOUT}?state=xyz"))
        );
    }
    // By sid as well as by sub; and with no session left there is nothing to confirm.
    assert_eq!(
        run(
            &query,
            &hint("someone-else", Some("sid-1")),
            Some(&alice()),
            Arrival::Other
        ),
        logout_to(&format!("{RP_LOGOUT}?state=xyz"))
    );
    assert_eq!(
        run(&query, &hint("alice", None), None, Arrival::Other),
        logout_to(&format!("{RP_LOGOUT}?state=xyz"))
    );
}

#[test]
fn state_is_appended_to_a_registered_query_and_encoded() {
    assert_eq!(
        run(
            "post_logout_redirect_uri=https%3A%2F%2Frp.example%2Fbye%3Fk%3D1&state=a%26b",
            &hint("alice", None),
            Some(&alice()),
            Arrival::Other
        ),
        logout_to("https://rp.example/bye?k=1&state=a%26b")
    );
}

#[test]
fn rp_initiated_logout_no_state() {
    assert_eq!(
        run(
            &format!("post_logout_redirect_uri={RP_LOGOUT}"),
            &hint("alice", None),
            Some(&alice()),
            Arrival::Other
        ),
        logout_to(RP_LOGOUT)
    );
}

#[test]
fn client_id_must_be_an_audience_of_the_hint() {
    let query = format!("client_id={RP}&post_logout_redirect_uri={RP_LOGOUT}");
    assert_eq!(
        run(&query, &hint("alice", None), Some(&alice()), Arrival::Other),
        logout_to(RP_LOGOUT)
    );
    let query = format!("client_id=other&post_logout_redirect_uri={RP_LOGOUT}");
    assert_eq!(
        run(&query, &hint("alice", None), Some(&alice()), Arrival::Other),
        ASK
    );
}

#[test]
fn bad_post_logout_redirect_uri_logs_out_without_a_redirect() {
    for uri in [
        "https://evil.example/",
        "https://rp.example/logged-out/",
        "https://RP.example/logged-out",
        "",
    ] {
        let query = format!("post_logout_redirect_uri={uri}&state=s");
        assert_eq!(
            run(&query, &hint("alice", None), Some(&alice()), Arrival::Other),
            NOWHERE,
            "{uri}"
        );
    }
}

#[test]
fn query_added_to_post_logout_redirect_uri_is_not_a_registered_uri() {
    assert_eq!(
        run(
            &format!("post_logout_redirect_uri={RP_LOGOUT}%3Fextra%3D1"),
            &hint("alice", None),
            Some(&alice()),
            Arrival::Other
        ),
        NOWHERE
    );
}

#[test]
fn modified_or_bad_id_token_hint_is_not_trusted() {
    let query = format!("post_logout_redirect_uri={RP_LOGOUT}&state=s");
    for arrival in [Arrival::Other, Arrival::SameOriginNavigation] {
        assert_eq!(
            run(&query, &Hint::Invalid, Some(&alice()), arrival),
            ASK,
            "{arrival:?}"
        );
    }
}

#[test]
fn no_id_token_hint_asks_and_never_redirects_to_the_client() {
    let query = format!("client_id={RP}&post_logout_redirect_uri={RP_LOGOUT}&state=s");
    assert_eq!(
        run(&query, &Hint::Absent, Some(&alice()), Arrival::Other),
        ASK
    );
    // Typed or clicked on this site: today's same-site logout, still without the client's
    // redirect.
    assert_eq!(
        run(
            &query,
            &Hint::Absent,
            Some(&alice()),
            Arrival::SameOriginNavigation
        ),
        NOWHERE
    );
}

#[test]
fn no_params_and_only_state() {
    for query in ["", "state=only"] {
        assert_eq!(
            run(query, &Hint::Absent, Some(&alice()), Arrival::Other),
            ASK
        );
        assert_eq!(
            run(query, &Hint::Absent, None, Arrival::Other),
            ASK,
            "no session"
        );
    }
}

#[test]
fn a_hint_for_someone_else_asks_but_keeps_the_redirect() {
    let query = format!("post_logout_redirect_uri={RP_LOGOUT}&state=s");
    assert_eq!(
        run(
            &query,
            &hint("bob", Some("sid-2")),
            Some(&alice()),
            Arrival::Other
        ),
        Outcome::Confirm {
            redirect: Some(format!("{RP_LOGOUT}?state=s"))
        }
    );
}

#[test]
fn a_repeated_parameter_makes_the_request_untrusted() {
    let query = format!("post_logout_redirect_uri={RP_LOGOUT}&state=a&state=b");
    for arrival in [Arrival::Other, Arrival::SameOriginNavigation] {
        assert_eq!(
            run(&query, &hint("alice", None), Some(&alice()), arrival),
            ASK
        );
    }
}

#[test]
fn several_audiences_need_client_id_for_the_redirect() {
    let two = Hint::Valid(HintClaims {
        sub: "alice".to_owned(),
        sid: None,
        aud: vec![RP.to_owned(), "other".to_owned()],
    });
    let without = format!("post_logout_redirect_uri={RP_LOGOUT}");
    assert_eq!(run(&without, &two, Some(&alice()), Arrival::Other), NOWHERE);
    let with = format!("client_id={RP}&post_logout_redirect_uri={RP_LOGOUT}");
    assert_eq!(
        run(&with, &two, Some(&alice()), Arrival::Other),
        logout_to(RP_LOGOUT)
    );
}
