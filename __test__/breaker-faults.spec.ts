// Issue 10, items 6, 8, 9 and 15: once a call is stopped the stop decides its outcome; nothing a
// listener does changes a call; listeners see transitions in order; a pending call keeps the
// process alive.
import test from 'ava'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { bulkhead, isTimeoutError, type StateChange, timeout, TimeoutError } from '../src/index.ts'
import { rig } from './helpers.ts'
import { deferred, withFakeTimers } from './timers.ts'

/** What fetch does: rejects with its own AbortError from inside the abort listener, synchronously. */
const rejectsOnAbort = ({ signal }: { signal: AbortSignal }) =>
  new Promise<string>((_, reject) => signal.addEventListener('abort', () => reject(new Error('fn: aborted'))))
/** A function that answers "done" from inside its abort listener. */
const resolvesOnAbort = ({ signal }: { signal: AbortSignal }) => new Promise<string>((resolve) => signal.addEventListener('abort', () => resolve('partial')))

/** Counts process warnings until `stop()`. */
function warnings() {
  const seen: string[] = []
  const on = (w: Error) => seen.push(w.message)
  process.on('warning', on)
  return { seen, stop: () => process.off('warning', on) }
}

test.serial('a timeout decides the outcome even when fn rejects with its own error from inside its abort listener', async (t) => {
  await withFakeTimers(async (timers) => {
    const { breakers, name } = rig()
    const b = breakers.getOrCreate(name, { consecutiveFailures: 5 })
    const call = b.execute(rejectsOnAbort, { timeout: 50 })
    await timers.tickAsync(50)
    const error = await t.throwsAsync(call)
    t.true(isTimeoutError(error), "the caller gets the TimeoutError, not fn's error")
    t.like(b.metrics(), { failures: 1, timeouts: 1, ignored: 0 })
  })
})

test.serial('a timeout decides the outcome even when fn resolves from inside its abort listener', async (t) => {
  await withFakeTimers(async (timers) => {
    const { breakers, name } = rig()
    const b = breakers.getOrCreate(name)
    const call = b.execute(resolvesOnAbort, { timeout: 50 })
    await timers.tickAsync(50)
    await t.throwsAsync(call, { instanceOf: TimeoutError })
    t.like(b.metrics(), { successes: 0, timeouts: 1 })
  })
})

test('a caller abort is ignored, not a failure, even when fn rejects from inside its abort listener', async (t) => {
  const { breakers, name } = rig()
  const b = breakers.getOrCreate(name, { consecutiveFailures: 2 })
  for (let i = 0; i < 3; i++) {
    const caller = new AbortController()
    const call = b.execute(rejectsOnAbort, { signal: caller.signal })
    const reason = new Error(`caller gave up ${i}`)
    caller.abort(reason)
    t.is(await call.catch((e: unknown) => e), reason, 'the caller gets its own reason')
  }
  t.is(b.state, 'closed', 'three aborts do not open a breaker that opens after two failures')
  t.like(b.metrics(), { failures: 0, ignored: 3 })
})

test.serial('one timeout and two caller aborts do not open a consecutiveFailures: 2 breaker', async (t) => {
  await withFakeTimers(async (timers) => {
    const { breakers, name } = rig()
    const b = breakers.getOrCreate(name, { consecutiveFailures: 2 })
    const timedOut = b.execute(rejectsOnAbort, { timeout: 10 })
    await timers.tickAsync(10)
    await t.throwsAsync(timedOut, { instanceOf: TimeoutError })
    for (let i = 0; i < 2; i++) {
      const caller = new AbortController()
      const call = b.execute(rejectsOnAbort, { signal: caller.signal })
      caller.abort()
      await t.throwsAsync(call, { any: true, name: 'AbortError' })
    }
    t.is(b.state, 'closed')
  })
})

for (const strategy of ['cooperative', 'aggressive'] as const) {
  test.serial(`the ${strategy} timeout policy rejects with its TimeoutError even when fn rejects from inside its abort listener`, async (t) => {
    await withFakeTimers(async (timers) => {
      const policy = timeout(20, { strategy })
      const call = policy.execute(rejectsOnAbort)
      await timers.tickAsync(20)
      await t.throwsAsync(call, { instanceOf: TimeoutError })
      const late = policy.execute(resolvesOnAbort)
      await timers.tickAsync(20)
      await t.throwsAsync(late, { instanceOf: TimeoutError })
    })
  })

  test(`the ${strategy} timeout policy rejects with the caller's reason when the caller aborts`, async (t) => {
    const caller = new AbortController()
    const call = timeout('1h', { strategy }).execute(rejectsOnAbort, { signal: caller.signal })
    const reason = new Error('caller gave up')
    caller.abort(reason)
    t.is(await call.catch((e: unknown) => e), reason)
  })
}

