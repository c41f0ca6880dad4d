import test from 'ava'
import { backoff, CommitUnknownError, isBrokenCircuitError, isCommitUnknownError, retry, RetryBudget, type GiveUpEvent, type RetryEvent } from '../src/index.ts'
import { rig } from './helpers.ts'
import { withFakeTimers } from './timers.ts'

const first = (strategy: Parameters<typeof backoff>[0], n: number) => {
  const delay = backoff(strategy)
  const out: number[] = []
  let previous = 0
  for (let i = 1; i <= n; i++) out.push((previous = delay(i, previous)))
  return out
}

test('each backoff strategy gives its exact sequence without jitter, capped at max', (t) => {
  t.deepEqual(first({ strategy: 'constant', base: 100 }, 4), [100, 100, 100, 100])
  t.deepEqual(first({ strategy: 'linear', base: 100, max: 350 }, 5), [100, 200, 300, 350, 350])
  t.deepEqual(first({ strategy: 'fibonacci', base: 10, max: 1000 }, 8), [10, 10, 20, 30, 50, 80, 130, 210])
  t.deepEqual(first({ strategy: 'exponential', base: '1s', max: '60s' }, 8), [1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000])
  t.deepEqual(first({ strategy: 'exponential', base: 100, multiplier: 3, max: '1h' }, 4), [100, 300, 900, 2700])
  t.is(first({ strategy: 'exponential', base: '1s', max: '60s' }, 10)[9], 60_000, 'the papers: 60 s at attempt 10')
})

test('decorrelated jitter draws between base and three times the previous delay, capped', (t) => {
  t.deepEqual(first({ strategy: 'decorrelated', base: 100, max: 10_000, random: () => 0 }, 3), [100, 100, 100])
  t.deepEqual(first({ strategy: 'decorrelated', base: 100, max: 1_000, random: () => 0.999999 }, 4).map(Math.round), [300, 900, 1000, 1000])
  let previous = 0
  const delay = backoff({ strategy: 'decorrelated', base: 50, max: 5000 })
  for (let i = 1; i <= 2000; i++) {
    const d = delay(i, previous)
    t.true(d >= 50 && d <= Math.min(5000, Math.max(50, (previous || 50) * 3)), `draw ${i}: ${d} after ${previous}`)
    previous = d
  }
})

test('jitter keeps every delay within its bounds and below the cap, and really spreads', (t) => {
  for (const strategy of ['constant', 'linear', 'fibonacci', 'exponential'] as const) {
    const plain = backoff({ strategy, base: 100, max: 2000 })
    const jittered = backoff({ strategy, base: 100, max: 2000, jitter: 0.25 })
    for (let n = 1; n <= 8; n++) {
      const d = plain(n, 0)
      const seen = new Set<number>()
      for (let i = 0; i < 200; i++) {
        const j = jittered(n, 0)
        t.true(j >= d * 0.75 && j <= Math.min(2000, d * 1.25), `${strategy} n=${n}: ${j} vs ${d}`)
        seen.add(j)
      }
      t.true(seen.size > 1 || d === 2000, `${strategy} n=${n} varies`)
    }
  }
})

test.serial('retries until success, with the attempt in the context and an event per retry', async (t) => {
  await withFakeTimers(async (timers) => {
    const policy = retry({ maxAttempts: 4, backoff: { strategy: 'exponential', base: 100 } })
    const events: RetryEvent[] = []
    policy.onRetry((e) => events.push(e))
    const attempts: number[] = []
    const call = policy.execute(({ attempt }) => {
      attempts.push(attempt)
      if (attempt < 3) throw new Error(`fail ${attempt}`)
      return 'done'
    })
    await timers.tickAsync(99)
    t.deepEqual(attempts, [1], 'the first retry waits its 100 ms')
    await timers.tickAsync(1 + 200)
    t.is(await call, 'done')
    t.deepEqual(attempts, [1, 2, 3])
    t.deepEqual(
      events.map((e) => [e.attempt, e.delayMs, (e.error as Error).message]),
      [
        [2, 100, 'fail 1'],
        [3, 200, 'fail 2'],
      ],
    )
    t.deepEqual(policy.stats(), { calls: 1, retries: 2, givenUp: 0, budgetExhausted: 0 })
    t.is(timers.countTimers(), 0)
  })
})

test.serial('gives up after maxAttempts with the last error', async (t) => {
  await withFakeTimers(async (timers) => {
    const policy = retry({ maxAttempts: 3, backoff: { strategy: 'constant', base: 10 } })
    const giveUps: GiveUpEvent[] = []
    policy.onGiveUp((e) => giveUps.push(e))
    let calls = 0
    const call = policy.execute(() => Promise.reject(new Error(`fail ${++calls}`)))
    const caught = t.throwsAsync(call, { message: 'fail 3' })
    await timers.runAllAsync()
    await caught
    t.is(calls, 3)
    t.like(giveUps[0], { attempts: 3, reason: 'max_attempts' })
  })
})

