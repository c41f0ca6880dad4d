import test from 'ava'
import { type CircuitBreaker, isBrokenCircuitError, wrap } from '../src/index.ts'
import { chaos, type ChaosInjectEvent, type ChaosStopEvent } from '../src/index.ts'
import { rig } from './helpers.ts'
import { deferred, turn, withFakeTimers } from './timers.ts'

let unhandled = 0
const onUnhandled = () => unhandled++
process.on('unhandledRejection', onUnhandled)
test.after.always('no unhandled rejection in the whole file', async (t) => {
  await turn()
  process.off('unhandledRejection', onUnhandled)
  t.is(unhandled, 0)
})

/** A fake epoch clock: `now()` reads it, `advance` moves it. */
function fakeNow(start = 1_700_000_000_000) {
  let at = start
  return { now: () => at, advance: (ms: number) => (at += ms) }
}

/** A repeating random source: three of each ten draws are below 0.3. */
function seeded() {
  const draws = [0.05, 0.5, 0.29, 0.3, 0.9, 0.1, 0.7, 0.31, 0.99, 0.6]
  let i = 0
  return () => draws[i++ % draws.length]!
}

const ok = () => 'real'

test('injection is off by default: calls go through untouched and nothing is counted', async (t) => {
  const policy = chaos({ fault: new Error('boom'), for: '1m' })
  t.false(policy.enabled)
  t.is(await policy.execute(ok), 'real')
  t.deepEqual(policy.stats(), { calls: 1, injected: { fault: 0, latency: 0, outcome: 0, behavior: 0 }, enabled: false, stopped: undefined })
})

test('a fault rejects with the given error, marked injected, without calling the function', async (t) => {
  const error = new Error('gateway down')
  const clock = fakeNow()
  const policy = chaos({ fault: error, for: '1m', enabled: true, now: clock.now })
  const events: ChaosInjectEvent[] = []
  policy.onInject((e) => events.push(e))
  let called = 0
  const rejected = await t.throwsAsync(policy.execute(() => called++))
  t.is(rejected, error)
  t.true((rejected as Error & { injected?: boolean }).injected)
  t.is(called, 0)
  t.deepEqual(events, [{ kind: 'fault', chaos: true, call: 1, error }])
  t.is(policy.stats().injected.fault, 1)
})

test('a fault factory makes a fresh error per call from the context; values that cannot carry the mark are wrapped', async (t) => {
  const policy = chaos({ fault: ({ call }) => new Error(`fault ${call}`), for: '1m', enabled: true })
  const first = (await t.throwsAsync(policy.execute(ok))) as Error & { injected?: boolean }
  const second = (await t.throwsAsync(policy.execute(ok))) as Error & { injected?: boolean }
  t.is(first.message, 'fault 1')
  t.is(second.message, 'fault 2')
  t.true(first.injected && second.injected)
  const frozen = Object.freeze(new Error('frozen'))
  const wrapped = (await t.throwsAsync(chaos({ fault: frozen, for: '1m', enabled: true }).execute(ok))) as Error & { injected?: boolean }
  t.true(wrapped.injected)
  t.is(wrapped.cause, frozen)
})

test('an outcome resolves to the given value without calling the function', async (t) => {
  const policy = chaos({ outcome: { status: 503 }, for: '1m', enabled: true })
  const events: ChaosInjectEvent[] = []
  policy.onInject((e) => events.push(e))
  let called = 0
  const value = await policy.execute(() => {
    called++
    return { status: 200 }
  })
  t.deepEqual(value, { status: 503 })
  t.is(called, 0)
  t.deepEqual(events, [{ kind: 'outcome', chaos: true, call: 1, value: { status: 503 } }])
  t.is(policy.stats().injected.outcome, 1)
})

