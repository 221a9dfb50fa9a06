// The Lua scripts behind RedisTicketQueue: each runs atomically inside Redis, so no other client
// sees a ticket half added, half claimed or half requeued. Layout under the queue's prefix P
// (ARGV[1] of every script):
//
//   P..'ticket:'..id     hash: json (the ticket as added), queue, state ('waiting' | 'claimed'),
//                        created (createdAt, the queue score), players (JSON list of player ids),
//                        match (while claimed), requeued (requeuedAt, once requeued)
//   P..'queue:'..name    sorted set of the queue's waiting ticket ids, scored by createdAt: Redis
//                        orders equal scores by id, the order TicketQueue promises
//   P..'player:'..id     the ticket id a player waits (or is being matched) on
//   P..'claims'          sorted set of claimed ticket ids, scored by when the claim's lease runs out
//   P..'seen:'..name     sorted set of the queue's ticket ids, waiting or claimed, scored by when
//                        one of its players was last seen (added, touched)
//
// The ticket's JSON is stored and returned as the caller wrote it, never re-encoded by cjson
// (which rounds numbers to 14 digits); requeuedAt lives in its own field for that reason.

const PRELUDE = `
local P = ARGV[1]
local function ticketKey(id) return P .. 'ticket:' .. id end
local function queueKey(name) return P .. 'queue:' .. name end
local function playerKey(id) return P .. 'player:' .. id end
local function seenKey(name) return P .. 'seen:' .. name end
local claimsKey = P .. 'claims'

-- Frees the players of ticket id of queue (those still pointing at it) and deletes the ticket.
local function forget(id, players, queue)
  for _, player in ipairs(cjson.decode(players)) do
    if redis.call('GET', playerKey(player)) == id then redis.call('DEL', playerKey(player)) end
  end
  redis.call('DEL', ticketKey(id))
  redis.call('ZREM', claimsKey, id)
  redis.call('ZREM', seenKey(queue), id)
end

-- A claimed ticket waits again in its queue, at its createdAt, stamped requeued at now.
local function rewait(id, queue, created, now)
  redis.call('HSET', ticketKey(id), 'state', 'waiting', 'requeued', now)
  redis.call('HDEL', ticketKey(id), 'match')
  redis.call('ZADD', queueKey(queue), created, id)
  redis.call('ZREM', claimsKey, id)
end

-- Tickets as two JSON texts built by concatenation (one reply to parse, not two per ticket): the
-- list of ticket JSONs, and the list of their requeuedAt (null when never requeued). With drop,
-- each ticket is forgotten as it is read.
-- The fields asked for (after state and match) of every ticket of ARGV[from..], in order, when
-- each is claimed for matchId; else nil. Read once, so an all-or-none change reads each ticket once.
local function claimedFor(matchId, from, ...)
  local all = {}
  for i = from, #ARGV do
    local f = redis.call('HMGET', ticketKey(ARGV[i]), 'state', 'match', ...)
    if f[1] ~= 'claimed' or f[2] ~= matchId then return nil end
    all[#all + 1] = f
  end
  return all
end

local function listOf(ids, drop)
  local json, requeued = {}, {}
  for i, id in ipairs(ids) do
    local f = redis.call('HMGET', ticketKey(id), 'json', 'requeued', 'players', 'queue')
    json[i] = f[1]
    requeued[i] = f[2] or 'null'
    if drop then forget(id, f[3], f[4]) end
  end
  return {'[' .. table.concat(json, ',') .. ']', '[' .. table.concat(requeued, ',') .. ']'}
end
`;

/**
 * ARGV: P, id, queue, createdAt, json, players (JSON list), now, player ids...
 * Returns {'ok'}, {'exists'} or {'player', playerId, holding ticket id}; nothing changes unless 'ok'.
 */
const ADD = `${PRELUDE}
local id, queue, created, json, players = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
if redis.call('EXISTS', ticketKey(id)) == 1 then return {'exists'} end
for i = 8, #ARGV do
  local holder = redis.call('GET', playerKey(ARGV[i]))
  if holder then return {'player', ARGV[i], holder} end
end
redis.call('HSET', ticketKey(id), 'json', json, 'queue', queue, 'state', 'waiting', 'created', created, 'players', players)
for i = 8, #ARGV do redis.call('SET', playerKey(ARGV[i]), id) end
redis.call('ZADD', queueKey(queue), created, id)
redis.call('ZADD', seenKey(queue), ARGV[7], id)
return {'ok'}
`;

/** ARGV: P, id. Returns 1 when a waiting ticket was cancelled, else 0. */
const CANCEL = `${PRELUDE}
local id = ARGV[2]
local f = redis.call('HMGET', ticketKey(id), 'state', 'queue', 'players')
if f[1] ~= 'waiting' then return 0 end
redis.call('ZREM', queueKey(f[2]), id)
forget(id, f[3], f[2])
return 1
`;

