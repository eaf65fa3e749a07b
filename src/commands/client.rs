//! `authgate client add | list | remove | rotate-secret`: the `[[clients]]` of the
//! configuration file.
//!
//! A confidential client's secret is 256 bits from the OS generator
//! ([`crate::tokens::opaque::new_token`]); the file keeps only `sha256:` and its hex digest,
//! which is what the token endpoint compares in constant time. The secret is printed once, on
//! standard output, after the file has been written, and never again: `rotate-secret` is the
//! way to get a new one. Whether a client is acceptable (id, redirect URIs, grants, scopes)
//! is decided by the configuration validator alone, through [`ConfigFile::save`].

use toml_edit::{value, Array, Table};

use super::config_file::{ConfigFile, Section};
use super::{note, print_out, CommandError};
use crate::cli::{ClientAddArgs, ClientCommand, ClientIdArgs, ClientType, ConfigArg, GrantArg};
use crate::config::{ClientConfig, ClientKind, Config, GrantType};
use crate::tokens::opaque::{new_token, TokenHash};

pub fn run(command: &ClientCommand) -> Result<(), CommandError> {
    match command {
        ClientCommand::Add(args) => add(args),
        ClientCommand::List(args) => list(args),
        ClientCommand::Remove(args) => remove(args),
        ClientCommand::RotateSecret(args) => rotate_secret(args),
    }
}

/// `client add`: appends a `[[clients]]` entry and prints a confidential client's secret.
pub fn add(args: &ClientAddArgs) -> Result<(), CommandError> {
    let mut file = ConfigFile::open(&args.config.config)?;
    let secret = add_to(&mut file, args)?;
    let config = file.save()?;
    if let Some(secret) = &secret {
        show_secret(secret, &args.id, file.path())?;
    }
    let added = config.clients.iter().find(|c| c.id == args.id);
    note(&format!(
        "{}: added client `{}` ({}); a running gateway applies it when restarted",
        file.path().display(),
        args.id,
        added.map(describe).unwrap_or_default()
    ));
    Ok(())
}

/// The edit behind `client add`, without writing: returns the new secret, if any.
fn add_to(file: &mut ConfigFile, args: &ClientAddArgs) -> Result<Option<String>, CommandError> {
    if file.position(Section::Clients, &args.id).is_some() {
        return Err(CommandError::BadArguments(format!(
            "{}: a client with id `{}` exists already; choose another id, or use `authgate client rotate-secret` or `client remove`",
            file.path().display(),
            args.id
        )));
    }
    let secret = (args.kind == ClientType::Confidential).then(new_token);
    file.append(Section::Clients, client_table(args, secret.as_deref()))?;
    Ok(secret)
}

/// The new `[[clients]]` table. Only what was asked for is written; the validator's
/// defaults (grants by type, name = id) apply to the rest, as for a hand-written entry.
fn client_table(args: &ClientAddArgs, secret: Option<&str>) -> Table {
    let mut table = Table::new();
    table.insert("id", value(&args.id));
    table.insert(
        "type",
        value(match args.kind {
            ClientType::Public => "public",
            ClientType::Confidential => "confidential",
        }),
    );
    if let Some(name) = &args.name {
        table.insert("name", value(name));
    }
    if let Some(secret) = secret {
        table.insert("secret", value(secret_setting(secret)));
    }
    if !args.redirect_uris.is_empty() {
        table.insert(
            "redirect_uris",
            value(Array::from_iter(args.redirect_uris.iter())),
        );
    }
    if !args.grants.is_empty() {
        let mut grants: Vec<&str> = Vec::new();
        for grant in &args.grants {
            let name = grant_type(*grant).as_str();
            if !grants.contains(&name) {
                grants.push(name);
            }
        }
        table.insert("grants", value(Array::from_iter(grants)));
    }
    if !args.scopes.is_empty() {
        table.insert("scopes", value(Array::from_iter(args.scopes.iter())));
    }
    if args.first_party {
        table.insert("first_party", value(true));
    }
    table
}