test('a behavior runs its side effect first, then the real call', async (t) => {
  const log: string[] = []
  const policy = chaos({
    behavior: async ({ call }) => {
      log.push(`side effect ${call}`)
    },
    for: '1m',
    enabled: true,
  })
  t.is(
    await policy.execute(() => {
      log.push('real')
      return 'real'
    }),
    'real',
  )
  t.deepEqual(log, ['side effect 1', 'real'])
  t.is(policy.stats().injected.behavior, 1)
  const failing = chaos({
    behavior: () => {
      throw new Error('side effect failed')
    },
    for: '1m',
    enabled: true,
  })
  const error = (await t.throwsAsync(failing.execute(ok), { message: 'side effect failed' })) as Error & { injected?: boolean }
  t.true(error.injected, 'a behaviour that throws rejects the call with its error, marked injected')
})

test.serial('latency waits the fixed duration on the clock, then makes the real call', async (t) => {
  await withFakeTimers(async (timers) => {
    const policy = chaos({ latency: '5s', for: '1m', enabled: true })
    const events: ChaosInjectEvent[] = []
    policy.onInject((e) => events.push(e))
    let settled = false
    const call = policy.execute(ok).then((v) => {
      settled = true
      return v
    })
    await timers.tickAsync(4_999)
    t.false(settled)
    await timers.tickAsync(1)
    t.is(await call, 'real')
    t.deepEqual(events, [{ kind: 'latency', chaos: true, call: 1, delayMs: 5_000 }])
  })
})

test.serial('latency from a function of the context', async (t) => {
  await withFakeTimers(async (timers) => {
    const policy = chaos({ latency: ({ call }) => call * 100, for: '1m', enabled: true })
    const first = policy.execute(ok)
    const second = policy.execute(ok)
    let secondDone = false
    void second.then(() => (secondDone = true))
    await timers.tickAsync(100)
    t.is(await first, 'real')
    t.false(secondDone)
    await timers.tickAsync(100)
    t.is(await second, 'real')
  })
})

test.serial("latency honours the call's abort signal: the call rejects with its reason and the function never runs", async (t) => {
  await withFakeTimers(async (timers) => {
    const policy = chaos({ latency: '1h', for: '2h', enabled: true })
    const controller = new AbortController()
    let called = 0
    const call = policy.execute(() => called++, { signal: controller.signal })
    await timers.tickAsync(1_000)
    controller.abort(new Error('caller left'))
    await t.throwsAsync(call, { message: 'caller left' })
    t.is(called, 0)
    t.is(timers.countTimers(), 0, 'no timer is left behind')
    const already = new AbortController()
    already.abort(new Error('gone before'))
    await t.throwsAsync(policy.execute(ok, { signal: already.signal }), { message: 'gone before' })
  })
})

test('the latency timer does not keep the process alive', async (t) => {
  const policy = chaos({ latency: '1h', for: '2h', enabled: true })
  const controller = new AbortController()
  const before = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length
  const call = policy.execute(ok, { signal: controller.signal })
  await turn()
  const refTimers = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length
  t.is(refTimers, before, 'an unref timer is not counted as an active resource keeping the loop alive')
  controller.abort(new Error('done'))
  await t.throwsAsync(call, { message: 'done' })
})

test('rate 0 injects nothing, rate 1 injects every call, rate 0.3 injects exactly the draws below 0.3', async (t) => {
  const run = async (rate: number) => {
    const policy = chaos({ outcome: 'fake', rate, for: '1m', enabled: true, random: seeded() })
    for (let i = 0; i < 100; i++) await policy.execute(ok)
    return policy.stats().injected.outcome
  }
  t.is(await run(0), 0)
  t.is(await run(1), 100)
  t.is(await run(0.3), 30)
})

test('rate as a function of the context', async (t) => {
  const policy = chaos({ outcome: 'fake', rate: ({ call }) => (call % 2 === 0 ? 1 : 0), for: '1m', enabled: true, random: seeded() })
  const results: string[] = []
  for (let i = 0; i < 4; i++) results.push(await policy.execute(ok))
  t.deepEqual(results, ['real', 'fake', 'real', 'fake'])
})

