//! `authgate token inspect`: verify an access token offline, against the configured keys, and
//! print its claims.
//!
//! Verification is [`jwt::verify`] with the gateway's own expectations (issuer = the public
//! URL's origin, audience = `tokens.audience`), so "valid here" means "accepted by the
//! gateway", except for revocation: the token store is not consulted. The token is never
//! echoed back, not even in an error; it may be given on standard input to keep it out of the
//! shell history and the process list.

use std::io::Read;

use super::{print_out, CommandError};
use crate::cli::{TokenCommand, TokenInspectArgs};
use crate::config::{Config, SecretRef};
use crate::tokens::jwt::{self, Expected, MAX_TOKEN_BYTES};
use crate::tokens::keyring::KeyRing;

pub fn run(command: &TokenCommand) -> Result<(), CommandError> {
    match command {
        TokenCommand::Inspect(args) => inspect(args),
        TokenCommand::List(args) => super::token_admin::list(args),
        TokenCommand::Revoke(args) => super::token_admin::revoke(args),
    }
}

/// `token inspect`: the claims as pretty JSON, or exit 1 saying why the token is invalid.
pub fn inspect(args: &TokenInspectArgs) -> Result<(), CommandError> {
    let config = Config::load(&args.config.config)?;
    let token = match args.token.as_deref() {
        None | Some("-") => read_token(&mut std::io::stdin().lock())?,
        Some(token) => token.to_owned(),
    };
    let claims_json = inspect_with(&config, &token, unix_now())?;
    print_out(&format!("{claims_json}\n"))
}

/// Verifies `token` at time `now` and returns its claims as pretty JSON.
fn inspect_with(config: &Config, token: &str, now: u64) -> Result<String, CommandError> {
    let keys = KeyRing::load(
        &config.tokens.signing_key,
        &config.tokens.previous_keys,
        false,
    )
    .map_err(|e| CommandError::Failed(format!("cannot load the signing keys: {e}")))?
    .ok_or_else(|| no_key_yet(&config.tokens.signing_key))?;
    let expected = Expected {
        issuer: &config.server.public_url.origin,
        audience: &config.tokens.audience,
        now,
    };
    let claims = jwt::verify(token, &keys, expected)
        .map_err(|reason| CommandError::Failed(format!("invalid token: {reason}")))?;
    serde_json::to_string_pretty(&claims)
        .map_err(|e| CommandError::Failed(format!("cannot print the claims: {e}")))
}

fn no_key_yet(source: &SecretRef) -> CommandError {
    CommandError::Failed(format!(
        "no signing key yet: {source} does not exist (the gateway generates it on first start), so no token can be valid"
    ))
}

/// The token from standard input: surrounding whitespace (a trailing newline) removed.
fn read_token(input: &mut impl Read) -> Result<String, CommandError> {
    let mut text = String::new();
    let limit = u64::try_from(MAX_TOKEN_BYTES + 64).unwrap_or(u64::MAX);
    input.take(limit).read_to_string(&mut text).map_err(|e| {
        CommandError::Failed(format!("cannot read the token from standard input: {e}"))
    })?;
    let token = text.trim();
    if token.is_empty() {
        return Err(CommandError::BadArguments(
            "no token: give it as an argument or on standard input".to_owned(),
        ));
    }
    Ok(token.to_owned())
}

fn unix_now() -> u64 {
    crate::clock::Clock::now(&crate::clock::SystemClock)
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;

    use super::*;
    use crate::tokens::jwt::AccessClaims;
    use crate::tokens::keyring::SigningKey;

    const NOW: u64 = 1_700_000_000;

    fn setup(key: &[u8; 32]) -> (tempfile::TempDir, Config) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("signing.key"),
            format!("{}\n", URL_SAFE_NO_PAD.encode(key)),
        )
        .unwrap();
        let path = dir.path().join("gateway.toml");
        let text = "[server]\nlisten = \"127.0.0.1:8443\"\npublic_url = \"https://gw.example.com\"\n[tokens]\nsigning_key = \"file:signing.key\"\n";
        let config = Config::from_toml_str_at(text, &path).unwrap();
        (dir, config)
    }

    fn claims() -> AccessClaims {
        AccessClaims {
            iss: "https://gw.example.com".into(),
            aud: "https://gw.example.com".into(),
            sub: "alice".into(),
            client_id: "spa".into(),
            scope: "api:read".into(),
            iat: NOW - 10,
            exp: NOW + 890,
            jti: "j1".into(),
            nbf: None,
        }
    }

    #[test]
    fn a_valid_token_prints_its_claims() {
        let (_dir, config) = setup(&[7; 32]);
        let token = jwt::sign(&claims(), &SigningKey::new(&[7; 32]).unwrap());
        let json = inspect_with(&config, &token, NOW).unwrap();
        let back: AccessClaims = serde_json::from_str(&json).unwrap();
        assert_eq!(back, claims());
        assert!(json.contains("\n  \"sub\": \"alice\""), "{json}");
    }

    #[test]
    fn invalid_tokens_say_why_and_never_echo_the_token() {
        let (_dir, config) = setup(&[7; 32]);
        let good = jwt::sign(&claims(), &SigningKey::new(&[7; 32]).unwrap());
        let other_key = jwt::sign(&claims(), &SigningKey::new(&[8; 32]).unwrap());
        let mut wrong_iss = claims();
        wrong_iss.iss = "https://evil.example.com".into();
        let wrong_iss = jwt::sign(&wrong_iss, &SigningKey::new(&[7; 32]).unwrap());
        for (token, now, why) in [
            (good.clone(), NOW + 3600, "expired"),
            (other_key, NOW, "unknown key"),
            (wrong_iss, NOW, "issued by someone else"),
            ("not.a.token".to_owned(), NOW, "malformed"),
        ] {
            let err = inspect_with(&config, &token, now).unwrap_err();
            assert_eq!(err.exit_code(), 1);
            let text = err.to_string();
            assert!(text.contains(why), "{text}");
            assert!(!text.contains(&token), "{text}");
        }
    }

    #[test]
    fn a_missing_key_file_means_no_key_yet() {
        let (dir, config) = setup(&[7; 32]);
        std::fs::remove_file(dir.path().join("signing.key")).unwrap();
        let token = jwt::sign(&claims(), &SigningKey::new(&[7; 32]).unwrap());
        let err = inspect_with(&config, &token, NOW).unwrap_err();
        assert_eq!(err.exit_code(), 1);
        assert!(err.to_string().contains("no signing key yet"), "{err}");
    }

    #[test]
    fn tokens_from_standard_input_are_trimmed() {
        let read = |text: &str| read_token(&mut std::io::Cursor::new(text.to_owned()));
        assert_eq!(read("a.b.c\n").unwrap(), "a.b.c");
        assert_eq!(read("  a.b.c \r\n").unwrap(), "a.b.c");
        assert_eq!(read("\n").unwrap_err().exit_code(), 2);
    }
}
