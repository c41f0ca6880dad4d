import { branded } from '../errors.js'

const HTTP = Symbol.for('breakwater.HttpError')

/** A response with a status outside 2xx, from an `api()` client. */
export class HttpError extends Error {
  readonly code = 'ERR_BREAKWATER_HTTP'
  readonly [HTTP] = true

  constructor(
    readonly method: string,
    readonly url: string,
    /** The HTTP status. */
    readonly status: number,
    readonly statusText: string,
    /** The response body: parsed JSON, text, or undefined when empty. */
    readonly body: unknown,
    /** From `Retry-After`, in milliseconds, when the response had one. */
    readonly retryAfterMs: number | undefined,
  ) {
    super(`${method} ${url} answered ${status}${statusText ? ` ${statusText}` : ''}`)
    this.name = 'HttpError'
  }
}

/** Whether `e` is an `HttpError`, from this copy of breakwater or any other. */
export function isHttpError(e: unknown): e is HttpError {
  return branded(e, HTTP)
}
