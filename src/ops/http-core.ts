import type { IncomingMessage, ServerResponse } from 'node:http'
import { describe, typeError } from '../validate.js'
import {
  act,
  type ActionResult,
  actFleet,
  type AdminCommand,
  checkFleetCommand,
  type ControlledBreaker,
  Isolations,
  readCommand,
  takeScope,
} from './http-admin.js'
import { challenge, checkBearer } from './http-auth.js'
import { sendDashboard } from './http-dashboard.js'
import { sendBulkheads, sendRetries } from './http-policies.js'
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
          this.#admin(route, req, res).catch((error: unknown) => failed(res, error)) // #admin answers its own errors: this is a last guard
          return
        // dashboard
        case 'dashboard':
          return sendDashboard(res, route.asset, this.config.tokenDigest !== undefined)
        case 'bulkheads':
          return sendBulkheads(res, this.config.bulkheads)
        case 'retries':
          return sendRetries(res, this.config.retries)
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

  /** Readiness: reads the critical breakers only, so a probe costs the same with 10 or 10,000 breakers. */
  #health(res: ServerResponse): void {
    const critical = this.config.critical.map((name) => {
      const m = this.#lookup(name)?.metrics()
      return { name, state: m?.state ?? null, retryAfterMs: m?.retryAfterMs ?? null }
    })
    const failing = critical.filter((c) => c.state !== null && refuses(c.state))
    const body = { status: failing.length > 0 ? 'down' : 'up', failing: failing.map((c) => c.name), critical }
    // Ready again when the last failing breaker lets calls through, if every one has a deadline.
    const waits = failing.map((c) => c.retryAfterMs)
    const headers: Record<string, string> = {}
    if (failing.length > 0 && waits.every((w) => w !== null)) headers['retry-after'] = String(retryAfterSeconds(Math.max(...(waits as number[]))))
    sendJson(res, failing.length > 0 ? 503 : 200, body, headers)
  }

  /** An admin request: admitted (or refused), performed, answered, and logged whatever happens. */
  async #admin(route: AdminRoute, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const entry = this.#entryOf(route, req)
    let answer: AdminAnswer
    let command: AdminCommand | undefined
    try {
      const admitted = await this.#admit(route, req)
      if ('status' in admitted) answer = admitted
      else if (admitted.command.scope === 'fleet') answer = await this.#performFleet(route, (command = admitted.command))
      else answer = this.#perform(route, (command = admitted.command))
    } catch (error) {
      answer = { ...refusal(500, `breakwater could not answer: ${error instanceof Error ? error.message : 'unknown error'}`), command }
    }
    // A body left unread (refused early, or past its limit or time) is not read to its end: the
    // connection closes instead of keeping alive.
    const headers = req.complete ? answer.headers : { ...answer.headers, connection: 'close' }
    if (res.headersSent) res.destroy()
    else sendJson(res, answer.status, answer.body, headers)
    command = answer.command
    const { results } = answer
    if (command) Object.assign(entry, { action: command.action, duration: command.duration ?? null, reason: command.reason ?? null })
    if (command?.scope === 'fleet') Object.assign(entry, { scope: 'fleet' })
    if (command?.targets) entry.breakers = command.targets
    this.config.log({
      ...entry,
      status: answer.status,
      result: answer.result,
      ...(results ? { results: results.map(({ name, status, from, to }) => ({ name, status, from, to })) } : {}),
    })
  }

  /** The token, the content type, the body and the command, in that order: the command, or why not. */
  async #admit(route: AdminRoute, req: IncomingMessage): Promise<{ command: AdminCommand } | AdminAnswer> {
    const credentials = checkBearer(req, this.config.tokenDigest!)
    if (credentials !== 'right') {
      const message = credentials === 'missing' ? 'an Authorization: Bearer token is required' : 'the bearer token is not right'
      return refusal(401, message, { 'www-authenticate': challenge(credentials) })
    }
    const type = req.headers['content-type']
    if (!isJsonContentType(type)) return refusal(415, `the request body must be application/json, but was ${describe(type ?? 'of no content type')}`)
    const body = await readJsonBody(req, this.config.bodyLimit, this.config.bodyTimeoutMs)
    if (!body.ok) return refusal(body.status, body.message)
    try {
      const { scope, rest } = takeScope(body.value)
      const command = readCommand(rest, route.kind === 'actMany')
      if (scope === 'fleet') {
        checkFleetCommand(command, this.config.fleet)
        command.scope = 'fleet'
      }
      return { command }
    } catch (error) {
      return refusal(400, (error as Error).message)
    }
  }

  /** Does an admitted command, on one breaker or several. */
  #perform(route: AdminRoute, command: AdminCommand): AdminAnswer {
    if (route.kind === 'act') {
      const result = this.#act(route.name, command)
      const body =
        result.status === 200
          ? { action: command.action, ...result, breaker: breakerView(route.name, this.#lookup(route.name)!.metrics()) }
          : { error: ERROR_NAMES[result.status], ...result }
      return { status: result.status, body, headers: {}, result: result.message ?? 'done', command }
    }
    const names = command.targets === 'all' ? this.#registry.names() : command.targets!
    const results = names.map((name) => this.#act(name, command))
    return { status: 200, body: { action: command.action, results }, headers: {}, result: 'done', command, results }
  }

  /**
   * A command for every instance of the fleet: sent through Redis (no local breaker needs to
   * exist here); each name answers 200 once sent, 503 when Redis could not take it.
   */
  async #performFleet(route: AdminRoute, command: AdminCommand): Promise<AdminAnswer> {
    const fleet = this.config.fleet!
    if (route.kind === 'act') {
      const result = await actFleet(route.name, fleet, command)
      const body = result.status === 200 ? { action: command.action, scope: 'fleet', ...result } : { error: 'ServiceUnavailable', scope: 'fleet', ...result }
      return { status: result.status, body, headers: {}, result: result.message ?? 'done', command }
    }
    const names = command.targets === 'all' ? this.#registry.names() : command.targets!
    const results = await Promise.all(names.map((name) => actFleet(name, fleet, command)))
    return { status: 200, body: { action: command.action, scope: 'fleet', results }, headers: {}, result: 'done', command, results }
  }

  #entryOf(route: AdminRoute, req: IncomingMessage): AdminLogEntry {
    return {
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

type AdminRoute = Extract<Route, { kind: 'act' | 'actMany' }>

/** An admin request's answer, and what the log says of it. */
interface AdminAnswer {
  status: number
  body: unknown
  headers: Record<string, string>
  /** `'done'`, or why not. */
  result: string
  command?: AdminCommand
  results?: ActionResult[]
}

function refusal(status: number, message: string, headers: Record<string, string> = {}): AdminAnswer {
  return { status, body: { error: ERROR_NAMES[status] ?? 'Error', message }, headers, result: message }
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
  503: 'ServiceUnavailable',
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
