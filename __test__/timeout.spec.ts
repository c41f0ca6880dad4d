import test from 'ava'
import { circuitBreaker, isTimeoutError, retry, timeout, TimeoutError, wrap } from '../src/index.ts'
import { deferred, withFakeTimers } from './timers.ts'

test.serial('cooperative: aborts the signal at the timeout, waits for fn to settle, then rejects', async (t) => {
  await withFakeTimers(async (timers) => {
    const policy = timeout('1s', { name: 'quotes' })
    const work = deferred<string>()
    let signal: AbortSignal | undefined
    let settled = false
    const call = policy.execute((context) => {
      signal = context.signal
      return work.promise // ignores the abort on purpose
    })
    call.catch(() => {}).finally(() => (settled = true))
    await timers.tickAsync(999)
    t.false(signal!.aborted)
    await timers.tickAsync(1)
    t.true(signal!.aborted)
    t.true(isTimeoutError(signal!.reason))
    t.false(settled, 'still waiting for fn')
    work.resolve('late')
    const error = await t.throwsAsync(call, { instanceOf: TimeoutError })
    t.like(error, { source: 'quotes', timeoutMs: 1000, code: 'ERR_BREAKWATER_TIMEOUT' })
  })
})

test.serial('cooperative: fn that stops on the abort rejects with the TimeoutError', async (t) => {
  await withFakeTimers(async (timers) => {
    const policy = timeout(50)
    const call = policy.execute(({ signal }) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(new Error('aborted fetch')))))
    const caught = t.throwsAsync(call, { instanceOf: TimeoutError })
    await timers.tickAsync(50)
    await caught
  })
})

test.serial('aggressive: rejects at the timeout while fn still runs', async (t) => {
  await withFakeTimers(async (timers) => {
    const policy = timeout(100, { strategy: 'aggressive' })
    const work = deferred<string>()
    const call = policy.execute(() => work.promise)
    const caught = t.throwsAsync(call, { instanceOf: TimeoutError })
    await timers.tickAsync(100)
    await caught
    work.reject(new Error('late failure')) // handled: no unhandled rejection
    t.is(timers.countTimers(), 0)
  })
})

test('a result in time passes through, and the caller abort reaches fn', async (t) => {
  const policy = timeout('10s')
  t.is(await policy.execute(() => 42), 42)
  await t.throwsAsync(
    policy.execute(() => {
      throw new Error('sync throw')
    }),
    { message: 'sync throw' },
  )
  const controller = new AbortController()
  const call = policy.execute(({ signal }) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))), {
    signal: controller.signal,
  })
  controller.abort(new Error('caller left'))
  await t.throwsAsync(call, { message: 'caller left' })
  let ran = false
  await t.throwsAsync(
    policy.execute(() => (ran = true), { signal: controller.signal }),
    { message: 'caller left' },
  )
  t.false(ran, 'an already aborted call does not start')
})

test.serial('thousands of calls leave no timer, no listener and no warning behind', async (t) => {
  const warnings: Error[] = []
  const onWarning = (w: Error) => warnings.push(w)
  process.on('warning', onWarning)
  const controller = new AbortController()
  const before = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length
  for (const strategy of ['cooperative', 'aggressive'] as const) {
    const policy = timeout('30s', { strategy })
    for (let i = 0; i < 5000; i++) await policy.execute(async () => i, { signal: controller.signal })
  }
  await new Promise((resolve) => setImmediate(resolve))
  process.off('warning', onWarning)
  t.deepEqual(
    warnings.map((w) => w.name),
    [],
    'no MaxListenersExceededWarning',
  )
  // At most as many as before: a timer that ava itself had running then may have ended since.
  const after = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length
  t.true(after <= before, `no timer left active (${after} now, ${before} before)`)
})

test('bad timeout options name the option and the value', (t) => {
  t.throws(() => timeout(-1), { instanceOf: RangeError, message: 'timeout must be a finite number of milliseconds of at least 0, but was -1' })
  t.throws(() => timeout(Number.NaN), { message: /^timeout must be .* but was NaN$/ })
  t.throws(() => timeout(10, { strategy: 'brutal' as 'aggressive' }), { message: 'strategy must be cooperative or aggressive, but was "brutal"' })
})

test('a timeout longer than a Node.js timer can wait is refused, not fired at once', async (t) => {
  const longest = 'must be at most 2147483647 ms (about 24.8 days, the longest timer Node.js keeps), but was'
  t.throws(() => timeout('600h'), { instanceOf: RangeError, message: `timeout ${longest} 2160000000` })
  t.throws(() => circuitBreaker(`too-long-${process.pid}`, { timeout: '600h' }), { instanceOf: RangeError, message: `timeout ${longest} 2160000000` })
  const b = circuitBreaker(`long-call-${process.pid}`)
  await t.throwsAsync(
    b.execute(async () => 1, { timeout: 1e12 }),
    { instanceOf: RangeError, message: `timeout ${longest} 1000000000000` },
  )
  t.throws(() => retry({ backoff: { max: '30d' as '1h' } }), { instanceOf: RangeError, message: /^backoff.max must be a duration/ })
  t.throws(() => retry({ backoff: { max: 3e9 } }), { instanceOf: RangeError, message: `backoff.max ${longest} 3000000000` })
  t.is(b.metrics().calls, 0, 'nothing was counted')
})

test.serial('the call signal is made only when fn reads it, and is already aborted if read after the timeout', async (t) => {
  const Original = globalThis.AbortController
  let made = 0
  globalThis.AbortController = class extends Original {
    constructor() {
      super()
      made++
    }
  }
  try {
    const policy = timeout('1h')
    const breaker = circuitBreaker(`lazy-signal-${process.pid}`)
    const timed = circuitBreaker(`lazy-signal-timed-${process.pid}`, { timeout: '1h' })
    for (let i = 0; i < 100; i++) {
      await wrap(breaker, policy).execute(() => i)
      await timed.execute(() => i) // the breaker's own timeout
    }
    t.is(made, 0, 'an AbortController costs microseconds: none is made for functions that ignore the signal')
    t.false(await policy.execute(({ signal }) => signal.aborted))
    t.is(made, 1)
  } finally {
    globalThis.AbortController = Original
  }
  await withFakeTimers(async (timers) => {
    const gate = deferred()
    let seen: AbortSignal | undefined
    const call = timeout(10).execute(async (context) => {
      await gate.promise
      seen = context.signal
    })
    const caught = t.throwsAsync(call, { instanceOf: TimeoutError })
    await timers.tickAsync(10)
    gate.resolve()
    await caught
    t.true(seen?.aborted)
    t.true(isTimeoutError(seen?.reason))
  })
})
