//! The Redis backend: several gateways share one Redis.
//!
//! - Every read-then-write runs as one Lua script ([`scripts`]), so a code is redeemed and a
//!   refresh token rotated exactly once across all gateways.
//! - Entries expire through Redis TTLs; the scripts still compare expiry with the caller's
//!   clock, so an entry is dead at its time even before Redis drops it ([`keys::ttl`]).
//! - Access-token deny-list and subject cut-off checks, made on every bearer request, are
//!   answered from a local [`cache::RevocationCache`] that the [`feed`] keeps in step through
//!   pub/sub: no Redis round trip per proxied request, and a revocation reaches every gateway
//!   within milliseconds.
//! - Every command is bounded by [`COMMAND_TIMEOUT`]: a dead Redis is an error (so 503) within a
//!   second, never a hang; the connection manager reconnects by itself when Redis returns.
//! - The gateway starts while Redis is unreachable: [`RedisStore::connect`] waits briefly for
//!   the first load and otherwise returns, answering errors until Redis is back.
//!
//! Security: the URL may carry a password (when read from `env:`/`file:`); only
//! [`shown_url`] (without credentials) is ever logged, and errors never include the URL.

mod cache;
mod factors;
mod feed;
pub mod keys;
mod passkeys;
mod persons;
mod scripts;
mod signing_keys;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use redis::aio::ConnectionManager;
use redis::AsyncCommands;

use self::cache::RevocationCache;
use self::keys::{subject_key, ttl, Keys};
use self::scripts::Scripts;
use super::{
    ClientAccess, ClientTokens, CodeGrant, CodeTake, GrantFilter, GrantSummary, IssuedAccess,
    NextRefresh, PersonRecord, RefreshLookup, RefreshRecord, Rotation, SealedSuccessor,
    SessionRecord, Store, StoreError, StoreResult, StoreStats, Subject,
};
use crate::clock::Clock;
use crate::config::ClientConfig;
use crate::tokens::opaque::TokenHash;

/// The longest any Redis command may take before the caller gets an error.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(1);
/// How long `connect` waits for the first load of the revocations before returning anyway.
const STARTUP_WAIT: Duration = Duration::from_secs(2);
/// Session limits assumed for a new session's TTL until the first sweep tells the real ones.
const DEFAULT_SESSION_SECS: u64 = 30 * 86_400;

pub struct RedisStore {
    conn: ConnectionManager,
    keys: Keys,
    prefix: String,
    scripts: Scripts,
    swap_signing_keys: redis::Script,
    cache: Arc<RevocationCache>,
    /// The server's clock, for the TTLs of what this store writes.
    clock: Arc<dyn Clock>,
    /// The session idle and absolute limits, learnt from `sweep`, for a new session's TTL.
    session_idle: AtomicU64,
    session_max: AtomicU64,
}

/// The URL without user name or password, for log lines.
pub fn shown_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "redis://(unparsed)".to_owned();
    };
    // A query (`?password=...`, `?user=...`) may carry credentials too: never shown.
    let rest = rest.split_once('?').map_or(rest, |(address, _)| address);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    format!("{scheme}://{rest}")
}

fn failed(err: redis::RedisError) -> StoreError {
    if err.is_timeout() {
        return StoreError(format!("redis did not answer within {COMMAND_TIMEOUT:?}"));
    }
    if err.is_connection_refusal() || err.is_io_error() || err.is_connection_dropped() {
        return StoreError("redis is unreachable".to_owned());
    }
    StoreError(format!("redis: {err}"))
}

fn decode<T: serde::de::DeserializeOwned>(what: &str, json: &[u8]) -> StoreResult<T> {
    serde_json::from_slice(json).map_err(|e| StoreError(format!("unreadable {what} in redis: {e}")))
}

fn encode<T: serde::Serialize>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|e| StoreError(format!("cannot encode for redis: {e}")))
}

