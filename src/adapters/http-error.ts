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
    /**
     * From the `Retry-After` of a 429 or 503, in milliseconds, at most the client's
     * `maxRetryAfter`; undefined for other statuses, or when absent or unreadable.
     */
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

const TOO_LARGE = Symbol.for('breakwater.ResponseTooLargeError')

/**
 * A response whose body is longer than the client's `maxResponseBytes`: the download was cut off
 * there (or never started, when `Content-Length` said so), and the call counts as a failure of
 * the API.
 */
export class ResponseTooLargeError extends Error {
  readonly code = 'ERR_BREAKWATER_RESPONSE_TOO_LARGE'
  readonly [TOO_LARGE] = true

  constructor(
    readonly method: string,
    readonly url: string,
    /** The HTTP status of the response. */
    readonly status: number,
    /** The limit it went past, in bytes (`maxResponseBytes`). */
    readonly limit: number,
  ) {
    super(`${method} ${url} answered ${status} with a body of more than ${limit} bytes (maxResponseBytes)`)
    this.name = 'ResponseTooLargeError'
  }
}

/** Whether `e` is a `ResponseTooLargeError`, from this copy of breakwater or any other. */
export function isResponseTooLargeError(e: unknown): e is ResponseTooLargeError {
  return branded(e, TOO_LARGE)
}
