//! The Lua scripts: every operation that reads and then writes runs as one script, so Redis
//! executes it atomically and of several gateways racing for a code or a refresh token exactly
//! one wins.
//!
//! Each script takes the key prefix as `ARGV[1]`; the names of the keys under it are Lua
//! locals (`K_CODE`, `K_FAMILY`, ...) that [`super::keys::lua_names`] writes from the one
//! layout table in Rust, so that the scripts never spell a key name themselves. Expiry is decided against the caller's `now`; Redis TTLs
//! only collect garbage. A script that revokes something also PUBLISHes it on the revocations
//! channel in the same atomic step, one line per entry: `d EXP JTI` (a deny-listed access
//! token) or `c CUTOFF SUBJECT` (a subject's cut-off), and returns the same text so that the
//! calling gateway applies it at once.

use redis::Script;

/// Helpers shared by the scripts: revoking a family, tracking a new refresh token.
const PRELUDE: &str = r#"
local MARGIN = 60
local function wall() return tonumber(redis.call('TIME')[1]) end
local function keep(key, secs)
  local cur = redis.call('TTL', key)
  if cur < secs then redis.call('EXPIRE', key, secs) end
end
local function family_live(fam, now)
  local f = redis.call('HMGET', K_FAMILY .. fam, 'revoked', 'exp')
  return f[1] == '0' and tonumber(f[2]) > now
end
local function deny(lines, jti, exp)
  redis.call('ZADD', K_DENIED, exp, jti)
  lines[#lines + 1] = 'd ' .. exp .. ' ' .. jti
end
local function settle_denied()
  local key = K_DENIED
  local w = wall()
  redis.call('ZREMRANGEBYSCORE', key, '-inf', w - MARGIN)
  local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  if last[2] then keep(key, math.max(tonumber(last[2]) - w, 0) + MARGIN) end
end
local function announce(lines)
  if #lines == 0 then return '' end
  settle_denied()
  local msg = table.concat(lines, '\n')
  redis.call('PUBLISH', K_CHANNEL, msg)
  return msg
end
local function revoke_family(lines, fam)
  local fkey = K_FAMILY .. fam
  if redis.call('EXISTS', fkey) == 0 then return end
  redis.call('HSET', fkey, 'revoked', '1')
  local access = redis.call('ZRANGE', fkey .. ':access', 0, -1, 'WITHSCORES')
  for i = 1, #access, 2 do deny(lines, access[i], access[i + 1]) end
  for _, token in ipairs(redis.call('SMEMBERS', fkey .. ':tokens')) do
    redis.call('DEL', K_REFRESH .. token)
  end
  redis.call('DEL', fkey .. ':access', fkey .. ':tokens')
  redis.call('ZREM', K_FAMILIES, fam)
end
local function track(fam, token, rec, exp, user, client, jti, jti_exp, sid)
  local fkey = K_FAMILY .. fam
  local ttl = math.max(exp - wall(), 0) + MARGIN
  if redis.call('EXISTS', fkey) == 0 then
    redis.call('HSET', fkey, 'user', user, 'client', client, 'exp', exp, 'revoked', '0')
    if sid and sid ~= '' then redis.call('HSET', fkey, 'sid', sid) end
    redis.call('ZADD', K_FAMILIES, exp, fam)
    for _, s in ipairs({'user:' .. user, 'client:' .. client}) do
      redis.call('SADD', K_SUBJECT .. s, fam)
      keep(K_SUBJECT .. s, ttl)
    end
  end
  redis.call('ZADD', fkey .. ':access', jti_exp, jti)
  redis.call('SADD', fkey .. ':tokens', token)
  local rt = K_REFRESH .. token
  redis.call('HSET', rt, 'rec', rec, 'fam', fam, 'exp', exp)
  for _, k in ipairs({fkey, fkey .. ':access', fkey .. ':tokens', rt}) do keep(k, ttl) end
end
"#;

/// `ARGV`: prefix, code hash, now. Returns `{0, ''}` unknown or expired, `{1, grant}` first
/// use, `{2, grant}` a replay.
const TAKE_CODE: &str = r#"
local key = K_CODE .. ARGV[2]
local now = tonumber(ARGV[3])
local exp = redis.call('HGET', key, 'exp')
if not exp then return {0, ''} end
if tonumber(exp) <= now then
  redis.call('DEL', key)
  return {0, ''}
end
local uses = redis.call('HINCRBY', key, 'uses', 1)
local grant = redis.call('HGET', key, 'grant')
if uses == 1 then return {1, grant} end
return {2, grant}
"#;

/// `ARGV`: prefix, token hash, record JSON, family, family end, user, client, jti, jti expiry,
/// the login session's `sid` (empty for none).
const PUT_REFRESH: &str = r#"
track(ARGV[4], ARGV[2], ARGV[3], tonumber(ARGV[5]), ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10])
return 1
"#;

