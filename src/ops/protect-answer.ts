import type { ServerResponse } from 'node:http'
import { retryAfterSeconds, sendJson } from './respond.js'

/**
 * The answers `protect` and the breaker error handlers send, built in one place so every server
 * (node:http, Express, Fastify) sends the same bytes.
 */

/** A refusal as the answer needs it: a `BrokenCircuitError`, or the same fields from elsewhere. */
export interface BreakerRefusal {
  /** The breaker's name: the service that is unavailable. */
  readonly breaker: string
  /** Its state (`open`, `forced_open`, or `half_open` with every probe slot taken). */
  readonly state?: string
  /** Milliseconds until it lets a call probe; `undefined` when forced open without a deadline. */
  readonly retryAfterMs?: number | undefined
}

/** An answer of ours: status, extra headers and a JSON body. */
export interface ProtectAnswer {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: Readonly<Record<string, unknown>>
}

/** The JSON body of a refusal. */
export interface BrokenCircuitBody {
  error: 'CircuitBreakerOpen'
  breaker: string
  /** `null` when the breaker is forced open without a deadline (no `Retry-After` then). */
  retryAfterMs: number | null
  message: string
}

const STATE_WORDS: Record<string, string> = {
  open: 'open',
  forced_open: 'forced open',
  half_open: 'half-open with every probe slot taken',
}

/**
 * The 503 for a refused call: `Retry-After` in whole seconds rounded up (left out when the
 * breaker has no deadline), and `{ error: 'CircuitBreakerOpen', breaker, retryAfterMs, message }`
 * naming the service that is unavailable.
 *
 * @example
 * const { status, headers, body } = brokenCircuitAnswer(error)
 * res.writeHead(status, { ...headers, 'content-type': 'application/json' }).end(JSON.stringify(body))
 */
export function brokenCircuitAnswer(refusal: BreakerRefusal): ProtectAnswer & { readonly body: BrokenCircuitBody } {
  const { breaker, state, retryAfterMs } = refusal
  const known = typeof retryAfterMs === 'number' && Number.isFinite(retryAfterMs) && retryAfterMs >= 0
  const seconds = known ? retryAfterSeconds(retryAfterMs) : undefined
  const words = (state !== undefined && STATE_WORDS[state]) || 'open'
  return {
    status: 503,
    headers: seconds === undefined ? {} : { 'retry-after': String(seconds) },
    body: {
      error: 'CircuitBreakerOpen',
      breaker,
      retryAfterMs: known ? retryAfterMs : null,
      message: `${breaker} is unavailable: its circuit breaker is ${words}${seconds === undefined ? '' : `; retry after ${seconds} s`}`,
    },
  }
}

/**
 * The 503 for a request cut by `protect`'s timeout. 503, not 504: the server that timed out is
 * this one, not a gateway's upstream, and 503 tells clients and load balancers to try again
 * later. No `Retry-After`: nothing says when the handler will be quick again.
 */
export function timeoutAnswer(breaker: string, timeoutMs: number): ProtectAnswer {
  return {
    status: 503,
    headers: {},
    body: { error: 'Timeout', breaker, timeoutMs, message: `${breaker} did not answer within ${timeoutMs} ms` },
  }
}

/** The 500 for a handler that threw before answering: nothing of the error leaks to the client. */
export const INTERNAL_ERROR_ANSWER: ProtectAnswer = Object.freeze({
  status: 500,
  headers: Object.freeze({}),
  body: Object.freeze({ error: 'InternalServerError' }),
})

/** Sends `answer` on a node:http (or Express) response whose headers are not sent yet. */
export function sendAnswer(res: ServerResponse, answer: ProtectAnswer): void {
  sendJson(res, answer.status, answer.body, { ...answer.headers })
}
