"""The Lua scripts behind RedisGrantStore: each check-and-set is one atomic step.

Redis runs a script without interleaving any other command, so "read a field,
then write it" inside one script cannot race with another server process the
way two separate commands could. Field names are those of ``StoredGrant``.
"""

from __future__ import annotations

from typing import Final

SAVE: Final = """
-- KEYS[1] the grant hash, KEYS[2] (optional) its family set.
-- ARGV[1] 'new' (refuse an existing key) or 'any' (overwrite it), ARGV[2] TTL in
-- seconds, ARGV[3] the grant key (the family set's member), ARGV[4..] field, value...
if ARGV[1] == 'new' and redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
redis.call('EXPIRE', KEYS[1], ARGV[2])
if #KEYS == 2 then
  redis.call('SADD', KEYS[2], ARGV[3])
  if redis.call('TTL', KEYS[2]) < tonumber(ARGV[2]) then
    redis.call('EXPIRE', KEYS[2], ARGV[2])
  end
end
return 1
"""

CONSUME: Final = """
-- KEYS[1] the grant hash. ARGV[1] the kind, ARGV[2] now.
-- {0}: no grant of that kind; {1, fields}: this call consumed it;
-- {2, fields}: an earlier call did. HSETNX sets consumed_at only once.
if redis.call('HGET', KEYS[1], 'kind') ~= ARGV[1] then
  return {0}
end
local outcome = 2
if redis.call('HSETNX', KEYS[1], 'consumed_at', ARGV[2]) == 1 then
  outcome = 1
end
return {outcome, redis.call('HGETALL', KEYS[1])}
"""

UPDATE_DATA: Final = """
-- KEYS[1] the grant hash. ARGV[1] the kind, ARGV[2] the new data (JSON).
-- Only a grant nobody consumed: a stale writer must never undo a consume.
if redis.call('HGET', KEYS[1], 'kind') ~= ARGV[1] then
  return 0
end
if redis.call('HEXISTS', KEYS[1], 'consumed_at') == 1 then
  return 0
end
redis.call('HSET', KEYS[1], 'data', ARGV[2])
return 1
"""

REVOKE: Final = """
-- KEYS[1] the grant hash. ARGV[1] now. The first revocation time is kept.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
return redis.call('HSETNX', KEYS[1], 'revoked_at', ARGV[1])
"""

REVOKE_FAMILY: Final = """
-- KEYS[1] the family set. ARGV[1] the grant hash key prefix, ARGV[2] the
-- family id, ARGV[3] now. Members that expired, were removed or were replaced
-- into another family are dropped from the set instead. Returns how many
-- grants this call revoked.
local revoked = 0
for _, key in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local grant = ARGV[1] .. key
  if redis.call('HGET', grant, 'family_id') == ARGV[2] then
    revoked = revoked + redis.call('HSETNX', grant, 'revoked_at', ARGV[3])
  else
    redis.call('SREM', KEYS[1], key)
  end
end
return revoked
"""