test('retries only what the filter accepts, and never a BrokenCircuitError by default', async (t) => {
  const policy = retry({ maxAttempts: 5, backoff: { base: 0 }, retryOn: (e) => (e as Error).message === 'transient' })
  let calls = 0
  await t.throwsAsync(
    policy.execute(() => {
      calls++
      throw new Error('permanent')
    }),
    { message: 'permanent' },
  )
  t.is(calls, 1)

  const { breakers, name } = rig()
  const b = breakers.getOrCreate(name, { openFor: '5s' })
  b.forceOpen('5s')
  const plain = retry({ maxAttempts: 5, backoff: { base: 0 } })
  const error = await t.throwsAsync(plain.execute(() => b.execute(async () => 1)))
  t.true(isBrokenCircuitError(error))
  t.is(b.metrics().rejections, 1, 'one attempt, not five')
})

test.serial('when asked, retries a BrokenCircuitError after its retryAfterMs', async (t) => {
  await withFakeTimers(async (timers) => {
    const { clock, breakers, name } = rig()
    const b = breakers.getOrCreate(name, { halfOpenSuccesses: 1 })
    b.forceOpen('5s')
    const policy = retry({ maxAttempts: 2, backoff: { strategy: 'constant', base: 10 }, retryBrokenCircuit: true })
    const delays: number[] = []
    policy.onRetry((e) => delays.push(e.delayMs))
    const call = policy.execute(() => b.execute(async () => 'through'))
    await timers.tickAsync(0)
    t.deepEqual(delays, [5000], 'waits the breaker out, not the 10 ms backoff')
    clock.advance('5s')
    await timers.tickAsync(5000)
    t.is(await call, 'through')
    t.is(b.state, 'closed')
  })
})

test.serial('no retry starts past the deadline', async (t) => {
  await withFakeTimers(async (timers) => {
    const policy = retry({ maxAttempts: 10, deadline: 250, backoff: { strategy: 'exponential', base: 100 } })
    const giveUps: GiveUpEvent[] = []
    policy.onGiveUp((e) => giveUps.push(e))
    let calls = 0
    const caught = t.throwsAsync(
      policy.execute(() => Promise.reject(new Error(`fail ${++calls}`))),
      { message: 'fail 2' },
    )
    await timers.runAllAsync()
    await caught
    t.is(calls, 2, '0 ms, then 100 ms; a third attempt would start at 300 ms')
    t.like(giveUps[0], { attempts: 2, reason: 'deadline' })
  })
})

test.serial('a budget lets retries add at most its ratio of the calls, and refills as the window slides', async (t) => {
  await withFakeTimers(async (timers) => {
    const budget = new RetryBudget({ ratio: 0.1, minPerSecond: 0, window: '10s' })
    const policy = retry({ maxAttempts: 2, backoff: { base: 0, strategy: 'constant' }, budget })
    for (let i = 0; i < 20; i++) await policy.execute(() => 'ok')
    const outcomes = []
    for (let i = 0; i < 6; i++) {
      const call = policy.execute(() => Promise.reject(new Error('down')))
      const settled = call.catch(() => 'failed')
      await timers.tickAsync(0)
      outcomes.push(await settled)
    }
    const stats = policy.stats()
    t.is(stats.retries, 2, '10 % of 26 calls: 2 retries')
    t.is(stats.budgetExhausted, 4)
    await timers.tickAsync(11_000)
    for (let i = 0; i < 10; i++) await policy.execute(() => 'ok')
    const call = policy.execute(() => Promise.reject(new Error('down'))).catch(() => 'failed')
    await timers.tickAsync(0)
    await call
    t.is(policy.stats().retries, 3, 'a new window has room for one more')
  })
})

test.serial('aborting during a retry wait rejects at once with the reason, leaves no timer, and is a give-up with reason aborted', async (t) => {
  await withFakeTimers(async (timers) => {
    const policy = retry({ maxAttempts: 5, backoff: { strategy: 'constant', base: '10s' } })
    const controller = new AbortController()
    let calls = 0
    const call = policy.execute(
      () => {
        calls++
        throw new Error('down')
      },
      { signal: controller.signal },
    )
    const giveUps: GiveUpEvent[] = []
    policy.onGiveUp((e) => giveUps.push(e))
    await timers.tickAsync(1000)
    controller.abort(new Error('caller gave up'))
    await t.throwsAsync(call, { message: 'caller gave up' })
    t.is(calls, 1)
    t.is(timers.countTimers(), 0)
    t.like(giveUps, [{ attempts: 1, reason: 'aborted', error: controller.signal.reason }], 'an abort during the wait is a give-up too')
    t.like(policy.stats(), { givenUp: 1 })
  })
})

