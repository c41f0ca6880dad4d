import type { Cluster, Redis } from 'ioredis'
import { type Duration, toTimeoutMillis } from '../duration.js'
import { describe, ownOptions, rangeError, typeError } from '../validate.js'

/** How many votes open the fleet: a count, a fraction of the live instances, or both (the larger wins). */
export interface QuorumOptions {
  /** At least this many instances voted within `voteWindow`. @default 1 */
  count?: number
  /** At least this fraction (above 0, at most 1) of the live instances voted, rounded up. @default none */
  fraction?: number
}

/** Options of `fleet`. */
export interface FleetOptions {
  /**
   * The Redis server: an ioredis client (the fleet sends its commands on it, opens a second
   * connection with `duplicate()` for pub/sub, and never closes yours) or a `redis://` /
   * `rediss://` URL (the fleet makes both clients and closes them on `close()`). A `Cluster` works
   * the same way (every key of a namespace is in one hash slot).
   */
  redis: Redis | Cluster | string
  /**
   * Separates deployments sharing one Redis: every key and the channel live under it
   * (`bw:{namespace}:...`, one Cluster hash slot). Letters, digits and `._:-`, 1 to 64 characters.
   */
  namespace: string
  /** This instance's name in votes, heartbeats and messages (1 to 128 printable characters). @default host name, pid and a random suffix */
  instanceId?: string
  /**
   * How many instances must see the outage before the fleet opens. Without it one instance's
   * open opens the fleet (the simple mode). A number is a count. @default { count: 1 }
   */
  quorum?: number | QuorumOptions
  /** How long a vote counts. @default '10s' */
  voteWindow?: Duration
  /** How often this instance says it is alive; an instance is live for 3 intervals after. @default '1s' */
  heartbeat?: Duration
  /** How long one instance holds the fleet's probe before another may try. @default '5s' */
  probeLease?: Duration
  /** How long a Redis command may take before it counts as failed (the Redis breaker's timeout). @default '1s' */
  commandTimeout?: Duration
}

/** The options, checked, with their defaults. */
export interface FleetConfig {
  redis: Redis | Cluster | string
  namespace: string
  instanceId: string
  quorumCount: number
  /** 0: no fraction rule. */
  quorumFraction: number
  voteWindowMs: number
  heartbeatMs: number
  probeLeaseMs: number
  commandTimeoutMs: number
}

const KEYS = ['redis', 'namespace', 'instanceId', 'quorum', 'voteWindow', 'heartbeat', 'probeLease', 'commandTimeout'] as const
const NAMESPACE = /^[A-Za-z0-9._:-]{1,64}$/
const INSTANCE = /^[\x21-\x7e]{1,128}$/
/** Shorter intervals are busy loops against Redis, not heartbeats. */
const MIN_HEARTBEAT_MS = 50
const MAX_QUORUM = 10_000

/**
 * Reads `fleet`'s options: own properties only, unknown keys refused, every value checked (a
 * `TypeError` or `RangeError` naming the field, the rule and the value) before anything is made.
 */
export function readFleetOptions(options: unknown, defaultInstance: () => string): FleetConfig {
  if (options === undefined) throw typeError('fleet options must be an object with at least redis and namespace, but was undefined')
  const o = ownOptions<FleetOptions>('fleet', options, KEYS)
  const { count, fraction } = readQuorum(o.quorum)
  const heartbeatMs = toTimeoutMillis('heartbeat', o.heartbeat ?? 1_000)
  if (heartbeatMs < MIN_HEARTBEAT_MS) throw rangeError(`heartbeat must be at least ${MIN_HEARTBEAT_MS} ms, but was ${heartbeatMs}`)
  return {
    redis: readRedis(o.redis),
    namespace: readPattern('namespace', o.namespace, NAMESPACE, "letters, digits and . _ : -, 1 to 64 characters, such as 'prod-eu'"),
    instanceId:
      o.instanceId === undefined ? defaultInstance() : readPattern('instanceId', o.instanceId, INSTANCE, 'printable ASCII without spaces, 1 to 128 characters'),
    quorumCount: count,
    quorumFraction: fraction,
    voteWindowMs: toTimeoutMillis('voteWindow', o.voteWindow ?? 10_000),
    heartbeatMs,
    probeLeaseMs: toTimeoutMillis('probeLease', o.probeLease ?? 5_000),
    commandTimeoutMs: toTimeoutMillis('commandTimeout', o.commandTimeout ?? 1_000),
  }
}

function readRedis(redis: unknown): Redis | Cluster | string {
  if (redis === undefined) throw typeError('redis is required: an ioredis client or a redis:// URL')
  if (typeof redis === 'string') {
    let url: URL
    try {
      url = new URL(redis)
    } catch {
      throw rangeError(`redis must be a redis:// or rediss:// URL, but was ${describe(redis)}`)
    }
    if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw rangeError(`redis must be a redis:// or rediss:// URL, but was ${describe(redis)}`)
    return redis
  }
  const r = redis as Partial<Record<'duplicate' | 'evalsha' | 'on' | 'status', unknown>> | null
  const shaped = typeof r === 'object' && r !== null && typeof r.duplicate === 'function' && typeof r.evalsha === 'function' && typeof r.on === 'function'
  if (!shaped) throw typeError(`redis must be an ioredis client (with duplicate, evalsha and on) or a redis:// URL, but was ${describe(redis)}`)
  return redis as Redis | Cluster
}

function readPattern(field: string, value: unknown, pattern: RegExp, rule: string): string {
  if (value === undefined) throw typeError(`${field} is required: ${rule}`)
  if (typeof value !== 'string') throw typeError(`${field} must be a string (${rule}), but was ${describe(value)}`)
  if (!pattern.test(value)) throw rangeError(`${field} must be ${rule}, but was ${describe(value)}`)
  return value
}

function readQuorum(quorum: unknown): { count: number; fraction: number } {
  if (quorum === undefined) return { count: 1, fraction: 0 }
  if (typeof quorum === 'number') return { count: readCount('quorum', quorum), fraction: 0 }
  if (typeof quorum !== 'object' || quorum === null) {
    throw typeError(`quorum must be a whole number or { count?, fraction? }, but was ${describe(quorum)}`)
  }
  const q = ownOptions<QuorumOptions>('quorum', quorum, ['count', 'fraction'])
  if (q.count === undefined && q.fraction === undefined) throw typeError('quorum needs count, fraction or both')
  const count = q.count === undefined ? 1 : readCount('quorum.count', q.count)
  let fraction = 0
  if (q.fraction !== undefined) {
    if (typeof q.fraction !== 'number') throw typeError(`quorum.fraction must be a number, but was ${describe(q.fraction)}`)
    if (!(q.fraction > 0 && q.fraction <= 1)) throw rangeError(`quorum.fraction must be above 0 and at most 1, but was ${q.fraction}`)
    fraction = q.fraction
  }
  return { count, fraction }
}

function readCount(field: string, value: unknown): number {
  if (typeof value !== 'number') throw typeError(`${field} must be a whole number, but was ${describe(value)}`)
  if (!Number.isInteger(value) || value < 1 || value > MAX_QUORUM) throw rangeError(`${field} must be a whole number from 1 to ${MAX_QUORUM}, but was ${value}`)
  return value
}
