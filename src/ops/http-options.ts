import { type Duration, toTimeoutMillis } from '../duration.js'
import { describe, ownOptions, rangeError, typeError } from '../validate.js'
import { digestOf } from './http-auth.js'
import type { FleetControl } from './http-admin.js'
import { type AdminLog, type AdminLogger, readLog } from './http-log.js'
import { type BulkheadSource, readBulkheads, readRetries, type RetrySource } from './metrics-sources.js'

/** Options of `breakwaterHttp`. */
export interface BreakwaterHttpOptions {
  /**
   * The path the routes live under, such as `'/ops'`: starts with `/`, no trailing `/`. Leave it
   * out when the framework strips a mount path itself (Express `app.use('/ops', handler)`,
   * Fastify `register(plugin, { prefix })`). @default ''
   */
  prefix?: string
  /**
   * The bearer token of the admin routes (`POST .../state`): printable ASCII, no spaces. Without
   * it the admin routes do not exist (404): nothing can be steered by default.
   */
  token?: string
  /** Names of the breakers the service cannot work without: `GET /health` answers 503 while one is open. @default [] */
  critical?: readonly string[]
  /**
   * A request header naming who makes an admin request (`'x-actor'`), logged with the action;
   * without it (or when a request has none) the log names the remote address.
   */
  actor?: string
  /**
   * Where admin actions are logged: a pino-shaped logger (`info` for actions done, `warn` for
   * refused ones), a function of the entry, or `false` for nowhere. @default one JSON line per
   * action through `console.info` / `console.warn`
   */
  log?: AdminLogger | AdminLog | false
  /** The largest admin request body, in bytes: past it the answer is 413 and reading stops. @default 16384 */
  bodyLimit?: number
  /** How long an admin request body may take to arrive: past it the answer is 408. @default '10s' */
  bodyTimeout?: Duration
  /** How often `GET /events` sends a heartbeat comment, so proxies keep the stream open. @default '15s' */
  heartbeat?: Duration
  /** How many `GET /events` streams may be open at once; more are answered 503. @default 1000 */
  maxStreams?: number
  /**
   * A fleet (what `fleet()` of breakwater/fleet returns): admin requests with `"scope": "fleet"`
   * then `close` or `force_open` the breaker on every instance. @default none (`scope: "fleet"` is a 400)
   */
  fleet?: FleetControl
  // dashboard
  /**
   * Whether `GET /dashboard` serves the live page (read-only without the token; with it, its
   * admin buttons use the admin routes). `false`: the route answers 404 (or goes to `next`).
   * @default true
   */
  dashboard?: boolean
  /** Bulkheads shown by `GET /bulkheads` and the dashboard (what `bulkhead()` returns). @default none */
  bulkheads?: readonly BulkheadSource[]
  /** Retry policies shown by `GET /retries` and the dashboard, by the name given here (what `retry()` returns). @default none */
  retries?: Readonly<Record<string, RetrySource>>
}

/** The options, checked, with their defaults. */
export interface HttpConfig {
  prefix: string
  /** SHA-256 of the token; `undefined` when no token is set (no admin routes). */
  tokenDigest: Buffer | undefined
  critical: readonly string[]
  actor: string | undefined
  log: AdminLog
  bodyLimit: number
  bodyTimeoutMs: number
  heartbeatMs: number
  maxStreams: number
  /** The fleet for `"scope": "fleet"`, if given. */
  fleet?: FleetControl
  // dashboard
  dashboard: boolean
  bulkheads: readonly BulkheadSource[]
  retries: readonly [string, RetrySource][]
}

const OPTIONS = ['prefix', 'token', 'critical', 'actor', 'log', 'bodyLimit', 'bodyTimeout', 'heartbeat', 'maxStreams'] as const
// dashboard
const DASHBOARD_OPTIONS = ['dashboard', 'bulkheads', 'retries'] as const
/** The largest `bodyLimit`: the admin body is a few hundred bytes; a big limit only helps an attacker. */
const MAX_BODY_LIMIT = 1_048_576
/** The shortest heartbeat: a heartbeat every few milliseconds is a busy loop per stream. */
const MIN_HEARTBEAT_MS = 100

/**
 * Reads `breakwaterHttp`'s options: own properties only, unknown keys refused, every value
 * checked (a `TypeError` or `RangeError` naming the field) before anything is made.
 */
