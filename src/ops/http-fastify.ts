import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Route } from './http-routes.js'
import { coreOf } from './http-core.js'

/** What the plugin reads of a Fastify request. */
export interface HttpFastifyRequest {
  raw: IncomingMessage
  params: unknown
}

/** What the plugin uses of a Fastify reply: the raw response, after taking it over. */
export interface HttpFastifyReply {
  raw: ServerResponse
  hijack(): unknown
}

/** The route options the plugin passes to Fastify's `route`. */
export interface HttpFastifyRoute {
  method: 'GET' | 'POST'
  url: string
  exposeHeadRoute: boolean
  handler(request: HttpFastifyRequest, reply: HttpFastifyReply): void
}

/** What the plugin uses of a Fastify 5 instance (described here, so the types need no Fastify installed). */
export interface HttpFastifyInstance {
  route(options: HttpFastifyRoute): unknown
  removeAllContentTypeParsers(): unknown
  addContentTypeParser(contentType: string, parser: (request: unknown, payload: unknown, done: (error: Error | null, body?: unknown) => void) => void): unknown
  addHook(name: 'preClose', hook: (done: () => void) => void): unknown
}

/** A Fastify plugin (`fastify.register(plugin, { prefix })`). */
export type HttpFastifyPlugin = (instance: HttpFastifyInstance, options: unknown) => Promise<void>

/**
 * A Fastify 5 plugin with the routes of `handler` (made by `breakwaterHttp`): the same routes,
 * answers, token, log and event streams. Its body parsing is its own: inside the plugin's
 * (encapsulated) context Fastify's parsers are set aside, so the admin routes read the raw body
 * with their own limit, timeout and answers (415, 413, 400). Open event streams end when Fastify
 * closes (`preClose`).
 *
 * @throws TypeError (code `ERR_BREAKWATER_INVALID_OPTION`) for a handler not made by `breakwaterHttp`.
 * @example
 * const ops = breakwaterHttp(registry, { token: process.env.OPS_TOKEN })
 * await app.register(breakwaterFastify(ops), { prefix: '/ops' })
 */
export function breakwaterFastify(handler: (req: IncomingMessage, res: ServerResponse) => void): HttpFastifyPlugin {
  const core = coreOf(handler)
  const { prefix, tokenDigest } = core.config
  return async function breakwater(instance) {
    instance.removeAllContentTypeParsers()
    instance.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined))
    // Before Fastify waits for requests in flight: an open stream would hold its close up for ever.
    instance.addHook('preClose', (done) => {
      core.close()
      done()
    })
    const add = (method: 'GET' | 'POST', path: string, route: (params: { name?: string }) => Route) =>
      instance.route({
        method,
        url: `${prefix}${path}`,
        exposeHeadRoute: false,
        handler(request, reply) {
          reply.hijack()
          core.serve(route(request.params as { name?: string }), request.raw, reply.raw)
        },
      })
    add('GET', '/breakers', () => ({ kind: 'list' }))
    add('GET', '/breakers/:name', ({ name }) => ({ kind: 'breaker', name: name! }))
    add('GET', '/health', () => ({ kind: 'health' }))
    add('GET', '/events', () => ({ kind: 'events' }))
    // dashboard
    add('GET', '/bulkheads', () => ({ kind: 'bulkheads' }))
    add('GET', '/retries', () => ({ kind: 'retries' }))
    if (core.config.dashboard) {
      add('GET', '/dashboard', () => ({ kind: 'dashboard', asset: 'page' }))
      for (const asset of ['app.js', 'app.css', 'icon.svg'] as const) add('GET', `/dashboard/${asset}`, () => ({ kind: 'dashboard', asset }))
    }
    if (tokenDigest !== undefined) {
      add('POST', '/breakers/state', () => ({ kind: 'actMany' }))
      add('POST', '/breakers/:name/state', ({ name }) => ({ kind: 'act', name: name! }))
    }
  }
}
