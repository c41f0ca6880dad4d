// Issue 10, item 20 (and the timeout part of 21): options are read as own properties only,
// unknown keys are refused everywhere (per-call options too) with a message naming the key, and
// a bare AbortSignal where the options belong is refused instead of ignored.
import test from 'ava'
import { api, backoff, bulkhead, fallback, recoveryManager, retry, Services, timeout, tradingPause, wrap } from '../src/index.ts'
import { rig } from './helpers.ts'

const code = 'ERR_BREAKWATER_INVALID_OPTION'
const down = () => Promise.reject(new Error('down'))

test.serial('a polluted Object.prototype changes no new breaker', async (t) => {
  const proto = Object.prototype as Record<string, unknown>
  proto.consecutiveFailures = 1
  proto.fallback = () => 'polluted'
  proto.timeout = 1
  try {
    const { breakers, name } = rig()
    const b = breakers.getOrCreate(name, {})
    await t.throwsAsync(b.execute(down), { message: 'down' }, 'no fallback was picked up')
    t.is(b.state, 'closed', 'consecutiveFailures: 1 was not picked up')
    t.is(await b.execute(() => new Promise((resolve) => setImmediate(resolve, 'slow enough'))), 'slow enough')
    t.is(b.metrics().timeouts, 0)
  } finally {
    delete proto.consecutiveFailures
    delete proto.fallback
    delete proto.timeout
  }
})

test('an inherited option is not an option: Object.create({ fallback }) gives no fallback', async (t) => {
  const { breakers, name } = rig()
  const b = breakers.getOrCreate(name, Object.create({ fallback: 'x' }) as object)
  await t.throwsAsync(b.execute(down), { message: 'down' })
})

