//! GitHub (`type = "github"`): plain OAuth 2, no ID token (research note §3). The identity
//! is `API/user` (its numeric `id` is the subject, never the login, which can be renamed and
//! re-registered), the email `API/user/emails`' primary entry (verified only when GitHub
//! says so), and, when a gate or a scope mapping reads them, the organisations
//! (`API/user/orgs`) and teams (`API/user/teams`) as the groups `org` and `org/team`.
//!
//! The token endpoint answers form-encoded unless asked for JSON, and errors with 200: the
//! body's `error` is read whatever the status. Lists follow the `Link: rel="next"` header, at
//! most [`MAX_PAGES`] pages of 100, and only to the API's own origin (the access token is
//! never sent anywhere else).

use http::header::{HeaderName, ACCEPT, AUTHORIZATION, LINK};
use http::StatusCode;
use serde::Deserialize;

use super::client::{self, Fetched, Outbound};
use super::oidc::token_request;
use crate::config::ProviderConfig;
use crate::federation::flow::FederatedFlow;
use crate::federation::identity::ExternalIdentity;
use crate::federation::refused::FederationRefused;

/// Pages of organisations or teams read at most (100 each).
pub const MAX_PAGES: usize = 10;
const MAX_RESPONSE_BYTES: usize = 512 * 1024;
const API_VERSION: (&str, &str) = ("x-github-api-version", "2022-11-28");

/// Where the browser signs in at GitHub.
pub fn authorize_url(
    provider: &ProviderConfig,
    web_url: &str,
    flow: &FederatedFlow,
    redirect_uri: &str,
) -> String {
    let scope = provider.scopes.join(" ");
    crate::oauth::authorize::with_query(
        &format!("{web_url}/login/oauth/authorize"),
        &[
            ("client_id", &provider.client_id),
            ("redirect_uri", redirect_uri),
            ("scope", &scope),
            ("state", &flow.state),
            ("code_challenge", &flow.challenge()),
            ("code_challenge_method", "S256"),
        ],
    )
}

#[derive(Deserialize)]
struct User {
    id: u64,
    login: Option<String>,
    name: Option<String>,
}

#[derive(Deserialize)]
struct Email {
    email: String,
    primary: bool,
    verified: bool,
}

#[derive(Deserialize)]
struct Org {
    login: String,
}

#[derive(Deserialize)]
struct Team {
    slug: String,
    organization: Org,
}

/// The code exchange and the API calls: who signed in.
pub async fn identify(
    provider: &ProviderConfig,
    web_url: &str,
    api_url: &str,
    flow: &FederatedFlow,
    code: &str,
    redirect_uri: &str,
) -> Result<ExternalIdentity, FederationRefused> {
    let id = provider.id.as_str();
    let token = exchange(provider, web_url, flow, code, redirect_uri).await?;
    let api = Api {
        id,
        api_url,
        token: &token,
    };
    let user: User = api.one("/user").await?;
    let emails: Vec<Email> = api.one("/user/emails").await?;
    let primary = emails.into_iter().find(|e| e.primary);
    let gates = &provider.gates;
    let needs_groups = !gates.allow_orgs.is_empty()
        || !gates.allow_teams.is_empty()
        || !gates.allow_groups.is_empty()
        || !provider.group_scopes.is_empty();
    let mut groups = Vec::new();
    if needs_groups {
        let orgs: Vec<Org> = api.pages("/user/orgs?per_page=100").await?;
        groups.extend(orgs.into_iter().map(|o| o.login));
        let teams: Vec<Team> = api.pages("/user/teams?per_page=100").await?;
        groups.extend(
            teams
                .into_iter()
                .map(|t| format!("{}/{}", t.organization.login, t.slug)),
        );
    }
    Ok(ExternalIdentity {
        provider: provider.id.clone(),
        subject: user.id.to_string(),
        email_verified: primary.as_ref().is_some_and(|e| e.verified),
        email: primary.map(|e| e.email),
        groups,
        hosted_domain: None,
        username: user.login,
        name: user.name,
    })
}

async fn exchange(
    provider: &ProviderConfig,
    web_url: &str,
    flow: &FederatedFlow,
    code: &str,
    redirect_uri: &str,
) -> Result<String, FederationRefused> {
    let form = form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", &provider.client_id)
        .append_pair("client_secret", provider.client_secret.expose())
        .append_pair("code", code)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("code_verifier", &flow.verifier)
        .finish();
    let url = format!("{web_url}/login/oauth/access_token");
    let request = Outbound::post_form(&url, form).header(ACCEPT, "application/json");
    token_request(&provider.id, request)
        .await?
        .access_token
        .ok_or_else(|| {
            tracing::warn!(provider = %provider.id, "the token response has no access_token");
            FederationRefused::ExchangeFailed
        })
}

/// Calls of GitHub's REST API with the access token.
struct Api<'a> {
    id: &'a str,
    api_url: &'a str,
    token: &'a str,
}

