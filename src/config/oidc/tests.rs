//! The OpenID settings of `[[users]]` and `[[clients]]`: defaults, values, the built-in
//! scopes, and where each refusal points.

use crate::config::{Config, IdTokenClaims, UserClaims};
use crate::tokens::jose::Alg;

const SERVER: &str = r#"[server]
listen = "127.0.0.1:8443"
public_url = "https://gw.example.com"
"#;

const HASH: &str =
    "$argon2id$v=19$m=8,t=1,p=1$c29tZXNhbHRzYWx0$YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXowMTIzNDU";

fn err(text: &str) -> String {
    Config::from_toml_str(text).unwrap_err().to_string()
}

fn user(extra: &str) -> String {
    format!("[[users]]\nname = \"alice\"\npassword = \"{HASH}\"\nscopes = [\"openid\"]\n{extra}")
}

fn client(extra: &str) -> String {
    format!(
        "[[clients]]\nid = \"rp\"\ntype = \"public\"\nredirect_uris = [\"https://rp.example/cb\"]\nscopes = [\"openid\"]\n{extra}"
    )
}

#[test]
fn defaults_are_rs256_scope_claims_and_nothing_else() {
    let c = Config::from_toml_str(&format!("{SERVER}{}{}", user(""), client(""))).unwrap();
    assert_eq!(c.users[0].claims, UserClaims::default());
    let rp = &c.clients[0];
    assert_eq!(rp.id_token_alg, Alg::Rs256);
    assert_eq!(rp.id_token_claims, IdTokenClaims::Scopes);
    assert!(rp.post_logout_redirect_uris.is_empty());
    assert_eq!(rp.backchannel_logout_uri, None);
}

#[test]
fn values_are_kept() {
    let c = Config::from_toml_str(&format!(
        "{SERVER}{}{}",
        user("email = \"alice@example.com\"\ndisplay_name = \"Alice Liddell\"\ngroups = [\"admins\", \"dev\", \"admins\"]\n"),
        client("id_token_signed_response_alg = \"EdDSA\"\nid_token_claims = \"minimal\"\npost_logout_redirect_uris = [\"https://rp.example/bye\", \"http://127.0.0.1:8080/bye\"]\nbackchannel_logout_uri = \"https://rp.example/backchannel\"\n"),
    ))
    .unwrap();
    assert_eq!(
        c.users[0].claims,
        UserClaims {
            email: Some("alice@example.com".into()),
            display_name: Some("Alice Liddell".into()),
            groups: vec!["admins".into(), "dev".into()],
        }
    );
    let rp = &c.clients[0];
    assert_eq!(rp.id_token_alg, Alg::EdDsa);
    assert_eq!(rp.id_token_claims, IdTokenClaims::Minimal);
    assert_eq!(
        rp.post_logout_redirect_uris,
        ["https://rp.example/bye", "http://127.0.0.1:8080/bye"]
    );
    assert_eq!(
        rp.backchannel_logout_uri.as_deref(),
        Some("https://rp.example/backchannel")
    );
}

#[test]
fn builtin_scopes_need_no_scopes_entry() {
    let text = format!(
        "{SERVER}[scopes]\napp = \"The app\"\n[[users]]\nname = \"alice\"\npassword = \"{HASH}\"\nscopes = [\"app\", \"openid\", \"profile\", \"email\", \"groups\", \"offline_access\"]\n[[clients]]\nid = \"rp\"\ntype = \"public\"\nredirect_uris = [\"https://rp.example/cb\"]\nscopes = [\"openid\", \"profile\", \"offline_access\"]\n"
    );
    let c = Config::from_toml_str(&text).unwrap();
    assert_eq!(c.clients[0].scopes, ["openid", "profile", "offline_access"]);
    // Declared or built in; anything else is still a typo.
    let typo = text.replace(
        "\"offline_access\"]\n[[clients]]",
        "\"ofline_access\"]\n[[clients]]",
    );
    assert!(
        err(&typo).contains("users[0].scopes[5]: `ofline_access` is not declared in [scopes]"),
        "{}",
        err(&typo)
    );
}

#[test]
fn refusals_name_line_and_key() {
    let cases: Vec<(String, &str)> = vec![
        (
            format!("{SERVER}{}", user("email = \"alice\"\n")),
            "<string>:8: users[0].email: is not an email address",
        ),
        (
            format!("{SERVER}{}", user("display_name = \" \"\n")),
            "<string>:8: users[0].display_name: must not be empty",
        ),
        (
            format!("{SERVER}{}", user("groups = [\"ok\", \"a\\nb\"]\n")),
            "<string>:8: users[0].groups[1]: must not contain control characters",
        ),
        (
            format!("{SERVER}{}", client("id_token_signed_response_alg = \"none\"\n")),
            "<string>:9: clients[0].id_token_signed_response_alg: `none` is not one of",
        ),
        (
            format!("{SERVER}{}", client("id_token_signed_response_alg = \"HS256\"\n")),
            "clients[0].id_token_signed_response_alg: `HS256` is not one of",
        ),
        (
            format!("{SERVER}{}", client("id_token_claims = \"all\"\n")),
            "<string>:9: clients[0].id_token_claims: `all` is not one of \"scopes\", \"minimal\"",
        ),
        (
            format!("{SERVER}{}", client("post_logout_redirect_uris = [\"http://rp.example/bye\"]\n")),
            "<string>:9: clients[0].post_logout_redirect_uris[0]: http:// is allowed only for loopback",
        ),
        (
            format!("{SERVER}{}", client("post_logout_redirect_uris = [\"https://rp.example/bye#x\"]\n")),
            "clients[0].post_logout_redirect_uris[0]: must not have a fragment",
        ),
        (
            format!("{SERVER}{}", client("backchannel_logout_uri = \"com.example.app:/logout\"\n")),
            "<string>:9: clients[0].backchannel_logout_uri: must be an https:// URL",
        ),
        (
            format!("{SERVER}{}", client("backchannel_logout_uri = \"http://rp.example/bc\"\n")),
            "clients[0].backchannel_logout_uri: http:// is allowed only for loopback",
        ),
        (
            format!("{SERVER}{}", client("id_token_alg = \"RS256\"\n")),
            "unknown field `id_token_alg`",
        ),
    ];
    for (text, expected) in cases {
        let got = err(&text);
        assert!(got.contains(expected), "expected {expected:?} in {got:?}");
    }
}

#[test]
fn a_user_has_at_most_a_hundred_groups() {
    let groups: Vec<String> = (0..101).map(|i| format!("\"g{i}\"")).collect();
    let text = format!(
        "{SERVER}{}",
        user(&format!("groups = [{}]\n", groups.join(", ")))
    );
    assert!(err(&text).contains("users[0].groups[100]: a user has at most 100 groups"));
}
