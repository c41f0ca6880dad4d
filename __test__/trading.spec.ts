import test from 'ava'
import { circuitBreaker, type HealthCheckEvent, recoveryManager, type StateChange, tradingPause } from '../src/index.ts'
import { rig } from './helpers.ts'
import { withFakeTimers } from './timers.ts'
import { inWorker } from './worker.ts'

/** Runs one call through `breaker` that takes `ms` of (fake) time. */
const callTaking = (breaker: { executeSync<R>(fn: () => R): R }, timers: { tick(ms: number): unknown }, ms: number) =>
  breaker.executeSync(() => void timers.tick(ms))

test.serial('the trading pause opens when P99 of the window is above 200 ms', async (t) => {
  await withFakeTimers((timers) => {
    const { breakers, name } = rig()
    const pause = tradingPause(name, { registry: breakers })
    for (let i = 0; i < 98; i++) callTaking(pause, timers, 100)
    callTaking(pause, timers, 250)
    t.is(pause.state, 'closed', '1 slow call in 99: P99 is 100 ms')
    const changes: StateChange[] = []
    pause.onStateChange((c) => changes.push(c))
    callTaking(pause, timers, 250)
    t.is(pause.state, 'open', '2 slow calls in 100: P99 is 250 ms')
    t.like(changes, [{ name, from: 'closed', to: 'open', reason: 'latency_percentile', retryAfterMs: 30_000 }])
    t.is(changes.length, 1)
  })
})

test.serial('the trading pause stays closed while P99 is at or below 200 ms', async (t) => {
  await withFakeTimers((timers) => {
    const { breakers, name } = rig()
    const pause = tradingPause(name, { registry: breakers })
    for (let i = 0; i < 990; i++) callTaking(pause, timers, 50)
    for (let i = 0; i < 10; i++) callTaking(pause, timers, 200)
    t.is(pause.state, 'closed', 'P99 exactly 200 ms')
    callTaking(pause, timers, 1000)
    t.is(pause.state, 'closed', 'one outlier in 1,000 does not move P99 over 200 ms')
    t.like(pause.latencyStats(), { count: 1001, min: 50, max: 1000 })
  })
})

test.serial('latencyStats reports count, mean, min, max and percentiles of the timed calls', async (t) => {
  await withFakeTimers((timers) => {
    const { breakers, name } = rig()
    const pause = tradingPause(name, { registry: breakers, threshold: '1s' })
    for (let i = 1; i <= 100; i++) callTaking(pause, timers, i * 2)
    const stats = pause.latencyStats()!
    t.like(stats, { count: 100, min: 2, max: 200 })
    t.true(Math.abs(stats.mean - 101) < 1.01, `mean ${stats.mean}`)
    t.true(Math.abs(stats.p99 - 198) <= 1.98, `p99 ${stats.p99} within 1 % of 198`)
    t.true(Math.abs(stats.p50 - 100) <= 1, `p50 ${stats.p50}`)
    t.true(stats.p95 >= stats.p50 && stats.p99 >= stats.p95)
  })
})

test('the trading pause takes its threshold, percentile and window, and any breaker option', (t) => {
  const { breakers, name } = rig()
  t.throws(() => tradingPause(name, { registry: breakers, threshold: -1 }), {
    instanceOf: RangeError,
    message: /^threshold must be a finite number of milliseconds of at least 0, but was -1$/,
  })
  t.throws(() => tradingPause(name, { registry: breakers, percentile: 120 }), {
    instanceOf: RangeError,
    message: /^latency.percentile must be .* but was 120$/,
  })
  const strict = tradingPause(name, { registry: breakers, percentile: 95, threshold: '50ms', windowSize: 200, openFor: '1m' })
  t.is(strict.state, 'closed')
})

