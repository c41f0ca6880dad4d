import type { IncomingMessage, ServerResponse } from 'node:http'
import { answerOf, warn } from '../callbacks.js'
import { isBrokenCircuitError, isTimeoutError } from '../errors.js'
import { brokenCircuitAnswer, type BreakerRefusal, type ProtectAnswer, timeoutAnswer } from './protect-answer.js'

/**
 * One request run under a breaker, the same way for every server: the request is one call of
 * `breaker.execute`, which hands its permit back exactly once. The call ends when the response
 * finishes (success or failure, as `isFailure` judges the status), when the client goes before
 * that (an abort: counted as ignored), or when the timeout cuts it (counted as a timeout). The
 * raw response's `finish` and `close` events decide, whatever the framework: every response
 * emits `close` once, finished or not.
 */

/** The breaker `protect` needs: a `CircuitBreaker` from any copy of breakwater. */
export interface ProtectedBreaker {
  readonly name: string
  readonly state: string
  execute(fn: (context: { readonly signal: AbortSignal }) => Promise<undefined>, options?: { signal?: AbortSignal; timeout?: number }): Promise<unknown>
  metrics(): object
}

/** What a protected handler is handed: aborted when its request is cut (timeout) or its client goes. */
export interface ProtectContext {
  readonly signal: AbortSignal
}

/** What every request of one `protect` shares. */
export interface Protector {
  readonly breaker: ProtectedBreaker
  /** `protect`'s `timeout` in ms; `undefined` leaves the breaker's own. */
  readonly timeoutMs: number | undefined
  readonly isFailure: (statusCode: number, error: unknown) => unknown
}

/**
 * The error a protected call fails with when its response counts as a failure and the route
 * threw nothing (a 5xx it answered itself): what the breaker's `onFailure` listeners see.
 */
export class FailedResponseError extends Error {
  readonly code = 'ERR_BREAKWATER_RESPONSE_FAILED'
  constructor(
    /** The breaker's name. */
    readonly breaker: string,
    /** The status the route answered with. */
    readonly statusCode: number,
  ) {
    super(`${breaker} answered ${statusCode}`)
    this.name = 'FailedResponseError'
  }
}

/** The guards of a request, on the request: registered, so error handlers of any copy find them. */
const GUARDS = Symbol.for('breakwater.protect.guards')

type GuardedRequest = IncomingMessage & { [GUARDS]?: RequestGuard[] }

/** A request's context when it runs unguarded (its client left before it reached `protect`). */
const UNGUARDED: ProtectContext = Object.freeze({ signal: new AbortController().signal })

/**
 * Tells the guards of `req` what its route threw, so `isFailure` judges with it. Error handlers
 * call it; a later error does not replace the first (the route's own).
 */
export function noteRouteError(req: IncomingMessage, error: unknown): void {
  const guards = (req as GuardedRequest)[GUARDS]
  if (guards) for (const guard of guards) guard.note(error)
}

/** One request's state under one breaker. */
export class RequestGuard {
  readonly #protector: Protector
  readonly #res: ServerResponse
  readonly #answer: (answer: ProtectAnswer) => void
  readonly #client = new AbortController()
  #settle!: (failure: { error: unknown } | undefined) => void
  #context: ProtectContext | undefined
  /** The outcome was handed to the call (the response finished, or `fail` was called). */
  #decided = false
  /** The client went before the outcome was decided. */
  #gone = false
  /** The call ended before its outcome was decided: the timeout passed. */
  #cut = false
  #error: unknown
  #hasError = false

  constructor(protector: Protector, res: ServerResponse, answer: (answer: ProtectAnswer) => void) {
    this.#protector = protector
    this.#res = res
    this.#answer = answer
  }

  /** Whether the call ended without an outcome of the route's (cut by the timeout, or the client went). */
  get abandoned(): boolean {
    return this.#cut || this.#gone
  }

  /** Whether the route's outcome was already counted. */
  get decided(): boolean {
    return this.#decided
  }

