//! The parts of the users, clients and scopes fixtures that every test gateway shares, written
//! once: the password every test user has and its hash, the `[scopes]` the flows use, a
//! `[[users]]` table, and a client secret as `authgate client add` stores it. The fixtures of
//! [`super::oauth`], [`super::protected`] and [`super::persisted`] are made of these (their
//! clients differ on purpose).
//!
//! The hash has argon2id's smallest parameters (8 KiB, one pass, one lane), not the production
//! ones (19 MiB, two passes): the login reads the parameters from each stored PHC string, and
//! with the production ones every sign-in waited for a hash on the idle-priority hash threads,
//! which a busy neighbour starves, so end-to-end tests failed on a loaded 2-core machine (issue
//! 13). The production parameters are tested where they are the subject: the tests of
//! `hash-password` and of the dummy hash for unknown users (which a login for an unknown user
//! still pays).

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// The password of every test user.
pub const PASSWORD: &str = "correct horse battery staple";

/// The argon2id PHC string of [`PASSWORD`] with the cheapest parameters (m=8, t=1, p=1),
/// computed once per test run.
pub fn password_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| {
        let params = Params::new(8, 1, 1, None).expect("argon2 parameters");
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(PASSWORD.as_bytes(), &salt)
            .expect("argon2id hash")
            .to_string()
    })
}

/// The `[scopes]` of the gateways that run the OAuth flows and protect routes.
pub const SCOPES: &str = r#"[scopes]
app = "Use the application"
"api:read" = "Read your data through the API"
"api:write" = "Change your data through the API"
admin = "Administer the gateway"
"#;

/// A `[[users]]` table: `name`, with [`PASSWORD`], granted `scopes`.
pub fn user(name: &str, scopes: &[&str]) -> String {
    format!(
        "\n[[users]]\nname = \"{name}\"\npassword = \"{hash}\"\nscopes = {scopes:?}\n",
        hash = password_hash(),
    )
}

/// `sha256:HEX` of a client secret, as `authgate client add` writes it.
pub fn secret_hash(secret: &str) -> String {
    format!(
        "sha256:{}",
        authgate::tokens::opaque::TokenHash::of(secret).to_hex()
    )
}
