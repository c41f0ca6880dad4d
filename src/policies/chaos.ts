import { type Disposer, Listeners } from '../events.js'
import { warn } from '../callbacks.js'
import { toTimerMillis } from '../duration.js'
import { registry as processRegistry } from '../registry.js'
import { type CallContext, checkSignal, NEVER_ABORTS, readCallOptions } from '../signal.js'
import { rangeError } from '../validate.js'
import {
  type BreakerLookup,
  type ChaosConfig,
  type ChaosContext,
  type ChaosKind,
  type ChaosOptions,
  type ChaosStats,
  type ChaosStopReason,
  readChaosOptions,
  type StopRule,
  type WatchedBreaker,
} from './chaos-options.js'
import { delay, markInjected } from './chaos-effects.js'
import { ErrorWindow } from './chaos-window.js'
import { checkFunction, type Policy, type PolicyCallOptions, type POLICY_TYPES } from './policy.js'

export type {
  BreakerLookup,
  ChaosContext,
  ChaosKind,
  ChaosOptions,
  ChaosStats,
  ChaosStopCheck,
  ChaosStopReason,
  ChaosStopWhen,
  WatchedBreaker,
} from './chaos-options.js'

/** One injection, as `onInject` reports it. `chaos` is always true: rehearsal, not reality. */
export interface ChaosInjectEvent {
  kind: ChaosKind
  chaos: true
  /** The call's number through the policy. */
  call: number
  /** For `latency`: the wait, in milliseconds. */
  delayMs?: number
  /** For `fault`: the error the call rejects with (marked `injected: true`). */
  error?: unknown
  /** For `outcome`: the value the call resolves to. */
  value?: unknown
}

/** Injection stopped: by itself (TTL, safety stop) or by `disable()`. */
export interface ChaosStopEvent {
  reason: ChaosStopReason
  chaos: true
}

/**
 * Injects faults, latency, outcomes or behaviours into a share of calls, to rehearse failures.
 * Off by default, with a TTL and an optional safety stop. Make one with `chaos()`.
 */
export class ChaosPolicy<T = never> implements Policy<object, T> {
  /** Type-only: what this policy adds, for `wrap`. */
  declare readonly [POLICY_TYPES]?: { context: object; fallback: T }
  readonly #config: ChaosConfig
  /** One window per `errorRate` stop, fed with every call's end. */
  readonly #windows: Map<StopRule, ErrorWindow>
  readonly #injects = new Listeners<ChaosInjectEvent>()
  readonly #stops = new Listeners<ChaosStopEvent>()
  readonly #stats: ChaosStats = { calls: 0, injected: { fault: 0, latency: 0, outcome: 0, behavior: 0 }, enabled: false, stopped: undefined }
  /** When injection ends by itself, in `now` milliseconds; set on each enable. */
  #endsAt = 0
  /** Set when injection stopped (or was never on); read and cleared before each call. */
  #armed = false
  /** The `breakerOpen` watches of the current enabling, by rule. */
  #watches = new Map<StopRule, Disposer>()

  /** @internal Made by `chaos()`. */
  constructor(config: ChaosConfig) {
    this.#config = config
    this.#windows = new Map(config.stops.flatMap((rule) => (rule.kind === 'errorRate' ? [[rule, new ErrorWindow(rule.windowMs)] as const] : [])))
    if (config.enabled) this.enable()
  }

  /**
   * Whether calls are injected now (enabled, within the TTL, not stopped). Reading it notices an
   * expired TTL (and `onStop` reports it then: there is no timer).
   *
   * @example
   * if (rehearsal.enabled) console.log('rehearsing')
   */
  get enabled(): boolean {
    this.#noticeExpiry()
    return this.#armed
  }

  /**
   * Turns injection on until the TTL ends (`for` counts from now). Enabling again after a stop
   * is an operator's decision: the safety stops are checked again before the next call.
   *
   * @throws RangeError (code `ERR_BREAKWATER_INVALID_OPTION`) when `until` has passed.
   * @example
   * ordersChaos.enable()
   */
  enable(): void {
    const now = this.#config.now()
    const ttl = this.#config.ttl
    const endsAt = 'forMs' in ttl ? now + ttl.forMs : ttl.untilMs
    if (endsAt <= now) throw rangeError(`until has passed (it was ${endsAt}, now is ${now}): chaos cannot be enabled past its TTL`)
    this.#endsAt = endsAt
    this.#unwatch()
    this.#armed = true
    this.#stats.stopped = undefined
    this.#watch()
  }

