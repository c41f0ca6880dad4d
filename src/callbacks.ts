import { typeError } from './validate.js'

/**
 * Calling the functions users hand us (listeners, filters) safely: nothing they return or throw
 * may become an unhandled rejection or an uncaught exception.
 */

/** Whether `value` is a promise-like (a getter on `then` that throws makes it not one). */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  try {
    return typeof (value as PromiseLike<unknown> | null)?.then === 'function'
  } catch {
    return false
  }
}

/**
 * A filter's answer (`isFailure`, `retryOn`, `handles` ...), which must come at once: a filter
 * that returns a promise (an `async` filter) cannot decide a call that is ending now. Its
 * promise is handled (a rejection of it must not go unhandled), and it throws a `TypeError` that
 * each caller treats as it treats any throwing filter.
 */
export function answerOf(filter: string, returned: unknown): unknown {
  if (!isThenable(returned)) return returned
  try {
    returned.then(undefined, () => {})
  } catch {
    // a thenable whose then throws has nothing left to handle
  }
  throw typeError(`${filter} must answer at once with true or false, but returned a promise (an async filter cannot decide a call that is ending)`)
}

/** Reports what a listener or background task threw as a process warning with `code`. */
export function warn(what: string, error: unknown, code: string): void {
  process.emitWarning(`${what}: ${printable(error)}`, { code })
}

/** `String(value)`, or a plain description when the value cannot be turned into a string. */
export function printable(value: unknown): string {
  try {
    return String(value)
  } catch {
    try {
      return Object.prototype.toString.call(value)
    } catch {
      return 'a value that cannot be printed'
    }
  }
}
