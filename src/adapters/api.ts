import type { CircuitBreaker } from '../breaker.js'
import { type Duration, toTimerMillis } from '../duration.js'
import type { BreakerOptions } from '../options.js'
import { whole } from '../policies/check.js'
import { retry, type RetryOptions, type RetryPolicy } from '../policies/retry.js'
import { wrap } from '../policies/wrap.js'
import { type Registry, registry as processWide } from '../registry.js'
import { checkSignal, readCallOptions } from '../signal.js'
import { breakerOptions } from './setup.js'
import { describe, ownOptions, rangeError, typeError } from '../validate.js'
import { HttpError, isHttpError, isResponseTooLargeError, ResponseTooLargeError } from './http-error.js'

/** How an API adapter calls and judges one HTTP API. */
export interface ApiOptions {
  /** Every path is resolved against it: `https://api.example.com/v1` (no query or fragment). */
  baseUrl: string | URL
  /** Bound on every request, body included; counted as a failure and a timeout. @default '10s' */
  timeout?: Duration
  /** Headers sent with every request (JSON content type is added for bodies). @default `accept: application/json` */
  headers?: Record<string, string>
  /** The breaker's options (its `timeout` is the api's `timeout`, its `isFailure` the api's `isFailure`). @default breaker defaults: 5 failures in a row, or 50 % of the last 100 */
  breaker?: Omit<BreakerOptions, 'timeout'>
  /**
   * Retries of idempotent requests (GET, HEAD, OPTIONS, PUT, DELETE) only; by default of the errors
   * `isFailure` counts, but a too-large body (asking again downloads it again). @default none
   */
  retry?: RetryOptions | false
  /** A 429 or 503 with `Retry-After` holds the breaker open that long (reason `retry_after`). @default true */
  honorRetryAfter?: boolean
  /**
   * The longest `Retry-After` believed: a longer one (a server asking for a year) is cut to this,
   * for the breaker's hold-off and the error's `retryAfterMs`. At most about 24.8 days. @default '5m'
   */
  maxRetryAfter?: Duration
  /**
   * The longest response body read, in bytes. A longer one (announced by `Content-Length` or
   * found while streaming) is cut off there: the request is aborted and the call rejects with a
   * `ResponseTooLargeError` (code `ERR_BREAKWATER_RESPONSE_TOO_LARGE`), a failure of the API,
   * whatever the status. @default 8 MiB (8388608)
   */
  maxResponseBytes?: number
  /** Whether an error counts against the breaker (and, with `retry`, is retried). @default network errors, timeouts, too-large bodies, 5xx and 429 */
  isFailure?: (error: unknown) => boolean
  /** The fetch to use. @default globalThis.fetch */
  fetch?: typeof fetch
  /** Where the breaker lives. @default the process-wide registry */
  registry?: Registry
}

/** Per-request options. */
export interface RequestOptions {
  /** Aborting it abandons the request; not counted against the breaker. */
  signal?: AbortSignal
  /** Extra headers for this request; they replace default headers of the same name, whatever its case. */
  headers?: Record<string, string>
  /** Query parameters, appended to the URL. */
  query?: Record<string, string | number | boolean>
}

/** One request in full, for `request()`. */
export interface ApiRequest extends RequestOptions {
  method: string
  path: string
  /** Sent as JSON (not with GET or HEAD). */
  body?: unknown
}

const API_OPTIONS: readonly (keyof ApiOptions)[] = [
  'baseUrl',
  'timeout',
  'headers',
  'breaker',
  'retry',
  'honorRetryAfter',
  'maxRetryAfter',
  'maxResponseBytes',
  'isFailure',
  'fetch',
  'registry',
]
const REQUEST_OPTIONS: readonly (keyof RequestOptions)[] = ['signal', 'headers', 'query']
const REQUEST_FIELDS: readonly (keyof ApiRequest)[] = ['method', 'path', 'body', ...REQUEST_OPTIONS]
/** Breaker options the api sets itself: given in `breaker`, they would be replaced without a word. */

const DEFAULT_TIMEOUT_MS = 10_000
const DEFAULT_MAX_RETRY_AFTER_MS = 300_000
const DEFAULT_MAX_RESPONSE_BYTES = 8 * 1_048_576

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE'])
/** An HTTP token (RFC 9110): what a method and a header name are made of. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
/** Methods fetch refuses to send. */
const FORBIDDEN_METHODS = new Set(['CONNECT', 'TRACE', 'TRACK'])
/**
 * Headers fetch manages itself: given by the caller, undici fails the request before it leaves
 * (`content-length`, `transfer-encoding`, `keep-alive`, `upgrade`, `expect`) or drops the value
 * without a word (`host`, set from the URL).
 */
