import { UNTRACKED_PLAYER_ROOM } from '../allocator/select.js';
import { LAST_ALLOCATED_ANNOTATION } from '../core/hangar-metadata.js';
import { FLEET_LABEL, MAX_INDEXED_KEYS } from './game-server-store.js';

// The Lua scripts behind RedisGameServerStore. Each runs atomically inside Redis, so a write, its
// index updates and its event are one step no other client can see half of. Layout under the
// store's prefix P (ARGV[1] of every script):
//
//   P..'rv'                          counter: every write takes the next value, as resourceVersion
//                                    and as the event's sequence number
//   P..'gs:'..name                   hash, one JSON (or plain) field per part of the record (FIELDS)
//   P..'all', P..'fleet:'..fleet     sets of names, for list()
//   P..'alloc:'..state               sorted set of the allocatable servers in state Ready or
//   P..'label:'..state..':'..k..'='..v   Allocated (not being deleted), all of them or those with
//                                    label k=v, scored by room for players: with the name as
//                                    tie-break, Redis keeps them in allocator/select.ts' packed order
//   P..'indexed'                     set of the label keys some selector has asked about (at most
//                                    MAX_INDEXED_KEYS), the only ones with P..'label:' sets: every
//                                    write to a sorted set costs Redis's single thread, and servers
//                                    carry labels no selector uses. Shared, so every process keeps
//                                    the same sets; it only grows, and a key joins it in the script
//                                    that also indexes every allocatable server for it
//   P..'events'                      pub/sub channel: every change, in order, as
//                                    '<seq> <kind> <name>\n' then a JSON array of the record's
//                                    FIELDS: a subscriber reads the header and decodes only the
//                                    changes it follows
//
// Records are split into parts so that the allocation script re-encodes only what it changes
// (labels, annotations, state, Counters, Lists) and never the spec: cjson would turn an empty
// array into {} and round large numbers.

/** Hash fields of a record, in the order the scripts return them. */
export const FIELDS = ['rv', 'meta', 'labels', 'annotations', 'spec', 'state', 'status', 'counters', 'lists'] as const;

const PRELUDE = `
local P = ARGV[1]
local FIELDS = {${FIELDS.map((f) => `'${f}'`).join(', ')}}
local FLEET = ${JSON.stringify(FLEET_LABEL)}

local function gsKey(name) return P .. 'gs:' .. name end
local function allocKey(state) return P .. 'alloc:' .. state end
local function labelKey(state, k, v) return P .. 'label:' .. state .. ':' .. k .. '=' .. v end
local function int(n) return string.format('%d', n) end

-- The indexed label keys (a list), read once per run and only when needed.
local indexedKeys = nil
local function indexed()
  indexedKeys = indexedKeys or redis.call('SMEMBERS', P .. 'indexed')
  return indexedKeys
end

local function unindexAlloc(name, state, labels)
  redis.call('ZREM', allocKey(state), name)
  for _, k in ipairs(indexed()) do
    local v = labels[k]
    if v then redis.call('ZREM', labelKey(state, k, v), name) end
  end
end

local function indexAlloc(name, state, labels, score)
  redis.call('ZADD', allocKey(state), score, name)
  for _, k in ipairs(indexed()) do
    local v = labels[k]
    if v then redis.call('ZADD', labelKey(state, k, v), score, name) end
  end
end

local function moveFleet(name, old, new)
  if old == new then return end
  if old then redis.call('SREM', P .. 'fleet:' .. old, name) end
  if new then redis.call('SADD', P .. 'fleet:' .. new, name) end
end

-- f: the record's FIELDS values; rv (digits) and state (a state's name) are plain strings that
-- need no escaping in JSON, the others JSON.
local function publish(seq, kind, name, f)
  redis.call('PUBLISH', P .. 'events', int(seq) .. ' ' .. kind .. ' ' .. name .. '\\n["' .. f[1] .. '",' .. f[2] .. ',' .. f[3] .. ','
    .. f[4] .. ',' .. f[5] .. ',"' .. f[6] .. '",' .. f[7] .. ',' .. f[8] .. ',' .. f[9] .. ']')
end
`;

