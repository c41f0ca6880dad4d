import { type Duration, toMillis, toTimerMillis } from './duration.js'
import type { CallEvent, Disposer } from './events.js'
import type { BreakerOptions } from './options.js'
import type { StateChange, StateName } from './state.js'
import { checkBoolean, checkNumber, describe, ownOptions, rangeError, typeError } from './validate.js'

/** Something that injects faults on purpose, such as a `chaos()` policy: periods it injects in are never learnt from. */
export interface InjectionSource {
  readonly enabled: boolean
  onInject(listener: (event: unknown) => void): Disposer
}

/**
 * The latency rule's threshold following the dependency's own baseline: every `interval`, the
 * rule's percentile of the successful calls of the last `baseline` period (periods in which the
 * breaker was not closed, or chaos injected, are left out) times `factor`, clamped to
 * `[min, max]`, moving at most `maxStep` per interval and only when it differs by more than
 * `hysteresis`. Computed off the hot path, on an unref'd timer of the thread that gave it.
 */
export interface AdaptiveOptions {
  /** Open when the percentile is above `factor` x its baseline. @default 3 */
  factor?: number
  /** How far back the baseline reaches: at least `interval`, at most 1,000 intervals. @default '10m' */
  baseline?: Duration
  /** How often the threshold is computed (and may move): at least 100 ms. @default '1m' */
  interval?: Duration
  /** The lowest threshold, at least 1 ns (0.000001 ms). Required. */
  min: Duration
  /** The highest threshold. Required. */
  max: Duration
  /** The most the threshold moves per interval. @default a tenth of `max - min` */
  maxStep?: Duration
  /** A new threshold within this share of the one in force (0.1 = 10 %) changes nothing. @default 0.1 */
  hysteresis?: number
  /** Calls the baseline must hold before the threshold moves. @default 100 */
  minSamples?: number
  /** Compute, record and report (`onWouldOpen`, `explain()`) without ever changing the breaker. @default false */
  shadow?: boolean
  /** Chaos policies (or any injection source) whose injecting periods are never learnt from. @default none */
  chaos?: InjectionSource[]
}

/** The `adaptive` key of a breaker's `latency` rule (see `AdaptiveOptions`). */
export interface AdaptiveLatency {
  latency?: { adaptive?: AdaptiveOptions }
}

/** One move of the threshold (or, in shadow mode, of the threshold it would use), with its inputs. */
export interface AdaptiveChange {
  /** Wall-clock ms. */
  at: number
  fromMs: number
  toMs: number
  /** The rule's percentile of the baseline's calls. */
  baselineMs: number
  /** Calls in the baseline. */
  samples: number
  percentile: number
  factor: number
  /** `factor x baselineMs`, before the clamp. */
  targetMs: number
  /** The bound applied to the target, if any. */
  clamp: 'min' | 'max' | null
  /** Whether `maxStep` cut the move short. */
  stepLimited: boolean
  shadow: boolean
}

/** In shadow mode: a period whose calls would have opened the breaker at the shadow threshold. */
export interface WouldOpenEvent {
  at: number
  thresholdMs: number
  /** The rule's percentile of the period's calls. */
  observedMs: number
  samples: number
}

/** What `breaker.explain()` answers. */
export interface Explanation {
  /** Whether an adaptive threshold runs for this breaker in this thread. */
  adaptive: boolean
  shadow: boolean
  /** The threshold in force (shadow: the one it would use), ms. */
  thresholdMs: number | null
  /** The baseline of the last computation, ms. */
  baselineMs: number | null
  /** Calls in the baseline now. */
  samples: number
  /** Periods left out of the baseline, and why. */
  skipped: { notClosed: number; chaos: number }
  /** The last 100 changes, oldest first. */
  changes: AdaptiveChange[]
  /** Shadow mode: the last 100 periods that would have opened the breaker. */
  wouldOpen: WouldOpenEvent[]
}

