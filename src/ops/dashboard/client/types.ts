// The shapes the page reads from the handler: the server's own types, so the two cannot drift.
import type { StateName } from '../../../state.js'
import type { BulkheadView, RetryView } from '../../http-policies.js'
import type { BreakerView } from '../../view.js'

export type { BreakerView, BulkheadView, RetryView, StateName }

/** A `state` event of `GET /events`. */
export interface TransitionEvent {
  name: string
  from: StateName
  to: StateName
  reason: string
  /** Wall-clock milliseconds since the Unix epoch. */
  at: number
  retryAfterMs: number | null
}

/** The admin actions the page offers. */
export type CardAction = 'force_open' | 'close' | 'isolate'
