-- many_to_many.lua: change the memberships of ManyToMany relations, both
-- sides in one step (or one side, when the two are in different slots).
-- KEYS[1]     a key of the slot the call works in (the entity's row for
--             add/remove/set, a model's id counter for drop, exist and
--             mirror), declared so a cluster client routes the call there;
--             every key is named in the plan, from KeySpace key names and
--             prefixes (rom/_keys.py): row, own, other_row .. id,
--             other_before .. id .. other_after, all in that slot
-- KEYS[2]     the slot's probe (KeySpace.probe), a key rom never writes:
--             routing only. With a key that is always missing, the call never
--             runs while a Redis Cluster migrates the slot (TRYAGAIN, maybe
--             after an ASK, until the slot has its new owner), so never on
--             half of the slot's keys
-- ARGV[1]     JSON plan, one of:
--             {op = "add" | "remove" | "set", row, own, id, other_row,
--              other_before, other_after, ids, mirror}
--               row: the entity's row key; own: its member SET; id: its id;
--               other_row: "<other ns>:", the other side's row prefix;
--               other_before .. id .. other_after: a member SET of the
--               other side; ids: the other side's ids given;
--               mirror = false: the other side is in another slot: only
--               own is changed, the other rows are not checked (rom
--               checks them with "exist" and writes them with "mirror")
--             {op = "drop", items = {{own, id, other_before, other_after}, ...},
--              mirror}
--               forget every membership of deleted entities (mirror =
--               false: only their own SETs)
--             {op = "exist", other_row, ids}: which rows are gone
--             {op = "mirror", items = {{id, other_before, other_after,
--              add = {id, ...}, remove = {id, ...}}, ...}}
--               the other side's half of a change made with mirror = false
-- returns     add/remove/set: {"ok", number of memberships added + removed}
--                             (mirror = false: then the ids added and
--                             the ids removed, two lists)
--                             {"deleted"}: the entity's row is gone
--                             {"missing", id, ...}: other rows that are gone
--                             (add and set; nothing is written then)
--             drop: the number of memberships removed (mirror = false:
--                   {number, {members of item 1}, {members of item 2}, ...})
--             exist: {"ok"} or {"missing", id, ...}
--             mirror: the number of members added + removed

local plan = cjson.decode(ARGV[1])

local function other_key(p, id)
    return p.other_before .. id .. p.other_after
end

local mirror = plan.mirror ~= false

local function drop(item)
    local members = redis.call('SMEMBERS', item.own)
    if mirror then
        for _, other in ipairs(members) do
            redis.call('SREM', other_key(item, other), item.id)
        end
    end
    redis.call('DEL', item.own)
    return members
end

local function missing_rows(prefix, ids)
    local missing = {'missing'}
    for _, id in ipairs(ids) do
        if redis.call('EXISTS', prefix .. id) == 0 then missing[#missing + 1] = id end
    end
    return missing
end

if plan.op == 'drop' then
    local n, each = 0, {}
    for i, item in ipairs(plan.items) do
        each[i] = drop(item)
        n = n + #each[i]
    end
    if mirror then return n end
    table.insert(each, 1, n)
    return each
end

if plan.op == 'exist' then
    local missing = missing_rows(plan.other_row, plan.ids)
    if #missing > 1 then return missing end
    return {'ok'}
end

if plan.op == 'mirror' then
    local n = 0
    for _, item in ipairs(plan.items) do
        for _, id in ipairs(item.add) do
            n = n + redis.call('SADD', other_key(item, id), item.id)
        end
        for _, id in ipairs(item.remove) do
            n = n + redis.call('SREM', other_key(item, id), item.id)
        end
    end
    return n
end

if plan.op ~= 'remove' and redis.call('EXISTS', plan.row) == 0 then
    return {'deleted'}
end

local wanted = {}
for _, id in ipairs(plan.ids) do wanted[id] = true end

local adding = {}
if plan.op ~= 'remove' then
    local missing = {'missing'}
    for _, id in ipairs(plan.ids) do
        if redis.call('SISMEMBER', plan.own, id) == 0 then
            if mirror and redis.call('EXISTS', plan.other_row .. id) == 0 then
                missing[#missing + 1] = id
            end
            adding[#adding + 1] = id
        end
    end
    if #missing > 1 then return missing end
end

local changed = 0
local removing = {}
if plan.op == 'remove' then
    removing = plan.ids
elseif plan.op == 'set' then
    for _, id in ipairs(redis.call('SMEMBERS', plan.own)) do
        if not wanted[id] then removing[#removing + 1] = id end
    end
end
for _, id in ipairs(removing) do
    changed = changed + redis.call('SREM', plan.own, id)
    if mirror then redis.call('SREM', other_key(plan, id), plan.id) end
end
for _, id in ipairs(adding) do
    changed = changed + redis.call('SADD', plan.own, id)
    if mirror then redis.call('SADD', other_key(plan, id), plan.id) end
end
if not mirror then return {'ok', changed, adding, removing} end
return {'ok', changed}
