import type { CallContext } from '../signal.js'
import { BulkheadRejectedError, fromNative } from '../errors.js'
import { NativeBulkhead, type NativeBulkheadStats } from '../native.js'
import { checkSignal, NEVER_ABORTS, readCallOptions } from '../signal.js'
import { whole } from './check.js'
import { checkFunction, type Policy, type PolicyCallOptions, type POLICY_TYPES } from './policy.js'
import { checkName, describe, ownOptions, rangeError, typeError } from '../validate.js'

/** Limits of a bulkhead. */
export interface BulkheadOptions {
  /** Calls running at once, in the whole process (every worker thread). */
  maxConcurrent: number
  /** Calls that may wait for a permit; more are refused with `BulkheadRejectedError`. @default 0 */
  maxQueue?: number
}

/** Per-call options of a bulkhead. */
export interface BulkheadCallOptions extends PolicyCallOptions {
  /**
   * Higher goes first out of the queue; equal priorities in order of arrival. A whole number
   * within -2147483648..2147483647.
   * @default 0
   */
  priority?: number
}

const OPTIONS: readonly (keyof BulkheadOptions)[] = ['maxConcurrent', 'maxQueue']
const CALL_OPTIONS: readonly (keyof BulkheadCallOptions)[] = ['signal', 'priority']
/** The code of the error for limits that differ from those of the existing bulkhead. */
const OPTIONS_DIFFER = 'ERR_BREAKWATER_OPTIONS_DIFFER'
const MIN_PRIORITY = -(2 ** 31)
const MAX_PRIORITY = 2 ** 31 - 1

/** What a bulkhead is doing, process-wide: permits in all and in use, queue length and use, totals. */
export type BulkheadStats = NativeBulkheadStats

/**
 * One thread's link to a named native bulkhead: the queued callers of this thread, woken by
 * whichever thread frees a permit. Shared by every handle of the name in the thread, so the
 * thread has one wake function per bulkhead.
 */
class BulkheadShare {
  readonly waiting = new Map<number, (permit: number) => void>()
  #listening = false

  constructor(readonly native: NativeBulkhead) {}

  /**
   * Waits for a permit as `ticket`; aborting takes the caller out of line for good (a permit
   * already on its way goes to the next caller, natively, so nothing is owed).
   */
  wait(ticket: number, signal: AbortSignal | undefined): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      const onAbort = () => {
        this.native.cancel(ticket)
        this.waiting.delete(ticket)
        this.#idle()
        reject(signal!.reason)
      }
      this.waiting.set(ticket, (permit) => {
        try {
          signal?.removeEventListener('abort', onAbort)
        } catch {
          // a signal that cannot let go of the listener: the permit is ours all the same
        }
        resolve(permit)
      })
      if (this.waiting.size === 1) this.native.holdWake(true)
      try {
        signal?.addEventListener('abort', onAbort, { once: true })
      } catch (error) {
        // A signal that cannot be listened to (a broken polyfill): leave the line at once, as an
        // abort would, so no ticket is left queued for a permit nobody will take.
        this.native.cancel(ticket)
        this.waiting.delete(ticket)
        this.#idle()
        reject(error)
      }
    })
  }

  /** Sets the wake function, once. */
  listen(): void {
    if (this.#listening) return
    this.native.onWake((ticket: number) => {
      const permit = this.native.claim(ticket)
      if (permit < 0) return // cancelled after its permit was sent: the permit went on natively
      const waiter = this.waiting.get(ticket)
      if (!waiter) {
        this.native.release(permit) // not ours (never expected): pass it on
        return
      }
      this.waiting.delete(ticket)
      this.#idle()
      waiter(permit)
    })
    this.#listening = true
  }

  /** Lets the process exit once nobody in this thread waits. */
  #idle(): void {
    if (this.waiting.size === 0) this.native.holdWake(false)
  }
}

/** This thread's share of each process-wide bulkhead, by name (the core's half is its `BulkheadShare` too). */
const shares = new Map<string, BulkheadShare>()

/**
 * A concurrency limit shared by the whole process: at most `maxConcurrent` calls run at once
 * across every worker thread, and up to `maxQueue` more wait, by priority. Make one with
 * `bulkhead()`.
 */
export class Bulkhead implements Policy {
  /** Type-only: what this policy adds, for `wrap`. */
  declare readonly [POLICY_TYPES]?: { context: object; fallback: never }
  readonly #name: string
  readonly #share: BulkheadShare

  /** @internal Made by `bulkhead()`. */
  constructor(name: string, share: BulkheadShare) {
    this.#name = name
    this.#share = share
  }

