import { CircuitBreaker } from './breaker.js'
import type { Disposer } from './events.js'
import { TransitionHub } from './hub.js'
import { fromNative } from './errors.js'
import { type Metrics, RECORD_LEN, toMetrics } from './metrics.js'
import { type NativeBreaker, NativeFakeClock, NativeRegistry } from './native.js'
import { type BreakerOptions, type CallPolicy, readBreakerOptions } from './options.js'
import type { StateChange } from './state.js'
import { checkName, describe, ownOptions, typeError } from './validate.js'
import { type AdaptiveLatency, startAdaptive, stopAdaptive, takeAdaptive } from './adaptive.js'
import { readSnapshot, recordOf, type RegistrySnapshot, type RestoreOptions, type RestoreResult, SNAPSHOT_VERSION } from './snapshot.js'

/** Options of a private registry. */
export interface RegistryOptions {
  /** A fake clock (from `breakwater/testing`) that the registry's breakers read instead of real time. */
  clock?: { readonly native: NativeFakeClock }
}

/** Marks the construction of the process-wide registry; not exported. */
const PROCESS_WIDE = Symbol('process-wide')

/** The native clock of a `FakeClock` from `breakwater/testing`; a `TypeError` for anything else. */
function nativeClock(clock: unknown): NativeFakeClock {
  const native = typeof clock === 'object' && clock !== null ? (clock as { native?: unknown }).native : undefined
  if (!(native instanceof NativeFakeClock)) {
    throw typeError(`clock must be a FakeClock from breakwater/testing, but was ${describe(clock)}`)
  }
  return native
}

/** Breakers by name. The process-wide one, `registry`, is the same in every worker thread. */
export class Registry {
  readonly #registry: NativeRegistry
  /** This thread's listeners, per breaker and of all, fed with every thread's transitions. */
  readonly #hub: TransitionHub

  /**
   * A private registry, isolated from the process-wide one.
   *
   * @throws TypeError (code `ERR_BREAKWATER_INVALID_OPTION`) for options that are not an object,
   * an unknown option, or a `clock` that is not a `FakeClock` from `breakwater/testing`.
   */
  constructor(options: RegistryOptions = {}) {
    if ((options as { [PROCESS_WIDE]?: true } | null)?.[PROCESS_WIDE] === true) {
      this.#registry = NativeRegistry.global()
    } else {
      const { clock } = ownOptions<RegistryOptions>('registry', options, ['clock'])
      this.#registry = new NativeRegistry(clock === undefined ? undefined : nativeClock(clock))
    }
    this.#hub = new TransitionHub(this.#registry)
  }

