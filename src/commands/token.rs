//! `authgate token inspect`: verify an access token offline, against the configured keys, and
//! print its claims.
//!
//! Verification is [`jwt::verify_any`] with the gateway's own expectations (issuer = the
//! public URL's origin, audience = `tokens.audience`), so "valid here" means "accepted by the
//! gateway", except for revocation: the token store is not consulted. An HS256 token is
//! checked against the `[tokens]` HMAC keys; an ES256 or EdDSA one against the published keys,
//! read the way the gateway reads them (`store::signing_keys::published`: the sealed document
//! in `data_dir`, or in Redis, opened with the HMAC keys). Which key verified it is said on
//! standard error (`verified: ES256 key KID (current)`), the claims go to standard output.
//! The token is never echoed back, not even in an error; it may be given on standard input to
//! keep it out of the shell history and the process list.

use std::io::Read;

use super::{note, print_out, CommandError};
use crate::cli::{TokenCommand, TokenInspectArgs};
use crate::config::{Config, SecretRef};
use crate::tokens::jose::{jws, KeySet, SealKeys};
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
    let published = |ring: &KeyRing| {
        let seal = SealKeys::from_ring(ring);
        super::token_admin::runtime()?
            .block_on(crate::store::signing_keys::published(&config, &seal))
            .map_err(|e| CommandError::Failed(format!("cannot read the published keys: {e}")))
    };
    let inspected = inspect_with(&config, &token, unix_now(), &published)?;
    note(&inspected.key);
    print_out(&format!("{}\n", inspected.claims))
}

/// What inspecting a valid token found.
#[derive(Debug)]
struct Inspected {
    /// The claims, as pretty JSON.
    claims: String,
    /// Which key verified it: `verified: ALG key KID (STATE)`.
    key: String,
}

/// Verifies `token` at time `now`. `published` reads the published keys, asked only for a
/// token that is not HS256.
fn inspect_with(
    config: &Config,
    token: &str,
    now: u64,
    published: &dyn Fn(&KeyRing) -> Result<KeySet, CommandError>,
) -> Result<Inspected, CommandError> {
    let keys = KeyRing::load(
        &config.tokens.signing_key,
        &config.tokens.previous_keys,
        false,
    )
    .map_err(|e| CommandError::Failed(format!("cannot load the signing keys: {e}")))?
    .ok_or_else(|| no_key_yet(&config.tokens.signing_key))?;
    let alg = jws::header_alg(token);
    let set = match alg.as_deref() {
        None | Some("HS256") => KeySet::empty(),
        Some(_) => published(&keys)?,
    };
    let expected = Expected {
        issuer: &config.server.public_url.origin,
        audience: &config.tokens.audience,
        now,
    };
    let claims = jwt::verify_any(token, &keys, &set, expected)
        .map_err(|reason| CommandError::Failed(format!("invalid token: {reason}")))?;
    let kid = jws::header_kid(token).unwrap_or_default();
    let state = match set.keys().into_iter().find(|k| k.kid == kid) {
        Some(info) => info.state.as_str(),
        None if keys.current().kid() == kid => "current",
        None => "previous",
    };
    let key = format!("verified: {} key {kid} ({state})", alg.unwrap_or_default());
    let claims = serde_json::to_string_pretty(&claims)
        .map_err(|e| CommandError::Failed(format!("cannot print the claims: {e}")))?;
    Ok(Inspected { claims, key })
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
            amr: Vec::new(),
            acr: None,
            auth_time: None,
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

    /// The published keys of a test that has only HS256 tokens: never asked for.
    fn unused(_: &KeyRing) -> Result<KeySet, CommandError> {
        panic!("an HS256 token needs no published key")
    }

    #[test]
    fn a_valid_token_prints_its_claims() {
        let (_dir, config) = setup(&[7; 32]);
        let token = jwt::sign(&claims(), &SigningKey::new(&[7; 32]).unwrap());
        let json = inspect_with(&config, &token, NOW, &unused).unwrap().claims;
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
            let err = inspect_with(&config, &token, now, &unused).unwrap_err();
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
        let err = inspect_with(&config, &token, NOW, &unused).unwrap_err();
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

    #[test]
    fn es256_and_eddsa_tokens_verify_against_the_published_keys_and_name_theirs() {
        use crate::tokens::jose::Alg;
        let (_dir, config) = setup(&[7; 32]);
        let set = KeySet::generate(&[Alg::Es256, Alg::EdDsa], NOW).unwrap();
        let published = |_: &KeyRing| Ok(set.clone());
        for alg in [Alg::Es256, Alg::EdDsa] {
            let token = jwt::sign_jws(&claims(), &set, alg).unwrap();
            let kid = jws::header_kid(&token).unwrap();
            let inspected = inspect_with(&config, &token, NOW, &published).unwrap();
            let back: AccessClaims = serde_json::from_str(&inspected.claims).unwrap();
            assert_eq!(back, claims());
            assert_eq!(
                inspected.key,
                format!("verified: {alg} key {kid} (current)")
            );
        }
        // Signed by keys this gateway never published: an unknown key.
        let other = KeySet::generate(&[Alg::Es256], NOW).unwrap();
        let token = jwt::sign_jws(&claims(), &other, Alg::Es256).unwrap();
        let err = inspect_with(&config, &token, NOW, &published).unwrap_err();
        assert!(err.to_string().contains("unknown key"), "{err}");
        // And HS256 still names its key.
        let token = jwt::sign(&claims(), &SigningKey::new(&[7; 32]).unwrap());
        let inspected = inspect_with(&config, &token, NOW, &unused).unwrap();
        assert!(
            inspected.key.starts_with("verified: HS256 key "),
            "{}",
            inspected.key
        );
        assert!(inspected.key.ends_with(" (current)"), "{}", inspected.key);
    }

    /// The published keys come from where the gateway keeps them (the memory store's file
    /// under data_dir, read without the store's lock), opened with the HMAC key.
    #[tokio::test]
    async fn the_published_keys_are_read_from_data_dir() {
        use crate::store::signing_keys::{published, KeyStore, AFTER_START};
        use crate::tokens::jose::Alg;
        let (_dir, config) = setup(&[7; 32]);
        let ring = KeyRing::new(SigningKey::new(&[7; 32]).unwrap(), vec![]);
        let seal = SealKeys::from_ring(&ring);
        assert!(published(&config, &seal).await.unwrap().keys().is_empty());
        let clock: std::sync::Arc<dyn crate::clock::Clock> =
            std::sync::Arc::new(crate::clock::SystemClock);
        let store = crate::store::open(&config, clock).await.unwrap();
        let set = KeyStore {
            store: store.as_ref(),
            seal: &seal,
        }
        .load(NOW, &[], &AFTER_START)
        .await
        .unwrap();
        // While the store is open (a running gateway holds its lock).
        let read = published(&config, &seal).await.unwrap();
        assert_eq!(read.keys(), set.keys());
        let token = jwt::sign_jws(&claims(), &set, Alg::EdDsa).unwrap();
        let from_store = |_: &KeyRing| Ok(read.clone());
        inspect_with(&config, &token, NOW, &from_store).unwrap();
    }
}
