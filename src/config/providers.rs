//! `[[providers]]` (contract §8): the upstream identity providers people may sign in through,
//! validated into [`ProviderConfig`]; also the two keys that refer to them, `identities` on
//! `[[users]]` and `allow` on `[[routes]]` ([`AllowRule`]).
//!
//! Every value here decides who gets in, so each is checked strictly: the issuer exactly as
//! it will be compared (https, or http on a loopback host only; no query or fragment), the
//! client secret only by reference, and at least one gate or an explicit `allow_all`. The
//! runtime meaning of the gates is `federation::admit`'s; that of `allow`, `authn::allow`'s.

use std::collections::BTreeMap;
use std::net::IpAddr;

use http::Uri;
use toml::Spanned;

use super::error::ConfigError;
use super::file::{ProviderSection, RouteSection, UserSection};
use super::identity::is_scope_token;
use super::validate::Validator;
use super::{SecretRef, UserConfig};

type Result<T> = std::result::Result<T, ConfigError>;

/// Longest provider id (it is part of a path and of every principal's name).
const MAX_ID: usize = 64;
/// Longest upstream subject (OIDC Core §2: `sub` is at most 255 ASCII characters).
pub const MAX_SUBJECT: usize = 255;

/// One `[[providers]]` entry, validated.
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    /// Letters, digits and `-`.
    pub id: String,
    /// The button text: "Sign in with {name}".
    pub name: String,
    pub kind: ProviderKind,
    pub client_id: String,
    /// Read at load from `env:`/`file:`; never printed.
    pub client_secret: ClientSecret,
    /// Asked of the provider.
    pub scopes: Vec<String>,
    pub gates: Gates,
    /// What every person admitted through this provider may grant.
    pub grant_scopes: Vec<String>,
    /// Upstream group → more scopes (groups never mix across providers).
    pub group_scopes: BTreeMap<String, Vec<String>>,
}

impl ProviderConfig {
    /// Whether a person admitted through this provider can hold `scope`: it is in
    /// `grant_scopes` or in a `group_scopes` entry (which group the person is in is the
    /// record's to say).
    pub fn can_give(&self, scope: &str) -> bool {
        self.grant_scopes.iter().any(|s| s == scope)
            || self
                .group_scopes
                .values()
                .any(|list| list.iter().any(|s| s == scope))
    }
}

/// What kind of provider, and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderKind {
    /// Exact issuer; discovery at `ISSUER/.well-known/openid-configuration`.
    Oidc { issuer: String },
    /// GitHub (plain OAuth 2): the web origin and the API base, without trailing slashes.
    Github { web_url: String, api_url: String },
}

/// Who may sign in through a provider (semantics: `federation::admit`). Emails and domains
/// are stored with their domain in lower case.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Gates {
    /// `example.com`, or `*.example.com` for its subdomains (not itself).
    pub allow_email_domains: Vec<String>,
    pub allow_emails: Vec<String>,
    pub allow_groups: Vec<String>,
    pub allow_orgs: Vec<String>,
    /// `org/team-slug`.
    pub allow_teams: Vec<String>,
    pub allow_all: bool,
}

/// A provider's client secret: its text, read at load, and where it came from. Neither
/// `Debug` nor any error shows the text.
#[derive(Clone)]
pub struct ClientSecret {
    text: String,
    pub source: SecretRef,
}

impl ClientSecret {
    pub fn new(text: String, source: SecretRef) -> ClientSecret {
        ClientSecret { text, source }
    }

    /// The secret, for the token request's client authentication only.
    pub fn expose(&self) -> &str {
        &self.text
    }
}

impl std::fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ClientSecret({})", self.source)
    }
}

/// One entry of a route's `allow` list (semantics: `authn::allow`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowRule {
    /// `user:NAME`: a `[[users]]` name, or a federated principal `ID:SUB`.
    User(String),
    /// `provider:ID`: every federated principal of that provider.
    Provider(String),
    /// `group:ID/NAME` (`provider` set: a group the provider said) or `group:NAME` (a
    /// `[[users]]` group).
    Group {
        provider: Option<String>,
        name: String,
    },
    /// `domain:example.com` (or `*.example.com`): a verified email address's domain.
    Domain(String),
}

