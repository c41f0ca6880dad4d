// What the pg and SQLite adapters share: the breaker made from `database()`'s options, and each call's checks.
import type { CircuitBreaker } from '../breaker.js'
import { registry as processWide } from '../registry.js'
import { readCallOptions } from '../signal.js'
import { describe, ownOptions, typeError } from '../validate.js'
import { isTransientDatabaseError } from './database-errors.js'
import type { DatabaseOptions, QueryOptions } from './database-types.js'
import { breakerOptions, registryOption } from './setup.js'

/** Options `database()` reads. */
const DATABASE_OPTIONS = ['timeout', 'breaker', 'isFailure', 'registry'] as const
/** Options each call reads. */
const CALL_OPTIONS = ['signal', 'timeout'] as const

/** The breaker `database()` asks for, from its options: all of them checked before anything is made. */
function breakerFor(name: string, options: unknown): CircuitBreaker {
  const o = ownOptions<DatabaseOptions>('database', options, DATABASE_OPTIONS)
  const registry = registryOption(o.registry, processWide)
  return registry.getOrCreate(
    name,
    breakerOptions('database breaker', o.breaker, { timeout: o.timeout ?? '30s', isFailure: o.isFailure ?? isTransientDatabaseError }),
  )
}

/** A statement's options, own properties only; a `TypeError` for a statement or options a caller got wrong. */
export function callOptions(sql: unknown, params: unknown, options: unknown): QueryOptions {
  if (typeof sql !== 'string') throw typeError(`query needs SQL as a string, but was given ${describe(sql)}`)
  if (params !== undefined && !Array.isArray(params)) throw typeError(`query params must be an array, but was ${describe(params)}`)
  return readCallOptions<QueryOptions>('query', options, CALL_OPTIONS)
}

/** A transaction's options, checked as `callOptions` does. */
export function transactionOptions(fn: unknown, options: unknown): QueryOptions {
  if (typeof fn !== 'function') throw typeError(`transaction needs a function, but was given ${describe(fn)}`)
  return readCallOptions<QueryOptions>('transaction', options, CALL_OPTIONS)
}

/** What every database adapter has: its breaker, made from the options `database()` was given. */
export abstract class Database {
  /** The database's breaker (process-wide, by name). */
  readonly breaker: CircuitBreaker

  constructor(name: string, options: unknown) {
    this.breaker = breakerFor(name, options)
  }
}

export function isPromiseLike<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as PromiseLike<T> | null)?.then === 'function'
}
