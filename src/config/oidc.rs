//! Validation of the OpenID Connect settings (contract §7): the claims of a `[[users]]`
//! entry (`email`, `display_name`, `groups`) and a `[[clients]]` entry's OpenID metadata
//! (`id_token_signed_response_alg`, `id_token_claims`, `post_logout_redirect_uris`,
//! `backchannel_logout_uri`). The built-in scopes need no `[scopes]` entry.
//!
//! Every value here ends up in a signed token or a URL the gateway redirects to, so each is
//! bounded and free of control characters; a logout URI follows the redirect URI rules.

use super::error::ConfigError;
use super::file::{ClientSection, UserSection};
use super::redirect_uri::{check_backchannel_logout_uri, check_redirect_uri};
use super::validate::Validator;
use super::{IdTokenClaims, UserClaims};
use crate::tokens::jose::Alg;

type Result<T> = std::result::Result<T, ConfigError>;

/// The scopes OpenID Connect defines (and `groups`): declared without a `[scopes]` entry.
pub const BUILTIN_SCOPES: [&str; 5] = ["openid", "profile", "email", "groups", "offline_access"];

/// Groups a user may have (each one travels in every ID token of the `groups` scope).
const MAX_GROUPS: usize = 100;

/// A client's OpenID metadata, validated.
pub(super) struct ClientOidc {
    pub(super) id_token_alg: Alg,
    pub(super) id_token_claims: IdTokenClaims,
    pub(super) post_logout_redirect_uris: Vec<String>,
    pub(super) backchannel_logout_uri: Option<String>,
}

/// Text that goes into a claim: not blank, at most `max` bytes, no control characters.
fn claim_text(text: &str, max: usize) -> std::result::Result<(), String> {
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

/// An address of the form `local@domain`: one `@`, neither side empty, no spaces. Nothing
/// more is claimed (the claim says `email_verified = true` because the operator wrote it).
pub(super) fn email_address(text: &str) -> std::result::Result<(), String> {
    claim_text(text, 254)?;
    let valid = match text.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !text.chars().any(char::is_whitespace)
        }
        None => false,
    };
    if !valid {
        return Err("is not an email address (local@domain)".to_owned());
    }
    Ok(())
}

impl Validator<'_> {
    /// The claims of one `[[users]]` entry (`users[index]`).
    pub(super) fn user_claims(&self, index: usize, u: &UserSection) -> Result<UserClaims> {
        let key = |field: &str| format!("users[{index}].{field}");
        let email = match &u.email {
            Some(v) => {
                email_address(v.get_ref()).map_err(|m| self.err(v, &key("email"), m))?;
                Some(v.get_ref().clone())
            }
            None => None,
        };
        let display_name = match &u.display_name {
            Some(v) => {
                claim_text(v.get_ref(), 256).map_err(|m| self.err(v, &key("display_name"), m))?;
                Some(v.get_ref().clone())
            }
            None => None,
        };
        let mut groups: Vec<String> = Vec::with_capacity(u.groups.len());
        for (i, group) in u.groups.iter().enumerate() {
            let at = format!("users[{index}].groups[{i}]");
            if i >= MAX_GROUPS {
                return Err(self.err(
                    group,
                    &at,
                    format!("a user has at most {MAX_GROUPS} groups"),
                ));
            }
            claim_text(group.get_ref(), 128).map_err(|m| self.err(group, &at, m))?;
            if !groups.contains(group.get_ref()) {
                groups.push(group.get_ref().clone());
            }
        }
        Ok(UserClaims {
            email,
            display_name,
            groups,
        })
    }

    /// The OpenID metadata of one `[[clients]]` entry (`clients[index]`).
    pub(super) fn client_oidc(&self, index: usize, c: &ClientSection) -> Result<ClientOidc> {
        let key = |field: &str| format!("clients[{index}].{field}");
        let id_token_alg = match &c.id_token_signed_response_alg {
            None => Alg::Rs256,
            Some(v) => Alg::parse(v.get_ref()).ok_or_else(|| {
                self.err(
                    v,
                    &key("id_token_signed_response_alg"),
                    format!(
                        "`{}` is not one of \"RS256\", \"ES256\", \"EdDSA\" (ID tokens are always signed with a published key; never \"none\" or HS256)",
                        v.get_ref()
                    ),
                )
            })?,
        };
        let id_token_claims = match &c.id_token_claims {
            None => IdTokenClaims::Scopes,
            Some(v) => match v.get_ref().as_str() {
                "scopes" => IdTokenClaims::Scopes,
                "minimal" => IdTokenClaims::Minimal,
                other => {
                    return Err(self.err(
                        v,
                        &key("id_token_claims"),
                        format!("`{other}` is not one of \"scopes\", \"minimal\""),
                    ))
                }
            },
        };
        let mut post_logout_redirect_uris = Vec::with_capacity(c.post_logout_redirect_uris.len());
        for (i, uri) in c.post_logout_redirect_uris.iter().enumerate() {
            let at = format!("clients[{index}].post_logout_redirect_uris[{i}]");
            check_redirect_uri(uri.get_ref()).map_err(|m| self.err(uri, &at, m))?;
            if !post_logout_redirect_uris.contains(uri.get_ref()) {
                post_logout_redirect_uris.push(uri.get_ref().clone());
            }
        }
        let backchannel_logout_uri = match &c.backchannel_logout_uri {
            None => None,
            Some(uri) => {
                check_backchannel_logout_uri(uri.get_ref())
                    .map_err(|m| self.err(uri, &key("backchannel_logout_uri"), m))?;
                Some(uri.get_ref().clone())
            }
        };
        Ok(ClientOidc {
            id_token_alg,
            id_token_claims,
            post_logout_redirect_uris,
            backchannel_logout_uri,
        })
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod rules {
    use super::{claim_text, email_address};

    #[test]
    fn email_addresses() {
        assert!(email_address("alice@example.com").is_ok());
        for bad in [
            "alice",
            "@example.com",
            "alice@",
            "a@b@c",
            "al ice@example.com",
            "",
        ] {
            assert!(email_address(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn claim_texts() {
        assert!(claim_text("Alice Liddell", 256).is_ok());
        assert!(claim_text("  ", 256).is_err());
        assert!(claim_text("a\nb", 256).is_err());
        assert!(claim_text(&"x".repeat(257), 256).is_err());
    }
}
