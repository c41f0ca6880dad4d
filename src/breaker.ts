import { AbortRace } from './abort-race.js'
import { answerOf } from './callbacks.js'
import { toMillis, toTimeoutMillis, type Duration } from './duration.js'
import { BrokenCircuitError, fromNative, isTimeoutError } from './errors.js'
import { type BreakerEvents, type CallEvent, callListenersVersion, type Disposer } from './events.js'
import type { TransitionHub } from './hub.js'
import { type NativeBreaker, threadFunctions } from './native.js'
import type { BreakerOptions, CallPolicy } from './options.js'
import type { StateChange, StateName } from './state.js'
import { type LatencyStats, type Metrics, toMetrics } from './metrics.js'
import { Fallback } from './policies/fallback.js'
import type { POLICY_TYPES } from './policies/policy.js'
import { type CallContext, checkSignal, NEVER_ABORTS, readCallOptions } from './signal.js'
import { typeError } from './validate.js'
import { callSettings, optionsOf, readPartialOptions, refreshCopy } from './configure.js'
import { type BreakerRecord, recordOf } from './snapshot.js'
import { type Explanation, explainOf, onWouldOpenOf, type WouldOpenEvent } from './adaptive.js'
import {
  acquireMoved,
  acquireTransition,
  Outcome,
  permitOf,
  refusalRetryAfterMs,
  refusalState,
  refusalTransition,
  STATES,
  wordIsClosed,
  wordPermit,
} from './wire.js'

export type { CallContext } from './signal.js'

/** Reading the word's low half from its first four bytes needs a little-endian machine. */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1

/**
 * The lane of a handle before its first call (or where native memory cannot be read): `fast` is
 * 0, so nothing is taken in it. Shared and never written. (Lanes and the word are read as signed
 * 32-bit integers: the same bits, and arithmetic V8 keeps in int32 registers.)
 */
const NO_LANE = new Int32Array(3)

const EXECUTE_OPTIONS = ['signal', 'timeout'] as const

/**
 * `execute`'s options when they are a plain object of own `signal` and `timeout` only (neither
 * null), read without a copy, since this runs on every call; `undefined` for anything else, which
 * `readCallOptions` then reads and refuses with a message saying what is wrong.
 */
function plainExecuteOptions(options: unknown): ExecuteOptions | undefined {
  if (typeof options !== 'object' || options === null || Object.getPrototypeOf(options) !== Object.prototype) return undefined
  const keys = Object.keys(options)
  for (let i = 0; i < keys.length; i++) if (keys[i] !== 'signal' && keys[i] !== 'timeout') return undefined
  const o = options as ExecuteOptions
  const signal = Object.hasOwn(o, 'signal') ? o.signal : undefined
  const timeout = Object.hasOwn(o, 'timeout') ? o.timeout : undefined
  return signal === null || timeout === null ? undefined : { signal, timeout }
}

/** Per-call options of `execute`. */
export interface ExecuteOptions {
  /** Aborting it abandons the call: `execute` rejects with its reason and the call counts as ignored. */
  signal?: AbortSignal
  /** Overrides the breaker's `timeout` for this call. */
  timeout?: Duration
}

/**
 * The hot-path native functions of this thread, shared by every handle: each takes the handle's
 * slot first (three function objects per thread instead of three per breaker).
 */
const [acquireIn, recordIn, permittedIn] = threadFunctions()

/** The call policy of a breaker given none: shared, never written; the same shape as one read from options. */
const NO_POLICY: CallPolicy<unknown> = { isFailure: undefined, isResultFailure: undefined, fallback: undefined, unref: undefined }

/** What `fn` receives when the call has neither a timeout nor a caller signal: a signal that never aborts. */
const UNBOUNDED: CallContext = Object.freeze({ signal: NEVER_ABORTS })

/**
 * @internal What `breakwater/fleet` needs of a handle: its native breaker (for the transitions
 * with reason `remote`) and the announcing of a transition made there, so this thread's listeners
 * hear of it before the fleet's call returns. Not part of the public API.
 */
export let internalsOf: (breaker: CircuitBreaker) => { native: NativeBreaker; announce(code: number): void }

/**
 * This thread's handle of a named breaker. The breaker itself (state, windows, metrics) lives in
 * the native registry and is shared by every handle and every worker thread of the process; the
 * handle adds what only this thread can hold: error filters, fallback, event listeners.
 */