test.serial('a listener that throws an unprintable value changes nothing: the call succeeds and no probe leaks', async (t) => {
  const { clock, breakers, name } = rig()
  const b = breakers.getOrCreate(name, { consecutiveFailures: 1, openFor: '1s', halfOpenProbes: 1, halfOpenSuccesses: 1 })
  const unprintable = Object.create(null) as object
  b.onStateChange(() => {
    throw unprintable
  })
  b.onSuccess(() => {
    throw unprintable
  })
  b.onFailure(() => {
    throw unprintable
  })
  b.onReject(() => {
    throw unprintable
  })
  const seen = warnings()
  let promise: Promise<unknown> | undefined
  t.notThrows(() => (promise = b.execute(() => Promise.reject(new Error('down')))), 'execute never throws synchronously')
  await t.throwsAsync(promise!, { message: 'down' })
  t.is(b.state, 'open')
  await t.throwsAsync(
    b.execute(async () => 1),
    { code: 'ERR_BREAKWATER_OPEN' },
  )
  clock.advance('1s')
  t.is(await b.execute(async () => 'probe'), 'probe', 'the probe succeeds although the half-open and close listeners throw')
  t.is(b.state, 'closed', 'the probe was reported: nothing leaked')
  t.is(
    b.executeSync(() => 'sync'),
    'sync',
  )
  await new Promise((resolve) => setImmediate(resolve))
  seen.stop()
  t.true(seen.seen.length >= 5, `each throw is reported as a warning (${seen.seen.length})`)
  t.true(seen.seen.every((m) => m.startsWith('a breakwater listener threw: ')))
})

test.serial('a listener whose promise rejects is reported as a warning, never an unhandled rejection', async (t) => {
  const { breakers, name } = rig()
  const b = breakers.getOrCreate(name, { consecutiveFailures: 1 })
  let unhandled = 0
  const onUnhandled = () => unhandled++
  process.on('unhandledRejection', onUnhandled)
  const seen = warnings()
  b.onOpen(async () => {
    throw new Error('async listener bug')
  })
  await t.throwsAsync(b.execute(() => Promise.reject(new Error('down'))))
  await new Promise((resolve) => setImmediate(resolve))
  await new Promise((resolve) => setImmediate(resolve))
  seen.stop()
  process.off('unhandledRejection', onUnhandled)
  t.is(unhandled, 0)
  t.deepEqual(seen.seen, ['a breakwater listener threw: Error: async listener bug'])
})

test('listeners see transitions in the order they happened when an onOpen listener calls reset()', async (t) => {
  const { breakers, name } = rig()
  const b = breakers.getOrCreate(name, { consecutiveFailures: 1 })
  const first: string[] = []
  const second: string[] = []
  const show = (c: StateChange) => `${c.from}->${c.to}`
  b.onStateChange((c) => {
    first.push(show(c))
    if (c.to === 'open') b.reset()
  })
  b.onStateChange((c) => second.push(show(c)))
  await t.throwsAsync(b.execute(() => Promise.reject(new Error('down'))))
  t.is(b.state, 'closed')
  t.deepEqual(first, ['closed->open', 'open->closed'])
  t.deepEqual(second, ['closed->open', 'open->closed'], 'the second listener sees open before closed')
})

const fixture = fileURLToPath(new URL('./fixtures/pending-call.ts', import.meta.url))
const runPending = (...args: string[]) => spawnSync(process.execPath, ['--import=tsx', fixture, ...args], { encoding: 'utf8', timeout: 60_000 })

for (const kind of ['breaker', 'policy'] as const) {
  test(`a hung call through a ${kind} keeps the process alive until its timeout fires`, (t) => {
    const child = runPending(kind)
    t.is(child.status, 0, child.stderr)
    t.is(child.stdout.trim(), 'TimeoutError', 'the timeout fired and the script ended normally')
  })

  test(`a hung call through a ${kind} with unref: true lets the process exit`, (t) => {
    const child = runPending(kind, 'unref')
    t.is(child.stdout.trim(), '', 'the timeout never fired')
    t.is(child.status, 13, 'Node.js ends a top-level await that can never settle with exit code 13')
  })
}

