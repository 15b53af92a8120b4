-- page.lua: one page of a cached query result, with the entities' data.
-- KEYS[1]    the cached result ZSET (ranks follow the query's order)
-- KEYS[2]    the slot's probe (KeySpace.probe), a key rom never writes:
--            routing only. With a key that is always missing, the call never
--            runs while a Redis Cluster migrates the slot (TRYAGAIN, maybe
--            after an ASK, until the slot has its new owner), so never on
--            half of the slot's keys
-- ARGV[1]    the row-key prefix "<ns>:" (KeySpace.row_prefix; the row of
--            id N is ARGV[1] .. N, in the slot of KEYS[1])
-- ARGV[2]    first rank; ARGV[3] last rank (inclusive)
-- ARGV[4]    TTL in seconds to renew on the cached key
-- ARGV[5]    an expiring model's expiry ZSET (KeySpace.expiry), else '':
--            entities whose expiry time has come (server's TIME) are
--            left out as if their rows had vanished
-- ARGV[6]    'rank': ARGV[2..3] are ranks; 'score': they are scores (a
--            partition's share of a partitioned model's cached result,
--            whose scores are ranks in the whole result)
-- ARGV[7..]  fields to read (select); none means whole rows
-- returns    {number of ids in the page, {id, ...data}, ...}: with fields the
--            data is their values (false when missing), else field/value
--            pairs; rows that vanished meanwhile are dropped. By 'score',
--            one more last item: the list of the kept rows' scores
local ids = {}
local scores = nil
if ARGV[6] == 'score' then
    scores = {}
    local raw = redis.call('ZRANGE', KEYS[1], ARGV[2], ARGV[3], 'BYSCORE', 'WITHSCORES')
    for i = 1, #raw, 2 do
        ids[#ids + 1] = raw[i]
        scores[raw[i]] = raw[i + 1]
    end
else
    ids = redis.call('ZRANGE', KEYS[1], ARGV[2], ARGV[3])
end
if #ids > 0 then redis.call('EXPIRE', KEYS[1], ARGV[4]) end
local fields = {}
for i = 7, #ARGV do fields[#fields + 1] = ARGV[i] end
local now = nil
if ARGV[5] ~= '' then
    local t = redis.call('TIME')
    now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local out = {#ids}
local kept = {}
for _, id in ipairs(ids) do
    local key = ARGV[1] .. id
    local row = nil
    local at = now and redis.call('ZSCORE', ARGV[5], id)
    if at and tonumber(at) <= now then
        row = nil
    elseif #fields > 0 then
        if redis.call('EXISTS', key) == 1 then row = redis.call('HMGET', key, unpack(fields)) end
    else
        row = redis.call('HGETALL', key)
        if #row == 0 then row = nil end
    end
    if row then
        table.insert(row, 1, id)
        out[#out + 1] = row
        if scores then kept[#kept + 1] = scores[id] end
    end
end
if scores then out[#out + 1] = kept end
return out
