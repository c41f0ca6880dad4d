/** The public shape of `breakwater/fleet`: the handle, its status and its events. */
import type { CircuitBreaker } from '../breaker.js'
import type { Duration } from '../duration.js'
import type { Disposer } from '../events.js'
import type { StateName } from '../state.js'
import type { FleetState } from './member.js'
import type { Drop } from './messages.js'

/** A fleet state change applied here: another instance's open, a probe's result, an operator. */
export interface RemoteEvent {
  name: string
  state: 'open' | 'closed'
  generation: number
  /** The reason the fleet gave (the opening instance's rule, `probe_succeeded`, `operator`...). */
  reason: string
  /** The instance that made it. */
  by: string
  /** Milliseconds until the fleet probes (open), `null` until closed by hand. */
  retryAfterMs: number | null
}

/** A vote seen on the channel. */
export interface VoteEvent {
  name: string
  votes: number
  needed: number
  by: string
}

/** One joined breaker in `status()`. */
export interface FleetBreakerStatus {
  /** The local breaker's state. */
  local: StateName
  /** The fleet's state as last heard (`unknown` before the first sync). */
  fleet: FleetState
  generation: number
  /** Votes in the window at the last vote heard, and how many were needed. */
  votes: number
  needed: number
  /** Whether this instance holds the fleet's probe lease. */
  leaseHeld: boolean
}

/** What `status()` tells. */
export interface FleetStatus {
  namespace: string
  instanceId: string
  redisUp: boolean
  /** Live instances at the last heartbeat (0 before the first). */
  instancesAlive: number
  /** `Date.now()` of the last successful sync with Redis, or null. */
  lastSyncAt: number | null
  /** Errors reported to `onError` (Redis down, commands refused or failed). */
  errors: number
  /** State messages applied. */
  applied: number
  /** Messages dropped, by why: malformed, oversized, foreign (another namespace), unknown (a breaker not joined), stale (an old generation). */
  dropped: Record<Drop | 'stale', number>
  breakers: Record<string, FleetBreakerStatus>
}

/** A fleet of instances sharing their breakers' states over Redis. */
export interface Fleet {
  /**
   * Shares the breaker (a name in the fleet's registry, or a handle from it) with the fleet:
   * from now on its opens vote, and the fleet's opens apply to it. Resolves once it has read the
   * fleet's state from Redis (true; an open fleet refuses calls from then on), or false when Redis
   * could not be reached in time (it syncs when Redis returns). Never rejects.
   * @throws TypeError or RangeError (code `ERR_BREAKWATER_INVALID_OPTION`) for a bad name or a
   * breaker of another registry.
   */
  join(breaker: string | CircuitBreaker): Promise<boolean>
  /** Stops sharing it; a fleet open in force becomes a local one with the time left. Whether it was joined. */
  leave(breaker: string | CircuitBreaker): boolean
  /**
   * Opens the breaker on every instance (for `duration`, then the fleet probes; else until `forceClose`).
   * @throws RangeError (code `ERR_BREAKWATER_INVALID_OPTION`) for a duration above 30 days, the longest a breaker is open.
   */
  forceOpen(name: string, duration?: Duration): Promise<boolean>
  /** Closes the breaker on every instance. */
  forceClose(name: string): Promise<boolean>
  status(): FleetStatus
  onRemote(listener: (event: RemoteEvent) => void): Disposer
  onVote(listener: (event: VoteEvent) => void): Disposer
  /** Redis becoming usable (true: connected, subscribed, synced next) or not (false: local-only). */
  onRedis(listener: (up: boolean) => void): Disposer
  /** Redis errors and refused commands: reported here, never thrown into your code. */
  onError(listener: (error: unknown) => void): Disposer
  /** Leaves every breaker, stops the heartbeat and closes the connections it made (never yours). */
  close(): Promise<void>
}
