-- write_entity.lua: apply entity write/delete plans in order, each one atomic,
-- exactly once per request token.
-- KEYS[1]     the request's write record (KeySpace.write_record(token)): if
--             it exists, this request ran already (or was fenced off) and its
--             recorded reply is returned with nothing written
-- KEYS[2]     the slot's probe (KeySpace.probe), a key rom never writes:
--             routing only. With a key that is always missing, the call never
--             runs while a Redis Cluster migrates the slot (TRYAGAIN, maybe
--             after an ASK, until the slot has its new owner), so never on
--             half of the slot's keys. Also the first key of the SDIFF that
--             checks the type of many sets at once (need_sets)
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
--             A plan leaves out its empty lists, false flags (delete,
--             reindex) and a new entity's id: read as empty, false, none.
--             Its tokens and affix names are only in the record; its
--             "prefix" and "suffix" are the affixes' scores: lists, or for a
--             plain save (which may keep its record) each one
--             space-separated string; expand() reads both, for a plan that
--             needs them.
--             Its "race" and "scored" pairs are flat: field, expected value
--             (false: absent), field, ...; index name, score (false: the
--             id), name, ...
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
    for i = 1, #p.scored, 2 do names['z\0' .. p.scored[i]] = true end
    for _, e in ipairs(p.prefix) do names['p\0' .. e[1] .. '\0' .. e[2]] = true end
    for _, e in ipairs(p.suffix) do names['s\0' .. e[1] .. '\0' .. e[2]] = true end
    for _, e in ipairs(p.geo) do names['g\0' .. e[1]] = true end
    return names
end

