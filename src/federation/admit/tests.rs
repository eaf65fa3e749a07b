//! The gates and principal resolution, as tables of identities and what becomes of them.

use super::*;

const HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$2Yr0JpRPmGMaE4pyHyeK0VCrV4Vn5g9P6pVj2hKq3pY";

fn config() -> Config {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "x").unwrap();
    let secret = secret.display();
    let text = format!(
        r#"[server]
listen = "127.0.0.1:8443"
public_url = "https://gw.example.com"

[scopes]
app = "The app"
"api:write" = "Write"

[[providers]]
id = "corp"
type = "oidc"
issuer = "https://idp.example.com"
client_id = "c"
client_secret = "file:{secret}"
allow_email_domains = ["example.com", "*.eu.example.com"]
allow_emails = ["bob@partner.org"]
grant_scopes = ["app"]
[providers.group_scopes]
admins = ["api:write", "app"]

[[providers]]
id = "staff"
type = "oidc"
issuer = "https://staff.example.com"
client_id = "c"
client_secret = "file:{secret}"
allow_groups = ["staff"]
allow_email_domains = ["example.com"]

[[providers]]
id = "google"
type = "oidc"
issuer = "https://accounts.google.com"
client_id = "c"
client_secret = "file:{secret}"
allow_email_domains = ["example.com"]
allow_emails = ["contractor@gmail.com"]

[[providers]]
id = "gh"
type = "github"
client_id = "c"
client_secret = "file:{secret}"
allow_orgs = ["Acme"]
allow_teams = ["other/platform"]
grant_scopes = ["app"]
[providers.group_scopes]
"acme/ops" = ["api:write"]

[[providers]]
id = "open"
type = "oidc"
issuer = "http://127.0.0.1:9400"
client_id = "c"
client_secret = "file:{secret}"
allow_all = true

[[users]]
name = "alice"
password = "{HASH}"
scopes = ["app", "api:write"]
identities = ["corp:alice-sub"]
"#
    );
    Config::from_toml_str(&text).unwrap()
}

fn who(provider: &str, sub: &str) -> ExternalIdentity {
    ExternalIdentity {
        provider: provider.into(),
        subject: sub.into(),
        ..ExternalIdentity::default()
    }
}

fn mailed(provider: &str, email: &str, verified: bool) -> ExternalIdentity {
    ExternalIdentity {
        email: Some(email.into()),
        email_verified: verified,
        ..who(provider, "s1")
    }
}

fn grouped(mut identity: ExternalIdentity, groups: &[&str]) -> ExternalIdentity {
    identity.groups = groups.iter().map(|g| (*g).to_owned()).collect();
    identity
}

fn hd(mut identity: ExternalIdentity, domain: &str) -> ExternalIdentity {
    identity.hosted_domain = Some(domain.into());
    identity
}

