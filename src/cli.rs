//! The command line, as clap sees it: every subcommand and flag with its help text.
//!
//! Only shapes live here; what each subcommand does is in [`crate::commands`]. Values that
//! the configuration validator also checks (ids, redirect URIs, scopes) are taken as plain
//! strings on purpose: the validator is the one judge, so the CLI cannot accept what `check`
//! rejects or the other way round.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// `--version`: the crate's version and the git revision it was built from (`build.rs`;
/// `unknown` when built outside a git checkout, e.g. from a source archive).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("AUTHGATE_GIT_REVISION"),
    ")"
);

/// authgate: a reverse-proxy authentication gateway with its own OAuth2 authorization server.
#[derive(Debug, Parser)]
#[command(name = "authgate", version = VERSION, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway until SIGTERM or SIGINT.
    Serve(ConfigArg),
    /// Validate a configuration without starting anything (exit 0 valid, 2 invalid).
    Check(CheckArgs),
    /// Read a password from standard input and print its argon2id hash for `users[].password`.
    ///
    /// On a terminal the password is asked for twice, without echo. Otherwise the first line
    /// of standard input is the password (only the line ending is removed). The hash uses
    /// argon2id with m=19456 KiB, t=2, p=1 and a random salt. The password itself is never
    /// printed.
    HashPassword,
    /// Manage OAuth clients: the `[[clients]]` entries of the configuration file.
    #[command(subcommand)]
    Client(ClientCommand),
    /// Manage users: the `[[users]]` entries of the configuration file.
    #[command(subcommand)]
    User(UserCommand),
    /// Work with access tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// The asymmetric signing keys (ID tokens, the JWKS, ES256/EdDSA access tokens) of the
    /// running gateway, through its admin listener.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Ask the running gateway's GET /healthz (on the admin listener; on the public one when
    /// the admin listener is off and TLS is off) and exit 0 when it answers 200, 1 otherwise.
    ///
    /// This is what the container image's HEALTHCHECK runs.
    Healthcheck(ConfigArg),
    /// Print a shell completion script to standard output, e.g.
    /// `authgate completions bash > /etc/bash_completion.d/authgate`.
    Completions(CompletionsArgs),
    /// Print the man page (roff) to standard output, e.g.
    /// `authgate man > /usr/local/share/man/man1/authgate.1`.
    Man,
}

/// `authgate check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Also print the route table in the order the gateway tries it: host, prefix, auth,
    /// scopes, upstream.
    #[arg(long)]
    pub routes: bool,
    /// Also say which route serves PATH (or which of the gateway's own endpoints) and what
    /// it requires.
    #[arg(long, value_name = "PATH")]
    pub explain: Option<String>,
    /// The host name the --explain request is for (routes naming a host win).
    #[arg(long, value_name = "HOST", requires = "explain")]
    pub host: Option<String>,
}

/// `authgate completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish, elvish or powershell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `authgate keys ...`.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List the keys: kid, algorithm, state (current: signs; next: published, signs after
    /// the next rotation; retired: published and verifying until its retention ends) and
    /// dates.
    List(KeysListArgs),
    /// Rotate: each algorithm's next key starts signing, its current key is retired, a new
    /// next key is published, and retired keys past their retention are dropped. Refused
    /// while a next key has been published for less than the JWKS max-age (relying parties
    /// may not have fetched it yet), unless --force.
    Rotate(KeysRotateArgs),
}

/// `authgate keys list`.
#[derive(Debug, Args)]
pub struct KeysListArgs {
    /// Print the answer as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub config: ConfigArg,
}

/// `authgate keys rotate`.
#[derive(Debug, Args)]
pub struct KeysRotateArgs {
    /// Rotate only this algorithm's keys (RS256, ES256 or EdDSA; repeatable). Default: all.
    #[arg(long = "alg", value_name = "ALG")]
    pub algs: Vec<String>,
    /// Rotate even though a next key was published less than the JWKS max-age ago:
    /// relying parties that cached the JWKS will fail on the new key's tokens until they
    /// fetch it again.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub config: ConfigArg,
}

/// Where the configuration file is.
#[derive(Debug, Args)]
pub struct ConfigArg {
    /// Path to gateway.toml. Relative paths inside it resolve against its directory.
    #[arg(
        long,
        value_name = "PATH",
        env = "AUTHGATE_CONFIG",
        default_value = "gateway.toml"
    )]
    pub config: PathBuf,
}

