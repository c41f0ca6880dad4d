import type { IncomingMessage, ServerResponse } from 'node:http'
import type { BreakerOptions } from '../options.js'
import type { StateName } from '../state.js'
import { describe } from '../validate.js'
import { challenge, checkBearer } from './http-auth.js'
import { isJsonContentType, readJsonBody } from './http-body.js'
import type { AdminLogEntry } from './http-log.js'
import type { HttpConfig } from './http-options.js'
import { sendJson } from './respond.js'

/** What `PATCH /breakers/:name/config` needs of a breaker: a breakwater `CircuitBreaker` fits. */
export interface ConfigurableBreaker {
  readonly state: StateName
  configure(partial: BreakerOptions): void
  options(): BreakerOptions
}

const ROUTE = 'PATCH /breakers/:name/config'

/**
 * `PATCH /breakers/:name/config` (admin token required): the JSON body is the partial options of
 * `breaker.configure`, checked the same way (a bad option answers 400 with its message and changes
 * nothing). 200 answers `{ name, from, to, options }`, the options in force after the change.
 * Every request is logged, as the other admin routes are, with action `configure`.
 */
export async function configureRoute(
  name: string,
  breaker: ConfigurableBreaker | undefined,
  req: IncomingMessage,
  res: ServerResponse,
  config: HttpConfig,
  actor: string,
): Promise<void> {
  const entry: AdminLogEntry = {
    actor,
    address: req.socket?.remoteAddress ?? null,
    route: ROUTE,
    action: null,
    breakers: [name],
    duration: null,
    reason: null,
    status: 0,
    result: '',
  }
  const [status, body, headers] = await answer(name, breaker, req, config, entry)
  const close = req.complete ? headers : { ...headers, connection: 'close' }
  if (res.headersSent) res.destroy()
  else sendJson(res, status, body, close)
  config.log({ ...entry, status, result: status === 200 ? 'done' : String((body as { message?: string }).message) })
}

type Answer = [status: number, body: unknown, headers: Record<string, string>]

async function answer(name: string, breaker: ConfigurableBreaker | undefined, req: IncomingMessage, config: HttpConfig, entry: AdminLogEntry): Promise<Answer> {
  const credentials = checkBearer(req, config.tokenDigest!)
  if (credentials !== 'right') {
    const message = credentials === 'missing' ? 'an Authorization: Bearer token is required' : 'the bearer token is not right'
    return [401, { error: 'Unauthorized', message }, { 'www-authenticate': challenge(credentials) }]
  }
  const type = req.headers['content-type']
  if (!isJsonContentType(type)) {
    return [415, { error: 'UnsupportedMediaType', message: `the request body must be application/json, but was ${describe(type ?? 'of no content type')}` }, {}]
  }
  const body = await readJsonBody(req, config.bodyLimit, config.bodyTimeoutMs)
  if (!body.ok) return [body.status, { error: body.status === 413 ? 'PayloadTooLarge' : 'BadRequest', message: body.message }, {}]
  entry.action = 'configure'
  if (!breaker) return [404, { error: 'NotFound', message: `there is no breaker named ${JSON.stringify(name)}` }, {}]
  const from = breaker.state
  try {
    breaker.configure(body.value as BreakerOptions)
  } catch (error) {
    if (error instanceof TypeError || error instanceof RangeError) return [400, { error: 'BadRequest', message: error.message }, {}]
    throw error
  }
  return [200, { name, from, to: breaker.state, options: breaker.options() }, {}]
}
