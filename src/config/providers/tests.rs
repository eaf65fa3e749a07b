//! `[[providers]]`, `identities` and `allow`: what is accepted, and every refusal with its line.

use crate::config::*;

const SERVER: &str = r#"[server]
listen = "127.0.0.1:8443"
public_url = "https://gw.example.com"
"#;

fn err(text: &str) -> String {
    Config::from_toml_str(text).unwrap_err().to_string()
}

const HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$2Yr0JpRPmGMaE4pyHyeK0VCrV4Vn5g9P6pVj2hKq3pY";

/// A file holding a client secret (`s3cret` and a newline), for the whole test run.
fn secret_file() -> &'static str {
    static FILE: std::sync::OnceLock<(tempfile::TempDir, String)> = std::sync::OnceLock::new();
    &FILE
        .get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("secret");
            std::fs::write(&path, "s3cret\n").unwrap();
            let shown = path.display().to_string();
            (dir, shown)
        })
        .1
}

/// A provider section with the secret in [`secret_file`].
fn corp(extra: &str) -> String {
    let secret = secret_file();
    format!(
        r#"{SERVER}
[[providers]]
id = "corp"
type = "oidc"
name = "Corp SSO"
issuer = "https://idp.example.com/realms/main"
client_id = "authgate"
client_secret = "file:{secret}"
{extra}
"#
    )
}

#[test]
fn an_oidc_provider_with_its_defaults() {
    let c = Config::from_toml_str(&corp(
        "allow_email_domains = [\"Example.COM\", \"*.corp.example.com\"]\nallow_emails = [\"Bob@Partner.ORG\"]\ngrant_scopes = [\"app\"]\n[providers.group_scopes]\nadmins = [\"api:write\"]",
    ))
    .unwrap();
    let p = &c.providers[0];
    assert_eq!(p.id, "corp");
    assert_eq!(p.name, "Corp SSO");
    assert_eq!(
        p.kind,
        ProviderKind::Oidc {
            issuer: "https://idp.example.com/realms/main".into()
        }
    );
    assert_eq!(p.client_secret.expose(), "s3cret");
    assert!(!format!("{p:?}").contains("s3cret"));
    assert_eq!(p.scopes, ["openid", "email", "profile"]);
    assert_eq!(
        p.gates.allow_email_domains,
        ["example.com", "*.corp.example.com"]
    );
    assert_eq!(p.gates.allow_emails, ["Bob@partner.org"]);
    assert_eq!(p.grant_scopes, ["app"]);
    assert_eq!(p.group_scopes["admins"], ["api:write"]);
    assert!(!p.gates.allow_all);
}

#[test]
fn a_github_provider_with_its_defaults_and_enterprise_urls() {
    let secret = secret_file();
    let base = format!(
        "{SERVER}\n[[providers]]\nid = \"gh\"\ntype = \"github\"\nclient_id = \"Iv1.abc\"\nclient_secret = \"file:{secret}\"\nallow_orgs = [\"Acme\"]\nallow_teams = [\"acme/Platform\"]\n"
    );
    let c = Config::from_toml_str(&base).unwrap();
    let p = &c.providers[0];
    assert_eq!(p.name, "gh");
    assert_eq!(
        p.kind,
        ProviderKind::Github {
            web_url: "https://github.com".into(),
            api_url: "https://api.github.com".into()
        }
    );
    assert_eq!(p.scopes, ["user:email", "read:org"]);
    assert_eq!(p.gates.allow_orgs, ["acme"]);
    assert_eq!(p.gates.allow_teams, ["acme/platform"]);
    let c =
        Config::from_toml_str(&format!("{base}github_url = \"http://127.0.0.1:9999/\"\n")).unwrap();
    assert_eq!(
        c.providers[0].kind,
        ProviderKind::Github {
            web_url: "http://127.0.0.1:9999".into(),
            api_url: "http://127.0.0.1:9999/api/v3".into()
        }
    );
}

