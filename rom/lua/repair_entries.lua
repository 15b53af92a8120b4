-- repair_entries.lua: remove index entries and keys, each only if the row it
-- belongs to is still as the consistency check read it.
-- KEYS[2i-1]  an index SET/ZSET, unique or legacy-record HASH, an
--             UnsafeColumn key or a temporary query key
--             (every key named by rom/_keys.py KeySpace; one call holds
--             entries of one connection and slot group, rom/_repair.py)
-- KEYS[2i]    the row of the entity that entry belongs to (<ns>:<id>)
-- ARGV[4i-3]  'rem': remove ARGV[4i-2] from KEYS[2i-1] (SREM, ZREM or HDEL
--             by the key's type); 'del': DEL KEYS[2i-1]; 'expire': give
--             KEYS[2i-1] a TTL of ARGV[4i-2] seconds if it has none
-- ARGV[4i-2]  the member or field (or the TTL)
-- ARGV[4i-1]  for a HASH field, the value it must still hold ('' = any)
-- ARGV[4i]    the condition on the row: '' the row must not exist; '*' none;
--             else a JSON object of every field of the row as read, which
--             the row must still hold exactly (no more, no fewer fields)
-- returns     one integer per entry: 1 removed (or TTL set), 0 already
--             gone, -1 skipped because the row is no longer as read

local function row_as_read(row, guard)
    if guard == '*' then return true end
    if guard == '' then return redis.call('EXISTS', row) == 0 end
    local want = cjson.decode(guard)
    local got = redis.call('HGETALL', row)
    if #got == 0 then return false end
    local count = 0
    for _ in pairs(want) do count = count + 1 end
    if #got ~= 2 * count then return false end
    for i = 1, #got, 2 do
        if want[got[i]] ~= got[i + 1] then return false end
    end
    return true
end

local results = {}
for i = 1, #KEYS / 2 do
    local key, row = KEYS[2 * i - 1], KEYS[2 * i]
    local op, member = ARGV[4 * i - 3], ARGV[4 * i - 2]
    local expect, guard = ARGV[4 * i - 1], ARGV[4 * i]
    local result = 0
    if not row_as_read(row, guard) then
        result = -1
    elseif op == 'del' then
        result = redis.call('DEL', key)
    elseif op == 'expire' then
        if redis.call('TTL', key) == -1 then
            result = redis.call('EXPIRE', key, tonumber(member))
        end
    else
        local kind = redis.call('TYPE', key).ok
        if kind == 'set' then
            result = redis.call('SREM', key, member)
        elseif kind == 'zset' then
            result = redis.call('ZREM', key, member)
        elseif kind == 'hash' then
            if expect == '' or redis.call('HGET', key, member) == expect then
                result = redis.call('HDEL', key, member)
            end
        end
    end
    results[i] = result
end
return results
