//! Sign-in through GitHub (`type = "github"`: plain OAuth2, the identity from its API), against
//! the local stand-in of support/github.rs: the principal is `ID:NUMERIC_ID`; the email gate
//! counts only a primary address GitHub says is verified; org membership is found past the
//! first page of `/user/orgs`; teams gate as `org/team`; GitHub's token never reaches the
//! upstream or a cookie.

use reqwest::StatusCode;

use crate::support::browser::Browser;
use crate::support::federated::{
    github_provider, has_session, query_param, sign_in_with_github, FederatedSignIn, Federation,
};
use crate::support::github::{GithubStandIn, GithubUser, GITHUB_CLIENT_ID};
use crate::support::protected::{protected, ProtectedGateway};
use crate::support::TestUpstream;

fn users() -> Vec<GithubUser> {
    let mut many: Vec<String> = (0..150).map(|i| format!("org-{i:03}")).collect();
    many.push("acme".to_owned());
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    vec![
        GithubUser::new(583231, "octocat")
            .email("octo@example.com", true, true)
            .orgs(&["acme"])
            .team("acme", "ops"),
        // The primary address is not verified; a verified one elsewhere does not count either.
        GithubUser::new(1001, "hideo")
            .email("hideo@example.com", true, false)
            .email("hideo@other.org", false, true),
        // Member of 151 orgs: acme is the last, on the second page of 100.
        GithubUser::new(2002, "busy")
            .email("busy@example.org", true, true)
            .orgs(&many),
        GithubUser::new(3003, "lonely")
            .email("lonely@example.com", true, true)
            .orgs(&["other"]),
    ]
}

struct Setup {
    github: GithubStandIn,
    app: TestUpstream,
    gateway: ProtectedGateway,
    _secrets: tempfile::TempDir,
}

async fn setup() -> Setup {
    let github = GithubStandIn::start(users()).await;
    let app = TestUpstream::echo("app").await;
    let secrets = tempfile::tempdir().unwrap();
    let providers = [
        github_provider(
            "ghmail",
            "GitHub Mail",
            &github,
            secrets.path(),
            "allow_email_domains = [\"example.com\"]\ngrant_scopes = [\"app\"]\n",
        ),
        github_provider(
            "ghorg",
            "GitHub Org",
            &github,
            secrets.path(),
            "allow_orgs = [\"acme\"]\ngrant_scopes = [\"app\"]\n",
        ),
        github_provider(
            "ghteam",
            "GitHub Team",
            &github,
            secrets.path(),
            "allow_teams = [\"acme/ops\"]\ngrant_scopes = [\"app\"]\n",
        ),
    ]
    .concat();
    let routes = vec![protected("/app/", &app.url(), "session", &["app"])];
    let fed = Federation::start(routes, &providers, &mut []).await;
    for id in ["ghmail", "ghorg", "ghteam"] {
        github.allow_redirect_uri(&fed.callback_uri(id));
    }
    fed.sync_clock();
    Setup {
        github,
        app,
        gateway: fed.gateway,
        _secrets: secrets,
    }
}

impl Setup {
    async fn sign_in(&self, button: &str, login: &str) -> (Browser, FederatedSignIn) {
        let browser = self.gateway.browser();
        let signed = sign_in_with_github(&browser, &self.github, "/app/", button, login).await;
        (browser, signed)
    }

    /// Returns the refusal page's text, lower case.
    async fn assert_refused(&self, button: &str, login: &str, gate_words: &[&str]) -> String {
        let hits = self.app.hits();
        let (browser, signed) = self.sign_in(button, login).await;
        let page = &signed.journey.last;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{login}: {page:?}");
        assert!(page.location().is_none(), "{login}: {page:?}");
        let text = page.body.to_lowercase();
        assert!(
            gate_words.iter().any(|w| text.contains(w)),
            "{login}: the page does not name the gate ({gate_words:?}): {}",
            page.body
        );
        assert!(!has_session(&browser), "{login}");
        assert_eq!(self.app.hits(), hits, "{login}: the upstream was reached");
        text
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_github_user_signs_in_as_the_numeric_id_and_the_token_stays_in_the_gateway() {
    let s = setup().await;
    let (browser, signed) = s.sign_in("GitHub Mail", "octocat").await;

    let sent = |name: &str| query_param(&signed.authorize_url, name);
    assert_eq!(sent("client_id").as_deref(), Some(GITHUB_CLIENT_ID));
    assert_eq!(
        sent("redirect_uri"),
        Some(s.gateway.url("/oauth2/callback/ghmail"))
    );
    assert_eq!(sent("code_challenge_method").as_deref(), Some("S256"));
    assert!(sent("state").is_some_and(|s| s.len() >= 22));
    let scope = sent("scope").unwrap_or_default();
    assert!(
        scope.contains("user:email") && scope.contains("read:org"),
        "{scope}"
    );

    let echoed = signed.journey.last.echoed();
    assert_eq!(echoed.target(), "/app/");
    assert_eq!(echoed.header("x-auth-user"), Some("ghmail:583231"));

    // The token request carried the PKCE verifier; the API calls carried the token; the
    // token went nowhere else.
    let requests = s.github.requests();
    assert!(
        requests
            .iter()
            .any(|r| r.method == "POST" && r.path == "/login/oauth/access_token"),
        "{requests:#?}"
    );
    for path in ["/api/v3/user", "/api/v3/user/emails"] {
        let call = requests
            .iter()
            .find(|r| r.path == path)
            .unwrap_or_else(|| panic!("no {path}: {requests:#?}"));
        assert!(call.header("authorization").is_some(), "{call:?}");
    }
    let tokens = s.github.issued_tokens();
    assert_eq!(tokens.len(), 1);
    let token = &tokens[0];
    assert!(
        !echoed
            .headers
            .iter()
            .any(|(_, v)| v.contains(token.as_str())),
        "GitHub's token reached the upstream: {echoed:?}"
    );
    for name in browser.cookie_names() {
        let value = browser.cookie(&name).unwrap_or_default();
        assert!(
            !value.contains(token.as_str()),
            "GitHub's token in cookie {name}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_github_user_whose_primary_email_is_unverified_is_refused_by_the_email_gate() {
    let s = setup().await;
    s.assert_refused("GitHub Mail", "hideo", &["verified"])
        .await;
    // A verified primary address of another domain does not pass either.
    let page = s.assert_refused("GitHub Mail", "busy", &["email"]).await;
    assert!(!page.contains("verified"), "{page}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn org_membership_on_the_second_page_admits_and_none_refuses() {
    let s = setup().await;
    let (_, signed) = s.sign_in("GitHub Org", "busy").await;
    assert_eq!(
        signed.journey.last.echoed().header("x-auth-user"),
        Some("ghorg:2002"),
        "{:#?}",
        signed.journey.steps
    );
    let pages: Vec<String> = s
        .github
        .requests()
        .iter()
        .filter(|r| r.path == "/api/v3/user/orgs")
        .map(|r| r.target())
        .collect();
    assert!(
        pages.iter().any(|p| p.contains("page=2")),
        "the second page was never asked for: {pages:?}"
    );

    s.assert_refused("GitHub Org", "lonely", &["org"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_team_gate_admits_its_members_only() {
    let s = setup().await;
    let (_, signed) = s.sign_in("GitHub Team", "octocat").await;
    assert_eq!(
        signed.journey.last.echoed().header("x-auth-user"),
        Some("ghteam:583231")
    );
    s.assert_refused("GitHub Team", "lonely", &["team"]).await;
}
