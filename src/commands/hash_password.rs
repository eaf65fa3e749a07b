//! `authgate hash-password`: a password from standard input to the argon2id PHC string that
//! `users[].password` holds. Also the password input `authgate user add` shares.
//!
//! On a terminal the password is read twice without echo (a typo would lock the user out);
//! from a pipe it is the first line, with only its line ending removed, so that scripts can
//! `printf '%s\n' "$PW" | authgate hash-password`. The password is never printed, and no
//! error message quotes it.

use std::io::{BufRead, IsTerminal, Read};

use argon2::password_hash::{PasswordHasher, SaltString};

use super::{print_out, CommandError};

pub use crate::oauth::login::{ITERATIONS, MEMORY_KIB, PARALLELISM};

/// The longest password accepted. Far above any passphrase, and a bound on what the login
/// form has to carry.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Prints the argon2id hash of the password read from standard input.
pub fn run() -> Result<(), CommandError> {
    let password = read_new_password()?;
    let hash = hash(&password)?;
    print_out(&format!("{hash}\n"))
}

/// Reads a new password from standard input: without echo and confirmed on a terminal, the
/// first line otherwise. Refuses an empty one.
pub fn read_new_password() -> Result<String, CommandError> {
    let stdin = std::io::stdin();
    let password = if stdin.is_terminal() {
        let tty = |e: std::io::Error| {
            CommandError::Failed(format!("cannot read the password from the terminal: {e}"))
        };
        let first = rpassword::prompt_password("Password: ").map_err(tty)?;
        if first.is_empty() {
            return Err(empty());
        }
        let again = rpassword::prompt_password("Password again: ").map_err(tty)?;
        if first != again {
            return Err(CommandError::BadArguments(
                "the two passwords differ; nothing was done".to_owned(),
            ));
        }
        first
    } else {
        read_line(&mut stdin.lock())?
    };
    if password.is_empty() {
        return Err(empty());
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(too_long());
    }
    Ok(password)
}

fn empty() -> CommandError {
    CommandError::BadArguments("the password is empty; nothing was done".to_owned())
}

fn too_long() -> CommandError {
    CommandError::BadArguments(format!(
        "the password is longer than {MAX_PASSWORD_BYTES} bytes; nothing was done"
    ))
}

/// The first line of `input` without its line ending (`\n`, or `\r\n`: a browser's password
/// field cannot hold a carriage return, so one could never be typed at the login page).
/// Everything else, spaces included, is part of the password.
fn read_line(input: &mut impl BufRead) -> Result<String, CommandError> {
    let mut line = Vec::new();
    let limit = u64::try_from(MAX_PASSWORD_BYTES + 2).unwrap_or(u64::MAX);
    input
        .take(limit)
        .read_until(b'\n', &mut line)
        .map_err(|e| CommandError::Failed(format!("cannot read standard input: {e}")))?;
    if line.last() == Some(&b'\n') {
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
    }
    if line.len() > MAX_PASSWORD_BYTES {
        return Err(too_long());
    }
    String::from_utf8(line).map_err(|_| {
        CommandError::BadArguments("the password is not valid UTF-8; nothing was done".to_owned())
    })
}

/// The argon2id PHC string of `password`, with a fresh random salt.
pub fn hash(password: &str) -> Result<String, CommandError> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    crate::oauth::login::argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| CommandError::Failed(format!("cannot hash the password: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::{Argon2, PasswordHash, PasswordVerifier};

    #[test]
    fn hash_is_argon2id_with_owasp_params_and_verifies() {
        let phc = hash("correct horse battery staple").unwrap();
        let parsed = PasswordHash::new(&phc).unwrap();
        assert_eq!(parsed.algorithm.as_str(), "argon2id");
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        // Verification reads the parameters from the string, as the login will.
        let argon2 = Argon2::default();
        assert!(argon2
            .verify_password(b"correct horse battery staple", &parsed)
            .is_ok());
        assert!(argon2.verify_password(b"wrong", &parsed).is_err());
    }

    #[test]
    fn salts_are_random() {
        assert_ne!(hash("same").unwrap(), hash("same").unwrap());
    }

    #[test]
    fn a_line_loses_only_its_line_ending() {
        let read = |bytes: &[u8]| read_line(&mut std::io::Cursor::new(bytes.to_vec()));
        assert_eq!(read(b"secret\n").unwrap(), "secret");
        assert_eq!(read(b"secret\r\n").unwrap(), "secret");
        assert_eq!(read(b"secret").unwrap(), "secret");
        assert_eq!(read(b"  two words \t\n").unwrap(), "  two words \t");
        assert_eq!(read(b"first\nsecond\n").unwrap(), "first");
        assert_eq!(read(b"\n").unwrap(), "");
        assert_eq!(read(b"").unwrap(), "");
    }

    #[test]
    fn overlong_and_non_utf8_lines_are_refused() {
        let long = vec![b'a'; MAX_PASSWORD_BYTES + 1];
        let err = read_line(&mut std::io::Cursor::new(long)).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        let mut exact = vec![b'a'; MAX_PASSWORD_BYTES];
        exact.push(b'\n');
        assert_eq!(
            read_line(&mut std::io::Cursor::new(exact)).unwrap().len(),
            MAX_PASSWORD_BYTES
        );
        let err = read_line(&mut std::io::Cursor::new(b"\xff\xfe\n".to_vec())).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(!err.to_string().contains('\u{fffd}'));
    }
}