  /**
   * Turns injection off (`onStop` reports `disabled`, or `expired` if the TTL had already ended
   * unnoticed). Calls made after it are never injected.
   *
   * @example
   * ordersChaos.disable()
   */
  disable(): void {
    this.#noticeExpiry() // a TTL that ended unnoticed is reported as what it was: expired
    if (this.#armed) this.#stop('disabled')
  }

  /**
   * Runs `fn`, or, for a share of calls while enabled, injects instead: rejects with the fault
   * (marked `error.injected === true`), resolves to the outcome, waits the latency (rejecting
   * with the signal's reason if it aborts) or runs the behaviour, then runs `fn`. Compose it
   * innermost: `wrap(retry(), breaker, chaos({ ... }))`.
   *
   * @example
   * const quote = await chaotic.execute(({ signal }) => fetchQuote(signal))
   */
  async execute<R>(fn: (context: CallContext) => R | PromiseLike<R>, options?: PolicyCallOptions): Promise<R | T> {
    checkFunction('execute', fn)
    const signal = checkSignal(readCallOptions<PolicyCallOptions>('execute', options, ['signal']).signal)
    const context: ChaosContext = { signal: signal ?? NEVER_ABORTS, call: ++this.#stats.calls }
    let failed = true
    try {
      const result = await this.#run(fn, context, signal)
      failed = false
      return result
    } finally {
      if (this.#windows.size > 0) {
        const now = this.#config.now()
        for (const window of this.#windows.values()) window.record(now, failed)
      }
    }
  }

  async #run<R>(fn: (context: CallContext) => R | PromiseLike<R>, context: ChaosContext, signal: AbortSignal | undefined): Promise<R | T> {
    if (!this.#decide(context)) return fn({ signal: context.signal })
    const { kind, injection } = this.#config
    this.#stats.injected[kind] += 1
    switch (kind) {
      case 'fault': {
        const error = markInjected(typeof injection === 'function' ? injection(context) : injection)
        this.#inject({ kind, chaos: true, call: context.call, error })
        throw error
      }
      case 'outcome':
        this.#inject({ kind, chaos: true, call: context.call, value: injection })
        return injection as T
      case 'latency': {
        const ms = toTimerMillis('latency', typeof injection === 'function' ? injection(context) : injection)
        this.#inject({ kind, chaos: true, call: context.call, delayMs: ms })
        await delay(ms, signal)
        break
      }
      case 'behavior':
        this.#inject({ kind, chaos: true, call: context.call })
        try {
          await (injection as (context: ChaosContext) => unknown)(context)
        } catch (error) {
          throw markInjected(error)
        }
        break
    }
    return fn({ signal: context.signal })
  }

  /** Whether to inject into this call: armed, within the TTL, no stop condition, and the draw. */
  #decide(context: ChaosContext): boolean {
    this.#noticeExpiry()
    if (!this.#armed) return false
    this.#watch() // a breaker named before it existed is watched from the first call that finds it
    const reason = this.#stopReason()
    if (reason !== undefined) {
      this.#stop(reason)
      return false
    }
    const rate = this.#rateOf(context)
    return this.#config.random() < rate
  }

  #rateOf(context: ChaosContext): number {
    const rate = this.#config.rate
    if (typeof rate === 'number') return rate
    let value: unknown
    try {
      value = rate(context)
    } catch (error) {
      warn('a chaos rate function threw; nothing injected', error, 'BREAKWATER_CHAOS')
      return 0
    }
    if (typeof value === 'number' && value >= 0 && value <= 1) return value
    warn('a chaos rate function returned a value outside 0..1; nothing injected', value, 'BREAKWATER_CHAOS')
    return 0
  }

  /** The first stop condition that holds, if any. */
  #stopReason(): ChaosStopReason | undefined {
    for (const rule of this.#config.stops) {
      if (rule.kind === 'breaker') {
        const breaker = this.#breakerOf(rule.breaker)
        if (breaker !== undefined && isOpen(breaker.state)) return 'breaker_open'
      } else if (rule.kind === 'errorRate') {
        const { calls, failures } = this.#windows.get(rule)!.read(this.#config.now())
        if (calls >= rule.minimumCalls && failures / calls >= rule.errorRate) return 'error_rate'
      } else if (this.#checkHolds(rule.check)) {
        return 'stop_when'
      }
    }
    return undefined
  }

  /** A `stopWhen` function's answer; one that throws stops injection (the safe side). */
  #checkHolds(check: (stats: ChaosStats) => boolean): boolean {
    try {
      return check(this.stats()) === true
    } catch (error) {
      warn('a chaos stopWhen function threw; injection stops', error, 'BREAKWATER_CHAOS')
      return true
    }
  }