impl Api<'_> {
    async fn get(&self, url: &str) -> Result<Fetched, FederationRefused> {
        let request = Outbound::get(url)
            .header(AUTHORIZATION, &format!("Bearer {}", self.token))
            .header(ACCEPT, "application/vnd.github+json")
            .header(HeaderName::from_static(API_VERSION.0), API_VERSION.1);
        let answer = client::send(request, MAX_RESPONSE_BYTES)
            .await
            .map_err(|e| {
                tracing::warn!(provider = self.id, cause = %e, "GitHub API request failed");
                FederationRefused::ProfileFailed
            })?;
        if answer.status != StatusCode::OK {
            tracing::warn!(
                provider = self.id,
                status = answer.status.as_u16(),
                "GitHub API answered with an error (are the scopes user:email and read:org asked?)"
            );
            return Err(FederationRefused::ProfileFailed);
        }
        Ok(answer)
    }

    fn parse<T: for<'de> Deserialize<'de>>(
        &self,
        answer: &Fetched,
    ) -> Result<T, FederationRefused> {
        serde_json::from_slice(&answer.body).map_err(|_| {
            tracing::warn!(
                provider = self.id,
                "GitHub API answer is not the expected JSON"
            );
            FederationRefused::ProfileFailed
        })
    }

    async fn one<T: for<'de> Deserialize<'de>>(&self, path: &str) -> Result<T, FederationRefused> {
        let answer = self.get(&format!("{}{path}", self.api_url)).await?;
        self.parse(&answer)
    }

    /// Every page of a list, following `Link: rel="next"` within the API's origin.
    async fn pages<T: for<'de> Deserialize<'de>>(
        &self,
        path: &str,
    ) -> Result<Vec<T>, FederationRefused> {
        let mut url = format!("{}{path}", self.api_url);
        let mut all = Vec::new();
        for _ in 0..MAX_PAGES {
            let answer = self.get(&url).await?;
            let mut page: Vec<T> = self.parse(&answer)?;
            all.append(&mut page);
            let next = answer
                .headers
                .get_all(LINK)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .find_map(next_link);
            match next {
                Some(next) if same_origin(&next, self.api_url) => url = next,
                Some(_) => {
                    tracing::warn!(
                        provider = self.id,
                        "GitHub's next page is on another origin: not followed"
                    );
                    break;
                }
                None => return Ok(all),
            }
        }
        tracing::warn!(
            provider = self.id,
            pages = MAX_PAGES,
            "GitHub list cut at the page limit"
        );
        Ok(all)
    }
}

/// The `rel="next"` target of a `Link` header value (RFC 8288), if any.
pub fn next_link(value: &str) -> Option<String> {
    value.split(',').find_map(|link| {
        let (target, params) = link.trim().split_once(';')?;
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        let next = params.split(';').any(|param| {
            let Some((name, value)) = param.split_once('=') else {
                return false;
            };
            name.trim().eq_ignore_ascii_case("rel")
                && value
                    .trim()
                    .trim_matches('"')
                    .split_ascii_whitespace()
                    .any(|rel| rel.eq_ignore_ascii_case("next"))
        });
        next.then(|| target.to_owned())
    })
}

/// Whether `url` is on the origin of `base` (scheme, host and port), below its path.
fn same_origin(url: &str, base: &str) -> bool {
    let (Ok(url), Ok(base)) = (url.parse::<http::Uri>(), base.parse::<http::Uri>()) else {
        return false;
    };
    url.scheme() == base.scheme()
        && url.authority() == base.authority()
        && url.path().starts_with(base.path().trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_link_is_found_among_others() {
        let github = r#"<https://api.github.com/user/orgs?per_page=100&page=2>; rel="next", <https://api.github.com/user/orgs?per_page=100&page=5>; rel="last""#;
        assert_eq!(
            next_link(github).as_deref(),
            Some("https://api.github.com/user/orgs?per_page=100&page=2")
        );
        let last_page = r#"<https://api.github.com/user/orgs?page=1>; rel="prev", <https://api.github.com/user/orgs?page=1>; rel="first""#;
        assert_eq!(next_link(last_page), None);
        assert_eq!(
            next_link(r#"<http://127.0.0.1:9/x?page=3>;rel=next"#).as_deref(),
            Some("http://127.0.0.1:9/x?page=3")
        );
        assert_eq!(
            next_link(r#"<https://a/x>; rel="prefetch next""#).as_deref(),
            Some("https://a/x")
        );
        for broken in [
            "",
            "garbage",
            "<https://a/x>",
            r#"https://a/x; rel="next""#,
            r#"<https://a/x>; rel="nextpage""#,
        ] {
            assert_eq!(next_link(broken), None, "{broken}");
        }
    }

    #[test]
    fn pages_are_followed_only_on_the_api_origin() {
        let api = "https://api.github.com";
        assert!(same_origin("https://api.github.com/user/orgs?page=2", api));
        assert!(!same_origin("https://evil.example/user/orgs?page=2", api));
        assert!(!same_origin("http://api.github.com/user/orgs", api));
        assert!(!same_origin("https://api.github.com:8443/user/orgs", api));
        let enterprise = "https://ghe.example.com/api/v3";
        assert!(same_origin(
            "https://ghe.example.com/api/v3/user/teams?page=2",
            enterprise
        ));
        assert!(!same_origin(
            "https://ghe.example.com/other/user/teams",
            enterprise
        ));
    }
}
