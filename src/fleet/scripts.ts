import { createHash } from 'node:crypto'

/**
 * The fleet's Lua scripts. Each runs atomically in Redis, reads Redis `TIME` (never a host's
 * clock), and publishes what it changed in the same step, so a state in the fleet hash and its
 * message cannot disagree. Every key of a namespace has the hash tag `{namespace}`, so the keys a
 * script touches share one Cluster slot.
 */

/** Redis time in ms, then the message helpers every script shares. */
const PRELUDE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function num(x, d) if x then return tonumber(x) else return d end end
local function state_msg(ns, name, gen, s, u, r, by)
  return cjson.encode({v = 1, ns = ns, t = 'state', b = name, g = gen, s = s, u = u, n = now, r = r, i = by})
end
`

/**
 * A vote to open. KEYS: hash, votes, instances, lease. ARGV: instance, voteWindowMs, count,
 * fraction, liveMs, openMs (-1: until closed), reason, namespace, name, channel, floor (the
 * highest generation the voter applied: a hash Redis lost while connected, by `FLUSHALL` or a
 * `DEL`, restarts above it, so the open is not stale everywhere; an open older than it is not one).
 * Returns `{ opened (1) | voted (2) | already open (0), generation, votes, needed }`.
 */
export const VOTE = `${PRELUDE}
local gen = num(redis.call('HGET', KEYS[1], 'gen'), 0)
local floor = tonumber(ARGV[11])
if redis.call('HGET', KEYS[1], 'state') == 'open' and gen >= floor then return {0, gen, 0, 0} end
gen = math.max(gen, floor)
local window = tonumber(ARGV[2])
redis.call('ZADD', KEYS[2], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
redis.call('PEXPIRE', KEYS[2], window)
local votes = redis.call('ZCARD', KEYS[2])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - tonumber(ARGV[5]))
local live = redis.call('ZCARD', KEYS[3])
local needed = tonumber(ARGV[3])
local fraction = tonumber(ARGV[4])
if fraction > 0 then needed = math.max(needed, math.ceil(fraction * live)) end
if votes < needed then
  redis.call('PUBLISH', ARGV[10], cjson.encode({v = 1, ns = ARGV[8], t = 'vote', b = ARGV[9], g = gen, c = votes, q = needed, n = now, i = ARGV[1]}))
  return {2, gen, votes, needed}
