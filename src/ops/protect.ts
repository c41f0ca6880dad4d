import type { IncomingMessage, ServerResponse } from 'node:http'
import { type Duration, toTimeoutMillis } from '../duration.js'
import { describe, ownOptions, typeError } from '../validate.js'
import { type ProtectExpressMiddleware, expressMiddleware } from './protect-express.js'
import { type ProtectFastifyPlugin, fastifyPlugin } from './protect-fastify.js'
import type { ProtectedBreaker, Protector } from './protect-guard.js'
import { type ProtectedHandler, wrapHandler } from './protect-node.js'

export { brokenCircuitAnswer, timeoutAnswer, type BreakerRefusal, type BrokenCircuitBody, type ProtectAnswer } from './protect-answer.js'
export { breakerErrorHandler, type ExpressBreakerErrorHandler, type ProtectExpressMiddleware, type ProtectExpressNext } from './protect-express.js'
export {
  fastifyBreakerErrorHandler,
  type FastifyBreakerErrorHandler,
  type ProtectFastifyPlugin,
  type ProtectFastifyReply,
  type ProtectFastifyRequest,
  type ProtectFastifyScope,
} from './protect-fastify.js'
export { FailedResponseError, type ProtectContext, type ProtectedBreaker } from './protect-guard.js'
export type { ProtectedHandler } from './protect-node.js'

/** Options of `protect`. */
export interface ProtectOptions {
  /**
   * Cuts a request whose response has not finished after this long: answered 503 with
   * `{ error: 'Timeout', breaker, timeoutMs, message }` (or, if the route began answering, its
   * response destroyed), counted as a timeout (a failure). The route's `signal` aborts.
   * @default the breaker's own `timeout` (none by default)
   */
  timeout?: Duration
  /**
   * Whether a finished response counts as a failure, from its status and the error the route
   * threw (`undefined` if none, or if no breaker error handler told). Anything else is a success;
   * a client that left before the response finished is neither (ignored).
   * @default `isServerFailure`: a 5xx, or a thrown error not answered with a 4xx
   */
  isFailure?: (statusCode: number, error: unknown) => boolean
}

/** A breaker put in front of a server's own routes, in the shape each server takes. */
export interface Protection {
  /** The breaker's name. */
  readonly breaker: string
  /**
   * A node:http request listener running `handler` behind the breaker. The handler gets a third
   * argument, `{ signal }`, aborted when the request is cut by the timeout or its client leaves.
   *
   * @throws TypeError (code `ERR_BREAKWATER_INVALID_OPTION`) when `handler` is not a function.
   */
  wrap<Req extends IncomingMessage = IncomingMessage, Res extends ServerResponse = ServerResponse>(
    handler: ProtectedHandler<Req, Res>,
  ): (req: Req, res: Res) => void
  /** Express 5 middleware: `app.use(p.express)` for every route after it, or per route. */
  readonly express: ProtectExpressMiddleware
  /** A Fastify 5 plugin guarding the routes of the scope that registers it: `app.register(p.fastify)`. */
  readonly fastify: ProtectFastifyPlugin
}

/**
 * The default `isFailure`: a 5xx answer, or an error the route threw that was not answered with a
 * 4xx (a client's mistake thrown as an error, such as a validation error, is not the service's
 * failure).
 */
export function isServerFailure(statusCode: number, error: unknown): boolean {
  return statusCode >= 500 || (error !== undefined && statusCode < 400)
}

const OPTIONS = ['timeout', 'isFailure'] as const

/**
 * Puts a server's own routes behind `breaker`, as the design papers' service does: each request
 * is one call of `breaker.execute`. A refused request is answered 503 with `Retry-After` (whole
 * seconds, rounded up) and `{ error: 'CircuitBreakerOpen', breaker, retryAfterMs, message }`, and
 * never reaches the route. A 5xx answer or a thrown error counts as a failure (see `isFailure`), a
 * client that leaves before the response finished is ignored (neither failure nor success), and
 * a route that hangs past `timeout` is answered 503 and counted as a timeout. The breaker's own
 * call policy still applies on top: its `isFailure` sees the route's error (or a
 * `FailedResponseError` for a 5xx answered without one); a `fallback`'s value is not used.
 *
 * @throws TypeError or RangeError (code `ERR_BREAKWATER_INVALID_OPTION`) for something that is not
 * a breaker, an unknown option, a bad `timeout` or an `isFailure` that is not a function.
 * @example
 * import { createServer } from 'node:http'
 * import { circuitBreaker } from 'breakwater'
 * import { protect } from 'breakwater/http'
 *
 * const orders = protect(circuitBreaker('orders-api', { consecutiveFailures: 5 }), { timeout: '10s' })
 * createServer(orders.wrap((req, res) => res.end('ok'))).listen(8080)
 */
export function protect(breaker: ProtectedBreaker, options?: ProtectOptions): Protection {
  checkBreaker(breaker)
  const own = ownOptions<ProtectOptions>('protect', options, OPTIONS)
  const timeoutMs = own.timeout === undefined ? undefined : toTimeoutMillis('timeout', own.timeout)
  if (own.isFailure !== undefined && typeof own.isFailure !== 'function') {
    throw typeError(`isFailure must be a function of (statusCode, error), but was ${describe(own.isFailure)}`)
  }
  const protector: Protector = { breaker, timeoutMs, isFailure: own.isFailure ?? isServerFailure }
  return {
    breaker: breaker.name,
    wrap: (handler) => wrapHandler(protector, handler),
    express: expressMiddleware(protector),
    fastify: fastifyPlugin(protector),
  }
}

/** A `CircuitBreaker` of any copy of breakwater, by shape; a `TypeError` for anything else. */
function checkBreaker(breaker: unknown): asserts breaker is ProtectedBreaker {
  const b = breaker as Partial<Record<keyof ProtectedBreaker, unknown>> | null
  let ok = false
  try {
    ok = typeof b === 'object' && b !== null && typeof b.name === 'string' && typeof b.execute === 'function' && typeof b.metrics === 'function'
  } catch {
    ok = false // a revoked Proxy
  }
  if (!ok) throw typeError(`breaker must be a circuit breaker (from circuitBreaker or registry.getOrCreate), but was ${describe(breaker)}`)
}
