import type { IncomingMessage, ServerResponse } from 'node:http'
import { describe, typeError } from '../validate.js'
import { cores, HttpCore, type HttpRegistry } from './http-core.js'
import { type BreakwaterHttpOptions, readHttpOptions } from './http-options.js'
import { matchRoute } from './http-routes.js'
import { sendJson } from './respond.js'

export type { AdminAction } from './http-admin.js'
export type { FleetControl } from './http-admin.js'
export type { HttpBreaker, HttpRegistry } from './http-core.js'
export type { AdminLog, AdminLogEntry, AdminLogger } from './http-log.js'
export type { BreakwaterHttpOptions } from './http-options.js'
export type { BulkheadView, RetryView } from './http-policies.js'
export type { BulkheadSource, RetrySource } from './metrics-sources.js'
export type { BreakerView, LatencyView } from './view.js'
export { breakerView } from './view.js'
export {
  breakwaterFastify,
  type HttpFastifyInstance,
  type HttpFastifyPlugin,
  type HttpFastifyReply,
  type HttpFastifyRequest,
  type HttpFastifyRoute,
} from './http-fastify.js'

/**
 * A request handler for `node:http`, Express (as middleware) and Fastify (through
 * `breakwaterFastify`). A request it has no route for goes to `next` when given, else gets 404.
 */
export interface BreakwaterHttpHandler {
  (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void): void
  /** How many `GET /events` streams are open now. */
  readonly streams: number
  /** Ends every open `GET /events` stream (call it before closing the server: open streams hold it up). */
  close(): void
}

/**
 * Health, admin and event routes for the breakers of `registry`, framework-free:
 *
 * - `GET /breakers`: every breaker's view (state, since, retryAfterMs, counts, rates, latency).
 * - `GET /breakers/:name`: 200 with the view when it lets calls through; 503 with `Retry-After`
 *   (whole seconds, rounded up; left out when forced open without a deadline) when open or
 *   forced open; 404 for an unknown name. Names are percent-encoded path segments (`a%2Fb`).
 * - `GET /health`: 503 while a `critical` breaker is open or forced open, else 200; the body
 *   says which (`failing`) and every critical breaker's state; it reads only the critical breakers.
 * - `POST /breakers/:name/state` and `POST /breakers/state` (only with a `token`): JSON
 *   `{ action, duration?, reason? }` (`names: [...]` or `all: true` for the second), with
 *   `Authorization: Bearer <token>`. Every request to them is logged through `log`.
 * - `GET /events`: Server-Sent Events, one `state` event per transition in any thread, a
 *   heartbeat comment every `heartbeat`.
 * - `GET /bulkheads`, `GET /retries`: the stats of the `bulkheads` and `retries` given.
 * - `GET /dashboard`: a live page of all of the above (unless `dashboard: false`), served with a
 *   Content-Security-Policy that lets it reach only this origin; with the token typed in, its
 *   buttons force open, close and isolate breakers through the admin route.
 *
 * Actions: `close` (reset), `force_open` (for `duration`, else until closed), `isolate` (forced
 * open until a later `close`, or for `duration`, after which it closes unless someone changed it
 * meanwhile), `disable`, `half_open` (409 unless open or forced open, and not isolated).
 * With the `fleet` option, a body with `"scope": "fleet"` sends `close` or `force_open` to every
 * instance of the fleet through Redis (200 once sent, 503 when Redis could not take it).
 *
 * @throws TypeError or RangeError (code `ERR_BREAKWATER_INVALID_OPTION`) for a registry that is
 * not one, or a bad or unknown option, naming it.
 * @example
 * import { createServer } from 'node:http'
 * import { registry } from 'breakwater'
 * import { breakwaterHttp } from 'breakwater/http'
 * const ops = breakwaterHttp(registry, { prefix: '/ops', token: process.env.OPS_TOKEN, critical: ['orders'] })
 * createServer(ops).listen(9464)
 */
export function breakwaterHttp(registry: HttpRegistry, options: BreakwaterHttpOptions = {}): BreakwaterHttpHandler {
  checkRegistry(registry)
  const core = new HttpCore(registry, readHttpOptions(options))
  const { prefix, tokenDigest } = core.config
  const handler = (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void): void => {
    const match = matchRoute(req.method, req.url, prefix, tokenDigest !== undefined, core.config.dashboard)
    if (match === undefined) {
      if (typeof next === 'function') next()
      else sendJson(res, 404, { error: 'NotFound', message: 'breakwater has no such route' })
    } else if ('allow' in match) {
      sendJson(res, 405, { error: 'MethodNotAllowed', message: `${req.method} is not allowed here (allowed: ${match.allow})` }, { allow: match.allow })
    } else if ('bad' in match) {
      sendJson(res, 400, { error: 'BadRequest', message: match.bad })
    } else {
      core.serve(match.found, req, res)
    }
  }
  Object.defineProperties(handler, {
    streams: { get: () => core.streams, enumerable: true },
    close: { value: () => core.close(), enumerable: true },
  })
  cores.set(handler, core)
  return handler as BreakwaterHttpHandler
}

function checkRegistry(registry: unknown): asserts registry is HttpRegistry {
  const r = registry as Partial<Record<keyof HttpRegistry, unknown>> | null
  const shaped = typeof r === 'object' && r !== null && (['names', 'get', 'health', 'onStateChange'] as const).every((m) => typeof r[m] === 'function')
  if (!shaped) throw typeError(`registry must be a breakwater Registry (with names, get, health and onStateChange), but was ${describe(registry)}`)
}