  #breakerOf(breaker: WatchedBreaker | string): WatchedBreaker | undefined {
    if (typeof breaker !== 'string') return breaker
    return (this.#config.registry ?? (processRegistry as BreakerLookup)).get(breaker)
  }

  /** Stops at once when a watched breaker opens (a breaker around this policy refuses calls, so none would reach the check). */
  #watch(): void {
    for (const rule of this.#config.stops) {
      if (rule.kind !== 'breaker' || this.#watches.has(rule)) continue
      const breaker = this.#breakerOf(rule.breaker)
      if (breaker === undefined) continue
      const onOpen = () => this.#armed && this.#stop('breaker_open')
      this.#watches.set(rule, breaker.onOpen(onOpen))
    }
  }

  #unwatch(): void {
    for (const dispose of this.#watches.values()) dispose()
    this.#watches.clear()
  }

  #noticeExpiry(): void {
    if (this.#armed && this.#config.now() >= this.#endsAt) this.#stop('expired')
  }

  #stop(reason: ChaosStopReason): void {
    this.#armed = false
    this.#stats.stopped = reason
    this.#unwatch()
    if (this.#stops.active) this.#stops.emit({ reason, chaos: true })
  }

  #inject(event: ChaosInjectEvent): void {
    if (this.#injects.active) this.#injects.emit(event)
  }

  /**
   * Calls `listener` on each injection, before its effect (the event's `chaos` is always true).
   *
   * @returns a disposer
   * @example
   * rehearsal.onInject(({ kind, call }) => log.info({ chaos: true, kind, call }, 'injected'))
   */
  onInject(listener: (event: ChaosInjectEvent) => void): Disposer {
    return this.#injects.add(listener)
  }

  /**
   * Calls `listener` when injection stops: `expired` (the TTL ended), `breaker_open`,
   * `error_rate`, `stop_when` (a safety stop held), or `disabled`.
   *
   * @returns a disposer
   * @example
   * rehearsal.onStop(({ reason }) => log.warn(`chaos stopped: ${reason}`))
   */
  onStop(listener: (event: ChaosStopEvent) => void): Disposer {
    return this.#stops.add(listener)
  }

  /**
   * Calls, injections by kind, and whether and why injection stopped (this thread's). Like
   * `enabled`, reading it notices an expired TTL: `stopped` is then `'expired'` (and `onStop`
   * reports it), so a metrics scrape shows the end of a rehearsal that no call saw.
   *
   * @example
   * const { injected, stopped } = rehearsal.stats()
   */
  stats(): ChaosStats {
    this.#noticeExpiry()
    return { ...this.#stats, injected: { ...this.#stats.injected }, enabled: this.#armed }
  }
}

/** A breaker state in which injection must stop: anything but closed (or disabled, which counts nothing). */
function isOpen(state: string): boolean {
  return state !== 'closed' && state !== 'disabled'
}

/**
 * A chaos policy: while enabled and within its TTL, injects one kind of failure into a share of
 * calls. Off by default; `until` or `for` is required, so a rehearsal always ends by itself; a
 * `stopWhen` safety stop ends it before the next call when a breaker opens, the error rate
 * climbs, or a function says so. Options are checked at once (`TypeError` / `RangeError` with
 * code `ERR_BREAKWATER_INVALID_OPTION` naming the option); unknown keys are refused.
 *
 * @example
 * import { chaos, circuitBreaker, wrap } from 'breakwater'
 * const orders = circuitBreaker('orders')
 * const rehearsal = chaos({ fault: new Error('gateway down'), rate: 0.2, for: '10m', stopWhen: { breakerOpen: orders } })
 * const guarded = wrap(orders, rehearsal)
 * rehearsal.enable()
 */
export function chaos<T = never>(options: ChaosOptions<T>): ChaosPolicy<T> {
  return new ChaosPolicy<T>(readChaosOptions(options))
}
