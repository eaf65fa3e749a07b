//! The gates of a provider, and who an admitted person is: [`admit`] takes what the relying
//! party verified ([`ExternalIdentity`]) and the configuration, and returns the principal
//! with the most it may grant ([`Admitted`]) or the gate that refused ([`Refusal`]).
//!
//! The gates (every gate that is set must pass; `allow_all` sets none):
//! - the **email gate** (`allow_emails`, `allow_email_domains`): passes when the address,
//!   parsed strictly (`email.rs`) and with `email_verified` literally true, is listed in
//!   `allow_emails` (the domain compared in lower case, the local part exactly), or when its
//!   domain matches `allow_email_domains`. With Google's `hd` claim present, the domain is
//!   `hd`'s (Google vouches that the account belongs to that Workspace) and not the
//!   address's; from Google's issuer without `hd` (a consumer account, which can carry an
//!   address at a domain it does not belong to) no domain matches, only `allow_emails`.
//! - the **membership gate** (`allow_groups`; GitHub: `allow_orgs`, `allow_teams`): passes
//!   when one of the person's groups (GitHub: `org` and `org/team`, in lower case) is listed.
//!
//! Who they are: the local user whose `identities` lists `ID:SUB`, or else the principal
//! `ID:SUB` itself, never anyone found by email, login or `preferred_username`. The gates
//! apply to linked users too: a link says who someone is, the gates who may come in. A
//! federated principal may grant `grant_scopes` plus the `group_scopes` of each of its
//! groups; a linked user, its `[[users]] scopes`.

use super::email;
use super::identity::ExternalIdentity;
use crate::config::{is_subject, Config, ProviderConfig, ProviderKind};

/// Groups kept of a person (each travels in ID tokens of the `groups` scope), and how long
/// each may be. Scopes are computed from all of them first.
const MAX_GROUPS: usize = 200;
const MAX_GROUP_BYTES: usize = 256;
/// Google's issuer, in both forms its tokens use.
const GOOGLE_ISSUERS: [&str; 2] = ["https://accounts.google.com", "accounts.google.com"];

/// A person the gates let in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admitted {
    /// `ID:SUB`, or the linked local user's name.
    pub principal: String,
    pub local_user: bool,
    pub provider: String,
    /// The most this person may grant.
    pub scopes: Vec<String>,
    /// The strictly parsed address (domain in lower case), when there was one.
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    pub groups: Vec<String>,
}

/// Why a person is not admitted: one variant per gate (and the two checks before them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The provider is not (or no longer) configured.
    UnknownProvider,
    /// The provider's subject cannot name a principal (empty, too long, not visible ASCII).
    BadSubject,
    /// Email gate: the provider sent no address.
    NoEmail,
    /// Email gate: the address is not verified by the provider.
    EmailUnverified,
    /// Email gate: the address does not parse strictly.
    EmailMalformed,
    /// Email gate: neither the address nor its domain is allowed.
    EmailNotAllowed,
    /// Email gate: Google's `hd` names a Workspace domain that is not allowed.
    HostedDomainNotAllowed,
    /// Membership gate: in none of `allow_groups`.
    NotInGroup,
    /// Membership gate (GitHub): in none of `allow_orgs`/`allow_teams`.
    NotInOrgOrTeam,
}

impl Refusal {
    /// The gate, as the configuration names it.
    pub fn gate(self) -> &'static str {
        match self {
            Refusal::UnknownProvider => "providers",
            Refusal::BadSubject => "sub",
            Refusal::NoEmail
            | Refusal::EmailUnverified
            | Refusal::EmailMalformed
            | Refusal::EmailNotAllowed
            | Refusal::HostedDomainNotAllowed => "allow_emails / allow_email_domains",
            Refusal::NotInGroup => "allow_groups",
            Refusal::NotInOrgOrTeam => "allow_orgs / allow_teams",
        }
    }

    /// A fixed message the refused person may read (no value of theirs in it).
    pub fn message(self) -> &'static str {
        match self {
            Refusal::UnknownProvider => "This sign-in provider is not configured on this gateway.",
            Refusal::BadSubject => "The provider identified you in a way this gateway cannot use.",
            Refusal::NoEmail => "You signed in, but the provider did not share an email address, and this gateway admits people by their email address.",
            Refusal::EmailUnverified => "You signed in, but the provider has not verified your email address, and this gateway admits people only by a verified address. Verify it at the provider, then try again.",
            Refusal::EmailMalformed => "You signed in, but your email address has a form this gateway does not accept.",
            Refusal::EmailNotAllowed => "You signed in, but your email address is not one this gateway admits.",
            Refusal::HostedDomainNotAllowed => "You signed in, but your account's organisation domain is not one this gateway admits.",
            Refusal::NotInGroup => "You signed in, but you are not in a group this gateway admits.",
            Refusal::NotInOrgOrTeam => "You signed in, but you are not a member of an organisation or team this gateway admits.",
        }
    }

    /// A stable name for logs and metrics.
    pub fn reason(self) -> &'static str {
        match self {
            Refusal::UnknownProvider => "federation_unknown_provider",
            Refusal::BadSubject => "federation_bad_subject",
            Refusal::NoEmail => "federation_no_email",
            Refusal::EmailUnverified => "federation_email_unverified",
            Refusal::EmailMalformed => "federation_email_malformed",
            Refusal::EmailNotAllowed => "federation_email_not_allowed",
            Refusal::HostedDomainNotAllowed => "federation_hosted_domain_not_allowed",
            Refusal::NotInGroup => "federation_not_in_group",
            Refusal::NotInOrgOrTeam => "federation_not_in_org_or_team",
        }
    }
}

