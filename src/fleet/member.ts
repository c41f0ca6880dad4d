import type { CircuitBreaker } from '../breaker.js'
import type { NativeBreaker } from '../native.js'

/** The fleet's state of a breaker, as this instance knows it. */
export type FleetState = 'open' | 'closed' | 'unknown'

/** A joined breaker: what this instance knows of its fleet state, and what it did about it. */
export interface Member {
  readonly name: string
  readonly breaker: CircuitBreaker
  readonly native: NativeBreaker
  readonly announce: (code: number) => void
  /** The highest generation applied (0: none yet). */
  generation: number
  fleet: FleetState
  /** Redis ms the fleet is open until (-1: until closed), to write back should Redis lose it. */
  untilRedis: number
  reason: string
  by: string
  /** `performance.now()` ms when the fleet's open ends here (Infinity: until closed). */
  deadline: number
  /** Whether this instance forced the breaker open for the fleet and nothing undid it since. */
  applied: boolean
  votes: number
  needed: number
  /** The lease race or lease expiry timer. */
  timer: NodeJS.Timeout | undefined
  /** The probe round this instance holds the lease of. */
  probing: { generation: number; token: string } | undefined
  /** Resolves the `join` promise once synced (true) or given up (false). */
  joined: ((synced: boolean) => void) | undefined
  /** Whether the fleet's state was read from Redis at least once. */
  synced: boolean
  /** Whether the last sync failed (refused by the Redis breaker, timed out): the next good heartbeat retries it. */
  resync: boolean
}

export function newMember(name: string, breaker: CircuitBreaker, native: NativeBreaker, announce: (code: number) => void): Member {
  return {
    name,
    breaker,
    native,
    announce,
    generation: 0,
    fleet: 'unknown',
    untilRedis: 0,
    reason: '',
    by: '',
    deadline: 0,
    applied: false,
    votes: 0,
    needed: 0,
    timer: undefined,
    probing: undefined,
    joined: undefined,
    synced: false,
    resync: false,
  }
}

/** Milliseconds until `member`'s fleet open ends here (0 when past; Infinity until closed). */
export function remainingMs(member: Member): number {
  return Math.max(0, member.deadline - performance.now())
}
