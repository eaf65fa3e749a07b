//! Second factors in Redis: a hash per user (`mfa:{user}`), a set of recovery-code hashes
//! (`mfa-recovery:{user}`) and a failure-count hash with a TTL (`mfa-failures:{user}`). Every
//! read-then-write is one Lua script over the keys it is given (so no key name is spelled in
//! Lua), which Redis runs atomically: of two gateways accepting the same TOTP time step,
//! exactly one gets `true`. Using a recovery code is one `SREM`, atomic by itself.

use std::sync::LazyLock;

use async_trait::async_trait;
use redis::{AsyncCommands, Script};

use super::{decode, encode, RedisStore};
use crate::store::factors::{FactorFailures, FactorStore, Factors, PendingTotp, TotpSecret};
use crate::store::passkeys::{Ceremony, PasskeyRecord};
use crate::store::{StoreError, StoreResult};
use crate::tokens::opaque::TokenHash;

/// KEYS[1] the factors hash, KEYS[2] the recovery set; ARGV[1] the pending id, ARGV[2] the
/// step, ARGV[3] now, ARGV[4..] the new recovery hashes. 1 when confirmed.
static CONFIRM: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local f = redis.call('HMGET', KEYS[1], 'pending_id', 'pending_exp', 'last_step', 'pending')
if f[1] ~= ARGV[1] or tonumber(f[2] or '0') <= tonumber(ARGV[3]) then return 0 end
if tonumber(ARGV[2]) <= tonumber(f[3] or '0') then return 0 end
redis.call('HSET', KEYS[1], 'totp', f[4], 'totp_id', f[1], 'last_step', ARGV[2])
redis.call('HDEL', KEYS[1], 'pending', 'pending_id', 'pending_exp')
redis.call('DEL', KEYS[2])
for i = 4, #ARGV do redis.call('SADD', KEYS[2], ARGV[i]) end
return 1
"#,
    )
});

/// KEYS[1] the factors hash; ARGV[1] the active id, ARGV[2] the step. 1 when accepted.
static ACCEPT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local f = redis.call('HMGET', KEYS[1], 'totp_id', 'last_step')
if f[1] ~= ARGV[1] then return 0 end
if tonumber(ARGV[2]) <= tonumber(f[2] or '0') then return 0 end
redis.call('HSET', KEYS[1], 'last_step', ARGV[2])
return 1
"#,
    )
});

/// KEYS[1] the failures hash; ARGV[1] now, ARGV[2] forget after (seconds). Counts one
/// attempt; returns `{count, last, exp}` as they were before it (zeros once forgotten).
static FAIL: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local now = tonumber(ARGV[1])
local f = redis.call('HMGET', KEYS[1], 'count', 'last', 'exp')
local before = {0, 0, 0}
if f[3] and tonumber(f[3]) > now then
  before = {tonumber(f[1] or '0'), tonumber(f[2] or '0'), tonumber(f[3])}
end
local exp = now + tonumber(ARGV[2])
redis.call('HSET', KEYS[1], 'count', before[1] + 1, 'last', now, 'exp', exp)
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]) + 60)
return before
"#,
    )
});

fn number(field: Option<String>) -> u64 {
    field.and_then(|v| v.parse().ok()).unwrap_or(0)
}

#[async_trait]
impl FactorStore for RedisStore {
    async fn factors(&self, user: &str, now: u64) -> StoreResult<Option<Factors>> {
        let mut conn = self.conn.clone();
        let fields: Vec<Option<String>> = self
            .run(conn.hmget(
                self.keys.mfa(user),
                &["totp", "pending", "pending_exp", "last_step"],
            ))
            .await?;
        let [totp, pending, pending_exp, last_step]: [Option<String>; 4] = fields
            .try_into()
            .map_err(|_| StoreError("unexpected answer to HMGET".to_owned()))?;
        let totp: Option<TotpSecret> = match totp {
            Some(json) => Some(decode("totp secret", json.as_bytes())?),
            None => None,
        };
        let pending_exp = number(pending_exp);
        let pending = match pending {
            Some(json) if pending_exp > now => Some(PendingTotp {
                secret: decode("pending totp secret", json.as_bytes())?,
                expires_at: pending_exp,
            }),
            _ => None,
        };
        let passkeys = self.passkeys_of(user).await?;
        if totp.is_none() && pending.is_none() && passkeys.is_empty() {
            return Ok(None);
        }
        let recovery: Vec<String> = self
            .run(conn.smembers(self.keys.mfa_recovery(user)))
            .await?;
        let mut recovery: Vec<TokenHash> = recovery
            .iter()
            .filter_map(|hex| TokenHash::from_hex(hex))
            .collect();
        recovery.sort();
        Ok(Some(Factors {
            totp,
            pending,
            last_step: number(last_step),
            recovery,
            passkeys,
        }))
    }

