import test from 'ava'
import {
  type CallContext,
  circuitBreaker,
  fallback,
  isBrokenCircuitError,
  isTimeoutError,
  type Policy,
  type PolicyCallOptions,
  retry,
  timeout,
  wrap,
} from '../src/index.ts'
import { rig } from './helpers.ts'
import { deferred, withFakeTimers } from './timers.ts'

/** A policy that logs when calls enter and leave it, and adds its name to the context. */
function tracer(label: string, log: string[]): Policy<{ trail: string[] }> {
  return {
    async execute<R>(fn: (context: { trail: string[] } & CallContext) => R | PromiseLike<R>, options?: PolicyCallOptions) {
      log.push(`enter ${label}`)
      try {
        return await fn({ trail: [...log], signal: options?.signal ?? new AbortController().signal })
      } finally {
        log.push(`leave ${label}`)
      }
    },
  }
}

test('a fallback replaces handled failures with its value or function, and lets others through', async (t) => {
  t.is(await fallback('cached').execute(() => Promise.reject(new Error('down'))), 'cached')
  t.is(await fallback((e) => `after ${(e as Error).message}`).execute(() => Promise.reject(new Error('down'))), 'after down')
  t.is(await fallback('unused').execute(() => 'fresh'), 'fresh')
  const picky = fallback('cached', { handles: (e) => (e as Error).message === 'down' })
  await t.throwsAsync(
    picky.execute(() => Promise.reject(new Error('bad request'))),
    { message: 'bad request' },
  )
  const broken = fallback('cached', {
    handles: () => {
      throw new Error('filter bug')
    },
  })
  await t.throwsAsync(
    broken.execute(() => Promise.reject(new Error('down'))),
    { message: 'down' },
    'a throwing filter handles nothing',
  )
  const controller = new AbortController()
  const call = fallback('cached').execute(({ signal }) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))), {
    signal: controller.signal,
  })
  controller.abort(new Error('caller left'))
  await t.throwsAsync(call, { message: 'caller left' }, "the caller's own abort is not replaced")
})

test('wrap runs policies outermost first, as nested calls would, and merges their contexts', async (t) => {
  const log: string[] = []
  const policy = wrap(tracer('outer', log), tracer('middle', log), tracer('inner', log))
  const result = await policy.execute((context) => {
    log.push('fn')
    return context.trail.length
  })
  t.deepEqual(log, ['enter outer', 'enter middle', 'enter inner', 'fn', 'leave inner', 'leave middle', 'leave outer'])
  t.is(result, 3, 'fn sees the innermost context')
})

test.serial('wrap(retry, breaker, timeout): every attempt goes through the breaker and is bounded by the timeout', async (t) => {
  await withFakeTimers(async (timers) => {
    const { breakers, name } = rig()
    const breaker = breakers.getOrCreate(name, { consecutiveFailures: 5 })
    const policy = wrap(retry({ maxAttempts: 3, backoff: { strategy: 'constant', base: 10 } }), breaker, timeout(100, { name }))
    const seen: Array<{ attempt: number; aborted: boolean }> = []
    const call = policy.execute(({ attempt, signal }) => {
      seen.push({ attempt, aborted: signal.aborted })
      if (attempt === 1) return new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))) // hangs until the timeout aborts it
      if (attempt === 2) throw new Error('down')
      return 'filled'
    })
    await timers.tickAsync(100 + 10 + 10)
    t.is(await call, 'filled')
    t.deepEqual(
      seen.map((s) => s.attempt),
      [1, 2, 3],
    )
    t.like(breaker.metrics(), { calls: 3, successes: 1, failures: 2, timeouts: 1 })
  })
})

test('wrap(retry, breaker): a refusal of the breaker is not retried, and one signal reaches fn', async (t) => {
  const { breakers, name } = rig()
  const breaker = breakers.getOrCreate(name, { consecutiveFailures: 1, openFor: '1h' })
  const policy = wrap(retry({ maxAttempts: 5, backoff: { base: 0 } }), breaker)
  let calls = 0
  const error = await t.throwsAsync(
    policy.execute(() => {
      calls++
      throw new Error('down')
    }),
  )
  t.true(isBrokenCircuitError(error), 'the second attempt was refused and not retried')
  t.is(calls, 1)
  t.like(breaker.metrics(), { failures: 1, rejections: 1 })

  const open = wrap(fallback('from cache'), breaker)
  t.is(await open.execute(() => 'never'), 'from cache')

  const controller = new AbortController()
  const reached = deferred<AbortSignal>()
  const quiet = breakers.getOrCreate(`${name}-quiet`)
  const chain = wrap(retry({ maxAttempts: 2 }), quiet, timeout('1h'))
  const call = chain.execute(
    ({ signal }) => {
      reached.resolve(signal)
      return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)))
    },
    { signal: controller.signal },
  )
  const inner = await reached.promise
  controller.abort(new Error('caller left'))
  await t.throwsAsync(call, { message: 'caller left' })
  t.true(inner.aborted)
  t.like(quiet.metrics(), { ignored: 1, failures: 0 }, "the caller's abort is not the dependency's failure")
})

test.serial('a timeout policy inside a breaker counts as a timeout of the breaker', async (t) => {
  await withFakeTimers(async (timers) => {
    const { breakers, name } = rig()
    const breaker = breakers.getOrCreate(name, { consecutiveFailures: 1 })
    const call = wrap(breaker, timeout(50, { name: 'inner-timeout', strategy: 'aggressive' })).execute(() => new Promise<never>(() => {}))
    const caught = t.throwsAsync(call)
    await timers.tickAsync(50)
    t.true(isTimeoutError(await caught))
    t.like(breaker.metrics(), { timeouts: 1, failures: 1, state: 'open' })
  })
})

test('wrap refuses what is not a policy', (t) => {
  t.throws(() => wrap(), { instanceOf: TypeError, message: 'wrap needs at least one policy' })
  t.throws(() => wrap(circuitBreaker(`wrap-${process.pid}`), {} as Policy), { instanceOf: TypeError, message: /argument 2 must be a policy/ })
})
