import { Cluster, Redis, type RedisOptions, ReplyError } from 'ioredis'
import type { CircuitBreaker } from '../breaker.js'
import { Registry } from '../registry.js'
import type { Script } from './scripts.js'

/** What the link tells the fleet. */
export interface LinkEvents {
  message(raw: string): void
  /** Both connections are ready, the channel subscribed and the Redis breaker not open. */
  up(): void
  /** One of them is not any more. */
  down(): void
  error(error: unknown): void
}

/**
 * The fleet's two Redis connections (commands; pub/sub, made with `duplicate()`), the Redis
 * breaker every command goes through, and whether Redis is usable now. Nothing here throws or
 * leaves a promise unhandled: `run` rejects, and every caller catches.
 */
export class RedisLink {
  readonly client: Redis | Cluster
  readonly subscriber: Redis | Cluster
  /** Whether `client` is ours (made from a URL) to close. */
  readonly #owned: boolean
  readonly #channel: string
  readonly #events: LinkEvents
  readonly #commandTimeoutMs: number
  /**
   * A breaker of a private registry (not the user's: it must not show among their breakers nor
   * clash with a name of theirs): Redis failing or slow makes it open, and commands are then
   * refused at once instead of waiting, until a heartbeat probes Redis again.
   */
  readonly breaker: CircuitBreaker
  #subscribed = false
  #up = false
  #closed = false

  constructor(redis: Redis | Cluster | string, channel: string, commandTimeoutMs: number, events: LinkEvents) {
    this.#channel = channel
    this.#events = events
    this.#commandTimeoutMs = commandTimeoutMs
    this.breaker = new Registry().getOrCreate('redis', {
      consecutiveFailures: 3,
      failureRate: false,
      openFor: '500ms',
      maxOpenFor: '10s',
      halfOpenProbes: 1,
      halfOpenSuccesses: 1,
      timeout: commandTimeoutMs,
      isFailure: (e: unknown) => !isScriptDataError(e),
    })
    if (typeof redis === 'string') {
      this.#owned = true
      this.client = new Redis(redis, clientOptions(commandTimeoutMs))
    } else {
      this.#owned = false
      this.client = redis
      // A lazy client of the user's connects on its first command: the fleet's heartbeat would be it.
      if (redis.status === 'wait') redis.connect().catch((e: unknown) => events.error(e))
    }
    // Pub/sub needs a connection of its own; we subscribe on each `ready` ourselves, after which we sync.
    this.subscriber =
      this.client instanceof Cluster
        ? this.client.duplicate([], { enableOfflineQueue: false, lazyConnect: false, redisOptions: { autoResubscribe: false } })
        : this.client.duplicate({ autoResubscribe: false, enableOfflineQueue: false, lazyConnect: false })
    this.#watch()
  }

  /** Whether Redis is usable now: both connections ready, subscribed, the Redis breaker not open. */
  get up(): boolean {
    return this.#up
  }

  #watch(): void {
    const client = this.client
    const sub = this.subscriber
    const check = () => this.#check()
    client.on('ready', check)
    client.on('close', check)
    client.on('end', check)
    // Errors of a client of the user's stay theirs; those of our connections are reported.
    if (this.#owned) client.on('error', (e: unknown) => this.#events.error(e))
    sub.on('error', (e: unknown) => this.#events.error(e))
    sub.on('close', () => {
      this.#subscribed = false
      check()
    })
    sub.on('end', () => {
      this.#subscribed = false
      check()
    })
    sub.on('ready', () => this.#subscribe())
    sub.on('message', (channel: string, message: string) => {
      if (channel === this.#channel) this.#events.message(message)
    })
    this.breaker.onStateChange(check)
  }

  #subscribe(): void {
    this.subscriber.subscribe(this.#channel).then(
      () => {
        this.#subscribed = true
        this.#check()
      },
      (e: unknown) => this.#events.error(e),
    )
  }

  #check(): void {
    if (this.#closed) return
    const state = this.breaker.state
    const up = this.#subscribed && this.client.status === 'ready' && this.subscriber.status === 'ready' && state !== 'open' && state !== 'forced_open'
    if (up === this.#up) return
    this.#up = up
    if (up) this.#events.up()
    else this.#events.down()
  }

  /**
   * Runs `script` through the Redis breaker: refused at once while it is open or the command
   * connection is not ready (never queued), failed after the command timeout.
   */
  run(script: Script, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    if (this.#closed) return Promise.reject(new Error('the fleet is closed'))
    return this.breaker.execute(() => this.#eval(script, keys, args))
  }

  async #eval(script: Script, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    if (this.client.status !== 'ready') throw new Error(`Redis is not connected (${this.client.status})`)
    try {
      return await this.client.evalsha(script.sha, keys.length, ...keys, ...args)
    } catch (e) {
      // A server that restarted has forgotten its scripts: send the text once, which caches it again.
      if (!(e instanceof Error) || !e.message.startsWith('NOSCRIPT')) throw e
      return await this.client.eval(script.lua, keys.length, ...keys, ...args)
    }
  }

  /**
   * Closes our connections (never the user's client); never rejects, and never waits past the
   * command timeout: a Redis that hangs (stopped, a black-holed network) never answers QUIT.
   */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#up = false
    this.subscriber.disconnect()
    if (this.#owned) {
      let timer: NodeJS.Timeout | undefined
      const bound = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.#commandTimeoutMs).unref()
      })
      await Promise.race([this.client.quit().then(noop, noop), bound])
      clearTimeout(timer)
      this.client.disconnect()
    }
  }
}

const noop = () => undefined

/**
 * Whether `e` is an error a command raised inside one of our scripts (`WRONGTYPE` on a key someone
 * overwrote, a hash field that is not a number): Redis answered, promptly, about one breaker's keys.
 * It says nothing of Redis' health, so it must not open the Redis breaker and take every breaker of
 * the fleet local-only. Redis itself failing (`BUSY`, `LOADING`, timeouts, a closed socket) still counts.
 */
function isScriptDataError(e: unknown): boolean {
  if (!(e instanceof ReplyError)) return false
  const message = (e as Error).message
  return message.includes('@user_script:') && !/^(BUSY|LOADING|OOM|READONLY|MASTERDOWN|MISCONF|NOREPLICAS|CLUSTERDOWN|TRYAGAIN)\b/.test(message)
}

/**
 * Our clients' options (made from a URL): reconnect with capped, jittered backoff; no offline
 * queue, so a command while Redis is down fails at once instead of waiting for a reconnect; one
 * try per command; a bounded connect. TLS (`rediss://`) and ACL users come from the URL.
 */
function clientOptions(commandTimeoutMs: number): RedisOptions {
  return {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: Math.max(commandTimeoutMs, 1000),
    retryStrategy: (times: number) => Math.round(Math.min(25 * 2 ** Math.min(times, 7), 1000) * (0.5 + Math.random() / 2)),
    lazyConnect: false,
  }
}
