-- unique_claims.lua: the value side of a partitioned model's unique values
-- (rom/_claims.py): claim, confirm, release and resolve entries of the
-- partition a value hashes to. Every key is of that partition's slot.
-- KEYS[1]     the slot's probe (KeySpace.probe), a key rom never writes:
--             routing only (the call never runs while the slot migrates)
-- KEYS[2..]   pairs: a column (group)'s unique HASH <pns>:<cols>:uidx
--             (value -> id), then its claims HASH <pns>:<cols>:uclaim
--             (value -> "<id>:<deadline ms>")
-- ARGV[1]     a claim's lifetime in milliseconds
-- ARGV[2..]   five per item: op, pair (1 for KEYS[2..3], 2 for KEYS[4..5]...),
--             value, id, token. The ops:
--   claim     record the claim "<id>:<now + lifetime>" unless a claim is
--             there (the id's own too: another save of the same entity may
--             be under way); token '' or the claim (exactly as read) the
--             caller found expired and whose row it read after without the
--             value: that one is replaced. Answers {"ok", claim, holder}
--             (holder: the unique HASH's id if another id's, else '': the
--             caller then reads that row) or {"claimed", claim, expired 0/1}
--   confirm   if the claim is token: the unique HASH gets value -> id, the
--             claim goes. Answers 1, else 0
--   release   if the claim is token: it goes. Answers 1, else 0
--   hold      (the sweep, a save dropping an old value) record the claim "<id>:<now + lifetime>" (id a
--             non-id like "-sweep") if no claim is there, so no writer claims
--             the value meanwhile. Answers {"ok", claim, holder} or
--             {"claimed", claim, expired}
--   unhold    (having read the holder's row again without the value)
--             if the claim is token: it goes, and the unique entry too if
--             it is still id's (the holder read). Answers 1 if it went, else 0
--   now       (the sweep) the server's time in Unix ms, before it reads rows
-- returns     JSON array, one answer per item

local now_t = redis.call('TIME')
local now = tonumber(now_t[1]) * 1000 + math.floor(tonumber(now_t[2]) / 1000)
local lifetime = tonumber(ARGV[1])

local function deadline(claim)
    return tonumber(string.match(claim, ':(%d+)$'))
end

local function take(uidx, uclaim, value, id, token)
    local claim = redis.call('HGET', uclaim, value)
    if claim and claim ~= token then
        local expired = deadline(claim) <= now and 1 or 0
        return {'claimed', claim, expired}
    end
    local mine = id .. ':' .. string.format('%d', now + lifetime)
    redis.call('HSET', uclaim, value, mine)
    local holder = redis.call('HGET', uidx, value)
    if not holder or holder == id then holder = '' end
    return {'ok', mine, holder}
end

local out = {}
for i = 2, #ARGV, 5 do
    local op, pair, value, id, token = ARGV[i], tonumber(ARGV[i + 1]),
        ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
    local uidx, uclaim = KEYS[2 * pair], KEYS[2 * pair + 1]
    local answer = 0
    if op == 'claim' then
        answer = take(uidx, uclaim, value, id, token)
    elseif op == 'hold' then
        local claim = redis.call('HGET', uclaim, value)
        if claim then
            answer = {'claimed', claim, deadline(claim) <= now and 1 or 0}
        else
            answer = take(uidx, uclaim, value, id, '')
        end
    elseif op == 'confirm' then
        if redis.call('HGET', uclaim, value) == token then
            redis.call('HSET', uidx, value, id)
            redis.call('HDEL', uclaim, value)
            answer = 1
        end
    elseif op == 'release' then
        if redis.call('HGET', uclaim, value) == token then
            redis.call('HDEL', uclaim, value)
            answer = 1
        end
    elseif op == 'unhold' then
        if redis.call('HGET', uclaim, value) == token then
            redis.call('HDEL', uclaim, value)
            if redis.call('HGET', uidx, value) == id then
                redis.call('HDEL', uidx, value)
                answer = 1
            end
        end
    elseif op == 'now' then
        answer = now
    else
        return redis.error_reply('ERR unique_claims.lua: unknown op ' .. tostring(op))
    end
    out[#out + 1] = answer
end
return cjson.encode(out)
