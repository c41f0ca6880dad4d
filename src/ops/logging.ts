/**
 * breakwater/logging: one structured log line per breaker transition, for any pino-shaped logger.
 */
import type { ReasonName, StateName } from '../state.js'
import { checkMethods, type TransitionSource } from './metrics-sources.js'

export type { TransitionSource } from './metrics-sources.js'

/** A logger as pino, bunyan or winston's child loggers take a line: an object, then a message. */
export interface TransitionLogger {
  info(fields: TransitionLogLine, message: string): unknown
  warn(fields: TransitionLogLine, message: string): unknown
}

/** The fields of a transition's log line. */
export interface TransitionLogLine {
  /** The breaker's name. */
  breaker: string
  from: StateName
  to: StateName
  reason: ReasonName
  /** When it changed, in milliseconds since the Unix epoch (it may be before the line: a change made in another thread arrives soon after). */
  at: number
  /** On a move to open or forced open with a deadline: milliseconds until a probe may pass. */
  retryAfterMs?: number
}

/** States whose entry is worth a warning: calls are being refused. */
const REFUSING: ReadonlySet<StateName> = new Set<StateName>(['open', 'forced_open'])

/**
 * Logs every transition of every breaker of `registry` (made in any thread, breakers created
 * later included) as one structured line: `warn` on a move to open or forced open, `info`
 * otherwise, with the fields `{ breaker, from, to, reason, at, retryAfterMs? }` and a message
 * like `circuit breaker "orders" closed -> open (consecutive_failures)`. A logger that throws
 * is ignored: it never reaches the breaker, the call that moved it, or other listeners.
 *
 * @returns a disposer: no line is written after it is called.
 * @throws TypeError (code `ERR_BREAKWATER_INVALID_OPTION`) for a registry without
 * `onStateChange()` or a logger without `info()` and `warn()`.
 * @example
 * import pino from 'pino'
 * import { registry } from 'breakwater'
 * import { logTransitions } from 'breakwater/logging'
 * const stop = logTransitions(registry, pino())
 */
export function logTransitions(registry: TransitionSource, logger: TransitionLogger): () => void {
  checkMethods('registry', registry, ['onStateChange'])
  checkMethods('logger', logger, ['info', 'warn'])
  return registry.onStateChange((change) => {
    const line: TransitionLogLine = { breaker: change.name, from: change.from, to: change.to, reason: change.reason, at: change.at }
    if (change.retryAfterMs !== undefined) line.retryAfterMs = change.retryAfterMs
    const message = `circuit breaker ${JSON.stringify(change.name)} ${change.from} -> ${change.to} (${change.reason})`
    try {
      const written = REFUSING.has(change.to) ? logger.warn(line, message) : logger.info(line, message)
      // A logger that answers with a promise (an async transport) may reject it: ours to handle.
      if (typeof (written as PromiseLike<unknown> | undefined)?.then === 'function') Promise.resolve(written).catch(ignore)
    } catch {
      // A logger's failure is the logger's: the transition happened all the same.
    }
  })
}

function ignore(): void {}