  /**
   * This thread's handle of the breaker called `name`, created with `options` if the process
   * has none yet. Options are always checked. Breaker options given for a breaker that exists
   * with other options throw an `Error` with code `ERR_BREAKWATER_OPTIONS_DIFFER`, whose message
   * names each option that differs with both values: the options describe the whole breaker
   * (an option left out means its default), so two creators agree or one is told. Without
   * breaker options (none, or only the call policy) the handle uses the breaker as it is, its
   * `timeout` included. The call policy (filters, fallback) belongs to the returned handle.
   *
   * @throws TypeError or RangeError (code `ERR_BREAKWATER_INVALID_OPTION`) for a bad name or option.
   * @throws Error (code `ERR_BREAKWATER_OPTIONS_DIFFER`) for options unlike the existing breaker's.
   * @example
   * const orders = registry.getOrCreate('orders', { consecutiveFailures: 3, openFor: '10s' })
   */
  getOrCreate<T = unknown>(name: string, options: BreakerOptions & CallPolicy<T> & AdaptiveLatency = {}): CircuitBreaker<T> {
    checkName(name)
    // An adaptive latency threshold (issue 14) is this thread's, read here; the rest goes to the core.
    const { options: plain, adaptive } = takeAdaptive(options)
    const { native, policy } = readBreakerOptions<T>(plain)
    // No breaker options (none, or only a call policy): attach to the breaker as it is. With an
    // adaptive threshold, which moves, an existing breaker is attached to as it is too.
    const given = Object.keys(native).length > 0 && !(adaptive && this.#registry.get(name)) ? native : undefined
    let breaker: NativeBreaker
    try {
      breaker = this.#registry.getOrCreate(name, given)
    } catch (e) {
      throw fromNative(e)
    }
    const handle = new CircuitBreaker<T>(breaker, name, policy, this.#hub)
    if (adaptive) startAdaptive(handle, breaker.id, adaptive)
    return handle
  }

  /**
   * A handle of the breaker called `name`, if there is one, with no call policy (the breaker's
   * `timeout` applies).
   *
   * @throws TypeError or RangeError (code `ERR_BREAKWATER_INVALID_OPTION`) for a name that is
   * not a string of well-formed UTF-16.
   */
  get<T = unknown>(name: string): CircuitBreaker<T> | undefined {
    checkName(name)
    const native = this.#registry.get(name)
    return native ? new CircuitBreaker<T>(native, name, {}, this.#hub) : undefined
  }

  /**
   * Removes the breaker called `name`; whether there was one. Handles keep working.
   *
   * @throws TypeError or RangeError (code `ERR_BREAKWATER_INVALID_OPTION`) for a name that is
   * not a string of well-formed UTF-16.
   */
  remove(name: string): boolean {
    checkName(name)
    const id = this.#registry.remove(name)
    if (id === null || id === undefined) return false
    this.#hub.forget(id)
    stopAdaptive(id) // its controller would go on reconfiguring a breaker no one can reach
    return true
  }

  /** Every breaker's name, sorted. */
  names(): string[] {
    return this.#registry.names()
  }

  /**
   * Calls `listener` on every state change of every breaker of the registry (ones created later
   * too), made by any thread of the process (any worker, either module copy of the package, the
   * native core itself), once each and in the order each breaker made them. A change this
   * thread makes is delivered before the call that made it returns, one made elsewhere soon
   * after; the subscription never keeps the process alive. A listener that throws is reported
   * as a process warning and reaches nothing else. Call events (success, failure, refusal) stay
   * with the thread that made the call.
   *
   * @returns a disposer
   * @example
   * const stop = registry.onStateChange(({ name, from, to, reason }) => console.log(`${name}: ${from} -> ${to} (${reason})`))
   */
  onStateChange(listener: (change: StateChange) => void): Disposer {
    return this.#hub.all.add(listener)
  }

  // --- runtime control (issue 14): snapshots ---

  /**
   * Every breaker's state as a new process can take it over: versioned and JSON-serialisable
   * (state, open-until as wall-clock time, backoff attempt, generation, failures in a row, window
   * counts, lifetime counters). Options are not in it: they stay in code. Write it on shutdown,
   * `restore` it on startup.
   *
   * @example
   * process.on('SIGTERM', () => writeFileSync('breakers.json', JSON.stringify(registry.snapshot())))
   */
  snapshot(): RegistrySnapshot {
    const breakers = this.#registry.names().flatMap((name) => {
      const native = this.#registry.get(name)
      return native ? [recordOf(name, native)] : []
    })
    return { version: SNAPSHOT_VERSION, takenAt: Date.now(), breakers }
  }

  /**
   * Takes over a snapshot from `snapshot()` (of this process or an earlier one): made for
   * startup, after the breakers are created (with their options, from code) and before traffic.
   * An open or forced-open breaker stays so for the rest of its time; a half-open one comes back
   * open with its time up, so its next call probes; a closed one gets its window counts and
   * failures in a row back; the backoff attempt is kept. Lifetime counters and generations are
   * not restored (this process counts its own). A snapshot older than `maxAge`, of another
   * version, or malformed in any record is refused whole before anything is applied. Names the
   * registry has no breaker of are skipped and listed in `unknown`. Transitions made carry
   * reason `manual`.
   *
   * @throws TypeError or RangeError (code `ERR_BREAKWATER_INVALID_OPTION`) naming the field, the rule and the value.
   * @example
   * const { unknown } = registry.restore(JSON.parse(readFileSync('breakers.json', 'utf8')), { maxAge: '10m' })
   */
  restore(snapshot: RegistrySnapshot, options: RestoreOptions = {}): RestoreResult {
    const records = readSnapshot(snapshot, options)
    const found = records.map((record) => ({ record, native: this.#registry.get(record.name) }))
    const restored: string[] = []
    const unknown: string[] = []
    let moved = false
    for (const { record, native } of found) {
      if (!native) {
        unknown.push(record.name)
        continue
      }
      moved = native.restore(record) !== 0 || moved
      restored.push(record.name)
    }
    if (moved) this.#hub.drain()
    return { restored, unknown }
  }

  /** Every breaker's metrics by name: the health view. */
  health(): Record<string, Metrics> {
    const { names, records } = this.#registry.health()
    // fromEntries: a breaker called `__proto__` is an entry like any other.
    return Object.fromEntries(names.map((name, i) => [name, toMetrics(records, i * RECORD_LEN)]))
  }
}

/** The process-wide registry: the same breakers in every worker thread. */
export const registry: Registry = new Registry({ [PROCESS_WIDE]: true } as RegistryOptions)

/**
 * This thread's handle of the process-wide breaker called `name`.
 *
 * @example
 * const marketData = circuitBreaker('market-data', { consecutiveFailures: 5, openFor: '30s' })
 */
export function circuitBreaker<T = unknown>(name: string, options?: BreakerOptions & CallPolicy<T> & AdaptiveLatency): CircuitBreaker<T> {
  return registry.getOrCreate(name, options)
}