test('the keys constructor and __proto__ are refused by name, like any unknown key', (t) => {
  const { breakers, name } = rig()
  t.throws(() => breakers.getOrCreate(name, { constructor: 1 } as never), {
    instanceOf: TypeError,
    code,
    message: /^constructor is not a breaker option \(known: /,
  })
  t.throws(() => breakers.getOrCreate(name, JSON.parse('{"__proto__": 1}') as object), {
    instanceOf: TypeError,
    code,
    message: /^__proto__ is not a breaker option/,
  })
  t.throws(() => breakers.getOrCreate(name, { latency: { percentil: 99, threshold: 10 } } as never), {
    instanceOf: TypeError,
    code,
    message: /^percentil is not a latency option \(known: percentile, threshold\)/,
  })
  t.throws(() => breakers.getOrCreate(name, null as never), { instanceOf: TypeError, code, message: 'breaker options must be an object, but was null' })
  t.deepEqual(breakers.names(), [], 'nothing was created')
})

test('per-call options refuse unknown keys and a bare AbortSignal, as rejections', async (t) => {
  const { breakers, name } = rig()
  const b = breakers.getOrCreate(name)
  const signal = new AbortController().signal
  await t.throwsAsync(
    b.execute(async () => 1, { tmeout: 5 } as never),
    { instanceOf: TypeError, code, message: /^tmeout is not an execute option \(known: signal, timeout\)/ },
  )
  await t.throwsAsync(
    b.execute(async () => 1, signal as never),
    {
      instanceOf: TypeError,
      code,
      message: 'execute takes its signal inside the options, as { signal }, but was given an AbortSignal',
    },
  )
  await t.throwsAsync(
    b.execute(async () => 1, null as never),
    { instanceOf: TypeError, message: 'execute options must be an object, but was null' },
  )
  await t.throwsAsync(
    b.execute(async () => 1, { timeout: 0 }),
    { instanceOf: RangeError, code, message: 'timeout must be more than 0 ms, but was 0' },
  )
  for (const policy of [timeout('1s'), fallback(0), wrap(timeout('1s'))]) {
    await t.throwsAsync(
      policy.execute(async () => 1, signal as never),
      { instanceOf: TypeError, message: /as \{ signal \}/ },
    )
    await t.throwsAsync(
      policy.execute(async () => 1, { sigal: signal } as never),
      { instanceOf: TypeError, message: /^sigal is not an execute option \(known: signal\)/ },
    )
  }
  t.is(b.metrics().calls, 0, 'a refused argument takes no permit and counts nothing')
})

test('policy and preset options refuse typos and null, naming the key', (t) => {
  t.throws(() => timeout(0), { instanceOf: RangeError, code, message: 'timeout must be more than 0 ms, but was 0' })
  t.throws(() => timeout('1s', { stratgy: 'aggressive' } as never), {
    instanceOf: TypeError,
    code,
    message: /^stratgy is not a timeout option \(known: strategy, name, unref\)/,
  })
  t.throws(() => timeout('1s', null as never), { instanceOf: TypeError, message: 'timeout options must be an object, but was null' })
  t.throws(() => fallback(0, { handle: () => true } as never), { instanceOf: TypeError, message: /^handle is not a fallback option/ })
  const { breakers, name } = rig()
  t.throws(() => tradingPause(name, { registry: breakers, threshhold: '1s' } as never), {
    instanceOf: TypeError,
    message: /^threshhold is not a trading pause option/,
  })
  t.throws(() => tradingPause(name, { registry: breakers, latency: { threshold: 1 } } as never), {
    instanceOf: TypeError,
    message: /^latency is not a trading pause option/,
  })
  const services = new Services(breakers)
  t.throws(() => services.register(name, { retries: {} } as never), {
    instanceOf: TypeError,
    message: /^retries is not a service option \(known: breaker, retry, bulkhead, timeout\)/,
  })
  t.throws(() => services.register(name, { timeout: { after: '1s', tmeout: 1 } } as never), {
    instanceOf: TypeError,
    message: /^tmeout is not a service timeout option/,
  })
  t.throws(() => services.register(name, null as never), { instanceOf: TypeError, message: 'service options must be an object, but was null' })
  t.deepEqual(breakers.names(), [], 'nothing was created')
})

test('wrap().execute rejects on bad arguments instead of throwing', async (t) => {
  const policy = wrap(timeout('1s'))
  let promise: Promise<unknown> | undefined
  t.notThrows(() => (promise = policy.execute('not a function' as never)))
  await t.throwsAsync(promise!, { instanceOf: TypeError, message: 'execute needs a function to run, but was given string' })
})

test('null is never a silent default: a key set to null is refused by name, and a Map is not an options object', (t) => {
  const { breakers, name } = rig()
  const nulls: Array<[string, () => unknown, string]> = [
    ['breaker', () => breakers.getOrCreate(name, { timeout: null } as never), 'timeout'],
    ['retry', () => retry({ maxAttempts: null } as never), 'maxAttempts'],
    ['fallback', () => fallback(0, { handles: null } as never), 'handles'],
    ['timeout', () => timeout(1, { name: null } as never), 'name'],
    ['bulkhead', () => bulkhead(`null-${name}`, { maxConcurrent: 1, maxQueue: null } as never), 'maxQueue'],
    ['recovery', () => recoveryManager(breakers.getOrCreate(`${name}-r`), () => true, { base: null } as never), 'base'],
    ['api', () => api(`${name}-api`, { baseUrl: 'http://127.0.0.1:9', registry: null } as never), 'registry'],
  ]
  for (const [what, make, key] of nulls) {
    t.throws(make, { instanceOf: TypeError, code, message: `${key} must not be null: leave it out for its default` }, what)
  }
  t.throws(() => breakers.getOrCreate(`${name}-map`, new Map([['failureRate', 150]]) as never), {
    instanceOf: TypeError,
    message: 'breaker options must be an object, but was a Map',
  })
  t.false(breakers.names().includes(`${name}-map`))
})

test('a registry option that is not a registry is our TypeError, in tradingPause and Services too', (t) => {
  const { name } = rig()
  for (const registry of [null, 5, {}]) {
    t.throws(() => tradingPause(name, { registry } as never), { instanceOf: TypeError, code }, `tradingPause ${String(registry)}`)
  }
  for (const registry of [null, 5, {}]) {
    t.throws(() => new Services(registry as never), { instanceOf: TypeError, code, message: /^registry must be a Registry, but was / })
  }
})

test('a random that returns NaN or a number outside [0, 1) is refused when drawn: no retry storm, no busy loop', async (t) => {
  let attempts = 0
  const policy = retry({ maxAttempts: 5, backoff: { base: '1s', jitter: 0.5, random: () => Number.NaN } })
  const refused = await t.throwsAsync(
    policy.execute(() => {
      attempts++
      return Promise.reject(new Error('flaky'))
    }),
    { instanceOf: RangeError, message: 'backoff.random must return a number from 0 up to (not including) 1, but returned NaN' },
  )
  t.is(attempts, 1, 'no retry was made on a NaN wait')
  t.like(refused?.cause, { message: 'flaky' }, "fn's error is kept as the cause")
  t.throws(() => backoff({ strategy: 'decorrelated', random: () => 1 })(2, 100), {
    instanceOf: RangeError,
    message: /^backoff.random must return a number from 0 up to \(not including\) 1, but returned 1$/,
  })
})

test('errors name the option the caller wrote, with the value given', (t) => {
  const { breakers, name } = rig()
  t.throws(() => tradingPause(name, { registry: breakers, threshold: 'abc' as never }), {
    instanceOf: RangeError,
    message: 'threshold must be a duration like 250ms, 30s, 5m or 1h, but was "abc"',
  })
  t.throws(() => breakers.getOrCreate(name, { openFor: `${'9'.repeat(400)}h` as never }), {
    instanceOf: RangeError,
    message: /^openFor must be a duration like 250ms, 30s, 5m or 1h, but was "9{77}\.\.\."$/,
  })
})

test.serial('a recovery manager whose start fails (a random that returns NaN on an open breaker) leaves no listener behind', async (t) => {
  const { breakers, name } = rig()
  const b = breakers.getOrCreate(name, { consecutiveFailures: 1, openFor: '1h' })
  await b.execute(() => Promise.reject(new Error('down'))).catch(() => undefined)
  t.throws(() => recoveryManager(b, () => true, { random: () => Number.NaN }), { instanceOf: RangeError, message: /^random must return a number from 0/ })
  const warnings: string[] = []
  const onWarning = (w: Error) => warnings.push(w.message)
  process.on('warning', onWarning)
  b.reset()
  await b.execute(() => Promise.reject(new Error('down again'))).catch(() => undefined)
  await new Promise((resolve) => setImmediate(resolve))
  process.off('warning', onWarning)
  t.is(b.state, 'open')
  t.deepEqual(warnings, [], 'no listener of the failed manager heard the reopening')
})
