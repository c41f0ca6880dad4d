// Adaptive latency thresholds on fake timers, fed synthetic latency series: each call takes
// exactly the milliseconds the series says (the fake clock moves while it runs).
import test from 'ava'
import type FakeTimers from '@sinonjs/fake-timers'
import { chaos, type CircuitBreaker, Registry, type StateChange } from '../src/index.ts'
import { FakeClock } from '../src/testing.ts'
import { withFakeTimers } from './timers.ts'

const adaptive = { factor: 2, interval: '1s', baseline: '10s', min: 50, max: 2000, maxStep: 50, minSamples: 20 } as const

function made(extra: object = {}) {
  const breakers = new Registry({ clock: new FakeClock() })
  const b = breakers.getOrCreate('feed', {
    consecutiveFailures: false,
    failureRate: false,
    windowSize: 20,
    latency: { threshold: 300, adaptive: { ...adaptive, ...extra } },
  })
  const changes: StateChange[] = []
  b.onStateChange((c) => changes.push(c))
  return { b, changes }
}

/** One second of traffic: `perSecond` calls of `latencyMs` each, then the rest of the second. */
function second(timers: FakeTimers.InstalledClock, b: CircuitBreaker, latencyMs: number, perSecond = 5) {
  const start = performance.now()
  for (let i = 0; i < perSecond; i++) {
    try {
      b.executeSync(() => timers.tick(latencyMs))
    } catch {
      // refused while open
    }
  }
  timers.tick(Math.max(0, 1000 - (performance.now() - start)))
}

test.serial('a slow drift is followed: the threshold moves with the baseline, at most maxStep per interval', async (t) => {
  await withFakeTimers((timers) => {
    const { b, changes } = made()
    for (let s = 0; s < 20; s++) second(timers, b, 100)
    t.is(b.options().latency?.threshold, 200, 'baseline 100 ms x 2, reached in steps of 50 from 300')
    for (let s = 0; s < 60; s++) second(timers, b, 100 + Math.floor(s / 6) * 10) // 100 -> 190 ms over a minute
    for (let s = 0; s < 20; s++) second(timers, b, 190)
    const threshold = b.options().latency?.threshold as number
    t.true(Math.abs(threshold - 380) <= 0.1 * 380, `${threshold}: within the hysteresis of 2 x 190 ms`)
    t.true(threshold > 300)
    t.is(b.state, 'closed')
    t.deepEqual(changes, [], 'a drift never opens the breaker')
    const steps = b.explain().changes
    t.true(steps.every((c) => Math.abs(c.toMs - c.fromMs) <= 50))
  })
})

test.serial('a sudden spike opens the breaker at the learnt threshold', async (t) => {
  await withFakeTimers((timers) => {
    const { b, changes } = made()
    for (let s = 0; s < 20; s++) second(timers, b, 100)
    t.is(b.options().latency?.threshold, 200)
    second(timers, b, 260) // under the static 300 ms, above the learnt 200 ms
    t.is(b.state, 'open')
    t.like(changes[0], { from: 'closed', to: 'open', reason: 'latency_percentile' })
  })
})

test.serial('a long incident does not raise the baseline: periods in which the breaker is not closed are left out', async (t) => {
  await withFakeTimers((timers) => {
    const { b } = made()
    for (let s = 0; s < 20; s++) second(timers, b, 100)
    const before = b.explain()
    t.is(before.thresholdMs, 200)
    // Ten minutes of 1.5 s calls: the breaker opens, probes fail, it stays open, reopening.
    for (let s = 0; s < 600; s++) second(timers, b, 1500, 1)
    const after = b.explain()
    t.is(after.thresholdMs, 200, 'the threshold did not learn from the incident')
    t.true(after.skipped.notClosed > 500, `${after.skipped.notClosed}`)
    t.is(after.changes.length, before.changes.length)
  })
})

test.serial('periods in which chaos injects are never learnt from', async (t) => {
  await withFakeTimers(async (timers) => {
    const rehearsal = chaos({ latency: 1, rate: 1, for: '1h' })
    const { b } = made({ chaos: [rehearsal] })
    for (let s = 0; s < 20; s++) second(timers, b, 100)
    rehearsal.enable()
    for (let s = 0; s < 30; s++) second(timers, b, 150)
    rehearsal.disable()
    t.is(b.explain().thresholdMs, 200)
    t.true(b.explain().skipped.chaos >= 29)
  })
})

test.serial('shadow mode never changes the breaker: it records the threshold it would use and the periods that would open', async (t) => {
  await withFakeTimers((timers) => {
    const { b, changes } = made({ shadow: true })
    const would: number[] = []
    b.onWouldOpen((e) => would.push(e.observedMs))
    for (let s = 0; s < 20; s++) second(timers, b, 100)
    for (let s = 0; s < 5; s++) second(timers, b, 260)
    t.is(b.state, 'closed')
    t.deepEqual(changes, [])
    t.is(b.options().latency?.threshold, 300, 'the real threshold is the one given')
    const e = b.explain()
    t.like(e, { adaptive: true, shadow: true, thresholdMs: 200 })
    t.true(e.changes.every((c) => c.shadow))
    t.deepEqual(would, [260], 'once: the breaker would then be open for its open duration, 30 s')
    t.like(e.wouldOpen, [{ thresholdMs: 200, observedMs: 260, samples: 20 }])
    t.true(e.skipped.notClosed >= 5, 'the period that would open and the ones it would stay open are not learnt from')
  })
})

test.serial('every change is explained with its inputs, and each starts where the last one ended', async (t) => {
  await withFakeTimers((timers) => {
    const { b } = made()
    for (let s = 0; s < 20; s++) second(timers, b, 100)
    for (let s = 0; s < 20; s++) second(timers, b, 10)
    const { changes } = b.explain()
    t.true(changes.length >= 4)
    let from = 300
    for (const c of changes) {
      t.is(c.fromMs, from)
      t.is(c.targetMs, c.factor * c.baselineMs)
      t.true(c.samples >= 20)
      t.is(c.percentile, 99)
      from = c.toMs
    }
    const last = changes.at(-1)!
    t.like(last, { baselineMs: 10, targetMs: 20, clamp: 'min', toMs: 50 })
    t.is(b.options().latency?.threshold, 50)
  })
})

test('bad adaptive options are refused before anything is created', (t) => {
  const breakers = new Registry({ clock: new FakeClock() })
  const bad = (extra: object, pattern: RegExp) => {
    const e = t.throws(() => breakers.getOrCreate('x', { latency: { threshold: 100, adaptive: { ...adaptive, ...extra } as never } }), {
      code: 'ERR_BREAKWATER_INVALID_OPTION',
    })
    t.regex(e!.message, pattern)
  }
  bad({ factor: 0 }, /latency\.adaptive\.factor must be a number from 1 to 1000, but was 0/)
  bad({ max: 10 }, /latency\.adaptive\.max must be above min \(50 ms\)/)
  bad({ interval: '2s', baseline: '1s' }, /baseline must be at least the interval/)
  bad({ shadow: 'yes' }, /shadow/)
  bad({ facter: 2 }, /facter/)
  bad({ chaos: [1] }, /chaos must be an array of chaos policies/)
  t.throws(() => breakers.getOrCreate('x', { latency: { threshold: 100, adaptive: { max: 10 } as never } }), { message: /min is required/ })
  t.deepEqual(breakers.names(), [])
})
