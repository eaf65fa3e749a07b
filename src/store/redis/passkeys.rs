//! Passkeys and WebAuthn ceremonies in Redis (the `FactorStore` impl in `factors.rs` calls
//! these). A user's passkeys are one hash, `mfa-passkeys:{user}`, with two fields per
//! credential: `c:{id}` its record (JSON) and `n:{id}` its signature counter, which the
//! scripts compare so that no JSON is parsed in Lua. Each read-then-write is one script:
//! advancing a counter is a compare-and-set (of two gateways with one assertion one wins),
//! and taking a ceremony is `GET` and `DEL` at once. Removing a user's last factor removes
//! the whole record (the recovery codes with it), as in the memory store.

use std::collections::HashMap;
use std::sync::LazyLock;

use redis::{AsyncCommands, Script};

use super::{decode, encode, RedisStore};
use crate::store::passkeys::{Ceremony, PasskeyRecord};
use crate::store::StoreResult;
use crate::tokens::opaque::TokenHash;

/// KEYS[1] the passkeys hash; ARGV[1] id, ARGV[2] record, ARGV[3] counter, ARGV[4] max.
static ADD: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
if redis.call('HEXISTS', KEYS[1], 'c:' .. ARGV[1]) == 1 then return 0 end
if redis.call('HLEN', KEYS[1]) / 2 >= tonumber(ARGV[4]) then return 0 end
redis.call('HSET', KEYS[1], 'c:' .. ARGV[1], ARGV[2], 'n:' .. ARGV[1], ARGV[3])
return 1
"#,
    )
});

/// KEYS[1] the passkeys hash; ARGV[1] id, ARGV[2] the new counter, ARGV[3] the new record.
static USE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local n = redis.call('HGET', KEYS[1], 'n:' .. ARGV[1])
if not n then return 0 end
local stored, new = tonumber(n), tonumber(ARGV[2])
if not (new > stored or (new == 0 and stored == 0)) then return 0 end
redis.call('HSET', KEYS[1], 'c:' .. ARGV[1], ARGV[3], 'n:' .. ARGV[1], ARGV[2])
return 1
"#,
    )
});

/// Drops the user's record when it has no factor left. KEYS[1] the factors hash, KEYS[2]
/// the recovery set, KEYS[3] the passkeys hash.
const DROP_IF_EMPTY: &str = r#"
if redis.call('EXISTS', KEYS[3]) == 0 and redis.call('HEXISTS', KEYS[1], 'totp') == 0
  and redis.call('HEXISTS', KEYS[1], 'pending') == 0 then
  redis.call('DEL', KEYS[1], KEYS[2])
end
"#;

/// KEYS as [`DROP_IF_EMPTY`]; ARGV[1] the passkey id. 1 when removed.
static REMOVE_PASSKEY: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r#"
local removed = redis.call('HDEL', KEYS[3], 'c:' .. ARGV[1], 'n:' .. ARGV[1])
{DROP_IF_EMPTY}
if removed > 0 then return 1 else return 0 end
"#
    ))
});

/// KEYS as [`DROP_IF_EMPTY`]. 1 when a secret was removed.
static REMOVE_TOTP: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r#"
local had = redis.call('HEXISTS', KEYS[1], 'totp') + redis.call('HEXISTS', KEYS[1], 'pending')
redis.call('HDEL', KEYS[1], 'totp', 'totp_id', 'pending', 'pending_id', 'pending_exp')
{DROP_IF_EMPTY}
if had > 0 then return 1 else return 0 end
"#
    ))
});

/// KEYS as [`DROP_IF_EMPTY`]; ARGV the new recovery hashes. 1 when replaced.
static REPLACE_RECOVERY: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
if redis.call('EXISTS', KEYS[3]) == 0 and redis.call('HEXISTS', KEYS[1], 'totp') == 0 then
  return 0
end
redis.call('DEL', KEYS[2])
for i = 1, #ARGV do redis.call('SADD', KEYS[2], ARGV[i]) end
return 1
"#,
    )
});

/// KEYS[1] the ceremony. Its JSON, once; nil after.
static TAKE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local v = redis.call('GET', KEYS[1])
if v then redis.call('DEL', KEYS[1]) end
return v
"#,
    )
});

impl RedisStore {
    /// The three keys of a user's record, in the order the scripts take them.
    fn record_keys(&self, user: &str) -> [String; 3] {
        [
            self.keys.mfa(user),
            self.keys.mfa_recovery(user),
            self.keys.mfa_passkeys(user),
        ]
    }

