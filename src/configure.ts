import type { NativeBreaker, NativeOptions } from './native.js'
import { type BreakerOptions, readBreakerOptions } from './options.js'
import { describe, typeError } from './validate.js'

/** Reading native memory as little-endian `f64`s needs a little-endian machine. */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1

/**
 * The partial options of `configure`: the breaker's own options only, read and checked as
 * `getOrCreate` reads them (own properties, unknown keys refused, the same table and messages).
 * A handle's call policy (`isFailure`, `fallback`, ...) is not the breaker's: refused here.
 */
export function readPartialOptions(partial: unknown): NativeOptions {
  const { native, policy } = readBreakerOptions(partial)
  const key = Object.keys(policy)[0] as keyof typeof policy | undefined
  if (key !== undefined) {
    throw typeError(
      `configure changes the breaker's rules, shared by every handle; ${key} is a handle's call policy (give it to getOrCreate), but was given ${describe(policy[key])}`,
    )
  }
  return native
}

/**
 * A breaker's call settings as `[timeoutMs or NaN, 1 when call durations matter else 0]`: a view
 * of the native breaker's memory, which `configure` in any thread changes for every handle at
 * once; a copy where native memory cannot be viewed (a big-endian machine, a runtime that
 * refuses external buffers), which only this thread's `configure` of this handle refreshes.
 */
export function callSettings(native: NativeBreaker): Float64Array {
  try {
    if (LITTLE_ENDIAN) return new Float64Array(native.settingsView(), 0, 2)
  } catch {
    // fall through to a copy
  }
  const copy = Float64Array.of(native.callTimeoutMs ?? Number.NaN, native.usesCallDuration ? 1 : 0)
  COPIES.add(copy)
  return copy
}

/** The settings that are copies, not views of native memory. */
const COPIES = new WeakSet<Float64Array>()

/** After a `configure` through this handle: a copy of the settings is brought up to date (a view already is). */
export function refreshCopy(settings: Float64Array, native: NativeBreaker): void {
  if (!COPIES.has(settings)) return
  settings[0] = native.callTimeoutMs ?? Number.NaN
  settings[1] = native.usesCallDuration ? 1 : 0
}

/** The options in force of a native breaker, as `BreakerOptions` (every option given). */
export function optionsOf(native: NativeBreaker): BreakerOptions {
  const read = native.options() as Record<string, unknown>
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(read)) {
    if (value === undefined || value === null) continue
    if (key === 'latency') {
      const { percentile, threshold } = value as { percentile?: number; threshold: number }
      out.latency = percentile === undefined ? { threshold } : { percentile, threshold }
    } else out[key] = value
  }
  return out as BreakerOptions
}
