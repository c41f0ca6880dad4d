import { TimeoutError } from './errors.js'
import * as keepAlive from './keep-alive.js'
import { type CallContext, LazyAbort } from './signal.js'

/** The options of the abort listener: one object for every call. */
const ONCE: AddEventListenerOptions = Object.freeze({ once: true })

/** Who stopped a raced call: its caller (the caller's signal aborted, or threw) or its timeout. */
export type StoppedBy = 'caller' | 'timeout'

/**
 * One call of a function raced against its caller's signal and a timeout: what a breaker with a
 * timeout or a signal and the timeout policy both do. The first stop (the caller's abort or the
 * timeout) aborts the function's signal; from then on the stop decides how the call ends, even if
 * the function settles afterwards, from inside its abort listener (fetch rejects there
 * synchronously). Used as
 * ```ts
 * const race = new AbortRace()
 * try {
 *   result = await race.start(fn, signal, timeoutMs, name, true, abandon)
 * } catch (error) {
 *   if (race.stoppedBy === undefined) ... // fn's own error
 * } finally {
 *   race.end()
 * }
 * if (race.stoppedBy !== undefined) ... // the stop decides: race.reason
 * ```
 * Not an async function itself: the caller's `await` is the only one (a second costs about a
 * tenth of a breaker call with a timeout).
 */
export class AbortRace {
  /** Who stopped the call; `undefined` while nobody did. */
  stoppedBy: StoppedBy | undefined = undefined
  /** The stop's reason: the caller's abort reason (or what its signal threw), or a `TimeoutError`. */
  reason: unknown = undefined
  readonly #call = new LazyAbort()
  #caller: AbortSignal | undefined = undefined
  #onCallerAbort: (() => void) | undefined = undefined
  #timer: NodeJS.Timeout | undefined = undefined
  #holdsProcess = false
  #giveUp: ((reason: unknown) => void) | undefined = undefined

  #stop(by: StoppedBy, reason: unknown): void {
    if (this.stoppedBy !== undefined) return
    this.stoppedBy = by
    this.reason = reason
    this.#call.abort(reason)
    this.#giveUp?.(reason)
  }

  /**
   * Starts `fn` and returns what to await: its result, or with `abandon` its result raced
   * against the stop (which then rejects at once, while `fn` may still run). Throws the stop's
   * reason without running `fn` if the caller's signal has aborted already, or if reading it
   * throws (the caller's bug: stopped by the caller, with what it threw). `end()` must follow.
   *
   * @param caller the caller's signal, if any
   * @param timeoutMs the timeout, if any; its `TimeoutError` names `source`
   * @param holdProcess keep the process alive while the timeout is pending (as pending I/O would)
   * @param abandon once stopped, settle at once; else wait for `fn` to settle
   */
  start<R>(
    fn: (context: CallContext) => R | PromiseLike<R>,
    caller: AbortSignal | undefined,
    timeoutMs: number | undefined,
    source: string,
    holdProcess: boolean,
    abandon: boolean,
  ): R | PromiseLike<R> {
    if (caller !== undefined) {
      try {
        if (caller.aborted) this.#stop('caller', caller.reason)
        else {
          this.#onCallerAbort = () => this.#stop('caller', caller.reason)
          caller.addEventListener('abort', this.#onCallerAbort, ONCE)
          this.#caller = caller
        }
      } catch (error) {
        this.#stop('caller', error)
      }
      if (this.stoppedBy !== undefined) throw this.reason
    }
    if (timeoutMs !== undefined) {
      this.#timer = setTimeout(() => this.#stop('timeout', new TimeoutError(source, timeoutMs)), timeoutMs)
      this.#timer.unref() // the call keeps the process alive through keepAlive, cheaper than a ref'd timer
      this.#holdsProcess = holdProcess
      if (holdProcess) keepAlive.hold()
    }
    if (!abandon) return fn(this.#call)
    const running = fn(this.#call) // a synchronous throw leaves from here, as without a race
    if (this.stoppedBy !== undefined) {
      // Stopped while `fn` ran (it aborted its caller's signal itself): settle at once.
      const stopped = Promise.reject(this.reason)
      stopped.catch(() => {})
      return Promise.race([running, stopped])
    }
    // One promise settled by whichever comes first, `fn` or the stop (a race of two promises
    // would make three and an array). Subscribing to `fn`'s promise handles a rejection after
    // the stop: it is not lost, and it changes nothing.
    return new Promise<R>((resolve, reject) => {
      this.#giveUp = reject
      Promise.resolve(running).then(resolve, reject)
    })
  }

  /** Lets go of the timer and the caller's signal; the call's end is decided. */
  end(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer)
      if (this.#holdsProcess) keepAlive.release()
    }
    try {
      this.#caller?.removeEventListener('abort', this.#onCallerAbort!)
    } catch {
      // the caller's signal cannot let go of the listener: nothing of the call's outcome depends on it
    }
  }
}
