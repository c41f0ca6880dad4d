import test from 'ava'
import { BrokenCircuitError, isBrokenCircuitError, isTimeoutError, type StateChange } from '../src/index.ts'
import { failTimes, rig } from './helpers.ts'
import { deferred } from './timers.ts'

test('opens after five consecutive failures, then rejects with a branded error', async (t) => {
  const { breakers, name } = rig()
  const b = breakers.getOrCreate(name, { openFor: '30s' })
  await failTimes(b, 4)
  t.is(b.state, 'closed')
  await failTimes(b, 1)
  t.is(b.state, 'open')
  const error = await t.throwsAsync(
    b.execute(async () => 1),
    { instanceOf: BrokenCircuitError },
  )
  t.true(isBrokenCircuitError(error))
  t.like(error, { code: 'ERR_BREAKWATER_OPEN', breaker: name, state: 'open', retryAfterMs: 30_000 })
  t.is(error.stack?.split('\n').length, 1, 'a rejection captures no stack frames')
})

test('probes after the open duration and closes after two successful probes', async (t) => {
  const { clock, breakers, name } = rig()
  const b = breakers.getOrCreate(name, { consecutiveFailures: 2, openFor: '100ms' })
  const changes: StateChange[] = []
  b.onStateChange((c) => changes.push(c))
  await failTimes(b, 2)
  clock.advance('150ms')
  t.is(await b.execute(async () => 'probe 1'), 'probe 1')
  t.is(b.state, 'half_open')
  await b.execute(async () => 'probe 2')
  t.is(b.state, 'closed')
  const before = Date.now()
  for (const c of changes) t.true(c.at >= before - 60_000 && c.at <= Date.now() && Number.isInteger(c.at), `at is wall-clock ms: ${c.at}`)
  t.deepEqual(
    changes.map(({ at: _, ...c }) => c),
    [
      { name, from: 'closed', to: 'open', reason: 'consecutive_failures', retryAfterMs: 100 },
      { name, from: 'open', to: 'half_open', reason: 'open_elapsed' },
      { name, from: 'half_open', to: 'closed', reason: 'probes_succeeded' },
    ],
  )
})

test('an error the filter clears is not a failure', async (t) => {
  const { breakers, name } = rig()
  const b = breakers.getOrCreate(name, {
    consecutiveFailures: 1,
    isFailure: (e) => !(e instanceof RangeError),
  })
  await t.throwsAsync(
    b.execute(async () => Promise.reject(new RangeError('bad input'))),
    { instanceOf: RangeError },
  )
  t.is(b.state, 'closed')
  t.is(b.metrics().successes, 1)
  await failTimes(b, 1)
  t.is(b.state, 'open')
})

test('a result the result filter rejects counts as a failure but is still returned', async (t) => {
  const { breakers, name } = rig()
  const b = breakers.getOrCreate<{ status: number }>(name, {
    consecutiveFailures: 1,
    isResultFailure: (r) => r.status >= 500,
  })
  t.deepEqual(await b.execute(async () => ({ status: 503 })), { status: 503 })
  t.is(b.state, 'open')
})

test('the fallback answers for failures and rejections', async (t) => {
  const { breakers, name } = rig()
  const b = breakers.getOrCreate<string>(name, {
    consecutiveFailures: 1,
    fallback: (e) => (isBrokenCircuitError(e) ? 'cached (open)' : 'cached (failed)'),
  })
  t.is(await b.execute(async (): Promise<string> => Promise.reject(new Error('down'))), 'cached (failed)')
  t.is(await b.execute(async () => 'live'), 'cached (open)')
  const m = b.metrics()
  t.like(m, { failures: 1, rejections: 1, calls: 2 })
})

test('execute refuses bad arguments (function, signal, timeout) with Type and Range errors and counts nothing', async (t) => {
  const { breakers, name } = rig()
  const b = breakers.getOrCreate(name)
  for (const bad of [undefined, null, 42, 'fn', {}]) {
    await t.throwsAsync(b.execute(bad as never), { instanceOf: TypeError, message: /execute needs a function/ })
  }
  for (const bad of [{}, 'signal', 42]) {
    await t.throwsAsync(
      b.execute(async () => 1, { signal: bad as never }),
      { instanceOf: TypeError, message: /^signal must be an AbortSignal/ },
    )
  }
  await t.throwsAsync(
    b.execute(async () => 1, { timeout: '2 fortnights' as never }),
    { instanceOf: RangeError },
  )
  t.is(b.metrics().calls, 0, 'refused arguments count no call')
})

