// The fleet handle: joins breakers, votes on local opens, applies the fleet's state, runs the probe
// rounds, and goes local-only while Redis is away. Its public shape is in types.ts.
import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import { type CircuitBreaker, internalsOf } from '../breaker.js'
import { type Duration, toMillis } from '../duration.js'
import { type Disposer, Listeners } from '../events.js'
import type { Registry } from '../registry.js'
import type { StateChange } from '../state.js'
import { checkName, describe, rangeError, typeError } from '../validate.js'
import { RedisLink } from './link.js'
import { type Member, newMember, remainingMs } from './member.js'
import { type Drop, type Message, readMessage, type StateMessage } from './messages.js'
import { type FleetConfig, type FleetOptions, readFleetOptions } from './options.js'
import { HEARTBEAT, keysOf, LEASE, RELEASE, script, SET_STATE, SYNC, VOTE } from './scripts.js'
import type { Fleet, FleetBreakerStatus, FleetStatus, RemoteEvent, VoteEvent } from './types.js'

const scripts = {
  vote: script(VOTE),
  setState: script(SET_STATE),
  lease: script(LEASE),
  release: script(RELEASE),
  sync: script(SYNC),
  heartbeat: script(HEARTBEAT),
}

/** Outgoing work waiting at most; past it, new work is dropped and counted as an error. */
const MAX_QUEUED = 1000
/** The longest open a breaker takes (the core's limit): a fleet open going local is cut to it. */
const MAX_OPEN_MS = 30 * 24 * 3600 * 1000

/**
 * The time left of a fleet open as a local forced open: none for an open until closed, and at most
 * the core's 30 days (a longer one, forged or tampered into Redis, made remoteOpen throw from inside
 * a Redis event: an uncaught exception).
 */
function localDeadline(remaining: number): number | undefined {
  return Number.isFinite(remaining) ? Math.min(remaining, MAX_OPEN_MS) : undefined
}

/** The reasons a local open votes with. */
const RULE_OPEN = new Set([
  'consecutive_failures',
  'failure_rate',
  'slow_call_rate',
  'failures_in_window',
  'latency_percentile',
  'probe_failed',
  'probe_timed_out',
])

/**
 * Shares the breakers you `join` with every instance using the same Redis and `namespace`. The
 * hot path never touches Redis: a closed call reads only local state. A local open sends a vote;
 * once enough instances voted (`quorum`), every instance applies the open (state `forced_open`,
 * reason `remote`) until a deadline taken from Redis `TIME`; then exactly one instance (the holder
 * of a lease) probes and publishes the result. If Redis is down or slow, each instance goes on
 * with its local breakers and re-syncs when Redis returns.
 *
 * @throws TypeError or RangeError (code `ERR_BREAKWATER_INVALID_OPTION`) for a bad option or a
 * registry that is not one, naming it; nothing is connected then.
 * @example
 * import { registry } from 'breakwater'
 * import { fleet } from 'breakwater/fleet'
 * const shared = fleet(registry, { redis: 'redis://127.0.0.1:6379', namespace: 'prod', quorum: 2 })
 * await shared.join('exchange')
 */
export function fleet(registry: Registry, options: FleetOptions): Fleet {
  checkRegistry(registry)
  const config = readFleetOptions(options, defaultInstanceId)
  return new FleetInstance(registry, config)
}

function defaultInstanceId(): string {
  return `${hostname()
    .replace(/[^\x21-\x7e]/g, '_')
    .slice(0, 80)}:${process.pid}:${randomBytes(4).toString('hex')}`
}

function checkRegistry(registry: unknown): asserts registry is Registry {
  const r = registry as Partial<Record<'get' | 'onStateChange', unknown>> | null
  if (typeof r !== 'object' || r === null || typeof r.get !== 'function' || typeof r.onStateChange !== 'function') {
    throw typeError(`registry must be a breakwater Registry (or registry), but was ${describe(registry)}`)
  }
}