fn grant_type(grant: GrantArg) -> GrantType {
    match grant {
        GrantArg::AuthorizationCode => GrantType::AuthorizationCode,
        GrantArg::RefreshToken => GrantType::RefreshToken,
        GrantArg::ClientCredentials => GrantType::ClientCredentials,
    }
}

/// What the file stores of a secret.
fn secret_setting(secret: &str) -> String {
    format!("sha256:{}", TokenHash::of(secret).to_hex())
}

/// The one time a secret is shown.
fn show_secret(secret: &str, id: &str, path: &std::path::Path) -> Result<(), CommandError> {
    print_out(&format!(
        "client_id: {id}\nclient_secret: {secret}\nStore this secret now: it cannot be shown again ({} keeps only its SHA-256 hash).\n",
        path.display()
    ))
    .map_err(|_| {
        CommandError::Failed(format!(
            "{}: the file was changed, but the secret of `{id}` could not be printed; run `authgate client rotate-secret {id}` for a new one",
            path.display()
        ))
    })
}

/// `client list`: the clients as the gateway will load them.
pub fn list(args: &ConfigArg) -> Result<(), CommandError> {
    let config = Config::load(&args.config)?;
    if config.clients.is_empty() {
        note(&format!("{}: no clients", args.config.display()));
        return Ok(());
    }
    print_out(&client_table_text(&config.clients))
}