test.serial('the recovery manager checks on its backoff schedule while open and half-opens when healthy', async (t) => {
  await withFakeTimers(async (timers) => {
    const { breakers, name } = rig()
    const breaker = breakers.getOrCreate(name, { consecutiveFailures: 1, openFor: '1h' })
    let healthy = false
    const checks: number[] = []
    const events: HealthCheckEvent[] = []
    const manager = recoveryManager(
      breaker,
      () => {
        checks.push(Date.now())
        return { healthy, details: healthy ? 'back' : 'still down' }
      },
      { jitter: 0 },
    )
    manager.onCheck((e) => events.push(e))
    await timers.tickAsync(10_000)
    t.deepEqual(checks, [], 'no check while closed')
    const opened = Date.now()
    await breaker.execute(() => Promise.reject(new Error('down'))).catch(() => undefined)
    t.is(breaker.state, 'open')
    await timers.tickAsync(1000 + 2000 + 4000 + 8000)
    t.deepEqual(
      checks.map((at) => at - opened),
      [1000, 3000, 7000, 15000],
      'after 1 s, then 2, 4, 8 s more',
    )
    t.deepEqual(
      events.map((e) => [e.attempt, e.healthy, e.nextDelayMs]),
      [
        [1, false, 2000],
        [2, false, 4000],
        [3, false, 8000],
        [4, false, 16000],
      ],
    )
    healthy = true
    await timers.tickAsync(16_000)
    t.is(breaker.state, 'half_open', 'traffic resumes well before the hour is up')
    t.like(events.at(-1), { attempt: 5, healthy: true, details: 'back' })
    t.is(await breaker.execute(() => 'probe'), 'probe')
    manager.stop()
    t.false(manager.running)
    t.is(timers.countTimers(), 0, 'stopping leaves no timer')
  })
})

test.serial('the recovery schedule is capped, jittered within bounds, and finds opens made in another thread', async (t) => {
  const name = `recovery-${process.pid}`
  const breaker = circuitBreaker(name, { consecutiveFailures: 1, openFor: '1h' })
  await withFakeTimers(async (timers) => {
    const delays: number[] = []
    const manager = recoveryManager(breaker, () => Promise.reject(new Error('health endpoint down')), { jitter: 0.1 })
    manager.onCheck((e) => {
      t.true(e.error instanceof Error, 'a check that throws counts as unhealthy')
      delays.push(e.nextDelayMs!)
    })
    breaker.forceOpen()
    await timers.tickAsync(5000)
    t.deepEqual(delays, [], 'forced open is a decision the manager leaves alone')
    breaker.reset()
    // Opened in a worker thread: no event reaches this thread, the manager's look at the state finds it.
    t.is(
      await inWorker(
        `const b = bw.circuitBreaker('${name}'); await b.execute(() => Promise.reject(new Error('down'))).catch(() => {}); parentPort.postMessage(b.state)`,
      ),
      'open',
    )
    await timers.tickAsync(1000 + 1100)
    t.is(delays.length, 1, 'checked within a poll and a first delay of the open')
    await timers.tickAsync(3_000_000)
    const plain = [2, 4, 8, 16, 32, 64, 128, 256, 300, 300].map((s) => s * 1000)
    t.true(delays.length >= plain.length)
    plain.forEach((d, i) => t.true(delays[i]! >= d * 0.9 && delays[i]! <= Math.min(d * 1.1, 300_000), `delay ${i}: ${delays[i]} for ${d}`))
    t.true(new Set(delays).size > 3, 'jitter spreads the delays')
    manager.stop()
    t.is(timers.countTimers(), 0)
  })
})

test('recovery options and arguments are checked', (t) => {
  const { breakers, name } = rig()
  const breaker = breakers.getOrCreate(name)
  t.throws(() => recoveryManager(breaker, () => true, { base: -1 }), { instanceOf: RangeError, message: /^base must be .* but was -1$/ })
  t.throws(() => recoveryManager(breaker, () => true, { jitter: 1.5 }), { message: 'jitter must be within 0..1, but was 1.5' })
  t.throws(() => recoveryManager(breaker, 'ping' as unknown as () => boolean), { instanceOf: TypeError, message: 'check must be a function, but was "ping"' })
  t.throws(() => recoveryManager({} as typeof breaker, () => true), { instanceOf: TypeError, message: /^breaker must be a circuit breaker/ })
})
