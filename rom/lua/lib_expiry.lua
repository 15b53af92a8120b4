-- lib_expiry.lua: included by scripts ("--#include lib_expiry", after
-- lib_entries; expanded by rom/_scripts.py), never run alone. Expiring
-- entities of a model that declares _ttl (rom/_expiry.py).
-- KEYS/ARGV  none of its own. Its functions take a model's key table `k`
--            (rom/_expiry.py expiry_table: KeySpace.script_keys() and
--            k.x = KeySpace.expiry_keys(): {expiry = ZSET id -> expiry
--            time in Unix ms, data = HASH id -> JSON {"u": [[cols, value],
--            ...]} (the unique entries of an entity that has an expiry),
--            unsafe = {{before, after}, ...} (UnsafeColumn keys around
--            the id)}
-- returns    nothing; defines x_now_ms, x_due, x_reap, x_sweep. "Due"
--            means expired by the server's clock (TIME), read once per call.

local x_now = nil

-- The server's time in Unix milliseconds, the same for the whole call.
local function x_now_ms()
    if not x_now then
        local t = redis.call('TIME')
        x_now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
    end
    return x_now
end

-- True if entity `id` has an expiry time that has come.
local function x_due(k, id)
    local at = redis.call('ZSCORE', k.x.expiry, id)
    return at ~= false and at ~= nil and tonumber(at) <= x_now_ms()
end

-- Remove every trace of entity `id`: the index entries its stored record
-- names, the unique entries it still owns, its row, UnsafeColumn keys and
-- expiry entries. No on_delete policy runs (an expiry is not refused).
local function x_reap(k, id)
    local row = key(k, 'row', id)
    local raw, legacy = stored_record(k, id, row)
    remove_entries(k, id, decode_record(raw), {})
    if legacy then redis.call('HDEL', k.legacy, id) end
    local data = redis.call('HGET', k.x.data, id)
    if data then
        local ok, d = pcall(cjson.decode, data)
        if ok and type(d) == 'table' and type(d.u) == 'table' then
            for _, e in ipairs(d.u) do
                if is_pair(e) then
                    local ukey = key(k, 'uidx', e[1])
                    if redis.call('HGET', ukey, e[2]) == id then
                        redis.call('HDEL', ukey, e[2])
                    end
                end
            end
        end
    end
    redis.call('DEL', row)
    for _, t in ipairs(k.x.unsafe) do redis.call('DEL', t[1] .. id .. t[2]) end
    redis.call('ZREM', k.x.expiry, id)
    redis.call('HDEL', k.x.data, id)
end

-- Reap at most `n` due entities, earliest first; returns how many were
-- reaped and whether more are due.
local function x_sweep(k, n)
    local due = redis.call('ZRANGEBYSCORE', k.x.expiry, '-inf', x_now_ms(),
                           'LIMIT', 0, n + 1)
    local done = math.min(n, #due)
    for i = 1, done do x_reap(k, due[i]) end
    return done, #due > n
end