#[test]
fn http_issuers_only_on_loopback() {
    for ok in [
        "http://127.0.0.1:9400",
        "http://localhost:9400/x",
        "http://[::1]:9400",
    ] {
        let text = corp("allow_all = true").replace("https://idp.example.com/realms/main", ok);
        assert!(Config::from_toml_str(&text).is_ok(), "{ok}");
    }
}

#[test]
fn every_provider_refusal_names_its_line_and_key() {
    let cases: &[(&str, &str, &str)] = &[
        ("id = \"corp\"", "id = \"co rp\"", "providers[0].id: must be 1 to 64 letters"),
        ("type = \"oidc\"", "type = \"saml\"", "providers[0].type: `saml` is not one of"),
        ("issuer = \"https://idp.example.com/realms/main\"", "issuer = \"http://idp.example.com\"", "providers[0].issuer: `http://idp.example.com`: http is only accepted for a loopback host"),
        ("issuer = \"https://idp.example.com/realms/main\"", "issuer = \"https://idp.example.com/?a=b\"", "must not have a query or fragment"),
        ("issuer = \"https://idp.example.com/realms/main\"", "issuer = \"https://idp.example.com/#x\"", "must not have a query or fragment"),
        ("issuer = \"https://idp.example.com/realms/main\"", "issuer = \"https://u:p@idp.example.com\"", "must not contain user information"),
        ("issuer = \"https://idp.example.com/realms/main\"", "issuer = \"ftp://idp.example.com\"", "must be an https:// URL"),
        ("issuer = \"https://idp.example.com/realms/main\"", "issuer = \"/relative\"", "has no host"),
        ("issuer = \"https://idp.example.com/realms/main\"", "", "providers[0].issuer: type = \"oidc\" needs"),
        ("client_secret = \"file:{secret}\"", "client_secret = \"hunter2\"", "providers[0].client_secret: secrets are never written into the file"),
        ("client_secret = \"file:{secret}\"", "client_secret = \"env:AUTHGATE_TEST_UNSET_X\"", "the environment variable is not set"),
        ("client_id = \"authgate\"", "client_id = \"\"", "providers[0].client_id: must be 1 to 256"),
        ("name = \"Corp SSO\"", "name = \" \"", "providers[0].name: must not be empty"),
    ];
    for (from, to, wanted) in cases {
        let from = from.replace("{secret}", secret_file());
        let text = corp("allow_all = true").replace(&from, to);
        let got = err(&text);
        assert!(got.contains(wanted), "{to}: {got}");
        assert!(got.starts_with("<string>:"), "{got}");
        assert!(!got.contains("hunter2"), "{got}");
    }
}

#[test]
fn gates_are_required_and_checked() {
    let cases: &[(&str, &str)] = &[
        (
            "",
            "providers[0].allow_all: a provider needs at least one gate",
        ),
        ("allow_all = false", "a provider needs at least one gate"),
        (
            "allow_all = true\nallow_emails = [\"a@example.com\"]",
            "providers[0].allow_all: allow_all = true admits everyone",
        ),
        (
            "allow_email_domains = [\"example.com/x\"]",
            "providers[0].allow_email_domains[0]: `example.com/x` is not a host name",
        ),
        (
            "allow_email_domains = [\"a@example.com\"]",
            "is not a host name",
        ),
        (
            "allow_emails = [\"a@evil.com@example.com\"]",
            "providers[0].allow_emails[0]: is not an email address",
        ),
        (
            "allow_emails = [\"\\\"a b\\\"@example.com\"]",
            "is not an email address",
        ),
        (
            "allow_emails = [\"(x)a@example.com\"]",
            "must be a plain address",
        ),
        (
            "allow_groups = [\"\"]",
            "providers[0].allow_groups[0]: must not be empty",
        ),
        (
            "allow_orgs = [\"acme\"]",
            "providers[0].allow_orgs: is only used with type = \"github\"",
        ),
        (
            "allow_teams = [\"acme/x\"]",
            "providers[0].allow_teams: is only used with type = \"github\"",
        ),
        (
            "github_url = \"https://ghe.example.com\"\nallow_all = true",
            "providers[0].github_url: is only used with type = \"github\"",
        ),
        (
            "api_url = \"https://ghe.example.com\"\nallow_all = true",
            "providers[0].api_url: is only used",
        ),
        (
            "allow_all = true\ngrant_scopes = [\"a b\"]",
            "providers[0].grant_scopes[0]: `a b` is not a scope token",
        ),
        (
            "allow_all = true\n[providers.group_scopes]\nadmins = [\"a\\\"b\"]",
            "providers[0].group_scopes.admins[0]: ",
        ),
        (
            "allow_all = true\nscopes = [\"email\"]",
            "providers[0].scopes: must include \"openid\"",
        ),
        (
            "allow_all = true\nscopes = [\"openid\", \"a b\"]",
            "providers[0].scopes[1]: is not a scope token",
        ),
        ("allow_all = true\nflavour = 1", "unknown field `flavour`"),
    ];
    for (extra, wanted) in cases {
        let got = err(&corp(extra));
        assert!(got.contains(wanted), "{extra}: {got}");
    }
}

