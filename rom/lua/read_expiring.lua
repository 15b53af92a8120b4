-- read_expiring.lua: read rows of an expiring model (one that declares
-- _ttl) by id or by unique value, never one that expired.
-- KEYS[1]    the model's expiry ZSET (KeySpace.expiry): a key of its slot
-- KEYS[2]    the slot's probe (KeySpace.probe), a key rom never writes:
--            routing only. With a key that is always missing, the call never
--            runs while a Redis Cluster migrates the slot (TRYAGAIN, maybe
--            after an ASK, until the slot has its new owner), so never on
--            half of the slot's keys
-- ARGV[1]    the model's key table (rom/_expiry.py expiry_table)
-- ARGV[2]    "ids", "unique" or "ttl"
-- ARGV[3]    for "unique": the unique column(s) name (KeySpace.unique's
--            argument), else ignored
-- ARGV[4..]  the ids ("ids", "ttl") or unique values ("unique")
-- returns    "ids"/"unique": per item {} when absent or expired, else
--            {id, field1, value1, ...}; "ttl": per id the milliseconds
--            left, -1 without an expiry, -2 when absent or expired.
--            An expired entity met is removed fully (lib_expiry x_reap).

--#include lib_entries
--#include lib_expiry

local k = cjson.decode(ARGV[1])
local mode = ARGV[2]
local out = {}
for i = 4, #ARGV do
    local id = ARGV[i]
    if mode == 'unique' then id = redis.call('HGET', key(k, 'uidx', ARGV[3]), ARGV[i]) end
    if id and x_due(k, id) then
        x_reap(k, id)
        id = false
    end
    local row = key(k, 'row', id or '')
    if mode == 'ttl' then
        if not id or redis.call('EXISTS', row) == 0 then
            out[#out + 1] = -2
        else
            local at = redis.call('ZSCORE', k.x.expiry, id)
            out[#out + 1] = at and (tonumber(at) - x_now_ms()) or -1
        end
    elseif id then
        local data = redis.call('HGETALL', row)
        if #data > 0 then table.insert(data, 1, id) end
        out[#out + 1] = data
    else
        out[#out + 1] = {}
    end
end
return out
