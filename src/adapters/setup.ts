// What the adapters share when they read their options and create their breakers.
import type { BreakerOptions } from '../options.js'
import { Registry } from '../registry.js'
import { article, describe, typeError } from '../validate.js'

/** The call-policy keys an adapter sets itself: refused in the breaker options it is given. */
const CALL_POLICY = ['isFailure', 'isResultFailure', 'fallback']

/**
 * `value`, an adapter's breaker options, with `set` (what the adapter sets itself) on top, as an
 * object without a prototype: nothing is read through the prototype chain, here or by the
 * registry and the breaker later (a polluted `Object.prototype.fallback` reaches no breaker).
 * `undefined` gives just `set`; anything but an object, the call-policy keys and the keys of `set`
 * (what the adapter sets itself, from its own options) are a `TypeError` naming `what`: a value
 * given there would otherwise be silently replaced. The registry checks every other key.
 */
export function breakerOptions<T extends object = BreakerOptions>(what: string, value: unknown, set?: T): BreakerOptions & T {
  const options = Object.create(null) as BreakerOptions & T
  if (value === undefined) return Object.assign(options, set)
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw typeError(`${what} must be an object of breaker options, but was ${describe(value)}`)
  }
  for (const key of [...CALL_POLICY, ...Object.keys(set ?? {})]) {
    if (Object.hasOwn(value, key)) {
      throw typeError(`${key} is not ${article(what)} ${what} option (the adapter sets its own ${key})`)
    }
  }
  return Object.assign(options, value, set)
}

/** `value` if it is a registry (by shape: a registry of another copy of breakwater counts too). */
export function registryOption(value: unknown, fallback: Registry): Registry {
  if (value === undefined) return fallback
  const r = value as Partial<Registry> | null
  if (typeof r?.getOrCreate !== 'function' || typeof r.get !== 'function' || typeof r.remove !== 'function') {
    throw typeError(`registry must be a Registry, but was ${describe(value)}`)
  }
  return value as Registry
}

/**
 * Runs `make`, which creates the breakers `names` on `registry`, all or nothing. `make` runs on
 * a private registry first: the core checks names and option ranges only when it creates a
 * breaker, so this finds every such error before anything exists. If `make` still fails on
 * `registry` (one of `names` exists there with other options), it removes those of `names` it
 * created, and rethrows.
 */
export function allOrNothing<T>(registry: Registry, names: readonly string[], make: (registry: Registry) => T): T {
  make(new Registry())
  const existed = new Set(names.filter((name) => registry.get(name) !== undefined))
  try {
    return make(registry)
  } catch (error) {
    for (const name of names) if (!existed.has(name)) registry.remove(name)
    throw error
  }
}