-- Fill in a plan's tokens and prefix and suffix entries ({attr, token}
-- pairs) from its record (slots 1, 3 and 4, in the plan's order:
-- rom/_writer.py IndexEntries.record), and their scores (p.pscores,
-- p.sscores, same order) from the plan's "prefix" and "suffix" (lists, or
-- space-separated strings). Only plans that touch their entries need them (a
-- delete, a full save, a changed record), so an update that leaves its
-- record as it is neither decodes nor splits them.
local function words(text)
    if type(text) == 'table' then return text end
    local out = {}
    if text then
        for word in string.gmatch(text, '%S+') do out[#out + 1] = word end
    end
    return out
end

local function expand(p)
    if p.tokens then return end
    local rec = decode_record(p.record)
    p.pscores, p.sscores = words(p.prefix), words(p.suffix)
    p.tokens, p.prefix, p.suffix = slot(rec, 1), slot(rec, 3), slot(rec, 4)
end

-- ZADD prefix or suffix members not already in place, one call per key
-- (a column's entries come together in the plan) and per 500 members.
local function add_affixes(k, id, entries, scores, kind, tag, kept)
    local zkey, args = nil, {}
    for i, e in ipairs(entries) do
        if not kept[tag .. e[1] .. '\0' .. e[2]] then
            local this = key(k, kind, e[1])
            if (this ~= zkey or #args == 1000) and #args > 0 then
                redis.call('ZADD', zkey, unpack(args))
                args = {}
            end
            zkey = this
            args[#args + 1] = scores[i]
            args[#args + 1] = e[2] .. '\0' .. id
        end
    end
    if #args > 0 then redis.call('ZADD', zkey, unpack(args)) end
end

-- Add the plan's entries; kept tokens and affixes are in place already
-- (all of them if `kept` is nil), scores and geo points are written again
-- (they may have changed).
local function add_entries(k, id, p, kept)
    if kept then
        for _, name in ipairs(p.tokens) do
            if not kept['t\0' .. name] then
                redis.call('SADD', key(k, 'idx', name), id)
            end
        end
    end
    local scored = p.scored
    for i = 1, #scored, 2 do
        local score = scored[i + 1]
        if score == false then score = id end
        redis.call('ZADD', key(k, 'idx', scored[i]), score, id)
    end
    if kept then
        add_affixes(k, id, p.prefix, p.pscores, 'pre', 'p\0', kept)
        add_affixes(k, id, p.suffix, p.sscores, 'suf', 's\0', kept)
    end
    for _, e in ipairs(p.geo) do
        redis.call('GEOADD', key(k, 'geo', e[1]), e[2], e[3], id)
    end
end

-- Keys this script found to be of the type its writes need (or absent),
-- with that type: an absent key checked for one type may since have been
-- created (by an earlier entity) or be about to be (by this one) as that type.
local verified = {}

-- Keys that one command checked for several entities of this call at once
-- (precheck_sets, need_new_row): name -> 'set' (a set or absent) or 'none'
-- (absent). Only this call's writes change keys meanwhile, and each key
-- they write is verified first, so such a key is still of that type (or
-- absent) unless `verified` says otherwise.
local early = {}

local function conflict(name, seen, kind)
    error({err = 'WRONGTYPE key ' .. name .. ' is written as a '
        .. seen .. ' and as a ' .. kind .. ' in the same request'})
end

-- Raise (before the entity's first write) if `name` exists with another type,
-- or was checked for another type in this run.
local function need(name, kind)
    local seen = verified[name]
    if seen == kind then return end
    if seen then conflict(name, seen, kind) end
    local before = early[name]
    if before ~= 'none' and before ~= kind then
        local found = redis.call('TYPE', name)
        if type(found) == 'table' then found = found.ok end
        if found ~= 'none' and found ~= kind then
            error({err = 'WRONGTYPE key ' .. name .. ' holds a ' .. found
                .. ', the write needs a ' .. kind .. ' (or no key)'})
        end
    end
    verified[name] = kind
end

-- Run a read `cmd` of key `name` (its first argument), which Redis answers
-- only if the key is a `kind` or absent: the read is its type check. A
-- refusal is raised as need() words it.
local function read(kind, cmd, name, ...)
    local seen = verified[name]
    if seen and seen ~= kind then conflict(name, seen, kind) end
    local reply = redis.pcall(cmd, name, ...)
    if type(reply) == 'table' and reply.err then
        need(name, kind)
        error(reply)
    end
    verified[name] = kind
    return reply
end

-- need(name, 'set') for each of `names`, with one SDIFF per 500 keys:
-- the difference of the never-written probe and the sets is empty, and
-- Redis checks every key's type before computing it. If it is refused,
-- each key's TYPE finds which key it was.
local function need_sets(names)
    local todo = {}
    for _, name in ipairs(names) do
        local seen = verified[name]
        if seen ~= 'set' then
            if seen then conflict(name, seen, 'set') end
            local before = early[name]
            if before == 'none' or before == 'set' then
                verified[name] = 'set'
            elseif not todo[name] then
                todo[name] = true
                todo[#todo + 1] = name
            end
        end
    end
    for first = 1, #todo, 500 do
        local last = math.min(first + 499, #todo)
        local reply = redis.pcall('SDIFF', KEYS[2], unpack(todo, first, last))
        local refused = type(reply) == 'table' and reply.err
        for i = first, last do
            if refused then need(todo[i], 'set') else verified[todo[i]] = 'set' end
        end
    end
end

-- The row's fields a plan's checks read, by name, with one HMGET (which
-- also checks that the row is a hash): row_check and race fields, the
-- record, and the fields of unique_fields.
local function read_row(row, p)
    local fields, out = {'-index-data-'}, {['-index-data-'] = false}
    for _, e in ipairs(p.row_check) do
        if out[e[1]] == nil then
            fields[#fields + 1] = e[1]
            out[e[1]] = false
        end
    end
    local race = p.race
    for i = 1, #race, 2 do
        local name = race[i]
        if out[name] == nil then
            fields[#fields + 1] = name
            out[name] = false
        end
    end
    for _, e in ipairs(p.unique_fields) do
        for _, name in ipairs(e[2]) do
            if out[name] == nil then
                fields[#fields + 1] = name
                out[name] = false
            end
        end
    end
    local values = read('hash', 'HMGET', row, unpack(fields))
    for i, name in ipairs(fields) do out[name] = values[i] end
    return out
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
-- is in Redis (its fields in `values`), which may differ from the writer's
-- (stale) copy; a forced save keeps those it writes again.
local function current_unique(values, p)
    local found = {}
    for _, e in ipairs(p.unique_fields) do
        local parts = {}
        local complete = true
        for i, name in ipairs(e[2]) do
            parts[i] = values[name]
            if not parts[i] then complete = false end
        end
        if complete then
            local value = #e[2] == 1 and parts[1] or composite(parts)
            table.insert(found, {e[1], value})
        end
    end
    return found
end

-- The row's fields as the caller read them to compute unique entries.
local function row_moved(values, p)
    for _, e in ipairs(p.row_check) do
        if values[e[1]] ~= e[2] then return true end
    end
    return false
end

-- Checks come before any write, so a failed plan writes nothing.
local function check(k, id, values, p)
    if id and row_moved(values, p) then return {error = 'moved'} end
    local race = p.race
    if #race > 0 then
        local changed = {}
        for i = 1, #race, 2 do
            local name = race[i]
            local current = values[name]
            if name == p.pk and not current then return {error = 'deleted'} end
            -- An expected false means the field must be absent.
            if current ~= race[i + 1] then table.insert(changed, name) end
        end
        if #changed > 0 then return {error = 'race', fields = changed} end
    end
    for _, e in ipairs(p.unique) do
        local owner = read('hash', 'HGET', key(k, 'uidx', e[1]), e[2])
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

-- The id counters this call read or raised: counter name -> its value.
local counters = {}

-- The counter's value (read once a call; this call's INCRs keep it), which
-- must be an id: INCR must not fail once the entity's writes have begun.
local function counter_value(k)
    local counter = k.counter
    local value = counters[counter]
    if value then return value end
    local text = read('string', 'GET', counter) or '0'
    if not string.match(text, '^%d+$') or #text > 15 then
        error({err = 'ERR id counter ' .. counter .. ' holds ' .. text
            .. ', not an id; set it to the largest id in use'})
    end
    counters[counter] = tonumber(text)
    return counters[counter]
end

-- The id of a new entity whose INCR of the counter returned `n`. The one
-- place that maps counter values to ids: next_id, need_new_row and write()
-- use it.
-- A partition of a partitioned model (k.stride partitions, this one
-- k.offset) gives the ids n * stride + offset.
local function id_for(k, n)
    return string.format('%d', n * (k.stride or 1) + (k.offset or 0))
end

-- The id the next INCR of the counter gives.
local function next_id(k)
    return id_for(k, counter_value(k) + 1)
end

-- How many new entities this call writes, by namespace (main loop).
local pending_new = {}

-- The row the next new entity of `k` gets must be free for a hash: the
-- first time, one EXISTS tells whether the rows of all of this call's new
-- entities of `k` are absent (ids come from the counter one after another).
local rows_checked = {}
local function need_new_row(k, ns, row)
    if not rows_checked[ns] then
        rows_checked[ns] = true
        local count = pending_new[ns] or 0
        if count > 1 then
            local first, names = counter_value(k) + 1, {}
            for i = 0, count - 1 do
                names[#names + 1] = key(k, 'row', id_for(k, first + i))
            end
            local found = 0
            for i = 1, #names, 500 do
                found = found + redis.call('EXISTS', unpack(names, i, math.min(i + 499, #names)))
            end
            if found == 0 then
                for _, name in ipairs(names) do early[name] = 'none' end
            end
        end
    end
    need(row, 'hash')
end

-- The index keys write() changes for a prepared plan, by the type their
-- commands need: the stored record's entries it removes and the plan's
-- entries it adds (as write() chooses them: a plain save keeps the entries
-- both name; scored and geo entries are always written).
local function entry_keys(k, p)
    local sets, zsets = {}, {}
    local idx, pre, suf, geo = k.idx, k.pre, k.suf, k.geo
    if p.changed then
        -- A plain save compares entries by name (entry_names' tags); a
        -- delete or full save removes and adds every entry.
        local plain = not p.delete and not p.reindex
        local keep, stored = p.keep, {}
        local rec = p.stored
        for _, name in ipairs(slot(rec, 1)) do
            if type(name) == 'string' then
                local tag = plain and 't\0' .. name
                if tag then stored[tag] = true end
                if not (tag and keep[tag]) then sets[#sets + 1] = idx[1] .. name .. idx[2] end
            end
        end
        for _, name in ipairs(slot(rec, 2)) do
            if type(name) == 'string' then
                local tag = plain and 'z\0' .. name
                if not (tag and keep[tag]) then zsets[#zsets + 1] = idx[1] .. name .. idx[2] end
            end
        end
        for _, pair in ipairs(slot(rec, 3)) do
            if is_pair(pair) then
                local tag = plain and 'p\0' .. pair[1] .. '\0' .. pair[2]
                if tag then stored[tag] = true end
                if not (tag and keep[tag]) then zsets[#zsets + 1] = pre[1] .. pair[1] .. pre[2] end
            end
        end
        for _, item in ipairs(slot(rec, 4)) do
            if is_pair(item) then
                local tag = plain and 's\0' .. item[1] .. '\0' .. item[2]
                if tag then stored[tag] = true end
                if not (tag and keep[tag]) then zsets[#zsets + 1] = suf[1] .. item[1] .. suf[2] end
            elseif type(item) == 'string' then
                local tag = plain and 'g\0' .. item
                if not (tag and keep[tag]) then zsets[#zsets + 1] = geo[1] .. item .. geo[2] end
            end
        end
        for _, name in ipairs(slot(rec, 5)) do
            if type(name) == 'string' then
                local tag = plain and 'g\0' .. name
                if not (tag and keep[tag]) then zsets[#zsets + 1] = geo[1] .. name .. geo[2] end
            end
        end
        if not p.delete then
            -- Added unless both the stored record and the plan name it.
            for _, name in ipairs(p.tokens) do
                if not (plain and stored['t\0' .. name]) then
                    sets[#sets + 1] = idx[1] .. name .. idx[2]
                end
            end
            -- A column's affix entries come together: its key once.
            local last = nil
            for _, e in ipairs(p.prefix) do
                if e[1] ~= last and not (plain and stored['p\0' .. e[1] .. '\0' .. e[2]]) then
                    zsets[#zsets + 1] = pre[1] .. e[1] .. pre[2]
                    last = e[1]
                end
            end
            last = nil
            for _, e in ipairs(p.suffix) do
                if e[1] ~= last and not (plain and stored['s\0' .. e[1] .. '\0' .. e[2]]) then
                    zsets[#zsets + 1] = suf[1] .. e[1] .. suf[2]
                    last = e[1]
                end
            end
        end
    end
    if not p.delete then
        local scored = p.scored
        for i = 1, #scored, 2 do zsets[#zsets + 1] = idx[1] .. scored[i] .. idx[2] end
        for _, e in ipairs(p.geo) do zsets[#zsets + 1] = geo[1] .. e[1] .. geo[2] end
    end
    return sets, zsets
end

-- Every read and check of one entity, before any of its writes: a key of the
-- wrong type or a bad counter raises here, when nothing of it is written.
-- Keys read here are checked by the read itself (read()); only the keys
-- write() changes are checked, sets with one SDIFF.
-- Returns a failed check's result, or nil with the plan's state filled in.
local function prepare(p)
    local k, id = K[p.ns], p.id
    -- A partitioned model's plan that claimed unique values elsewhere
    -- (rom/_claims.py) is written only before its claims' fence.
    if p.fence and x_now_ms() >= p.fence then return {error = 'fenced'} end
    local row = id and key(k, 'row', id) or nil
    -- An expired entity is gone: removed before it is checked or written.
    if id and k.x and x_due(k, id) then x_reap(k, id) end
    local values = {}
    if id then values = read_row(row, p) end
    local failed = check(k, id, values, p)
    if failed then return failed end
    p.raw, p.legacy = false, false
    if id then
        local legacy = read('hash', 'HGET', k.legacy, id)
        if legacy then
            p.raw, p.legacy = legacy, true
        else
            p.raw = values['-index-data-']
        end
    else
        -- The id INCR will give: its row must be free for a hash.
        row = key(k, 'row', next_id(k))
        need_new_row(k, p.ns, row)
        if #p.unique_fields > 0 then values = read_row(row, p) end
    end
    local removals = p.unique_del
    for _, e in ipairs(p.unique_stored) do table.insert(removals, e) end
    for _, e in ipairs(current_unique(values, p)) do table.insert(removals, e) end
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
            if read('hash', 'HGET', ukey, e[2]) == id then
                table.insert(removable, {ukey, e[2]})
            end
        end
    end
    p.removable = removable
    -- write() touches the entries of the stored record and of the plan
    -- unless the record is unchanged: then only scores and geo points.
    p.changed = p.delete or p.reindex or p.raw ~= p.record
    if p.changed then
        expand(p)
        p.stored = decode_record(p.raw)
        -- A plain save leaves the entries it would write again in place; a
        -- full or forced save (reindex) and a delete remove every old entry.
        p.keep = {}
        if not p.delete and not p.reindex then p.keep = entry_names(p) end
    end
    local sets, zsets = entry_keys(k, p)
    need_sets(sets)
    for _, name in ipairs(zsets) do need(name, 'zset') end
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
        local n = redis.call('INCR', k.counter)
        counters[k.counter] = n
        id = id_for(k, n)
        table.insert(p.hset, p.pk)
        table.insert(p.hset, id)
    end
    local row = key(k, 'row', id)
    for _, e in ipairs(p.unique) do
        if not e.owned then redis.call('HSET', key(k, 'uidx', e[1]), e[2], id) end
    end
    for _, e in ipairs(p.removable) do redis.call('HDEL', e[1], e[2]) end
    if #p.hdel > 0 then redis.call('HDEL', row, unpack(p.hdel)) end
    -- The record goes with the row's fields, in the same HSET.
    if not p.delete and (p.legacy or p.raw ~= p.record) then
        table.insert(p.hset, '-index-data-')
        table.insert(p.hset, p.record)
    end
    if #p.hset > 0 then redis.call('HSET', row, unpack(p.hset)) end
    -- The same record names the same entries: none to remove or re-add
    -- (kept = nil: add_entries writes only scores and geo points).
    local kept = nil
    if p.changed then kept = remove_entries(k, id, p.stored, p.keep) end
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
    if k.x and p.x then set_expiry(k, id, p) end
    return {id = id}
end

-- Several plans that write all their tokens (new entities, full saves):
-- one SDIFF checks every token set of them at once (see `early`). If it
-- is refused, each entity checks its own keys.
local function precheck_sets(plans)
    local count = 0
    for _, p in ipairs(plans) do
        if p.reindex and not p.delete then count = count + 1 end
    end
    if count < 2 then return end
    local names = {}
    for _, p in ipairs(plans) do
        if p.reindex and not p.delete then
            local k = K[p.ns]
            expand(p)
            for _, name in ipairs(p.tokens) do names[#names + 1] = key(k, 'idx', name) end
        end
    end
    if #names == 0 then return end
    local ok = true
    for first = 1, #names, 500 do
        local reply = redis.pcall('SDIFF', KEYS[2], unpack(names, first, math.min(first + 499, #names)))
        if type(reply) == 'table' and reply.err then ok = false end
    end
    if ok then
        for _, name in ipairs(names) do early[name] = 'set' end
    end
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
-- A plan's lists it leaves out (empty): read-only ones share one table,
-- hset and unique_del get their own (write() and prepare() add to them).
local EMPTY = {}
local READ_ONLY = {'race', 'unique', 'hdel', 'scored', 'geo', 'unsafe',
    'unique_fields', 'row_check', 'unique_stored'}
local plans = {}
for i = 3, #ARGV, 2 do
    local p = cjson.decode(ARGV[i])
    for _, name in ipairs(READ_ONLY) do
        if not p[name] then p[name] = EMPTY end
    end
    if not p.hset then p.hset = {} end
    if not p.unique_del then p.unique_del = {} end
    -- expand() makes the entries from these (p.tokens nil until then;
    -- p.prefix and p.suffix the scores' strings until then).
    p.record = ARGV[i + 1]
    plans[#plans + 1] = p
    if not p.id then pending_new[p.ns] = (pending_new[p.ns] or 0) + 1 end
end
precheck_sets(plans)
local results, written = {}, false
for _, p in ipairs(plans) do
    local result = apply(p)
    table.insert(results, result)
    if result.error then break end
    written = true
end
local reply = cjson.encode(results)
if written then redis.call('SET', KEYS[1], reply, 'EX', ARGV[1]) end
return reply
