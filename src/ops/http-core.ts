import type { IncomingMessage, ServerResponse } from 'node:http'
import { describe, typeError } from '../validate.js'
import { act, type ActionResult, type AdminCommand, type ControlledBreaker, Isolations, readCommand } from './http-admin.js'
import { challenge, checkBearer } from './http-auth.js'
import { isJsonContentType, readJsonBody } from './http-body.js'
import { type ChangeSource, EventStreams } from './http-events.js'
import type { AdminLogEntry } from './http-log.js'
import type { HttpConfig } from './http-options.js'
import type { Route } from './http-routes.js'
import { retryAfterSeconds, sendJson } from './respond.js'
import { breakerView, refuses, type ViewedMetrics } from './view.js'

/** What `breakwaterHttp` needs of a breaker: a breakwater `CircuitBreaker` fits. */
export interface HttpBreaker extends ControlledBreaker {
  metrics(): ViewedMetrics
}

/** What `breakwaterHttp` needs of a registry: a breakwater `Registry` (or `registry`) fits. */
export interface HttpRegistry extends ChangeSource {
  names(): string[]
  get(name: string): HttpBreaker | undefined
  health(): Record<string, ViewedMetrics>
}

/** The request handling shared by the `node:http` handler and the Fastify plugin. */
export class HttpCore {
  readonly #registry: HttpRegistry
  readonly config: HttpConfig
  readonly #streams: EventStreams
  readonly #isolations = new Isolations()

  constructor(registry: HttpRegistry, config: HttpConfig) {
    this.#registry = registry
    this.config = config
    this.#streams = new EventStreams(registry, config.heartbeatMs, config.maxStreams)
  }

  get streams(): number {
    return this.#streams.size
  }

  close(): void {
    this.#streams.closeAll()
  }

  /** Answers `route`; never throws, never rejects (an unexpected error is a 500). */
  serve(route: Route, req: IncomingMessage, res: ServerResponse): void {
    try {
      switch (route.kind) {
        case 'list':
          return this.#list(res)
        case 'breaker':
          return this.#breaker(route.name, res)
        case 'health':
          return this.#health(res)
        case 'events':
          return this.#streams.open(req, res)
        case 'act':
        case 'actMany':
          this.#admin(route, req, res).catch((error: unknown) => failed(res, error))
          return
      }
    } catch (error) {
      failed(res, error)
    }
  }

