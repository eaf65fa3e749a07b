//! The admin API's credential: a bearer token from `[admin] token` (`env:` or `file:`); by
//! default `DATA_DIR/admin.token`, generated (256 random bits, 0600) the first time the
//! gateway starts, so that `authgate token ...` run by the same user on the same machine
//! works with no set-up. The listener keeps only its SHA-256 and compares in constant time.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use subtle::ConstantTimeEq;

use crate::config::SecretRef;
use crate::tokens::opaque::TokenHash;

/// The shortest admin token accepted from `env:` or a hand-written file.
const MIN_TOKEN_CHARS: usize = 32;

/// Reads the admin token, generating a `file:` one that does not exist yet.
pub fn load_or_create(source: &SecretRef) -> Result<TokenHash, String> {
    if let SecretRef::File(path) = source {
        if !path.exists() {
            let token = URL_SAFE_NO_PAD.encode(crate::private_file::generate_secret(path)?);
            tracing::info!(path = %path.display(), "generated the admin API token");
            return Ok(TokenHash::of(&token));
        }
    }
    Ok(TokenHash::of(&read(source)?))
}

/// The admin token's text, as the CLI sends it.
pub fn read(source: &SecretRef) -> Result<String, String> {
    let token = source.read()?.trim().to_owned();
    if token.len() < MIN_TOKEN_CHARS {
        return Err(format!(
            "{source}: the admin token must hold at least {MIN_TOKEN_CHARS} characters of random text"
        ));
    }
    Ok(token)
}

/// Whether an `Authorization` header value carries the admin token.
pub fn allows(authorization: Option<&[u8]>, expected: &TokenHash) -> bool {
    let Some(value) = authorization else {
        return false;
    };
    let Some(token) = value
        .strip_prefix(b"Bearer ")
        .or_else(|| value.strip_prefix(b"bearer "))
    else {
        return false;
    };
    let Ok(token) = std::str::from_utf8(token) else {
        return false;
    };
    bool::from(TokenHash::of(token.trim()).0.ct_eq(&expected.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_once_private_and_checked() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data/admin.token");
        let source = SecretRef::File(path.clone());
        let hash = load_or_create(&source).unwrap();
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(load_or_create(&source).unwrap() == hash, "reused");
        let token = read(&source).unwrap();
        assert!(allows(Some(format!("Bearer {token}").as_bytes()), &hash));
        assert!(!allows(
            Some(b"Bearer nope-nope-nope-nope-nope-nope-nope"),
            &hash
        ));
        assert!(
            !allows(Some(token.as_bytes()), &hash),
            "the scheme is required"
        );
        assert!(!allows(None, &hash));
    }

    #[test]
    fn short_tokens_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("admin.token");
        std::fs::write(&path, "short\n").unwrap();
        let err = read(&SecretRef::File(path)).unwrap_err();
        assert!(err.contains("at least 32"), "{err}");
        assert!(!err.contains("short\n"));
    }
}