test('a rate function that throws or answers outside 0..1 injects nothing and warns', async (t) => {
  const warnings: string[] = []
  const onWarning = (w: Error) => warnings.push(w.message)
  process.on('warning', onWarning)
  try {
    const throws = chaos({
      outcome: 'fake',
      rate: () => {
        throw new Error('bug')
      },
      for: '1m',
      enabled: true,
    })
    t.is(await throws.execute(ok), 'real')
    const tooHigh = chaos({ outcome: 'fake', rate: () => 2, for: '1m', enabled: true })
    t.is(await tooHigh.execute(ok), 'real')
    await turn()
    t.is(warnings.filter((w) => w.includes('chaos rate')).length, 2)
  } finally {
    process.off('warning', onWarning)
  }
})

test('injection ends by itself when `for` has passed since it was enabled, and says so', async (t) => {
  const clock = fakeNow()
  const policy = chaos({ outcome: 'fake', for: '1m', now: clock.now })
  const stops: ChaosStopEvent[] = []
  policy.onStop((e) => stops.push(e))
  clock.advance(3_600_000) // time before enable() does not count
  policy.enable()
  t.is(await policy.execute(ok), 'fake')
  clock.advance(59_999)
  t.is(await policy.execute(ok), 'fake')
  clock.advance(1)
  t.is(await policy.execute(ok), 'real')
  t.false(policy.enabled)
  t.deepEqual(stops, [{ reason: 'expired', chaos: true }])
  t.is(policy.stats().stopped, 'expired')
  policy.enable() // a new window from now
  t.is(await policy.execute(ok), 'fake')
})

test('stats() notices an expired TTL without any call: stopped is expired and onStop says so once', (t) => {
  const clock = fakeNow()
  const policy = chaos({ outcome: 'fake', for: '1m', enabled: true, now: clock.now })
  const stops: ChaosStopEvent[] = []
  policy.onStop((e) => stops.push(e))
  t.like(policy.stats(), { enabled: true, stopped: undefined })
  clock.advance(60_000)
  t.like(policy.stats(), { enabled: false, stopped: 'expired' })
  t.like(policy.stats(), { enabled: false, stopped: 'expired' })
  t.deepEqual(stops, [{ reason: 'expired', chaos: true }])
})

test('disable() after a TTL that ended unnoticed reports expired, not disabled', (t) => {
  const clock = fakeNow()
  const policy = chaos({ outcome: 'fake', for: '1m', enabled: true, now: clock.now })
  const stops: ChaosStopEvent[] = []
  policy.onStop((e) => stops.push(e))
  clock.advance(60_000)
  policy.disable()
  t.deepEqual(stops, [{ reason: 'expired', chaos: true }])
  t.is(policy.stats().stopped, 'expired')
})

test('injection ends at `until` (a Date or epoch ms), and cannot be enabled past it', async (t) => {
  const clock = fakeNow()
  const policy = chaos({ outcome: 'fake', until: new Date(clock.now() + 10_000), enabled: true, now: clock.now })
  t.is(await policy.execute(ok), 'fake')
  clock.advance(10_000)
  t.is(await policy.execute(ok), 'real')
  t.is(policy.stats().stopped, 'expired')
  t.throws(() => policy.enable(), { instanceOf: RangeError, code: 'ERR_BREAKWATER_INVALID_OPTION', message: /until has passed/ })
  t.throws(() => chaos({ outcome: 1, until: clock.now() - 1, enabled: true, now: clock.now }), { instanceOf: RangeError, message: /until has passed/ })
})

test('disable() stops injection at once and reports it; enable() turns it back on', async (t) => {
  const policy = chaos({ outcome: 'fake', for: '1m', enabled: true })
  const stops: ChaosStopEvent[] = []
  policy.onStop((e) => stops.push(e))
  t.true(policy.enabled)
  policy.disable()
  t.false(policy.enabled)
  t.is(await policy.execute(ok), 'real')
  t.deepEqual(stops, [{ reason: 'disabled', chaos: true }])
  policy.enable()
  t.is(await policy.execute(ok), 'fake')
  t.is(policy.stats().stopped, undefined)
})