test('a caller abort rejects with its reason, reaches fn, and counts as ignored', async (t) => {
  const { breakers, name } = rig()
  const b = breakers.getOrCreate(name, { consecutiveFailures: 1 })
  const caller = new AbortController()
  let seen: AbortSignal | undefined
  const call = b.execute(
    ({ signal }) => {
      seen = signal
      return new Promise<never>(() => {})
    },
    { signal: caller.signal },
  )
  caller.abort(new Error('user navigated away'))
  await t.throwsAsync(call, { message: 'user navigated away' })
  t.true(seen?.aborted)
  t.like(b.metrics(), { ignored: 1, failures: 0, inFlight: 0, state: 'closed' })
  const aborted = AbortSignal.abort(new Error('already gone'))
  await t.throwsAsync(
    b.execute(async () => 1, { signal: aborted }),
    { message: 'already gone' },
  )
  t.is(b.metrics().ignored, 2)
})

test('success, failure and rejection events fire, and disposers stop them', async (t) => {
  const { breakers, name } = rig()
  const b = breakers.getOrCreate(name, { consecutiveFailures: 1 })
  const seen: string[] = []
  const offSuccess = b.onSuccess(() => seen.push('success'))
  b.onFailure((e) => seen.push(`failure ${(e.error as Error).message}`))
  b.onOpen((c) => seen.push(`open ${c.reason}`))
  b.onReject((e) => seen.push(`reject ${e.state}`))
  await b.execute(async () => 1)
  offSuccess()
  b.reset()
  await b.execute(async () => 1)
  await failTimes(b, 1)
  await b.execute(async () => 1).catch(() => undefined)
  // The transition a call caused is announced before the call's own event (so a failure listener
  // that resets the breaker comes after the opening in every listener's eyes).
  t.deepEqual(seen, ['success', 'open consecutive_failures', 'failure dependency down', 'reject open'])
})

test('a listener that throws breaks neither the call nor the other listeners', async (t) => {
  const { breakers, name } = rig()
  const b = breakers.getOrCreate(name, { consecutiveFailures: 1 })
  const warnings: string[] = []
  const onWarning = (w: Error) => warnings.push(w.message)
  process.on('warning', onWarning)
  let after = 0
  b.onStateChange(() => {
    throw new Error('listener bug')
  })
  b.onStateChange(() => after++)
  await failTimes(b, 1)
  await new Promise((resolve) => setImmediate(resolve))
  process.off('warning', onWarning)
  t.is(b.state, 'open')
  t.is(after, 1)
  t.true(warnings.some((w) => w.includes('listener bug')))
})

test('forceOpen, disable, reset and isolate drive the state by hand', async (t) => {
  const { clock, breakers, name } = rig()
  const b = breakers.getOrCreate(name)
  b.forceOpen('2s')
  const rejected = await t.throwsAsync(b.execute(async () => 1))
  t.like(rejected, { state: 'forced_open', retryAfterMs: 2000 })
  clock.advance('2s')
  await b.execute(async () => 1)
  t.is(b.state, 'half_open')
  b.disable()
  await failTimes(b, 20)
  t.is(b.state, 'disabled')
  const handle = b.isolate()
  t.like(await t.throwsAsync(b.execute(async () => 1)), { state: 'forced_open', retryAfterMs: undefined })
  handle.dispose()
  t.is(b.state, 'closed')
})

test('metrics carry every count, the window and latency percentiles', async (t) => {
  const { breakers, name } = rig()
  const b = breakers.getOrCreate(name, { consecutiveFailures: 3, trackLatency: true })
  for (let i = 0; i < 4; i++) await b.execute(async () => i)
  await failTimes(b, 3)
  await b.execute(async () => 1).catch(() => undefined)
  const m = b.metrics()
  t.like(m, { state: 'open', calls: 8, successes: 4, failures: 3, rejections: 1, inFlight: 0, timesOpened: 1 })
  t.is(m.calls, m.successes + m.failures + m.ignored + m.rejections + m.inFlight)
  t.like(m.window, { calls: 7, failures: 3 })
  t.is(m.latency?.count, 7)
  t.true(m.latency!.p99 >= m.latency!.p50)
})