    /// The user's passkeys, oldest first, each with its counter as stored.
    pub(super) async fn passkeys_of(&self, user: &str) -> StoreResult<Vec<PasskeyRecord>> {
        let mut conn = self.conn.clone();
        let fields: HashMap<String, String> =
            self.run(conn.hgetall(self.keys.mfa_passkeys(user))).await?;
        let mut found = Vec::new();
        for (field, value) in &fields {
            if let Some(id) = field.strip_prefix("c:") {
                let mut record: PasskeyRecord = decode("passkey", value.as_bytes())?;
                let counter = fields.get(&format!("n:{id}")).and_then(|n| n.parse().ok());
                record.counter = counter.unwrap_or(record.counter);
                found.push(record);
            }
        }
        found.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(found)
    }

    pub(super) async fn add_passkey_record(
        &self,
        user: &str,
        passkey: &PasskeyRecord,
        max: usize,
    ) -> StoreResult<bool> {
        let mut conn = self.conn.clone();
        let mut call = ADD.prepare_invoke();
        call.key(self.keys.mfa_passkeys(user))
            .arg(&passkey.id)
            .arg(encode(passkey)?)
            .arg(passkey.counter)
            .arg(max);
        let done: i64 = self.run(call.invoke_async(&mut conn)).await?;
        Ok(done == 1)
    }

    pub(super) async fn use_passkey_record(
        &self,
        user: &str,
        id: &str,
        counter: u32,
        credential: &str,
        now: u64,
    ) -> StoreResult<bool> {
        let Some(mut record) = self
            .passkeys_of(user)
            .await?
            .into_iter()
            .find(|p| p.id == id)
        else {
            return Ok(false);
        };
        record.counter = counter;
        credential.clone_into(&mut record.credential);
        record.last_used = now;
        let mut conn = self.conn.clone();
        let mut call = USE.prepare_invoke();
        call.key(self.keys.mfa_passkeys(user))
            .arg(id)
            .arg(counter)
            .arg(encode(&record)?);
        let done: i64 = self.run(call.invoke_async(&mut conn)).await?;
        Ok(done == 1)
    }

    async fn record_script(
        &self,
        script: &Script,
        user: &str,
        args: &[String],
    ) -> StoreResult<bool> {
        let mut conn = self.conn.clone();
        let mut call = script.prepare_invoke();
        for key in self.record_keys(user) {
            call.key(key);
        }
        for arg in args {
            call.arg(arg);
        }
        let done: i64 = self.run(call.invoke_async(&mut conn)).await?;
        Ok(done == 1)
    }

    pub(super) async fn remove_passkey_record(&self, user: &str, id: &str) -> StoreResult<bool> {
        self.record_script(&REMOVE_PASSKEY, user, &[id.to_owned()])
            .await
    }

    pub(super) async fn remove_totp_record(&self, user: &str) -> StoreResult<bool> {
        self.record_script(&REMOVE_TOTP, user, &[]).await
    }

    pub(super) async fn replace_recovery(
        &self,
        user: &str,
        codes: &[TokenHash],
    ) -> StoreResult<bool> {
        let hex: Vec<String> = codes.iter().map(TokenHash::to_hex).collect();
        self.record_script(&REPLACE_RECOVERY, user, &hex).await
    }

    pub(super) async fn put_ceremony_record(
        &self,
        id: &TokenHash,
        ceremony: &Ceremony,
        now: u64,
    ) -> StoreResult<()> {
        let mut conn = self.conn.clone();
        let ttl = super::keys::ttl(ceremony.expires_at, now);
        self.run(conn.set_ex::<_, _, ()>(self.keys.mfa_ceremony(id), encode(ceremony)?, ttl))
            .await
    }

    pub(super) async fn take_ceremony_record(
        &self,
        id: &TokenHash,
        now: u64,
    ) -> StoreResult<Option<Ceremony>> {
        let mut conn = self.conn.clone();
        let mut call = TAKE.prepare_invoke();
        call.key(self.keys.mfa_ceremony(id));
        let json: Option<String> = self.run(call.invoke_async(&mut conn)).await?;
        let Some(json) = json else {
            return Ok(None);
        };
        let ceremony: Ceremony = decode("webauthn ceremony", json.as_bytes())?;
        Ok((ceremony.expires_at > now).then_some(ceremony))
    }

    pub(super) async fn peek_ceremony_record(
        &self,
        id: &TokenHash,
        now: u64,
    ) -> StoreResult<Option<Ceremony>> {
        let mut conn = self.conn.clone();
        let json: Option<String> = self.run(conn.get(self.keys.mfa_ceremony(id))).await?;
        let Some(json) = json else {
            return Ok(None);
        };
        let ceremony: Ceremony = decode("webauthn ceremony", json.as_bytes())?;
        Ok((ceremony.expires_at > now).then_some(ceremony))
    }
}