impl RedisStore {
    /// Connects to Redis (lazily: an unreachable Redis is not an error here) and starts the
    /// revocation feed, waiting up to [`STARTUP_WAIT`] for its first load.
    pub async fn connect(
        url: &str,
        prefix: &str,
        fail_open: bool,
        clock: Arc<dyn Clock>,
    ) -> StoreResult<RedisStore> {
        let shown = shown_url(url);
        let client = redis::Client::open(url).map_err(|e| {
            StoreError(format!(
                "store.url is not a usable redis URL ({:?})",
                e.kind()
            ))
        })?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(COMMAND_TIMEOUT))
            .set_response_timeout(Some(COMMAND_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let conn =
            ConnectionManager::new_lazy_with_config(client.clone(), config).map_err(failed)?;
        let keys = Keys::new(prefix);
        let cache = Arc::new(RevocationCache::new(fail_open));
        let mut ready = feed::spawn(client, conn.clone(), keys.clone(), &cache, shown.clone());
        let first_load = tokio::time::timeout(STARTUP_WAIT, ready.wait_for(|r| *r)).await;
        if !matches!(first_load, Ok(Ok(_))) {
            tracing::warn!(
                redis = %shown,
                "redis is not reachable yet: serving 503 on what needs the token store until it is"
            );
        }
        Ok(RedisStore {
            conn,
            keys,
            prefix: prefix.to_owned(),
            scripts: Scripts::new(),
            swap_signing_keys: signing_keys::swap_script(),
            cache,
            clock,
            session_idle: AtomicU64::new(DEFAULT_SESSION_SECS),
            session_max: AtomicU64::new(DEFAULT_SESSION_SECS),
        })
    }

    /// Runs one command or script under [`COMMAND_TIMEOUT`].
    async fn run<T>(
        &self,
        fut: impl std::future::Future<Output = redis::RedisResult<T>>,
    ) -> StoreResult<T> {
        match tokio::time::timeout(COMMAND_TIMEOUT, fut).await {
            Ok(result) => result.map_err(failed),
            Err(_) => Err(StoreError(format!(
                "redis did not answer within {COMMAND_TIMEOUT:?}"
            ))),
        }
    }

    /// Applies what a revoking script announced, here at once (the others hear it by pub/sub).
    fn applied(&self, announcement: &str) -> StoreResult<()> {
        self.cache.apply(announcement).map(|_| ())
    }

    /// Now on the server's clock, for TTLs.
    fn now(&self) -> u64 {
        self.clock.now()
    }
}

#[async_trait]
impl Store for RedisStore {
    async fn put_code(&self, code: TokenHash, grant: CodeGrant) -> StoreResult<()> {
        let key = self.keys.code(&code);
        let json = encode(&grant)?;
        let secs = ttl(grant.expires_at, self.now());
        let mut conn = self.conn.clone();
        let mut pipe = redis::pipe();
        pipe.atomic()
            .hset_multiple(
                &key,
                &[("grant", json), ("exp", grant.expires_at.to_string())],
            )
            .ignore()
            .hset(&key, "uses", 0)
            .ignore()
            .expire(&key, secs as i64)
            .ignore();
        self.run(pipe.query_async::<()>(&mut conn)).await
    }

    async fn take_code(&self, code: &TokenHash, now: u64) -> StoreResult<CodeTake> {
        let mut conn = self.conn.clone();
        let mut call = self.scripts.take_code.prepare_invoke();
        call.arg(&self.prefix).arg(code.to_hex()).arg(now);
        let (kind, grant): (i64, Vec<u8>) = self.run(call.invoke_async(&mut conn)).await?;
        Ok(match kind {
            1 => CodeTake::Fresh(decode("code", &grant)?),
            2 => CodeTake::Replayed(decode("code", &grant)?),
            _ => CodeTake::Unknown,
        })
    }

    async fn put_refresh(
        &self,
        token: TokenHash,
        record: RefreshRecord,
        access: IssuedAccess,
    ) -> StoreResult<()> {
        let mut conn = self.conn.clone();
        let mut call = self.scripts.put_refresh.prepare_invoke();
        call.arg(&self.prefix)
            .arg(token.to_hex())
            .arg(encode(&record)?)
            .arg(&record.family)
            .arg(record.expires_at)
            .arg(&record.user)
            .arg(&record.client_id)
            .arg(&access.jti)
            .arg(access.expires_at)
            .arg(record.oidc.as_ref().map_or("", |o| o.sid.as_str()));
        self.run(call.invoke_async::<i64>(&mut conn)).await?;
        Ok(())
    }

    async fn get_refresh(&self, token: &TokenHash, now: u64) -> StoreResult<Option<RefreshLookup>> {
        let mut conn = self.conn.clone();
        let mut call = self.scripts.get_refresh.prepare_invoke();
        call.arg(&self.prefix).arg(token.to_hex()).arg(now);
        let found: Vec<Vec<u8>> = self.run(call.invoke_async(&mut conn)).await?;
        let [record, current] = found.as_slice() else {
            return Ok(None);
        };
        Ok(Some(RefreshLookup {
            record: decode("refresh token", record)?,
            current: current.as_slice() == b"1",
        }))
    }

