-- transfer.lua: move an amount between two entities and mark a transaction sent.
-- KEYS[1]     source entity row   (<ns>:<id>)
-- KEYS[2]     destination row     (<ns>:<id>)
-- KEYS[3]     transaction row     (<ns>:<id>)
--             (KeySpace.entity; the three must share one slot group:
--             rom/_transfer.py refuses them otherwise)
-- ARGV[1]     the amount column of source and destination
-- ARGV[2]     the transaction's "sent" column
-- ARGV[3]     the amount, a decimal number (> 0)
-- ARGV[4]     decimal places kept (>= 0); 0 keeps the sums as computed
-- returns     "ok", or the reason nothing was written:
--             "entity deleted" | "already sent" | "not enough credit"

for i = 1, 3 do
    if redis.call('EXISTS', KEYS[i]) == 0 then return 'entity deleted' end
end
local attr, txn_attr = ARGV[1], ARGV[2]
local value = tonumber(ARGV[3])
local places = tonumber(ARGV[4])

local sent = tonumber(redis.call('HGET', KEYS[3], txn_attr) or '')
if sent and sent > 0 then return 'already sent' end
local source = tonumber(redis.call('HGET', KEYS[1], attr) or '') or 0
if source < value then return 'not enough credit' end
local dest = tonumber(redis.call('HGET', KEYS[2], attr) or '') or 0

-- Truncate to `places` decimals. The scaled sum goes through %.14g (how
-- Redis prints a Lua number) first, so 1.15 - 0.05 = 1.0999999999999999
-- truncates to 1.1, not 1.09.
local function truncate(x)
    if places <= 0 then return x end
    local scale = 10 ^ places
    return math.floor(tonumber(string.format('%.14g', x * scale))) / scale
end

-- Whole numbers are written as integers (also past 1e14), others with
-- Lua's %.14g (1.16); a number argument would be sent with 17 digits
-- (1.1599999999999999).
local function text(x)
    if x == math.floor(x) and math.abs(x) < 2 ^ 53 then
        return string.format('%d', x)
    end
    return tostring(x)
end

redis.call('HSET', KEYS[1], attr, text(truncate(source - value)))
redis.call('HSET', KEYS[2], attr, text(truncate(dest + value)))
redis.call('HSET', KEYS[3], txn_attr, '1')
return 'ok'
