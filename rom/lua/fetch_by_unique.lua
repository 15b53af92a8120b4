-- fetch_by_unique.lua: look entities up by unique values and read their rows.
-- KEYS[1]    the unique HASH <ns>:<col>:uidx
-- KEYS[2]    the slot's probe (KeySpace.probe), a key rom never writes:
--            routing only. With a key that is always missing, the call never
--            runs while a Redis Cluster migrates the slot (TRYAGAIN, maybe
--            after an ASK, until the slot has its new owner), so never on
--            half of the slot's keys
-- ARGV[1]    the row-key prefix "<ns>:" (KeySpace.row_prefix; the row of
--            id N is ARGV[1] .. N, in the slot of KEYS[1])
-- ARGV[2..]  the values looked up
-- returns    per value: {} when absent, else {id, field1, value1, ...}
local out = {}
for i = 2, #ARGV do
    local id = redis.call('HGET', KEYS[1], ARGV[i])
    if id then
        local row = redis.call('HGETALL', ARGV[1] .. id)
        table.insert(row, 1, id)
        out[#out + 1] = row
    else
        out[#out + 1] = {}
    end
end
return out