/// Provider ids: letters, digits and `-`.
fn is_provider_id(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= MAX_ID
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// An upstream subject that can be part of a header value and a store key: 1 to 255 visible
/// ASCII characters.
pub fn is_subject(text: &str) -> bool {
    !text.is_empty() && text.len() <= MAX_SUBJECT && text.bytes().all(|b| b.is_ascii_graphic())
}

/// Names written into the file that reach logs, pages or comparisons: not blank, bounded,
/// no control characters.
fn plain_text(text: &str, max: usize) -> std::result::Result<(), String> {
    if text.trim().is_empty() {
        return Err("must not be empty".to_owned());
    }
    if text.len() > max {
        return Err(format!("must be at most {max} bytes"));
    }
    if text.chars().any(char::is_control) {
        return Err("must not contain control characters".to_owned());
    }
    Ok(())
}

/// A provider URL compared or requested exactly as written: https (http only to a loopback
/// host), a host, no user information, query or fragment.
fn provider_url(text: &str) -> std::result::Result<(), String> {
    if text.len() > 2048 || text.bytes().any(|b| !b.is_ascii_graphic()) {
        return Err("must be a URL of at most 2048 visible ASCII characters".to_owned());
    }
    let uri: Uri = text.parse().map_err(|_| format!("`{text}` is not a URL"))?;
    let authority = uri
        .authority()
        .ok_or_else(|| format!("`{text}` has no host"))?;
    if authority.as_str().contains('@') {
        return Err("must not contain user information".to_owned());
    }
    if uri.query().is_some() || text.contains('#') || text.ends_with('?') {
        return Err(format!("`{text}` must not have a query or fragment"));
    }
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    match uri.scheme_str() {
        Some("https") => Ok(()),
        Some("http") if loopback => Ok(()),
        Some("http") => Err(format!(
            "`{text}`: http is only accepted for a loopback host (tests); use https"
        )),
        _ => Err(format!("`{text}` must be an https:// URL")),
    }
}

impl Validator<'_> {
    /// Every `[[providers]]` entry.
    pub(super) fn providers(
        &self,
        list: &[Spanned<ProviderSection>],
        declared: &BTreeMap<String, String>,
    ) -> Result<Vec<ProviderConfig>> {
        let mut out: Vec<ProviderConfig> = Vec::with_capacity(list.len());
        for (index, section) in list.iter().enumerate() {
            let p = section.get_ref();
            let provider = self.provider(index, p, declared)?;
            if let Some(first) = out
                .iter()
                .position(|o| o.id.eq_ignore_ascii_case(&provider.id))
            {
                return Err(self.err(
                    &p.id,
                    &format!("providers[{index}].id"),
                    format!("providers[{first}] has the same id"),
                ));
            }
            out.push(provider);
        }
        Ok(out)
    }

    fn provider(
        &self,
        index: usize,
        p: &ProviderSection,
        declared: &BTreeMap<String, String>,
    ) -> Result<ProviderConfig> {
        let key = |field: &str| format!("providers[{index}].{field}");
        let id = p.id.get_ref();
        if !is_provider_id(id) {
            return Err(self.err(
                &p.id,
                &key("id"),
                format!("must be 1 to {MAX_ID} letters, digits or `-`"),
            ));
        }
        let github = match p.kind.get_ref().as_str() {
            "oidc" => false,
            "github" => true,
            other => {
                return Err(self.err(
                    &p.kind,
                    &key("type"),
                    format!("`{other}` is not one of \"oidc\", \"github\""),
                ))
            }
        };
        let refuse_on = |value: Option<&Spanned<String>>, field: &str, only: &str| match value {
            Some(v) => Err(self.err(
                v,
                &key(field),
                format!("is only used with type = \"{only}\""),
            )),
            None => Ok(()),
        };
        let kind = if github {
            refuse_on(p.issuer.as_ref(), "issuer", "oidc")?;
            refuse_on(
                p.allow_groups.first(),
                "allow_groups",
                "oidc (GitHub: allow_orgs, allow_teams)",
            )?;
            let web_url =
                self.provider_url_or(&p.github_url, &key("github_url"), "https://github.com")?;
            let default_api = if p.github_url.is_some() {
                format!("{web_url}/api/v3")
            } else {
                "https://api.github.com".to_owned()
            };
            let api_url = self.provider_url_or(&p.api_url, &key("api_url"), &default_api)?;
            ProviderKind::Github { web_url, api_url }
        } else {
            refuse_on(p.github_url.as_ref(), "github_url", "github")?;
            refuse_on(p.api_url.as_ref(), "api_url", "github")?;
            refuse_on(p.allow_orgs.first(), "allow_orgs", "github")?;
            refuse_on(p.allow_teams.first(), "allow_teams", "github")?;
            let Some(issuer) = &p.issuer else {
                return Err(self.err(
                    &p.kind,
                    &key("issuer"),
                    "type = \"oidc\" needs the provider's exact issuer URL",
                ));
            };
            provider_url(issuer.get_ref()).map_err(|m| self.err(issuer, &key("issuer"), m))?;
            ProviderKind::Oidc {
                issuer: issuer.get_ref().clone(),
            }
        };
        let name = match &p.name {
            Some(v) => {
                plain_text(v.get_ref(), 64).map_err(|m| self.err(v, &key("name"), m))?;
                v.get_ref().clone()
            }
            None => id.clone(),
        };
        let client_id = p.client_id.get_ref();
        if client_id.is_empty()
            || client_id.len() > 256
            || !client_id.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(self.err(
                &p.client_id,
                &key("client_id"),
                "must be 1 to 256 visible ASCII characters",
            ));
        }
        let source = self.secret_ref(&p.client_secret, &key("client_secret"))?;
        let text = source
            .read()
            .map_err(|m| self.err(&p.client_secret, &key("client_secret"), m))?;
        let text = text.trim().to_owned();
        if text.is_empty() {
            return Err(self.err(&p.client_secret, &key("client_secret"), "is empty"));
        }
        let scopes = self.upstream_scopes(p, github, &key("scopes"))?;
        let gates = self.gates(p, github, &key)?;
        let grant_scopes = self.scope_list(&p.grant_scopes, &key("grant_scopes"), declared)?;
        let mut group_scopes = BTreeMap::new();
        for (group, list) in &p.group_scopes {
            let at = key(&format!("group_scopes.{group}"));
            plain_text(group, 256).map_err(|m| self.err(list, &at, m))?;
            let granted = self.scope_list(list.get_ref(), &at, declared)?;
            group_scopes.insert(group_name(group, github), granted);
        }
        Ok(ProviderConfig {
            id: id.clone(),
            name,
            kind,
            client_id: client_id.clone(),
            client_secret: ClientSecret::new(text, source),
            scopes,
            gates,
            grant_scopes,
            group_scopes,
        })
    }

    fn provider_url_or(
        &self,
        value: &Option<Spanned<String>>,
        key: &str,
        default: &str,
    ) -> Result<String> {
        match value {
            None => Ok(default.to_owned()),
            Some(v) => {
                provider_url(v.get_ref()).map_err(|m| self.err(v, key, m))?;
                Ok(v.get_ref().trim_end_matches('/').to_owned())
            }
        }
    }

    fn upstream_scopes(&self, p: &ProviderSection, github: bool, key: &str) -> Result<Vec<String>> {
        let Some(list) = &p.scopes else {
            let default: &[&str] = if github {
                &["user:email", "read:org"]
            } else {
                &["openid", "email", "profile"]
            };
            return Ok(default.iter().map(|s| (*s).to_owned()).collect());
        };
        let mut out: Vec<String> = Vec::new();
        for (i, scope) in list.get_ref().iter().enumerate() {
            if !is_scope_token(scope.get_ref()) {
                return Err(self.err(
                    scope,
                    &format!("{key}[{i}]"),
                    "is not a scope token (RFC 6749 §3.3)",
                ));
            }
            if !out.contains(scope.get_ref()) {
                out.push(scope.get_ref().clone());
            }
        }
        if !github && !out.iter().any(|s| s == "openid") {
            return Err(self.err(
                list,
                key,
                "must include \"openid\" (an ID token says who signed in)",
            ));
        }
        Ok(out)
    }

    fn gates(
        &self,
        p: &ProviderSection,
        github: bool,
        key: &dyn Fn(&str) -> String,
    ) -> Result<Gates> {
        let mut gates = Gates::default();
        for (i, v) in p.allow_email_domains.iter().enumerate() {
            let at = format!("{}[{i}]", key("allow_email_domains"));
            let text = v.get_ref();
            let (wild, host) = match text.strip_prefix("*.") {
                Some(rest) => (true, rest),
                None => (false, text.as_str()),
            };
            let host = self.host(&Spanned::new(v.span(), host.to_owned()), &at)?;
            push_once(
                &mut gates.allow_email_domains,
                if wild { format!("*.{host}") } else { host },
            );
        }
        for (i, v) in p.allow_emails.iter().enumerate() {
            let at = format!("{}[{i}]", key("allow_emails"));
            let address = super::oidc::email_address(v.get_ref())
                .and_then(|()| canonical_email(v.get_ref()))
                .map_err(|m| self.err(v, &at, m))?;
            push_once(&mut gates.allow_emails, address);
        }
        for (field, list, into) in [
            ("allow_groups", &p.allow_groups, &mut gates.allow_groups),
            ("allow_orgs", &p.allow_orgs, &mut gates.allow_orgs),
            ("allow_teams", &p.allow_teams, &mut gates.allow_teams),
        ] {
            for (i, v) in list.iter().enumerate() {
                let at = format!("{}[{i}]", key(field));
                plain_text(v.get_ref(), 256).map_err(|m| self.err(v, &at, m))?;
                if field == "allow_teams" && !is_org_team(v.get_ref()) {
                    return Err(self.err(v, &at, "must be `org/team-slug`"));
                }
                push_once(into, group_name(v.get_ref(), github));
            }
        }
        let any_gate = !(gates.allow_email_domains.is_empty()
            && gates.allow_emails.is_empty()
            && gates.allow_groups.is_empty()
            && gates.allow_orgs.is_empty()
            && gates.allow_teams.is_empty());
        gates.allow_all = p.allow_all.as_ref().is_some_and(|v| *v.get_ref());
        match (&p.allow_all, gates.allow_all, any_gate) {
            (Some(v), true, true) => Err(self.err(
                v,
                &key("allow_all"),
                "allow_all = true admits everyone the provider signs in: remove it or the allow_* gates",
            )),
            (_, false, false) => Err(self.err(
                &p.id,
                &key("allow_all"),
                "a provider needs at least one gate (allow_email_domains, allow_emails, allow_groups, allow_orgs, allow_teams) or an explicit allow_all = true",
            )),
            _ => Ok(gates),
        }
    }

    /// `identities` of every `[[users]]` entry: `ID:SUB` of a configured provider, each
    /// identity at most once across all users. Fills `users[i].identities`.
    pub(super) fn identities(
        &self,
        sections: &[Spanned<UserSection>],
        users: &mut [UserConfig],
        providers: &[ProviderConfig],
    ) -> Result<()> {
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        for (index, (section, user)) in sections.iter().zip(users.iter_mut()).enumerate() {
            for (i, v) in section.get_ref().identities.iter().enumerate() {
                let at = format!("users[{index}].identities[{i}]");
                let text = v.get_ref();
                let Some((id, sub)) = text.split_once(':') else {
                    return Err(self.err(
                        v,
                        &at,
                        "must be `PROVIDER:SUB` (the provider's id, then its subject)",
                    ));
                };
                if !providers.iter().any(|p| p.id == id) {
                    return Err(self.err(
                        v,
                        &at,
                        format!("`{id}` is not the id of a [[providers]] entry"),
                    ));
                }
                if !is_subject(sub) {
                    return Err(self.err(
                        v,
                        &at,
                        format!("the subject must be 1 to {MAX_SUBJECT} visible ASCII characters"),
                    ));
                }
                if let Some(first) = seen.insert(text.clone(), index) {
                    return Err(self.err(
                        v,
                        &at,
                        format!("users[{first}] already lists this identity"),
                    ));
                }
                user.identities.push(text.clone());
            }
        }
        Ok(())
    }

    /// A route's `allow` list (`routes[index].allow`).
    pub(super) fn route_allow(
        &self,
        index: usize,
        r: &RouteSection,
        users: &[UserConfig],
        providers: &[ProviderConfig],
    ) -> Result<Vec<AllowRule>> {
        if let Some(first) = r.allow.first() {
            if r.auth.get_ref() == "none" {
                return Err(self.err(
                    first,
                    &format!("routes[{index}].allow"),
                    "an allow list needs an authenticated route (auth = \"bearer\" or \"session\")",
                ));
            }
        }
        let provider = |id: &str| providers.iter().find(|p| p.id == id);
        let mut out = Vec::with_capacity(r.allow.len());
        for (i, v) in r.allow.iter().enumerate() {
            let at = format!("routes[{index}].allow[{i}]");
            let bad = |m: String| self.err(v, &at, m);
            let text = v.get_ref();
            let rule = match text.split_once(':') {
                Some(("user", name)) => match name.split_once(':') {
                    Some((id, sub)) if provider(id).is_some() && is_subject(sub) => {
                        AllowRule::User(name.to_owned())
                    }
                    Some(_) => {
                        return Err(bad(format!(
                            "`{name}` is not PROVIDER:SUB of a configured provider"
                        )))
                    }
                    None if users.iter().any(|u| u.name == name) => {
                        AllowRule::User(name.to_owned())
                    }
                    None => {
                        return Err(bad(format!(
                            "`{name}` is not the name of a [[users]] entry"
                        )))
                    }
                },
                Some(("provider", id)) if provider(id).is_some() => {
                    AllowRule::Provider(id.to_owned())
                }
                Some(("provider", id)) => {
                    return Err(bad(format!(
                        "`{id}` is not the id of a [[providers]] entry"
                    )))
                }
                Some(("group", spec)) => match spec.split_once('/') {
                    Some((id, name)) => {
                        let Some(p) = provider(id) else {
                            return Err(bad(format!("`{id}` is not the id of a [[providers]] entry (a [[users]] group is written group:NAME)")));
                        };
                        plain_text(name, 256).map_err(&bad)?;
                        let github = matches!(p.kind, ProviderKind::Github { .. });
                        AllowRule::Group {
                            provider: Some(id.to_owned()),
                            name: group_name(name, github),
                        }
                    }
                    None => {
                        plain_text(spec, 128).map_err(&bad)?;
                        AllowRule::Group {
                            provider: None,
                            name: spec.to_owned(),
                        }
                    }
                },
                Some(("domain", domain)) => {
                    let (wild, host) = match domain.strip_prefix("*.") {
                        Some(rest) => (true, rest),
                        None => (false, domain),
                    };
                    let host = self.host(&Spanned::new(v.span(), host.to_owned()), &at)?;
                    AllowRule::Domain(if wild { format!("*.{host}") } else { host })
                }
                _ => return Err(bad(
                    "must be user:NAME, provider:ID, group:ID/NAME, group:NAME or domain:DOMAIN"
                        .to_owned(),
                )),
            };
            if !out.contains(&rule) {
                out.push(rule);
            }
        }
        Ok(out)
    }
}