/// Runs the gates of `identity.provider` and resolves the principal.
pub fn admit(config: &Config, identity: &ExternalIdentity) -> Result<Admitted, Refusal> {
    let provider = config
        .providers
        .iter()
        .find(|p| p.id == identity.provider)
        .ok_or(Refusal::UnknownProvider)?;
    if !is_subject(&identity.subject) {
        return Err(Refusal::BadSubject);
    }
    let github = matches!(provider.kind, ProviderKind::Github { .. });
    let groups: Vec<String> = identity
        .groups
        .iter()
        .map(|g| {
            if github {
                g.to_ascii_lowercase()
            } else {
                g.clone()
            }
        })
        .collect();
    let address = identity.email.as_deref().map(email::parse);
    if !provider.gates.allow_all {
        email_gate(provider, identity, address.as_ref())?;
        membership_gate(provider, &groups, github)?;
    }
    let principal = format!("{}:{}", provider.id, identity.subject);
    let linked = config
        .users
        .iter()
        .find(|u| u.identities.contains(&principal));
    let (principal, local_user, scopes) = match linked {
        Some(user) => (user.name.clone(), true, user.scopes.clone()),
        None => (
            principal,
            false,
            federated_scopes(config, provider, &groups),
        ),
    };
    let mut kept: Vec<String> = Vec::new();
    for group in groups {
        if kept.len() < MAX_GROUPS && plain(&group, MAX_GROUP_BYTES) && !kept.contains(&group) {
            kept.push(group);
        }
    }
    Ok(Admitted {
        principal,
        local_user,
        provider: provider.id.clone(),
        scopes,
        email: address.and_then(Result::ok).map(|a| a.canonical()),
        email_verified: identity.email_verified,
        name: identity.name.clone().filter(|n| plain(n, 256)),
        groups: kept,
    })
}

/// Text fit for a claim: not blank, bounded, no control characters.
fn plain(text: &str, max: usize) -> bool {
    !text.trim().is_empty() && text.len() <= max && !text.chars().any(char::is_control)
}

fn email_gate(
    provider: &ProviderConfig,
    identity: &ExternalIdentity,
    address: Option<&Result<email::Address, email::Malformed>>,
) -> Result<(), Refusal> {
    let gates = &provider.gates;
    if gates.allow_emails.is_empty() && gates.allow_email_domains.is_empty() {
        return Ok(());
    }
    let verified = match address {
        None => Err(Refusal::NoEmail),
        Some(_) if !identity.email_verified => Err(Refusal::EmailUnverified),
        Some(Err(_)) => Err(Refusal::EmailMalformed),
        Some(Ok(address)) => Ok(address),
    };
    if let Ok(address) = &verified {
        if gates.allow_emails.contains(&address.canonical()) {
            return Ok(());
        }
    }
    let domain_allowed = |domain: &str| {
        gates
            .allow_email_domains
            .iter()
            .any(|p| email::domain_matches(p, domain))
    };
    let google = matches!(&provider.kind, ProviderKind::Oidc { issuer } if GOOGLE_ISSUERS.contains(&issuer.as_str()));
    match identity.hosted_domain.as_deref() {
        Some(hd) if domain_allowed(&hd.to_ascii_lowercase()) => Ok(()),
        Some(_) if !gates.allow_email_domains.is_empty() => Err(Refusal::HostedDomainNotAllowed),
        Some(_) => verified.and(Err(Refusal::EmailNotAllowed)),
        None if google => verified.and(Err(Refusal::EmailNotAllowed)),
        None => {
            let address = verified?;
            if domain_allowed(&address.domain) {
                Ok(())
            } else {
                Err(Refusal::EmailNotAllowed)
            }
        }
    }
}

fn membership_gate(
    provider: &ProviderConfig,
    groups: &[String],
    github: bool,
) -> Result<(), Refusal> {
    let gates = &provider.gates;
    let listed: Vec<&String> = gates
        .allow_groups
        .iter()
        .chain(&gates.allow_orgs)
        .chain(&gates.allow_teams)
        .collect();
    if listed.is_empty() || groups.iter().any(|g| listed.contains(&g)) {
        return Ok(());
    }
    Err(if github {
        Refusal::NotInOrgOrTeam
    } else {
        Refusal::NotInGroup
    })
}

/// `grant_scopes` ∪ the `group_scopes` of each group, each once, only scopes the
/// configuration knows (declared, built in, or any when `[scopes]` declares none).
fn federated_scopes(config: &Config, provider: &ProviderConfig, groups: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let from_groups = groups
        .iter()
        .filter_map(|g| provider.group_scopes.get(g))
        .flatten();
    for scope in provider.grant_scopes.iter().chain(from_groups) {
        let known = config.scopes.is_empty()
            || config.scopes.contains_key(scope)
            || crate::config::BUILTIN_SCOPES.contains(&scope.as_str());
        if known && !out.contains(scope) {
            out.push(scope.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests;
