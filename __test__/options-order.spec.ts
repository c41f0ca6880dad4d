// Which mistake a breaker's options are refused for, when there are several: as before issue 16's
// refactor, a duration number that is negative, NaN or infinite is named in the order of the
// keys, before the mistakes the core finds (a missing partner option, a number that is not whole),
// and before the type errors of later keys. Found by __test__/fixtures/differential.mjs.
import test from 'ava'
import type { BreakerOptions, CallPolicy } from '../src/index.ts'
import { rig } from './helpers.ts'

test('a bad duration number is named before the mistakes of later keys and before the core rules, as before', (t) => {
  const { breakers, name } = rig()
  const cases: Array<[BreakerOptions & CallPolicy, string]> = [
    [{ slowCallDuration: -1 }, 'slowCallDuration must be a finite number of milliseconds of at least 0, but was -1'],
    [
      { openFor: '136ms', slowCallDuration: Number.POSITIVE_INFINITY },
      'slowCallDuration must be a finite number of milliseconds of at least 0, but was Infinity',
    ],
    [{ slowCallRate: 25, window: -0.5 }, 'window must be a finite number of milliseconds of at least 0, but was -0.5'],
    [{ maxOpenFor: -1, minimumCalls: 1.5 }, 'maxOpenFor must be a finite number of milliseconds of at least 0, but was -1'],
    [{ maxProbeTime: Number.NaN, unref: 'yes' as never }, 'maxProbeTime must be a finite number of milliseconds of at least 0, but was NaN'],
    [{ maxOpenFor: -1, openFor: -1 }, 'maxOpenFor must be a finite number of milliseconds of at least 0, but was -1'],
    [{ openFor: -1, timeout: 0 }, 'openFor must be a finite number of milliseconds of at least 0, but was -1'],
  ]
  for (const [options, message] of cases) {
    t.throws(() => breakers.getOrCreate(name, options), { instanceOf: RangeError, code: 'ERR_BREAKWATER_INVALID_OPTION', message } as never)
  }
  // Alone, the same mistakes read as before too.
  t.throws(() => breakers.getOrCreate(name, { slowCallRate: 101 }), { message: 'slowCallDuration must be given with slowCallRate, but was missing' })
  t.throws(() => breakers.getOrCreate(name, { slowCallDuration: 1e12 }), { message: 'slowCallRate must be given with slowCallDuration, but was missing' })
  t.is(breakers.get(name), undefined, 'nothing was created')
})