const KEYS = ['factor', 'baseline', 'interval', 'min', 'max', 'maxStep', 'hysteresis', 'minSamples', 'shadow', 'chaos'] as const
/** Samples kept per interval (a reservoir): bounds memory whatever the traffic. */
const PER_INTERVAL = 1_000
const KEPT = 100
/** The lowest `min`: the core's threshold is whole nanoseconds, and more than 0. */
const MIN_THRESHOLD_MS = 1e-6
/** The shortest `interval`, and the most intervals a baseline pools: each tick sorts the baseline. */
const MIN_INTERVAL_MS = 100
const MAX_INTERVALS = 1_000
/** Samples a baseline pools at most (each interval keeps its share): bounds the sort of every tick. */
const MAX_POOLED = 100_000

interface ReadAdaptive {
  factor: number
  baselineMs: number
  intervalMs: number
  minMs: number
  maxMs: number
  maxStepMs: number
  hysteresis: number
  minSamples: number
  shadow: boolean
  chaos: InjectionSource[]
}

/**
 * A breaker's options without `latency.adaptive`, and the adaptive options read and checked
 * (before anything is created): what `getOrCreate` passes on to the core, and what it starts.
 */
export function takeAdaptive<O>(options: O): { options: O; adaptive: ReadAdaptive | undefined } {
  if (typeof options !== 'object' || options === null || !Object.hasOwn(options, 'latency')) return { options, adaptive: undefined }
  const latency = (options as { latency?: unknown }).latency
  if (typeof latency !== 'object' || latency === null || !Object.hasOwn(latency, 'adaptive')) return { options, adaptive: undefined }
  const { adaptive, ...rule } = latency as { adaptive?: unknown }
  const rest = { ...options, latency: rule } as O
  if (adaptive === undefined) return { options: rest, adaptive: undefined }
  return { options: rest, adaptive: readAdaptive(adaptive) }
}

function readAdaptive(value: unknown): ReadAdaptive {
  const o = ownOptions<AdaptiveOptions>('latency.adaptive', value, KEYS)
  const number = (key: 'factor' | 'hysteresis' | 'minSamples', fallback: number, low: number, high: number, whole = false) => {
    if (o[key] === undefined) return fallback
    const n = checkNumber(`latency.adaptive.${key}`, o[key])
    if (!(n >= low && n <= high) || (whole && !Number.isInteger(n))) {
      throw rangeError(`latency.adaptive.${key} must be ${whole ? 'a whole number' : 'a number'} from ${low} to ${high}, but was ${describe(n)}`)
    }
    return n
  }
  if (o.min === undefined) throw typeError('latency.adaptive.min is required: the lowest threshold (a duration)')
  if (o.max === undefined) throw typeError('latency.adaptive.max is required: the highest threshold (a duration)')
  const minMs = toMillis('latency.adaptive.min', o.min)
  const maxMs = toMillis('latency.adaptive.max', o.max)
  // The core keeps a threshold in whole nanoseconds and refuses 0: a lower bound under 1 ns would
  // one day be refused inside the interval's timer.
  if (!(minMs >= MIN_THRESHOLD_MS)) throw rangeError(`latency.adaptive.min must be at least ${MIN_THRESHOLD_MS} ms (1 ns), but was ${minMs} ms`)
  if (!(maxMs > minMs)) throw rangeError(`latency.adaptive.max must be above min (${minMs} ms) and min above 0, but was ${maxMs} ms`)
  const intervalMs = toTimerMillis('latency.adaptive.interval', o.interval ?? 60_000)
  if (!(intervalMs >= MIN_INTERVAL_MS)) {
    throw rangeError(`latency.adaptive.interval must be at least ${MIN_INTERVAL_MS} ms (each interval sorts the baseline), but was ${intervalMs} ms`)
  }
  const baselineMs = toMillis('latency.adaptive.baseline', o.baseline ?? 600_000)
  if (baselineMs < intervalMs) {
    throw rangeError(`latency.adaptive.baseline must be at least the interval (${intervalMs} ms), but was ${baselineMs} ms`)
  }
  if (baselineMs > MAX_INTERVALS * intervalMs) {
    throw rangeError(
      `latency.adaptive.baseline must be at most ${MAX_INTERVALS} intervals (${MAX_INTERVALS * intervalMs} ms), since each interval pools and sorts the whole baseline, but was ${baselineMs} ms`,
    )
  }
  const maxStepMs = o.maxStep === undefined ? (maxMs - minMs) / 10 : toMillis('latency.adaptive.maxStep', o.maxStep)
  if (!(maxStepMs > 0)) throw rangeError(`latency.adaptive.maxStep must be more than 0 ms, but was ${maxStepMs} ms`)
  const chaos = o.chaos ?? []
  if (!Array.isArray(chaos) || !chaos.every((c) => typeof (c as InjectionSource)?.onInject === 'function')) {
    throw typeError(`latency.adaptive.chaos must be an array of chaos policies, but was ${describe(o.chaos)}`)
  }
  return {
    factor: number('factor', 3, 1, 1_000),
    baselineMs,
    intervalMs,
    minMs,
    maxMs,
    maxStepMs,
    hysteresis: number('hysteresis', 0.1, 0, 10),
    minSamples: number('minSamples', 100, 1, 1_000_000, true),
    shadow: o.shadow === undefined ? false : checkBoolean('latency.adaptive.shadow', o.shadow),
    chaos: chaos as InjectionSource[],
  }
}

