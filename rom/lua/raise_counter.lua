-- raise_counter.lua: raise an id counter to at least a given id, atomically.
-- KEYS[1]     the id counter STRING <ns>:<pk>: (KeySpace.counter), the
--             only key touched
-- ARGV[1]     the id it must reach (a decimal integer)
-- returns     the counter's value afterwards
-- A counter already at or above ARGV[1] is left alone, so ids handed out
-- meanwhile are never handed out again.

local want = tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current == nil then
    return redis.error_reply('the id counter ' .. KEYS[1] .. ' is not an integer')
end
if current < want then
    redis.call('SET', KEYS[1], ARGV[1])
    return want
end
return current
