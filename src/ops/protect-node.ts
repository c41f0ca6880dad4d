import type { IncomingMessage, ServerResponse } from 'node:http'
import { isThenable, warn } from '../callbacks.js'
import { isBrokenCircuitError } from '../errors.js'
import { typeError } from '../validate.js'
import { brokenCircuitAnswer, INTERNAL_ERROR_ANSWER, sendAnswer } from './protect-answer.js'
import { type ProtectContext, type Protector, RequestGuard } from './protect-guard.js'

/** A node:http request handler that `protect(...).wrap` can put behind a breaker. */
export type ProtectedHandler<Req extends IncomingMessage = IncomingMessage, Res extends ServerResponse = ServerResponse> = (
  req: Req,
  res: Res,
  context: ProtectContext,
) => unknown

/**
 * `handler` behind the breaker, as a node:http request listener. A handler that throws (or
 * rejects) before answering gets a 500 (a 503 for a downstream `BrokenCircuitError`); after it
 * began answering, its response is destroyed; both count as failures.
 */
export function wrapHandler<Req extends IncomingMessage, Res extends ServerResponse>(
  protector: Protector,
  handler: ProtectedHandler<Req, Res>,
): (req: Req, res: Res) => void {
  if (typeof handler !== 'function')
    throw typeError(`protect(...).wrap needs a request handler function, but was given ${handler === null ? 'null' : typeof handler}`)
  return (req, res) => {
    const guard = new RequestGuard(protector, res, (answer) => sendAnswer(res, answer))
    guard.start(req, (context) => {
      const failed = (error: unknown) => handlerFailed(guard, res, error)
      let result: unknown
      try {
        result = handler(req, res, context)
      } catch (error) {
        return failed(error)
      }
      if (isThenable(result)) {
        try {
          result.then(undefined, failed)
        } catch (error) {
          failed(error) // a thenable whose then throws
        }
      }
    })
  }
}

/** What a handler's error does, depending on how far its response got. */
function handlerFailed(guard: RequestGuard, res: ServerResponse, error: unknown): void {
  guard.note(error)
  // Cut by the timeout or left by its client: the handler was told (its signal); nothing to send.
  if (guard.abandoned || res.destroyed) return
  if (!res.headersSent) {
    try {
      return sendAnswer(res, isBrokenCircuitError(error) ? brokenCircuitAnswer(error) : INTERNAL_ERROR_ANSWER)
    } catch {
      // the handler left the response in a state no answer can be written in: cut it below
    }
  }
  if (!res.writableEnded) {
    guard.fail(error)
    res.destroy()
    return
  }
  // Answered already: the outcome stands (judged with this error if the answer is still going out).
  if (guard.decided) warn('a handler under protect threw after its response was sent', error, 'BREAKWATER_PROTECT')
}