/** The nearest-rank percentile of sorted `values`, as the core computes it: `sorted[floor((n - 1) * p / 100)]`. */
function percentileOf(sorted: number[], percentile: number): number {
  return sorted[Math.floor(((sorted.length - 1) * percentile) / 100)]!
}

/** What the controller uses of a breaker's handle (a `AdaptedBreaker`). */
interface AdaptedBreaker {
  readonly state: StateName
  options(): BreakerOptions
  configure(partial: BreakerOptions): void
  onSuccess(listener: (event: CallEvent) => void): Disposer
  onStateChange(listener: (change: StateChange) => void): Disposer
}

/** The adaptive thresholds running in this thread, by breaker id. */
const RUNNING = new Map<number, AdaptiveController>()

/** The controller of one breaker's adaptive threshold in this thread. */
class AdaptiveController {
  readonly #breaker: AdaptedBreaker
  readonly #o: ReadAdaptive
  #percentile: number
  readonly #stops: Disposer[] = []
  readonly #timer: NodeJS.Timeout
  /** The calls of the interval under way (a reservoir of at most PER_INTERVAL). */
  #current: number[] = []
  #seen = 0
  /** Samples kept per interval: PER_INTERVAL, fewer when the baseline pools many intervals. */
  readonly #perInterval: number
  /** Whether the interval under way is left out, and why. */
  #taint: 'notClosed' | 'chaos' | undefined
  /** The baseline's intervals, newest last, each sorted. */
  readonly #intervals: number[][] = []
  #threshold: number
  #baseline: number | null = null
  readonly #skipped = { notClosed: 0, chaos: 0 }
  readonly #changes: AdaptiveChange[] = []
  readonly #wouldOpen: WouldOpenEvent[] = []
  readonly #wouldOpenListeners = new Set<(event: WouldOpenEvent) => void>()
  /** Shadow mode: the last calls, as many as the breaker's count window holds (1,000 with a time window). */
  readonly #recent: number[] = []
  readonly #windowSize: number
  readonly #minimumCalls: number
  /** Shadow mode: until when the breaker would be open after a would-open (wall-clock ms). */
  #shadowOpenUntil = 0