class FleetInstance implements Fleet {
  readonly #registry: Registry
  readonly #config: FleetConfig
  readonly #keys: ReturnType<typeof keysOf>
  readonly #link: RedisLink
  readonly #members = new Map<string, Member>()
  /** Breakers left while the fleet's open was in force on them, and not moved since: a join takes them back. */
  readonly #leftOpen = new Set<string>()
  readonly #remote = new Listeners<RemoteEvent>()
  readonly #votes = new Listeners<VoteEvent>()
  readonly #errors = new Listeners<unknown>()
  readonly #redis = new Listeners<boolean>()
  readonly #stopListening: Disposer
  readonly #heartbeat: NodeJS.Timeout
  #queue: Promise<void> = Promise.resolve()
  #queued = 0
  #tokens = 0
  #closed = false
  #closing: Promise<void> | undefined
  #instancesAlive = 0
  #lastSyncAt: number | null = null
  #errorCount = 0
  #applied = 0
  readonly #dropped: Record<Drop | 'stale', number> = { malformed: 0, oversized: 0, foreign: 0, unknown: 0, stale: 0 }

  constructor(registry: Registry, config: FleetConfig) {
    this.#registry = registry
    this.#config = config
    this.#keys = keysOf(config.namespace)
    this.#link = new RedisLink(config.redis, this.#keys.channel, config.commandTimeoutMs, {
      message: (raw) => this.#onMessage(raw),
      up: () => this.#onUp(),
      down: () => this.#onDown(),
      error: (e) => this.#error(e),
    })
    this.#stopListening = registry.onStateChange((change) => this.#onLocal(change))
    this.#heartbeat = setInterval(() => this.#beat(), config.heartbeatMs).unref()
  }

  // ---- joining ----

  join(breaker: string | CircuitBreaker): Promise<boolean> {
    const handle = this.#handleOf(breaker)
    if (this.#closed) return Promise.resolve(false)
    const { native, announce } = internalsOf(handle)
    const existing = this.#members.get(handle.name)
    if (existing && !existing.native.isSame(native)) {
      // The registry's breaker of that name was removed and made again: share the new one, not the old.
      this.#members.delete(existing.name)
      this.#goLocal(existing)
      this.#settleJoin(existing, false)
    } else if (existing) {
      return existing.joined ? new Promise((resolve) => this.#whenJoined(existing, resolve)) : Promise.resolve(existing.synced)
    }
    const member = newMember(handle.name, handle, native, announce)
    // Still forced open by this fleet's open from before a `leave`: the fleet's close must end it.
    member.applied = this.#leftOpen.delete(member.name)
    this.#members.set(member.name, member)
    return new Promise<boolean>((resolve) => {
      member.joined = resolve
      if (this.#link.up) this.#sync(member)
      // Redis not there yet: `#onUp` syncs it; past a bound, the join says so and syncs later.
      const bound = setTimeout(() => this.#settleJoin(member, false), this.#config.commandTimeoutMs * 3).unref()
      this.#whenJoined(member, () => clearTimeout(bound))
    })
  }

  #whenJoined(member: Member, then: (synced: boolean) => void): void {
    const before = member.joined
    member.joined = (synced) => {
      before?.(synced)
      then(synced)
    }
  }

  #settleJoin(member: Member, synced: boolean): void {
    const joined = member.joined
    member.joined = undefined
    joined?.(synced)
  }

  leave(breaker: string | CircuitBreaker): boolean {
    const name = typeof breaker === 'string' ? (checkName(breaker), breaker) : this.#handleOf(breaker).name
    const member = this.#members.get(name)
    if (!member) return false
    this.#members.delete(name)
    if (member.fleet === 'open' && member.applied && !member.probing) this.#leftOpen.add(name)
    this.#goLocal(member)
    this.#settleJoin(member, false)
    return true
  }

  /** A handle of the fleet's registry for `breaker`; a TypeError or RangeError for anything else. */
  #handleOf(breaker: string | CircuitBreaker): CircuitBreaker {
    if (typeof breaker === 'string') {
      checkName(breaker)
      const handle = this.#registry.get(breaker)
      if (!handle) throw rangeError(`breaker must name a breaker of the fleet's registry, but there is none called ${describe(breaker)}`)
      return handle
    }
    const name = (breaker as { name?: unknown } | null)?.name
    const mine = typeof name === 'string' ? this.#registry.get(name) : undefined
    let same = false
    try {
      same = mine !== undefined && internalsOf(mine).native.isSame(internalsOf(breaker).native)
    } catch {
      same = false // not a CircuitBreaker
    }
    if (!same) throw typeError(`breaker must be a breaker name or a CircuitBreaker of the fleet's registry, but was ${describe(breaker)}`)
    return breaker
  }

  // ---- what the local breakers do ----

  /** A local transition (any thread): votes and probe results go out, queued, never awaited by the call. */
  #onLocal(change: StateChange): void {
    const member = this.#members.get(change.name)
    if (!member && change.reason !== 'remote') this.#leftOpen.delete(change.name) // something else moved it since
    if (!member || change.reason === 'remote') return
    const probing = member.probing
    if (probing && change.from === 'half_open') {
      member.probing = undefined
      clearTimeout(member.timer)
      const result = change.to === 'closed' ? 'closed' : change.to === 'open' ? 'open' : undefined
      if (result) {
        const reason = result === 'closed' ? 'probe_succeeded' : change.reason
        this.#enqueue(async () => {
          const applied = await this.#publish(member, probing.generation, result, change.retryAfterMs ?? -1, reason, probing.token)
          // Refused: the fleet is at another generation than the round probed (or Redis lost it): read it.
          if (!applied && this.#members.get(member.name) === member) this.#sync(member)
        })
      }
      return
    }
    if (change.to !== 'forced_open') member.applied = false // someone else moved it: the fleet's open is not in force here any more
    if (change.to === 'open' && RULE_OPEN.has(change.reason)) this.#enqueue(() => this.#vote(member, change))
  }

  #enqueue(task: () => Promise<void>): void {
    if (this.#closed) return
    if (this.#queued >= MAX_QUEUED) {
      this.#error(new Error(`the fleet's queue is full (${MAX_QUEUED} waiting): Redis is too slow; a vote or result was dropped`))
      return
    }
    this.#queued++
    this.#queue = this.#queue
      .then(task)
      .catch((e: unknown) => this.#error(e))
      .finally(() => {
        this.#queued--
      })
  }

  async #vote(member: Member, change: StateChange): Promise<void> {
    const c = this.#config
    const k = this.#keys
    const [outcome, generation, votes, needed] = (await this.#link.run(
      scripts.vote,
      [k.hash(member.name), k.votes(member.name), k.instances, k.lease(member.name)],
      [
        c.instanceId,
        c.voteWindowMs,
        c.quorumCount,
        c.quorumFraction,
        c.heartbeatMs * 3,
        change.retryAfterMs ?? -1,
        change.reason,
        c.namespace,
        member.name,
        k.channel,
        member.generation,
      ],
    )) as number[]
    if (outcome !== 0) Object.assign(member, { votes, needed })
    // Redis is open at a round this instance does not hold open (it missed the message, or another
    // instance opened on top of a hash Redis had lost): adopt it, so the round gets its probe and
    // later votes are not "already open" for good.
    else if (generation !== member.generation || member.fleet !== 'open') this.#sync(member, true)
  }

  /** A state for the fleet: a probe's result (`expect` its round) or an operator's (`expect` -1). */
  async #publish(member: { name: string }, expect: number, state: 'open' | 'closed', openMs: number, reason: string, token: string): Promise<boolean> {
    const c = this.#config
    const k = this.#keys
    const floor = this.#members.get(member.name)?.generation ?? 0
    const [applied] = (await this.#link.run(
      scripts.setState,
      [k.hash(member.name), k.lease(member.name), k.votes(member.name)],
      [expect, state, openMs, reason, c.instanceId, token, c.namespace, member.name, k.channel, floor],
    )) as number[]
    return applied === 1
  }

  // ---- what the fleet says ----

  #onMessage(raw: string): void {
    const message = readMessage(raw, this.#config.namespace, (name) => this.#members.has(name))
    if (typeof message === 'string') {
      this.#dropped[message]++
      return
    }
    this.#receive(message)
  }

  #receive(message: Message): void {
    const member = this.#members.get(message.name)!
    if (message.t === 'vote') {
      member.votes = message.votes
      member.needed = message.needed
      this.#votes.emit({ name: message.name, votes: message.votes, needed: message.needed, by: message.by })
      return
    }
    if (message.generation <= member.generation) {
      this.#dropped.stale++
      return
    }
    this.#apply(member, message)
  }

  /** Adopts a newer fleet state: the generation orders everything, so nothing moves backwards. */
  #apply(member: Member, m: Omit<StateMessage, 't'>): void {
    this.#applied++
    member.generation = m.generation
    member.fleet = m.state
    member.untilRedis = m.until
    member.reason = m.reason
    member.by = m.by
    clearTimeout(member.timer)
    member.timer = undefined
    if (member.probing && member.probing.generation !== m.generation) member.probing = undefined
    let retryAfterMs: number | null = null
    if (m.state === 'open') {
      // Remaining time by Redis' clock, turned into this process's monotonic clock: hosts' clocks never meet.
      const remaining = m.until < 0 ? Number.POSITIVE_INFINITY : Math.max(0, m.until - m.now)
      member.deadline = performance.now() + remaining
      retryAfterMs = Number.isFinite(remaining) ? remaining : null
      this.#enforce(member)
    } else {
      member.votes = 0
      if (member.applied || member.breaker.state === 'half_open') member.announce(member.native.remoteClose())
      member.applied = false
    }
    this.#remote.emit({ name: member.name, state: m.state, generation: m.generation, reason: m.reason, by: m.by, retryAfterMs })
  }

  /**
   * The fleet's open, in force here: with Redis, forced open until the fleet says otherwise and
   * the lease race at the deadline; without it, forced open for the time left, then probing
   * locally on its own.
   */
  #enforce(member: Member): void {
    const remaining = remainingMs(member)
    if (this.#link.up) {
      member.announce(member.native.remoteOpen(undefined))
      if (Number.isFinite(remaining)) this.#schedule(member, remaining)
    } else {
      member.announce(member.native.remoteOpen(localDeadline(remaining)))
    }
    member.applied = true
  }

  #schedule(member: Member, ms: number): void {
    clearTimeout(member.timer)
    const generation = member.generation
    member.timer = setTimeout(() => this.#race(member, generation), Math.min(Math.max(0, Math.ceil(ms)), 2_147_483_647)).unref()
  }

  /** Asks for the probe lease of round `generation`; the winner's breaker goes half-open, here only. */
  #race(member: Member, generation: number): void {
    member.timer = undefined
    if (this.#closed || !this.#link.up || member.generation !== generation || member.fleet !== 'open' || this.#members.get(member.name) !== member) return
    const token = `${this.#config.instanceId}:${generation}:${randomBytes(6).toString('hex')}:${++this.#tokens}`
    const k = this.#keys
    this.#link.run(scripts.lease, [k.hash(member.name), k.lease(member.name)], [generation, token, this.#config.probeLeaseMs]).then(
      (reply) => {
        const [outcome, ms] = reply as number[]
        if (member.generation !== generation || member.fleet !== 'open') return this.#releaseIf(outcome === 1, member, token)
        if (outcome === 1) this.#probe(member, generation, token)
        else if (outcome === 0 || (outcome === -2 && ms! >= 0)) this.#schedule(member, Math.max(ms!, 0) + 1)
        // Redis is not open at this round: a message was missed, or Redis lost the round (FLUSHALL,
        // a restart while connected). Syncing adopts the newer state or writes this one back.
        else if (outcome === -1) this.#sync(member)
      },
      (e: unknown) => {
        this.#error(e)
        // Redis refused or failed: try again later if it is still up (if not, `#onDown` went local).
        if (member.generation === generation && this.#link.up) this.#schedule(member, Math.min(this.#config.probeLeaseMs, 1000))
      },
    )
  }

  #probe(member: Member, generation: number, token: string): void {
    member.probing = { generation, token }
    const code = member.native.remoteHalfOpen()
    member.announce(code)
    // If no probe reports within the lease, another instance may take it: the round goes on there.
    member.timer = setTimeout(() => {
      member.timer = undefined
      if (member.probing?.token !== token) return
      member.probing = undefined
      if (member.generation === generation && member.fleet === 'open') {
        this.#enforce(member)
        this.#schedule(member, 0)
      }
    }, this.#config.probeLeaseMs).unref()
  }

  #releaseIf(won: boolean, member: Member, token: string): void {
    if (!won) return
    this.#link.run(scripts.release, [this.#keys.lease(member.name)], [token]).catch((e: unknown) => this.#error(e))
  }

  // ---- Redis coming and going ----

  #onUp(): void {
    this.#beat()
    for (const member of this.#members.values()) this.#sync(member)
    this.#redis.emit(true)
  }

  /** Redis is gone: every fleet open in force here gets a local deadline, so it probes on its own. */
  #onDown(): void {
    this.#error(new Error('Redis is not usable: the breakers go on locally until it returns'))
    for (const member of this.#members.values()) {
      clearTimeout(member.timer)
      member.timer = undefined
      if (member.probing) continue // its local probe decides; the result is local
      if (member.fleet === 'open' && member.applied) {
        const remaining = remainingMs(member)
        member.announce(member.native.remoteOpen(localDeadline(remaining)))
      }
    }
    this.#redis.emit(false)
  }

  /**
   * Reads the fleet's state of `member` (writing back a newer one Redis lost) and adopts it; with
   * `adopt`, also a different state at the generation it holds (two states claimed one generation
   * after Redis lost the hash: Redis' is the one the lease rounds follow).
   */
  #sync(member: Member, adopt = false): void {
    const c = this.#config
    const k = this.#keys
    const known = member.fleet === 'unknown' ? '' : member.fleet
    member.resync = false
    this.#link
      .run(
        scripts.sync,
        [k.hash(member.name)],
        [member.generation, known, member.untilRedis, member.reason || 'sync', member.by || c.instanceId, c.namespace, member.name, k.channel],
      )
      .then(
        (reply) => {
          if (this.#members.get(member.name) !== member) return
          const [now, state, gen, until, reason, by] = reply as [number, string, string, string, string, string]
          const generation = Number(gen)
          this.#lastSyncAt = Date.now()
          member.synced = true
          const newer = generation > member.generation || (adopt && generation === member.generation && state !== member.fleet)
          if (newer && (state === 'open' || state === 'closed')) {
            this.#apply(member, { name: member.name, generation, state, until: Number(until), now: Number(now), reason, by })
          } else if (generation === member.generation && state === 'open' && !member.probing) {
            // Back from local-only: the fleet is still open at this generation; its open is in force again.
            member.deadline = performance.now() + (Number(until) < 0 ? Number.POSITIVE_INFINITY : Math.max(0, Number(until) - Number(now)))
            this.#enforce(member)
          } else if (member.fleet === 'unknown') {
            member.fleet = 'closed'
          }
          this.#settleJoin(member, true)
        },
        (e: unknown) => {
          // Refused (the Redis breaker half-open lets one command through: the rest of the syncs
          // on reconnect) or timed out (a burst of them): retried after the next good heartbeat.
          if (this.#members.get(member.name) === member) member.resync = true
          this.#error(e)
        },
      )
  }

  #beat(): void {
    if (this.#closed || this.#link.client.status !== 'ready') return
    const c = this.#config
    this.#link.run(scripts.heartbeat, [this.#keys.instances], [c.instanceId, c.heartbeatMs * 3]).then(
      (reply) => {
        this.#instancesAlive = (reply as number[])[1] ?? 0
        for (const member of this.#members.values()) if (member.resync && this.#link.up) this.#sync(member)
      },
      (e: unknown) => this.#error(e),
    )
  }

  /** A fleet open in force here becomes a local one with the time left (leaving, closing). */
  #goLocal(member: Member): void {
    clearTimeout(member.timer)
    member.timer = undefined
    if (member.fleet === 'open' && member.applied && !member.probing) {
      const remaining = remainingMs(member)
      member.announce(member.native.remoteOpen(localDeadline(remaining)))
    }
    member.applied = false
    member.probing = undefined
  }

  // ---- operators ----

  forceOpen(name: string, duration?: Duration): Promise<boolean> {
    checkName(name)
    const ms = duration === undefined ? -1 : toMillis('forceOpen duration', duration)
    if (ms > MAX_OPEN_MS) throw rangeError(`forceOpen duration must be at most ${MAX_OPEN_MS} ms (30 days), but was ${ms}`)
    return this.#order(name, 'open', ms)
  }

  forceClose(name: string): Promise<boolean> {
    checkName(name)
    return this.#order(name, 'closed', -1)
  }

  #order(name: string, state: 'open' | 'closed', ms: number): Promise<boolean> {
    if (this.#closed) return Promise.resolve(false)
    return this.#publish({ name }, -1, state, ms, 'operator', '').catch((e: unknown) => {
      this.#error(e)
      return false
    })
  }

  // ---- status, events, close ----

  status(): FleetStatus {
    const breakers: Record<string, FleetBreakerStatus> = Object.create(null)
    for (const m of this.#members.values()) {
      breakers[m.name] = {
        local: m.breaker.state,
        fleet: m.fleet,
        generation: m.generation,
        votes: m.votes,
        needed: m.needed,
        leaseHeld: m.probing !== undefined,
      }
    }
    return {
      namespace: this.#config.namespace,
      instanceId: this.#config.instanceId,
      redisUp: this.#link.up,
      instancesAlive: this.#instancesAlive,
      lastSyncAt: this.#lastSyncAt,
      errors: this.#errorCount,
      applied: this.#applied,
      dropped: { ...this.#dropped },
      breakers,
    }
  }

  onRemote(listener: (event: RemoteEvent) => void): Disposer {
    return this.#remote.add(listener)
  }

  onVote(listener: (event: VoteEvent) => void): Disposer {
    return this.#votes.add(listener)
  }

  onRedis(listener: (up: boolean) => void): Disposer {
    return this.#redis.add(listener)
  }

  onError(listener: (error: unknown) => void): Disposer {
    return this.#errors.add(listener)
  }

  #error(error: unknown): void {
    this.#errorCount++
    this.#errors.emit(error)
  }

  close(): Promise<void> {
    // A second call waits for the same close: when it resolves, the connections are closed.
    this.#closing ??= this.#close()
    return this.#closing
  }

  async #close(): Promise<void> {
    this.#closed = true
    clearInterval(this.#heartbeat)
    this.#stopListening()
    for (const member of this.#members.values()) {
      this.#goLocal(member)
      this.#settleJoin(member, false)
    }
    this.#members.clear()
    // Last words, bounded by the command timeout: leave the live set; then no new work.
    if (this.#link.client.status === 'ready') {
      await this.#link.breaker.execute(() => this.#link.client.zrem(this.#keys.instances, this.#config.instanceId)).catch(() => undefined)
    }
    // Votes and results still queued go out if Redis takes them within the command timeout.
    let timer: NodeJS.Timeout | undefined
    const bound = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.#config.commandTimeoutMs).unref()
    })
    await Promise.race([this.#queue, bound])
    clearTimeout(timer)
    await this.#link.close()
  }
}