  note(error: unknown): void {
    if (this.#hasError) return
    this.#hasError = true
    this.#error = error
  }

  /** Counts the request as failed with `error` now (a route that threw after it began answering). */
  fail(error: unknown): void {
    this.note(error)
    if (this.#decided || this.abandoned) return
    this.#decided = true
    this.#settle({ error })
  }

  /**
   * Asks the breaker; `proceed` runs the route once it is admitted. Refused, it answers the 503
   * and `proceed` never runs.
   */
  start(req: IncomingMessage, proceed: (context: ProtectContext) => void): void {
    const res = this.#res
    // A client that left before the request reached us (or a response already sent): no `close`
    // or `finish` will come to end a call, so none is started, and the request goes on as it
    // would without protect.
    if (res.destroyed || res.writableEnded) return proceed(UNGUARDED)
    const ended = new Promise<{ error: unknown } | undefined>((resolve) => (this.#settle = resolve))
    let admitted = false
    const run = (context: ProtectContext): Promise<undefined> => {
      admitted = true
      this.#context = context
      this.#watch(req)
      proceed(context)
      return ended.then((failure) => {
        if (failure) throw failure.error
        return undefined
      })
    }
    const { timeoutMs } = this.#protector
    const options = timeoutMs === undefined ? { signal: this.#client.signal } : { signal: this.#client.signal, timeout: timeoutMs }
    let call: Promise<unknown>
    try {
      call = this.#protector.breaker.execute(run, options)
    } catch (error) {
      call = Promise.reject(error) // a breaker-shaped object that throws instead of rejecting
    }
    const end = (error: unknown) => {
      try {
        if (admitted) this.#ended(error)
        else this.#refused(error)
      } catch (failure) {
        // Our answer could not be written (a framework that refuses it now): cut the response
        // rather than leave the client waiting, and say why.
        this.#res.destroy()
        warn('protect could not answer a request', failure, 'BREAKWATER_PROTECT')
      }
    }
    Promise.resolve(call).then(() => end(undefined), end)
  }

  #watch(req: IncomingMessage): void {
    const guards = ((req as GuardedRequest)[GUARDS] ??= [])
    guards.push(this)
    this.#res.once('finish', () => this.#finished())
    this.#res.once('close', () => {
      if (this.#decided) return
      // The route ended its answer and only the delivery was cut (then `finish` may never come):
      // the outcome is the route's. Otherwise the client left before the answer: ignored.
      if (this.#res.writableEnded) return this.#finished()
      this.#gone = true
      this.#client.abort()
    })
  }

  #finished(): void {
    if (this.#decided) return
    this.#decided = true
    this.#settle(this.#judge(this.#res.statusCode))
  }

  /** Whether the answer counts as a failure; a filter that throws makes it one. */
  #judge(statusCode: number): { error: unknown } | undefined {
    const error = this.#hasError ? this.#error : undefined
    let failed: boolean
    try {
      failed = Boolean(answerOf('isFailure', this.#protector.isFailure(statusCode, error)))
    } catch {
      failed = true
    }
    if (!failed) return undefined
    return { error: this.#hasError ? error : new FailedResponseError(this.#protector.breaker.name, statusCode) }
  }

  /** The call ended: if the route's outcome did not end it, the timeout did. */
  #ended(error: unknown): void {
    if (this.#decided || this.#gone) return
    this.#cut = true
    const reason = isTimeoutError(error) ? error : this.#context?.signal.reason
    const timeoutMs = isTimeoutError(reason) ? reason.timeoutMs : (this.#protector.timeoutMs ?? 0)
    if (this.#res.headersSent) this.#res.destroy()
    else this.#answer(timeoutAnswer(this.#protector.breaker.name, timeoutMs))
  }

  /**
   * Refused: the 503. The refusal's own error says when to come back; a breaker with a fallback
   * resolves instead, and its state says it then.
   */
  #refused(error: unknown): void {
    if (this.#res.headersSent || this.#res.destroyed) return
    this.#answer(brokenCircuitAnswer(isBrokenCircuitError(error) ? error : this.#refusalOfState()))
  }

  #refusalOfState(): BreakerRefusal {
    const { breaker } = this.#protector
    let retryAfterMs: unknown
    try {
      retryAfterMs = (breaker.metrics() as { retryAfterMs?: unknown }).retryAfterMs
    } catch {
      retryAfterMs = undefined
    }
    return { breaker: breaker.name, state: breaker.state, retryAfterMs: typeof retryAfterMs === 'number' ? retryAfterMs : undefined }
  }
}
