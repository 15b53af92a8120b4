-- lib_entries.lua: included by scripts (a line "--#include lib_entries",
-- expanded by rom/_scripts.py), never run alone. Naming keys from a key
-- table (KeySpace.script_keys) and removing the index entries an entity's
-- stored record names.
-- KEYS/ARGV  none of its own
-- returns    nothing; defines key, stored_record, decode_record, slot,
--            is_pair, remove_entries

-- The key of `kind` for `name`, from the plan's key table `k`.
local function key(k, kind, name)
    local t = k[kind]
    return t[1] .. name .. t[2]
end

-- The stored record's text (false if none) and whether it came from the
-- legacy <ns>::. `own` is the row's -index-data- if check() read it already.
local function stored_record(k, id, row, own)
    local raw = redis.call('HGET', k.legacy, id)
    if raw then return raw, true end
    if own == nil then own = redis.call('HGET', row, '-index-data-') end
    return own, false
end

local function decode_record(raw)
    if not raw or raw == '' then return {} end
    local ok, rec = pcall(cjson.decode, raw)
    if not ok or type(rec) ~= 'table' then return {} end
    return rec
end

-- The shapes of record items (rom/_record.py reads records by the same
-- rules): an item of another shape is skipped, since an error here would
-- come after writes and leave the write half done.
local function slot(rec, i)
    return type(rec[i]) == 'table' and rec[i] or {}
end

local function is_pair(item)
    return type(item) == 'table' and #item == 2
        and type(item[1]) == 'string' and type(item[2]) == 'string'
end

-- Remove every entry named by a stored record, except those in `keep`;
-- return the kept ones. Slot 4 may hold bare geo names (rom 1.1.2 wrote
-- them there); slot 5 holds geo names.
local function remove_entries(k, id, rec, keep)
    local kept, members, keys = {}, {}, {}
    local function drop(name, cmd, ikey, member)
        if keep[name] then kept[name] = true else redis.call(cmd, ikey, member) end
    end
    -- Prefix and suffix members go out one ZREM per key (and per 500).
    local function drop_member(name, zkey, member)
        if keep[name] then
            kept[name] = true
            return
        end
        if not members[zkey] then
            members[zkey] = {}
            keys[#keys + 1] = zkey
        end
        local list = members[zkey]
        list[#list + 1] = member
        if #list == 500 then
            redis.call('ZREM', zkey, unpack(list))
            members[zkey] = {}
        end
    end
    for _, name in ipairs(slot(rec, 1)) do
        if type(name) == 'string' then
            drop('t\0' .. name, 'SREM', key(k, 'idx', name), id)
        end
    end
    for _, name in ipairs(slot(rec, 2)) do
        if type(name) == 'string' then
            drop('z\0' .. name, 'ZREM', key(k, 'idx', name), id)
        end
    end
    for _, pair in ipairs(slot(rec, 3)) do
        if is_pair(pair) then
            drop_member('p\0' .. pair[1] .. '\0' .. pair[2],
                        key(k, 'pre', pair[1]), pair[2] .. '\0' .. id)
        end
    end
    for _, item in ipairs(slot(rec, 4)) do
        if is_pair(item) then
            drop_member('s\0' .. item[1] .. '\0' .. item[2],
                        key(k, 'suf', item[1]), item[2] .. '\0' .. id)
        elseif type(item) == 'string' then
            drop('g\0' .. item, 'ZREM', key(k, 'geo', item), id)
        end
    end
    for _, name in ipairs(slot(rec, 5)) do
        if type(name) == 'string' then
            drop('g\0' .. name, 'ZREM', key(k, 'geo', name), id)
        end
    end
    for _, name in ipairs(keys) do
        if #members[name] > 0 then redis.call('ZREM', name, unpack(members[name])) end
    end
    return kept
end