test('bad retry options name the option and the value', (t) => {
  t.throws(() => retry({ maxAttempts: 0 }), { instanceOf: RangeError, message: 'maxAttempts must be a whole number of at least 1, but was 0' })
  t.throws(() => retry({ maxAttempts: Number.NaN }), { message: 'maxAttempts must be a whole number of at least 1, but was NaN' })
  t.throws(() => retry({ backoff: { base: -5 } }), { instanceOf: RangeError, message: /^backoff.base must be .* at least 0, but was -5$/ })
  t.throws(() => retry({ backoff: { base: 100, max: 50 } }), { message: 'backoff.max must be at least backoff.base (100 ms), but was 50' })
  t.throws(() => retry({ backoff: { jitter: 2 } }), { message: 'backoff.jitter must be within 0..1, but was 2' })
  t.throws(() => retry({ backoff: { multiplier: Number.NaN } }), { message: 'backoff.multiplier must be at least 1, but was NaN' })
  t.throws(() => retry({ backoff: { strategy: 'sometimes' as 'linear' } }), { message: /^backoff.strategy must be one of constant, .*, but was "sometimes"$/ })
  t.throws(() => retry({ deadline: '-1s' as '1s' }), { message: /^deadline must be a duration/ })
  t.throws(() => retry({ budget: { ratio: -0.1 } }), { message: 'budget.ratio must be within 0..1000, but was -0.1' })
  t.throws(() => retry({ retryOn: 'errors' as unknown as () => boolean }), { instanceOf: TypeError, message: 'retryOn must be a function, but was "errors"' })
})

test.serial('a retryAfterMs longer than backoff max gives up at once with reason retry_after_too_long, never sleeping past max', async (t) => {
  await withFakeTimers(async (timers) => {
    const policy = retry({ maxAttempts: 3, backoff: { strategy: 'constant', base: 0, max: '30s' } })
    const giveUps: GiveUpEvent[] = []
    policy.onGiveUp((e) => giveUps.push(e))
    let attempts = 0
    const asked = 365 * 24 * 3_600_000 // a Retry-After of a year
    const error = Object.assign(new Error('come back next year'), { retryAfterMs: asked })
    let settled = false
    const call = policy
      .execute(() => {
        attempts++
        throw error
      })
      .finally(() => (settled = true))
    const caught = t.throwsAsync(call, { is: error })
    await timers.tickAsync(0)
    t.true(settled, 'the call ended without waiting')
    await caught
    t.is(attempts, 1)
    t.deepEqual(giveUps, [{ attempts: 1, error, reason: 'retry_after_too_long' }])
    t.like(policy.stats(), { calls: 1, retries: 0, givenUp: 1 })
    t.is(timers.countTimers(), 0)
  })
})

test.serial('a retryAfterMs up to backoff max is waited in full', async (t) => {
  await withFakeTimers(async (timers) => {
    const policy = retry({ maxAttempts: 2, backoff: { strategy: 'constant', base: 0, max: '30s' } })
    let attempts = 0
    const call = policy.execute(() => {
      if (++attempts === 1) throw Object.assign(new Error('come back later'), { retryAfterMs: 30_000 })
      return 'done'
    })
    await timers.tickAsync(29_999)
    t.is(attempts, 1, 'not a millisecond early')
    await timers.tickAsync(1)
    t.is(await call, 'done')
  })
})

test.serial('a retryAfterMs that is not a finite number of at least 0 is ignored: the backoff decides', async (t) => {
  await withFakeTimers(async (timers) => {
    for (const asked of [Number.NaN, -1, Infinity, -Infinity, '5000', null]) {
      const policy = retry({ maxAttempts: 2, backoff: { strategy: 'constant', base: 10 } })
      const delays: number[] = []
      policy.onRetry((e) => delays.push(e.delayMs))
      let attempts = 0
      const call = policy.execute(() => {
        if (++attempts === 1) throw Object.assign(new Error('odd'), { retryAfterMs: asked })
        return 'done'
      })
      await timers.tickAsync(10)
      t.is(await call, 'done', String(asked))
      t.deepEqual(delays, [10], String(asked))
    }
  })
})