  /** The bulkhead's name. */
  get name(): string {
    return this.#name
  }

  /**
   * Runs `fn` when a permit is free, waiting in the queue if there is room, and always gives
   * the permit back (also when `fn` throws synchronously). Rejects with `BulkheadRejectedError`
   * when the queue is full, or with the signal's reason if it aborts while queued.
   *
   * @example
   * const report = await heavyReports.execute(() => renderReport(id), { priority: 10 })
   */
  async execute<R>(fn: (context: CallContext) => R | PromiseLike<R>, options?: BulkheadCallOptions): Promise<R> {
    checkFunction('execute', fn)
    const own = readCallOptions<BulkheadCallOptions>('execute', options, CALL_OPTIONS)
    const signal = checkSignal(own.signal)
    const priority = priorityOf(own.priority)
    if (signal?.aborted) throw signal.reason
    const native = this.#share.native
    let permit = native.tryAcquire()
    if (permit < 0) {
      this.#share.listen()
      const code = native.acquireOrQueue(priority)
      if (code === -1) {
        const { maxConcurrent, maxQueue } = native.stats()
        throw BulkheadRejectedError.create(this.#name, maxConcurrent, maxQueue)
      }
      permit = code >= 0 ? code : await this.#share.wait(-code - 2, signal)
    }
    try {
      return await fn({ signal: signal ?? NEVER_ABORTS })
    } finally {
      native.release(permit)
    }
  }

  /** Use and totals, across every thread. */
  stats(): BulkheadStats {
    return this.#share.native.stats()
  }
}

/**
 * This thread's handle of the process-wide bulkhead called `name`, created with `options` if
 * the process has none yet. Options are always checked; for a bulkhead that exists with other
 * limits (another thread made it), an `Error` with code `ERR_BREAKWATER_OPTIONS_DIFFER` names
 * each limit that differs with both values, and nothing is created.
 *
 * @throws TypeError or RangeError (code `ERR_BREAKWATER_INVALID_OPTION`) for a bad name or option.
 * @throws Error (code `ERR_BREAKWATER_OPTIONS_DIFFER`) for limits unlike the existing bulkhead's.
 * @example
 * import { bulkhead } from 'breakwater'
 * const heavyReports = bulkhead('reports', { maxConcurrent: 4, maxQueue: 100 })
 */
export function bulkhead(name: string, options: BulkheadOptions): Bulkhead {
  checkName(name)
  const { maxConcurrent, maxQueue } = bulkheadLimits(options)
  let share = shares.get(name)
  if (!share) {
    try {
      share = new BulkheadShare(NativeBulkhead.named(name, maxConcurrent, maxQueue))
    } catch (e) {
      throw fromNative(e)
    }
  }
  checkSameLimits(name, share.native.stats(), { maxConcurrent, maxQueue })
  shares.set(name, share)
  return new Bulkhead(name, share)
}

/**
 * @internal The limits `options` ask for, checked as `bulkhead()` checks them, creating nothing:
 * for a caller that must check everything before it creates anything (a service's policies).
 */
export function bulkheadLimits(options: unknown): Required<BulkheadOptions> {
  if (options === undefined) throw typeError('bulkhead options must be an object like { maxConcurrent: 10 }, but was undefined')
  const own = ownOptions<BulkheadOptions>('bulkhead', options, OPTIONS)
  return { maxConcurrent: whole('maxConcurrent', own.maxConcurrent, 1), maxQueue: whole('maxQueue', own.maxQueue ?? 0, 0) }
}

/** Two creators of one name agree on its limits, or the later one is told (not silently ignored). */
function checkSameLimits(name: string, existing: BulkheadStats, given: Required<BulkheadOptions>): void {
  const differ = OPTIONS.filter((key) => existing[key] !== given[key]).map((key) => `${key} is ${existing[key]}, given ${given[key]}`)
  if (differ.length === 0) return
  const message = `bulkhead ${JSON.stringify(name)} exists with other options: ${differ.join('; ')}; give the same options`
  throw Object.assign(new Error(message), { code: OPTIONS_DIFFER })
}

/** @internal The queue priority of a call: a whole number that fits the native queue. */
export function priorityOf(value: unknown): number {
  if (value === undefined) return 0
  if (typeof value !== 'number') throw typeError(`priority must be a number, but was ${describe(value)}`)
  if (!Number.isInteger(value) || value < MIN_PRIORITY || value > MAX_PRIORITY) {
    throw rangeError(`priority must be a whole number within ${MIN_PRIORITY}..${MAX_PRIORITY}, but was ${value}`)
  }
  return value
}