end
gen = gen + 1
local u = -1
if tonumber(ARGV[6]) >= 0 then u = now + tonumber(ARGV[6]) end
redis.call('HSET', KEYS[1], 'gen', gen, 'state', 'open', 'until', u, 'reason', ARGV[7], 'by', ARGV[1])
redis.call('DEL', KEYS[2], KEYS[4])
redis.call('PUBLISH', ARGV[10], state_msg(ARGV[8], ARGV[9], gen, 'open', u, ARGV[7], ARGV[1]))
return {1, gen, votes, needed}
`

/**
 * Sets the fleet's state: a probe's result (`expect` = the generation it probed) or an
 * operator's order (`expect` = -1: whatever the generation). KEYS: hash, lease, votes. ARGV:
 * expect, state, openMs (-1: until closed), reason, instance, token ('' for none), namespace,
 * name, channel, floor (the highest generation the sender applied, as in `VOTE`). A new state ends the probe round (the lease goes); a result for another
 * generation changes nothing but still lets go of its own lease (compare-and-delete).
 * Returns `{ applied (1) | stale (0), generation }`.
 */
export const SET_STATE = `${PRELUDE}
local gen = num(redis.call('HGET', KEYS[1], 'gen'), 0)
local expect = tonumber(ARGV[1])
if ARGV[6] ~= '' and redis.call('GET', KEYS[2]) == ARGV[6] then redis.call('DEL', KEYS[2]) end
if expect >= 0 and gen ~= expect then return {0, gen} end
gen = math.max(gen, tonumber(ARGV[10])) + 1
local u = -1
if ARGV[2] == 'open' and tonumber(ARGV[3]) >= 0 then u = now + tonumber(ARGV[3]) end
if ARGV[2] == 'closed' then u = 0 end
redis.call('HSET', KEYS[1], 'gen', gen, 'state', ARGV[2], 'until', u, 'reason', ARGV[4], 'by', ARGV[5])
redis.call('DEL', KEYS[2], KEYS[3])
redis.call('PUBLISH', ARGV[9], state_msg(ARGV[7], ARGV[8], gen, ARGV[2], u, ARGV[4], ARGV[5]))
return {1, gen}
`

/**
 * Asks for the probe lease of the open round `generation`. KEYS: hash, lease. ARGV: generation,
 * token, leaseMs. Returns `{ 1, 0 }` (won), `{ 0, ms }` (held by another for ms more),
 * `{ -1, gen }` (the round is over: the fleet moved on), `{ -2, ms }` (not due for ms more, by
 * Redis time; -1 ms: open until closed).
 */
export const LEASE = `${PRELUDE}
local gen = num(redis.call('HGET', KEYS[1], 'gen'), 0)
if gen ~= tonumber(ARGV[1]) or redis.call('HGET', KEYS[1], 'state') ~= 'open' then return {-1, gen} end
local u = num(redis.call('HGET', KEYS[1], 'until'), 0)
if u < 0 then return {-2, -1} end
if u > now then return {-2, u - now} end
if redis.call('SET', KEYS[2], ARGV[2], 'NX', 'PX', ARGV[3]) then return {1, 0} end
return {0, redis.call('PTTL', KEYS[2])}
`

/** Lets go of a lease if it is still this token's (compare-and-delete). KEYS: lease. ARGV: token. */
export const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`

/**
 * Reads the fleet's state of a breaker. If Redis knows an older generation than this instance
 * (Redis lost its data: restarted without persistence), the instance's view is written back and
 * published, so the highest generation any instance saw wins. KEYS: hash. ARGV: generation,
 * state ('' for none), until, reason, instance, namespace, name, channel. Returns
 * `{ now, state, generation, until, reason, by }`.
 */
export const SYNC = `${PRELUDE}
local gen = num(redis.call('HGET', KEYS[1], 'gen'), 0)
local mine = tonumber(ARGV[1])
if mine > gen and ARGV[2] ~= '' then
  redis.call('HSET', KEYS[1], 'state', ARGV[2], 'gen', mine, 'until', ARGV[3], 'reason', ARGV[4], 'by', ARGV[5])
  redis.call('PUBLISH', ARGV[8], state_msg(ARGV[6], ARGV[7], mine, ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5]))
end
local h = redis.call('HMGET', KEYS[1], 'state', 'gen', 'until', 'reason', 'by')
return {now, h[1] or '', h[2] or '0', h[3] or '0', h[4] or '', h[5] or ''}
`

/**
 * This instance is alive: its heartbeat, and the count of live instances. KEYS: instances.
 * ARGV: instance, liveMs. Returns `{ now, live }`.
 */
export const HEARTBEAT = `${PRELUDE}
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 2)
return {now, redis.call('ZCARD', KEYS[1])}
`

/** A script with its SHA-1, for `EVALSHA` (falling back to `EVAL` once when Redis lacks it). */
export interface Script {
  lua: string
  sha: string
}

export function script(lua: string): Script {
  return { lua, sha: createHash('sha1').update(lua).digest('hex') }
}

/** The keys of a namespace: one hash tag, so one Cluster slot. */
export function keysOf(namespace: string) {
  const base = `bw:{${namespace}}`
  return {
    channel: `${base}:events`,
    instances: `${base}:instances`,
    hash: (name: string) => `${base}:breaker:${name}`,
    votes: (name: string) => `${base}:votes:${name}`,
    lease: (name: string) => `${base}:lease:${name}`,
  }
}