  constructor(breaker: AdaptedBreaker, o: ReadAdaptive, percentile: number, thresholdMs: number) {
    this.#breaker = breaker
    this.#o = o
    this.#percentile = percentile
    this.#threshold = thresholdMs
    this.#perInterval = Math.min(PER_INTERVAL, Math.ceil(MAX_POOLED / intervalsOf(o)))
    const options = breaker.options()
    this.#windowSize = options.windowSize ?? PER_INTERVAL
    this.#minimumCalls = options.minimumCalls ?? 10
    this.#stops.push(breaker.onSuccess(({ durationMs }) => this.#sample(durationMs)))
    this.#stops.push(breaker.onStateChange(({ to }) => to !== 'closed' && (this.#taint ??= 'notClosed')))
    for (const source of o.chaos) this.#stops.push(source.onInject(() => (this.#taint ??= 'chaos')))
    this.#timer = setInterval(() => this.#tick(), o.intervalMs).unref()
  }

  #sample(durationMs: number): void {
    if (this.#o.shadow) {
      this.#recent.push(durationMs)
      if (this.#recent.length > this.#windowSize) this.#recent.shift()
    }
    this.#seen++
    if (this.#current.length < this.#perInterval) this.#current.push(durationMs)
    else {
      const i = Math.floor(Math.random() * this.#seen)
      if (i < this.#perInterval) this.#current[i] = durationMs
    }
  }

  /** One interval ends: learn from it (unless left out), then move the threshold if the baseline says so. */
  #tick(): void {
    const calls = this.#current.sort((a, b) => a - b)
    const taint = this.#taint ?? (this.#breaker.state !== 'closed' ? 'notClosed' : this.#o.chaos.some((c) => c.enabled) ? 'chaos' : undefined)
    this.#current = []
    this.#seen = 0
    this.#taint = undefined
    if (taint) {
      this.#skipped[taint]++
      return
    }
    // Shadow mode learns as the real mode would: not from a period that would have opened the breaker.
    if (this.#o.shadow && (Date.now() < this.#shadowOpenUntil || this.#wouldHaveOpened())) {
      this.#skipped.notClosed++
      return
    }
    this.#followRule()
    this.#intervals.push(calls)
    const keep = intervalsOf(this.#o)
    while (this.#intervals.length > keep) this.#intervals.shift()
    const pooled = this.#intervals.flat().sort((a, b) => a - b)
    if (pooled.length < this.#o.minSamples) return
    this.#move(percentileOf(pooled, this.#percentile), pooled.length)
  }

  /**
   * Not in shadow mode: a `configure` elsewhere (a person, the HTTP route) may have set the latency
   * rule since the last move; the next move starts from the rule in force, not from the last one
   * this controller made.
   */
  #followRule(): void {
    if (this.#o.shadow) return
    const rule = this.#breaker.options().latency as { percentile: number; threshold: number } | undefined
    if (!rule) return
    this.#threshold = rule.threshold
    this.#percentile = rule.percentile
  }

  #move(baselineMs: number, samples: number): void {
    const o = this.#o
    this.#baseline = baselineMs
    const targetMs = o.factor * baselineMs
    const clamp = targetMs < o.minMs ? 'min' : targetMs > o.maxMs ? 'max' : null
    const bounded = Math.min(Math.max(targetMs, o.minMs), o.maxMs)
    const fromMs = this.#threshold
    if (Math.abs(bounded - fromMs) <= o.hysteresis * fromMs) return
    const stepLimited = Math.abs(bounded - fromMs) > o.maxStepMs
    const toMs = stepLimited ? fromMs + Math.sign(bounded - fromMs) * o.maxStepMs : bounded
    const change: AdaptiveChange = {
      at: Date.now(),
      fromMs,
      toMs,
      baselineMs,
      samples,
      percentile: this.#percentile,
      factor: o.factor,
      targetMs,
      clamp,
      stepLimited,
      shadow: o.shadow,
    }
    if (!o.shadow) {
      // This runs in a timer: a refusal must not become an uncaught exception (the threshold stays).
      try {
        this.#breaker.configure({ latency: { percentile: this.#percentile, threshold: toMs } })
      } catch (error) {
        process.emitWarning(`breakwater could not apply an adaptive latency threshold of ${toMs} ms: ${error instanceof Error ? error.message : String(error)}`)
        return
      }
    }
    this.#threshold = toMs
    keep(this.#changes, change)
  }

  /**
   * Shadow mode: whether the last calls (a window as the breaker's) would have opened the breaker
   * at the shadow threshold, as the latency rule judges (reported if so; the calls are then forgotten,
   * as an opening empties the window, and the periods of the open duration that follows are not
   * learnt from either).
   */
  #wouldHaveOpened(): boolean {
    const calls = [...this.#recent].sort((a, b) => a - b)
    if (calls.length === 0 || calls.length < this.#minimumCalls) return false
    const observedMs = percentileOf(calls, this.#percentile)
    if (observedMs <= this.#threshold) return false
    this.#recent.length = 0
    this.#shadowOpenUntil = Date.now() + (this.#breaker.options().openFor as number)
    const event = { at: Date.now(), thresholdMs: this.#threshold, observedMs, samples: calls.length }
    keep(this.#wouldOpen, event)
    for (const listener of this.#wouldOpenListeners) {
      try {
        listener(event)
      } catch (error) {
        process.emitWarning(`a breakwater onWouldOpen listener threw: ${error instanceof Error ? error.message : String(error)}`)
      }
    }
    return true
  }

  onWouldOpen(listener: (event: WouldOpenEvent) => void): Disposer {
    this.#wouldOpenListeners.add(listener)
    return () => this.#wouldOpenListeners.delete(listener)
  }

  explain(): Explanation {
    return {
      adaptive: true,
      shadow: this.#o.shadow,
      thresholdMs: this.#threshold,
      baselineMs: this.#baseline,
      samples: this.#intervals.reduce((n, i) => n + i.length, 0),
      skipped: { ...this.#skipped },
      changes: this.#changes.map((c) => ({ ...c })),
      wouldOpen: this.#wouldOpen.map((e) => ({ ...e })),
    }
  }

  stop(): void {
    clearInterval(this.#timer)
    for (const stop of this.#stops) stop()
  }
}

/** The intervals a baseline pools. */
function intervalsOf(o: ReadAdaptive): number {
  return Math.max(1, Math.round(o.baselineMs / o.intervalMs))
}

function keep<T>(list: T[], item: T): void {
  list.push(item)
  if (list.length > KEPT) list.shift()
}

/**
 * Starts the adaptive threshold of `breaker` in this thread (replacing one already running for
 * it here), from the threshold of its latency rule in force.
 */
export function startAdaptive(breaker: AdaptedBreaker, id: number, o: ReadAdaptive): void {
  const latency = breaker.options().latency as BreakerOptions['latency'] & { percentile: number; threshold: number }
  if (!latency) throw typeError('latency.adaptive needs a latency rule with a threshold')
  RUNNING.get(id)?.stop()
  RUNNING.set(id, new AdaptiveController(breaker, o, latency.percentile, latency.threshold))
}

/** The explanation of the adaptive threshold of the breaker with id `id` in this thread. */
export function explainOf(id: number): Explanation {
  return (
    RUNNING.get(id)?.explain() ?? {
      adaptive: false,
      shadow: false,
      thresholdMs: null,
      baselineMs: null,
      samples: 0,
      skipped: { notClosed: 0, chaos: 0 },
      changes: [],
      wouldOpen: [],
    }
  )
}

/** Listens to would-open events of the breaker with id `id` (shadow mode); a no-op disposer without one. */
export function onWouldOpenOf(id: number, listener: (event: WouldOpenEvent) => void): Disposer {
  if (typeof listener !== 'function') throw typeError(`a listener must be a function, but was ${typeof listener}`)
  return RUNNING.get(id)?.onWouldOpen(listener) ?? (() => {})
}

/** Stops the adaptive threshold of the breaker with id `id` in this thread; whether one ran. */
export function stopAdaptive(id: number): boolean {
  const running = RUNNING.get(id)
  running?.stop()
  return RUNNING.delete(id)
}
