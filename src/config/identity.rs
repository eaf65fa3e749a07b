//! Validation of who may authenticate and how: `[tokens]`, `[session]`, `[scopes]`,
//! `[[users]]` and `[[clients]]`; a client's redirect URIs are checked by the rules of
//! `redirect_uri.rs`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use toml::Spanned;

use super::error::ConfigError;
use super::file::{ClientSection, RegistrationSection, SessionSection, TokensSection, UserSection};
use super::redirect_uri::check_redirect_uri;
use super::units::parse_duration;
use super::validate::Validator;
use super::{
    ClientConfig, ClientKind, GrantType, PublicUrl, RegistrationConfig, SecretRef, SessionConfig,
    TokensConfig, UserConfig,
};
use crate::tokens::keyring::KeyRing;
use crate::tokens::opaque::TokenHash;

type Result<T> = std::result::Result<T, ConfigError>;

/// The longest an authorization code may live (RFC 6749 §4.1.2 recommends 10 minutes at most).
const MAX_CODE_TTL: Duration = Duration::from_secs(600);
const MAX_REFRESH_GRACE: Duration = Duration::from_secs(60);

/// RFC 6749 §3.3 scope-token: printable ASCII except space, `"` and `\`.
pub(super) fn is_scope_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
}

/// User names and client ids: they appear in headers, logs and URLs.
fn is_identifier(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 128
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'@'))
}

