-- many_to_many.lua: change the memberships of ManyToMany relations, both
-- sides in one step.
-- KEYS        none: every key is named in the plan (built by rom/_keys.py)
-- ARGV[1]     JSON plan, one of:
--             {op = "add" | "remove" | "set", row, own, id, other_row,
--              other_before, other_after, ids}
--               row: the entity's row key; own: its member SET; id: its id;
--               other_row: "<other ns>:", the other side's row prefix;
--               other_before .. id .. other_after: a member SET of the
--               other side; ids: the other side's ids given
--             {op = "drop", items = {{own, id, other_before, other_after}, ...}}
--               forget every membership of deleted entities
-- returns     add/remove/set: {"ok", number of memberships added + removed}
--                             {"deleted"}: the entity's row is gone
--                             {"missing", id, ...}: other rows that are gone
--                             (add and set; nothing is written then)
--             drop: the number of memberships removed

local plan = cjson.decode(ARGV[1])

local function other_key(p, id)
    return p.other_before .. id .. p.other_after
end

local function drop(item)
    local members = redis.call('SMEMBERS', item.own)
    for _, other in ipairs(members) do
        redis.call('SREM', other_key(item, other), item.id)
    end
    redis.call('DEL', item.own)
    return #members
end

if plan.op == 'drop' then
    local n = 0
    for _, item in ipairs(plan.items) do n = n + drop(item) end
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
            if redis.call('EXISTS', plan.other_row .. id) == 0 then
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
    redis.call('SREM', other_key(plan, id), plan.id)
end
for _, id in ipairs(adding) do
    changed = changed + redis.call('SADD', plan.own, id)
    redis.call('SADD', other_key(plan, id), plan.id)
end
return {'ok', changed}