test('breakerOpen: a real breaker opened by injected faults stops injection within one call, and the breaker then recovers', async (t) => {
  const { clock, breakers, name } = rig()
  const breaker = breakers.getOrCreate(name, { consecutiveFailures: 3, openFor: '10s', halfOpenSuccesses: 1 })
  const policy = chaos({ fault: () => new Error('injected'), for: '1h', enabled: true, stopWhen: { breakerOpen: breaker }, now: () => clock.now })
  const stops: ChaosStopEvent[] = []
  policy.onStop((e) => stops.push(e))
  const guarded = wrap(breaker, policy)
  for (let i = 0; i < 3; i++) await t.throwsAsync(guarded.execute(ok), { message: 'injected' })
  t.is(breaker.state, 'open')
  t.deepEqual(stops, [{ reason: 'breaker_open', chaos: true }], 'stopped by the call that opened the breaker')
  t.false(policy.enabled)
  t.true(isBrokenCircuitError(await guarded.execute(ok).catch((e) => e)))
  clock.advance('10s')
  t.is(await guarded.execute(ok), 'real', 'the probe is not injected')
  t.is(breaker.state, 'closed')
  t.is(policy.stats().injected.fault, 3)
})

test('breakerOpen by name, looked up in the registry option, even when the breaker is made after the policy', async (t) => {
  const { clock, breakers, name } = rig()
  const policy = chaos({ fault: new Error('injected'), for: '1h', enabled: true, stopWhen: { breakerOpen: name }, registry: breakers, now: () => clock.now })
  const breaker: CircuitBreaker = breakers.getOrCreate(name, { consecutiveFailures: 2, openFor: '10s' })
  const guarded = wrap(breaker, policy)
  await t.throwsAsync(guarded.execute(ok), { message: 'injected' })
  await t.throwsAsync(guarded.execute(ok), { message: 'injected' })
  t.is(breaker.state, 'open')
  t.is(policy.stats().stopped, 'breaker_open')
  // A breaker already open when injection is enabled stops it before the first injection.
  policy.enable()
  clock.advance('10s')
  t.is(await policy.execute(ok), 'real')
  t.is(policy.stats().stopped, 'breaker_open')
  t.is(policy.stats().injected.fault, 2)
})

test('injected faults are failures to a breaker wrapped around chaos, and carry the mark to its listeners', async (t) => {
  const { breakers, name } = rig()
  const breaker = breakers.getOrCreate(name, { consecutiveFailures: 5 })
  const marks: unknown[] = []
  breaker.onFailure(({ error }) => marks.push((error as { injected?: unknown }).injected))
  const guarded = wrap(breaker, chaos({ fault: () => new Error('injected'), rate: 0.3, random: seeded(), for: '1h', enabled: true }))
  for (let i = 0; i < 10; i++) await guarded.execute(ok).catch(() => undefined)
  t.deepEqual(marks, [true, true, true])
  t.is(breaker.metrics().failures, 3)
})

test('errorRate stops injection once the share of failed calls in the window reaches it', async (t) => {
  const clock = fakeNow()
  let side = 0
  const policy = chaos({
    behavior: () => side++,
    for: '1h',
    enabled: true,
    stopWhen: { errorRate: 0.5, window: '30s', minimumCalls: 4 },
    now: clock.now,
  })
  const fail = () => Promise.reject(new Error('real failure'))
  await policy.execute(ok)
  await policy.execute(ok)
  await t.throwsAsync(policy.execute(fail))
  t.is(policy.stats().stopped, undefined, 'three calls: below minimumCalls')
  await t.throwsAsync(policy.execute(fail))
  t.is(await policy.execute(ok), 'real')
  t.is(side, 4, 'the fifth call saw 2 failures in 4 calls and was not injected')
  t.is(policy.stats().stopped, 'error_rate')
})