impl Validator<'_> {
    pub(super) fn secret_ref(&self, value: &Spanned<String>, key: &str) -> Result<SecretRef> {
        let text = value.get_ref();
        if let Some(name) = text.strip_prefix("env:") {
            let valid =
                !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
            if !valid {
                return Err(self.err(
                    value,
                    key,
                    "env: needs a variable name, like env:AUTHGATE_KEY",
                ));
            }
            return Ok(SecretRef::Env(name.to_owned()));
        }
        if let Some(path) = text.strip_prefix("file:") {
            if path.is_empty() {
                return Err(self.err(value, key, "file: needs a path, like file:data/signing.key"));
            }
            return Ok(SecretRef::File(self.path(path)));
        }
        // Never echo the value: it may be the secret itself.
        Err(self.err(
            value,
            key,
            "secrets are never written into the file: use env:NAME or file:PATH",
        ))
    }

    fn duration_or_zero(
        &self,
        value: &Option<Spanned<String>>,
        key: &str,
        default: Duration,
    ) -> Result<Duration> {
        match value {
            None => Ok(default),
            Some(v) => parse_duration(v.get_ref()).map_err(|m| self.err(v, key, m)),
        }
    }

    pub(super) fn tokens(
        &self,
        t: &TokensSection,
        data_dir: &Path,
        public_url: &PublicUrl,
    ) -> Result<TokensConfig> {
        let access_ttl =
            self.duration(&t.access_ttl, "tokens.access_ttl", Duration::from_secs(900))?;
        let refresh_ttl = self.duration(
            &t.refresh_ttl,
            "tokens.refresh_ttl",
            Duration::from_secs(30 * 86400),
        )?;
        let code_ttl = self.duration(&t.code_ttl, "tokens.code_ttl", Duration::from_secs(60))?;
        if code_ttl > MAX_CODE_TTL {
            if let Some(v) = &t.code_ttl {
                return Err(self.err(
                    v,
                    "tokens.code_ttl",
                    "must be at most 10m (RFC 6749 §4.1.2)",
                ));
            }
        }
        if refresh_ttl < access_ttl {
            if let Some(v) = t.refresh_ttl.as_ref().or(t.access_ttl.as_ref()) {
                return Err(self.err(
                    v,
                    "tokens.refresh_ttl",
                    "must not be shorter than access_ttl",
                ));
            }
        }
        let refresh_grace = self.duration_or_zero(
            &t.refresh_grace,
            "tokens.refresh_grace",
            Duration::from_secs(5),
        )?;
        if refresh_grace > MAX_REFRESH_GRACE {
            if let Some(v) = &t.refresh_grace {
                return Err(self.err(v, "tokens.refresh_grace", "must be at most 60s"));
            }
        }

        let signing_key = match &t.signing_key {
            Some(v) => self.secret_ref(v, "tokens.signing_key")?,
            None => SecretRef::File(data_dir.join("signing.key")),
        };
        let mut previous_keys = Vec::with_capacity(t.previous_keys.len());
        for (i, v) in t.previous_keys.iter().enumerate() {
            previous_keys.push(self.secret_ref(v, &format!("tokens.previous_keys[{i}]"))?);
        }
        // Read the keys now, without creating anything, so `check` refuses what `serve` would.
        if let Err(err) = KeyRing::load(&signing_key, &[], false) {
            return Err(match &t.signing_key {
                Some(v) => self.err(v, "tokens.signing_key", err.0),
                None => self
                    .src
                    .file_error(format!("tokens.signing_key: {}", err.0)),
            });
        }
        for (i, (source, v)) in previous_keys.iter().zip(&t.previous_keys).enumerate() {
            if let Err(err) = KeyRing::load(source, &[], false) {
                return Err(self.err(v, &format!("tokens.previous_keys[{i}]"), err.0));
            }
        }

        let access_alg = match &t.algorithm {
            None => super::AccessAlg::Hs256,
            Some(v) => match v.get_ref().as_str() {
                "HS256" => super::AccessAlg::Hs256,
                "ES256" => super::AccessAlg::Jws(crate::tokens::jose::Alg::Es256),
                "EdDSA" => super::AccessAlg::Jws(crate::tokens::jose::Alg::EdDsa),
                _ => return Err(self.err(
                    v,
                    "tokens.algorithm",
                    "must be \"HS256\", \"ES256\" or \"EdDSA\" (RS256 access tokens would cost \
                         about 0.75 ms each to sign)",
                )),
            },
        };
        let configured_keys = self.configured_keys(t)?;
        let audience = match &t.audience {
            None => public_url.origin.clone(),
            Some(v) if v.get_ref().trim().is_empty() => {
                return Err(self.err(v, "tokens.audience", "must not be empty"))
            }
            Some(v) => v.get_ref().clone(),
        };
        Ok(TokensConfig {
            access_ttl,
            refresh_ttl,
            code_ttl,
            signing_key,
            previous_keys,
            audience,
            refresh_grace,
            access_alg,
            configured_keys,
        })
    }

    pub(super) fn registration(
        &self,
        r: &RegistrationSection,
        declared: &BTreeMap<String, String>,
    ) -> Result<RegistrationConfig> {
        let scopes = self.scope_list(&r.scopes, "registration.scopes", declared)?;
        let max_clients = match &r.max_clients {
            None => 1000,
            Some(n) if *n.get_ref() == 0 => {
                return Err(self.err(n, "registration.max_clients", "must be at least 1"))
            }
            Some(n) => *n.get_ref() as usize,
        };
        let initial_access_token = match (&r.initial_access_token, r.enabled) {
            (None, false) => None,
            (Some(v), false) => {
                return Err(self.err(v, "registration.initial_access_token", "is only used with enabled = true"))
            }
            (None, true) => {
                return Err(self.src.file_error(
                    "registration.initial_access_token: registration needs an initial access token (env:NAME or file:PATH)",
                ))
            }
            (Some(v), true) => {
                let source = self.secret_ref(v, "registration.initial_access_token")?;
                let token = source
                    .read()
                    .map_err(|m| self.err(v, "registration.initial_access_token", m))?;
                if token.trim().len() < 32 {
                    return Err(self.err(
                        v,
                        "registration.initial_access_token",
                        "must hold at least 32 characters of random text",
                    ));
                }
                Some(source)
            }
        };
        Ok(RegistrationConfig {
            initial_access_token,
            scopes,
            max_clients,
        })
    }

    pub(super) fn session(&self, s: &SessionSection) -> Result<SessionConfig> {
        let idle_timeout = self.duration(
            &s.idle_timeout,
            "session.idle_timeout",
            Duration::from_secs(8 * 3600),
        )?;
        let max_lifetime = self.duration(
            &s.max_lifetime,
            "session.max_lifetime",
            Duration::from_secs(7 * 86400),
        )?;
        if idle_timeout > max_lifetime {
            if let Some(v) = s.idle_timeout.as_ref().or(s.max_lifetime.as_ref()) {
                return Err(self.err(
                    v,
                    "session.idle_timeout",
                    "must not be longer than max_lifetime",
                ));
            }
        }
        Ok(SessionConfig {
            idle_timeout,
            max_lifetime,
        })
    }

    pub(super) fn scope_table(
        &self,
        scopes: &BTreeMap<String, Spanned<String>>,
    ) -> Result<BTreeMap<String, String>> {
        let mut out = BTreeMap::new();
        for (name, description) in scopes {
            let key = format!("scopes.{name}");
            if !is_scope_token(name) {
                return Err(self.err(
                    description,
                    &key,
                    "is not a scope token (RFC 6749 §3.3: printable ASCII, no space, `\"` or `\\`)",
                ));
            }
            if description.get_ref().trim().is_empty() {
                return Err(self.err(
                    description,
                    &key,
                    "needs a description for the consent page",
                ));
            }
            out.insert(name.clone(), description.get_ref().clone());
        }
        Ok(out)
    }

    /// Checks a list of scopes: valid tokens, and declared when `[scopes]` declares any.
    pub(super) fn scope_list(
        &self,
        list: &[Spanned<String>],
        key: &str,
        declared: &BTreeMap<String, String>,
    ) -> Result<Vec<String>> {
        let mut out = Vec::with_capacity(list.len());
        for (i, scope) in list.iter().enumerate() {
            let text = scope.get_ref();
            let at = format!("{key}[{i}]");
            if !is_scope_token(text) {
                return Err(self.err(
                    scope,
                    &at,
                    format!("`{text}` is not a scope token (RFC 6749 §3.3: printable ASCII, no space, `\"` or `\\`)"),
                ));
            }
            let builtin = super::BUILTIN_SCOPES.contains(&text.as_str());
            if !declared.is_empty() && !declared.contains_key(text) && !builtin {
                return Err(self.err(scope, &at, format!("`{text}` is not declared in [scopes]")));
            }
            if !out.contains(text) {
                out.push(text.clone());
            }
        }
        Ok(out)
    }

    pub(super) fn users(
        &self,
        users: &[Spanned<UserSection>],
        declared: &BTreeMap<String, String>,
    ) -> Result<Vec<UserConfig>> {
        let mut out: Vec<UserConfig> = Vec::with_capacity(users.len());
        for (index, user) in users.iter().enumerate() {
            let u = user.get_ref();
            let key = |field: &str| format!("users[{index}].{field}");
            let name = u.name.get_ref();
            if !is_identifier(name) {
                return Err(self.err(
                    &u.name,
                    &key("name"),
                    "must be 1 to 128 letters, digits, `.`, `_`, `-` or `@`",
                ));
            }
            if name == crate::gateway_paths::GATEWAY_CLIENT_ID {
                return Err(self.err(
                    &u.name,
                    &key("name"),
                    "`authgate` is the gateway's own client id; choose another user name",
                ));
            }
            if let Some(first) = out.iter().position(|other| other.name == *name) {
                return Err(self.err(
                    &u.name,
                    &key("name"),
                    format!("users[{first}] has the same name"),
                ));
            }
            let hash = match &u.password {
                Some(password) => {
                    let hash = password.get_ref();
                    let parsed = argon2::PasswordHash::new(hash).ok();
                    if parsed.as_ref().map(|p| p.algorithm.as_str()) != Some("argon2id") {
                        return Err(self.err(
                            password,
                            &key("password"),
                            "must be an argon2id PHC string from `authgate hash-password`, never a plain password",
                        ));
                    }
                    Some(hash.clone())
                }
                None if !u.identities.is_empty() => None,
                None => {
                    return Err(self.err(
                        &u.name,
                        &key("password"),
                        "is required (from `authgate hash-password`), unless `identities` lists the upstream identities this user signs in with",
                    ))
                }
            };
            out.push(UserConfig {
                name: name.clone(),
                password_hash: hash,
                scopes: self.scope_list(&u.scopes, &key("scopes"), declared)?,
                claims: self.user_claims(index, u)?,
                // Checked against the providers once they are known (`identities`).
                identities: Vec::new(),
                mfa: u.mfa,
            });
        }
        Ok(out)
    }

    pub(super) fn clients(
        &self,
        clients: &[Spanned<ClientSection>],
        declared: &BTreeMap<String, String>,
        users: &[UserConfig],
    ) -> Result<Vec<ClientConfig>> {
        let mut out: Vec<ClientConfig> = Vec::with_capacity(clients.len());
        for (index, client) in clients.iter().enumerate() {
            out.push(self.client(index, client.get_ref(), declared, users, &out)?);
        }
        Ok(out)
    }

    fn client(
        &self,
        index: usize,
        c: &ClientSection,
        declared: &BTreeMap<String, String>,
        users: &[UserConfig],
        earlier: &[ClientConfig],
    ) -> Result<ClientConfig> {
        let key = |field: &str| format!("clients[{index}].{field}");
        let id = c.id.get_ref();
        if !is_identifier(id) {
            return Err(self.err(
                &c.id,
                &key("id"),
                "must be 1 to 128 letters, digits, `.`, `_`, `-` or `@`",
            ));
        }
        if let Some(first) = earlier.iter().position(|other| other.id == *id) {
            return Err(self.err(
                &c.id,
                &key("id"),
                format!("clients[{first}] has the same id"),
            ));
        }
        if id == crate::gateway_paths::GATEWAY_CLIENT_ID {
            return Err(self.err(
                &c.id,
                &key("id"),
                "`authgate` is the gateway's own client id; choose another",
            ));
        }
        if users.iter().any(|u| u.name == *id) {
            // X-Auth-User and X-Auth-Client must never be confusable.
            return Err(self.err(
                &c.id,
                &key("id"),
                "equals a user's name; client ids and user names must differ",
            ));
        }
        let kind = match c.kind.get_ref().as_str() {
            "public" => ClientKind::Public,
            "confidential" => ClientKind::Confidential,
            other => {
                return Err(self.err(
                    &c.kind,
                    &key("type"),
                    format!("`{other}` is not one of \"public\", \"confidential\""),
                ))
            }
        };
        let secret_hash = match (kind, &c.secret) {
            (ClientKind::Public, None) => None,
            (ClientKind::Public, Some(v)) => {
                return Err(self.err(v, &key("secret"), "a public client has no secret"))
            }
            (ClientKind::Confidential, None) => {
                return Err(self.err(
                    &c.kind,
                    &key("secret"),
                    "a confidential client needs `secret` (written by `authgate client add`)",
                ))
            }
            (ClientKind::Confidential, Some(v)) => Some(
                v.get_ref()
                    .strip_prefix("sha256:")
                    .and_then(TokenHash::from_hex)
                    .ok_or_else(|| {
                        self.err(
                            v,
                            &key("secret"),
                            "must be `sha256:` and 64 hex digits (from `authgate client add`), never the secret itself",
                        )
                    })?,
            ),
        };

        let grants = match &c.grants {
            None => match kind {
                ClientKind::Public => vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
                ClientKind::Confidential => vec![GrantType::ClientCredentials],
            },
            Some(list) => {
                let mut grants = Vec::new();
                for (i, g) in list.get_ref().iter().enumerate() {
                    let grant = GrantType::parse(g.get_ref()).ok_or_else(|| {
                        self.err(
                            g,
                            &format!("clients[{index}].grants[{i}]"),
                            format!(
                                "`{}` is not one of \"authorization_code\", \"refresh_token\", \"client_credentials\" (password and implicit grants are not offered)",
                                g.get_ref()
                            ),
                        )
                    })?;
                    if !grants.contains(&grant) {
                        grants.push(grant);
                    }
                }
                if grants.is_empty() {
                    return Err(self.err(list, &key("grants"), "must name at least one grant"));
                }
                grants
            }
        };
        let grants_at = |g: &Option<Spanned<Vec<Spanned<String>>>>| {
            g.as_ref().map_or(c.kind.span(), |l| l.span())
        };
        if kind == ClientKind::Public && grants.contains(&GrantType::ClientCredentials) {
            return Err(self.src.error(
                grants_at(&c.grants),
                key("grants"),
                "client_credentials needs a confidential client",
            ));
        }
        if grants.contains(&GrantType::RefreshToken)
            && !grants.contains(&GrantType::AuthorizationCode)
        {
            return Err(self.src.error(
                grants_at(&c.grants),
                key("grants"),
                "refresh_token is only issued with authorization_code",
            ));
        }

        let mut redirect_uris: Vec<String> = Vec::with_capacity(c.redirect_uris.len());
        for (i, uri) in c.redirect_uris.iter().enumerate() {
            let at = format!("clients[{index}].redirect_uris[{i}]");
            check_redirect_uri(uri.get_ref()).map_err(|m| self.err(uri, &at, m))?;
            if !redirect_uris.contains(uri.get_ref()) {
                redirect_uris.push(uri.get_ref().clone());
            }
        }
        if grants.contains(&GrantType::AuthorizationCode) && redirect_uris.is_empty() {
            return Err(self.err(
                &c.id,
                &key("redirect_uris"),
                "authorization_code needs at least one redirect URI",
            ));
        }

        let require_pkce = match (&c.require_pkce, kind) {
            (None, _) => true,
            (Some(v), ClientKind::Public) if !*v.get_ref() => {
                return Err(self.err(v, &key("require_pkce"), "a public client must use PKCE"))
            }
            (Some(v), _) => *v.get_ref(),
        };
        let name = match &c.name {
            Some(v) if v.get_ref().trim().is_empty() => {
                return Err(self.err(v, &key("name"), "must not be empty"))
            }
            Some(v) => v.get_ref().clone(),
            None => id.clone(),
        };
        let oidc = self.client_oidc(index, c)?;
        let mut allowed_origins = Vec::with_capacity(c.allowed_origins.len());
        for (i, origin) in c.allowed_origins.iter().enumerate() {
            let at = key(&format!("allowed_origins[{i}]"));
            if kind != ClientKind::Public {
                return Err(self.err(
                    origin,
                    &at,
                    "only a public client is called from a browser page: a confidential \
                     client's secret must never be in one",
                ));
            }
            crate::config::cors::check_origin(origin.get_ref())
                .map_err(|m| self.err(origin, &at, m))?;
            if !allowed_origins.contains(origin.get_ref()) {
                allowed_origins.push(origin.get_ref().clone());
            }
        }
        Ok(ClientConfig {
            id: id.clone(),
            kind,
            secret_hash,
            name,
            redirect_uris,
            grants,
            scopes: self.scope_list(&c.scopes, &key("scopes"), declared)?,
            first_party: c.first_party,
            require_pkce,
            id_token_alg: oidc.id_token_alg,
            id_token_claims: oidc.id_token_claims,
            post_logout_redirect_uris: oidc.post_logout_redirect_uris,
            backchannel_logout_uri: oidc.backchannel_logout_uri,
            allowed_origins,
        })
    }
}