/// `ARGV`: prefix, token hash, now. Returns `{}` when unknown, else `{record, current}`.
const GET_REFRESH: &str = r#"
local now = tonumber(ARGV[3])
local r = redis.call('HMGET', K_REFRESH .. ARGV[2], 'rec', 'fam', 'exp', 'rotated_at')
if not r[1] then return {} end
if tonumber(r[3]) <= now or not family_live(r[2], now) then return {} end
if r[4] then return {r[1], '0'} end
return {r[1], '1'}
"#;

/// `ARGV`: prefix, old hash, now, grace, new hash, new record JSON, new family, family end,
/// user, client, jti, jti expiry, sealed successor. Returns `{0, '', ''}` unknown, `{1, '', ''}`
/// rotated, `{2, sealed, ''}` grace, `{3, family, announcement}` reuse.
const ROTATE_REFRESH: &str = r#"
local rt = K_REFRESH .. ARGV[2]
local now = tonumber(ARGV[3])
local grace = tonumber(ARGV[4])
local r = redis.call('HMGET', rt, 'fam', 'exp', 'rotated_at', 'sealed')
local fam = r[1]
if not fam then return {0, '', ''} end
if tonumber(r[2]) <= now or not family_live(fam, now) then return {0, '', ''} end
if r[3] then
  if grace > 0 and now < tonumber(r[3]) + grace then return {2, r[4], ''} end
  local lines = {}
  revoke_family(lines, fam)
  return {3, fam, announce(lines)}
end
if ARGV[7] ~= fam then return {0, '', ''} end
redis.call('HSET', rt, 'rotated_at', now, 'sealed', ARGV[13])
track(fam, ARGV[5], ARGV[6], tonumber(ARGV[8]), ARGV[9], ARGV[10], ARGV[11], ARGV[12])
return {1, '', ''}
"#;

/// `ARGV`: prefix, family. Returns the announcement.
const REVOKE_FAMILY: &str = r#"
local lines = {}
revoke_family(lines, ARGV[2])
return announce(lines)
"#;

/// `ARGV`: prefix, jti, expiry. Returns the announcement.
const REVOKE_ACCESS: &str = r#"
local lines = {}
deny(lines, ARGV[2], ARGV[3])
return announce(lines)
"#;

/// `ARGV`: prefix, subject key (`user:NAME` or `client:ID`), user name or '' for a client,
/// cut-off. Returns the announcement.
const REVOKE_SUBJECT: &str = r#"
local skey = ARGV[2]
local user = ARGV[3]
local lines = {}
local set = K_SUBJECT .. skey
for _, fam in ipairs(redis.call('SMEMBERS', set)) do revoke_family(lines, fam) end
redis.call('DEL', set)
if user ~= '' then
  local sessions = K_SESSIONS_USER .. user
  for _, id in ipairs(redis.call('SMEMBERS', sessions)) do
    redis.call('DEL', K_SESSION .. id)
    redis.call('ZREM', K_SESSIONS_LAST, id)
    redis.call('ZREM', K_SESSIONS_CREATED, id)
  end
  redis.call('DEL', sessions)