test('a timeout aborts the call, rejects with TimeoutError and counts as failure and timeout', async (t) => {
  const FakeTimers = await import('@sinonjs/fake-timers')
  const timers = FakeTimers.withGlobal(globalThis).install({ toFake: ['setTimeout', 'clearTimeout', 'performance'] })
  try {
    const { breakers, name } = rig()
    const b = breakers.getOrCreate(name, { consecutiveFailures: 1, timeout: '2s' })
    let signal: AbortSignal | undefined
    const call = b.execute(({ signal: s }) => {
      signal = s
      return new Promise<never>(() => {})
    })
    await timers.tickAsync(1999)
    t.false(signal?.aborted)
    await timers.tickAsync(1)
    const error = await t.throwsAsync(call)
    t.true(isTimeoutError(error))
    t.true(signal?.aborted)
    t.like(b.metrics(), { failures: 1, timeouts: 1, state: 'open' })
    const quick = b.execute(async () => 1, { timeout: 5 })
    await t.throwsAsync(quick, { instanceOf: BrokenCircuitError })
    t.is(timers.countTimers(), 0, 'no timer is left behind')
  } finally {
    timers.uninstall()
  }
})

test('executeSync runs a synchronous call, counts it, and throws BrokenCircuitError when open', (t) => {
  const { clock, breakers, name } = rig()
  const b = breakers.getOrCreate(name, { consecutiveFailures: 2, openFor: '1s', halfOpenSuccesses: 1 })
  t.is(
    b.executeSync(() => 41 + 1),
    42,
  )
  for (let i = 0; i < 2; i++) {
    t.throws(
      () =>
        b.executeSync(() => {
          throw new Error('sync failure')
        }),
      { message: 'sync failure' },
    )
  }
  t.false(b.isCallPermitted())
  const refused = t.throws(() => b.executeSync(() => 1))
  t.true(isBrokenCircuitError(refused))
  t.like(b.metrics(), { successes: 1, failures: 2, rejections: 1, inFlight: 0, state: 'open' })
  clock.advance('1s')
  t.true(b.isCallPermitted(), 'a probe would be let through')
  t.is(b.metrics().calls, 4, 'asking did not count a call')
  t.is(
    b.executeSync(() => 'probe'),
    'probe',
  )
  t.is(b.state, 'closed')
  t.throws(() => b.executeSync(42 as never), { instanceOf: TypeError })
})

test('executeSync answers from the fallback for failures and refusals', (t) => {
  const { breakers, name } = rig()
  const b = breakers.getOrCreate<string>(name, { consecutiveFailures: 1, fallback: () => 'cached' })
  const down = (): string => {
    throw new Error('down')
  }
  t.is(b.executeSync(down), 'cached')
  t.is(
    b.executeSync(() => 'live'),
    'cached',
  )
  t.like(b.metrics(), { failures: 1, rejections: 1 })
})

test('a filter that throws cannot lose the call: it counts as a failure', async (t) => {
  const { breakers, name } = rig()
  const b = breakers.getOrCreate(name, {
    consecutiveFailures: 3,
    isResultFailure: () => {
      throw new Error('result filter bug')
    },
    isFailure: () => {
      throw new Error('error filter bug')
    },
  })
  await t.throwsAsync(
    b.execute(async () => 1),
    { message: 'result filter bug' },
  )
  await t.throwsAsync(
    b.execute(async () => Promise.reject(new Error('call failed'))),
    { message: 'call failed' },
  )
  t.throws(() => b.executeSync(() => 1), { message: 'result filter bug' })
  t.like(b.metrics(), { calls: 3, failures: 3, successes: 0, inFlight: 0, state: 'open' })
})

test('a refusal in half-open says retry within a second, not at the 60 s probe expiry', async (t) => {
  const { clock, breakers, name } = rig()
  const b = breakers.getOrCreate(name, { consecutiveFailures: 1, openFor: '1s', halfOpenProbes: 1 })
  await b.execute(async () => Promise.reject(new Error('down'))).catch(() => undefined)
  clock.advance('1s')
  const probe = deferred<string>()
  const probing = b.execute(() => probe.promise)
  t.is(b.state, 'half_open')
  const refused = await t.throwsAsync(b.execute(async () => 'second'))
  t.true(isBrokenCircuitError(refused))
  t.like(refused, { state: 'half_open', retryAfterMs: 1000 })
  probe.resolve('ok')
  t.is(await probing, 'ok')
  t.is(await b.execute(async () => 'next'), 'next', 'the slot freed well before 60 s')
})
