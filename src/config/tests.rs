//! Configuration tests: what is accepted, what every refusal says, and where it points.

use super::*;

const SERVER: &str = r#"[server]
listen = "127.0.0.1:8443"
public_url = "https://gw.example.com"
"#;

fn err(text: &str) -> String {
    Config::from_toml_str(text).unwrap_err().to_string()
}

#[test]
fn minimal_file_gets_safe_defaults() {
    let c = Config::from_toml_str(SERVER).unwrap();
    assert_eq!(c.server.tls, TlsMode::SelfSigned);
    assert_eq!(c.server.public_url.origin, "https://gw.example.com");
    assert_eq!(c.server.public_url.host, "gw.example.com");
    assert_eq!(c.server.data_dir, PathBuf::from("data"));
    assert!(c.server.trusted_proxies.is_empty());
    assert_eq!(c.server.limits.header_bytes, 16 * 1024);
    assert_eq!(c.server.limits.header_timeout, Duration::from_secs(30));
    assert_eq!(c.log.format, LogFormat::Text);
    assert!(c.log.access);
    assert!(c.routes.is_empty());
}

#[test]
fn route_defaults_and_values() {
    let c = Config::from_toml_str(&format!(
        r#"{SERVER}
[[routes]]
path = "/api/"
host = "API.example.com"
upstream = "https://10.0.0.5:9443/v1/"
auth = "bearer"
scopes = ["api:read", "api:write"]
strip_prefix = true
body_limit = "1MiB"
response_timeout = "2s"
[[routes]]
path = "/"
upstream = "static://204"
auth = "none"
"#
    ))
    .unwrap();
    let api = &c.routes[0];
    assert_eq!(api.host.as_deref(), Some("api.example.com"));
    assert_eq!(api.auth, AuthMode::Bearer);
    assert_eq!(api.scopes, ["api:read", "api:write"]);
    assert!(api.strip_prefix && !api.preserve_host);
    assert_eq!(api.body_limit, 1 << 20);
    assert_eq!(api.connect_timeout, Duration::from_secs(5));
    assert_eq!(api.response_timeout, Duration::from_secs(2));
    match &api.upstream {
        Upstream::Http(up) => {
            assert_eq!(up.authority.as_str(), "10.0.0.5:9443");
            assert_eq!(up.base_path, "/v1");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(c.routes[1].upstream, Upstream::Static(s) if s.as_u16() == 204));
    assert_eq!(c.routes[1].body_limit, 10 << 20);
}

#[test]
fn errors_name_line_and_key() {
    let cases: &[(&str, &str)] = &[
        (
            "[server]\nlisten = \"127.0.0.1:1\"\npublic_url = \"https://x\"\nlistne = 1\n",
            "<string>:4: server.listne: unknown field `listne`",
        ),
        (
            "[server]\nlisten = \"nowhere\"\npublic_url = \"https://x\"\n",
            "<string>:2: server.listen: `nowhere` is not a socket address",
        ),
        (
            &format!("{SERVER}[[routes]]\npath = \"/\"\nupstream = \"whoami://\"\nauth = \"none\"\n[[routes]]\npath = \"/b\"\nupstream = \"ftp://x\"\nauth = \"none\"\n"),
            "<string>:10: routes[1].upstream: `ftp://x` has an unsupported scheme",
        ),
        (
            &format!("{SERVER}[[routes]]\npath = \"api\"\nupstream = \"whoami://\"\nauth = \"none\"\n"),
            "<string>:5: routes[0].path: must start with `/`",
        ),
        (
            &format!("{SERVER}[[routes]]\npath = \"/a/../b\"\nupstream = \"whoami://\"\nauth = \"none\"\n"),
            "<string>:5: routes[0].path: is not in normal form; write `/b`",
        ),
        (
            &format!("{SERVER}[[routes]]\npath = \"/a\"\nupstream = \"whoami://\"\nauth = \"none\"\n[[routes]]\npath = \"/a/\"\nupstream = \"whoami://\"\nauth = \"none\"\n"),
            "<string>:9: routes[1].path: routes[0] already has this host and path",
        ),
        (
            &format!("{SERVER}[[routes]]\npath = \"/\"\nupstream = \"whoami://\"\nauth = \"none\"\nconnect_timeout = \"5\"\n"),
            "<string>:8: routes[0].connect_timeout: `5` is not a duration",
        ),
        (
            &format!("{SERVER}[[routes]]\npath = \"/\"\nupstream = \"whoami://\"\nauth = \"maybe\"\n"),
            "<string>:7: routes[0].auth: `maybe` is not one of",
        ),
        (
            &format!("{SERVER}[[routes]]\npath = \"/\"\nupstream = \"whoami://\"\n"),
            "routes[0]: missing field `auth`",
        ),
        (
            &format!("{SERVER}[[routes]]\npath = \"/oauth2/x\"\nupstream = \"whoami://\"\nauth = \"none\"\n"),
            "<string>:5: routes[0].path: `/oauth2/` is reserved",
        ),
        (
            &format!("{SERVER}[[routes]]\npath = \"/\"\nupstream = \"whoami://\"\nauth = \"none\"\nscopes = [\"a\"]\n"),
            "<string>:8: routes[0].scopes: scopes need an authenticated route",
        ),
        (
            &format!("{SERVER}[[routes]]\npath = \"/\"\nupstream = \"static://99\"\nauth = \"none\"\n"),
            "<string>:6: routes[0].upstream: `static://99`",
        ),
        (
            "[server]\nlisten = \"127.0.0.1:1\"\npublic_url = \"http://x\"\n",
            "<string>:3: server.public_url: is http:// while the gateway serves TLS",
        ),
        (
            "[server]\nlisten = \"127.0.0.1:1\"\npublic_url = \"https://x/base\"\n",
            "<string>:3: server.public_url: must be an origin only",
        ),
        (
            "[server]\nlisten = \"127.0.0.1:1\"\npublic_url = \"https://x\"\n[server.tls]\nmode = \"files\"\ncert = \"c.pem\"\n",
            "<string>:4: server.tls: mode = \"files\" needs both `cert` and `key`",
        ),
        (
            "[server]\nlisten = \"127.0.0.1:1\"\npublic_url = \"https://x\"\n[server.limits]\nheader_bytes = \"1KiB\"\n",
            "<string>:5: server.limits.header_bytes: must be between 8KiB and 1MiB",
        ),
        (
            "[server]\nlisten = \"127.0.0.1:1\"\npublic_url = \"https://x\"\ntrusted_proxies = [\"10.0.0.0/8\", \"nope\"]\n",
            "<string>:4: server.trusted_proxies[1]: `nope` is not an IP address or CIDR block",
        ),
        (
            "[server]\nlisten = \"127.0.0.1:1\"\npublic_url = \"https://x\n",
            "<string>:3: ",
        ),
        ("", "missing field `server`"),
    ];
    for (text, want) in cases {
        let got = err(text);
        assert!(
            got.contains(want),
            "for:\n{text}\nwant: {want}\ngot:  {got}"
        );
    }
}

#[test]
fn http_public_url_is_allowed_only_with_tls_off() {
    let text = "[server]\nlisten = \"127.0.0.1:1\"\npublic_url = \"http://127.0.0.1:1\"\n[server.tls]\nmode = \"off\"\n";
    let c = Config::from_toml_str(text).unwrap();
    assert_eq!(c.server.tls, TlsMode::Off);
}

#[test]
fn starter_configuration_is_valid() {
    let text = include_str!("../../gateway.toml");
    let c = Config::from_toml_str(text).unwrap();
    assert!(
        c.server.listen.ip().is_loopback(),
        "the starter must listen on loopback"
    );
    assert_ne!(c.server.tls, TlsMode::Off);
}

#[test]
fn store_and_admin_sections() {
    let config = Config::from_toml_str(SERVER).unwrap();
    assert!(matches!(
        config.store.backend,
        StoreBackend::Memory {
            fsync: true,
            compact_after: 67_108_864
        }
    ));
    assert_eq!(config.admin.listen, Some("127.0.0.1:9090".parse().unwrap()));
    assert!(config.warnings().is_empty(), "{:?}", config.warnings());

    let text = format!("{SERVER}\n[store]\nfsync = false\n[admin]\nlisten = \"0.0.0.0:9090\"\n");
    let config = Config::from_toml_str(&text).unwrap();
    let warnings = config.warnings().join("\n");
    assert!(warnings.contains("store.fsync = false"), "{warnings}");
    assert!(warnings.contains("not loopback"), "{warnings}");

    let off = format!("{SERVER}\n[admin]\nlisten = \"off\"\n");
    assert_eq!(Config::from_toml_str(&off).unwrap().admin.listen, None);

    for (extra, key) in [
        ("[store]\nbackend = \"disk\"\n", "store.backend"),
        ("[store]\nbackend = \"redis\"\n", "store.url"),
        (
            "[store]\nbackend = \"redis\"\nurl = \"redis://:pw@h:6379\"\n",
            "store.url",
        ),
        ("[store]\nurl = \"redis://h:6379\"\n", "store.url"),
        ("[store]\ncompact_after = \"1KiB\"\n", "store.compact_after"),
        ("[admin]\nlisten = \"127.0.0.1:8443\"\n", "admin.listen"),
        ("[admin]\nlisten = \"nowhere\"\n", "admin.listen"),
        ("[admin]\ntoken = \"literal-secret-value\"\n", "admin.token"),
    ] {
        let message = err(&format!("{SERVER}\n{extra}"));
        assert!(message.contains(key), "{extra}: {message}");
        assert!(
            !message.contains(":pw@"),
            "never echoes a password: {message}"
        );
    }
}

#[test]
fn access_token_algorithm() {
    let c = Config::from_toml_str(SERVER).unwrap();
    assert_eq!(c.tokens.access_alg, AccessAlg::Hs256);
    for (text, alg) in [
        ("HS256", AccessAlg::Hs256),
        ("ES256", AccessAlg::Jws(crate::tokens::jose::Alg::Es256)),
        ("EdDSA", AccessAlg::Jws(crate::tokens::jose::Alg::EdDsa)),
    ] {
        let c =
            Config::from_toml_str(&format!("{SERVER}[tokens]\nalgorithm = \"{text}\"\n")).unwrap();
        assert_eq!(c.tokens.access_alg, alg);
    }
    for bad in ["RS256", "es256", "none", ""] {
        let e = err(&format!("{SERVER}[tokens]\nalgorithm = \"{bad}\"\n"));
        assert!(e.contains("tokens.algorithm"), "{e}");
        assert!(e.contains(":5:"), "{e}");
    }
}

#[test]
fn assertion_is_off_by_default_and_needs_an_authenticated_route() {
    let route = |auth: &str, extra: &str| {
        format!(
            "{SERVER}\n[[routes]]\npath = \"/\"\nupstream = \"http://127.0.0.1:3000\"\nauth = \"{auth}\"\n{extra}"
        )
    };
    let c = Config::from_toml_str(&route("session", "")).unwrap();
    assert!(!c.routes[0].assertion);
    let c = Config::from_toml_str(&route("bearer", "assertion = true")).unwrap();
    assert!(c.routes[0].assertion);
    let e = err(&route("none", "assertion = true"));
    assert!(e.contains("routes[0].assertion"), "{e}");
    assert!(e.contains("needs auth = \"bearer\" or \"session\""), "{e}");
}

#[test]
fn second_factor_settings() {
    let c = Config::from_toml_str(SERVER).unwrap();
    assert_eq!(c.mfa.issuer, "gw.example.com");
    assert_eq!(
        c.mfa.secret_key,
        SecretRef::File(PathBuf::from("data").join("mfa.key"))
    );
    let route = |auth: &str, extra: &str| {
        format!(
            "{SERVER}\n[[routes]]\npath = \"/\"\nupstream = \"http://127.0.0.1:3000\"\nauth = \"{auth}\"\n{extra}"
        )
    };
    assert!(!Config::from_toml_str(&route("session", "")).unwrap().routes[0].mfa);
    assert!(
        Config::from_toml_str(&route("bearer", "mfa = true"))
            .unwrap()
            .routes[0]
            .mfa
    );
    let e = err(&route("none", "mfa = true"));
    assert!(e.contains("routes[0].mfa"), "{e}");
    let e = err(&format!("{SERVER}[mfa]\nissuer = \"a:b\"\n"));
    assert!(e.contains("mfa.issuer") && e.contains("':'"), "{e}");
    let e = err(&format!("{SERVER}[mfa]\nsecret_key = \"literal\"\n"));
    assert!(e.contains("mfa.secret_key"), "{e}");
    let e = err(&format!(
        "{SERVER}[mfa]\nsecret_key = \"env:AUTHGATE_TEST_NO_SUCH_VAR\"\n"
    ));
    assert!(e.contains("mfa.secret_key"), "{e}");
    let e = err(&format!("{SERVER}[mfa]\nsecond = true\n"));
    assert!(e.contains("second"), "unknown keys are errors: {e}");
    let c = Config::from_toml_str(&format!(
        "{SERVER}[mfa]\nissuer = \"Example Corp\"\n[[users]]\nname = \"a\"\npassword = \"$argon2id$v=19$m=19456,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"\nmfa = true\n"
    ))
    .unwrap();
    assert_eq!(c.mfa.issuer, "Example Corp");
    assert!(c.users[0].mfa);
}

#[test]
fn passkeys_need_a_host_name_for_the_relying_party_id() {
    assert!(!Config::from_toml_str(SERVER).unwrap().mfa.passkeys);
    let on = format!("{SERVER}[mfa]\npasskeys = true\n");
    assert!(Config::from_toml_str(&on).unwrap().mfa.passkeys);
    for ip in ["127.0.0.1:8443", "[::1]:8443", "192.0.2.7"] {
        let text =
            format!("[server]\nlisten = \"127.0.0.1:8443\"\npublic_url = \"https://{ip}\"\n[mfa]\npasskeys = true\n");
        let e = err(&text);
        assert!(e.contains(":5: mfa.passkeys:"), "{e}");
        assert!(e.contains("IP address"), "{e}");
        // Without passkeys an IP address is fine.
        let off = text.replace("passkeys = true", "passkeys = false");
        assert!(!Config::from_toml_str(&off).unwrap().mfa.passkeys);
    }
}