#[test]
fn github_only_keys_and_team_names() {
    let secret = secret_file();
    let gh = |extra: &str| {
        format!("{SERVER}\n[[providers]]\nid = \"gh\"\ntype = \"github\"\nclient_id = \"c\"\nclient_secret = \"file:{secret}\"\n{extra}\n")
    };
    for (extra, wanted) in [
        (
            "issuer = \"https://github.com\"\nallow_all = true",
            "providers[0].issuer: is only used with type = \"oidc\"",
        ),
        (
            "allow_groups = [\"staff\"]",
            "providers[0].allow_groups: is only used with type = \"oidc",
        ),
        (
            "allow_teams = [\"platform\"]",
            "providers[0].allow_teams[0]: must be `org/team-slug`",
        ),
        (
            "allow_all = true\napi_url = \"http://api.example.com\"",
            "providers[0].api_url: `http://api.example.com`: http is only accepted",
        ),
    ] {
        let got = err(&gh(extra));
        assert!(got.contains(wanted), "{extra}: {got}");
    }
}

#[test]
fn provider_ids_are_unique() {
    let text = corp("allow_all = true")
        + &format!("[[providers]]\nid = \"CORP\"\ntype = \"oidc\"\nissuer = \"https://b.example.com\"\nclient_id = \"x\"\nclient_secret = \"file:{}\"\nallow_all = true\n", secret_file());
    let got = err(&text);
    assert!(
        got.contains("providers[1].id: providers[0] has the same id"),
        "{got}"
    );
    assert!(got.starts_with("<string>:"), "{got}");
}

#[test]
fn grant_scopes_must_be_declared_when_scopes_are() {
    let text = corp("allow_all = true\ngrant_scopes = [\"app\", \"nope\"]")
        + "[scopes]\napp = \"The app\"\n";
    assert!(err(&text).contains("providers[0].grant_scopes[1]: `nope` is not declared in [scopes]"));
}

fn user(extra: &str) -> String {
    format!("[[users]]\nname = \"alice\"\npassword = \"{HASH}\"\n{extra}\n")
}

/// A user who signs in only through a provider has no password; any other user must.
#[test]
fn a_password_is_needed_unless_the_user_has_identities() {
    let linked = corp("allow_all = true")
        + "[[users]]\nname = \"carol\"\nidentities = [\"corp:248289761001\"]\n";
    let c = Config::from_toml_str(&linked).unwrap();
    assert_eq!(c.users[0].password_hash, None);
    let neither = corp("allow_all = true") + "[[users]]\nname = \"dave\"\nscopes = []\n";
    let got = err(&neither);
    assert!(got.contains("users[0].password: is required"), "{got}");
    assert!(got.contains("unless `identities`"), "{got}");
    assert!(got.contains(":1"), "a file:line: {got}");
}