    async fn rotate_refresh(
        &self,
        old: &TokenHash,
        next: NextRefresh,
        now: u64,
        grace_secs: u64,
    ) -> StoreResult<Rotation> {
        let mut conn = self.conn.clone();
        let mut call = self.scripts.rotate_refresh.prepare_invoke();
        call.arg(&self.prefix)
            .arg(old.to_hex())
            .arg(now)
            .arg(grace_secs)
            .arg(next.token.to_hex())
            .arg(encode(&next.record)?)
            .arg(&next.record.family)
            .arg(next.record.expires_at)
            .arg(&next.record.user)
            .arg(&next.record.client_id)
            .arg(&next.access.jti)
            .arg(next.access.expires_at)
            .arg(next.sealed.0.as_slice());
        let (kind, payload, announcement): (i64, Vec<u8>, String) =
            self.run(call.invoke_async(&mut conn)).await?;
        Ok(match kind {
            1 => Rotation::Rotated,
            2 => Rotation::Grace(SealedSuccessor(payload)),
            3 => {
                self.applied(&announcement)?;
                Rotation::Reused {
                    family: String::from_utf8_lossy(&payload).into_owned(),
                }
            }
            _ => Rotation::Unknown,
        })
    }

    async fn revoke_family(&self, family: &str, _now: u64) -> StoreResult<()> {
        let mut conn = self.conn.clone();
        let mut call = self.scripts.revoke_family.prepare_invoke();
        call.arg(&self.prefix).arg(family);
        let announcement: String = self.run(call.invoke_async(&mut conn)).await?;
        self.applied(&announcement)
    }

    async fn revoke_access(&self, jti: &str, expires_at: u64) -> StoreResult<()> {
        let mut conn = self.conn.clone();
        let mut call = self.scripts.revoke_access.prepare_invoke();
        call.arg(&self.prefix).arg(jti).arg(expires_at);
        let announcement: String = self.run(call.invoke_async(&mut conn)).await?;
        self.applied(&announcement)
    }

    async fn is_access_revoked(&self, jti: &str) -> StoreResult<bool> {
        self.cache.is_denied(jti)
    }

    async fn revoke_subject(&self, subject: Subject, cutoff: u64, _now: u64) -> StoreResult<()> {
        let user = match &subject {
            Subject::User(name) => name.as_str(),
            Subject::Client(_) => "",
        };
        let mut conn = self.conn.clone();
        let mut call = self.scripts.revoke_subject.prepare_invoke();
        call.arg(&self.prefix)
            .arg(subject_key(&subject))
            .arg(user)
            .arg(cutoff);
        let announcement: String = self.run(call.invoke_async(&mut conn)).await?;
        self.applied(&announcement)?;
        if let Subject::Client(id) = &subject {
            // Every token it recorded was issued before the cut-off (the listing checks the
            // cut-off too, so this only frees the memory early).
            let mut pipe = redis::pipe();
            pipe.del(self.keys.client_access(id))
                .ignore()
                .hdel(self.keys.client_access_unlisted(), id)
                .ignore();
            self.run(pipe.query_async::<()>(&mut conn)).await?;
        }
        Ok(())
    }

    async fn cutoff(&self, subject: &Subject) -> StoreResult<Option<u64>> {
        self.cache.cutoff(&subject_key(subject))
    }

    async fn claim_once(&self, key: &TokenHash, expires_at: u64, now: u64) -> StoreResult<bool> {
        if expires_at <= now {
            return Ok(false);
        }
        let mut conn = self.conn.clone();
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.keys.once(key))
            .arg(expires_at)
            .arg("NX")
            .arg("EX")
            .arg(ttl(expires_at, self.now()));
        let set: Option<String> = self.run(cmd.query_async(&mut conn)).await?;
        Ok(set.is_some())
    }

    async fn record_client_access(
        &self,
        client: &str,
        access: ClientAccess,
        now: u64,
    ) -> StoreResult<()> {
        let mut conn = self.conn.clone();
        let mut call = self.scripts.record_client_access.prepare_invoke();
        call.arg(&self.prefix)
            .arg(client)
            .arg(encode(&access)?)
            .arg(&access.jti)
            .arg(access.expires_at)
            .arg(now)
            .arg(super::CLIENT_ACCESS_PER_CLIENT)
            .arg(super::CLIENT_ACCESS_TOTAL);
        self.run(call.invoke_async::<i64>(&mut conn)).await?;
        Ok(())
    }