end
local cur = tonumber(redis.call('HGET', K_CUTOFFS, skey) or '0')
local cutoff = math.max(cur, tonumber(ARGV[4]))
redis.call('HSET', K_CUTOFFS, skey, cutoff)
lines[#lines + 1] = 'c ' .. cutoff .. ' ' .. skey
return announce(lines)
"#;

/// `ARGV`: prefix, session hash, record JSON, user, created, last seen, TTL.
const PUT_SESSION: &str = r#"
local id = ARGV[2]
local key = K_SESSION .. id
redis.call('HSET', key, 'rec', ARGV[3], 'user', ARGV[4], 'created', ARGV[5], 'last', ARGV[6])
redis.call('EXPIRE', key, tonumber(ARGV[7]))
redis.call('ZADD', K_SESSIONS_LAST, ARGV[6], id)
redis.call('ZADD', K_SESSIONS_CREATED, ARGV[5], id)
local users = K_SESSIONS_USER .. ARGV[4]
redis.call('SADD', users, id)
keep(users, tonumber(ARGV[7]))
return 1
"#;

/// `ARGV`: prefix, session hash, now, idle limit, absolute limit. Returns `{}` when there is
/// no live session (removing a dead one), else `{record}`.
const TOUCH_SESSION: &str = r#"
local id = ARGV[2]
local key = K_SESSION .. id
local now, idle, max = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local s = redis.call('HMGET', key, 'rec', 'created', 'last')
if not s[1] then return {} end
local created, last = tonumber(s[2]), tonumber(s[3])
if last + idle <= now or created + max <= now then
  redis.call('DEL', key)
  redis.call('ZREM', K_SESSIONS_LAST, id)
  redis.call('ZREM', K_SESSIONS_CREATED, id)
  return {}
end
redis.call('HSET', key, 'last', now)
redis.call('ZADD', K_SESSIONS_LAST, now, id)
redis.call('EXPIRE', key, math.min(idle, created + max - now) + MARGIN)
return {s[1]}
"#;

/// `ARGV`: prefix, session hash.
const DELETE_SESSION: &str = r#"
local id = ARGV[2]
redis.call('DEL', K_SESSION .. id)
redis.call('ZREM', K_SESSIONS_LAST, id)
redis.call('ZREM', K_SESSIONS_CREATED, id)
return 1
"#;

/// `ARGV`: prefix, client id, client JSON, cap. Returns 1 stored, 0 refused (cap reached).
const PUT_CLIENT: &str = r#"
local key = K_CLIENTS
if redis.call('HLEN', key) >= tonumber(ARGV[4]) and redis.call('HEXISTS', key, ARGV[2]) == 0 then
  return 0
end
redis.call('HSET', key, ARGV[2], ARGV[3])
return 1
"#;

/// `ARGV`: prefix, client, record (JSON), jti, expiry, now, per-client bound, total bound.
/// Returns 1 when recorded, 0 when the total bound left it unrecorded (and counted).
const RECORD_CLIENT_ACCESS: &str = r#"
local client, record, jti = ARGV[2], ARGV[3], ARGV[4]
local exp, now = tonumber(ARGV[5]), tonumber(ARGV[6])
local per, total = tonumber(ARGV[7]), tonumber(ARGV[8])
local key = K_CLIENT_ACCESS .. client
local all = K_CLIENT_ACCESS_ALL
local unlisted = K_CLIENT_ACCESS_UNLISTED
local life = math.max(exp - wall(), 0) + MARGIN
local function mark(until_exp)
  local cur = tonumber(redis.call('HGET', unlisted, client) or '0')
  if until_exp > cur then redis.call('HSET', unlisted, client, until_exp) end
  keep(unlisted, life)
end
redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
redis.call('ZREMRANGEBYSCORE', all, '-inf', now)
if redis.call('ZCARD', key) >= per then
  local oldest = redis.call('ZPOPMIN', key)
  if oldest[1] then
    mark(tonumber(oldest[2]))
    redis.call('ZREM', all, client .. '\n' .. cjson.decode(oldest[1]).jti)
  end
end
if redis.call('ZCARD', all) >= total then
  mark(exp)
  return 0
end
redis.call('ZADD', key, exp, record)
redis.call('ZADD', all, exp, client .. '\n' .. jti)
keep(key, life)
keep(all, life)
return 1
"#;

/// `ARGV`: prefix, now, client or '' (every client with records). Returns, per client,
/// `{client, unlisted_until, n, record1, ...}` flattened (records as stored, JSON).
const LIST_CLIENT_ACCESS: &str = r#"
local now, only = tonumber(ARGV[2]), ARGV[3]
local clients = {}
if only ~= '' then
  clients[1] = only
else
  local seen = {}
  for _, m in ipairs(redis.call('ZRANGEBYSCORE', K_CLIENT_ACCESS_ALL, '(' .. now, '+inf')) do
    local c = string.match(m, '^(.*)\n')
    if c and not seen[c] then seen[c] = true; clients[#clients + 1] = c end
  end
  local marks = redis.call('HGETALL', K_CLIENT_ACCESS_UNLISTED)
  for i = 1, #marks, 2 do
    local c = marks[i]
    if not seen[c] then seen[c] = true; clients[#clients + 1] = c end
  end
end
local out = {}
for _, c in ipairs(clients) do
  local records = redis.call('ZRANGEBYSCORE', K_CLIENT_ACCESS .. c, '(' .. now, '+inf')
  out[#out + 1] = c
  out[#out + 1] = redis.call('HGET', K_CLIENT_ACCESS_UNLISTED, c) or '0'
  out[#out + 1] = tostring(#records)
  for _, r in ipairs(records) do out[#out + 1] = r end
end
return out
"#;

/// `ARGV`: prefix, now, limit, user or '', client or ''. Returns, per live family,
/// `{family, user, client, end, sid or '', n, jti1, exp1, ...}` flattened.
const LIST_GRANTS: &str = r#"
local now, limit, user, client = tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], ARGV[5]
local fams
if user ~= '' then
  fams = redis.call('SMEMBERS', K_SUBJECT .. 'user:' .. user)
elseif client ~= '' then
  fams = redis.call('SMEMBERS', K_SUBJECT .. 'client:' .. client)
else
  fams = redis.call('ZRANGEBYSCORE', K_FAMILIES, '(' .. now, '+inf')
end
local out, n = {}, 0
for _, fam in ipairs(fams) do
  if n >= limit then break end
  local fkey = K_FAMILY .. fam
  local f = redis.call('HMGET', fkey, 'user', 'client', 'exp', 'revoked', 'sid')
  if f[1] and f[4] == '0' and tonumber(f[3]) > now
      and (user == '' or f[1] == user) and (client == '' or f[2] == client) then
    n = n + 1
    local access = redis.call('ZRANGEBYSCORE', fkey .. ':access', '(' .. now, '+inf', 'WITHSCORES')
    out[#out + 1] = fam
    out[#out + 1] = f[1]
    out[#out + 1] = f[2]
    out[#out + 1] = f[3]
    out[#out + 1] = f[5] or ''
    out[#out + 1] = tostring(#access / 2)
    for _, v in ipairs(access) do out[#out + 1] = v end
  end
end
return out
"#;

/// `ARGV`: prefix, now, idle limit, absolute limit: drops abandoned sessions and ended
/// entries from the indexes (everything else goes by TTL).
const SWEEP: &str = r#"
local now, idle, max = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local dead = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', K_SESSIONS_LAST, '-inf', now - idle)) do
  dead[id] = true
end
for _, id in ipairs(redis.call('ZRANGEBYSCORE', K_SESSIONS_CREATED, '-inf', now - max)) do
  dead[id] = true
end
for id, _ in pairs(dead) do
  redis.call('DEL', K_SESSION .. id)
  redis.call('ZREM', K_SESSIONS_LAST, id)
  redis.call('ZREM', K_SESSIONS_CREATED, id)
end
redis.call('ZREMRANGEBYSCORE', K_DENIED, '-inf', now)
redis.call('ZREMRANGEBYSCORE', K_FAMILIES, '-inf', now)
return 1
"#;

/// The scripts, compiled once per store (each carries its SHA1; `invoke_async` loads a script
/// again after a Redis restart lost it).
pub struct Scripts {
    pub take_code: Script,
    pub put_refresh: Script,
    pub get_refresh: Script,
    pub rotate_refresh: Script,
    pub revoke_family: Script,
    pub revoke_access: Script,
    pub revoke_subject: Script,
    pub put_session: Script,
    pub touch_session: Script,
    pub delete_session: Script,
    pub put_client: Script,
    pub list_grants: Script,
    pub record_client_access: Script,
    pub list_client_access: Script,
    pub sweep: Script,
}

fn script(names: &str, body: &str) -> Script {
    Script::new(&format!("local P = ARGV[1]\n{names}{PRELUDE}{body}"))
}

impl Scripts {
    pub fn new() -> Scripts {
        let names = super::keys::lua_names();
        let script = |body| script(&names, body);
        Scripts {
            take_code: script(TAKE_CODE),
            put_refresh: script(PUT_REFRESH),
            get_refresh: script(GET_REFRESH),
            rotate_refresh: script(ROTATE_REFRESH),
            revoke_family: script(REVOKE_FAMILY),
            revoke_access: script(REVOKE_ACCESS),
            revoke_subject: script(REVOKE_SUBJECT),
            put_session: script(PUT_SESSION),
            touch_session: script(TOUCH_SESSION),
            delete_session: script(DELETE_SESSION),
            put_client: script(PUT_CLIENT),
            list_grants: script(LIST_GRANTS),
            record_client_access: script(RECORD_CLIENT_ACCESS),
            list_client_access: script(LIST_CLIENT_ACCESS),
            sweep: script(SWEEP),
        }
    }
}