/**
 * Create (expected '') or compare-and-set update (expected = current rv).
 * ARGV: P, name, expected, score, allocatable ('1' or '0'), meta, labels, annotations, spec, state, status, counters, lists.
 * Returns {'ok', rv}, {'exists', rv}, {'conflict', rv} or {'missing'}.
 */
const PUT = `${PRELUDE}
local name, expected, score, allocatable = ARGV[2], ARGV[3], ARGV[4], ARGV[5] == '1'
local key = gsKey(name)
local old = redis.call('HMGET', key, 'rv', 'state', 'labels')
if expected == '' then
  if old[1] then return {'exists', old[1]} end
else
  if not old[1] then return {'missing'} end
  if old[1] ~= expected then return {'conflict', old[1]} end
end
local oldScore = old[1] and redis.call('ZSCORE', allocKey(old[2]), name)
-- Most writes (a game server's annotations, its players) send the labels back as stored and leave
-- the state as it was: the labels are not even decoded, the index entries stay, and only a changed
-- score is written (ZADD updates it in place).
local sameLabels = old[3] == ARGV[7]
local labels = not sameLabels and cjson.decode(ARGV[7])
local oldLabels = old[1] and not sameLabels and cjson.decode(old[3])
local sameEntries = oldScore and allocatable and old[2] == ARGV[10]
if sameEntries and not sameLabels then
  for _, k in ipairs(indexed()) do
    if labels[k] ~= oldLabels[k] then sameEntries = false; break end
  end
end
local sameScore = sameEntries and tonumber(oldScore) == tonumber(score)
if sameLabels and not sameScore then
  labels = cjson.decode(ARGV[7])
  oldLabels = labels
end
if oldScore and not sameEntries then unindexAlloc(name, old[2], oldLabels) end
local rv = int(redis.call('INCR', P .. 'rv'))
local f = {rv, ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10], ARGV[11], ARGV[12], ARGV[13]}
redis.call('HSET', key, 'rv', rv, 'meta', f[2], 'labels', f[3], 'annotations', f[4], 'spec', f[5], 'state', f[6], 'status', f[7], 'counters', f[8], 'lists', f[9])
if allocatable and not sameScore then indexAlloc(name, f[6], labels, score) end
if not old[1] then redis.call('SADD', P .. 'all', name) end
if not sameLabels then moveFleet(name, oldLabels and oldLabels[FLEET], labels[FLEET]) end
publish(rv, old[1] and 'modified' or 'added', name, f)
return {'ok', rv}
`;

/** ARGV: P, name. Returns the delete's sequence number, or 0 when there was no such record. */
const DELETE = `${PRELUDE}
local name = ARGV[2]
local key = gsKey(name)
local f = redis.call('HMGET', key, unpack(FIELDS))
if not f[1] then return 0 end
local labels = cjson.decode(f[3])
if redis.call('ZSCORE', allocKey(f[6]), name) then unindexAlloc(name, f[6], labels) end
moveFleet(name, labels[FLEET], nil)
redis.call('SREM', P .. 'all', name)
redis.call('DEL', key)
local seq = redis.call('INCR', P .. 'rv')
publish(seq, 'deleted', name, f)
return seq
`;

/**
 * ARGV: P, fleet ('' for every fleet), '1' when states follow (else every state), states...
 * Returns the matching records' FIELDS, one after another.
 */
const LIST = `${PRELUDE}
local names = redis.call('SMEMBERS', ARGV[2] ~= '' and (P .. 'fleet:' .. ARGV[2]) or (P .. 'all'))
local states = nil
if ARGV[3] == '1' then
  states = {}
  for i = 4, #ARGV do states[ARGV[i]] = true end
end
local out = {}
for _, name in ipairs(names) do
  local f = redis.call('HMGET', gsKey(name), unpack(FIELDS))
  if f[1] and (not states or states[f[6]]) then
    for i = 1, #f do out[#out + 1] = f[i] end
  end
end
return out
`;

/**
 * Selects and allocates one server: allocator/select.ts and allocator/apply-allocation.ts, in Lua.
 * ARGV: P, spec (JSON GameServerAllocationSpec without its empty lists and maps, which cost cjson
 * time to decode), now, random in [0, 1).
 * Returns the allocated record's FIELDS, or nil when no selector matches.
 */