/// GitHub's organisation and team names are case-insensitive: compared in lower case.
fn group_name(text: &str, github: bool) -> String {
    if github {
        text.to_ascii_lowercase()
    } else {
        text.to_owned()
    }
}

fn is_org_team(text: &str) -> bool {
    matches!(text.split_once('/'), Some((org, team)) if !org.is_empty() && !team.is_empty() && !team.contains('/'))
}

/// `local@DOMAIN` with the domain in lower case, refusing what a strict parse of a
/// provider's address would refuse (quotes, comments, brackets), so a written entry can match.
fn canonical_email(text: &str) -> std::result::Result<String, String> {
    let (local, domain) = text
        .split_once('@')
        .ok_or_else(|| "is not an email address".to_owned())?;
    if local.bytes().any(|b| b"\"()<>[]\\,;:".contains(&b)) || !text.is_ascii() {
        return Err("must be a plain address: no quotes, comments or non-ASCII".to_owned());
    }
    Ok(format!("{local}@{}", domain.to_ascii_lowercase()))
}

fn push_once(list: &mut Vec<String>, value: String) {
    if !list.contains(&value) {
        list.push(value);
    }
}

/// Warnings of `check` and `serve` about providers.
pub(super) fn warnings(providers: &[ProviderConfig], out: &mut Vec<String>) {
    for p in providers {
        let wants_groups = !p.gates.allow_groups.is_empty() || !p.group_scopes.is_empty();
        if matches!(p.kind, ProviderKind::Oidc { .. })
            && wants_groups
            && !p.scopes.iter().any(|s| s == "groups")
        {
            out.push(format!(
                "providers `{}`: allow_groups or group_scopes is set but scopes does not ask for \"groups\"; many providers send the groups claim only for that scope",
                p.id
            ));
        }
    }
}

#[cfg(test)]
mod tests;