test('errorRate forgets failures older than its window', async (t) => {
  const clock = fakeNow()
  const policy = chaos({ outcome: 'fake', rate: 0, for: '1h', enabled: true, stopWhen: { errorRate: 0.5, window: '30s', minimumCalls: 2 }, now: clock.now })
  const fail = () => Promise.reject(new Error('real failure'))
  await t.throwsAsync(policy.execute(fail))
  await t.throwsAsync(policy.execute(fail))
  clock.advance(31_000)
  await policy.execute(ok)
  t.is(policy.stats().stopped, undefined)
  await t.throwsAsync(policy.execute(fail))
  await policy.execute(ok)
  t.is(policy.stats().stopped, 'error_rate', 'now 1 failure in 2 calls within the window')
})

test('a stopWhen function is asked before each call, with the stats; one that throws stops injection', async (t) => {
  const policy = chaos({ fault: () => new Error('injected'), for: '1h', enabled: true, stopWhen: (stats) => stats.injected.fault >= 2 })
  const stops: ChaosStopEvent[] = []
  policy.onStop((e) => stops.push(e))
  await t.throwsAsync(policy.execute(ok))
  await t.throwsAsync(policy.execute(ok))
  t.is(await policy.execute(ok), 'real')
  t.deepEqual(stops, [{ reason: 'stop_when', chaos: true }])
  const onWarning = () => undefined
  process.on('warning', onWarning)
  try {
    const broken = chaos({
      outcome: 'fake',
      for: '1h',
      enabled: true,
      stopWhen: () => {
        throw new Error('bug')
      },
    })
    t.is(await broken.execute(ok), 'real')
    t.is(broken.stats().stopped, 'stop_when')
  } finally {
    process.off('warning', onWarning)
  }
})

test('several stop conditions: the first that holds stops injection', async (t) => {
  let stop = false
  const policy = chaos({ outcome: 'fake', for: '1h', enabled: true, stopWhen: [{ errorRate: 0.9, window: '1m' }, () => stop] })
  t.is(await policy.execute(ok), 'fake')
  stop = true
  t.is(await policy.execute(ok), 'real')
  t.is(policy.stats().stopped, 'stop_when')
})

