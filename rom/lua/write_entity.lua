-- write_entity.lua: apply entity write/delete plans in order, each one atomic.
-- KEYS        none: index keys are named by the entity's stored index record
--             (rom 1.1.2's -index-data- / <ns>:: layout), so they are built
--             here from the plan's namespace with the KeySpace rules:
--             <ns>:<id>, <ns>:<name>:idx, <ns>:<attr>:pre|suf, <ns>:<name>:geo,
--             <ns>:<cols>:uidx, <ns>:<pk>:, <ns>::, <ns>:<id>:<attr>
-- ARGV[i]     JSON plan of one entity (rom/_writer.py WritePlan.to_json)
-- returns     JSON array, one entry per plan run, stopping at the first error:
--             {"id": "<id>"} | {"error": "race", "fields": [...]}
--             | {"error": "deleted"} | {"error": "unique", "column": c, "value": v}

local function record_of(ns, id, row)
    local raw = redis.call('HGET', ns .. '::', id)
    if not raw then raw = redis.call('HGET', row, '-index-data-') end
    if not raw or raw == '' then return {} end
    local ok, rec = pcall(cjson.decode, raw)
    if not ok or type(rec) ~= 'table' then return {} end
    return rec
end

-- Remove every entry named by a stored record. Slot 4 may hold bare geo
-- names (rom 1.1.2 wrote them there); slot 5 holds geo names.
local function remove_entries(ns, id, rec)
    for _, name in ipairs(rec[1] or {}) do
        redis.call('SREM', ns .. ':' .. name .. ':idx', id)
    end
    for _, name in ipairs(rec[2] or {}) do
        redis.call('ZREM', ns .. ':' .. name .. ':idx', id)
    end
    for _, pair in ipairs(rec[3] or {}) do
        redis.call('ZREM', ns .. ':' .. pair[1] .. ':pre', pair[2] .. '\0' .. id)
    end
    for _, item in ipairs(rec[4] or {}) do
        if type(item) == 'table' then
            redis.call('ZREM', ns .. ':' .. item[1] .. ':suf', item[2] .. '\0' .. id)
        else
            redis.call('ZREM', ns .. ':' .. item .. ':geo', id)
        end
    end
    for _, name in ipairs(rec[5] or {}) do
        redis.call('ZREM', ns .. ':' .. name .. ':geo', id)
    end
end

local function add_entries(ns, id, p)
    for _, name in ipairs(p.tokens) do
        redis.call('SADD', ns .. ':' .. name .. ':idx', id)
    end
    for _, e in ipairs(p.scored) do
        local score = e[2]
        if score == false then score = id end
        redis.call('ZADD', ns .. ':' .. e[1] .. ':idx', score, id)
    end
    for _, e in ipairs(p.prefix) do
        redis.call('ZADD', ns .. ':' .. e[1] .. ':pre', e[3], e[2] .. '\0' .. id)
    end
    for _, e in ipairs(p.suffix) do
        redis.call('ZADD', ns .. ':' .. e[1] .. ':suf', e[3], e[2] .. '\0' .. id)
    end
    for _, e in ipairs(p.geo) do
        redis.call('GEOADD', ns .. ':' .. e[1] .. ':geo', e[2], e[3], id)
    end
end

-- rom 1.1.2's composite unique field: "\0\0" .. value, joined by "\0",
-- then each byte >= 0x80 re-encoded as UTF-8 (latin-1 decoded, SPEC 7.6).
local function composite(values)
    local parts = {}
    for i, v in ipairs(values) do parts[i] = '\0\0' .. v end
    return (string.gsub(table.concat(parts, '\0'), '[\128-\255]', function(c)
        local b = string.byte(c)
        return string.char(192 + math.floor(b / 64), 128 + b % 64)
    end))
end

-- A delete also drops the unique entries of the row as it is in Redis, which
-- may differ from the deleter's (stale) copy.
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

-- Checks come before any write, so a failed plan writes nothing.
local function check(ns, id, row, p)
    if #p.race > 0 then
        local changed = {}
        for _, e in ipairs(p.race) do
            local current = redis.call('HGET', row, e[1])
            if e[1] == p.pk and not current then return {error = 'deleted'} end
            -- An expected false means the field must be absent.
            if current ~= e[2] then table.insert(changed, e[1]) end
        end
        if #changed > 0 then return {error = 'race', fields = changed} end
    end
    for _, e in ipairs(p.unique) do
        local owner = redis.call('HGET', ns .. ':' .. e[1] .. ':uidx', e[2])
        if owner and owner ~= id then
            return {error = 'unique', column = e[1], value = e[2]}
        end
    end
    return nil
end

local function apply(p)
    local ns = p.ns
    local id = p.id
    local row = id and (ns .. ':' .. id) or nil
    local failed = check(ns, id, row, p)
    if failed then return failed end
    if not id then
        id = tostring(redis.call('INCR', ns .. ':' .. p.pk .. ':'))
        row = ns .. ':' .. id
        table.insert(p.hset, p.pk)
        table.insert(p.hset, id)
    end
    for _, e in ipairs(p.unique) do
        redis.call('HSET', ns .. ':' .. e[1] .. ':uidx', e[2], id)
    end
    local removals = p.unique_del
    if p.delete then
        for _, e in ipairs(current_unique(row, p)) do table.insert(removals, e) end
    end
    for _, e in ipairs(removals) do
        local key = ns .. ':' .. e[1] .. ':uidx'
        if redis.call('HGET', key, e[2]) == id then redis.call('HDEL', key, e[2]) end
    end
    if #p.hdel > 0 then redis.call('HDEL', row, unpack(p.hdel)) end
    if #p.hset > 0 then redis.call('HSET', row, unpack(p.hset)) end
    remove_entries(ns, id, record_of(ns, id, row))
    redis.call('HDEL', ns .. '::', id)
    if p.delete then
        redis.call('DEL', row)
        for _, attr in ipairs(p.unsafe) do redis.call('DEL', row .. ':' .. attr) end
        return {id = id}
    end
    add_entries(ns, id, p)
    redis.call('HSET', row, '-index-data-', p.record)
    return {id = id}
end

local results = {}
for i = 1, #ARGV do
    local result = apply(cjson.decode(ARGV[i]))
    table.insert(results, result)
    if result.error then break end
end
return cjson.encode(results)
