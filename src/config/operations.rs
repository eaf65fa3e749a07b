//! Validation of how the gateway is run rather than whom it lets in: `[store]` (which
//! backend keeps tokens and sessions) and `[admin]` (the metrics and token-management
//! listener and its credential).

use std::net::SocketAddr;
use std::path::Path;

use toml::Spanned;

use super::error::ConfigError;
use super::file::{AdminSection, StoreSection};
use super::units::parse_size;
use super::validate::Validator;
use super::{AdminConfig, RedisUrl, SecretRef, StoreBackend, StoreConfig};

type Result<T> = std::result::Result<T, ConfigError>;

const DEFAULT_COMPACT_AFTER: u64 = 64 << 20;
const MIN_COMPACT_AFTER: u64 = 64 << 10;
const DEFAULT_ADMIN_LISTEN: &str = "127.0.0.1:9090";

impl Validator<'_> {
    pub(super) fn store(&self, s: &StoreSection) -> Result<StoreConfig> {
        let backend = s
            .backend
            .as_ref()
            .map_or("memory", |b| b.get_ref().as_str());
        let only = |value: &Option<Spanned<_>>, key: &str, backend: &str| match value {
            Some(v) => Err(self.err(v, key, format!("only applies to backend = \"{backend}\""))),
            None => Ok(()),
        };
        let backend = match backend {
            "memory" => {
                only(&s.url, "store.url", "redis")?;
                only(&s.key_prefix, "store.key_prefix", "redis")?;
                if let Some(v) = &s.fail_open {
                    return Err(self.err(
                        v,
                        "store.fail_open",
                        "only applies to backend = \"redis\"",
                    ));
                }
                let compact_after = match &s.compact_after {
                    None => DEFAULT_COMPACT_AFTER,
                    Some(v) => {
                        let n = parse_size(v.get_ref())
                            .map_err(|m| self.err(v, "store.compact_after", m))?;
                        if n < MIN_COMPACT_AFTER {
                            return Err(self.err(
                                v,
                                "store.compact_after",
                                "must be at least 64KiB",
                            ));
                        }
                        n
                    }
                };
                StoreBackend::Memory {
                    fsync: s.fsync.as_ref().is_none_or(|v| *v.get_ref()),
                    compact_after,
                }
            }
            "redis" => {
                only(&s.compact_after, "store.compact_after", "memory")?;
                if let Some(v) = &s.fsync {
                    return Err(self.err(v, "store.fsync", "only applies to backend = \"memory\""));
                }
                let Some(url) = &s.url else {
                    return Err(self.src.file_error(
                        "store.url: backend = \"redis\" needs url = \"redis://HOST:PORT\"",
                    ));
                };
                let url = self.redis_url(url)?;
                let key_prefix = match &s.key_prefix {
                    None => "authgate:".to_owned(),
                    Some(v) => {
                        let text = v.get_ref();
                        let ok = !text.is_empty()
                            && text.len() <= 64
                            && text.bytes().all(|b| b.is_ascii_graphic());
                        if !ok {
                            return Err(self.err(
                                v,
                                "store.key_prefix",
                                "must be 1 to 64 printable characters without spaces",
                            ));
                        }
                        text.clone()
                    }
                };
                StoreBackend::Redis {
                    url,
                    key_prefix,
                    fail_open: s.fail_open.as_ref().is_some_and(|v| *v.get_ref()),
                }
            }
            _ => {
                let at = s
                    .backend
                    .as_ref()
                    .ok_or_else(|| self.src.file_error("store.backend"))?;
                return Err(self.err(at, "store.backend", "must be \"memory\" or \"redis\""));
            }
        };
        Ok(StoreConfig { backend })
    }

    fn redis_url(&self, value: &Spanned<String>) -> Result<RedisUrl> {
        let text = value.get_ref();
        if text.starts_with("env:") || text.starts_with("file:") {
            return Ok(RedisUrl::Secret(self.secret_ref(value, "store.url")?));
        }
        check_redis_url(text).map_err(|m| self.err(value, "store.url", m))?;
        Ok(RedisUrl::Literal(text.clone()))
    }

    pub(super) fn admin(
        &self,
        a: &AdminSection,
        data_dir: &Path,
        public_listen: SocketAddr,
    ) -> Result<AdminConfig> {
        let listen = match &a.listen {
            Some(v) if v.get_ref() == "off" => None,
            Some(v) => {
                let addr: SocketAddr = v.get_ref().parse().map_err(|_| {
                    self.err(
                        v,
                        "admin.listen",
                        format!(
                            "`{}` is not a socket address such as \"127.0.0.1:9090\" (or \"off\")",
                            v.get_ref()
                        ),
                    )
                })?;
                if addr.port() != 0 && addr == public_listen {
                    return Err(self.err(
                        v,
                        "admin.listen",
                        "must differ from server.listen: the admin API is never served on the public listener",
                    ));
                }
                Some(addr)
            }
            None => DEFAULT_ADMIN_LISTEN.parse().ok(),
        };
        let token = match &a.token {
            Some(v) => self.secret_ref(v, "admin.token")?,
            None => SecretRef::File(data_dir.join("admin.token")),
        };
        Ok(AdminConfig { listen, token })
    }
}

/// Checks a literal Redis URL; one that carries a password must be given through `env:` or
/// `file:` instead, so that the file holds no secret.
pub fn check_redis_url(text: &str) -> std::result::Result<(), String> {
    let rest = text
        .strip_prefix("redis://")
        .or_else(|| text.strip_prefix("rediss://"))
        .ok_or("must start with redis:// or rediss:// (or be env:NAME / file:PATH)")?;
    let authority = rest.split('/').next().unwrap_or("");
    if authority.contains('@') {
        return Err(
            "holds credentials: put the URL in an environment variable or file and write env:NAME or file:PATH"
                .to_owned(),
        );
    }
    if authority.is_empty() {
        return Err("needs a host, like redis://127.0.0.1:6379".to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_redis_url;

    #[test]
    fn redis_urls() {
        assert!(check_redis_url("redis://127.0.0.1:6379").is_ok());
        assert!(check_redis_url("rediss://cache.internal:6380/2").is_ok());
        assert!(check_redis_url("http://127.0.0.1:6379").is_err());
        assert!(check_redis_url("redis://:hunter2@127.0.0.1").is_err());
        assert!(check_redis_url("redis:///0").is_err());
    }
}