export class CircuitBreaker<T = unknown> {
  /** Type-only: what this policy adds, for `wrap`. */
  declare readonly [POLICY_TYPES]?: { context: object; fallback: never }
  readonly #native: NativeBreaker
  readonly #name: string
  /** The handle's slot for this thread's hot-path functions. */
  readonly #slot: number
  /**
   * The native state word's low half, so a closed breaker lets calls through without a native
   * call. Made on the handle's first call, with `#started` (about 1 KB a handle together, up
   * from 0.6 KB for the word alone; idle handles do not pay it); `null` where it cannot be read
   * (a big-endian machine, a runtime that refuses external buffers).
   */
  #word: Int32Array | null | undefined
  /**
   * This handle's lane in native memory (made with `#word`): `[started, succeeded, fast]`. A
   * call let through on the state word adds 1 to `started` before it runs, so `metrics()` counts
   * it in flight; its success, while `fast` is 1 and the word still gives its permit, adds 1 to
   * `succeeded` instead of a native call (the core folds it in before any read or judgement).
   */
  #started: Int32Array = NO_LANE
  readonly #policy: CallPolicy<T>
  /** The `fallback` option's, if given. */
  readonly #fallback: Fallback<T> | undefined
  /**
   * `[timeoutMs or NaN, 1 when the native breaker reads call durations]` in the breaker's native
   * memory: `configure` in any thread changes them for every handle. Calls are timed only for
   * listeners when durations do not matter. Made on the handle's first call let through (idle
   * handles do not pay for it).
   */
  #settings: Float64Array | undefined
  /** The registry's listeners in this thread: the breaker's are made there at the first subscription. */
  readonly #hub: TransitionHub
  /**
   * What this handle last found of its breaker's listeners, as of `callListenersVersion` when it looked (`#seen`):
   * the listeners (`undefined` while there are none), and whether a call may be lean (no result
   * filter, no success or failure listener). A handle keeps no listeners of its own (most are
   * never listened to): about 0.5 KB less per breaker.
   */
  #events: BreakerEvents | undefined
  #seen = -1
  /** `#seen` while a call may be lean, else -1: one comparison on every call. */
  #leanSeen = -1

  /** @internal Made by a registry: the breaker `native` called `name`, listened to through `hub`. */
  constructor(native: NativeBreaker, name: string, policy: CallPolicy<T>, hub: TransitionHub) {
    this.#native = native
    this.#hub = hub
    this.#name = name
    // The hot-path calls go through this thread's shared functions: no method dispatch per call.
    this.#slot = native.slot
    // Own properties only, every key present: nothing reaches a call through a polluted
    // Object.prototype, and a fixed-shape object keeps the per-call reads fast (an object
    // without a prototype is a dictionary in V8, slower to read on every call).
    const own = (key: keyof CallPolicy<T>) => (Object.hasOwn(policy, key) ? policy[key] : undefined)
    const read: CallPolicy<T> = {
      isFailure: own('isFailure') as CallPolicy<T>['isFailure'],
      isResultFailure: own('isResultFailure') as CallPolicy<T>['isResultFailure'],
      fallback: own('fallback') as CallPolicy<T>['fallback'],
      unref: own('unref') as boolean | undefined,
    }
    // Most breakers have none of these: they share one object (never written) instead of one each.
    const none = read.isFailure === undefined && read.isResultFailure === undefined && read.fallback === undefined
    this.#policy = none && read.unref === undefined ? (NO_POLICY as CallPolicy<T>) : read
    const fallback = this.#policy.fallback
    this.#fallback = fallback ? new Fallback<T>(fallback) : undefined
  }