    async fn put_pending_totp(&self, user: &str, pending: PendingTotp) -> StoreResult<()> {
        let mut conn = self.conn.clone();
        let items = [
            ("pending", encode(&pending.secret)?),
            ("pending_id", pending.secret.id.clone()),
            ("pending_exp", pending.expires_at.to_string()),
        ];
        self.run(conn.hset_multiple::<_, _, _, ()>(self.keys.mfa(user), &items))
            .await
    }

    async fn confirm_totp(
        &self,
        user: &str,
        id: &str,
        step: u64,
        recovery: Vec<TokenHash>,
        now: u64,
    ) -> StoreResult<bool> {
        let mut conn = self.conn.clone();
        let mut call = CONFIRM.prepare_invoke();
        call.key(self.keys.mfa(user))
            .key(self.keys.mfa_recovery(user))
            .arg(id)
            .arg(step)
            .arg(now);
        for code in &recovery {
            call.arg(code.to_hex());
        }
        let done: i64 = self.run(call.invoke_async(&mut conn)).await?;
        Ok(done == 1)
    }

    async fn accept_totp(&self, user: &str, id: &str, step: u64) -> StoreResult<bool> {
        let mut conn = self.conn.clone();
        let mut call = ACCEPT.prepare_invoke();
        call.key(self.keys.mfa(user)).arg(id).arg(step);
        let done: i64 = self.run(call.invoke_async(&mut conn)).await?;
        Ok(done == 1)
    }

    async fn use_recovery_code(&self, user: &str, code: &TokenHash) -> StoreResult<bool> {
        let mut conn = self.conn.clone();
        let removed: i64 = self
            .run(conn.srem(self.keys.mfa_recovery(user), code.to_hex()))
            .await?;
        Ok(removed == 1)
    }

    async fn count_factor_attempt(
        &self,
        user: &str,
        now: u64,
        forget_after: u64,
    ) -> StoreResult<FactorFailures> {
        let mut conn = self.conn.clone();
        let mut call = FAIL.prepare_invoke();
        call.key(self.keys.mfa_failures(user))
            .arg(now)
            .arg(forget_after);
        let (count, last, expires_at): (u32, u64, u64) =
            self.run(call.invoke_async(&mut conn)).await?;
        Ok(FactorFailures {
            count,
            last,
            expires_at,
        })
    }

    async fn factor_failures(&self, user: &str, now: u64) -> StoreResult<FactorFailures> {
        let mut conn = self.conn.clone();
        let fields: Vec<Option<String>> = self
            .run(conn.hmget(self.keys.mfa_failures(user), &["count", "last", "exp"]))
            .await?;
        let mut fields = fields.into_iter().map(number);
        let (count, last, expires_at) = (
            fields.next().unwrap_or(0),
            fields.next().unwrap_or(0),
            fields.next().unwrap_or(0),
        );
        if expires_at <= now {
            return Ok(FactorFailures::default());
        }
        Ok(FactorFailures {
            count: u32::try_from(count).unwrap_or(u32::MAX),
            last,
            expires_at,
        })
    }

    async fn clear_factor_failures(&self, user: &str) -> StoreResult<()> {
        let mut conn = self.conn.clone();
        self.run(conn.del::<_, ()>(self.keys.mfa_failures(user)))
            .await
    }

    async fn remove_factors(&self, user: &str) -> StoreResult<bool> {
        let mut conn = self.conn.clone();
        let removed: i64 = self
            .run(conn.del(&[
                self.keys.mfa(user),
                self.keys.mfa_recovery(user),
                self.keys.mfa_failures(user),
                self.keys.mfa_passkeys(user),
            ]))
            .await?;
        Ok(removed > 0)
    }

    async fn add_passkey(
        &self,
        user: &str,
        passkey: PasskeyRecord,
        max: usize,
    ) -> StoreResult<bool> {
        self.add_passkey_record(user, &passkey, max).await
    }

    async fn use_passkey(
        &self,
        user: &str,
        id: &str,
        counter: u32,
        credential: &str,
        now: u64,
    ) -> StoreResult<bool> {
        self.use_passkey_record(user, id, counter, credential, now)
            .await
    }

    async fn remove_passkey(&self, user: &str, id: &str) -> StoreResult<bool> {
        self.remove_passkey_record(user, id).await
    }

    async fn remove_totp(&self, user: &str) -> StoreResult<bool> {
        self.remove_totp_record(user).await
    }

    async fn replace_recovery_codes(&self, user: &str, codes: Vec<TokenHash>) -> StoreResult<bool> {
        self.replace_recovery(user, &codes).await
    }

    async fn put_ceremony(&self, id: &TokenHash, ceremony: Ceremony, now: u64) -> StoreResult<()> {
        self.put_ceremony_record(id, &ceremony, now).await
    }

    async fn peek_ceremony(&self, id: &TokenHash, now: u64) -> StoreResult<Option<Ceremony>> {
        self.peek_ceremony_record(id, now).await
    }

    async fn take_ceremony(&self, id: &TokenHash, now: u64) -> StoreResult<Option<Ceremony>> {
        self.take_ceremony_record(id, now).await
    }
}