test('bad options are refused with a TypeError or RangeError naming the field', (t) => {
  const code = 'ERR_BREAKWATER_INVALID_OPTION'
  const bad: Array<[unknown, typeof TypeError | typeof RangeError, RegExp]> = [
    [undefined, TypeError, /chaos options must be an object|exactly one of/],
    [null, TypeError, /chaos options must be an object/],
    [{ for: '1m' }, TypeError, /exactly one of fault, latency, outcome or behavior, but was given none/],
    [{ fault: new Error('x'), outcome: 1, for: '1m' }, TypeError, /but was given fault and outcome/],
    [{ fault: 'boom', for: '1m' }, TypeError, /fault must be an error/],
    [{ latency: '5 parsecs', for: '1m' }, RangeError, /latency must be a duration/],
    [{ latency: -1, for: '1m' }, RangeError, /latency must be a finite number/],
    [{ behavior: 1, for: '1m' }, TypeError, /behavior must be a function/],
    [{ outcome: 1, rate: 1.5, for: '1m' }, RangeError, /rate must be within 0..1, but was 1.5/],
    [{ outcome: 1, rate: '50%', for: '1m' }, TypeError, /rate must be a number/],
    [{ outcome: 1, enabled: 'yes', for: '1m' }, TypeError, /enabled must be true or false/],
    [{ outcome: 1 }, TypeError, /chaos needs a TTL: until .* or for/],
    [{ outcome: 1, enabled: true }, TypeError, /enabled: true needs a TTL: until \(a Date or epoch milliseconds\) or for \(a duration\)/],
    [{ outcome: 1, for: '1m', until: Date.now() + 1 }, TypeError, /until or for, not both/],
    [{ outcome: 1, for: 0 }, RangeError, /for must be more than 0 ms/],
    [{ outcome: 1, until: 'tomorrow' }, TypeError, /until must be a Date or a number/],
    [{ outcome: 1, until: new Date('nonsense') }, RangeError, /until must be a valid Date/],
    [{ outcome: 1, for: '1m', tmeout: 1 }, TypeError, /tmeout is not a chaos option/],
    [{ outcome: 1, for: '1m', stopWhen: { breakerOpen: 42 } }, TypeError, /stopWhen.breakerOpen must be a breaker or a breaker's name/],
    [{ outcome: 1, for: '1m', stopWhen: { errorRate: 2, window: '1m' } }, RangeError, /stopWhen.errorRate must be within 0..1/],
    [{ outcome: 1, for: '1m', stopWhen: { errorRate: 0.5 } }, TypeError, /stopWhen.window is needed/],
    [{ outcome: 1, for: '1m', stopWhen: { errorRate: 0.5, window: '1m', minimumCalls: 0 } }, RangeError, /stopWhen.minimumCalls must be a whole number/],
    [{ outcome: 1, for: '1m', stopWhen: [() => false, { errorRte: 0.5 }] }, TypeError, /errorRte is not a stopWhen\[1\] option/],
    [{ outcome: 1, for: '1m', registry: {} }, TypeError, /registry must be a Registry/],
    [{ outcome: 1, for: '1m', random: 0.5 }, TypeError, /random must be a function/],
    [{ outcome: 1, for: '1m', now: 'now' }, TypeError, /now must be a function/],
  ]
  for (const [options, type, message] of bad) {
    t.throws(() => chaos(options as never), { instanceOf: type, code, message }, JSON.stringify(options))
  }
})

test('a polluted Object.prototype changes nothing', async (t) => {
  const proto = Object.prototype as Record<string, unknown>
  proto.enabled = true
  proto.rate = 0
  try {
    const policy = chaos({ outcome: 'fake', for: '1m' })
    t.false(policy.enabled)
    policy.enable()
    t.is(await policy.execute(ok), 'fake')
  } finally {
    delete proto.enabled
    delete proto.rate
  }
})

test('per-call misuse rejects, never throws', async (t) => {
  const policy = chaos({ outcome: 'fake', for: '1m', enabled: true })
  await t.throwsAsync(policy.execute(null as never), { instanceOf: TypeError, code: 'ERR_BREAKWATER_INVALID_OPTION' })
  await t.throwsAsync(policy.execute(ok, new AbortController().signal as never), { instanceOf: TypeError, message: /inside the options/ })
})

test('a listener that throws reaches neither the call nor the policy', async (t) => {
  const onWarning = () => undefined
  process.on('warning', onWarning)
  try {
    const policy = chaos({ fault: () => new Error('injected'), for: '1m', enabled: true })
    policy.onInject(() => {
      throw new Error('listener bug')
    })
    policy.onStop(() => Promise.reject(new Error('async listener bug')))
    await t.throwsAsync(policy.execute(ok), { message: 'injected' })
    policy.disable()
    await turn()
    t.is(policy.stats().stopped, 'disabled')
  } finally {
    process.off('warning', onWarning)
  }
})

test('many concurrent injected calls each end once, with no unhandled rejection', async (t) => {
  const policy = chaos({ fault: () => new Error('injected'), rate: 0.3, random: seeded(), for: '1m', enabled: true })
  const gate = deferred()
  const calls = Array.from({ length: 100 }, () => policy.execute(() => gate.promise.then(() => 'real')))
  gate.resolve()
  const results = await Promise.allSettled(calls)
  t.is(results.filter((r) => r.status === 'rejected').length, 30)
  t.is(results.filter((r) => r.status === 'fulfilled').length, 70)
  await turn()
  t.is(unhandled, 0)
})