    async fn list_client_access(
        &self,
        client: Option<&str>,
        now: u64,
        limit: usize,
    ) -> StoreResult<Vec<ClientTokens>> {
        let mut conn = self.conn.clone();
        let mut call = self.scripts.list_client_access.prepare_invoke();
        call.arg(&self.prefix).arg(now).arg(client.unwrap_or(""));
        let flat: Vec<String> = self.run(call.invoke_async(&mut conn)).await?;
        let bad = || StoreError("unreadable client token listing from redis".to_owned());
        let mut out = Vec::new();
        let mut rest = flat.as_slice();
        while let [client_id, unlisted, n, tail @ ..] = rest {
            let n: usize = n.parse().map_err(|_| bad())?;
            let unlisted: u64 = unlisted.parse().map_err(|_| bad())?;
            let records = tail.get(..n).ok_or_else(bad)?;
            let cutoff = self
                .cache
                .cutoff(&subject_key(&Subject::Client(client_id.clone())))?
                .unwrap_or(0);
            let mut access = Vec::with_capacity(n);
            for record in records {
                let record: ClientAccess = decode("client token record", record.as_bytes())?;
                if record.issued_at >= cutoff && !self.cache.is_denied(&record.jti)? {
                    access.push(record);
                }
            }
            let unlisted_until = (unlisted > now).then_some(unlisted);
            if !access.is_empty() || unlisted_until.is_some() {
                out.push(ClientTokens {
                    client_id: client_id.clone(),
                    access,
                    unlisted_until,
                });
            }
            rest = &tail[n..];
        }
        out.sort_by(|a, b| a.client_id.cmp(&b.client_id));
        out.truncate(limit);
        Ok(out)
    }

    async fn put_consent(&self, user: &str, client: &str, scopes: &[String]) -> StoreResult<()> {
        if scopes.is_empty() {
            return Ok(());
        }
        let mut conn = self.conn.clone();
        let key = self.keys.consent(user, client);
        self.run(conn.sadd::<_, _, ()>(key, scopes)).await
    }

    async fn consent(&self, user: &str, client: &str) -> StoreResult<Vec<String>> {
        let mut conn = self.conn.clone();
        let key = self.keys.consent(user, client);
        self.run(conn.smembers(key)).await
    }

    async fn put_session(&self, id: TokenHash, session: SessionRecord) -> StoreResult<()> {
        let idle = self.session_idle.load(Ordering::Relaxed);
        let max = self.session_max.load(Ordering::Relaxed);
        let end = session
            .last_seen
            .saturating_add(idle)
            .min(session.created_at.saturating_add(max));
        let mut conn = self.conn.clone();
        let mut call = self.scripts.put_session.prepare_invoke();
        call.arg(&self.prefix)
            .arg(id.to_hex())
            .arg(encode(&session)?)
            .arg(&session.user)
            .arg(session.created_at)
            .arg(session.last_seen)
            .arg(ttl(end, self.now()));
        self.run(call.invoke_async::<i64>(&mut conn)).await?;
        Ok(())
    }

    async fn touch_session(
        &self,
        id: &TokenHash,
        now: u64,
        idle_secs: u64,
        max_secs: u64,
    ) -> StoreResult<Option<SessionRecord>> {
        let mut conn = self.conn.clone();
        let mut call = self.scripts.touch_session.prepare_invoke();
        call.arg(&self.prefix)
            .arg(id.to_hex())
            .arg(now)
            .arg(idle_secs)
            .arg(max_secs);
        let found: Vec<Vec<u8>> = self.run(call.invoke_async(&mut conn)).await?;
        let Some(json) = found.first() else {
            return Ok(None);
        };
        let mut session: SessionRecord = decode("session", json)?;
        session.last_seen = now;
        Ok(Some(session))
    }

    async fn delete_session(&self, id: &TokenHash) -> StoreResult<()> {
        let mut conn = self.conn.clone();
        let mut call = self.scripts.delete_session.prepare_invoke();
        call.arg(&self.prefix).arg(id.to_hex());
        self.run(call.invoke_async::<i64>(&mut conn)).await?;
        Ok(())
    }

    async fn put_person(&self, principal: &str, person: PersonRecord) -> StoreResult<()> {
        self.write_person(principal, &person).await
    }

    async fn person(&self, principal: &str, now: u64) -> StoreResult<Option<PersonRecord>> {
        self.read_person(principal, now).await
    }

    async fn put_client(&self, client: ClientConfig, max: usize) -> StoreResult<bool> {
        let mut conn = self.conn.clone();
        let mut call = self.scripts.put_client.prepare_invoke();
        call.arg(&self.prefix)
            .arg(&client.id)
            .arg(encode(&client)?)
            .arg(max);
        let stored: i64 = self.run(call.invoke_async(&mut conn)).await?;
        Ok(stored == 1)
    }

