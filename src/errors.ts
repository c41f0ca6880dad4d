import type { StateName } from './state.js'
import { INVALID_OPTION, rangeError, typeError } from './validate.js'

const BROKEN = Symbol.for('breakwater.BrokenCircuitError')
const TIMEOUT = Symbol.for('breakwater.TimeoutError')
const BULKHEAD = Symbol.for('breakwater.BulkheadRejectedError')

/** The code of an error whose operation may or may not have taken effect (a COMMIT cut short): never retried by default. */
export const OUTCOME_UNKNOWN = 'ERR_BREAKWATER_COMMIT_UNKNOWN'

/**
 * Thrown by `execute` when the breaker refuses a call. Cheap to make: `BrokenCircuitError.create`
 * captures no stack (the expensive part of an error: about 3.8 of its 4.3 µs here).
 *
 * @example
 * try { await breaker.execute(callApi) } catch (e) { if (isBrokenCircuitError(e)) retryIn(e.retryAfterMs) }
 */
export class BrokenCircuitError extends Error {
  /** Stable code for logs and switches. */
  readonly code = 'ERR_BREAKWATER_OPEN'
  readonly [BROKEN] = true

  constructor(
    /** The breaker's name. */
    readonly breaker: string,
    /** Its state: open, forced open, or half-open with every probe slot taken. */
    readonly state: StateName,
    /** Milliseconds until a call may probe; `undefined` when forced open without a deadline. */
    readonly retryAfterMs: number | undefined,
  ) {
    super(`circuit breaker ${breaker} is ${state}`)
    this.name = 'BrokenCircuitError'
  }

  /** Makes one without capturing a stack trace. */
  static create(breaker: string, state: StateName, retryAfterMs: number | undefined): BrokenCircuitError {
    // `new this`, not the class's own name: a bundler renames a class that names itself inside
    // its body (`_BrokenCircuitError`, as util.inspect would show it).
    return withoutStack(() => new this(breaker, state, retryAfterMs))
  }
}

/**
 * Thrown when a call runs past its timeout (a breaker's `timeout` or a `timeout` policy); a
 * breaker counts it as a failure and a timeout.
 */
export class TimeoutError extends Error {
  readonly code = 'ERR_BREAKWATER_TIMEOUT'
  readonly [TIMEOUT] = true

  constructor(
    /** The name of the breaker or timeout policy whose timeout passed. */
    readonly source: string,
    /** The timeout that passed, in milliseconds. */
    readonly timeoutMs: number,
  ) {
    super(`call through ${source} timed out after ${timeoutMs} ms`)
    this.name = 'TimeoutError'
  }
}

/**
 * Thrown by a bulkhead when every permit is taken and its queue is full. Built without a stack
 * trace, like `BrokenCircuitError`: refusing must stay cheap under overload.
 */
export class BulkheadRejectedError extends Error {
  readonly code = 'ERR_BREAKWATER_BULKHEAD_FULL'
  readonly [BULKHEAD] = true

  constructor(
    /** The bulkhead's name. */
    readonly bulkhead: string,
    /** Its permits. */
    readonly maxConcurrent: number,
    /** Its queue's length. */
    readonly maxQueue: number,
  ) {
    super(`bulkhead ${bulkhead} is full: ${maxConcurrent} running, ${maxQueue} queued`)
    this.name = 'BulkheadRejectedError'
  }

  /** Makes one without capturing a stack trace. */
  static create(bulkhead: string, maxConcurrent: number, maxQueue: number): BulkheadRejectedError {
    return withoutStack(() => new this(bulkhead, maxConcurrent, maxQueue))
  }
}

function withoutStack<E>(make: () => E): E {
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 0
  try {
    return make()
  } finally {
    Error.stackTraceLimit = limit
  }
}

/** Whether `e` carries `brand`: a registered symbol, so it works across copies of breakwater. Never throws. */
export function branded(e: unknown, brand: symbol): boolean {
  if (typeof e !== 'object' || e === null) return false
  try {
    return (e as Record<symbol, unknown>)[brand] === true
  } catch {
    return false // a revoked Proxy, a throwing getter: not one of ours
  }
}

/** Whether `e` is a `BrokenCircuitError`, from this copy of breakwater or any other. */
export function isBrokenCircuitError(e: unknown): e is BrokenCircuitError {
  return branded(e, BROKEN)
}

/** Whether `e` is a breakwater `TimeoutError`, from this copy of breakwater or any other. */
export function isTimeoutError(e: unknown): e is TimeoutError {
  return branded(e, TIMEOUT)
}

/** Whether `e` is a `BulkheadRejectedError`, from this copy of breakwater or any other. */
export function isBulkheadRejectedError(e: unknown): e is BulkheadRejectedError {
  return branded(e, BULKHEAD)
}

/** What napi-rs's own argument checks expected, by the code they throw with. */
const NAPI_EXPECTED: Record<string, string> = {
  StringExpected: 'a string',
  NumberExpected: 'a number',
  BooleanExpected: 'true or false',
  ObjectExpected: 'an object',
  FunctionExpected: 'a function',
  ArrayExpected: 'an array',
  BigintExpected: 'a bigint',
}

/**
 * The one place native errors become ours. The binding throws argument errors as `RangeError`s
 * with code `ERR_BREAKWATER_INVALID_OPTION` already (kept as they are); an entry that cannot
 * throw one itself says so with a plain error whose message starts with the code (made a
 * `RangeError` here); an argument of the wrong type that reached napi-rs's own checks (the
 * facade checks types first, so only a bug gets there) becomes a `TypeError` in our words.
 */
export function fromNative(e: unknown): unknown {
  if (!(e instanceof Error) || e instanceof TypeError || e instanceof RangeError) return e
  if (e.message.startsWith(`${INVALID_OPTION}: `)) return rangeError(e.message.slice(INVALID_OPTION.length + 2))
  const code = (e as { code?: unknown }).code
  const expected = typeof code === 'string' ? NAPI_EXPECTED[code] : undefined
  if (expected !== undefined) return typeError(`breakwater was given an argument of the wrong type: it must be ${expected}`)
  return e
}
