// What the page knows of each breaker: the last view polled, transitions heard on the event
// stream, and the samples of the sparkline. No DOM here.
import { isStateName } from './format.js'
import type { BreakerView, StateName, TransitionEvent } from './types.js'

/** Samples kept per breaker: five minutes at one poll a second. */
export const SAMPLES = 300
/** Transitions kept per breaker (newest first). */
const TIMELINE = 8
/**
 * How long a removed breaker stays on the page, saying so; then it leaves (a registry whose
 * breakers come and go would otherwise grow the page for as long as it is open).
 */
export const REMOVED_KEPT_MS = 5 * 60_000

export interface Transition {
  at: number
  from: StateName
  to: StateName
  reason: string
  /** Seen by a read, not heard on the event stream (it was down): the reason is not known. */
  read?: true
}

/** The reason shown for a transition that only a read saw. */
export const NOT_HEARD = 'not heard live'

/** One breaker on the page. */
export interface Entry {
  name: string
  state: StateName | 'removed'
  /** When the state began, wall-clock ms. */
  since: number
  view: BreakerView | undefined
  callsPerSecond: number | null
  /** Sparkline columns: time (s), calls/s, failures/s. */
  samples: [number[], number[], number[]]
  timeline: Transition[]
  /** Bumped on every change that the card shows, so it redraws only what changed. */
  version: number
  /** When the event stream last moved this breaker (performance.now()). */
  heardAt: number
}

function newEntry(name: string, state: StateName, since: number): Entry {
  return { name, state, since, view: undefined, callsPerSecond: null, samples: [[], [], []], timeline: [], version: 0, heardAt: -1 }
}

export class Model {
  readonly entries = new Map<string, Entry>()
  #lastPollAt: number | undefined

  /**
   * Applies a `GET /breakers` answer asked for at `askedAt` and received at `receivedAt`
   * (performance.now() ms); `now` is wall-clock ms. Names it lacks are marked removed.
   * A state older than a transition heard since the poll was asked for is not applied:
   * the event is newer. A breaker removed `REMOVED_KEPT_MS` ago leaves the model. Returns the
   * names whose entry changed or left.
   */
  applyPoll(views: readonly BreakerView[], askedAt: number, receivedAt: number, now: number): string[] {
    checkViews(views) // before anything is applied: a read that is not a list of views changes nothing
    const seconds = this.#lastPollAt === undefined ? 0 : (receivedAt - this.#lastPollAt) / 1000
    this.#lastPollAt = receivedAt
    const seen = new Set<string>()
    for (const view of views) {
      seen.add(view.name)
      let entry = this.entries.get(view.name)
      if (!entry) this.entries.set(view.name, (entry = newEntry(view.name, view.state, Date.parse(view.since))))
      const previous = entry.view
      const rate = (value: number, before: number | undefined) => (before === undefined || seconds <= 0 ? null : Math.max(0, value - before) / seconds)
      entry.callsPerSecond = rate(view.calls, previous?.calls)
      if (entry.heardAt < askedAt) {
        if (entry.state !== view.state && entry.state !== 'removed' && previous !== undefined) {
          remember(entry, { at: Date.parse(view.since), from: entry.state, to: view.state, reason: NOT_HEARD, read: true })
        }
        entry.state = view.state
        entry.since = Date.parse(view.since)
      }
      entry.view = view
      if (entry.callsPerSecond !== null) push(entry, now / 1000, entry.callsPerSecond, rate(view.failures, previous?.failures) ?? 0)
      entry.version++
    }
    const changed = [...seen]
    for (const entry of this.entries.values()) {
      if (entry.state === 'removed' && now - entry.since >= REMOVED_KEPT_MS) {
        this.entries.delete(entry.name)
        changed.push(entry.name)
      }
      // Heard of since the read was asked for: made after it, not removed.
      if (seen.has(entry.name) || entry.state === 'removed' || entry.heardAt >= askedAt) continue
      entry.state = 'removed'
      entry.since = now
      entry.version++
      changed.push(entry.name)
    }
    return changed
  }

  /** Applies a transition heard on the event stream at `heardAt` (performance.now() ms). */
  applyEvent(event: TransitionEvent, heardAt: number): Entry {
    let entry = this.entries.get(event.name)
    if (!entry) this.entries.set(event.name, (entry = newEntry(event.name, event.to, event.at)))
    entry.state = event.to
    entry.since = event.at
    entry.heardAt = heardAt
    // A read may have seen this transition first (the event came a moment later): the event replaces it.
    const newest = entry.timeline[0]
    if (newest?.read && newest.from === event.from && newest.to === event.to) entry.timeline.shift()
    remember(entry, { at: event.at, from: event.from, to: event.to, reason: event.reason })
    entry.version++
    return entry
  }
}

/**
 * A `TypeError` saying what is wrong when `views` is not a list of breaker views with the fields
 * the cards show (a proxy's error page, another server's JSON): one bad view would make every
 * redraw throw, leaving the page half drawn.
 */
function checkViews(views: unknown): void {
  if (!Array.isArray(views)) throw new TypeError(`GET breakers answered no list of breakers (breakers: ${typeof views})`)
  views.forEach((view: unknown, i) => {
    const problem = problemOf(view)
    if (problem !== undefined) throw new TypeError(`GET breakers answered a breaker the page cannot read: breakers[${i}] ${problem}`)
  })
}

function problemOf(view: unknown): string | undefined {
  if (typeof view !== 'object' || view === null) return 'is not an object'
  const v = view as Record<string, unknown>
  if (typeof v.name !== 'string' || v.name === '') return 'has no name'
  if (!isStateName(v.state)) return `has an unknown state (${String(v.state)})`
  if (typeof v.since !== 'string' || !Number.isFinite(Date.parse(v.since))) return 'has no valid since'
  const numbers = ['calls', 'failures', 'failureRate', 'rejections'].filter((key) => typeof v[key] !== 'number')
  if (numbers.length > 0) return `has no number for ${numbers.join(', ')}`
  const latency = v.latency as Record<string, unknown> | null | undefined
  if (latency != null && (typeof latency.count !== 'number' || typeof latency.p99 !== 'number')) return 'has a latency without count and p99'
  return undefined
}

function remember(entry: Entry, transition: Transition): void {
  entry.timeline.unshift(transition)
  entry.timeline.length = Math.min(entry.timeline.length, TIMELINE)
}

function push(entry: Entry, time: number, calls: number, failures: number): void {
  const [times, callRates, failureRates] = entry.samples
  times.push(time)
  callRates.push(calls)
  failureRates.push(failures)
  if (times.length > SAMPLES) {
    times.shift()
    callRates.shift()
    failureRates.shift()
  }
}
