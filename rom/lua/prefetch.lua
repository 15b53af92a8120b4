-- prefetch.lua: read the related entities of a query result in one call.
-- KEYS[1]     a key of the slot every task reads (KeySpace.anchor),
--             declared so a cluster client routes the call there; every
--             key is named in the plan from KeySpace prefixes
--             (rom/_keys.py): key, prefix .. id, before .. owner .. after
-- KEYS[2]     the slot's probe (KeySpace.probe), a key rom never writes:
--             routing only. With a key that is always missing, the call never
--             runs while a Redis Cluster migrates the slot (TRYAGAIN, maybe
--             after an ASK, until the slot has its new owner), so never on
--             half of the slot's keys
-- ARGV[1]     JSON {tasks = {task, ...}}, each task one of:
--             {kind = "rows", prefix, ids}: the rows <prefix><id>
--             {kind = "index", key, owners, prefix}: per owner id, the ids
--               scored with it in the ZSET `key` (the referrers of a
--               OneToMany), then their rows
--             {kind = "set", before, after, owners, prefix}: per owner id,
--               the members of the SET <before><owner><after> (a ManyToMany
--               side), then their rows; prefix = false reads no rows
--               (they are in another slot: rom reads them by a second call)
--             any task may have expiry = an expiring model's expiry ZSET
--               (KeySpace.expiry): ids whose expiry time has come (the
--               server's TIME) are left out of its groups and rows
-- returns     per task {groups, rows}: groups[i] lists the related ids of
--             owners[i] (empty for "rows"); rows holds {id, field, value, ...}
--             for each related id once, rows that are gone left out

local plan = cjson.decode(ARGV[1])
local now = nil

-- Whether `id` of a task's model has expired.
local function expired(task, id)
    if not task.expiry then return false end
    if not now then
        local t = redis.call('TIME')
        now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
    end
    local at = redis.call('ZSCORE', task.expiry, id)
    return at and tonumber(at) <= now
end

local out = {}
for t, task in ipairs(plan.tasks) do
    local groups, wanted, seen = {}, {}, {}
    if task.kind == 'rows' then
        wanted = task.ids
    else
        for i, owner in ipairs(task.owners) do
            local ids
            if task.kind == 'index' then
                ids = redis.call('ZRANGEBYSCORE', task.key, owner, owner)
            else
                ids = redis.call('SMEMBERS', task.before .. owner .. task.after)
            end
            local alive = {}
            for _, id in ipairs(ids) do
                if not expired(task, id) then alive[#alive + 1] = id end
            end
            ids = alive
            groups[i] = ids
            for _, id in ipairs(ids) do
                if not seen[id] then
                    seen[id] = true
                    wanted[#wanted + 1] = id
                end
            end
        end
    end
    local rows = {}
    if not task.prefix then wanted = {} end
    for _, id in ipairs(wanted) do
        local row = {}
        if task.kind ~= 'rows' or not expired(task, id) then
            row = redis.call('HGETALL', task.prefix .. id)
        end
        if #row > 0 then
            table.insert(row, 1, id)
            rows[#rows + 1] = row
        end
    end
    out[t] = {groups, rows}
end
return out
