import test from 'ava'
import { circuitBreaker, type CircuitBreaker, Registry } from '../src/index.ts'
import { FakeClock } from '../src/testing.ts'
import { rig } from './helpers.ts'

/** What a careless caller may pass anywhere. */
const GARBAGE: unknown[] = [
  undefined,
  null,
  Number.NaN,
  Infinity,
  -Infinity,
  -1,
  -0,
  0.5,
  1e16,
  2 ** 53,
  '',
  'x',
  'x'.repeat(300),
  '\uD800',
  '30 parsecs',
  '1e400ms',
  true,
  {},
  [],
  () => 1,
  Symbol('s'),
  10n,
  Object.create(null),
  new Date(0),
  /re/,
]

/** Words of Rust or of napi-rs that must never reach a user. */
const FOREIGN = /\.\.=|\binf\b|\bDuration\b|napi|N-API|Failed to convert|\brust\b|InvalidArg|[A-Z][a-z]+Expected\b|panicked/

/** Runs `call`; a throw (or rejection) must be our TypeError or RangeError, in our words. */
async function outcome(call: () => unknown): Promise<string> {
  try {
    await call()
    return 'answered'
  } catch (e) {
    const error = e as { code?: unknown; message?: unknown }
    const ours = (e instanceof TypeError || e instanceof RangeError) && error.code === 'ERR_BREAKWATER_INVALID_OPTION'
    const message = String(error?.message)
    return ours && !FOREIGN.test(message) ? e.constructor.name : `unexpected ${(e as Error)?.constructor?.name}: ${message}`
  }
}

const unhandled: unknown[] = []
process.on('unhandledRejection', (reason) => unhandled.push(reason))

test('garbage given to every public method that takes an argument is answered or refused with our Type or RangeError', async (t) => {
  const { clock, breakers, name } = rig()
  const b: CircuitBreaker = breakers.getOrCreate(name)
  const fn = async () => 1
  let made = 0
  const fresh = () => `${name}-${made++}`
  const methods: Record<string, (g: unknown) => unknown> = {
    'new Registry(g)': (g) => new Registry(g as never),
    'new Registry({ clock: g })': (g) => new Registry({ clock: g as never }),
    'registry.getOrCreate(g)': (g) => breakers.getOrCreate(g as never),
    'registry.getOrCreate(name, g)': (g) => breakers.getOrCreate(fresh(), g as never),
    'registry.getOrCreate(name, { timeout: g })': (g) => breakers.getOrCreate(fresh(), { timeout: g as never }),
    'registry.getOrCreate(name, { openFor: g })': (g) => breakers.getOrCreate(fresh(), { openFor: g as never }),
    'registry.get(g)': (g) => breakers.get(g as never),
    'registry.remove(g)': (g) => breakers.remove(g as never),
    'circuitBreaker(g)': (g) => circuitBreaker(g as never),
    'breaker.execute(g)': (g) => b.execute(g as never),
    'breaker.execute(fn, g)': (g) => b.execute(fn, g as never),
    'breaker.execute(fn, { timeout: g })': (g) => b.execute(fn, { timeout: g as never }),
    'breaker.execute(fn, { signal: g })': (g) => b.execute(fn, { signal: g as never }),
    'breaker.executeSync(g)': (g) => b.executeSync(g as never),
    'breaker.forceOpen(g)': (g) => b.forceOpen(g as never),
    'breaker.holdOff(g)': (g) => b.holdOff(g as never),
    'breaker.onStateChange(g)': (g) => b.onStateChange(g as never),
    'breaker.onOpen(g)': (g) => b.onOpen(g as never),
    'breaker.onHalfOpen(g)': (g) => b.onHalfOpen(g as never),
    'breaker.onClose(g)': (g) => b.onClose(g as never),
    'breaker.onSuccess(g)': (g) => b.onSuccess(g as never),
    'breaker.onFailure(g)': (g) => b.onFailure(g as never),
    'breaker.onReject(g)': (g) => b.onReject(g as never),
    'clock.advance(g)': (g) => clock.advance(g as never),
  }
  const wrong: string[] = []
  for (const [method, call] of Object.entries(methods)) {
    for (const [i, g] of GARBAGE.entries()) {
      const result = await outcome(() => call(g))
      if (result.startsWith('unexpected')) wrong.push(`${method} with garbage #${i}: ${result}`)
      b.reset()
    }
  }
  t.deepEqual(wrong, [])
  t.deepEqual(unhandled, [])
})

test('durations beyond 30 days for forceOpen, holdOff and FakeClock.advance are RangeErrors in our words', (t) => {
  const { clock, breakers, name } = rig()
  const b = breakers.getOrCreate(name)
  const cases: Array<[() => unknown, string]> = [
    [() => b.forceOpen(1e16), 'forceOpen duration must be at most 2592000000 ms (30 days), but was 10000000000000000'],
    [() => b.holdOff(1e16), 'holdOff duration must be at most 2592000000 ms (30 days), but was 10000000000000000'],
    [() => clock.advance(1e16), 'advance must be at most 2592000000 ms (30 days), but was 10000000000000000'],
  ]
  for (const [call, message] of cases) {
    t.throws(call, { instanceOf: RangeError, code: 'ERR_BREAKWATER_INVALID_OPTION', message } as never)
  }
  t.is(b.state, 'closed')
  t.is(clock.now, 0)
  b.forceOpen(2_592_000_000)
  t.is(b.state, 'forced_open', '30 days is accepted')
})

test('registry.get, getOrCreate and remove refuse a name that is not a string with a TypeError, and a bad one with a RangeError', (t) => {
  const breakers = new Registry()
  for (const call of [() => breakers.get(5 as never), () => breakers.remove(5 as never), () => breakers.getOrCreate(5 as never)]) {
    t.throws(call, { instanceOf: TypeError, code: 'ERR_BREAKWATER_INVALID_OPTION', message: 'name must be a string, but was 5' } as never)
  }
  t.throws(() => breakers.getOrCreate(''), { instanceOf: RangeError, code: 'ERR_BREAKWATER_INVALID_OPTION' } as never)
  t.throws(() => breakers.getOrCreate('é'.repeat(129)), {
    instanceOf: RangeError,
    message: /^name must be from 1 to 256 bytes long in UTF-8, but was "é+"… \(258 bytes\)$/,
  })
  t.throws(() => new Registry({ clock: {} as never }), {
    instanceOf: TypeError,
    message: 'clock must be a FakeClock from breakwater/testing, but was an object',
  })
  t.throws(() => new Registry({ clok: new FakeClock() } as never), { instanceOf: TypeError, message: /^clok is not a registry option \(known: clock\)/ })
})