#[test]
fn every_gate_refuses_by_its_own_name() {
    let c = config();
    let cases: Vec<(&str, ExternalIdentity, Refusal)> = vec![
        (
            "unknown provider",
            mailed("nope", "a@example.com", true),
            Refusal::UnknownProvider,
        ),
        (
            "empty subject",
            ExternalIdentity {
                subject: String::new(),
                ..mailed("corp", "a@example.com", true)
            },
            Refusal::BadSubject,
        ),
        (
            "subject with a space",
            ExternalIdentity {
                subject: "a b".into(),
                ..mailed("corp", "a@example.com", true)
            },
            Refusal::BadSubject,
        ),
        (
            "subject with a newline",
            ExternalIdentity {
                subject: "a\nX-Auth-User: root".into(),
                ..mailed("corp", "a@example.com", true)
            },
            Refusal::BadSubject,
        ),
        (
            "subject too long",
            ExternalIdentity {
                subject: "s".repeat(256),
                ..mailed("corp", "a@example.com", true)
            },
            Refusal::BadSubject,
        ),
        ("no email", who("corp", "s1"), Refusal::NoEmail),
        (
            "unverified",
            mailed("corp", "a@example.com", false),
            Refusal::EmailUnverified,
        ),
        (
            "unverified listed address",
            mailed("corp", "bob@partner.org", false),
            Refusal::EmailUnverified,
        ),
        (
            "two @",
            mailed("corp", "a@evil.com@example.com", true),
            Refusal::EmailMalformed,
        ),
        (
            "quoted local part",
            mailed("corp", "\"a@evil.com\"@example.com", true),
            Refusal::EmailMalformed,
        ),
        (
            "comment",
            mailed("corp", "a@example.com(x)", true),
            Refusal::EmailMalformed,
        ),
        (
            "other domain",
            mailed("corp", "a@evil.com", true),
            Refusal::EmailNotAllowed,
        ),
        (
            "suffix is not a subdomain",
            mailed("corp", "a@badexample.com", true),
            Refusal::EmailNotAllowed,
        ),
        (
            "subdomain without a pattern",
            mailed("corp", "a@us.example.com", true),
            Refusal::EmailNotAllowed,
        ),
        (
            "the wildcard's parent itself",
            mailed("corp", "a@eu.example.com", true),
            Refusal::EmailNotAllowed,
        ),
        (
            "another partner address",
            mailed("corp", "eve@partner.org", true),
            Refusal::EmailNotAllowed,
        ),
        (
            "domain ok, group missing",
            mailed("staff", "a@example.com", true),
            Refusal::NotInGroup,
        ),
        (
            "group ok, email missing",
            grouped(who("staff", "s1"), &["staff"]),
            Refusal::NoEmail,
        ),
        (
            "group of another case",
            grouped(mailed("staff", "a@example.com", true), &["Staff"]),
            Refusal::NotInGroup,
        ),
        (
            "google consumer account at the domain",
            mailed("google", "a@example.com", true),
            Refusal::EmailNotAllowed,
        ),
        (
            "google other workspace",
            hd(mailed("google", "a@example.com", true), "evil.com"),
            Refusal::HostedDomainNotAllowed,
        ),
        (
            "github outside the orgs",
            grouped(who("gh", "1"), &["evil", "evil/platform"]),
            Refusal::NotInOrgOrTeam,
        ),
        (
            "github other team of the team's org",
            grouped(who("gh", "1"), &["other", "other/sales"]),
            Refusal::NotInOrgOrTeam,
        ),
    ];
    let cases_ok: Vec<(&str, ExternalIdentity, &str)> = vec![
        ("domain", mailed("corp", "a@Example.COM", true), "corp:s1"),
        (
            "wildcard subdomain",
            mailed("corp", "a@x.eu.example.com", true),
            "corp:s1",
        ),
        (
            "listed address, domain case",
            mailed("corp", "bob@PARTNER.org", true),
            "corp:s1",
        ),
        (
            "domain and group",
            grouped(mailed("staff", "a@example.com", true), &["x", "staff"]),
            "staff:s1",
        ),
        (
            "google workspace by hd",
            hd(mailed("google", "a@example.com", false), "Example.com"),
            "google:s1",
        ),
        (
            "google listed consumer address",
            mailed("google", "contractor@gmail.com", true),
            "google:s1",
        ),
        (
            "github org, any case",
            grouped(who("gh", "583231"), &["ACME"]),
            "gh:583231",
        ),
        (
            "github team",
            grouped(who("gh", "583231"), &["other", "other/Platform"]),
            "gh:583231",
        ),
        ("allow_all", who("open", "anyone"), "open:anyone"),
        (
            "linked local user",
            ExternalIdentity {
                subject: "alice-sub".into(),
                ..mailed("corp", "alice@example.com", true)
            },
            "alice",
        ),
    ];
    for (name, identity, wanted) in cases {
        assert_eq!(admit(&c, &identity).err(), Some(wanted), "{name}");
    }
    for (name, identity, principal) in cases_ok {
        assert_eq!(
            admit(&c, &identity).map(|a| a.principal).as_deref(),
            Ok(principal),
            "{name}"
        );
    }
}

