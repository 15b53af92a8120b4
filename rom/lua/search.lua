-- search.lua: answer one query plan: filter, order, limit, then return ids,
-- rows, a count, or a cached result key.
-- KEYS[1]     the plan's temporary key (plan.temp, KeySpace.temp: in the
--             model's hash slot), declared so a cluster client routes the
--             call to that slot's node; every other key is named in the
--             plan, built by rom/_keys.py KeySpace, all of one model
-- KEYS[2]     the slot's probe (KeySpace.probe), a key rom never writes:
--             routing only. With a key that is always missing, the call never
--             runs while a Redis Cluster migrates the slot (TRYAGAIN, maybe
--             after an ASK, until the slot has its new owner), so never on
--             half of the slot's keys
-- ARGV[1]     JSON SearchPlan (rom/_search.py SearchPlan.to_json):
--             {temp, scratch, ttl, filters: [...], order: {key, desc} | false,
--              offset, count (-1 = all), mode, fields, row_prefix}
--             scratch: the prefix of scratch keys (KeySpace.scratch_prefix)
--             an affix filter is {kind = "affix", key, start, end, prefix,
--              windows = {{start, end}, ...} (optional, replaces start/end),
--              pattern = like() items (optional, see like_match)}
--             filters may nest: {kind = "and" | "or", of = {filter, ...}},
--              {kind = "not", of = filter, all = <all filter>}; an all
--              filter is {kind = "all", key = pk ZSET} or {kind = "all",
--              counter = "<ns>:<pk>:", prefix = "<ns>:"} (ids 1..counter
--              that have a row; a partition's also has stride and offset:
--              ids n * stride + offset for n = 1..counter)
--             orders (optional): {{key | false (= id), desc}, ...}, two or
--              more order keys, ties broken by the next, then by id as a
--              number; entities missing a score in any key are dropped
--             last (optional): true to return only the last result
--             scores (optional): true (modes ids, rows, select) to return
--              {results, scores} instead: scores[i] is the order score of
--              results[i] as Redis writes it (the order key's own score,
--              not negated for a descending order; a distance for a geo
--              order), or with two or more order keys the list of its
--              scores (the id for an order by id); nothing is added for
--              an order by id. A partitioned model's query merges the
--              partitions' results by them (rom/_partition_plans.py)
-- returns     mode "ids":    {id, ...}
--             mode "rows":   {{id, field, value, ...}, ...} (missing rows dropped)
--             mode "select": {{id, value|false, ...}, ...} (the plan's fields)
--             mode "count":  the number of matching entities (before limits)
--             mode "cache":  the temp key, kept with a TTL of plan.ttl seconds
--                            (scores give the order: by order key, else by id)
--             expiry (optional): an expiring model's key table
--              (rom/_expiry.py expiry_table, see lib_expiry.lua): up to 20
--              due entities are removed first; if more are due, the query
--              also excludes every id whose expiry time has come, so an
--              expired entity is never returned nor counted
-- Temporary keys are the plan's temp key and scratch .. n keys; each
-- gets a TTL as soon as it exists and all but a cached result are deleted.

local plan = cjson.decode(ARGV[1])

--#include lib_entries
--#include lib_expiry
local T = plan.temp
local scratch_n = 0
-- With plan.scores: the order score(s) of each id about to be output.
local score_of = {}

-- The score text that orders the other way: "5" <-> "-5".
local function negated(score)
    if string.sub(score, 1, 1) == '-' then return string.sub(score, 2) end
    return '-' .. score
end

-- The ids of a WITHSCORES reply, their scores kept in score_of (negated
-- back when the ZSET holds them negated for a descending order).
local function scored(reply, negate)
    local ids = {}
    for i = 1, #reply, 2 do
        ids[#ids + 1] = reply[i]
        score_of[reply[i]] = negate and negated(reply[i + 1]) or reply[i + 1]
    end
    return ids
end

local function scratch()
    scratch_n = scratch_n + 1
    return plan.scratch .. scratch_n
end

local function expire(key)
    redis.call('EXPIRE', key, plan.ttl)
end

local function is_set(key)
    return redis.call('TYPE', key).ok == 'set'
end

-- like(): the plan's pattern is what follows the literal prefix, a list of
-- literal runs (strings) and gaps {least, most} counted in UTF-8 characters
-- (most = -1: no limit). It is matched without backtracking by tracking
-- the set of token positions (characters consumed) that the items so far
-- can reach, item by item: a literal run keeps the positions where the
-- token continues with it (found with plain string.find/string.sub), a gap
-- widens each position into a range. Each item costs at most O(token
-- characters), so a token costs at most (characters + 1) * #items steps,
-- whatever the pattern. The token matches when a position survives every
-- item (it may go on after the match).

-- A token's character positions: byte offset of position p (p characters
-- consumed) and back; nil tables for ASCII, where both are p + 1.
local function char_offsets(token)
    if not string.find(token, '[\128-\255]') then return nil, nil, #token end
    local off, at = {}, {}
    local n, b = 0, 1
    for ch in string.gmatch(token, '[^\128-\191]?[\128-\191]*') do
        if ch ~= '' then
            off[n] = b
            at[b] = n
            n = n + 1
            b = b + #ch
        end
    end
    off[n] = b
    at[b] = n
    return off, at, n
end

-- Each item once per query: literal runs with their length in characters.
local function compile_like(items)
    local out = {}
    for i, item in ipairs(items) do
        if type(item) == 'string' then
            local _, chars = string.gsub(item, '[^\128-\191]', '')
            out[i] = {lit = item, chars = chars}
        else
            out[i] = {least = item[1], most = item[2]}
        end
    end
    return out
end

local function like_match(token, items)
    local off, at, n = char_offsets(token)
    -- Reachable positions: all of dense..n when dense, else the sorted list.
    local dense, list = nil, {0}
    for _, item in ipairs(items) do
        local new = {}
        if item.lit then
            local lit, len = item.lit, #item.lit
            if dense then
                local init = off and off[dense] or dense + 1
                while true do
                    local s = string.find(token, lit, init, true)
                    if not s then break end
                    local p = s - 1
                    if off then p = at[s] end
                    if p then new[#new + 1] = p + item.chars end
                    init = s + 1
                end
            else
                for _, p in ipairs(list) do
                    local b = off and off[p] or p + 1
                    if string.sub(token, b, b + len - 1) == lit then
                        new[#new + 1] = p + item.chars
                    end
                end
            end
            dense, list = nil, new
        elseif dense then
            -- Every position from dense on, widened: every one from dense + least.
            dense = dense + item.least
            if dense > n then return false end
        elseif item.most < 0 then
            dense, list = list[1] + item.least, nil
            if dense > n then return false end
        else
            local last = -1
            for _, p in ipairs(list) do
                local lo = math.max(p + item.least, last + 1)
                local hi = math.min(p + item.most, n)
                for x = lo, hi do new[#new + 1] = x end
                if hi > last then last = hi end
            end
            list = new
        end
        if list and #list == 0 then return false end
    end
    return true
end

-- The windows of a :pre/:suf filter: {start, end} pairs (usually one).
local function windows(f)
    if f.windows then return f.windows end
    return {{f.start, f['end']}}
end

-- Ids of the members of a :pre/:suf window that match (member = token\0id).
local function affix_ids(f)
    local pattern = f.pattern and compile_like(f.pattern)
    local ids = {}
    for _, w in ipairs(windows(f)) do
        local offset = 0
        while true do
            local page = redis.call('ZRANGEBYSCORE', f.key, w[1], w[2],
                                    'LIMIT', offset, 500)
            for _, member in ipairs(page) do
                -- The id follows the member's last NUL; the token precedes it.
                local id = string.match(member, '%z([^%z]*)$')
                local ok = false
                if not id then
                    ok = false
                else
                    local token = string.sub(member, 1, -#id - 2)
                    ok = #f.prefix <= #token
                        and string.sub(token, 1, #f.prefix) == f.prefix
                    if ok and pattern then
                        -- The pattern follows the literal prefix just checked.
                        ok = like_match(string.sub(token, #f.prefix + 1), pattern)
                    end
                end
                if ok then ids[#ids + 1] = id end
            end
            if #page < 500 then break end
            offset = offset + 500
        end
    end
    return ids
end

local materialise, estimate, and_into

-- Every id of the model into dest: a copy of the primary-key ZSET, or the
-- ids 1..counter whose row exists.
local function all_into(f, dest)
    redis.call('DEL', dest)
    if f.key then
        redis.call('ZUNIONSTORE', dest, 1, f.key, 'WEIGHTS', 0)
        return
    end
    local last = tonumber(redis.call('GET', f.counter) or '0') or 0
    -- A partition's counter n stands for id n * stride + offset.
    local stride, offset = f.stride or 1, f.offset or 0
    local args = {'ZADD', dest}
    for n = 1, last do
        local id = n * stride + offset
        if redis.call('EXISTS', f.prefix .. id) == 1 then
            args[#args + 1] = 0; args[#args + 1] = id
        end
        if #args >= 1002 or (n == last and #args > 2) then
            redis.call(unpack(args))
            args = {'ZADD', dest}
        end
    end
end

-- Materialise a filter as a ZSET of ids (scores meaningless) at `dest`.
materialise = function(f, dest)
    if f.kind == 'and' then
        and_into(f.of, dest)
    elseif f.kind == 'or' then
        redis.call('DEL', dest)
        for _, part in ipairs(f.of) do
            if part.kind == 'set' then
                redis.call('ZUNIONSTORE', dest, 2, dest, part.key, 'WEIGHTS', 0, 0)
            else
                local tmp = scratch()
                materialise(part, tmp)
                redis.call('ZUNIONSTORE', dest, 2, dest, tmp, 'WEIGHTS', 0, 0)
                redis.call('DEL', tmp)
            end
            if redis.call('EXISTS', dest) == 1 then expire(dest) end
        end
    elseif f.kind == 'not' then
        and_into({f.all, f}, dest)
    elseif f.kind == 'all' then
        all_into(f, dest)
    elseif f.kind == 'set' then
        redis.call('ZUNIONSTORE', dest, 1, f.key, 'WEIGHTS', 0)
    elseif f.kind == 'any' then
        -- In chunks: unpack() takes at most a few thousand values, and an
        -- OR-list may name more keys than that.
        redis.call('DEL', dest)
        for i = 1, #f.keys, 500 do
            local args = {'ZUNIONSTORE', dest, 0, dest}
            for j = i, math.min(i + 499, #f.keys) do args[#args + 1] = f.keys[j] end
            args[3] = #args - 3
            redis.call(unpack(args))
        end
    elseif f.kind == 'range' then
        redis.call('ZRANGESTORE', dest, f.key, f.min, f.max, 'BYSCORE')
    elseif f.kind == 'geo' then
        local args = {'GEOSEARCHSTORE', dest, f.key, 'FROMLONLAT', f.lon, f.lat,
                      'BYRADIUS', f.radius, f.unit, 'ASC'}
        if f.count then args[#args + 1] = 'COUNT'; args[#args + 1] = f.count end
        args[#args + 1] = 'STOREDIST'
        redis.call(unpack(args))
    else
        local ids = affix_ids(f)
        redis.call('DEL', dest)
        for i = 1, #ids, 500 do
            local args = {'ZADD', dest}
            for j = i, math.min(i + 499, #ids) do
                args[#args + 1] = 0; args[#args + 1] = ids[j]
            end
            redis.call(unpack(args))
        end
    end
    if redis.call('EXISTS', dest) == 1 then expire(dest) end
end

estimate = function(f)
    if f.kind == 'and' then
        local n = nil
        for _, part in ipairs(f.of) do
            if part.kind ~= 'not' then
                local m = estimate(part)
                if n == nil or m < n then n = m end
            end
        end
        return n or estimate(f.of[1])
    elseif f.kind == 'or' then
        local n = 0
        for _, part in ipairs(f.of) do n = n + estimate(part) end
        return n
    elseif f.kind == 'not' then
        return estimate(f.all)
    elseif f.kind == 'all' then
        if f.key then return redis.call('ZCARD', f.key) end
        return tonumber(redis.call('GET', f.counter) or '0') or 0
    elseif f.kind == 'set' then
        return is_set(f.key) and redis.call('SCARD', f.key) or redis.call('ZCARD', f.key)
    elseif f.kind == 'any' then
        local n = 0
        for _, k in ipairs(f.keys) do
            n = n + (is_set(k) and redis.call('SCARD', k) or redis.call('ZCARD', k))
        end
        return n
    elseif f.kind == 'range' then
        return redis.call('ZCOUNT', f.key, f.min, f.max)
    elseif f.kind == 'geo' then
        local n = redis.call('ZCARD', f.key)
        if f.count and f.count < n then n = f.count end
        return n
    end
    local n = 0
    for _, w in ipairs(windows(f)) do
        n = n + redis.call('ZCOUNT', f.key, w[1], w[2])
    end
    return n
end

-- The bound that excludes what `bound` includes: "5" <-> "(5".
local function outside(bound)
    if string.sub(bound, 1, 1) == '(' then return string.sub(bound, 2) end
    return '(' .. bound
end

-- Narrow dest to the members also matched by filter f (a "not" filter:
-- to the members it does not match).
local function narrow(dest, f)
    if f.kind == 'set' then
        redis.call('ZINTERSTORE', dest, 2, dest, f.key, 'WEIGHTS', 1, 0)
    elseif f.kind == 'range' then
        redis.call('ZINTERSTORE', dest, 2, dest, f.key, 'WEIGHTS', 0, 1)
        redis.call('ZREMRANGEBYSCORE', dest, '-inf', outside(f.min))
        redis.call('ZREMRANGEBYSCORE', dest, outside(f.max), '+inf')
    elseif f.kind == 'not' and f.of.kind == 'set' then
        redis.call('ZDIFFSTORE', dest, 2, dest, f.of.key)
    elseif f.kind == 'not' then
        local tmp = scratch()
        materialise(f.of, tmp)
        redis.call('ZDIFFSTORE', dest, 2, dest, tmp)
        redis.call('DEL', tmp)
    else
        local tmp = scratch()
        materialise(f, tmp)
        redis.call('ZINTERSTORE', dest, 2, dest, tmp, 'WEIGHTS', 1, 0)
        redis.call('DEL', tmp)
    end
    if redis.call('EXISTS', dest) == 1 then expire(dest) end
end

-- The AND of parts into dest: the smallest positive part first, then the
-- others narrow it (negations last, subtracted); stops once dest is empty.
and_into = function(parts, dest)
    local sizes = {}
    for i, f in ipairs(parts) do
        sizes[i] = {f.kind == 'not' and 1 or 0, estimate(f), i}
    end
    table.sort(sizes, function(a, b)
        if a[1] ~= b[1] then return a[1] < b[1] end
        if a[2] ~= b[2] then return a[2] < b[2] end
        return a[3] < b[3]
    end)
    materialise(parts[sizes[1][3]], dest)
    for i = 2, #sizes do
        if redis.call('EXISTS', dest) == 0 then break end
        narrow(dest, parts[sizes[i][3]])
    end
end

local function limits()
    local stop = -1
    if plan.count >= 0 then stop = plan.offset + plan.count - 1 end
    return plan.offset, stop
end

local function ids_of(key, ordered)
    local start, stop = limits()
    if plan.count == 0 then return {} end
    if plan.last and ordered and plan.scores then
        return scored(redis.call('ZRANGE', key, -1, -1, 'WITHSCORES'), plan.order.desc)
    end
    if plan.last and ordered then return redis.call('ZRANGE', key, -1, -1) end
    if plan.last then
        local args = {'SORT', key, 'LIMIT', 0, 1}
        if not plan.id_desc then args[#args + 1] = 'DESC' end
        return redis.call(unpack(args))
    end
    if ordered and plan.scores then
        return scored(redis.call('ZRANGE', key, start, stop, 'WITHSCORES'), plan.order.desc)
    end
    if ordered then return redis.call('ZRANGE', key, start, stop) end
    local args = {'SORT', key}
    if plan.id_desc then args[#args + 1] = 'DESC' end
    if plan.count >= 0 or plan.offset > 0 then
        args[#args + 1] = 'LIMIT'; args[#args + 1] = plan.offset
        args[#args + 1] = plan.count >= 0 and plan.count or 4294967295
    end
    return redis.call(unpack(args))
end

-- The row of `id` as the plan's mode reads it, its id first; nil if gone.
local function read_row(id)
    local row
    if plan.mode == 'select' then
        if redis.call('EXISTS', plan.row_prefix .. id) == 1 then
            row = redis.call('HMGET', plan.row_prefix .. id, unpack(plan.fields))
        end
    else
        row = redis.call('HGETALL', plan.row_prefix .. id)
        if #row == 0 then row = nil end
    end
    if row then table.insert(row, 1, id) end
    return row
end

local function output(ids)
    if plan.mode == 'ids' then
        if not plan.scores then return ids end
        local scores = {}
        for i, id in ipairs(ids) do scores[i] = score_of[id] end
        return {ids, scores}
    end
    local out, scores = {}, {}
    for _, id in ipairs(ids) do
        local row = read_row(id)
        if row then
            out[#out + 1] = row
            if plan.scores then scores[#scores + 1] = score_of[id] end
        end
    end
    if plan.scores then return {out, scores} end
    return out
end

-- One page of a range in descending score order, ties by member ascending
-- (as the general path's WEIGHTS -1 and cached results order them), where
-- ZREVRANGEBYSCORE alone gives ties descending: tie groups inside the page
-- are whole and reversed, the first and last ones are re-read by rank.
local function desc_range(f)
    local args = {'ZREVRANGEBYSCORE', f.key, f.max, f.min, 'WITHSCORES'}
    if plan.count >= 0 or plan.offset > 0 then
        args[#args + 1] = 'LIMIT'; args[#args + 1] = plan.offset
        args[#args + 1] = plan.count
    end
    local raw = redis.call(unpack(args))
    local out = {}
    local i = 1
    while i <= #raw do
        local score = raw[i + 1]
        local j = i
        while raw[j + 3] == score do j = j + 2 end
        if i == 1 or j + 1 == #raw then
            local rank = plan.offset + (i - 1) / 2
            local above = redis.call('ZCOUNT', f.key, '(' .. score, f.max)
            local group = redis.call('ZRANGEBYSCORE', f.key, score, score,
                                     'LIMIT', rank - above, (j - i) / 2 + 1)
            for _, id in ipairs(group) do
                out[#out + 1] = id
                score_of[id] = score
            end
        else
            for k = j, i, -2 do
                out[#out + 1] = raw[k]
                score_of[raw[k]] = score
            end
        end
        i = j + 2
    end
    return out
end

-- An expiring model: remove a few due entities, exclude those left.
if plan.expiry then
    local k = plan.expiry
    local _, more = x_sweep(k, 20)
    if more then
        table.insert(plan.filters, {kind = 'not',
            of = {kind = 'range', key = k.x.expiry, min = '-inf',
                  max = string.format('%d', x_now_ms())},
            all = {kind = 'all', counter = k.counter, prefix = k.row[1],
                   stride = k.stride, offset = k.offset}})
    end
end

-- Fast paths: one range (ordered by itself) or one SET, no temp key at all.
local filters = plan.filters
if #filters == 1 and plan.mode ~= 'cache' and not plan.last and not plan.orders then
    local f = filters[1]
    local order = plan.order
    if f.kind == 'range' and plan.mode == 'count' and (not order or order.key == f.key) then
        return redis.call('ZCOUNT', f.key, f.min, f.max)
    end
    -- Only a range ordered by its own scores: an order by id needs SORT.
    if f.kind == 'range' and order and order.key == f.key then
        if plan.count == 0 then return output({}) end
        if order.desc then return output(desc_range(f)) end
        local args = {'ZRANGEBYSCORE', f.key, f.min, f.max}
        if plan.scores then args[#args + 1] = 'WITHSCORES' end
        if plan.count >= 0 or plan.offset > 0 then
            args[#args + 1] = 'LIMIT'; args[#args + 1] = plan.offset
            args[#args + 1] = plan.count
        end
        if plan.scores then return output(scored(redis.call(unpack(args)), false)) end
        return output(redis.call(unpack(args)))
    end
    if f.kind == 'set' and not order and is_set(f.key) then
        if plan.mode == 'count' then return redis.call('SCARD', f.key) end
        return output(ids_of(f.key, false))
    end
    -- One prefix/suffix/pattern filter by id: sorted here, as SORT would,
    -- instead of stored in T (an id may match through several tokens).
    if f.kind == 'affix' and not order then
        local number, ids = {}, {}
        for _, id in ipairs(affix_ids(f)) do
            if not number[id] then
                number[id] = tonumber(id)
                ids[#ids + 1] = id
            end
        end
        if plan.mode == 'count' then return #ids end
        if plan.count == 0 then return output({}) end
        if plan.id_desc then
            table.sort(ids, function(a, b) return number[a] > number[b] end)
        else
            table.sort(ids, function(a, b) return number[a] < number[b] end)
        end
        local start, stop = limits()
        if stop < 0 or stop >= #ids then stop = #ids - 1 end
        local page = {}
        for i = start + 1, stop + 1 do page[#page + 1] = ids[i] end
        return output(page)
    end
end

-- General path: smallest filter first, then intersections into T.
and_into(filters, T)

-- A ZSET score as a Lua number (Redis writes infinities as "inf").
local function score_number(text)
    if text == 'inf' then return math.huge end
    if text == '-inf' then return -math.huge end
    return tonumber(text)
end

-- The ids of key sorted by several order keys, then by id as a number;
-- ids with no score in one of the keys are dropped.
local function sorted_ids(key)
    local ids = redis.call('ZRANGE', key, 0, -1)
    local number = {}
    for _, id in ipairs(ids) do number[id] = tonumber(id) end
    local scores = {}
    for k, o in ipairs(plan.orders) do
        if o.key then
            local got = {}
            for i = 1, #ids, 500 do
                local chunk = {}
                for j = i, math.min(i + 499, #ids) do chunk[#chunk + 1] = ids[j] end
                local found = redis.call('ZMSCORE', o.key, unpack(chunk))
                for j, id in ipairs(chunk) do
                    if found[j] then
                        got[id] = score_number(found[j])
                        if plan.scores then
                            local texts = score_of[id] or {}
                            texts[k] = found[j]
                            score_of[id] = texts
                        end
                    end
                end
            end
            local kept = {}
            for _, id in ipairs(ids) do
                if got[id] then kept[#kept + 1] = id end
            end
            ids = kept
            scores[k] = got
        end
    end
    table.sort(ids, function(a, b)
        for k, o in ipairs(plan.orders) do
            local x, y
            if o.key then x, y = scores[k][a], scores[k][b] else x, y = number[a], number[b] end
            if x ~= y then
                if o.desc then return x > y end
                return x < y
            end
        end
        return number[a] < number[b]
    end)
    if plan.scores then
        -- The id stands for an order by id (no key), as the sort uses it.
        for _, id in ipairs(ids) do
            local texts = score_of[id] or {}
            for k, o in ipairs(plan.orders) do
                if not o.key then texts[k] = id end
            end
            score_of[id] = texts
        end
    end
    return ids
end

if plan.orders then
    local ids = {}
    if redis.call('EXISTS', T) == 1 then ids = sorted_ids(T) end
    redis.call('DEL', T)
    if plan.mode == 'count' then return #ids end
    if plan.mode == 'cache' then
        -- Scores are ranks: pages by rank follow the sorted order.
        for i = 1, #ids, 500 do
            local args = {'ZADD', T}
            for j = i, math.min(i + 499, #ids) do
                args[#args + 1] = j; args[#args + 1] = ids[j]
            end
            redis.call(unpack(args))
        end
        if #ids > 0 then expire(T) end
        return T
    end
    if plan.last then
        if #ids == 0 then return output({}) end
        return output({ids[#ids]})
    end
    if plan.count == 0 then return output({}) end
    local start, stop = limits()
    if stop < 0 or stop >= #ids then stop = #ids - 1 end
    local page = {}
    for i = start + 1, stop + 1 do page[#page + 1] = ids[i] end
    return output(page)
end

local ordered = false
if plan.order and redis.call('EXISTS', T) == 1 then
    local key = plan.order.key
    if plan.order.geo then
        -- Ordered by distance: the geo filter's distances, stored once more.
        key = scratch()
        materialise(filters[plan.order.geo], key)
    end
    redis.call('ZINTERSTORE', T, 2, T, key, 'WEIGHTS', 0, plan.order.desc and -1 or 1)
    if plan.order.geo then redis.call('DEL', key) end
    ordered = true
end

local result
if plan.mode == 'count' then
    result = redis.call('ZCARD', T)
elseif plan.mode == 'cache' then
    if redis.call('EXISTS', T) == 0 then return T end
    if not ordered then
        -- Ordered by id: make each score the (signed) id, so pages by rank work.
        local members = redis.call('ZRANGE', T, 0, -1)
        local sign = plan.id_desc and -1 or 1
        for i = 1, #members, 500 do
            local args = {'ZADD', T}
            for j = i, math.min(i + 499, #members) do
                args[#args + 1] = sign * tonumber(members[j])
                args[#args + 1] = members[j]
            end
            redis.call(unpack(args))
        end
    end
    expire(T)
    return T
else
    result = output(ids_of(T, ordered))
end
redis.call('DEL', T)
return result