    async fn signing_keys(&self) -> StoreResult<Option<super::StoredKeys>> {
        let mut conn = self.conn.clone();
        let (version, document): (Option<u64>, Option<Vec<u8>>) = self
            .run(conn.hmget(self.keys.signing_keys(), &["v", "doc"]))
            .await?;
        Ok(match (version, document) {
            (Some(version), Some(document)) => Some(super::StoredKeys { version, document }),
            _ => None,
        })
    }

    async fn swap_signing_keys(&self, expected: u64, document: Vec<u8>) -> StoreResult<bool> {
        let mut conn = self.conn.clone();
        let mut call = self.swap_signing_keys.prepare_invoke();
        call.key(self.keys.signing_keys())
            .arg(expected)
            .arg(document);
        let written: i64 = self.run(call.invoke_async(&mut conn)).await?;
        Ok(written == 1)
    }

    async fn get_client(&self, id: &str) -> StoreResult<Option<ClientConfig>> {
        let mut conn = self.conn.clone();
        let json: Option<Vec<u8>> = self.run(conn.hget(self.keys.clients(), id)).await?;
        json.map(|j| decode("registered client", &j)).transpose()
    }

    async fn list_grants(
        &self,
        filter: &GrantFilter,
        now: u64,
        limit: usize,
    ) -> StoreResult<Vec<GrantSummary>> {
        let mut conn = self.conn.clone();
        let mut call = self.scripts.list_grants.prepare_invoke();
        call.arg(&self.prefix)
            .arg(now)
            .arg(limit)
            .arg(filter.user.as_deref().unwrap_or(""))
            .arg(filter.client.as_deref().unwrap_or(""));
        let flat: Vec<String> = self.run(call.invoke_async(&mut conn)).await?;
        let mut out = grants_from(&flat)?;
        out.sort_by(|a, b| a.family.cmp(&b.family));
        Ok(out)
    }

    fn health(&self) -> Result<(), String> {
        // The same rule as the bearer checks: the feed's PING every 500 ms notices a silent
        // Redis; with `fail_open` the operator chose to keep serving from the last copy.
        self.cache.usable().map_err(|err| err.0)
    }

    async fn stats(&self) -> StoreResult<StoreStats> {
        let mut conn = self.conn.clone();
        let mut pipe = redis::pipe();
        pipe.zcard(self.keys.families())
            .zcard(self.keys.denied())
            .zcard(self.keys.sessions_last())
            .hlen(self.keys.clients());
        let (families, denied, sessions, clients): (u64, u64, u64, u64) =
            self.run(pipe.query_async(&mut conn)).await?;
        Ok(StoreStats {
            entries: vec![
                ("family", families),
                ("revoked_access", denied),
                ("session", sessions),
                ("client", clients),
            ],
        })
    }

    fn set_session_limits(&self, session_idle: u64, session_max: u64) {
        self.session_idle.store(session_idle, Ordering::Relaxed);
        self.session_max.store(session_max, Ordering::Relaxed);
    }

    async fn sweep(&self, now: u64, session_idle: u64, session_max: u64) -> StoreResult<()> {
        self.session_idle.store(session_idle, Ordering::Relaxed);
        self.session_max.store(session_max, Ordering::Relaxed);
        self.cache.prune(now)?;
        let mut conn = self.conn.clone();
        let mut call = self.scripts.sweep.prepare_invoke();
        call.arg(&self.prefix)
            .arg(now)
            .arg(session_idle)
            .arg(session_max);
        self.run(call.invoke_async::<i64>(&mut conn)).await?;
        Ok(())
    }
}

/// Reads the flattened answer of the listing script.
fn grants_from(flat: &[String]) -> StoreResult<Vec<GrantSummary>> {
    let bad = || StoreError("unreadable grant listing from redis".to_owned());
    let number = |s: &String| s.parse::<f64>().map(|n| n as u64).map_err(|_| bad());
    let mut out = Vec::new();
    let mut rest = flat;
    while let [family, user, client_id, expires_at, sid, n, tail @ ..] = rest {
        let n = number(n)? as usize;
        let pairs = tail.get(..n * 2).ok_or_else(bad)?;
        let access = pairs
            .chunks(2)
            .map(|p| match p {
                [jti, exp] => Ok(IssuedAccess {
                    jti: jti.clone(),
                    expires_at: number(exp)?,
                }),
                _ => Err(bad()),
            })
            .collect::<StoreResult<Vec<_>>>()?;
        out.push(GrantSummary {
            family: family.clone(),
            user: user.clone(),
            client_id: client_id.clone(),
            expires_at: number(expires_at)?,
            access,
            sid: (!sid.is_empty()).then(|| sid.clone()),
        });
        rest = &tail[n * 2..];
    }
    if !rest.is_empty() {
        return Err(bad());
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
