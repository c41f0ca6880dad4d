import type { ServerResponse } from 'node:http'
import type { BulkheadSource, RetrySource } from './metrics-sources.js'
import { sendJson } from './respond.js'

/** A bulkhead as `GET /bulkheads` shows it: its name and its stats, every key always present. */
export interface BulkheadView {
  name: string
  /** Permits in all. */
  maxConcurrent: number
  /** The longest the queue may be. */
  maxQueue: number
  /** Permits held now, by every thread. */
  inUse: number
  /** Callers waiting now, in every thread. */
  queued: number
  /** Permits handed out. */
  admitted: number
  /** Callers refused with every permit taken and the queue full. */
  rejected: number
  /** Queued callers that gave up. */
  cancelled: number
}

/** A retry policy as `GET /retries` shows it: the name it was given in the `retries` option, and its stats. */
export interface RetryView {
  name: string
  calls: number
  retries: number
  /** Calls that failed in the end, whatever the reason. */
  givenUp: number
  /** Retries refused by the budget. */
  budgetExhausted: number
}

/** `GET /bulkheads`: every bulkhead given to the handler, in the order given. */
export function sendBulkheads(res: ServerResponse, bulkheads: readonly BulkheadSource[]): void {
  const views: BulkheadView[] = bulkheads.map((b) => {
    const s = b.stats()
    return {
      name: b.name,
      maxConcurrent: s.maxConcurrent,
      maxQueue: s.maxQueue,
      inUse: s.inUse,
      queued: s.queued,
      admitted: s.admitted,
      rejected: s.rejected,
      cancelled: s.cancelled,
    }
  })
  sendJson(res, 200, { bulkheads: views })
}

/** `GET /retries`: every retry policy given to the handler, in the order given. */
export function sendRetries(res: ServerResponse, retries: readonly [string, RetrySource][]): void {
  const views: RetryView[] = retries.map(([name, r]) => {
    const s = r.stats()
    return { name, calls: s.calls, retries: s.retries, givenUp: s.givenUp, budgetExhausted: s.budgetExhausted }
  })
  sendJson(res, 200, { retries: views })
}
