import { describe, typeError, rangeError } from '../validate.js'

/** Checks of policy options: each error names the option, the rule and the value. */

/** A number within [min, max], else an error naming `option`. */
export function ratio(option: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number') throw typeError(`${option} must be a number, but was ${describe(value)}`)
  if (!(value >= min && value <= max)) {
    const range = max === Number.MAX_VALUE ? `at least ${min}` : `within ${min}..${max}`
    throw rangeError(`${option} must be ${range}, but was ${value}`)
  }
  return value
}

/** A whole number of at least `min`, else an error naming `option`. */
export function whole(option: string, value: unknown, min: number): number {
  if (typeof value !== 'number') throw typeError(`${option} must be a number, but was ${describe(value)}`)
  if (!Number.isInteger(value) || value < min) throw rangeError(`${option} must be a whole number of at least ${min}, but was ${value}`)
  return value
}