  #list(res: ServerResponse): void {
    const health = this.#registry.health()
    const now = Date.now()
    const breakers = Object.keys(health)
      .sort()
      .map((name) => breakerView(name, health[name]!, now))
    sendJson(res, 200, { breakers })
  }

  #breaker(name: string, res: ServerResponse): void {
    const breaker = this.#lookup(name)
    if (!breaker) return sendJson(res, 404, notFound(name))
    const view = breakerView(name, breaker.metrics())
    if (!refuses(view.state)) return sendJson(res, 200, view)
    sendJson(res, 503, view, view.retryAfterMs === null ? {} : { 'retry-after': String(retryAfterSeconds(view.retryAfterMs)) })
  }

  #health(res: ServerResponse): void {
    const health = this.#registry.health()
    const critical = this.config.critical.map((name) => {
      const m = Object.hasOwn(health, name) ? health[name] : undefined
      return { name, state: m?.state ?? null, retryAfterMs: m?.retryAfterMs ?? null }
    })
    const failing = critical.filter((c) => c.state !== null && refuses(c.state))
    const open = Object.keys(health)
      .filter((name) => refuses(health[name]!.state))
      .sort()
    const body = { status: failing.length > 0 ? 'down' : 'up', failing: failing.map((c) => c.name), critical, open }
    // Ready again when the last failing breaker lets calls through, if every one has a deadline.
    const waits = failing.map((c) => c.retryAfterMs)
    const headers: Record<string, string> = {}
    if (failing.length > 0 && waits.every((w) => w !== null)) headers['retry-after'] = String(retryAfterSeconds(Math.max(...(waits as number[]))))
    sendJson(res, failing.length > 0 ? 503 : 200, body, headers)
  }

  /** An admin request: token, content type, body, command, then the action, logged whatever happens. */
  async #admin(route: { kind: 'act'; name: string } | { kind: 'actMany' }, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const entry: AdminLogEntry = {
      actor: this.#actor(req),
      address: req.socket?.remoteAddress ?? null,
      route: route.kind === 'act' ? 'POST /breakers/:name/state' : 'POST /breakers/state',
      action: null,
      breakers: route.kind === 'act' ? [route.name] : null,
      duration: null,
      reason: null,
      status: 0,
      result: '',
    }
    const refuse = (status: number, message: string, headers: Record<string, string> = {}) => {
      if (status === 413 || status === 408) headers = { ...headers, connection: 'close' }
      sendJson(res, status, { error: ERROR_NAMES[status] ?? 'Error', message }, headers)
      this.config.log({ ...entry, status, result: message })
    }
    const credentials = checkBearer(req, this.config.tokenDigest!)
    if (credentials !== 'right') {
      return refuse(401, credentials === 'missing' ? 'an Authorization: Bearer token is required' : 'the bearer token is not right', { 'www-authenticate': challenge(credentials) })
    }
    if (!isJsonContentType(req.headers['content-type'])) {
      return refuse(415, `the request body must be application/json, but was ${describe(req.headers['content-type'] ?? 'of no content type')}`)
    }
    const body = await readJsonBody(req, this.config.bodyLimit, this.config.bodyTimeoutMs)
    if (!body.ok) return refuse(body.status, body.message)
    let command: AdminCommand
    try {
      command = readCommand(body.value, route.kind === 'actMany')
    } catch (error) {
      return refuse(400, (error as Error).message)
    }
    Object.assign(entry, { action: command.action, duration: command.duration ?? null, reason: command.reason ?? null })
    if (route.kind === 'act') {
      const result = this.#act(route.name, command)
      const status = result.status
      if (status === 200) sendJson(res, 200, { action: command.action, ...result, breaker: breakerView(route.name, this.#lookup(route.name)!.metrics()) })
      else sendJson(res, status, { error: ERROR_NAMES[status], ...result })
      this.config.log({ ...entry, status, result: result.message ?? 'done' })
      return
    }
    const names = command.targets === 'all' ? this.#registry.names() : command.targets!
    const results = names.map((name) => this.#act(name, command))
    sendJson(res, 200, { action: command.action, results })
    this.config.log({ ...entry, breakers: command.targets!, status: 200, result: 'done', results: results.map(({ name, status, from, to }) => ({ name, status, from, to })) })
  }

  #act(name: string, command: AdminCommand): ActionResult {
    const breaker = this.#lookup(name)
    if (!breaker) return { name, status: 404, message: notFound(name).message }
    return act(name, breaker, command, this.#isolations)
  }

  /** The breaker called `name`, or `undefined` (also for a name no breaker can have: too long, say). */
  #lookup(name: string): HttpBreaker | undefined {
    try {
      return this.#registry.get(name)
    } catch {
      return undefined
    }
  }

  #actor(req: IncomingMessage): string {
    const header = this.config.actor === undefined ? undefined : req.headers[this.config.actor]
    const value = (Array.isArray(header) ? header.join(', ') : header)?.trim()
    if (value) return value.length > MAX_ACTOR ? `${value.slice(0, MAX_ACTOR)}...` : value
    return req.socket?.remoteAddress ?? 'unknown'
  }
}

/** The longest actor kept in a log entry (it is whatever a caller sent). */
const MAX_ACTOR = 200

const ERROR_NAMES: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  408: 'RequestTimeout',
  409: 'Conflict',
  413: 'PayloadTooLarge',
  415: 'UnsupportedMediaType',
  500: 'InternalServerError',
}

function notFound(name: string) {
  return { error: 'NotFound', message: `there is no breaker named ${JSON.stringify(name)}` }
}

/** An unexpected error: 500 if nothing was sent yet, else the connection is cut (a half answer must not look whole). */
function failed(res: ServerResponse, error: unknown): void {
  if (res.headersSent) {
    res.destroy()
    return
  }
  const message = error instanceof Error ? error.message : 'unknown error'
  sendJson(res, 500, { error: 'InternalServerError', message: `breakwater could not answer: ${message}` })
}

/** The core of each handler made by `breakwaterHttp`, for `breakwaterFastify`. */
export const cores = new WeakMap<object, HttpCore>()

/** The core behind a handler made by `breakwaterHttp`; a `TypeError` for anything else. */
export function coreOf(handler: unknown): HttpCore {
  const core = typeof handler === 'function' ? cores.get(handler) : undefined
  if (!core) throw typeError(`breakwaterFastify needs a handler made by breakwaterHttp, but was ${describe(handler)}`)
  return core
}