/// `authgate client ...`. Every change keeps the file's comments and layout, is written only
/// if `authgate check` would accept the result, and replaces the file atomically.
#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Add a client. A confidential client's secret is generated and printed once; the file
    /// keeps only its SHA-256 hash.
    Add(ClientAddArgs),
    /// List the configured clients (never their secrets).
    List(ConfigArg),
    /// Remove a client. Access tokens already issued to it stay valid until they expire.
    Remove(ClientIdArgs),
    /// Replace a confidential client's secret with a new one, printed once. The old secret
    /// stops working once the gateway loads the changed file (at its restart).
    RotateSecret(ClientIdArgs),
}

/// `authgate client add`.
#[derive(Debug, Args)]
pub struct ClientAddArgs {
    /// The client id (`client_id`): 1 to 128 letters, digits, `.`, `_`, `-` or `@`.
    #[arg(value_name = "ID")]
    pub id: String,
    /// Whether the client can keep a secret: browser and native apps cannot (public),
    /// servers and workers can (confidential).
    #[arg(long = "type", value_name = "TYPE", value_enum)]
    pub kind: ClientType,
    /// A redirect URI, compared by exact string: https://, http:// on loopback only, or a
    /// private-use scheme such as com.example.app:/callback. Repeat for several.
    #[arg(long = "redirect-uri", value_name = "URI")]
    pub redirect_uris: Vec<String>,
    /// A scope the client may ask for (also its default when it asks for none). Repeat for
    /// several.
    #[arg(long = "scope", value_name = "SCOPE")]
    pub scopes: Vec<String>,
    /// A grant type the client may use. Repeat for several. Default: authorization_code and
    /// refresh_token for a public client, client_credentials for a confidential one.
    #[arg(long = "grant", value_name = "GRANT", value_enum)]
    pub grants: Vec<GrantArg>,
    /// The name shown to users on the consent page. Default: the id.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// The gateway operator's own client: users are not asked for consent.
    #[arg(long)]
    pub first_party: bool,
    #[command(flatten)]
    pub config: ConfigArg,
}

/// A command about one existing client.
#[derive(Debug, Args)]
pub struct ClientIdArgs {
    /// The client id.
    #[arg(value_name = "ID")]
    pub id: String,
    #[command(flatten)]
    pub config: ConfigArg,
}

/// `--type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ClientType {
    /// Cannot keep a secret; PKCE, no client authentication.
    Public,
    /// Authenticates with a secret.
    Confidential,
}

/// `--grant`: the RFC 6749 grant types authgate serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GrantArg {
    /// Authorization code with PKCE (users log in through the browser).
    #[value(name = "authorization_code")]
    AuthorizationCode,
    /// Refresh tokens, rotated on every use (needs authorization_code).
    #[value(name = "refresh_token")]
    RefreshToken,
    /// The client acts on its own behalf (confidential clients only).
    #[value(name = "client_credentials")]
    ClientCredentials,
}

/// `authgate user ...`: same guarantees as the client commands.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user. The password is read from standard input, as `hash-password` reads it,
    /// and only its argon2id hash is written.
    Add(UserAddArgs),
    /// List the configured users and their scopes (never their password hashes).
    List(ConfigArg),
    /// Remove a user. Sessions and tokens already issued stay valid until they end.
    Remove(UserNameArgs),
    /// Remove a user's second factors (TOTP secret, recovery codes, failure count) in the
    /// running gateway's store, through its admin listener, and revoke the user's sessions
    /// and tokens: the user enrols again at the next sign-in.
    ResetMfa(UserNameArgs),
}

/// `authgate user add`.
#[derive(Debug, Args)]
pub struct UserAddArgs {
    /// The user name: 1 to 128 letters, digits, `.`, `_`, `-` or `@`.
    #[arg(value_name = "NAME")]
    pub name: String,
    /// A scope the user may grant to clients. Repeat for several.
    #[arg(long = "scope", value_name = "SCOPE")]
    pub scopes: Vec<String>,
    #[command(flatten)]
    pub config: ConfigArg,
}

/// A command about one existing user.
#[derive(Debug, Args)]
pub struct UserNameArgs {
    /// The user name.
    #[arg(value_name = "NAME")]
    pub name: String,
    #[command(flatten)]
    pub config: ConfigArg,
}

/// `authgate token ...`.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Verify an access token against the configured signing keys and print its claims as
    /// JSON; exit 1, saying why, when it is invalid.
    ///
    /// Checks the signature, `kid`, `typ`, `iss`, `aud`, `exp` and `nbf`, as the gateway does.
    /// It does not consult the token store, so a revoked token that has not expired yet still
    /// shows as valid here.
    Inspect(TokenInspectArgs),
    /// List the live grants (refresh-token families: a user's sign-in at a client, or a
    /// browser session) of the running gateway, through its admin listener.
    ///
    /// Each line shows the family, the user, the client, when the family ends, and the ids
    /// (jti) of its access tokens that have not expired, then the live `client_credentials`
    /// access tokens of each client (not with `--user`).
    List(TokenListArgs),
    /// Revoke tokens in the running gateway, through its admin listener: refused from the
    /// next request on.
    ///
    /// `--user` ends every grant and browser session of a user and refuses their access
    /// tokens issued until now; `--client` does the same for a client (including its
    /// `client_credentials` tokens); `--jti` refuses one access token.
    Revoke(TokenRevokeArgs),
}