test('retry options, backoff and budget objects refuse unknown keys and null, naming the key', (t) => {
  const refused: Array<[string, () => unknown, RegExp]> = [
    ['retry(null)', () => retry(null as never), /^retry options must be an object, but was null$/],
    ['a retry typo', () => retry({ maxAtempts: 3 } as never), /^maxAtempts is not a retry option \(known: maxAttempts, /],
    ['a backoff typo', () => retry({ backoff: { bse: 10 } as never }), /^bse is not a backoff option \(known: strategy, /],
    ['null backoff', () => retry({ backoff: null as never }), /^backoff must not be null: leave it out for its default$/],
    ['backoff(null)', () => backoff(null as never), /^backoff options must be an object, but was null$/],
    ['a budget typo', () => retry({ budget: { ratoi: 0.1 } as never }), /^ratoi is not a budget option \(known: ratio, minPerSecond, window\)/],
    ['null budget', () => retry({ budget: null as never }), /^budget must not be null: leave it out for its default$/],
    ['new RetryBudget(null)', () => new RetryBudget(null as never), /^budget options must be an object, but was null$/],
    ['a non-boolean retryBrokenCircuit', () => retry({ retryBrokenCircuit: 'yes' as never }), /^retryBrokenCircuit must be true or false, but was "yes"$/],
    ['the key constructor', () => retry(JSON.parse('{"constructor": 1}')), /^constructor is not a retry option/],
    ['the key __proto__', () => retry(JSON.parse('{"__proto__": {"maxAttempts": 1}}')), /^__proto__ is not a retry option/],
  ]
  for (const [what, make, message] of refused) {
    const error = t.throws(make, undefined, what)
    t.true(error instanceof TypeError, `${what}: ${String(error)}`)
    t.like(error, { code: 'ERR_BREAKWATER_INVALID_OPTION' }, what)
    t.regex(error!.message, message, what)
  }
})

test.serial('retry options are read as own properties: inherited or polluted values change nothing', async (t) => {
  const proto = Object.prototype as Record<string, unknown>
  proto.maxAttempts = 1
  proto.base = 1_000_000
  let policies: ReturnType<typeof retry>[]
  try {
    policies = [retry(), retry(Object.create({ maxAttempts: 1 }) as never), retry({ backoff: {} })]
  } finally {
    delete proto.maxAttempts
    delete proto.base
  }
  await withFakeTimers(async (timers) => {
    for (const policy of policies) {
      let attempts = 0
      const p = policy.execute(() => {
        if (++attempts < 3) throw new Error('again')
        return attempts
      })
      // Defaults: three attempts, 100 ms then 200 ms apart (not the polluted 1 attempt and 1000 s).
      await timers.tickAsync(300)
      t.is(await p, 3)
    }
  })
})

test('per-call options of execute are checked: an AbortSignal passed alone, null or a typo reject with a TypeError', async (t) => {
  const policy = retry()
  const signal = new AbortController().signal
  const cases: Array<[string, unknown, RegExp]> = [
    ['a bare signal', signal, /^execute takes its signal inside the options, as \{ signal \}, but was given an AbortSignal$/],
    ['null', null, /^execute options must be an object, but was null$/],
    ['a typo', { signl: signal }, /^signl is not an execute option \(known: signal\)$/],
  ]
  for (const [what, options, message] of cases) {
    let calls = 0
    const error = await t.throwsAsync(
      policy.execute(() => ++calls, options as never),
      undefined,
      what,
    )
    t.true(error instanceof TypeError, what)
    t.regex(error!.message, message, what)
    t.is(calls, 0, `${what}: nothing ran`)
  }
})

test("our own argument errors are not retried by default: a caller's bug does not get better", async (t) => {
  const { breakers, name } = rig()
  const b = breakers.getOrCreate(name)
  const policy = retry({ maxAttempts: 3, backoff: { base: 0 } })
  const giveUps: GiveUpEvent[] = []
  policy.onGiveUp((e) => giveUps.push(e))
  let attempts = 0
  const error = await t.throwsAsync(policy.execute(() => (attempts++, b.execute(async () => 1, { timeout: -5 }))))
  t.like(error, { code: 'ERR_BREAKWATER_INVALID_OPTION' })
  t.is(attempts, 1)
  t.like(giveUps, [{ reason: 'not_retryable' }])
})

test('a CommitUnknownError is not retried by default: the COMMIT may have happened, and a retry could commit twice', async (t) => {
  let attempts = 0
  const policy = retry({ maxAttempts: 3, backoff: { base: 0 } })
  const error = await t.throwsAsync(
    policy.execute(() => {
      attempts++
      return Promise.reject(new CommitUnknownError('ledger', new Error('timed out during COMMIT')))
    }),
  )
  t.true(isCommitUnknownError(error))
  t.is(attempts, 1)
})