/** A value that throws on any look: instanceof, property reads, String(). */
const revoked = () => {
  const { proxy, revoke } = Proxy.revocable({}, {})
  revoke()
  return proxy
}

test('whatever fn throws (a revoked Proxy) is counted once, as a failure, and reaches the caller as is', async (t) => {
  const { breakers, name } = rig()
  const b = breakers.getOrCreate(name, { consecutiveFailures: 10 })
  const thrown = [revoked(), revoked(), revoked()]
  const got: unknown[] = [] // (a revoked Proxy cannot be a promise's value: awaiting it looks up `then`)
  await b.execute(async () => Promise.reject(thrown[0])).then(undefined, (e: unknown) => void got.push(e))
  await b.execute(() => Promise.reject(thrown[1]), { timeout: '1h' }).then(undefined, (e: unknown) => void got.push(e))
  t.is(got[0], thrown[0])
  t.is(got[1], thrown[1])
  let caught: unknown
  try {
    b.executeSync(() => {
      throw thrown[2]
    })
  } catch (e) {
    caught = e
  }
  t.is(caught, thrown[2])
  t.like(b.metrics(), { calls: 3, failures: 3, inFlight: 0 })
})

test('a half-open probe that throws a revoked Proxy is reported: the breaker reopens instead of holding the probe', async (t) => {
  const { clock, breakers, name } = rig()
  const b = breakers.getOrCreate(name, { consecutiveFailures: 1, openFor: '1s', halfOpenProbes: 1, maxProbeTime: '1h' })
  await b.execute(() => Promise.reject(new Error('down'))).catch(() => undefined)
  clock.advance('1s')
  await b.execute(() => Promise.reject(revoked())).catch(() => undefined)
  t.is(b.state, 'open', 'the probe failed and was reported, so the breaker reopened')
  t.is(b.metrics().inFlight, 0)
})

/** A signal that passes the shape check but cannot be listened to (a broken polyfill). */
const deafSignal = () =>
  ({
    aborted: false,
    addEventListener() {
      throw new Error('polyfill cannot listen')
    },
    removeEventListener() {},
  }) as unknown as AbortSignal

test("a caller signal that cannot be listened to is the caller's error: fn never runs and the call is ignored, not a failure", async (t) => {
  const { breakers, name } = rig()
  const b = breakers.getOrCreate(name, { consecutiveFailures: 1 })
  let ran = false
  await t.throwsAsync(
    b.execute(
      () => {
        ran = true
      },
      { signal: deafSignal() },
    ),
    { message: 'polyfill cannot listen' },
  )
  t.false(ran)
  t.is(b.state, 'closed')
  t.like(b.metrics(), { failures: 0, ignored: 1, inFlight: 0 })
})

test('a bulkhead call whose signal cannot be listened to leaves the queue: no permit is lost', async (t) => {
  const pool = bulkhead(`deaf-${process.pid}`, { maxConcurrent: 1, maxQueue: 5 })
  const gate = deferred()
  const held = pool.execute(() => gate.promise)
  await t.throwsAsync(
    pool.execute(() => 'never', { signal: deafSignal() }),
    { message: 'polyfill cannot listen' },
  )
  t.like(pool.stats(), { inUse: 1, queued: 0 })
  gate.resolve()
  await held
  t.like(pool.stats(), { inUse: 0, queued: 0 })
  t.is(await pool.execute(() => 'next'), 'next', 'the next caller gets the permit at once')
})

test("a failure listener that resets the breaker comes after the opening in every listener's eyes", async (t) => {
  const { breakers, name } = rig()
  const b = breakers.getOrCreate(name, { consecutiveFailures: 1 })
  const seen: string[] = []
  b.onStateChange((c) => seen.push(`${c.from}->${c.to}`))
  b.onFailure(() => {
    if (b.state === 'open') b.reset()
  })
  await b.execute(() => Promise.reject(new Error('down'))).catch(() => undefined)
  t.deepEqual(seen, ['closed->open', 'open->closed'])
  t.is(b.state, 'closed')
})
