-- expire_due.lua: remove up to a block of an expiring model's entities
-- whose expiry time has come (server's TIME), each fully (lib_expiry x_reap).
-- KEYS[1]    the model's expiry ZSET (KeySpace.expiry)
-- KEYS[2]    the slot's probe (KeySpace.probe), a key rom never writes:
--            routing only. With a key that is always missing, the call never
--            runs while a Redis Cluster migrates the slot (TRYAGAIN, maybe
--            after an ASK, until the slot has its new owner), so never on
--            half of the slot's keys
-- ARGV[1]    the model's key table (rom/_expiry.py expiry_table)
-- ARGV[2]    the most entities to remove in this call
-- returns    {removed, still due after this call}

--#include lib_entries
--#include lib_expiry

local k = cjson.decode(ARGV[1])
local done = x_sweep(k, tonumber(ARGV[2]))
return {done, redis.call('ZCOUNT', k.x.expiry, '-inf', x_now_ms())}
