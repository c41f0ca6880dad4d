import test from 'ava'
import { circuitBreaker, isBrokenCircuitError, Registry, type StateChange } from '../src/index.ts'
import { FakeClock } from '../src/testing.ts'
import { until } from './timers.ts'
import { startWorker } from './worker.ts'

const fail = async () => {
  throw new Error('down')
}

test('configure changes the rules of a live breaker for every handle, keeping its window and failures in a row', async (t) => {
  const breakers = new Registry({ clock: new FakeClock() })
  const a = breakers.getOrCreate('quotes', { consecutiveFailures: 5, failureRate: false })
  const b = breakers.getOrCreate('quotes')
  for (let i = 0; i < 2; i++) await a.execute(fail).catch(() => {})
  b.configure({ consecutiveFailures: 3 })
  t.is(a.options().consecutiveFailures, 3, 'the other handle reads the new rules')
  t.is(a.state, 'closed')
  await a.execute(fail).catch(() => {})
  t.is(a.state, 'open', 'two failures before the change and one after make three in a row')
  t.like(a.metrics(), { calls: 3, failures: 3 })
})

test('a window that already breaks the new rules opens the breaker at once with reason reconfigured', async (t) => {
  const breakers = new Registry({ clock: new FakeClock() })
  const b = breakers.getOrCreate('orders', { consecutiveFailures: false, failureRate: 50 })
  const changes: StateChange[] = []
  b.onStateChange((change) => changes.push(change))
  for (let i = 0; i < 3; i++) await b.execute(fail).catch(() => {})
  for (let i = 0; i < 7; i++) await b.execute(async () => i)
  t.is(b.state, 'closed', '30 % of failures is under 50 %')
  b.configure({ failureRate: 25 })
  t.is(b.state, 'open')
  t.like(changes, [{ name: 'orders', from: 'closed', to: 'open', reason: 'reconfigured' }])
  t.true(isBrokenCircuitError(await b.execute(async () => 1).catch((e: unknown) => e)))
})

test('options() reads back every option in force, and configure merges a partial over them', (t) => {
  const breakers = new Registry({ clock: new FakeClock() })
  const b = breakers.getOrCreate('rates', { window: '10s', windowBuckets: 5, openFor: '2s', latency: { threshold: 200 } })
  b.configure({ openFor: 4000, latency: { percentile: 95, threshold: '300ms' }, timeout: '1s' })
  t.deepEqual(b.options(), {
    consecutiveFailures: 5,
    failureRate: 50,
    minimumCalls: 10,
    latency: { percentile: 95, threshold: 300 },
    window: 10_000,
    windowBuckets: 5,
    openFor: 4000,
    openMultiplier: 2,
    openJitter: 0,
    halfOpenProbes: 3,
    halfOpenSuccesses: 2,
    timeout: 1000,
    trackLatency: false,
  })
})

test('an open breaker keeps its open-until; the new open duration applies from its next opening', async (t) => {
  const clock = new FakeClock()
  const breakers = new Registry({ clock })
  const b = breakers.getOrCreate('feed', { consecutiveFailures: 1, openFor: '10s', halfOpenSuccesses: 1 })
  await b.execute(fail).catch(() => {})
  b.configure({ openFor: '1m' })
  const refused = (await b.execute(async () => 1).catch((e: unknown) => e)) as { retryAfterMs: number }
  t.is(refused.retryAfterMs, 10_000)
  clock.advance('10s')
  await b.execute(fail).catch(() => {}) // the probe fails: open again, now for 1 minute x 2 (the backoff's second opening)
  const again = (await b.execute(async () => 1).catch((e: unknown) => e)) as { retryAfterMs: number }
  t.is(again.retryAfterMs, 120_000)
})

