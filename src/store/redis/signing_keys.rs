//! The signing-key document in Redis: one hash (`signing-keys`: `v` the version, `doc` the
//! sealed document), replaced by a compare-and-set script so that of two gateways starting at
//! once (or two rotations) exactly one writes. No TTL: the keys live as long as the
//! deployment.

use redis::Script;

/// KEYS[1] the hash; ARGV[1] the expected version (0: none), ARGV[2] the document.
/// Returns 1 when written, 0 when the version had moved.
const SWAP: &str = r#"
local v = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if v ~= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'v', v + 1, 'doc', ARGV[2])
return 1
"#;

pub fn swap_script() -> Script {
    Script::new(SWAP)
}
