-- write_entity.lua: apply entity write/delete plans in order, each one atomic,
-- exactly once per request token.
-- KEYS[1]     the request's write record (KeySpace.write_record(token)): if
--             it exists, this request ran already (or was fenced off) and its
--             recorded reply is returned with nothing written
-- KEYS[2]     the slot's probe (KeySpace.probe), a key rom never writes:
--             routing only. With a key that is always missing, the call never
--             runs while a Redis Cluster migrates the slot (TRYAGAIN, maybe
--             after an ASK, until the slot has its new owner), so never on
--             half of the slot's keys
-- ARGV[1]     seconds the write record is kept
-- ARGV[2]     the key table (rom/_writer.py key_table): JSON object, per
--             plan namespace (a plan's "ns") KeySpace.script_keys():
--             {row, idx, pre, suf, geo, uidx = {before, after}, counter,
--              legacy; a partition of a partitioned model also has stride
--              and offset: its ids are n * stride + offset for each n its
--              counter gives}. Every key is named from it: a key of kind K for
--             name N is K[1] .. N .. K[2] (N is the id for row, the index
--             name, attribute or column(s) for the others); counter and
--             legacy are the id counter and the legacy record hash. Index
--             entries named by the entity's stored index record (rom
--             1.1.2's -index-data- / legacy layout) become keys so, never
--             from the bare namespace. On a cluster all of a call's keys
--             are in the slot of KEYS[1] (rom/_persist.py groups by slot).
--             An expiring model's entry also has x (KeySpace.expiry_keys,
--             see lib_expiry.lua): a call sweeps up to 10 due entities of
--             it, an expired entity met (the plan's own, a unique value's
--             owner) is removed fully first, and a save plan's "x" sets,
--             keeps or drops the entity's expiry.
-- ARGV[3..]   two per entity (rom/_writer.py WritePlan.to_args): its JSON
--             plan, then the -index-data- record it writes ('' for a delete).
--             A delete plan's "unsafe" lists full UnsafeColumn key names.
-- returns     JSON array, one entry per plan run, stopping at the first error:
--             {"id": "<id>"} | {"error": "race", "fields": [...]}
--             | {"error": "deleted"} | {"error": "unique", "column": c, "value": v}
--             | {"error": "moved"}: the row is no longer as the caller read it
--             for the plan's row_check; the caller re-reads it and resends
--             | {"error": "fenced"}: the plan's "fence" (Unix ms, set when a
--             partitioned model's unique values were claimed in other slots,
--             see rom/_claims.py) has passed by the server's clock: nothing
--             of it is written
--             | {"error": "redis", "message": m} (a key of the wrong type, a
--             counter that is not an integer: that entity wrote nothing);
--             or the recorded reply of an earlier run of the same request.
--             A run that wrote something records its reply in KEYS[1].

local K = cjson.decode(ARGV[2])

--#include lib_entries
--#include lib_expiry

-- Entry names, by kind: t token SET, z scored ZSET, p/s prefix/suffix
-- member, g geo. A save keeps the entries its plan writes again.
local function entry_names(p)
    local names = {}
    for _, name in ipairs(p.tokens) do names['t\0' .. name] = true end
    for _, e in ipairs(p.scored) do names['z\0' .. e[1]] = true end
    for _, e in ipairs(p.prefix) do names['p\0' .. e[1] .. '\0' .. e[2]] = true end
    for _, e in ipairs(p.suffix) do names['s\0' .. e[1] .. '\0' .. e[2]] = true end
    for _, e in ipairs(p.geo) do names['g\0' .. e[1]] = true end
    return names
end

