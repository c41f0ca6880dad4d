// The breaker (with a timeout or a caller signal) and the timeout policy share one abort race, and
// the breaker's `fallback` option and the fallback policy one fallback: these pin that both sides
// keep ending a call the same way.
import test from 'ava'
import { type CallContext, fallback, timeout, TimeoutError } from '../src/index.ts'
import { rig } from './helpers.ts'
import { withFakeTimers } from './timers.ts'

/** What both sides of a comparison are called through. */
interface Runs {
  execute(fn: (context: CallContext) => unknown, options?: { signal?: AbortSignal }): Promise<unknown>
}

/** A breaker with a 1 s timeout and a timeout policy of 1 s, both named `bounded`. */
function bothBounded() {
  const { breakers, name } = rig()
  const breaker = breakers.getOrCreate(name, { timeout: 1000 })
  const sides: [string, Runs][] = [
    ['breaker', breaker],
    ['timeout policy', timeout(1000, { strategy: 'aggressive', name })],
  ]
  return { breaker, name, sides }
}

test.serial('a call that settles inside its abort listener ends with the timeout, in the breaker as in the timeout policy', async (t) => {
  await withFakeTimers(async (timers) => {
    const { name, sides } = bothBounded()
    for (const [side, policy] of sides) {
      const call = policy.execute(({ signal }) => new Promise((resolve) => signal.addEventListener('abort', () => resolve('late value'))))
      const caught = t.throwsAsync(call, { instanceOf: TimeoutError }, side)
      await timers.tickAsync(1000)
      const error = await caught
      t.like(error, { source: name, timeoutMs: 1000 }, side)
      t.is(timers.countTimers(), 0, `${side} leaves no timer`)
    }
  })
})

test.serial('a caller signal aborted before the call: fn never runs and no timer starts, in the breaker as in the timeout policy', async (t) => {
  await withFakeTimers(async (timers) => {
    const { breaker, sides } = bothBounded()
    const controller = new AbortController()
    const reason = new Error('caller gave up')
    controller.abort(reason)
    for (const [side, policy] of sides) {
      let ran = false
      const error = await t.throwsAsync(policy.execute(() => (ran = true), { signal: controller.signal }))
      t.is(error, reason, side)
      t.false(ran, side)
      t.is(timers.countTimers(), 0, side)
    }
    t.is(breaker.metrics().ignored, 1, 'the breaker counts the call as ignored')
  })
})

test.serial("a caller signal that cannot let go of its listener changes nothing of the call's end, in the breaker as in the timeout policy", async (t) => {
  await withFakeTimers(async () => {
    const { sides } = bothBounded()
    const real = new AbortController().signal
    const sticky = {
      get aborted() {
        return real.aborted
      },
      addEventListener: real.addEventListener.bind(real),
      removeEventListener() {
        throw new Error('polyfill cannot let go')
      },
    } as unknown as AbortSignal
    for (const [side, policy] of sides) {
      t.is(await policy.execute(async () => 'value', { signal: sticky }), 'value', side)
    }
  })
})

test("the caller's own abort is never replaced, by a breaker's fallback option as by the fallback policy", async (t) => {
  const { breakers, name } = rig()
  const breaker = breakers.getOrCreate(name, { fallback: () => 'fallback value' })
  const policy = fallback('fallback value')
  const sides: [string, Runs][] = [
    ['breaker', breaker],
    ['fallback policy', policy],
  ]
  for (const [side, p] of sides) {
    const controller = new AbortController()
    const reason = new Error('caller gave up')
    const call = p.execute(({ signal }) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))), {
      signal: controller.signal,
    })
    controller.abort(reason)
    t.is(await t.throwsAsync(call), reason, side)
    t.is(await p.execute(() => Promise.reject(new Error('down'))), 'fallback value', `${side} replaces a failure`)
  }
})

test("a breaker's fallback is called as a plain function, with the error as its only argument, on every path", async (t) => {
  const { breakers, name } = rig()
  const calls: unknown[][] = []
  function remember(this: unknown, ...args: unknown[]) {
    calls.push([this, ...args])
    return 'fallback value'
  }
  const breaker = breakers.getOrCreate<string>(name, { consecutiveFailures: 1, fallback: remember })
  const down = new Error('down')
  t.is(await breaker.execute<string>(() => Promise.reject(down)), 'fallback value')
  t.is(await breaker.execute<string>(() => 'unreached'), 'fallback value', 'refused, now open')
  t.is(
    breaker.executeSync<string>(() => 'unreached'),
    'fallback value',
    'refused, synchronously',
  )
  t.deepEqual(
    calls.map(([self, error]) => [self, (error as Error).name]),
    [
      [undefined, 'Error'],
      [undefined, 'BrokenCircuitError'],
      [undefined, 'BrokenCircuitError'],
    ],
  )
  t.true(calls.every((c) => c.length === 2))
})