  static {
    internalsOf = (breaker) => ({ native: breaker.#native, announce: (code) => breaker.#announce(code) })
  }

  /** The breaker's name. */
  get name(): string {
    return this.#name
  }

  /** The state now. An open breaker whose open time has passed reads `open` until the next call. */
  get state(): StateName {
    return STATES[this.#native.state]!
  }

  /**
   * Runs `fn` if the breaker permits it, and counts how it went. Rejects with a
   * `BrokenCircuitError` when refused, a `TimeoutError` when past its timeout, the caller's abort
   * reason when the caller aborts (counted as ignored), or `fn`'s own error; with a `fallback`,
   * resolves to the fallback's value instead.
   *
   * @example
   * const quote = await marketData.execute(({ signal }) => fetch(url, { signal }), { timeout: '2s' })
   */
  execute<R extends T>(fn: (context: CallContext) => R | PromiseLike<R>, options?: ExecuteOptions): Promise<R> {
    if (typeof fn !== 'function') {
      return Promise.reject(typeError(`execute needs a function to run, but was given ${fn === null ? 'null' : typeof fn}`))
    }
    let signal: AbortSignal | undefined
    let timeoutMs: number | undefined
    if (options !== undefined) {
      try {
        const own = plainExecuteOptions(options) ?? readCallOptions<ExecuteOptions>('execute', options, EXECUTE_OPTIONS)
        signal = checkSignal(own.signal)
        if (own.timeout !== undefined) timeoutMs = toTimeoutMillis('timeout', own.timeout)
      } catch (e) {
        return Promise.reject(e)
      }
    }
    if (timeoutMs === undefined && signal === undefined) {
      const word = this.#leanWord()
      if (word !== -1) return this.#runLean(fn, word)
    }
    const permit = this.#takePermit()
    if (permit < 0) return this.#rejected(permit)
    if (timeoutMs === undefined) {
      const breakerTimeout = (this.#settings ??= callSettings(this.#native))[0]!
      if (!Number.isNaN(breakerTimeout)) timeoutMs = breakerTimeout
    }
    if (timeoutMs === undefined && signal === undefined) return this.#runUnbounded(fn, permit)
    return this.#run(fn, permit, signal, timeoutMs)
  }

  /**
   * Runs a synchronous `fn` under the breaker, for hot loops: one native call to ask, one to
   * report, no promise. Throws `BrokenCircuitError` when refused (or returns the fallback's value,
   * which must then be synchronous too), and `fn`'s own error after counting it.
   *
   * @example
   * const price = pricing.executeSync(() => model.price(order))
   */
  executeSync<R extends T>(fn: () => R): R {
    if (typeof fn !== 'function') {
      throw typeError(`executeSync needs a function to run, but was given ${fn === null ? 'null' : typeof fn}`)
    }
    // The common case, in one frame: closed, the success taken in the lane (no native call),
    // nothing to time, judge or tell. Anything else takes the general path below.
    // (Written out here, not through #leanWord and #leanSucceeded: fewer instructions on a path
    // that costs few.)
    const lane = this.#started
    if (lane[2] === 1 && (this.#leanSeen === callListenersVersion || this.#mayBeLean())) {
      const view = this.#word!
      const word = view[0]!
      if (wordIsClosed(word)) {
        lane[0] = (lane[0]! + 1) | 0 // started, before it runs: in flight while it does
        const seen = callListenersVersion
        let result: R
        try {
          result = fn()
        } catch (error) {
          return this.#syncFailed(wordPermit(word), Number.NaN, error)
        }
        // The same word: still closed in the same period, so the permit is current.
        if (view[0] === word) {
          lane[1] = (lane[1]! + 1) | 0
          this.#heardLean(seen)
        } else {
          this.#finish(wordPermit(word), Outcome.Success, Number.NaN, undefined)
        }
        return result
      }
    }
    const permit = this.#takePermit()
    if (permit < 0) {
      const error = this.#refusal(permit)
      if (this.#fallback) return this.#fallback.valueFor(error) as R
      throw error
    }
    const started = this.#startClock()
    let result: R
    try {
      result = fn()
    } catch (error) {
      return this.#syncFailed(permit, started, error)
    }
    return this.#succeeded(permit, started, result)
  }

  /** `executeSync`'s `fn` threw: counted as the filter says, then the fallback's value or the error. */
  #syncFailed<R>(permit: number, started: number, error: unknown): R {
    const outcome = this.#classify(error, undefined)
    this.#finish(permit, outcome, started, error)
    if (outcome !== Outcome.Success && this.#fallback) return this.#fallback.valueFor(error) as R
    throw error
  }

  /**
   * A permit, or a rejection code (< 0). A closed breaker gives its permit from the shared state
   * word without a native call (if another thread just moved it, the core counts the call as
   * stale); any other state asks the core, which may move it (announced here).
   */
  #takePermit(): number {
    const view = this.#word === undefined ? this.#viewWord() : this.#word
    const word = view === null ? 1 : view[0]!
    if (wordIsClosed(word)) {
      const started = this.#started
      started[0] = (started[0]! + 1) | 0 // wraps at 2^32, as the core expects
      return wordPermit(word)
    }
    const code = acquireIn(this.#slot)
    if (!acquireMoved(code)) return code
    this.#announce(acquireTransition(code))
    return permitOf(code)
  }

  #viewWord(): Int32Array | null {
    let view: Int32Array | null = null
    try {
      // Runtimes that forbid external buffers (a V8 sandbox, as in Electron) refuse them: ask instead.
      if (LITTLE_ENDIAN) {
        const started = new Int32Array(this.#native.startedView(), 0, 3)
        view = new Int32Array(this.#native.stateView(), 0, 1)
        this.#started = started
      }
    } catch {
      view = null
    }
    return (this.#word = view)
  }

  /** Whether a call would be let through now, without taking a permit or counting anything. */
  isCallPermitted(): boolean {
    return permittedIn(this.#slot)
  }

  /**
   * The lean case of a call: closed, its success taken in the lane, nothing to time, judge or
   * tell. Then counts the call as started and returns the state word it passed on (its permit);
   * else -1, and nothing is counted.
   */
  #leanWord(): number {
    const lane = this.#started
    if (lane[2] !== 1 || !(this.#leanSeen === callListenersVersion || this.#mayBeLean())) return -1
    // The breaker's own timeout (which `configure` may set from any thread) needs the general path.
    if (!Number.isNaN((this.#settings ??= callSettings(this.#native))[0]!)) return -1
    const word = this.#word![0]!
    if (!wordIsClosed(word)) return -1
    lane[0] = (lane[0]! + 1) | 0 // started, before it runs: in flight while it does
    return word
  }

  /** A lean call passed on `word` succeeded: taken in the lane if the word is the same still. */
  #leanSucceeded(word: number, seen: number): void {
    // The same word: still closed in the same period, so the permit is current.
    if (this.#word![0] === word) {
      const lane = this.#started
      lane[1] = (lane[1]! + 1) | 0
      this.#heardLean(seen)
    } else {
      this.#finish(wordPermit(word), Outcome.Success, Number.NaN, undefined)
    }
  }

  /** A lean call (see `#leanWord`), asynchronous. */
  async #runLean<R extends T>(fn: (context: CallContext) => R | PromiseLike<R>, word: number): Promise<R> {
    const seen = callListenersVersion
    let result: R
    try {
      result = await fn(UNBOUNDED)
    } catch (error) {
      return this.#failed(wordPermit(word), this.#classify(error, undefined), Number.NaN, error)
    }
    this.#leanSucceeded(word, seen)
    return result
  }

  /** The common case, with nothing to race: no timer, no abort listener, no extra promise. */
  async #runUnbounded<R extends T>(fn: (context: CallContext) => R | PromiseLike<R>, permit: number): Promise<R> {
    const started = this.#startClock()
    let result: R
    try {
      result = await fn(UNBOUNDED)
    } catch (error) {
      return this.#failed(permit, this.#classify(error, undefined), started, error)
    }
    return this.#succeeded(permit, started, result)
  }

  /** A call with a caller signal or a timeout: raced, and once stopped, the stop decides its outcome. */
  async #run<R extends T>(
    fn: (context: CallContext) => R | PromiseLike<R>,
    permit: number,
    callerSignal: AbortSignal | undefined,
    timeoutMs: number | undefined,
  ): Promise<R> {
    const started = this.#startClock()
    const race = new AbortRace()
    let result: R
    try {
      result = await race.start(fn, callerSignal, timeoutMs, this.#name, this.#policy.unref !== true, true)
    } catch (error) {
      if (race.stoppedBy === undefined) return this.#failed(permit, this.#classify(error, callerSignal), started, error)
    } finally {
      race.end()
    }
    // The caller's abort (or a signal that throws, the caller's bug) is ignored, not counted against the dependency.
    if (race.stoppedBy !== undefined) {
      return this.#failed(permit, race.stoppedBy === 'caller' ? Outcome.Ignored : Outcome.Timeout, started, race.reason)
    }
    return this.#succeeded(permit, started, result!)
  }

  #succeeded<R extends T>(permit: number, started: number, result: R): R {
    if (this.#policy.isResultFailure === undefined) {
      // Most breakers judge results not at all: a success, often taken in the lane (no native call).
      if (!Number.isNaN(started) || !this.#succeededInLane(permit)) this.#finish(permit, Outcome.Success, started, undefined)
      return result
    }
    let failed: boolean
    try {
      failed = answerOf('isResultFailure', this.#policy.isResultFailure?.(result)) === true
    } catch (filterError) {
      // A broken filter must not lose the call: count it as a failure and surface the filter's error.
      this.#finish(permit, Outcome.Failure, started, filterError)
      throw filterError
    }
    this.#finish(permit, failed ? Outcome.Failure : Outcome.Success, started, failed ? result : undefined)
    return result
  }

  async #failed<R extends T>(permit: number, outcome: Outcome, started: number, error: unknown): Promise<R> {
    this.#finish(permit, outcome, started, error)
    if (outcome !== Outcome.Ignored && outcome !== Outcome.Success && this.#fallback) {
      return (await this.#fallback.valueFor(error)) as R
    }
    throw error
  }

  /**
   * How a call that threw counts. Whatever `fn` threw (a revoked Proxy, an object whose getters
   * throw) and whatever the filter does, this answers: anything that throws while judging makes
   * the call a failure, and the call's own error stands.
   */
  #classify(error: unknown, callerSignal: AbortSignal | undefined): Outcome {
    try {
      if (callerSignal?.aborted && error === callerSignal.reason) return Outcome.Ignored
      if (isTimeoutError(error) && error.source === this.#name) return Outcome.Timeout
      const failed = answerOf('isFailure', this.#policy.isFailure?.(error)) ?? true
      // A timeout policy's timeout inside the breaker counts as a timeout too.
      return !failed ? Outcome.Success : isTimeoutError(error) ? Outcome.Timeout : Outcome.Failure
    } catch {
      return Outcome.Failure
    }
  }

  /** The call's start time, or NaN when nothing will read its duration (saves two clock reads). */
  #startClock(): number {
    return (this.#settings ??= callSettings(this.#native))[1] !== 0 || this.#listeners()?.callsHeard ? performance.now() : Number.NaN
  }

  #finish(permit: number, outcome: Outcome, started: number, error: unknown): void {
    // NaN (untimed) reaches the core as a zero duration, which no rule reads in that case.
    const durationMs = Number.isNaN(started) ? 0 : performance.now() - started
    if (outcome !== Outcome.Success || !this.#succeededInLane(permit)) {
      const code = recordIn(this.#slot, permit, outcome, durationMs)
      // The transition this outcome caused happened with it: announced before the call's own event,
      // so a success or failure listener that changes the state comes after it in every listener's eyes.
      if (code !== 0) this.#announce(code)
    }
    const events = this.#listeners()
    if (events === undefined) return
    if (outcome === Outcome.Success && events.successes.active) events.successes.emit({ durationMs })
    if ((outcome === Outcome.Failure || outcome === Outcome.Timeout) && events.failures.active) {
      events.failures.emit({ durationMs, error })
    }
  }

  /**
   * Reports a success without a native call, when the core takes it so (`fast`) and the state
   * word still gives `permit` (closed, same period): a success then moves no state, and the core
   * counts it as `record` would, before it judges a failure or anything reads.
   */
  #succeededInLane(permit: number): boolean {
    const lane = this.#started
    if (lane[2] !== 1) return false
    const word = this.#word![0]!
    if (!wordIsClosed(word) || wordPermit(word) !== permit) return false
    lane[1] = (lane[1]! + 1) | 0 // wraps at 2^32, as the core expects
    return true
  }

  #rejected<R>(code: number): Promise<R> {
    const error = this.#refusal(code)
    const fallback = this.#fallback
    if (fallback) return new Promise<R>((resolve) => resolve(fallback.valueFor(error) as R))
    return Promise.reject(error) // no throw: a throw and catch would cost about a microsecond
  }

  /** A refusal's error, announced to listeners. */
  #refusal(code: number): BrokenCircuitError {
    const transition = refusalTransition(code)
    if (transition !== 0) this.#announce(transition)
    const error = BrokenCircuitError.create(this.#name, refusalState(code), refusalRetryAfterMs(code))
    const events = this.#listeners()
    if (events?.rejections.active) events.rejections.emit(error)
    return error
  }

  /** This breaker's listeners in this thread, if it has any (looked up again only when `callListenersVersion` changes). */
  #listeners(): BreakerEvents | undefined {
    if (this.#seen !== callListenersVersion) this.#look()
    return this.#events
  }

  /** Whether a call may be lean (no result filter, no success or failure listener), looking again if listeners changed. */
  #mayBeLean(): boolean {
    if (this.#seen !== callListenersVersion) this.#look()
    return this.#leanSeen === this.#seen
  }

  /** Looks the breaker's listeners up again. */
  #look(): void {
    const events = this.#hub.peek(this.#native.id)
    const seen = callListenersVersion
    this.#events = events
    this.#seen = seen
    this.#leanSeen = this.#policy.isResultFailure === undefined && events?.callsHeard !== true ? seen : -1
  }

  /** A lean call succeeded: a success listener added while it ran hears of it. */
  #heardLean(seen: number): void {
    if (seen === callListenersVersion) return
    const successes = this.#listeners()?.successes
    if (successes?.active) successes.emit({ durationMs: 0 })
  }

  /** This breaker's listeners in this thread, made if it has none yet: for a subscription. */
  #subscribe(): BreakerEvents {
    return this.#hub.eventsOf(this.#native.id)
  }

  /** A transition this thread just made (code 0: none) reaches the listeners before the call returns. */
  #announce(code: number): void {
    if (code !== 0) this.#hub.drain()
  }

  /**
   * Calls `listener` on every state change of the breaker, made by any thread of the process
   * (any worker, either module copy, the native core itself), once each and in order. A change
   * this thread makes is delivered before the call that made it returns; one made elsewhere
   * soon after (the listener never keeps the process alive). @returns a disposer
   */
  onStateChange(listener: (change: StateChange) => void): Disposer {
    return this.#subscribe().changes.add(listener)
  }

  /** Calls `listener` when the breaker opens (or is forced open), in any thread. @returns a disposer */
  onOpen(listener: (change: StateChange) => void): Disposer {
    return this.#onEntering(['open', 'forced_open'], listener)
  }

  /** Calls `listener` when the breaker moves to half-open, in any thread. @returns a disposer */
  onHalfOpen(listener: (change: StateChange) => void): Disposer {
    return this.#onEntering(['half_open'], listener)
  }

  /** Calls `listener` when the breaker closes, in any thread. @returns a disposer */
  onClose(listener: (change: StateChange) => void): Disposer {
    return this.#onEntering(['closed'], listener)
  }

  #onEntering(states: StateName[], listener: (change: StateChange) => void): Disposer {
    if (typeof listener !== 'function') throw typeError(`a listener must be a function, but was ${typeof listener}`)
    return this.#subscribe().changes.add((change) => states.includes(change.to) && listener(change))
  }

  /** Calls `listener` after every successful call this thread makes through the breaker. @returns a disposer */
  onSuccess(listener: (event: CallEvent) => void): Disposer {
    return this.#subscribe().successes.add(listener)
  }

  /** Calls `listener` after every failed or timed-out call this thread makes. @returns a disposer */
  onFailure(listener: (event: CallEvent) => void): Disposer {
    return this.#subscribe().failures.add(listener)
  }

  /** Calls `listener` for every call this thread was refused. @returns a disposer */
  onReject(listener: (error: BrokenCircuitError) => void): Disposer {
    return this.#subscribe().rejections.add(listener)
  }

  /** A snapshot of the breaker's metrics (shared by every thread). */
  metrics(): Metrics {
    return toMetrics(this.#native.metrics())
  }

  /**
   * Latency of the calls the breaker has timed, in milliseconds, or `undefined` when it does not
   * track latency (enable with `trackLatency` or a `latency` rule, as `tradingPause` does).
   *
   * @example
   * const { p99 } = orders.latencyStats() ?? { p99: 0 }
   */
  latencyStats(): LatencyStats | undefined {
    return this.metrics().latency
  }

  /**
   * Moves an open (or forced-open) breaker to half-open now, so the next calls probe before the
   * open duration has passed: what a recovery manager does when its health check passes.
   * Returns whether it moved.
   */
  halfOpen(): boolean {
    const code = this.#native.halfOpen()
    this.#announce(code)
    return code !== 0
  }

  /**
   * Refuses calls for `duration` because the dependency asked callers to wait (an HTTP
   * `Retry-After`, say): forced open with reason `retry_after`, then probes. Never shortens a
   * longer wait, and leaves a disabled breaker alone. Returns whether the state changed.
   *
   * @example
   * if (response.status === 429) marketData.holdOff(Number(response.headers.get('retry-after')) * 1000)
   */
  holdOff(duration: Duration): boolean {
    const code = this.#native.holdOff(toMillis('holdOff duration', duration))
    this.#announce(code)
    return code !== 0
  }

  /** Closes the breaker and forgets its window, consecutive failures and backoff. */
  reset(): void {
    this.#announce(this.#native.reset())
  }

  /** Refuses every call, for `duration` if given (then probes), else until `reset()`. */
  forceOpen(duration?: Duration): void {
    const ms = duration === undefined ? undefined : toMillis('forceOpen duration', duration)
    this.#announce(this.#native.forceOpen(ms))
  }

  /** Lets every call through, still counting, until `reset()` or `forceOpen()`. */
  disable(): void {
    this.#announce(this.#native.disable())
  }

  /**
   * Forces the breaker open (no deadline) until the returned handle is disposed. Isolations are
   * counted, in every thread: the breaker stays forced open while any handle is held, and the
   * last `dispose()` closes it, but only if nothing else changed it since (a `reset()`,
   * `disable()` or `forceOpen()` by anyone ends the isolation, and its handles then change
   * nothing). A breaker already forced open until reset stays so. While isolated, `halfOpen()`
   * does not move it. A handle is its thread's: a worker that ends releases the isolations it
   * took; a handle dropped without `dispose()` keeps the breaker isolated until `reset()`.
   *
   * @example
   * const maintenance = orders.isolate()
   * // ... later
   * maintenance.dispose()
   */
  isolate(): { dispose(): void } {
    const hold = this.#native.isolate()
    this.#announce(hold.transition)
    let disposed = false
    return {
      dispose: () => {
        if (disposed) return
        disposed = true
        this.#announce(hold.release())
      },
    }
  }

  // --- runtime control (issue 14): configure, options ---

  /**
   * Changes the breaker's rules live, for every handle in every thread at once: thresholds,
   * rules, open durations, probes, `timeout`. `partial` is read over the options in force (an
   * option left out keeps its value; `latency` is replaced whole) and checked whole, as
   * `getOrCreate` checks options: a bad option throws and changes nothing. The state, the
   * window's contents, the failures in a row, the backoff, every permit in flight and every
   * metric survive; a call in flight is judged by the old rules or the new ones and never fails
   * because of the change. If the window already breaks the new rules, the breaker opens at
   * once with reason `reconfigured`. An open breaker keeps its open-until: new open durations
   * apply from its next opening. The window's shape (`windowSize`, `window`, `windowBuckets`)
   * and `trackLatency` are fixed when the breaker is made: changing them throws.
   *
   * @throws TypeError or RangeError (code `ERR_BREAKWATER_INVALID_OPTION`) naming the option,
   * the rule and the value.
   * @example
   * marketData.configure({ failureRate: 25, openFor: '10s' })
   */
  configure(partial: BreakerOptions): void {
    const native = readPartialOptions(partial)
    let code: number
    try {
      code = this.#native.configure(native)
    } catch (e) {
      throw fromNative(e)
    }
    if (this.#settings) refreshCopy(this.#settings, this.#native)
    this.#announce(code)
  }

  /**
   * The breaker's options in force, every one given: what it was made with, changed by every
   * `configure` since (in any thread).
   *
   * @example
   * const { failureRate, openFor } = marketData.options()
   */
  options(): BreakerOptions {
    return optionsOf(this.#native)
  }

  /**
   * The breaker's record as `registry.snapshot()` keeps it (state, open-until as wall-clock
   * time, backoff attempt, generation, window counts, lifetime counters), so
   * `JSON.stringify(breaker)` shows it.
   */
  /**
   * Why the latency threshold is what it is: the adaptive threshold's state in this thread (the
   * threshold in force, its baseline, the periods left out) and its last changes, each with its
   * inputs (baseline, sample count, percentile, factor, clamp applied, old and new value).
   * `adaptive: false` when no adaptive threshold runs for the breaker in this thread.
   *
   * @example
   * for (const c of orders.explain().changes) console.log(`${c.fromMs} -> ${c.toMs} ms (baseline ${c.baselineMs} ms)`)
   */
  explain(): Explanation {
    return explainOf(this.#native.id)
  }

  /**
   * In shadow mode (`latency.adaptive.shadow`): calls `listener` for each period whose calls
   * would have opened the breaker at the threshold the adaptive rule would use. Nothing acts on
   * it. @returns a disposer
   */
  onWouldOpen(listener: (event: WouldOpenEvent) => void): Disposer {
    return onWouldOpenOf(this.#native.id, listener)
  }

  toJSON(): BreakerRecord {
    return recordOf(this.#name, this.#native)
  }
}