test('invalid partial options are refused whole, naming the option, the rule and the value, and change nothing', (t) => {
  const breakers = new Registry({ clock: new FakeClock() })
  const b = breakers.getOrCreate('strict', { consecutiveFailures: 4 })
  const before = b.options()
  const refused = (partial: unknown) => t.throws(() => b.configure(partial as never), { code: 'ERR_BREAKWATER_INVALID_OPTION' })
  let e = refused({ consecutiveFailures: 9, halfOpenProbes: 0 })
  t.true(e instanceof RangeError)
  t.regex(e!.message, /halfOpenProbes must be a whole number from 1 to 100, but was 0/)
  e = refused({ tmeout: 100 })
  t.true(e instanceof TypeError)
  t.regex(e!.message, /tmeout/)
  t.true(refused(null) instanceof TypeError)
  t.true(refused('fast') instanceof TypeError)
  e = refused({ failureRate: '50' })
  t.regex(e!.message, /failureRate/)
  e = refused({ slowCallRate: 50 })
  t.regex(e!.message, /slowCallDuration/, 'a slow-call rate without its duration is a conflict, as at creation')
  e = refused({ minimumCalls: 500 })
  t.regex(e!.message, /minimumCalls must be a whole number from 1 to 100, but was 500/, 'more calls than the window holds')
  e = refused({ windowSize: 10 })
  t.regex(e!.message, /windowSize must be 100, as when the breaker was made \(configure cannot change it: make a new breaker\), but was 10/)
  e = refused({ trackLatency: true })
  t.regex(e!.message, /trackLatency must be false, as when the breaker was made/)
  e = refused({ isFailure: () => true })
  t.true(e instanceof TypeError)
  t.regex(e!.message, /isFailure is a handle's call policy/)
  t.deepEqual(b.options(), before)
})

test('a polluted Object.prototype changes nothing configure reads', (t) => {
  const breakers = new Registry({ clock: new FakeClock() })
  const b = breakers.getOrCreate('clean')
  const proto = Object.prototype as Record<string, unknown>
  proto.consecutiveFailures = 1
  try {
    b.configure({ openFor: '5s' })
  } finally {
    delete proto.consecutiveFailures
  }
  t.like(b.options(), { consecutiveFailures: 5, openFor: 5000 })
})

test("the registry's conflict error points at configure", (t) => {
  const breakers = new Registry({ clock: new FakeClock() })
  breakers.getOrCreate('pinned', { consecutiveFailures: 2 })
  const e = t.throws(() => breakers.getOrCreate('pinned', { consecutiveFailures: 3 }), { code: 'ERR_BREAKWATER_OPTIONS_DIFFER' })
  t.regex(e!.message, /consecutiveFailures is 2, given 3/)
  t.regex(e!.message, /breaker\.configure\(options\)/)
})

test('a latency rule added by configure in the main thread times the calls of a handle made before it in a worker', async (t) => {
  const name = `timed-${process.pid}`
  const main = circuitBreaker(name, { consecutiveFailures: false, failureRate: false, windowSize: 10 })
  const { worker, result } = startWorker<{ state: string; reason: string | undefined }>(`
    const b = bw.circuitBreaker('${name}')
    let reason
    b.onOpen((change) => { reason = change.reason })
    parentPort.postMessage('ready')
    await new Promise((resolve) => parentPort.once('message', resolve))
    // Calls that really take 3 ms (a busy loop, not a timer): over the new 1 ms threshold.
    for (let i = 0; i < 3 && b.state === 'closed'; i++) {
      b.executeSync(() => { const end = performance.now() + 3; while (performance.now() < end); })
    }
    parentPort.postMessage({ state: b.state, reason })
  `)
  t.is(await result, 'ready' as never)
  main.configure({ latency: { threshold: 1 }, minimumCalls: 2 })
  const done = new Promise<{ state: string; reason: string | undefined }>((resolve) => worker.once('message', resolve))
  worker.postMessage('go')
  t.deepEqual(await done, { state: 'open', reason: 'latency_percentile' })
  await worker.terminate()
})

test('4 worker threads calling while the main thread reconfigures 1,000 times: every call counted once, no error, the last rules in force', async (t) => {
  const name = `reconfigured-${process.pid}`
  const main = circuitBreaker(name, { consecutiveFailures: 1_000, failureRate: 90, timeout: '1h' })
  // flags[0]: 1 when the main thread is done; flags[1]: workers that have started calling.
  const flags = new Int32Array(new SharedArrayBuffer(8))
  const workers = [0, 1, 2, 3].map(() =>
    startWorker<{ calls: number; errors: string[]; options: unknown }>(`
      const b = bw.circuitBreaker('${name}')
      const flags = await new Promise((resolve) => parentPort.once('message', resolve))
      let calls = 0
      const errors = []
      while (Atomics.load(flags, 0) === 0 || calls < 2000) {
        try {
          if (calls % 2 === 0) await b.execute(async () => calls)
          else b.executeSync(() => calls)
        } catch (e) { errors.push(String(e)) }
        calls++
        if (calls === 200) Atomics.add(flags, 1, 1)
      }
      parentPort.postMessage({ calls, errors, options: b.options() })
    `),
  )
  for (const { worker } of workers) worker.postMessage(flags)
  await until(() => Atomics.load(flags, 1) === 4)
  let last: Record<string, unknown> = {}
  for (let i = 0; i < 1_000; i++) {
    last = {
      consecutiveFailures: 1_000 + i,
      failureRate: 50 + (i % 40),
      openFor: 1_000 + i,
      halfOpenProbes: 1 + (i % 5),
      timeout: i % 3 === 0 ? '1h' : 60_000 + i,
      ...(i % 2 === 0 ? { latency: { threshold: 60_000 + i } } : {}),
    }
    main.configure(last)
  }
  Atomics.store(flags, 0, 1)
  const results = await Promise.all(workers.map(({ result }) => result))
  const total = results.reduce((sum, r) => sum + r.calls, 0)
  t.deepEqual(
    results.flatMap((r) => r.errors),
    [],
  )
  t.like(main.metrics(), { calls: total, successes: total, failures: 0, rejections: 0, inFlight: 0 })
  t.is(main.state, 'closed')
  const expected = {
    consecutiveFailures: 1_999,
    failureRate: 89,
    openFor: 1_999,
    halfOpenProbes: 5,
    timeout: 3_600_000,
    latency: { percentile: 99, threshold: 60_998 },
  }
  t.like(main.options(), expected)
  for (const r of results) t.like(r.options as object, expected, 'every worker reads the last rules')
  t.true(total >= 4 * 2000)
})

test('a handle whose calls took the lean way (no timeout, no filter) times out its calls once configure gives the breaker a timeout', async (t) => {
  const breakers = new Registry({ clock: new FakeClock() })
  const b = breakers.getOrCreate('lean', { consecutiveFailures: 5, failureRate: false })
  for (let i = 0; i < 3; i++) t.is(await b.execute(async () => i), i)
  breakers.getOrCreate('lean').configure({ timeout: 20 })
  // A call that never settles: only the breaker's new timeout can end it.
  const error = await t.throwsAsync(b.execute(() => new Promise<never>(() => {})))
  t.is(error?.name, 'TimeoutError')
  t.like(b.metrics(), { calls: 4, successes: 3, timeouts: 1 })
})
