import test from 'ava'
import { breakerOptions } from '../src/native.ts'
import { BREAKER_OPTION_KEYS, type BreakerOptions } from '../src/options.ts'
import { rig } from './helpers.ts'

/** For every breaker option, options that change it from its default, and the options named as changed. */
const CHANGES: Array<[BreakerOptions, string[]]> = [
  [{ consecutiveFailures: 3 }, ['consecutiveFailures']],
  [{ failureRate: 30 }, ['failureRate']],
  [{ minimumCalls: 5 }, ['minimumCalls']],
  [{ slowCallRate: 40, slowCallDuration: 100 }, ['slowCallRate', 'slowCallDuration']],
  [{ failuresInWindow: 7 }, ['failuresInWindow']],
  [{ latency: { percentile: 90, threshold: '50ms' } }, ['latency.percentile', 'latency.threshold']],
  [{ windowSize: 50 }, ['windowSize']],
  [{ window: '10s', windowBuckets: 5 }, ['windowSize', 'window', 'windowBuckets']],
  [{ openFor: '5s' }, ['openFor']],
  [{ openMultiplier: 3 }, ['openMultiplier']],
  [{ maxOpenFor: '100s' }, ['maxOpenFor']],
  [{ openJitter: 0.5 }, ['openJitter']],
  [{ halfOpenProbes: 2 }, ['halfOpenProbes']],
  [{ halfOpenSuccesses: 3 }, ['halfOpenSuccesses']],
  [{ maxProbeTime: '5s' }, ['maxProbeTime']],
  [{ timeout: '2s' }, ['timeout']],
  [{ trackLatency: true }, ['trackLatency']],
]

test('every breaker option the facade accepts reaches the core: a second getOrCreate with another value names it', (t) => {
  for (const [options, changed] of CHANGES) {
    const { breakers, name } = rig()
    breakers.getOrCreate(name, {})
    const error = t.throws(() => breakers.getOrCreate(name, options), { code: 'ERR_BREAKWATER_OPTIONS_DIFFER' } as never)
    const named = [...(error?.message ?? '').matchAll(/([\w.]+) is [^;]+, given/g)].map((m) => m[1])
    t.deepEqual(named, changed, JSON.stringify(options))
  }
  const covered = new Set(CHANGES.flatMap(([options]) => Object.keys(options)))
  const core = BREAKER_OPTION_KEYS.filter((key) => !['isFailure', 'isResultFailure', 'fallback', 'unref'].includes(key))
  t.deepEqual([...covered].sort(), [...core].sort(), 'every option of the table has a case here')
})

test('the facade takes its option names and shapes from the core table, in the order messages list them', (t) => {
  const table = breakerOptions()
  t.deepEqual(BREAKER_OPTION_KEYS, [...table.filter((o) => !o.name.includes('.')).map((o) => o.name), 'isFailure', 'isResultFailure', 'fallback', 'unref'])
  t.is(BREAKER_OPTION_KEYS[0], 'consecutiveFailures')
  const shapes = Object.fromEntries(table.map((o) => [o.name, o.shape]))
  t.like(shapes, {
    consecutiveFailures: 'numberOrOff',
    openFor: 'duration',
    timeout: 'timeout',
    trackLatency: 'flag',
    latency: 'object',
    'latency.threshold': 'duration',
  })
  t.deepEqual(
    table.filter((o) => o.required).map((o) => o.name),
    ['latency.threshold'],
  )
})

test('a duration number out of range is refused by the core with the rule the facade used to state', (t) => {
  const { breakers, name } = rig()
  const cases: Array<[BreakerOptions, string]> = [
    [{ openFor: -5 }, 'openFor must be a finite number of milliseconds of at least 0, but was -5'],
    [{ maxProbeTime: Number.NaN }, 'maxProbeTime must be a finite number of milliseconds of at least 0, but was NaN'],
    [{ latency: { threshold: Number.POSITIVE_INFINITY } }, 'latency.threshold must be a finite number of milliseconds of at least 0, but was Infinity'],
    [{ slowCallRate: 10, slowCallDuration: -1 }, 'slowCallDuration must be a finite number of milliseconds of at least 0, but was -1'],
  ]
  for (const [options, message] of cases) {
    t.throws(() => breakers.getOrCreate(name, options), { instanceOf: RangeError, code: 'ERR_BREAKWATER_INVALID_OPTION', message } as never)
  }
  t.is(breakers.get(name), undefined, 'nothing was created')
})