export function readHttpOptions(options: unknown): HttpConfig {
  const { fleet, rest } = takeFleet(options)
  const o = ownOptions<BreakwaterHttpOptions>('breakwaterHttp', rest, [...OPTIONS, ...DASHBOARD_OPTIONS])
  return {
    ...(fleet ? { fleet } : {}),
    prefix: readPrefix(o.prefix),
    tokenDigest: o.token === undefined ? undefined : digestOf(readToken(o.token)),
    critical: readCritical(o.critical),
    actor: o.actor === undefined ? undefined : readHeaderName('actor', o.actor),
    log: readLog(o.log),
    bodyLimit: readCount('bodyLimit', o.bodyLimit ?? 16_384, MAX_BODY_LIMIT),
    bodyTimeoutMs: toTimeoutMillis('bodyTimeout', o.bodyTimeout ?? 10_000),
    heartbeatMs: readHeartbeat(o.heartbeat),
    maxStreams: readCount('maxStreams', o.maxStreams ?? 1000, 1_000_000),
    // dashboard
    dashboard: readSwitch('dashboard', o.dashboard),
    bulkheads: readBulkheads(o.bulkheads),
    retries: readRetries(o.retries),
  }
}

function readPrefix(prefix: unknown): string {
  if (prefix === undefined) return ''
  if (typeof prefix !== 'string') throw typeError(`prefix must be a string such as '/ops', but was ${describe(prefix)}`)
  if (prefix === '' || prefix === '/') return ''
  if (!/^(\/[A-Za-z0-9\-._~!$&'()*+,;=:@%]+)+$/.test(prefix)) {
    throw rangeError(`prefix must be a path such as '/ops': starting with /, without a trailing /, empty segments, ? or #, but was ${describe(prefix)}`)
  }
  return prefix
}

function readToken(token: unknown): string {
  if (typeof token !== 'string') throw typeError(`token must be a string, but was ${describe(token)}`)
  if (token === '') throw rangeError('token must not be empty: leave it out to have no admin routes')
  // Visible ASCII only: a header cannot carry the rest, and a space would split the Bearer value.
  if (!/^[\x21-\x7e]+$/.test(token)) {
    throw rangeError('token must be printable ASCII without spaces (characters ! to ~), but it has another character')
  }
  return token
}

function readCritical(critical: unknown): readonly string[] {
  if (critical === undefined) return []
  if (!Array.isArray(critical)) throw typeError(`critical must be an array of breaker names, but was ${describe(critical)}`)
  const names = [...critical]
  names.forEach((name, i) => {
    if (typeof name !== 'string' || name === '') throw typeError(`critical[${i}] must be a breaker name (a non-empty string), but was ${describe(name)}`)
  })
  return Object.freeze([...new Set(names as string[])])
}

function readHeaderName(field: string, name: unknown): string {
  if (typeof name !== 'string') throw typeError(`${field} must be a header name such as 'x-actor', but was ${describe(name)}`)
  if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name)) throw rangeError(`${field} must be a header name such as 'x-actor', but was ${describe(name)}`)
  return name.toLowerCase()
}

function readCount(field: string, value: unknown, max: number): number {
  if (typeof value !== 'number') throw typeError(`${field} must be a whole number, but was ${describe(value)}`)
  if (!Number.isInteger(value) || value < 1 || value > max) throw rangeError(`${field} must be a whole number from 1 to ${max}, but was ${value}`)
  return value
}

function readHeartbeat(heartbeat: unknown): number {
  const ms = toTimeoutMillis('heartbeat', heartbeat ?? 15_000)
  if (ms < MIN_HEARTBEAT_MS) throw rangeError(`heartbeat must be at least ${MIN_HEARTBEAT_MS} ms, but was ${ms}`)
  return ms
}

// ---- fleet (issue 12) ----

/** Takes the `fleet` option out (checked: forceOpen and forceClose); the rest is read as before. */
function takeFleet(options: unknown): { fleet: FleetControl | undefined; rest: unknown } {
  if (typeof options !== 'object' || options === null || !Object.hasOwn(options, 'fleet')) return { fleet: undefined, rest: options }
  const { fleet, ...rest } = options as { fleet: unknown }
  if (fleet === undefined) return { fleet: undefined, rest }
  const f = fleet as Partial<Record<keyof FleetControl, unknown>> | null
  if (typeof f !== 'object' || f === null || typeof f.forceOpen !== 'function' || typeof f.forceClose !== 'function') {
    throw typeError(`fleet must be a fleet from breakwater/fleet (with forceOpen and forceClose), but was ${describe(fleet)}`)
  }
  return { fleet: fleet as FleetControl, rest }
}

// dashboard
function readSwitch(field: string, value: unknown): boolean {
  if (value === undefined) return true
  if (typeof value !== 'boolean') throw typeError(`${field} must be true or false, but was ${describe(value)}`)
  return value
}