#[test]
fn identities_name_a_provider_and_are_listed_once() {
    let ok = corp("allow_all = true") + &user("identities = [\"corp:248289761001\"]");
    let c = Config::from_toml_str(&ok).unwrap();
    assert_eq!(c.users[0].identities, ["corp:248289761001"]);
    for (extra, wanted) in [
        (
            "identities = [\"248289761001\"]",
            "users[0].identities[0]: must be `PROVIDER:SUB`",
        ),
        (
            "identities = [\"other:1\"]",
            "users[0].identities[0]: `other` is not the id of a [[providers]] entry",
        ),
        (
            "identities = [\"corp:\"]",
            "the subject must be 1 to 255 visible ASCII",
        ),
        ("identities = [\"corp:a b\"]", "the subject must be"),
        (
            "identities = [\"corp:1\", \"corp:1\"]",
            "users[0].identities[1]: users[0] already lists this identity",
        ),
    ] {
        let got = err(&(corp("allow_all = true") + &user(extra)));
        assert!(got.contains(wanted), "{extra}: {got}");
    }
    let twice = corp("allow_all = true")
        + &user("identities = [\"corp:1\"]")
        + &user("identities = [\"corp:1\"]").replace("alice", "bob");
    assert!(err(&twice).contains("users[1].identities[0]: users[0] already lists this identity"));
}

fn route(allow: &str, auth: &str) -> String {
    format!("[[routes]]\npath = \"/app/\"\nupstream = \"static://204\"\nauth = \"{auth}\"\nallow = {allow}\n")
}

#[test]
fn allow_lists_parse_into_rules() {
    let text = corp("allow_all = true")
        + &user("groups = [\"ops\"]")
        + &route(
            r#"["user:alice", "user:corp:42", "provider:corp", "group:corp/admins", "group:ops", "domain:Example.com", "domain:*.example.org", "user:alice"]"#,
            "session",
        );
    let c = Config::from_toml_str(&text).unwrap();
    assert_eq!(
        c.routes[0].allow,
        [
            AllowRule::User("alice".into()),
            AllowRule::User("corp:42".into()),
            AllowRule::Provider("corp".into()),
            AllowRule::Group {
                provider: Some("corp".into()),
                name: "admins".into()
            },
            AllowRule::Group {
                provider: None,
                name: "ops".into()
            },
            AllowRule::Domain("example.com".into()),
            AllowRule::Domain("*.example.org".into()),
        ]
    );
}

#[test]
fn every_allow_refusal() {
    for (allow, auth, wanted) in [
        (
            r#"["user:bob"]"#,
            "session",
            "routes[0].allow[0]: `bob` is not the name of a [[users]] entry",
        ),
        (
            r#"["user:other:1"]"#,
            "session",
            "`other:1` is not PROVIDER:SUB of a configured provider",
        ),
        (
            r#"["provider:other"]"#,
            "bearer",
            "routes[0].allow[0]: `other` is not the id of a [[providers]] entry",
        ),
        (
            r#"["group:other/admins"]"#,
            "session",
            "`other` is not the id of a [[providers]] entry",
        ),
        (r#"["group:corp/"]"#, "session", "must not be empty"),
        (
            r#"["domain:exa mple.com"]"#,
            "session",
            "is not a host name",
        ),
        (
            r#"["alice"]"#,
            "session",
            "must be user:NAME, provider:ID, group:ID/NAME",
        ),
        (r#"["role:admin"]"#, "session", "must be user:NAME"),
        (
            r#"["provider:corp"]"#,
            "none",
            "routes[0].allow: an allow list needs an authenticated route",
        ),
    ] {
        let got = err(&(corp("allow_all = true") + &user("") + &route(allow, auth)));
        assert!(got.contains(wanted), "{allow}: {got}");
        assert!(got.starts_with("<string>:"), "{got}");
    }
}

#[test]
fn a_group_gate_without_the_groups_scope_is_warned_about() {
    let c = Config::from_toml_str(&corp("allow_groups = [\"staff\"]")).unwrap();
    assert!(c
        .warnings()
        .iter()
        .any(|w| w.contains("does not ask for \"groups\"")));
    let c = Config::from_toml_str(&corp(
        "allow_groups = [\"staff\"]\nscopes = [\"openid\", \"groups\"]",
    ))
    .unwrap();
    assert!(!c.warnings().iter().any(|w| w.contains("groups")));
}
