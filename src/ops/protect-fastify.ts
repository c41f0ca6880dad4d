import type { IncomingMessage, ServerResponse } from 'node:http'
import { isBrokenCircuitError } from '../errors.js'
import { brokenCircuitAnswer, type ProtectAnswer } from './protect-answer.js'
import { noteRouteError, type Protector, RequestGuard } from './protect-guard.js'

/**
 * Fastify 5 shapes, described structurally: breakwater's types never need fastify installed.
 * Only what is used is named, so Fastify's own request, reply and instance fit.
 */

/** The part of Fastify's request that is used. */
export interface ProtectFastifyRequest {
  readonly raw: IncomingMessage
}

/** The part of Fastify's reply that is used. */
export interface ProtectFastifyReply {
  readonly raw: ServerResponse
  code(statusCode: number): unknown
  header(key: string, value: string): unknown
  send(payload: string): unknown
}

/** An `onRequest` hook, callback style. */
export type ProtectFastifyOnRequestHook = (request: ProtectFastifyRequest, reply: ProtectFastifyReply, done: (error?: Error) => void) => void

/** An `onError` hook. */
export type ProtectFastifyOnErrorHook = (request: ProtectFastifyRequest, reply: ProtectFastifyReply, error: unknown, done: () => void) => void

/** The part of a Fastify instance the plugin uses. */
export interface ProtectFastifyScope {
  addHook(name: 'onRequest', hook: ProtectFastifyOnRequestHook): unknown
  addHook(name: 'onError', hook: ProtectFastifyOnErrorHook): unknown
}

/** A Fastify plugin (callback style). */
export type ProtectFastifyPlugin = (instance: ProtectFastifyScope, options: unknown, done: (error?: Error) => void) => void

/** A handler for Fastify's `setErrorHandler`. */
export type FastifyBreakerErrorHandler = (error: unknown, request: ProtectFastifyRequest, reply: ProtectFastifyReply) => void

/** Sends one of our answers through Fastify's reply, so its hooks and logs see it. */
function sendFastify(reply: ProtectFastifyReply, answer: ProtectAnswer): void {
  reply.code(answer.status)
  reply.header('content-type', 'application/json; charset=utf-8')
  reply.header('cache-control', 'no-store')
  for (const [key, value] of Object.entries(answer.headers)) reply.header(key, value)
  reply.send(JSON.stringify(answer.body))
}

/**
 * The plugin: an `onRequest` hook that asks the breaker (refused: the 503, and the route never
 * runs) and an `onError` hook that tells the guard what the route threw. The outcome is taken
 * from the raw response's `finish` and `close`, which come once for every request, answered,
 * failed or abandoned (Fastify's `onResponse` does not run for a client that left). Marked to
 * skip Fastify's encapsulation, as `fastify-plugin` does: it guards the routes of the scope that
 * registers it.
 */
export function fastifyPlugin(protector: Protector): ProtectFastifyPlugin {
  const onRequest: ProtectFastifyOnRequestHook = (request, reply, done) => {
    const guard = new RequestGuard(protector, reply.raw, (answer) => sendFastify(reply, answer))
    // Refused, `done` is never called: Fastify's way to answer from a callback hook.
    guard.start(request.raw, () => done())
  }
  const onError: ProtectFastifyOnErrorHook = (request, _reply, error, done) => {
    noteRouteError(request.raw, error)
    done()
  }
  const plugin: ProtectFastifyPlugin = (instance, _options, done) => {
    instance.addHook('onRequest', onRequest)
    instance.addHook('onError', onError)
    done()
  }
  return Object.assign(plugin, {
    [Symbol.for('skip-override')]: true,
    [Symbol.for('fastify.display-name')]: `breakwater-protect(${protector.breaker.name})`,
  })
}

/**
 * For Fastify's `setErrorHandler`: a `BrokenCircuitError` thrown by any route (a downstream
 * breaker is open) becomes the same 503 a refusal of `protect` answers, with `Retry-After`; every
 * other error is thrown on, which hands it to the parent scope's error handler (Fastify's own
 * at the root).
 *
 * @example
 * app.setErrorHandler(fastifyBreakerErrorHandler)
 */
export const fastifyBreakerErrorHandler: FastifyBreakerErrorHandler = (error, request, reply) => {
  noteRouteError(request.raw, error)
  if (!isBrokenCircuitError(error) || reply.raw.headersSent) throw error
  sendFastify(reply, brokenCircuitAnswer(error))
}