const ALLOCATE = `${PRELUDE}
local spec = cjson.decode(ARGV[2])
local now = ARGV[3]
local random = tonumber(ARGV[4])
local UNTRACKED = ${UNTRACKED_PLAYER_ROOM}
local LAST_ALLOCATED = ${JSON.stringify(LAST_ALLOCATED_ANNOTATION)}
local LIST_MAX_CAPACITY = 1000

-- The empty lists and maps the caller left out, all one table that nothing writes to (a table
-- made is a table Lua's collector has to find again).
local NONE = {}
spec.priorities = spec.priorities or NONE
spec.counters = spec.counters or NONE
spec.lists = spec.lists or NONE
spec.metadata = spec.metadata or {}
spec.metadata.labels = spec.metadata.labels or NONE
spec.metadata.annotations = spec.metadata.annotations or NONE
for _, a in pairs(spec.lists) do
  a.addValues = a.addValues or NONE
  a.deleteValues = a.deleteValues or NONE
end
for _, sel in ipairs(spec.selectors) do
  sel.matchLabels = sel.matchLabels or NONE
  sel.matchExpressions = sel.matchExpressions or NONE
  sel.counters = sel.counters or NONE
  sel.lists = sel.lists or NONE
  for _, e in ipairs(sel.matchExpressions) do e.values = e.values or NONE end
end

-- A candidate's decoded labels, counters and lists, read once per script run.
local cache = {}
local function part(name, field)
  local c = cache[name]
  if not c then c = {}; cache[name] = c end
  local v = c[field]
  if v == nil then
    v = cjson.decode(redis.call('HGET', gsKey(name), field))
    c[field] = v
  end
  return v
end

local function outside(value, min, max) return value < min or (max ~= 0 and value > max) end

local function compile(sel)
  for _, e in ipairs(sel.matchExpressions) do
    e.set = {}
    for _, v in ipairs(e.values) do e.set[v] = true end
  end
  sel.hasLabels = next(sel.matchLabels) ~= nil or #sel.matchExpressions > 0
  -- Agones: maxAvailable 0 filters nothing, and servers without player tracking pass.
  sel.playerFilter = sel.players ~= nil and sel.players.maxAvailable ~= 0
end

-- State and deletion are the index's business; score is the room for players.
local function matches(sel, name, score)
  if sel.playerFilter and score ~= UNTRACKED and (score < sel.players.minAvailable or score > sel.players.maxAvailable) then return false end
  if sel.hasLabels then
    local labels = part(name, 'labels')
    for k, v in pairs(sel.matchLabels) do
      if labels[k] ~= v then return false end
    end
    for _, e in ipairs(sel.matchExpressions) do
      local v = labels[e.key]
      local op = e.operator
      if op == 'In' then
        if v == nil or not e.set[v] then return false end
      elseif op == 'NotIn' then
        if v ~= nil and e.set[v] then return false end
      elseif op == 'Exists' then
        if v == nil then return false end
      elseif v ~= nil then
        return false
      end
    end
  end
  if next(sel.counters) ~= nil then
    local counters = part(name, 'counters')
    for k, c in pairs(sel.counters) do
      local s = counters[k]
      if s == nil or outside(s.capacity - s.count, c.minAvailable, c.maxAvailable) or outside(s.count, c.minCount, c.maxCount) then return false end
    end
  end
  if next(sel.lists) ~= nil then
    local lists = part(name, 'lists')
    for k, l in pairs(sel.lists) do
      local s = lists[k]
      if s == nil or outside(s.capacity - #s.values, l.minAvailable, l.maxAvailable) then return false end
      if l.containsValue ~= '' then
        local found = false
        for _, v in ipairs(s.values) do
          if v == l.containsValue then found = true; break end
        end
        if not found then return false end
      end
    end
  end
  return true
end

local function available(name, p)
  if p.type == 'Counter' then
    local c = part(name, 'counters')[p.key]
    return c and (c.capacity - c.count)
  end
  local l = part(name, 'lists')[p.key]
  return l and (l.capacity - #l.values)
end

-- Byte order, as Redis orders members and JavaScript orders ASCII names (Lua's < follows the locale).
local function nameBefore(a, b)
  for i = 1, math.min(#a, #b) do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return #a < #b
end

-- Agones' CompareCountAndListPriorities, then the name.
local function before(a, b)
  for _, p in ipairs(spec.priorities) do
    local x, y = available(a, p), available(b, p)
    if x == nil or y == nil then
      if x ~= nil then return true elseif y ~= nil then return false end
    elseif x ~= y then
      if p.order == 'Ascending' then return x < y else return x > y end
    end
  end
  return nameBefore(a, b)
end

-- Starts indexing label key k, with every allocatable server that has it; false when the bound
-- is reached (selectors on k then look through a larger index).
local function indexLabel(k)
  for _, x in ipairs(indexed()) do
    if x == k then return true end
  end
  if #indexedKeys >= ${MAX_INDEXED_KEYS} then return false end
  for _, state in ipairs({'Ready', 'Allocated'}) do
    local from, size = 0, redis.call('ZCARD', allocKey(state))
    while from < size do
      local members = redis.call('ZRANGE', allocKey(state), from, from + 999, 'WITHSCORES')
      for j = 1, #members, 2 do
        local v = cjson.decode(redis.call('HGET', gsKey(members[j]), 'labels'))[k]
        if v then redis.call('ZADD', labelKey(state, k, v), members[j + 1], members[j]) end
      end
      from = from + 1000
    end
  end
  redis.call('SADD', P .. 'indexed', k)
  indexedKeys[#indexedKeys + 1] = k
  return true
end

-- The selector's smallest index: one of its matchLabels' (each holds a part of its state's), else
-- its state's. Sizes are asked only to choose between label keys.
local function candidates(sel)
  local best, size = nil, nil
  for k, v in pairs(sel.matchLabels) do
    if indexLabel(k) then
      local key = labelKey(sel.gameServerState, k, v)
      if not best then
        best = key
      else
        size = size or redis.call('ZCARD', best)
        local n = redis.call('ZCARD', key)
        if n < size then best, size = key, n end
      end
    end
  end
  return best or allocKey(sel.gameServerState)
end

-- Calls visit(name, score) in packed order until it returns true or the index ends, in pages from
-- \`page\` up to 512 long. Packed without priorities usually stops at the first: a page of 1 there,
-- since Redis takes about 0.2 us for every member and score it sends back (4.5 us for 16).
local function each(key, page, visit)
  local from = 0
  while true do
    local members = redis.call('ZRANGE', key, from, from + page - 1, 'WITHSCORES')
    for j = 1, #members, 2 do
      if visit(members[j], tonumber(members[j + 1])) then return end
    end
    if #members < 2 * page then return end
    from = from + page
    page = math.min(page * 2, 512)
  end
end

local name, score = nil, nil
for _, sel in ipairs(spec.selectors) do
  compile(sel)
  local key = candidates(sel)
  if spec.scheduling == 'Packed' then
    each(key, #spec.priorities == 0 and 1 or 16, function(n, s)
      if name and s > score then return true end
      if matches(sel, n, s) and (not name or before(n, name)) then name, score = n, s end
      return name ~= nil and #spec.priorities == 0
    end)
  elseif #spec.priorities > 0 then
    each(key, 16, function(n, s)
      if matches(sel, n, s) and (not name or before(n, name)) then name, score = n, s end
    end)
  else
    local all, scores = {}, {}
    each(key, 16, function(n, s)
      if matches(sel, n, s) then all[#all + 1] = n; scores[#all] = s end
    end)
    if #all > 0 then
      local i = math.min(#all, math.floor(random * #all) + 1)
      name, score = all[i], scores[i]
    end
  end
  if name then break end
end
if not name then return false end

local key = gsKey(name)
-- f: the record, changed in place below and returned as it is stored.
local f = redis.call('HMGET', key, unpack(FIELDS))
local seen = cache[name] or {}
local labels = seen.labels or cjson.decode(f[3])
local oldFleet = labels[FLEET]
local labelsChanged = false
for k, v in pairs(spec.metadata.labels) do
  if labels[k] ~= v then labelsChanged = true; break end
end
-- A backfill that leaves the labels as they were keeps its index entries (and its score).
local sameEntries = f[6] == 'Allocated' and not labelsChanged
if not sameEntries then unindexAlloc(name, f[6], labels) end
for k, v in pairs(spec.metadata.labels) do labels[k] = v end
local annotations = cjson.decode(f[4])
for k, v in pairs(spec.metadata.annotations) do annotations[k] = v end
annotations[LAST_ALLOCATED] = now

-- Counter actions: capacity first (the count cut to it), then Increment/Decrement within 0..capacity.
local counters = seen.counters or cjson.decode(f[8])
for k, a in pairs(spec.counters) do
  local c = counters[k]
  if c ~= nil then
    if a.capacity ~= nil and a.capacity >= 0 then
      c.capacity = a.capacity
      if c.count > c.capacity then c.count = c.capacity end
    end
    if a.action ~= nil and a.amount ~= nil and a.amount >= 0 then
      local n = c.count - a.amount
      if a.action == 'Increment' then n = c.count + a.amount end
      if n > c.capacity then n = c.capacity end
      if n < 0 then n = 0 end
      c.count = n
    end
  end
end

local function truncate(values, capacity)
  if #values <= capacity then return values end
  local out = {}
  for i = 1, capacity do out[i] = values[i] end
  return out
end

-- List actions: capacity (0..1000), then add (duplicates ignored, cut to capacity), then delete.
local lists = seen.lists or cjson.decode(f[9])
for k, a in pairs(spec.lists) do
  local l = lists[k]
  if l ~= nil then
    local values = l.values
    if a.capacity ~= nil and a.capacity >= 0 and a.capacity <= LIST_MAX_CAPACITY then
      l.capacity = a.capacity
      values = truncate(values, l.capacity)
    end
    if #a.addValues > 0 then
      local seen, merged = {}, {}
      for _, v in ipairs(values) do
        if not seen[v] then seen[v] = true; merged[#merged + 1] = v end
      end
      for _, v in ipairs(a.addValues) do
        if not seen[v] then seen[v] = true; merged[#merged + 1] = v end
      end
      values = truncate(merged, l.capacity)
    end
    if #a.deleteValues > 0 then
      local doomed, kept = {}, {}
      for _, v in ipairs(a.deleteValues) do doomed[v] = true end
      for _, v in ipairs(values) do
        if not doomed[v] then kept[#kept + 1] = v end
      end
      values = kept
    end
    l.values = values
  end
end

-- Encoded by hand: cjson writes an empty array as {} and numbers with 14 digits.
local parts = {}
for k, c in pairs(counters) do parts[#parts + 1] = cjson.encode(k) .. ':{"count":' .. int(c.count) .. ',"capacity":' .. int(c.capacity) .. '}' end
local countersJson = '{' .. table.concat(parts, ',') .. '}'
parts = {}
for k, l in pairs(lists) do
  local values = #l.values > 0 and cjson.encode(l.values) or '[]'
  parts[#parts + 1] = cjson.encode(k) .. ':{"capacity":' .. int(l.capacity) .. ',"values":' .. values .. '}'
end
local listsJson = '{' .. table.concat(parts, ',') .. '}'

-- Labels as JSON.stringify writes them (cjson escapes '/', which every '/' in its output is), so
-- that the game server's next write, which sends them back unchanged, compares equal in PUT.
if labelsChanged then f[3] = (string.gsub(cjson.encode(labels), '\\\\/', '/')) end
f[1], f[4], f[6], f[8], f[9] = int(redis.call('INCR', P .. 'rv')), cjson.encode(annotations), 'Allocated', countersJson, listsJson
redis.call('HSET', key, 'rv', f[1], 'labels', f[3], 'annotations', f[4], 'state', f[6], 'counters', f[8], 'lists', f[9])
if not sameEntries then indexAlloc(name, 'Allocated', labels, score) end
moveFleet(name, oldFleet, labels[FLEET])
publish(f[1], 'modified', name, f)
return f
`;

export const REDIS_LUA = {
  put: PUT,
  delete: DELETE,
  list: LIST,
  allocate: ALLOCATE,
} as const;