const MANAGED_HEADERS = new Set(['content-length', 'transfer-encoding', 'keep-alive', 'upgrade', 'expect', 'host'])
/**
 * The `connection` values every undici takes: `close` (end the connection after the response)
 * and `keep-alive`. Older undici (bundled with some Node.js lines) fails the request for any
 * other value; newer ones drop it without a word (fetch manages the connection).
 */
const CONNECTION_VALUES = new Set(['close', 'keep-alive'])
/**
 * A header value fetch can send: Latin-1 without control characters but tab. `Headers` accepts
 * the other control characters (all but NUL, CR and LF), and undici then fails the request.
 */
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/
/** The statuses whose `Retry-After` means "come back later" (RFC 9110, RFC 6585). */
const RETRY_AFTER_STATUSES = new Set([429, 503])
/** The start of an HTTP date (IMF-fixdate, RFC 850 or asctime): a day name. */
const HTTP_DATE = /^\s*(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*,?\s/i

/**
 * The default judgement: the API is unwell when it cannot be reached, times out, fails (5xx),
 * sheds load (429) or sends a body it should not (unreadable, or past `maxResponseBytes`). Other
 * 4xx are the caller's fault: the error reaches the caller, and the breaker counts the call as a
 * success (the API answered).
 */
export function isApiFailure(error: unknown): boolean {
  if (isHttpError(error)) return error.status >= 500 || error.status === 429
  return true // network errors, timeouts, unreadable or too large bodies
}

/** A request checked and built before it leaves: what every attempt sends. */
interface Prepared {
  method: string
  url: string
  headers: Headers
  /** The JSON text, or null without a body. */
  body: string | null
  signal: AbortSignal | undefined
}

/**
 * Every field of the fetch standard's RequestInit but `method`, `headers`, `body` and `signal`,
 * at its default. undici copies the init it is given into a plain object and reads each field
 * that was not given through `Object.prototype`: a polluted `Object.prototype.mode` would reach
 * the request. Given as own properties, none is read there.
 */
const INIT_DEFAULTS = {
  referrer: 'about:client',
  referrerPolicy: '',
  mode: 'cors',
  credentials: 'same-origin',
  cache: 'default',
  redirect: 'follow',
  integrity: '',
  keepalive: false,
  window: null,
  duplex: 'half', // the only value; read only with a body
  priority: 'auto',
} as const
/**
 * RequestInit fields that undici reads through `Object.prototype` inside its own objects, whatever
 * the init holds (`body` when it reads the response, `signal` in Node.js streams, `dispatcher`):
 * polluted, they make fetch fail, so the call is refused before it leaves instead.
 */
const POLLUTABLE_INIT = ['body', 'signal', 'dispatcher'] as const

/** A JSON HTTP API behind a breaker, and optionally retries. Make one with `api()`. */
export class ApiClient {
  /** The API's breaker (process-wide, by name). */
  readonly breaker: CircuitBreaker
  readonly #base: string
  readonly #headers: Headers
  readonly #fetch: typeof fetch
  readonly #honorRetryAfter: boolean
  readonly #maxRetryAfterMs: number
  readonly #maxResponseBytes: number
  /** The retry policy of idempotent requests, if any: its events and `stats()`. */
  readonly retry: RetryPolicy | undefined
  readonly #retrying: { execute<R>(fn: (context: { signal: AbortSignal }) => Promise<R>, options?: { signal?: AbortSignal }): Promise<R> } | undefined

  /** @internal Made by `api()`. Checks every option before it makes the breaker. */
  constructor(name: string, options: ApiOptions) {
    if (options === undefined) throw typeError(`api options must be an object like { baseUrl: 'https://...' }, but was undefined`)
    const o = ownOptions<ApiOptions>('api', options, API_OPTIONS)
    this.#base = baseUrl(o.baseUrl)
    this.#headers = addHeaders('headers', o.headers, new Headers({ accept: 'application/json' }))
    this.#fetch = o.fetch ?? globalThis.fetch
    if (typeof this.#fetch !== 'function') throw typeError(`fetch must be a function, but was ${describe(o.fetch)}`)
    this.#honorRetryAfter = flag('honorRetryAfter', o.honorRetryAfter ?? true)
    this.#maxRetryAfterMs = toTimerMillis('maxRetryAfter', o.maxRetryAfter ?? DEFAULT_MAX_RETRY_AFTER_MS)
    this.#maxResponseBytes = whole('maxResponseBytes', o.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES, 0)
    const isFailure = o.isFailure ?? isApiFailure
    if (typeof isFailure !== 'function') throw typeError(`isFailure must be a function, but was ${describe(isFailure)}`)
    const registry = o.registry ?? processWide
    if (typeof (registry as Partial<Registry> | null)?.getOrCreate !== 'function') {
      throw typeError(`registry must be a Registry, but was ${describe(registry)}`)
    }
    const breaker = breakerOptions('breaker', o.breaker, { timeout: o.timeout ?? DEFAULT_TIMEOUT_MS, isFailure })
    this.retry = apiRetry(o.retry, isFailure)
    this.breaker = registry.getOrCreate(name, breaker)
    this.#retrying = this.retry && wrap(this.retry, this.breaker)
  }

  /** GET `path`, parsed from JSON. */
  get<T>(path: string, options?: RequestOptions): Promise<T> {
    return this.#call<T>(() => this.#prepare('GET', path, undefined, requestOptions(options)))
  }

  /** POST `body` as JSON to `path`; the response parsed from JSON. */
  post<T>(path: string, body?: unknown, options?: RequestOptions): Promise<T> {
    return this.#call<T>(() => this.#prepare('POST', path, body, requestOptions(options)))
  }

  /** PUT `body` as JSON to `path`. */
  put<T>(path: string, body?: unknown, options?: RequestOptions): Promise<T> {
    return this.#call<T>(() => this.#prepare('PUT', path, body, requestOptions(options)))
  }

  /** DELETE `path`. */
  delete<T>(path: string, options?: RequestOptions): Promise<T> {
    return this.#call<T>(() => this.#prepare('DELETE', path, undefined, requestOptions(options)))
  }

  /**
   * Any request. Resolves to the parsed JSON body (the text if it is not JSON, `undefined` if
   * empty); rejects with an `HttpError` for a non-2xx status, a `BrokenCircuitError` when the
   * breaker refuses (the request is not sent), a `TimeoutError`, a `ResponseTooLargeError`, or
   * the network error. A bad argument (a body JSON cannot carry, an invalid header, a bad query
   * value or method) rejects with a `TypeError` or `RangeError` before anything is sent, and
   * never counts against the API. Never throws: every mistake is a rejection.
   */
  request<T>(request: ApiRequest): Promise<T> {
    return this.#call<T>(() => {
      const r = ownOptions<ApiRequest>('request', request, REQUEST_FIELDS, ['body'])
      return this.#prepare(r.method, r.path, r.body, r)
    })
  }

  /** Checks and builds the request (a caller's mistake rejects here, uncounted), then sends it. */
  #call<T>(prepare: () => Prepared): Promise<T> {
    let call: Prepared
    try {
      call = prepare()
    } catch (error) {
      return Promise.reject(error)
    }
    const send = ({ signal }: { signal: AbortSignal }) => this.#send<T>(call, signal)
    const options = call.signal ? { signal: call.signal } : undefined
    if (this.#retrying && IDEMPOTENT.has(call.method)) return this.#retrying.execute(send, options)
    return this.breaker.execute(send, options)
  }

  #prepare(method: unknown, path: unknown, body: unknown, options: Partial<RequestOptions>): Prepared {
    const verb = checkMethod(method)
    const url = this.#url(path, options.query)
    const headers = addHeaders('headers', options.headers, new Headers(this.#headers))
    const signal = checkSignal(options.signal)
    checkPrototype()
    if (body === undefined) return { method: verb, url, headers, body: null, signal }
    if (verb === 'GET' || verb === 'HEAD') throw typeError(`a ${verb} request cannot have a body, but was given ${describe(body)}`)
    const text = toJson(body)
    if (!headers.has('content-type')) headers.set('content-type', 'application/json')
    return { method: verb, url, headers, body: text, signal }
  }

  #url(path: unknown, query: unknown): string {
    if (typeof path !== 'string') throw typeError(`path must be a string, but was ${describe(path)}`)
    let url: URL
    try {
      url = new URL(this.#base + (path.startsWith('/') ? path : `/${path}`))
    } catch {
      throw typeError(`path must make a valid URL after baseUrl, but was ${describe(path)}`)
    }
    if (query === undefined) return url.href
    if (query === null || typeof query !== 'object' || Array.isArray(query)) {
      throw typeError(`query must be an object of names and values, but was ${describe(query)}`)
    }
    for (const key of Object.keys(query)) {
      const value = (query as Record<string, unknown>)[key]
      if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
        throw typeError(`query[${JSON.stringify(key)}] must be a string, a finite number or a boolean, but was ${describe(value)}`)
      }
      if (typeof value === 'number' && !Number.isFinite(value)) {
        throw rangeError(`query[${JSON.stringify(key)}] must be a string, a finite number or a boolean, but was ${value}`)
      }
      url.searchParams.append(key, String(value))
    }
    return url.href
  }

  async #send<T>(call: Prepared, signal: AbortSignal): Promise<T> {
    const response = await this.#fetch(call.url, requestInit(call, signal))
    const text = await readBody(response, this.#maxResponseBytes, call)
    const type = response.headers.get('content-type')
    if (response.ok) return parse(text, type) as T
    const retryAfterMs = RETRY_AFTER_STATUSES.has(response.status) ? retryAfter(response.headers.get('retry-after'), this.#maxRetryAfterMs) : undefined
    // Already capped at maxRetryAfter (a validated timer duration), so holdOff cannot refuse it.
    if (retryAfterMs !== undefined && retryAfterMs > 0 && this.#honorRetryAfter) this.breaker.holdOff(retryAfterMs)
    throw new HttpError(call.method, call.url, response.status, response.statusText, parseLeniently(text, type), retryAfterMs)
  }
}

/** The init of one attempt: every field its own property, on no prototype (see `INIT_DEFAULTS`). */
function requestInit(call: Prepared, signal: AbortSignal): RequestInit {
  const init = { ...INIT_DEFAULTS, method: call.method, headers: call.headers, body: call.body, signal }
  return Object.assign(Object.create(null) as RequestInit, init)
}

/** Refuses a call that fetch would fail for a polluted `Object.prototype` (see `POLLUTABLE_INIT`). */
function checkPrototype(): void {
  for (const key of POLLUTABLE_INIT) {
    if (Object.hasOwn(Object.prototype, key)) {
      throw typeError(
        `Object.prototype.${key} is set (prototype pollution): fetch reads ${key} through the prototype and would fail, so the request is not sent`,
      )
    }
  }
}

/**
 * Per-request options, own properties only (a bare AbortSignal is refused, not ignored).
 * (undefined becomes an empty own copy: ownOptions' `{}` for it would read through Object.prototype)
 */
function requestOptions(options: unknown): Partial<RequestOptions> {
  return readCallOptions<RequestOptions>('request', options, REQUEST_OPTIONS)
}

/** `baseUrl` without trailing slashes; an absolute http(s) URL without query or fragment. */
function baseUrl(value: unknown): string {
  let base: URL
  try {
    base = new URL(String(value))
  } catch {
    throw typeError(`baseUrl must be an absolute http(s) URL, but was ${describe(value)}`)
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') {
    throw typeError(`baseUrl must be an absolute http(s) URL, but was ${describe(value)}`)
  }
  if (base.username !== '' || base.password !== '') {
    // (the value is not shown: it holds a secret)
    throw typeError('baseUrl must not carry credentials (fetch refuses them): send them in an authorization header')
  }
  if (base.search !== '' || base.hash !== '') {
    throw typeError(`baseUrl must have no query or fragment (give query per request), but was ${describe(value)}`)
  }
  return base.href.replace(/\/+$/, '')
}

function flag(option: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw typeError(`${option} must be true or false, but was ${describe(value)}`)
  return value
}

/**
 * The retry policy of idempotent requests: unless told otherwise, retries what the breaker counts
 * as failures, but a body past the limit (asking again would download it again).
 */
function apiRetry(options: unknown, isFailure: (error: unknown) => boolean): RetryPolicy | undefined {
  if (options === undefined || options === false) return undefined
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw typeError(`retry must be retry options or false, but was ${describe(options)}`)
  }
  // Without a prototype: a polluted Object.prototype.retryOn must not stand in for the API's judgement.
  const own = Object.assign(Object.create(null) as RetryOptions, options)
  own.retryOn ??= (error) => isFailure(error) && !isResponseTooLargeError(error) // also for `retryOn: undefined`
  return retry(own)
}

/** Sets each of `headers` on `into` (replacing any of the same name), refusing what HTTP cannot carry. */
function addHeaders(what: string, headers: unknown, into: Headers): Headers {
  if (headers === undefined) return into
  if (headers === null || typeof headers !== 'object' || Array.isArray(headers)) {
    throw typeError(`${what} must be an object of header names and values, but was ${describe(headers)}`)
  }
  for (const name of Object.keys(headers)) {
    const value = (headers as Record<string, unknown>)[name]
    const field = `${what}[${JSON.stringify(name)}]`
    if (typeof value !== 'string') throw typeError(`${field} must be a string, but was ${describe(value)}`)
    if (!TOKEN.test(name)) throw typeError(`${field} is not a valid header name (letters, digits and !#$%&'*+-.^_\`|~ only)`)
    if (MANAGED_HEADERS.has(name.toLowerCase())) {
      throw typeError(`${field} cannot be given: fetch sets ${[...MANAGED_HEADERS].join(', ')} itself`)
    }
    if (!HEADER_VALUE.test(value)) {
      throw typeError(`${field} is not a valid header value (Latin-1 text without control characters but tab), but was ${describe(value)}`)
    }
    if (name.toLowerCase() === 'connection' && !CONNECTION_VALUES.has(value.trim().toLowerCase())) {
      throw typeError(`${field} must be close or keep-alive (fetch manages the connection itself), but was ${describe(value)}`)
    }
    into.set(name, value)
  }
  return into
}

function checkMethod(method: unknown): string {
  if (typeof method !== 'string' || !TOKEN.test(method) || FORBIDDEN_METHODS.has(method.toUpperCase())) {
    throw typeError(`method must be an HTTP method such as GET or POST (not CONNECT, TRACE or TRACK), but was ${describe(method)}`)
  }
  return method.toUpperCase()
}

/** `body` as JSON text, or the caller's error saying why JSON cannot carry it. */
function toJson(body: unknown): string {
  let text: string | undefined
  try {
    text = JSON.stringify(body)
  } catch (e) {
    const why = e instanceof Error ? e.message : describe(e)
    throw Object.assign(typeError(`body must be serializable as JSON, but JSON.stringify failed: ${why}`), { cause: e })
  }
  if (text === undefined) throw typeError(`body must be serializable as JSON, but was ${describe(body)}`)
  return text
}

/**
 * The body as text, read as a stream and never past `limit` bytes: a longer body (announced or
 * found) is a `ResponseTooLargeError`, and its download is cancelled, which closes the connection.
 * On every error path the body is cancelled, so no connection is left holding an unread body.
 */
async function readBody(response: Response, limit: number, call: Prepared): Promise<string> {
  const body = response.body
  if (body === null) return ''
  if (Number(response.headers.get('content-length')) > limit) {
    body.cancel().catch(() => {}) // nothing to wait for: the error is ours already
    throw new ResponseTooLargeError(call.method, call.url, response.status, limit)
  }
  const reader = body.getReader()
  const decoder = new TextDecoder()
  let text = ''
  let size = 0
  try {
    for (let read = await reader.read(); !read.done; read = await reader.read()) {
      size += read.value.byteLength
      if (size > limit) throw new ResponseTooLargeError(call.method, call.url, response.status, limit)
      text += decoder.decode(read.value, { stream: true })
    }
  } catch (error) {
    reader.cancel().catch(() => {}) // stops the download; a stream that already failed rejects
    throw error
  }
  return text + decoder.decode()
}

/** JSON when it says so or looks so, else the text; `undefined` for an empty body. */
function parse(text: string, contentType: string | null): unknown {
  if (text === '') return undefined
  if (contentType?.includes('json') || /^\s*[[{]/.test(text)) return JSON.parse(text)
  return text
}

/** `parse` for an error response, whose status decides: a body that does not parse stays text. */
function parseLeniently(text: string, contentType: string | null): unknown {
  try {
    return parse(text, contentType)
  } catch {
    return text
  }
}

/**
 * `Retry-After` in milliseconds, at most `maxMs`: delay-seconds or an HTTP date (one in the past
 * asks for no wait: 0). Undefined when absent or unreadable (negative, fractional, garbage).
 */
function retryAfter(header: string | null, maxMs: number): number | undefined {
  if (header === null) return undefined
  let ms: number
  if (/^\s*\d+\s*$/.test(header)) ms = Number(header) * 1000
  else if (HTTP_DATE.test(header) && !Number.isNaN(Date.parse(header))) ms = Date.parse(header) - Date.now()
  else return undefined
  return Math.min(maxMs, Math.max(0, ms))
}

/**
 * An HTTP API behind a breaker named `name`: JSON in and out, failures judged the HTTP way.
 *
 * @example
 * import { api } from 'breakwater'
 * const marketData = api('market-data', { baseUrl: 'https://md.example.com/v1', timeout: '2s' })
 * const quote = await marketData.get<{ bid: number; ask: number }>('/quotes/AAPL')
 */
export function api(name: string, options: ApiOptions): ApiClient {
  return new ApiClient(name, options)
}
