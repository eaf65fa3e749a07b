//! A route's `allow` list (`[[routes]] allow`): who may pass besides holding the scopes.
//!
//! Any one rule admits (the scopes are still all required, by `decide`). A caller with no
//! user (a client acting for itself) matches no rule. The rules:
//! - `user:NAME`: the principal is exactly NAME (a `[[users]]` name, or `ID:SUB`);
//! - `provider:ID`: a federated principal of provider ID (`ID:…`); a local user linked
//!   through `identities` is its `[[users]]` name and matches `user:` rules only;
//! - `group:ID/NAME`: a federated person of ID whose groups, as the provider said them at
//!   sign-in (GitHub: `org`, `org/team`), include NAME; `group:NAME`: a `[[users]]` entry
//!   whose `groups` include NAME;
//! - `domain:D` (or `*.D`): the person's email is verified and its domain is D (or under it).
//!
//! Groups and the verified domain are the person's [`AllowFacts`]: for a federated person
//! those its provider said at sign-in (carried by its route session, or read once per access
//! token), the file's for a local user.

use crate::config::AllowRule;
use crate::federation::email::domain_matches;
use crate::store::AllowFacts;

/// Whether deciding `rules` needs the caller's [`AllowFacts`] (groups, email), not only its
/// name.
pub fn needs_person(rules: &[AllowRule]) -> bool {
    rules
        .iter()
        .any(|r| matches!(r, AllowRule::Group { .. } | AllowRule::Domain(_)))
}

/// Whether `rules` admit the caller `principal` (`None`: a client acting for itself), whose
/// facts are `person` when [`needs_person`]. An empty list admits everyone.
pub fn admits(rules: &[AllowRule], principal: Option<&str>, person: Option<&AllowFacts>) -> bool {
    if rules.is_empty() {
        return true;
    }
    let Some(principal) = principal else {
        return false;
    };
    let domain = person.and_then(|p| p.domain.as_deref());
    rules.iter().any(|rule| match rule {
        AllowRule::User(name) => principal == name,
        AllowRule::Provider(id) => principal
            .strip_prefix(id.as_str())
            .is_some_and(|rest| rest.starts_with(':')),
        AllowRule::Group { provider, name } => person.is_some_and(|p| {
            p.provider.as_deref() == provider.as_deref() && p.groups.iter().any(|g| g == name)
        }),
        AllowRule::Domain(pattern) => domain.is_some_and(|d| domain_matches(pattern, d)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::federation::person::Person;

    fn person(
        name: &str,
        provider: Option<&str>,
        email: Option<(&str, bool)>,
        groups: &[&str],
    ) -> Person {
        Person {
            name: name.into(),
            scopes: Vec::new(),
            email: email.map(|(e, _)| e.to_owned()),
            email_verified: email.is_some_and(|(_, v)| v),
            display_name: None,
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
            provider: provider.map(str::to_owned),
        }
    }

    fn group(provider: Option<&str>, name: &str) -> AllowRule {
        AllowRule::Group {
            provider: provider.map(str::to_owned),
            name: name.into(),
        }
    }

    #[test]
    fn any_rule_admits_and_nothing_else_does() {
        let jane = person(
            "corp:42",
            Some("corp"),
            Some(("jane@example.com", true)),
            &["ops", "acme/ops"],
        );
        let unverified = person(
            "corp:43",
            Some("corp"),
            Some(("eve@example.com", false)),
            &[],
        );
        let alice = person("alice", None, Some(("alice@Example.com", true)), &["ops"]);
        let gh = person("gh:7", Some("gh"), None, &["acme", "acme/ops"]);
        let user = |n: &str| AllowRule::User(n.into());
        let provider = |n: &str| AllowRule::Provider(n.into());
        let domain = |n: &str| AllowRule::Domain(n.into());
        let cases: Vec<(&str, Vec<AllowRule>, &Person, bool)> = vec![
            ("no list", vec![], &jane, true),
            ("user by name", vec![user("alice")], &alice, true),
            ("user by principal", vec![user("corp:42")], &jane, true),
            ("another user", vec![user("alice")], &jane, false),
            (
                "a principal is not its email",
                vec![user("jane@example.com")],
                &jane,
                false,
            ),
            ("provider", vec![provider("corp")], &jane, true),
            (
                "provider prefix is not enough",
                vec![provider("cor")],
                &jane,
                false,
            ),
            (
                "a local user is of no provider",
                vec![provider("corp")],
                &alice,
                false,
            ),
            (
                "provider group",
                vec![group(Some("corp"), "ops")],
                &jane,
                true,
            ),
            (
                "the same group at another provider",
                vec![group(Some("gh"), "ops")],
                &jane,
                false,
            ),
            (
                "a provider group is not a local group",
                vec![group(None, "ops")],
                &jane,
                false,
            ),
            ("local group", vec![group(None, "ops")], &alice, true),
            (
                "a local group is not a provider's",
                vec![group(Some("corp"), "ops")],
                &alice,
                false,
            ),
            (
                "github team",
                vec![group(Some("gh"), "acme/ops")],
                &gh,
                true,
            ),
            (
                "missing group",
                vec![group(Some("corp"), "admins")],
                &jane,
                false,
            ),
            ("verified domain", vec![domain("example.com")], &jane, true),
            (
                "local user's domain, any case",
                vec![domain("example.com")],
                &alice,
                true,
            ),
            (
                "unverified domain",
                vec![domain("example.com")],
                &unverified,
                false,
            ),
            ("no email", vec![domain("example.com")], &gh, false),
            (
                "subdomain pattern",
                vec![domain("*.example.com")],
                &jane,
                false,
            ),
            (
                "second rule admits",
                vec![user("bob"), provider("gh")],
                &gh,
                true,
            ),
            (
                "none admits",
                vec![user("bob"), provider("corp"), domain("example.org")],
                &gh,
                false,
            ),
        ];
        for (name, rules, who, wanted) in cases {
            let facts = who.allow_facts();
            assert_eq!(
                admits(&rules, Some(&who.name), Some(&facts)),
                wanted,
                "{name}"
            );
        }
    }

    #[test]
    fn a_client_acting_for_itself_matches_no_rule() {
        assert!(admits(&[], None, None));
        assert!(!admits(&[AllowRule::Provider("corp".into())], None, None));
        assert!(!admits(&[AllowRule::User("machine".into())], None, None));
    }

    #[test]
    fn names_alone_need_no_record_and_group_or_domain_rules_without_one_refuse() {
        assert!(!needs_person(&[
            AllowRule::User("a".into()),
            AllowRule::Provider("p".into())
        ]));
        assert!(needs_person(&[AllowRule::Domain("example.com".into())]));
        assert!(!admits(&[group(None, "ops")], Some("alice"), None));
        assert!(admits(
            &[AllowRule::User("alice".into())],
            Some("alice"),
            None
        ));
    }
}