/** ARGV: P, queue, limit (> 0). Returns the waiting tickets, oldest first (see listOf). */
const WAITING = `${PRELUDE}
return listOf(redis.call('ZRANGE', queueKey(ARGV[2]), 0, tonumber(ARGV[3]) - 1), false)
`;

/** ARGV: P, matchId, leaseUntil, ids... Returns 1 when every ticket was waiting and is now claimed, else 0 and nothing changed. */
const CLAIM = `${PRELUDE}
for i = 4, #ARGV do
  if redis.call('HGET', ticketKey(ARGV[i]), 'state') ~= 'waiting' then return 0 end
end
for i = 4, #ARGV do
  local key = ticketKey(ARGV[i])
  redis.call('ZREM', queueKey(redis.call('HGET', key, 'queue')), ARGV[i])
  redis.call('HSET', key, 'state', 'claimed', 'match', ARGV[2])
  redis.call('ZADD', claimsKey, ARGV[3], ARGV[i])
end
return 1
`;

/** ARGV: P, matchId, leaseUntil, ids... Returns 1 when every ticket is claimed for matchId and its lease now runs to leaseUntil, else 0 and nothing changed. */
const RENEW = `${PRELUDE}
if not claimedFor(ARGV[2], 4) then return 0 end
for i = 4, #ARGV do redis.call('ZADD', claimsKey, 'XX', ARGV[3], ARGV[i]) end
return 1
`;

/** ARGV: P, now, matchId, ids... When every ticket is claimed for matchId, they wait again, scored by their createdAt as before, and 1; else 0 and nothing changed. */
const REQUEUE = `${PRELUDE}
local held = claimedFor(ARGV[3], 4, 'queue', 'created')
if not held then return 0 end
for i, f in ipairs(held) do rewait(ARGV[i + 3], f[3], f[4], ARGV[2]) end
return 1
`;

/** ARGV: P, matchId, ids... When every ticket is claimed for matchId, deletes them and frees their players, and 1; else 0 and nothing changed. */
const COMPLETE = `${PRELUDE}
local held = claimedFor(ARGV[2], 3, 'players', 'queue')
if not held then return 0 end
for i, f in ipairs(held) do forget(ARGV[i + 2], f[3], f[4]) end
return 1
`;

/**
 * ARGV: P, now. Claims whose lease ran out before now wait again; returns those tickets (see
 * listOf) and, third, the JSON list of the match ids they were claimed for.
 */
const RELEASE_STALE = `${PRELUDE}
local ids = redis.call('ZRANGEBYSCORE', claimsKey, '-inf', '(' .. ARGV[2])
local matches = {}
for i, id in ipairs(ids) do
  local f = redis.call('HMGET', ticketKey(id), 'queue', 'created', 'match')
  matches[i] = cjson.encode(f[3])
  rewait(id, f[1], f[2], ARGV[2])
end
local list = listOf(ids, false)
return {list[1], list[2], '[' .. table.concat(matches, ',') .. ']'}
`;

/** ARGV: P, now, player ids... The tickets those players hold are seen at now. */
const TOUCH = `${PRELUDE}
for i = 3, #ARGV do
  local id = redis.call('GET', playerKey(ARGV[i]))
  if id then
    local queue = redis.call('HGET', ticketKey(id), 'queue')
    if queue then redis.call('ZADD', seenKey(queue), 'GT', ARGV[2], id) end
  end
end
return 0
`;

/**
 * ARGV: P, queue, createdBefore, seenBefore. Deletes the queue's waiting tickets with createdAt <
 * createdBefore, then those (of the rest) last seen before seenBefore; returns both lists (see
 * listOf), the expired first.
 */
const EXPIRE = `${PRELUDE}
local queue = queueKey(ARGV[2])
local bound = '(' .. ARGV[3]
local expired = listOf(redis.call('ZRANGEBYSCORE', queue, '-inf', bound), true)
redis.call('ZREMRANGEBYSCORE', queue, '-inf', bound)
-- Claimed tickets stay: their accept step (or stale-claim release) settles them.
local absent = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', seenKey(ARGV[2]), '-inf', '(' .. ARGV[4])) do
  if redis.call('HGET', ticketKey(id), 'state') == 'waiting' then absent[#absent + 1] = id end
end
for _, id in ipairs(absent) do redis.call('ZREM', queue, id) end
local gone = listOf(absent, true)
return {expired[1], expired[2], gone[1], gone[2]}
`;

export const TICKET_QUEUE_LUA = {
  add: ADD,
  cancel: CANCEL,
  waiting: WAITING,
  claim: CLAIM,
  renew: RENEW,
  requeue: REQUEUE,
  complete: COMPLETE,
  touch: TOUCH,
  expire: EXPIRE,
  releaseStale: RELEASE_STALE,
} as const;
