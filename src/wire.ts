// Every number the binding hands the facade, unpacked in one place: permits, refusals, transition
// codes, the state word's bits and the metrics record. The binding packs them in
// `crates/breakwater-node/src/wire.rs`, which also writes the constants of `./generated/wire.ts`:
// compiled in (the bundler inlines them), so decoding costs no property read per call.
import {
  METRIC_FIELDS,
  REASON_NAMES,
  REASON_UNIT,
  REFUSAL_RETRY_UNIT,
  STATE_NAMES,
  STATE_RADIX,
  TRANSITION_UNIT,
  WORD_PERMIT_BITS,
  WIRE_FINGERPRINT,
  WORD_STATE_MASK,
} from './generated/wire.js'
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
    from: STATES[n % STATE_RADIX]!,
    to: STATES[Math.floor(n / STATE_RADIX) % STATE_RADIX]!,
    reason: REASONS[Math.floor(n / REASON_UNIT)]!,
  }
}

// Acquire: a permit (>= 0) plus `TRANSITION_UNIT * transition` when the acquire moved the breaker.

/** Whether an acquire's answer is a permit that moved the breaker (then read it with the next two). */
export function acquireMoved(code: number): boolean {
  return code >= TRANSITION_UNIT
}

/** The permit in an acquire's answer that moved the breaker. */
export function permitOf(code: number): number {
  return code % TRANSITION_UNIT
}

/** The transition code in an acquire's answer that moved the breaker. */
export function acquireTransition(code: number): number {
  return Math.floor(code / TRANSITION_UNIT)
}

// Refusal (< 0): `-(1 + state + 8 * transition + 8192 * (retryAfterMs + 1))`.

/** The state a refusal was made in. */
export function refusalState(code: number): WireState {
  return STATES[(-code - 1) % STATE_RADIX]!
}

/** The transition code the refused acquire made (0: none). */
export function refusalTransition(code: number): number {
  return Math.floor(((-code - 1) % REFUSAL_RETRY_UNIT) / STATE_RADIX)
}

/** Whole milliseconds until a call may be let through, or `undefined` when there is no deadline. */
export function refusalRetryAfterMs(code: number): number | undefined {
  const retry = Math.floor((-code - 1) / REFUSAL_RETRY_UNIT)
  return retry === 0 ? undefined : retry - 1
}

// The state word's low half, read through the handle's view.

/** Whether the state word says closed: a call may pass on it without a native call. */
export function wordIsClosed(word: number): boolean {
  return (word & WORD_STATE_MASK) === 0
}

/** The permit of a closed state word, for `record`. */
export function wordPermit(word: number): number {
  return TRANSITION_UNIT + (word & WORD_PERMIT_BITS)
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