#[test]
fn a_linked_user_is_still_gated_and_is_never_found_by_email_or_login() {
    let c = config();
    // The linked subject from an address the gate refuses: refused.
    let linked = ExternalIdentity {
        subject: "alice-sub".into(),
        ..mailed("corp", "alice@evil.com", true)
    };
    assert_eq!(admit(&c, &linked), Err(Refusal::EmailNotAllowed));
    // Another subject with alice's address, login and name: its own principal, never alice.
    let lookalike = ExternalIdentity {
        username: Some("alice".into()),
        name: Some("alice".into()),
        ..mailed("corp", "alice@example.com", true)
    };
    let admitted = admit(&c, &lookalike).unwrap();
    assert_eq!(admitted.principal, "corp:s1");
    assert!(!admitted.local_user);
    // alice's subject at another provider is not alice either.
    let elsewhere = ExternalIdentity {
        subject: "alice-sub".into(),
        ..who("open", "")
    };
    assert_eq!(admit(&c, &elsewhere).unwrap().principal, "open:alice-sub");
}

#[test]
fn scopes_are_the_grant_scopes_and_the_group_scopes_of_the_persons_groups() {
    let c = config();
    let plain = admit(&c, &mailed("corp", "a@example.com", true)).unwrap();
    assert_eq!(plain.scopes, ["app"]);
    let admin = admit(
        &c,
        &grouped(
            mailed("corp", "a@example.com", true),
            &["admins", "admins", "other"],
        ),
    )
    .unwrap();
    assert_eq!(admin.scopes, ["app", "api:write"]);
    assert_eq!(admin.groups, ["admins", "other"]);
    let gh = admit(&c, &grouped(who("gh", "7"), &["acme", "Acme/Ops"])).unwrap();
    assert_eq!(gh.scopes, ["app", "api:write"]);
    assert_eq!(gh.groups, ["acme", "acme/ops"]);
    let linked = admit(
        &c,
        &ExternalIdentity {
            subject: "alice-sub".into(),
            ..mailed("corp", "alice@example.com", true)
        },
    )
    .unwrap();
    assert!(linked.local_user);
    assert_eq!(linked.scopes, ["app", "api:write"]);
    assert!(admit(&c, &who("open", "x")).unwrap().scopes.is_empty());
}

#[test]
fn what_is_kept_of_the_person_is_bounded_and_plain() {
    let c = config();
    let mut many: Vec<String> = (0..300).map(|i| format!("g{i}")).collect();
    many.push("bad\ngroup".into());
    let identity = ExternalIdentity {
        groups: many,
        name: Some("Eve\u{7}".into()),
        ..mailed("open", "Eve@Example.com", false)
    };
    let a = admit(&c, &identity).unwrap();
    assert_eq!(a.groups.len(), MAX_GROUPS);
    assert!(a.groups.iter().all(|g| !g.contains('\n')));
    assert_eq!(a.name, None);
    assert_eq!(a.email.as_deref(), Some("Eve@example.com"));
    assert!(!a.email_verified);
    let odd = admit(&c, &mailed("open", "a@b@c.com", true)).unwrap();
    assert_eq!(odd.email, None);
}

#[test]
fn every_refusal_has_a_public_message_naming_no_value() {
    for refusal in [
        Refusal::UnknownProvider,
        Refusal::BadSubject,
        Refusal::NoEmail,
        Refusal::EmailUnverified,
        Refusal::EmailMalformed,
        Refusal::EmailNotAllowed,
        Refusal::HostedDomainNotAllowed,
        Refusal::NotInGroup,
        Refusal::NotInOrgOrTeam,
    ] {
        assert!(!refusal.message().is_empty());
        assert!(refusal.reason().starts_with("federation_"));
        assert!(!refusal.gate().is_empty());
    }
}
