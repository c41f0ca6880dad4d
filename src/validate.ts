/**
 * The one place our argument errors are made: every error a caller can cause by what they pass is
 * a `TypeError` (wrong kind of value) or a `RangeError` (right kind, outside the rule) with a stable
 * `code`, and a message that names the field, the rule and the value.
 */

/** The code of every error about an option or argument a caller passed. */
export const INVALID_OPTION = 'ERR_BREAKWATER_INVALID_OPTION'

/** An error of ours about a value a caller passed. */
export type InvalidOptionError = (TypeError | RangeError) & { readonly code: string }

/** A `TypeError` with our `code`: the value is of the wrong kind. */
export function typeError(message: string, code: string = INVALID_OPTION): TypeError & { readonly code: string } {
  return Object.assign(new TypeError(message), { code })
}

/** A `RangeError` with our `code`: the value is of the right kind but breaks the rule. */
export function rangeError(message: string, code: string = INVALID_OPTION): RangeError & { readonly code: string } {
  return Object.assign(new RangeError(message), { code })
}

/**
 * The options object `value` as a copy of its own enumerable properties, so nothing is read
 * through the prototype chain (a polluted `Object.prototype` changes nothing) and every key is
 * one of `known` (a typo is refused, naming the key). `undefined` gives an empty copy; anything
 * but a plain object or class instance (`null`, an array, a Map) is a `TypeError`, and so is a key
 * set to `null` (leave a key out for its default), but for the keys in `nullable`, where `null`
 * is a value (a JSON body). `what` names the options in messages
 * (`tmeout is not a timeout option (known: ...)`).
 *
 * @example
 * const o = ownOptions<TimeoutOptions>('timeout', options, ['strategy', 'name', 'unref'])
 */
export function ownOptions<T extends object>(
  what: string,
  value: unknown,
  known: readonly (keyof T & string)[],
  nullable: readonly (keyof T & string)[] = [],
): Partial<T> {
  const own = Object.create(null) as Record<string, unknown>
  if (value === undefined) return own as Partial<T>
  if (!isPlainObject(value)) throw typeError(`${what} options must be an object, but was ${describe(value)}`)
  for (const key of Object.keys(value)) {
    if (!(known as readonly string[]).includes(key)) {
      const shown = /^[A-Za-z_$][\w$]*$/.test(key) ? key : JSON.stringify(key)
      throw typeError(`${shown} is not ${article(what)} ${what} option (known: ${known.join(', ')})`)
    }
    const v = (value as Record<string, unknown>)[key]
    if (v === null && !(nullable as readonly string[]).includes(key)) {
      throw typeError(`${key} must not be null: leave it out for its default`)
    }
    own[key] = v
  }
  return own as Partial<T>
}

/** An object that holds options in its properties: not an array, a Map, a Date, a function... */
function isPlainObject(value: unknown): value is object {
  if (typeof value !== 'object' || value === null) return false
  try {
    return Object.prototype.toString.call(value) === '[object Object]'
  } catch {
    return false // a revoked Proxy
  }
}

/** A short, safe description of any value for error messages. */
export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value)
  if (typeof value === 'function') return 'a function'
  if (typeof value === 'bigint') return `${value}n`
  if (value === null || typeof value !== 'object') return String(value)
  try {
    if (Array.isArray(value)) return 'an array'
    const tag = Object.prototype.toString.call(value).slice(8, -1)
    return tag === 'Object' ? 'an object' : `${article(tag)} ${tag}`
  } catch {
    return 'an object' // a revoked Proxy
  }
}

/** `value` if it is a number (any: ranges are the rule's), else a `TypeError` naming `option`. */
export function checkNumber(option: string, value: unknown): number {
  if (typeof value !== 'number') throw typeError(`${option} must be a number, but was ${describe(value)}`)
  return value
}

/** `value` if it is `true` or `false`, else a `TypeError` naming `option`. */
export function checkBoolean(option: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw typeError(`${option} must be true or false, but was ${describe(value)}`)
  return value
}

/** `value` if it is a function, else a `TypeError` naming `option`. */
export function checkFunction<F extends (...args: never[]) => unknown>(option: string, value: unknown): F {
  if (typeof value !== 'function') throw typeError(`${option} must be a function, but was ${describe(value)}`)
  return value as F
}

/**
 * Checks a breaker name's JavaScript shape: a string of well-formed UTF-16. A lone surrogate
 * would reach the native registry as U+FFFD, so `'\uD800x'` and `'\uDBFFx'` would name one
 * breaker. The length (1 to 256 bytes in UTF-8) is checked by the core.
 */
export function checkName(name: unknown): asserts name is string {
  if (typeof name !== 'string') throw typeError(`name must be a string, but was ${describe(name)}`)
  if (!(name as string & { isWellFormed(): boolean }).isWellFormed()) {
    throw rangeError(`name must be well-formed UTF-16 (no lone surrogate), but was ${describe(name)}`)
  }
}

/** `a` or `an`, as `word` wants. */
export function article(word: string): string {
  return /^[aeiou]/i.test(word) ? 'an' : 'a'
}
