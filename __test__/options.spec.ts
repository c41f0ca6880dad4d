import test from 'ava'
import { circuitBreaker, Registry } from '../src/index.ts'

const name = () => `options-${Math.random()}`

test('out-of-range options throw RangeErrors naming the option, the rule and the value', (t) => {
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ failureRate: 150 }, 'failureRate must be a number above 0 and at most 100, but was 150'],
    [{ windowSize: 0 }, 'windowSize must be a whole number from 1 to 1000000, but was 0'],
    [{ windowSize: -1 }, 'windowSize must be a whole number of at least 0, but was -1'],
    [{ consecutiveFailures: 2.5 }, 'consecutiveFailures must be a whole number, but was 2.5'],
    [{ openFor: -5 }, 'openFor must be a finite number of milliseconds of at least 0, but was -5'],
    [{ openFor: '5 parsecs' }, 'openFor must be a duration like 250ms, 30s, 5m or 1h, but was "5 parsecs"'],
    [{ openMultiplier: 0.5 }, 'openMultiplier must be a finite number of at least 1, but was 0.5'],
    [{ halfOpenProbes: 1000 }, 'halfOpenProbes must be a whole number from 1 to 100, but was 1000'],
    [{ openJitter: Number.NaN }, 'openJitter must be a number from 0 to 1, but was NaN'],
    [{ openFor: 0.5 }, 'openFor must be from 1 ms to 2592000000 ms (30 days), but was 0.5 ms'],
    [{ window: 1e16 }, 'window must be at most 2592000000 ms (30 days), but was 10000000000000000'],
    [{ failureRate: Number.POSITIVE_INFINITY }, 'failureRate must be a finite number, but was Infinity'],
    [{ slowCallRate: 50 }, 'slowCallDuration must be given with slowCallRate, but was missing'],
  ]
  for (const [options, message] of cases) {
    const error = t.throws(() => circuitBreaker(name(), options), { instanceOf: RangeError })
    t.is(error?.message, message)
    t.is((error as { code?: string } | undefined)?.code, 'ERR_BREAKWATER_INVALID_OPTION')
  }
})

test('options of the wrong type throw TypeErrors, and unknown options are refused', (t) => {
  t.throws(() => circuitBreaker(name(), { consecutiveFailures: '5' } as never), {
    instanceOf: TypeError,
    message: 'consecutiveFailures must be a number, but was "5"',
  })
  t.throws(() => circuitBreaker(name(), { timout: 1000 } as never), {
    instanceOf: TypeError,
    message: /^timout is not a breaker option \(known: consecutiveFailures, /,
    code: 'ERR_BREAKWATER_INVALID_OPTION',
  })
  t.throws(() => circuitBreaker(name(), 'fast' as never), { instanceOf: TypeError, message: 'breaker options must be an object, but was "fast"' })
  t.throws(() => circuitBreaker(42 as never), { instanceOf: TypeError, message: 'name must be a string, but was 42' })
  t.throws(() => circuitBreaker(name(), { fallback: 'cached' } as never), { message: 'fallback must be a function, but was "cached"' })
})

test('names over 256 bytes are refused with the rule', (t) => {
  const error = t.throws(() => circuitBreaker('x'.repeat(257)), { instanceOf: RangeError })
  t.is(error?.message, `name must be from 1 to 256 bytes long in UTF-8, but was "${'x'.repeat(40)}"… (257 bytes)`)
  t.is((error as { code?: string } | undefined)?.code, 'ERR_BREAKWATER_INVALID_OPTION')
  t.throws(() => circuitBreaker(''), { instanceOf: RangeError, message: 'name must be from 1 to 256 bytes long in UTF-8, but was "" (0 bytes)' })
})

test('durations take milliseconds or strings', (t) => {
  const breakers = new Registry()
  for (const openFor of [1500, '1500ms', '1.5s'] as const) {
    const b = breakers.getOrCreate(name(), { openFor, consecutiveFailures: 1 })
    b.forceOpen(openFor)
    t.is(b.metrics().state, 'forced_open')
  }
  t.pass()
})
