import type { CircuitBreaker } from '../breaker.js'
import { type Duration, toMillis } from '../duration.js'
import type { BreakerOptions } from '../options.js'
import { retry, type RetryOptions, type RetryPolicy } from '../policies/retry.js'
import { wrap } from '../policies/wrap.js'
import { type Registry, registry as processWide } from '../registry.js'
import { HttpError, isHttpError } from './http-error.js'
import { describe, typeError } from '../validate.js'

/** How an API adapter calls and judges one HTTP API. */
export interface ApiOptions {
  /** Every path is resolved against it: `https://api.example.com/v1`. */
  baseUrl: string | URL
  /** Bound on every request, counted as a failure and a timeout. @default '10s' */
  timeout?: Duration
  /** Headers sent with every request (JSON content type is added for bodies). @default none */
  headers?: Record<string, string>
  /** The breaker's options. @default breaker defaults: 5 failures in a row, or 50 % of the last 100 */
  breaker?: BreakerOptions
  /** Retries of idempotent requests (GET, HEAD, OPTIONS, PUT, DELETE) only. @default none */
  retry?: RetryOptions | false
  /** A 429 or 503 with `Retry-After` holds the breaker open that long (reason `retry_after`). @default true */
  honorRetryAfter?: boolean
  /** Whether an error counts against the breaker. @default network errors, timeouts, 5xx and 429 */
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
  /** Extra headers for this request. */
  headers?: Record<string, string>
  /** Query parameters, appended to the URL. */
  query?: Record<string, string | number | boolean>
}

/** One request in full, for `request()`. */
export interface ApiRequest extends RequestOptions {
  method: string
  path: string
  /** Sent as JSON. */
  body?: unknown
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE'])

/**
 * The default judgement: the API is unwell when it cannot be reached, times out, fails (5xx) or
 * sheds load (429). Other 4xx are the caller's fault: the error reaches the caller, and the
 * breaker counts the call as a success (the API answered).
 */
export function isApiFailure(error: unknown): boolean {
  if (isHttpError(error)) return error.status >= 500 || error.status === 429
  return true // network errors, timeouts, unreadable bodies
}

/** A JSON HTTP API behind a breaker, and optionally retries. Make one with `api()`. */
export class ApiClient {
  /** The API's breaker (process-wide, by name). */
  readonly breaker: CircuitBreaker
  readonly #base: string
  readonly #headers: Record<string, string>
  readonly #fetch: typeof fetch
  readonly #honorRetryAfter: boolean
  /** The retry policy of idempotent requests, if any: its events and `stats()`. */
  readonly retry: RetryPolicy | undefined
  readonly #retrying: { execute<R>(fn: (context: { signal: AbortSignal }) => Promise<R>, options?: { signal?: AbortSignal }): Promise<R> } | undefined

  /** @internal Made by `api()`. */
  constructor(name: string, options: ApiOptions) {
    if (options === null || typeof options !== 'object') {
      throw typeError(`api options must be an object like { baseUrl: 'https://...' }, but was ${describe(options)}`)
    }
    let base: URL
    try {
      base = new URL(String(options.baseUrl))
    } catch {
      throw typeError(`baseUrl must be an absolute http(s) URL, but was ${describe(options.baseUrl)}`)
    }
    if (base.protocol !== 'http:' && base.protocol !== 'https:') {
      throw typeError(`baseUrl must be an absolute http(s) URL, but was ${describe(options.baseUrl)}`)
    }
    this.#base = base.href.replace(/\/+$/, '')
    this.#headers = { accept: 'application/json', ...options.headers }
    this.#fetch = options.fetch ?? globalThis.fetch
    if (typeof this.#fetch !== 'function') throw typeError(`fetch must be a function, but was ${describe(options.fetch)}`)
    this.#honorRetryAfter = options.honorRetryAfter !== false
    const registry = options.registry ?? processWide
    this.breaker = registry.getOrCreate(name, {
      ...options.breaker,
      timeout: options.timeout ?? toMillis('timeout', '10s'),
      isFailure: options.isFailure ?? isApiFailure,
    })
    this.retry = options.retry ? retry({ retryOn: options.isFailure ?? isApiFailure, ...options.retry }) : undefined
    this.#retrying = this.retry && wrap(this.retry, this.breaker)
  }

  /** GET `path`, parsed from JSON. */
  get<T>(path: string, options?: RequestOptions): Promise<T> {
    return this.request<T>({ ...options, method: 'GET', path })
  }

  /** POST `body` as JSON to `path`; the response parsed from JSON. */
  post<T>(path: string, body?: unknown, options?: RequestOptions): Promise<T> {
    return this.request<T>({ ...options, method: 'POST', path, body })
  }

  /** PUT `body` as JSON to `path`. */
  put<T>(path: string, body?: unknown, options?: RequestOptions): Promise<T> {
    return this.request<T>({ ...options, method: 'PUT', path, body })
  }

  /** DELETE `path`. */
  delete<T>(path: string, options?: RequestOptions): Promise<T> {
    return this.request<T>({ ...options, method: 'DELETE', path })
  }

  /**
   * Any request. Resolves to the parsed JSON body (the text if it is not JSON, `undefined` if
   * empty); rejects with an `HttpError` for a non-2xx status, a `BrokenCircuitError` when the
   * breaker refuses (the request is not sent), a `TimeoutError`, or the network error.
   */
  request<T>(request: ApiRequest): Promise<T> {
    const method = request.method.toUpperCase()
    const url = this.#url(request.path, request.query)
    const send = ({ signal }: { signal: AbortSignal }) => this.#send<T>(method, url, request, signal)
    const options = request.signal ? { signal: request.signal } : undefined
    if (this.#retrying && IDEMPOTENT.has(method)) return this.#retrying.execute(send, options)
    return this.breaker.execute(send, options)
  }

  #url(path: string, query: RequestOptions['query']): string {
    if (typeof path !== 'string') throw typeError(`path must be a string, but was ${describe(path)}`)
    const url = new URL(this.#base + (path.startsWith('/') ? path : `/${path}`))
    for (const [key, value] of Object.entries(query ?? {})) url.searchParams.append(key, String(value))
    return url.href
  }

  async #send<T>(method: string, url: string, request: ApiRequest, signal: AbortSignal): Promise<T> {
    const headers: Record<string, string> = { ...this.#headers, ...request.headers }
    const hasBody = request.body !== undefined
    if (hasBody) headers['content-type'] ??= 'application/json'
    const response = await this.#fetch(url, { method, headers, signal, ...(hasBody ? { body: JSON.stringify(request.body) } : {}) })
    const text = await response.text()
    const body = parse(text, response.headers.get('content-type'))
    if (response.ok) return body as T
    const retryAfterMs = retryAfter(response.headers.get('retry-after'))
    if (retryAfterMs !== undefined && this.#honorRetryAfter && (response.status === 429 || response.status === 503)) {
      this.breaker.holdOff(retryAfterMs)
    }
    throw new HttpError(method, url, response.status, response.statusText, body, retryAfterMs)
  }
}

/** JSON when it says so or looks so, else the text; `undefined` for an empty body. */
function parse(text: string, contentType: string | null): unknown {
  if (text === '') return undefined
  if (contentType?.includes('json') || /^\s*[[{]/.test(text)) return JSON.parse(text)
  return text
}

/** `Retry-After` in milliseconds: delay-seconds or an HTTP date; undefined if absent or garbled. */
function retryAfter(header: string | null): number | undefined {
  if (header === null) return undefined
  if (/^\s*\d+\s*$/.test(header)) return Number(header) * 1000
  const at = Date.parse(header)
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now())
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
