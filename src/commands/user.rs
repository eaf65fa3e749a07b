//! `authgate user add | list | remove`: the `[[users]]` of the configuration file.
//!
//! `user add` reads the password as `hash-password` does (no echo on a terminal, one line
//! from a pipe) and writes only its argon2id hash. Everything except the password is checked
//! first, with the validator, so nobody types a password only to learn that a scope was
//! misspelt.

use toml_edit::{value, Array, Table};

use super::client::{columns, or_dash};
use super::config_file::{ConfigFile, Section};
use super::hash_password::{hash, read_new_password};
use super::{note, print_out, CommandError};
use crate::cli::{ConfigArg, UserAddArgs, UserCommand, UserNameArgs};
use crate::config::Config;

/// A well-formed argon2id PHC string that no password hashes to: stands in for the real hash
/// while the rest of a new entry is validated, before the password is asked for. Never written.
const PLACEHOLDER_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

pub fn run(command: &UserCommand) -> Result<(), CommandError> {
    match command {
        UserCommand::Add(args) => add(args),
        UserCommand::List(args) => list(args),
        UserCommand::Remove(args) => remove(args),
        UserCommand::ResetMfa(args) => reset_mfa(args),
    }
}

/// `user reset-mfa`: through the admin listener, since only the running gateway owns the
/// store (the memory backend's journal).
fn reset_mfa(args: &UserNameArgs) -> Result<(), CommandError> {
    let config = Config::load(&args.config.config)?;
    let client =
        crate::admin::client::AdminClient::from_config(&config).map_err(CommandError::Failed)?;
    let outcome = super::token_admin::runtime()?
        .block_on(client.reset_mfa(&args.name))
        .map_err(CommandError::Failed)?;
    let factors = if outcome.factors_removed {
        "second factors removed"
    } else {
        "had no second factor"
    };
    print_out(&format!(
        "user {}: {factors}; {} grant(s) and every session ended, access tokens issued until now refused\n",
        outcome.user, outcome.grants
    ))
}

/// `user add`.
pub fn add(args: &UserAddArgs) -> Result<(), CommandError> {
    let mut file = ConfigFile::open(&args.config.config)?;
    if file.position(Section::Users, &args.name).is_some() {
        return Err(CommandError::BadArguments(format!(
            "{}: a user named `{}` exists already; remove it first to replace it",
            file.path().display(),
            args.name
        )));
    }
    let mut trial = file.clone();
    trial.append(Section::Users, user_table(args, PLACEHOLDER_HASH))?;
    trial.validate()?;

    let password = read_new_password()?;
    let password_hash = hash(&password)?;
    drop(password);
    file.append(Section::Users, user_table(args, &password_hash))?;
    file.save()?;
    note(&format!(
        "{}: added user `{}` (scopes: {}); a running gateway applies it when restarted",
        file.path().display(),
        args.name,
        or_dash(args.scopes.join(" "))
    ));
    Ok(())
}

fn user_table(args: &UserAddArgs, password_hash: &str) -> Table {
    let mut table = Table::new();
    table.insert("name", value(&args.name));
    table.insert("password", value(password_hash));
    if !args.scopes.is_empty() {
        table.insert("scopes", value(Array::from_iter(args.scopes.iter())));
    }
    table
}

/// `user list`: names and scopes, as the gateway will load them.
pub fn list(args: &ConfigArg) -> Result<(), CommandError> {
    let config = Config::load(&args.config)?;
    if config.users.is_empty() {
        note(&format!("{}: no users", args.config.display()));
        return Ok(());
    }
    let mut rows = vec![["NAME".to_owned(), "SCOPES".to_owned()]];
    for user in &config.users {
        rows.push([user.name.clone(), or_dash(user.scopes.join(","))]);
    }
    print_out(&columns(&rows))
}

/// `user remove`.
pub fn remove(args: &UserNameArgs) -> Result<(), CommandError> {
    let mut file = ConfigFile::open(&args.config.config)?;
    if !file.remove(Section::Users, &args.name) {
        return Err(CommandError::BadArguments(format!(
            "{}: there is no user named `{}`",
            file.path().display(),
            args.name
        )));
    }
    file.save()?;
    note(&format!(
        "{}: removed user `{}`; a running gateway applies it when restarted. Sessions and tokens already issued stay valid until they end",
        file.path().display(),
        args.name
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    const FILE: &str = r#"[server]
listen = "127.0.0.1:8443"
public_url = "https://gw.example.com"

[scopes]
app = "Use the app"
"api:read" = "Read the API"

# People who may log in.
[[users]]
name = "alice"   # the admin
password = "$argon2id$v=19$m=19456,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
scopes = ["app"]
"#;

    fn file() -> ConfigFile {
        ConfigFile::from_text(Path::new("/nonexistent/gateway.toml"), FILE).unwrap()
    }

    fn args(name: &str, scopes: &[&str]) -> UserAddArgs {
        UserAddArgs {
            name: name.to_owned(),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            config: ConfigArg {
                config: "gateway.toml".into(),
            },
        }
    }

    #[test]
    fn the_placeholder_is_a_valid_argon2id_string() {
        let parsed = argon2::PasswordHash::new(PLACEHOLDER_HASH).unwrap();
        assert_eq!(parsed.algorithm.as_str(), "argon2id");
        file().validate().unwrap();
    }

    #[test]
    fn add_appends_a_hashed_user_and_keeps_comments() {
        let mut f = file();
        let phc = hash("hunter2 but longer").unwrap();
        f.append(
            Section::Users,
            user_table(&args("bob", &["api:read"]), &phc),
        )
        .unwrap();
        let text = f.text();
        assert!(text.starts_with(FILE), "{text}");
        assert!(text.ends_with(&format!(
            "\n[[users]]\nname = \"bob\"\npassword = \"{phc}\"\nscopes = [\"api:read\"]\n"
        )));
        assert!(!text.contains("hunter2"));
        let config = f.validate().unwrap();
        assert_eq!(config.users[1].name, "bob");
        assert_eq!(config.users[1].password_hash.as_deref(), Some(phc.as_str()));
    }

    #[test]
    fn an_undeclared_scope_is_refused_before_the_password() {
        let mut trial = file();
        trial
            .append(
                Section::Users,
                user_table(&args("bob", &["api:wrtie"]), PLACEHOLDER_HASH),
            )
            .unwrap();
        let err = trial.validate().unwrap_err().to_string();
        assert!(err.contains(": users[1].scopes[0]: "), "{err}");
        assert!(err.contains("not declared"), "{err}");
    }

    #[test]
    fn remove_keeps_the_rest() {
        let mut f = file();
        assert!(!f.remove(Section::Users, "nobody"));
        assert!(f.remove(Section::Users, "alice"));
        let text = f.text();
        assert!(!text.contains("alice"));
        assert!(!text.contains("# People who may log in."));
        assert!(text.contains("\"api:read\" = \"Read the API\""));
        f.validate().unwrap();
    }
}