/// One line per client under a header, in aligned columns.
fn client_table_text(clients: &[ClientConfig]) -> String {
    let mut rows: Vec<[String; 6]> = vec![[
        "ID".to_owned(),
        "TYPE".to_owned(),
        "FIRST-PARTY".to_owned(),
        "GRANTS".to_owned(),
        "SCOPES".to_owned(),
        "REDIRECT URIS".to_owned(),
    ]];
    for c in clients {
        rows.push([
            c.id.clone(),
            kind_name(c.kind).to_owned(),
            if c.first_party { "yes" } else { "no" }.to_owned(),
            or_dash(
                c.grants
                    .iter()
                    .map(|g| g.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            or_dash(c.scopes.join(",")),
            or_dash(c.redirect_uris.join(" ")),
        ]);
    }
    columns(&rows)
}

/// Aligned columns separated by two spaces; the last column is not padded.
pub(crate) fn columns<const N: usize>(rows: &[[String; N]]) -> String {
    let mut widths = [0usize; N];
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == N {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<width$}  ", width = widths[i]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

pub(crate) fn or_dash(text: String) -> String {
    if text.is_empty() {
        "-".to_owned()
    } else {
        text
    }
}

fn kind_name(kind: ClientKind) -> &'static str {
    match kind {
        ClientKind::Public => "public",
        ClientKind::Confidential => "confidential",
    }
}

/// `type; grants: ...; scopes: ...`, for notes.
fn describe(client: &ClientConfig) -> String {
    format!(
        "{}; grants: {}; scopes: {}",
        kind_name(client.kind),
        or_dash(
            client
                .grants
                .iter()
                .map(|g| g.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        ),
        or_dash(client.scopes.join(" "))
    )
}

/// `client remove`.
pub fn remove(args: &ClientIdArgs) -> Result<(), CommandError> {
    let mut file = ConfigFile::open(&args.config.config)?;
    remove_from(&mut file, &args.id)?;
    file.save()?;
    note(&format!(
        "{}: removed client `{}`; a running gateway applies it when restarted. Access tokens already issued to it stay valid until they expire",
        file.path().display(),
        args.id
    ));
    Ok(())
}

fn remove_from(file: &mut ConfigFile, id: &str) -> Result<(), CommandError> {
    if file.remove(Section::Clients, id) {
        Ok(())
    } else {
        Err(no_such_client(file, id))
    }
}

fn no_such_client(file: &ConfigFile, id: &str) -> CommandError {
    CommandError::BadArguments(format!(
        "{}: there is no client with id `{id}`",
        file.path().display()
    ))
}

/// `client rotate-secret`.
pub fn rotate_secret(args: &ClientIdArgs) -> Result<(), CommandError> {
    let mut file = ConfigFile::open(&args.config.config)?;
    let secret = rotate_in(&mut file, &args.id)?;
    file.save()?;
    show_secret(&secret, &args.id, file.path())?;
    note(&format!(
        "{}: replaced the secret of client `{}`; the old one stops working when a running gateway restarts",
        file.path().display(),
        args.id
    ));
    Ok(())
}

/// Replaces the entry's `secret` with the hash of a new one, keeping the value's comment.
fn rotate_in(file: &mut ConfigFile, id: &str) -> Result<String, CommandError> {
    let path = file.path().display().to_string();
    let Some(entry) = file.entry_mut(Section::Clients, id) else {
        return Err(no_such_client(file, id));
    };
    let kind = entry.get("type").and_then(|t| t.as_str()).unwrap_or("");
    if kind != "confidential" {
        return Err(CommandError::BadArguments(format!(
            "{path}: client `{id}` is not confidential: a public client has no secret to rotate"
        )));
    }
    let secret = new_token();
    let mut new_value = toml_edit::Value::from(secret_setting(&secret));
    match entry.get_mut("secret").and_then(|item| item.as_value_mut()) {
        Some(old) => {
            *new_value.decor_mut() = old.decor().clone();
            *old = new_value;
        }
        None => {
            entry.insert("secret", toml_edit::Item::Value(new_value));
        }
    }
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::cli::ConfigArg;

    const FILE: &str = r#"# authgate test configuration
[server]
listen = "127.0.0.1:8443"        # loopback
public_url = "https://gw.example.com"

# OAuth clients, managed with `authgate client`.

# The single-page app.
[[clients]]
id = "spa"   # keep this id: the app is built with it
type = "public"
redirect_uris = ["https://app.example.com/callback"]
scopes = ["api:read"]

# Nightly billing export.
[[clients]]
id = "billing"
type = "confidential"
secret = "sha256:0000000000000000000000000000000000000000000000000000000000000000" # rotated by ops
grants = ["client_credentials"]

# Routes come last.
[[routes]]
path = "/"
upstream = "whoami://"
auth = "none"
"#;

    fn file(text: &str) -> ConfigFile {
        ConfigFile::from_text(Path::new("/nonexistent/gateway.toml"), text).unwrap()
    }

    fn args(id: &str, kind: ClientType) -> ClientAddArgs {
        ClientAddArgs {
            id: id.to_owned(),
            kind,
            redirect_uris: Vec::new(),
            scopes: Vec::new(),
            grants: Vec::new(),
            name: None,
            first_party: false,
            config: ConfigArg {
                config: "gateway.toml".into(),
            },
        }
    }

    #[test]
    fn the_test_file_is_valid() {
        file(FILE).validate().unwrap();
    }

    #[test]
    fn add_keeps_every_comment_and_the_layout() {
        let mut f = file(FILE);
        let mut a = args("worker", ClientType::Confidential);
        a.scopes = vec!["api:read".into(), "api:write".into()];
        let secret = add_to(&mut f, &a).unwrap().unwrap();
        let text = f.text();
        // Every original line is still there, in order.
        assert!(text.starts_with(&FILE[..FILE.find("# Routes come last.").unwrap()]));
        assert!(text.contains("# Routes come last.\n[[routes]]"));
        // The new entry follows the last client, before the routes.
        let new = text.find("id = \"worker\"").unwrap();
        assert!(text.find("id = \"billing\"").unwrap() < new);
        assert!(new < text.find("[[routes]]").unwrap());
        // Only the hash of the secret is stored.
        assert!(!text.contains(&secret));
        assert!(text.contains(&format!(
            "secret = \"sha256:{}\"",
            TokenHash::of(&secret).to_hex()
        )));
        assert!(text.contains("scopes = [\"api:read\", \"api:write\"]"));
        let config = f.validate().unwrap();
        let worker = config.clients.iter().find(|c| c.id == "worker").unwrap();
        assert_eq!(worker.kind, ClientKind::Confidential);
        assert!(worker.secret_hash.unwrap().matches(&secret));
        assert_eq!(worker.grants, [GrantType::ClientCredentials]);
    }

    #[test]
    fn a_new_entry_reads_like_a_hand_written_one() {
        let mut f = file(FILE);
        let mut a = args("web", ClientType::Public);
        a.redirect_uris = vec!["https://web.example.com/cb".into()];
        a.grants = vec![GrantArg::AuthorizationCode, GrantArg::RefreshToken];
        a.name = Some("The Web App".into());
        a.first_party = true;
        assert_eq!(add_to(&mut f, &a).unwrap(), None);
        let text = f.text();
        let expected = "\n[[clients]]\nid = \"web\"\ntype = \"public\"\nname = \"The Web App\"\nredirect_uris = [\"https://web.example.com/cb\"]\ngrants = [\"authorization_code\", \"refresh_token\"]\nfirst_party = true\n\n# Routes come last.";
        assert!(text.contains(expected), "{text}");
        let config = f.validate().unwrap();
        let web = config.clients.iter().find(|c| c.id == "web").unwrap();
        assert!(web.first_party);
        assert_eq!(web.name, "The Web App");
        assert!(web.secret_hash.is_none());
    }

    #[test]
    fn the_first_client_of_a_file_gets_its_own_section() {
        let text = "[server]\nlisten = \"127.0.0.1:8443\"\npublic_url = \"https://gw.example.com\"\n\n[log]\nlevel = \"info\"\n# the end\n";
        let mut f = file(text);
        let mut a = args("cli", ClientType::Public);
        a.redirect_uris = vec!["http://127.0.0.1/cb".into()];
        add_to(&mut f, &a).unwrap();
        let out = f.text();
        assert!(
            out.starts_with(text.trim_end_matches("# the end\n")),
            "{out}"
        );
        assert!(out.contains("\n[[clients]]\nid = \"cli\""), "{out}");
        assert!(out.contains("# the end"), "{out}");
        f.validate().unwrap();
    }

    #[test]
    fn an_existing_id_is_refused() {
        let mut f = file(FILE);
        let err = add_to(&mut f, &args("spa", ClientType::Public)).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("`spa` exists already"), "{err}");
        assert_eq!(f.text(), FILE);
    }

    #[test]
    fn invalid_redirect_uris_are_refused_by_the_validator() {
        for (uri, reason) in [
            ("http://app.example.com/cb", "loopback"),
            ("https://app.example.com/cb#x", "fragment"),
            ("https://*.example.com/cb", "wildcards"),
            ("javascript:alert(1)", "not allowed"),
        ] {
            let mut f = file(FILE);
            let mut a = args("web", ClientType::Public);
            a.redirect_uris = vec![uri.into()];
            add_to(&mut f, &a).unwrap();
            let err = f.validate().unwrap_err();
            assert_eq!(err.exit_code(), 2);
            let text = err.to_string();
            let line = f.text().lines().position(|l| l.contains(uri)).unwrap() + 1;
            assert!(
                text.starts_with(&format!(
                    "/nonexistent/gateway.toml:{line}: clients[2].redirect_uris[0]: "
                )),
                "{text}"
            );
            assert!(text.contains(reason), "{text}");
            assert!(text.ends_with("nothing was written)"), "{text}");
        }
    }

    #[test]
    fn other_refusals_come_from_the_validator_too() {
        let cases: [(&str, ClientType, &[GrantArg], &str); 3] = [
            ("bad id!", ClientType::Public, &[], "clients[2].id"),
            (
                "web",
                ClientType::Public,
                &[GrantArg::ClientCredentials],
                "clients[2].grants",
            ),
            // authorization_code by default, and no redirect URI.
            ("web", ClientType::Public, &[], "clients[2].redirect_uris"),
        ];
        for (id, kind, grants, key) in cases {
            let mut f = file(FILE);
            let mut a = args(id, kind);
            a.grants = grants.to_vec();
            add_to(&mut f, &a).unwrap();
            let err = f.validate().unwrap_err().to_string();
            assert!(err.contains(&format!(": {key}: ")), "{err}");
        }
    }

    #[test]
    fn remove_takes_the_entry_and_its_own_comment_only() {
        let mut f = file(FILE);
        remove_from(&mut f, "spa").unwrap();
        let text = f.text();
        assert!(!text.contains("spa"));
        assert!(!text.contains("# The single-page app."));
        assert!(text.contains("# OAuth clients, managed with `authgate client`.\n\n# Nightly billing export.\n[[clients]]\nid = \"billing\""), "{text}");
        f.validate().unwrap();

        remove_from(&mut f, "billing").unwrap();
        let text = f.text();
        assert!(!text.contains("[[clients]]"));
        assert!(!text.contains("# Nightly billing export."));
        // The section comment stays, and so does everything else.
        assert!(text.contains("# OAuth clients, managed with `authgate client`.\n\n# Routes come last.\n[[routes]]"), "{text}");
        assert!(text.contains("listen = \"127.0.0.1:8443\"        # loopback"));
        f.validate().unwrap();
    }

    #[test]
    fn removing_an_unknown_client_is_refused() {
        let mut f = file(FILE);
        let err = remove_from(&mut f, "nobody").unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert_eq!(f.text(), FILE);
    }

    #[test]
    fn rotate_replaces_only_the_hash() {
        let mut f = file(FILE);
        let secret = rotate_in(&mut f, "billing").unwrap();
        let expected = FILE.replace(
            "sha256:0000000000000000000000000000000000000000000000000000000000000000",
            &secret_setting(&secret),
        );
        assert_eq!(f.text(), expected);
        let config = f.validate().unwrap();
        let billing = config.clients.iter().find(|c| c.id == "billing").unwrap();
        assert!(billing.secret_hash.unwrap().matches(&secret));
        assert_ne!(rotate_in(&mut f, "billing").unwrap(), secret);
    }

    #[test]
    fn rotate_refuses_public_and_unknown_clients() {
        let mut f = file(FILE);
        let err = rotate_in(&mut f, "spa").unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("not confidential"), "{err}");
        assert_eq!(rotate_in(&mut f, "nobody").unwrap_err().exit_code(), 2);
        assert_eq!(f.text(), FILE);
    }

    #[test]
    fn inline_arrays_are_edited_too() {
        let text = format!(
            "clients = [\n  {{ id = \"a\", type = \"confidential\", secret = \"sha256:{}\" }},\n]\n\n{}",
            "0".repeat(64),
            &FILE[FILE.find("[server]").unwrap()..FILE.find("# OAuth clients").unwrap()]
        );
        let mut f = file(&text);
        f.validate().unwrap();
        add_to(&mut f, &args("b", ClientType::Confidential)).unwrap();
        assert!(
            f.text()
                .contains("\" },\n  { id = \"b\", type = \"confidential\", secret = \"sha256:"),
            "{}",
            f.text()
        );
        let secret = rotate_in(&mut f, "a").unwrap();
        let config = f.validate().unwrap();
        assert_eq!(config.clients.len(), 2);
        assert!(config.clients[0].secret_hash.unwrap().matches(&secret));
        remove_from(&mut f, "a").unwrap();
        let config = f.validate().unwrap();
        assert_eq!(config.clients.len(), 1);
        assert_eq!(config.clients[0].id, "b");
        assert!(
            f.text().starts_with("clients = [\n  { id = \"b\""),
            "{}",
            f.text()
        );
    }

    #[test]
    fn list_shows_no_secret() {
        let config = file(FILE).validate().unwrap();
        let table = client_table_text(&config.clients);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("ID       TYPE"), "{table}");
        assert!(lines[1].starts_with("spa      public"), "{table}");
        assert!(lines[2].contains("client_credentials"), "{table}");
        assert!(!table.contains("sha256"));
    }
}
