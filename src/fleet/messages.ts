/**
 * What travels on the fleet's channel, and the checks every message passes before it is applied.
 * Messages are written by the Lua scripts (`scripts.ts`, with `cjson`), one JSON object each:
 *
 * - `{ v: 1, ns, t: 'state', b, g, s: 'open' | 'closed', u, n, r, i }`: breaker `b` of the fleet is
 *   now `s`, at generation `g`; open until Redis time `u` ms (-1: until closed), sent at Redis
 *   time `n`; reason `r`, by instance `i`.
 * - `{ v: 1, ns, t: 'vote', b, g, c, q, n, i }`: instance `i` voted to open `b`; `c` votes of the
 *   `q` needed are in the window. Informational: it moves nothing.
 */

/** The largest message read; anything longer is dropped unparsed. */
export const MAX_MESSAGE_BYTES = 4096
const MAX_NAME = 1024
const MAX_TEXT = 128

export type Drop = 'malformed' | 'oversized' | 'foreign' | 'unknown'

export interface StateMessage {
  t: 'state'
  name: string
  generation: number
  state: 'open' | 'closed'
  /** Redis ms; -1 for no deadline. */
  until: number
  /** Redis ms when it was sent. */
  now: number
  reason: string
  by: string
}

export interface VoteMessage {
  t: 'vote'
  name: string
  generation: number
  votes: number
  needed: number
  by: string
}

export type Message = StateMessage | VoteMessage

const isCount = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0
const isText = (x: unknown, max: number): x is string => typeof x === 'string' && x.length > 0 && x.length <= max

/**
 * The message in `raw`, or why it is dropped: too long, not JSON of the shape above, another
 * namespace's, or about a breaker this instance has not joined (`known`).
 */
export function readMessage(raw: string, namespace: string, known: (name: string) => boolean): Message | Drop {
  if (raw.length > MAX_MESSAGE_BYTES || Buffer.byteLength(raw) > MAX_MESSAGE_BYTES) return 'oversized'
  let m: unknown
  try {
    m = JSON.parse(raw)
  } catch {
    return 'malformed'
  }
  if (typeof m !== 'object' || m === null || Array.isArray(m)) return 'malformed'
  const o = m as Record<string, unknown>
  if (o.v !== 1 || !isText(o.ns, 64) || !isText(o.b, MAX_NAME) || !isCount(o.g) || !isText(o.i, MAX_TEXT) || !isCount(o.n)) return 'malformed'
  let message: Message
  if (o.t === 'state') {
    if ((o.s !== 'open' && o.s !== 'closed') || !(isCount(o.u) || o.u === -1) || !isText(o.r, MAX_TEXT)) return 'malformed'
    message = { t: 'state', name: o.b, generation: o.g, state: o.s, until: o.u as number, now: o.n, reason: o.r, by: o.i }
  } else if (o.t === 'vote') {
    if (!isCount(o.c) || !isCount(o.q)) return 'malformed'
    message = { t: 'vote', name: o.b, generation: o.g, votes: o.c, needed: o.q, by: o.i }
  } else {
    return 'malformed'
  }
  if (o.ns !== namespace) return 'foreign'
  if (!known(message.name)) return 'unknown'
  return message
}