/// `authgate token list`.
#[derive(Debug, Args)]
pub struct TokenListArgs {
    /// Only this user's grants.
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
    /// Only this client's grants.
    #[arg(long, value_name = "CLIENT")]
    pub client: Option<String>,
    /// Print the answer as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub config: ConfigArg,
}

/// `authgate token revoke`.
#[derive(Debug, Args)]
#[group(id = "target", required = true, multiple = false, args = ["user", "client", "jti"])]
pub struct TokenRevokeArgs {
    /// Revoke everything of this user: grants, browser sessions, access tokens.
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
    /// Revoke everything of this client: grants and access tokens.
    #[arg(long, value_name = "CLIENT")]
    pub client: Option<String>,
    /// Revoke the access token with this `jti` claim.
    // A jti is base64url: one in 64 begins with `-`, which must not be read as a flag.
    #[arg(long, value_name = "ID", allow_hyphen_values = true)]
    pub jti: Option<String>,
    #[command(flatten)]
    pub config: ConfigArg,
}

/// `authgate token inspect`.
#[derive(Debug, Args)]
pub struct TokenInspectArgs {
    /// The access token. Omit it, or give `-`, to read it from standard input instead, which
    /// keeps it out of the shell history and the process list.
    #[arg(value_name = "TOKEN")]
    pub token: Option<String>,
    #[command(flatten)]
    pub config: ConfigArg,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    /// Contract §1: every subcommand's `--help` describes every flag.
    #[test]
    fn every_subcommand_and_argument_has_help() {
        fn walk(command: &clap::Command, path: &str) {
            assert!(command.get_about().is_some(), "`{path}` has no help text");
            for arg in command.get_arguments() {
                let id = arg.get_id().as_str();
                if id == "help" || id == "version" {
                    continue;
                }
                assert!(arg.get_help().is_some(), "`{path}` {id} has no help text");
            }
            for sub in command.get_subcommands() {
                walk(sub, &format!("{path} {}", sub.get_name()));
            }
        }
        walk(&Cli::command(), "authgate");
    }

    /// Regression: a jti beginning with `-` (one in 64 of them) was read as an unknown flag,
    /// so `token revoke --jti` refused a token an operator had just copied from `token list`.
    #[test]
    fn a_jti_that_begins_with_a_hyphen_is_a_value() {
        let cli = Cli::try_parse_from(["authgate", "token", "revoke", "--jti", "-Nq3x_8"]).unwrap();
        let Command::Token(TokenCommand::Revoke(args)) = cli.command else {
            panic!("parsed as {:?}", cli.command);
        };
        assert_eq!(args.jti.as_deref(), Some("-Nq3x_8"));
    }

    #[test]
    fn client_add_takes_repeated_flags() {
        let cli = Cli::try_parse_from([
            "authgate",
            "client",
            "add",
            "spa",
            "--type",
            "public",
            "--redirect-uri",
            "http://127.0.0.1/a",
            "--redirect-uri",
            "http://127.0.0.1/b",
            "--grant",
            "authorization_code",
            "--grant",
            "refresh_token",
            "--scope",
            "a",
            "--scope",
            "b",
            "--config",
            "x.toml",
        ])
        .unwrap();
        let Command::Client(ClientCommand::Add(args)) = cli.command else {
            panic!("parsed as {:?}", cli.command);
        };
        assert_eq!(args.kind, ClientType::Public);
        assert_eq!(args.redirect_uris.len(), 2);
        assert_eq!(
            args.grants,
            [GrantArg::AuthorizationCode, GrantArg::RefreshToken]
        );
        assert_eq!(args.scopes, ["a", "b"]);
        assert_eq!(args.config.config, PathBuf::from("x.toml"));
        assert!(!args.first_party);
    }

    #[test]
    fn bad_values_are_usage_errors() {
        for argv in [
            &["authgate", "client", "add", "x"][..],
            &["authgate", "client", "add", "x", "--type", "secret"],
            &[
                "authgate", "client", "add", "x", "--type", "public", "--grant", "password",
            ],
            &[
                "authgate", "client", "add", "x", "--type", "public", "--grant", "implicit",
            ],
        ] {
            let err = Cli::try_parse_from(argv).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{argv:?}");
        }
    }
}