-- ZADD prefix or suffix members not already in place, one call per key
-- (a column's entries come together in the plan) and per 500 members.
local function add_affixes(k, id, entries, kind, tag, kept)
    local zkey, args = nil, {}
    for _, e in ipairs(entries) do
        if not kept[tag .. e[1] .. '\0' .. e[2]] then
            local this = key(k, kind, e[1])
            if (this ~= zkey or #args == 1000) and #args > 0 then
                redis.call('ZADD', zkey, unpack(args))
                args = {}
            end
            zkey = this
            args[#args + 1] = e[3]
            args[#args + 1] = e[2] .. '\0' .. id
        end
    end
    if #args > 0 then redis.call('ZADD', zkey, unpack(args)) end
end

-- Add the plan's entries; kept tokens and affixes are in place already,
-- scores and geo points are written again (they may have changed).
local function add_entries(k, id, p, kept)
    for _, name in ipairs(p.tokens) do
        if not kept['t\0' .. name] then
            redis.call('SADD', key(k, 'idx', name), id)
        end
    end
    for _, e in ipairs(p.scored) do
        local score = e[2]
        if score == false then score = id end
        redis.call('ZADD', key(k, 'idx', e[1]), score, id)
    end
    add_affixes(k, id, p.prefix, 'pre', 'p\0', kept)
    add_affixes(k, id, p.suffix, 'suf', 's\0', kept)
    for _, e in ipairs(p.geo) do
        redis.call('GEOADD', key(k, 'geo', e[1]), e[2], e[3], id)
    end
end

-- rom 1.1.2's composite unique field: "\0\0" .. value, joined by "\0",
-- then each byte >= 0x80 re-encoded as UTF-8 (latin-1 decoded), as rom 1.1.2 encodes them.
local function composite(values)
    local parts = {}
    for i, v in ipairs(values) do parts[i] = '\0\0' .. v end
    return (string.gsub(table.concat(parts, '\0'), '[\128-\255]', function(c)
        local b = string.byte(c)
        return string.char(192 + math.floor(b / 64), 128 + b % 64)
    end))
end

-- A delete or forced save also drops the unique entries of the row as it
-- is in Redis, which may differ from the writer's (stale) copy; a forced
-- save keeps those it writes again.
local function current_unique(row, p)
    local found = {}
    for _, e in ipairs(p.unique_fields or {}) do
        local values = redis.call('HMGET', row, unpack(e[2]))
        local complete = true
        for i = 1, #e[2] do
            if not values[i] then complete = false end
        end
        if complete then
            local value = #e[2] == 1 and values[1] or composite(values)
            table.insert(found, {e[1], value})
        end
    end
    return found
end

-- The row's fields as the caller read them to compute unique entries.
local function row_moved(row, p)
    local checks = p.row_check or {}
    if #checks == 0 then return false end
    local fields = {}
    for i, e in ipairs(checks) do fields[i] = e[1] end
    local values = redis.call('HMGET', row, unpack(fields))
    for i, e in ipairs(checks) do
        if values[i] ~= e[2] then return true end
    end
    return false
end

-- Checks come before any write, so a failed plan writes nothing.
local function check(k, id, row, p)
    if id and row_moved(row, p) then return {error = 'moved'} end
    if #p.race > 0 then
        local fields = {}
        for i, e in ipairs(p.race) do fields[i] = e[1] end
        -- The record comes along, for apply(): one read of the row.
        fields[#fields + 1] = '-index-data-'
        local values = redis.call('HMGET', row, unpack(fields))
        p.own_record = values[#fields]
        local changed = {}
        for i, e in ipairs(p.race) do
            local current = values[i]
            if e[1] == p.pk and not current then return {error = 'deleted'} end
            -- An expected false means the field must be absent.
            if current ~= e[2] then table.insert(changed, e[1]) end
        end
        if #changed > 0 then return {error = 'race', fields = changed} end
    end
    for _, e in ipairs(p.unique) do
        local owner = redis.call('HGET', key(k, 'uidx', e[1]), e[2])
        -- An expired owner holds the value no more: it goes now, fully.
        if owner and owner ~= id and k.x and x_due(k, owner) then
            x_reap(k, owner)
            owner = false
        end
        if owner and owner ~= id then
            return {error = 'unique', column = e[1], value = e[2]}
        end
        e.owned = owner ~= false
    end
    return nil
end

-- Keys this script found to be of the type its writes need (or absent),
-- with that type: an absent key checked for one type may since have been
-- created (by an earlier entity) or be about to be (by this one) as that type.
local verified = {}

-- Raise (before the entity's first write) if `name` exists with another type,
-- or was checked for another type in this run.
local function need(name, kind)
    if verified[name] == kind then return end
    if verified[name] then
        error({err = 'WRONGTYPE key ' .. name .. ' is written as a '
            .. verified[name] .. ' and as a ' .. kind .. ' in the same request'})
    end
    local found = redis.call('TYPE', name)
    if type(found) == 'table' then found = found.ok end
    if found ~= 'none' and found ~= kind then
        error({err = 'WRONGTYPE key ' .. name .. ' holds a ' .. found
            .. ', the write needs a ' .. kind .. ' (or no key)'})
    end
    verified[name] = kind
end

-- The type every index key named by entries (plan or stored record) must have.
local function need_entries(k, tokens, scored, prefix, suffix, geo)
    for _, name in ipairs(tokens) do need(key(k, 'idx', name), 'set') end
    for _, name in ipairs(scored) do need(key(k, 'idx', name), 'zset') end
    for _, attr in ipairs(prefix) do need(key(k, 'pre', attr), 'zset') end
    for _, attr in ipairs(suffix) do need(key(k, 'suf', attr), 'zset') end
    for _, name in ipairs(geo) do need(key(k, 'geo', name), 'zset') end
end

local function firsts(list)
    local out = {}
    for i, e in ipairs(list) do out[i] = e[1] end
    return out
end

local function strings(list)
    local out = {}
    for _, v in ipairs(list) do
        if type(v) == 'string' then out[#out + 1] = v end
    end
    return out
end

-- Every key the stored record names, with the type its removal needs.
local function need_record(k, rec)
    local pre, suf, geo = {}, {}, strings(slot(rec, 5))
    for _, pair in ipairs(slot(rec, 3)) do
        if is_pair(pair) then pre[#pre + 1] = pair[1] end
    end
    for _, item in ipairs(slot(rec, 4)) do
        if is_pair(item) then suf[#suf + 1] = item[1]
        elseif type(item) == 'string' then geo[#geo + 1] = item end
    end
    need_entries(k, strings(slot(rec, 1)), strings(slot(rec, 2)), pre, suf, geo)
end

-- The id of count n of a model's counter: n, or for a partition of a
-- partitioned model (k.stride partitions, this one k.offset) n * stride + offset.
local function next_id(k, n)
    return string.format('%d', n * (k.stride or 1) + (k.offset or 0))
end

-- Every read and check of one entity, before any of its writes: a key of the
-- wrong type or a bad counter raises here, when nothing of it is written.
-- Returns a failed check's result, or nil with the plan's state filled in.
local function prepare(p)
    local k, id = K[p.ns], p.id
    -- A partitioned model's plan that claimed unique values elsewhere
    -- (rom/_claims.py) is written only before its claims' fence.
    if p.fence and x_now_ms() >= p.fence then return {error = 'fenced'} end
    local row = id and key(k, 'row', id) or nil
    -- An expired entity is gone: removed before it is checked or written.
    if id and k.x and x_due(k, id) then x_reap(k, id) end
    if row then need(row, 'hash') end
    need(k.legacy, 'hash')
    for _, list in ipairs({p.unique, p.unique_del, p.unique_fields or {},
                            p.unique_stored or {}}) do
        for _, e in ipairs(list) do need(key(k, 'uidx', e[1]), 'hash') end
    end
    local failed = check(k, id, row, p)
    if failed then return failed end
    p.raw, p.legacy = false, false
    if id then
        p.raw, p.legacy = stored_record(k, id, row, p.own_record)
    else
        -- The id INCR will give: its row must be free for a hash.
        local counter = k.counter
        need(counter, 'string')
        local value = redis.call('GET', counter) or '0'
        if not string.match(value, '^%d+$') or #value > 15 then
            error({err = 'ERR id counter ' .. counter .. ' holds ' .. value
                .. ', not an id; set it to the largest id in use'})
        end
        row = key(k, 'row', next_id(k, tonumber(value) + 1))
        need(row, 'hash')
    end
    local removals = p.unique_del
    for _, e in ipairs(p.unique_stored or {}) do table.insert(removals, e) end
    for _, e in ipairs(current_unique(row, p)) do table.insert(removals, e) end
    -- Entries this plan writes are never removed.
    local removable, seen = {}, {}
    for _, e in ipairs(p.unique) do
        seen[key(k, 'uidx', e[1]) .. '\0' .. e[2]] = true
    end
    for _, e in ipairs(removals) do
        local ukey = key(k, 'uidx', e[1])
        local name = ukey .. '\0' .. e[2]
        if id and not seen[name] then
            seen[name] = true
            if redis.call('HGET', ukey, e[2]) == id then
                table.insert(removable, {ukey, e[2]})
            end
        end
    end
    p.removable = removable
    p.stored = decode_record(p.raw)
    -- write() touches the entries of the stored record and of the plan
    -- unless the record is unchanged: then only scores and geo points.
    if p.delete or p.reindex or p.raw ~= p.record then
        need_record(k, p.stored)
        if not p.delete then
            need_entries(k, p.tokens, firsts(p.scored), firsts(p.prefix),
                         firsts(p.suffix), firsts(p.geo))
        end
    else
        need_entries(k, {}, firsts(p.scored), {}, {}, firsts(p.geo))
    end
    return nil
end

-- The expiry a save asks (p.x, rom/_expiry.py plan_expiry): "keep",
-- "persist", {"rel", ms from now} or {"abs", Unix ms}; with an expiry the
-- entity's unique entries are kept in x.data for its cleanup.
local function set_expiry(k, id, p)
    local x = k.x
    local at = nil
    if p.x == 'persist' then
        redis.call('ZREM', x.expiry, id)
        redis.call('HDEL', x.data, id)
        return
    elseif p.x == 'keep' then
        if not redis.call('ZSCORE', x.expiry, id) then return end
    elseif p.x[1] == 'rel' then
        at = x_now_ms() + p.x[2]
    else
        at = p.x[2]
    end
    if at then redis.call('ZADD', x.expiry, at, id) end
    local u = {}
    for _, e in ipairs(p.unique) do u[#u + 1] = {e[1], e[2]} end
    if #u > 0 then
        redis.call('HSET', x.data, id, cjson.encode({u = u}))
    else
        redis.call('HDEL', x.data, id)
    end
    if at and at <= x_now_ms() then x_reap(k, id) end
end

-- Apply a prepared plan. Every key it writes was found of the right type.
local function write(p)
    local k = K[p.ns]
    local id = p.id
    if not id then
        id = next_id(k, redis.call('INCR', k.counter))
        table.insert(p.hset, p.pk)
        table.insert(p.hset, id)
    end
    local row = key(k, 'row', id)
    for _, e in ipairs(p.unique) do
        if not e.owned then redis.call('HSET', key(k, 'uidx', e[1]), e[2], id) end
    end
    for _, e in ipairs(p.removable) do redis.call('HDEL', e[1], e[2]) end
    if #p.hdel > 0 then redis.call('HDEL', row, unpack(p.hdel)) end
    if #p.hset > 0 then redis.call('HSET', row, unpack(p.hset)) end
    -- A plain save leaves the entries it would write again in place; a
    -- full or forced save (reindex) and a delete remove every old entry.
    local keep = {}
    if not p.delete and not p.reindex then keep = entry_names(p) end
    local kept = keep
    -- The same record names the same entries: none to remove or re-add.
    if p.delete or p.reindex or p.raw ~= p.record then
        kept = remove_entries(k, id, p.stored, keep)
    end
    if p.legacy then redis.call('HDEL', k.legacy, id) end
    if p.delete then
        if k.x then
            redis.call('ZREM', k.x.expiry, id)
            redis.call('HDEL', k.x.data, id)
        end
        redis.call('DEL', row)
        for _, name in ipairs(p.unsafe) do redis.call('DEL', name) end
        return {id = id}
    end
    add_entries(k, id, p, kept)
    if p.legacy or p.raw ~= p.record then
        redis.call('HSET', row, '-index-data-', p.record)
    end
    if k.x and p.x then set_expiry(k, id, p) end
    return {id = id}
end

local function apply(p)
    local ok, failed = pcall(prepare, p)
    if not ok then
        local message = type(failed) == 'table' and failed.err or tostring(failed)
        return {error = 'redis', message = message}
    end
    if failed then return failed end
    return write(p)
end

local recorded = redis.call('GET', KEYS[1])
if recorded then return recorded end
-- Every write of an expiring model also sweeps a few due entities of it.
for _, k in pairs(K) do
    if k.x then x_sweep(k, 10) end
end
local results, written = {}, false
for i = 3, #ARGV, 2 do
    local p = cjson.decode(ARGV[i])
    p.record = ARGV[i + 1]
    local result = apply(p)
    table.insert(results, result)
    if result.error then break end
    written = true
end
local reply = cjson.encode(results)
if written then redis.call('SET', KEYS[1], reply, 'EX', ARGV[1]) end
return reply
