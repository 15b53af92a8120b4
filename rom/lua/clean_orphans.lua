-- clean_orphans.lua: remove index entries and keys of entities whose row is gone.
-- KEYS[2i-1]  an index, unique or legacy-record key, or an UnsafeColumn key
-- KEYS[2i]    the row of the entity that entry belongs to (<ns>:<id>)
--             Every key is named by rom/_keys.py KeySpace; one call holds
--             the entries of one model, so its keys share one slot
-- ARGV[3i-2]  'rem': remove ARGV[3i-1] from KEYS[2i-1] (SREM, ZREM or HDEL
--             by the key's type); 'del': DEL KEYS[2i-1]
-- ARGV[3i-1]  the member or field
-- ARGV[3i]    for a HASH field, the value it must still hold ('' = any)
-- returns     the number of entries and keys removed
-- An entry whose row exists (re-created since it was read) is left alone,
-- and so is a unique entry that another entity has taken over since.

local removed = 0
for i = 1, #KEYS / 2 do
    local key, row = KEYS[2 * i - 1], KEYS[2 * i]
    local op, member, expect = ARGV[3 * i - 2], ARGV[3 * i - 1], ARGV[3 * i]
    if redis.call('EXISTS', row) == 0 then
        if op == 'del' then
            removed = removed + redis.call('DEL', key)
        else
            local kind = redis.call('TYPE', key).ok
            if kind == 'set' then
                removed = removed + redis.call('SREM', key, member)
            elseif kind == 'zset' then
                removed = removed + redis.call('ZREM', key, member)
            elseif kind == 'hash' then
                if expect == '' or redis.call('HGET', key, member) == expect then
                    removed = removed + redis.call('HDEL', key, member)
                end
            end
        end
    end
end
return removed
