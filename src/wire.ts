// Every number the binding hands the facade, unpacked in one place: permits, refusals, transition
// codes, the state word's bits and the metrics record. The binding packs them in
// `crates/breakwater-node/src/wire.rs`, which also writes the constants of `./generated/wire.ts`.
// They are compiled in, not read from the binding: the numbers are a const enum, which the
// bundler writes into the decoding as literals, so decoding reads no property and no variable.
import { METRIC_FIELDS, REASON_NAMES, STATE_NAMES, Wire, WIRE_FINGERPRINT } from './generated/wire.js'
import { wireFingerprint } from './native.js'

export { Outcome, RECORD_LEN } from './generated/wire.js'

/** A state's name, as the binding names it (`StateName` in state.ts is checked to be the same). */
export type WireState = (typeof STATE_NAMES)[number]
/** A reason's name, as the binding names it (`ReasonName` in state.ts is checked to be the same). */
export type WireReason = (typeof REASON_NAMES)[number]

/** The states by number. */
export const STATES: readonly WireState[] = STATE_NAMES
const REASONS: readonly WireReason[] = REASON_NAMES

/** Decodes a transition code, `1 + from + 8 * to + 64 * reason` (never 0, which means none). */
export function decodeTransition(code: number): { from: WireState; to: WireState; reason: WireReason } {
  const n = code - 1
  return {
    from: STATES[n % Wire.StateRadix]!,
    to: STATES[Math.floor(n / Wire.StateRadix) % Wire.StateRadix]!,
    reason: REASONS[Math.floor(n / Wire.ReasonUnit)]!,
  }
}

// Acquire: a permit (>= 0) plus `2^24 * transition` when the acquire moved the breaker.

/** Whether an acquire's answer is a permit that moved the breaker (then read it with the next two). */
export function acquireMoved(code: number): boolean {
  return code >= Wire.TransitionUnit
}

/** The permit in an acquire's answer that moved the breaker. */
export function permitOf(code: number): number {
  return code % Wire.TransitionUnit
}

/** The transition code in an acquire's answer that moved the breaker. */
export function acquireTransition(code: number): number {
  return Math.floor(code / Wire.TransitionUnit)
}

// Refusal (< 0): `-(1 + state + 8 * transition + 8192 * (retryAfterMs + 1))`.

/** The state a refusal was made in. */
export function refusalState(code: number): WireState {
  return STATES[(-code - 1) % Wire.StateRadix]!
}

/** The transition code the refused acquire made (0: none). */
export function refusalTransition(code: number): number {
  return Math.floor(((-code - 1) % Wire.RefusalRetryUnit) / Wire.StateRadix)
}

/** Whole milliseconds until a call may be let through, or `undefined` when there is no deadline. */
export function refusalRetryAfterMs(code: number): number | undefined {
  const retry = Math.floor((-code - 1) / Wire.RefusalRetryUnit)
  return retry === 0 ? undefined : retry - 1
}

// The state word's low half, read through the handle's view.

/** Whether the state word says closed: a call may pass on it without a native call. */
export function wordIsClosed(word: number): boolean {
  return (word & Wire.WordStateMask) === 0
}

/** The permit of a closed state word, for `record`. */
export function wordPermit(word: number): number {
  return Wire.TransitionUnit + (word & Wire.WordPermitBits)
}

// The metrics record: the named fields of METRIC_FIELDS, then the transition counts `[from * 5 + to]`.

/** A named field of a metrics record. */
export type MetricField = (typeof METRIC_FIELDS)[number]
/** Where each named field is in a record. */
export const METRIC = Object.fromEntries(METRIC_FIELDS.map((name, i) => [name, i])) as Readonly<Record<MetricField, number>>
/** Where a record's transition counts begin: `[from * STATES.length + to]` by state number. */
export const TRANSITION_COUNTS_AT = METRIC_FIELDS.length

// A binary built from other wire code would be misread: refuse it at load (one call).
if (wireFingerprint() !== WIRE_FINGERPRINT) {
  throw new Error(
    `the breakwater binding does not match this facade (wire ${wireFingerprint()}, expected ${WIRE_FINGERPRINT}): rebuild it with npm run build:native`,
  )
}
