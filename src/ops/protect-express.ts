import type { IncomingMessage, ServerResponse } from 'node:http'
import { isBrokenCircuitError } from '../errors.js'
import { brokenCircuitAnswer, sendAnswer } from './protect-answer.js'
import { noteRouteError, type Protector, RequestGuard } from './protect-guard.js'

/**
 * Express 5 shapes, described structurally: breakwater's types never need `@types/express`.
 * Express's `Request` and `Response` extend node:http's, so its app takes these as they are.
 */

/** Express's `next`. */
export type ProtectExpressNext = (error?: unknown) => void

/** An Express middleware. */
export type ProtectExpressMiddleware = (req: IncomingMessage, res: ServerResponse, next: ProtectExpressNext) => void

/** An Express error handler (four parameters: that is how Express tells one). */
export type ExpressBreakerErrorHandler = (error: unknown, req: IncomingMessage, res: ServerResponse, next: ProtectExpressNext) => void

/** Express middleware that runs the rest of the request's chain behind the breaker. */
export function expressMiddleware(protector: Protector): ProtectExpressMiddleware {
  return (req, res, next) => {
    const guard = new RequestGuard(protector, res, (answer) => sendAnswer(res, answer))
    guard.start(req, () => next())
  }
}

/**
 * Express error handler: a `BrokenCircuitError` thrown by any route (a downstream breaker is
 * open) becomes the same 503 a refusal of `protect` answers, with `Retry-After`; every other
 * error goes on to the next error handler. It also tells `protect` which error the route threw,
 * so its `isFailure` sees it. Mount it after the routes.
 *
 * @example
 * app.use(breakerErrorHandler)
 */
export const breakerErrorHandler: ExpressBreakerErrorHandler = (error, req, res, next) => {
  noteRouteError(req, error)
  if (!isBrokenCircuitError(error) || res.headersSent) return next(error)
  sendAnswer(res, brokenCircuitAnswer(error))
}
