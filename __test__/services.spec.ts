import test from 'ava'
import { isBrokenCircuitError, isTimeoutError, Registry, Services } from '../src/index.ts'
import { FakeClock } from '../src/testing.ts'
import { deferred, turn, withFakeTimers } from './timers.ts'

let next = 0
const fresh = (what: string) => `${what}-${process.pid}-${next++}`

const setup = () => {
  const clock = new FakeClock()
  return { clock, services: new Services(new Registry({ clock })) }
}

test('a registered service is called by name through its retry, breaker, bulkhead and timeout', async (t) => {
  const { services } = setup()
  const broker = fresh('broker')
  services.register(broker, {
    breaker: { consecutiveFailures: 2, openFor: '10s' },
    retry: { maxAttempts: 2, backoff: { strategy: 'constant', base: 0 } },
    bulkhead: { maxConcurrent: 4, maxQueue: 8 },
    timeout: '5s',
  })
  let calls = 0
  const fill = await services.call(broker, ({ attempt }) => {
    calls++
    if (attempt === 1) throw new Error('flaky')
    return { filled: 100 }
  })
  t.deepEqual(fill, { filled: 100 })
  t.is(calls, 2)
  const health = services.health()[broker]!
  t.like(health, {
    state: 'closed',
    breaker: { calls: 2, successes: 1, failures: 1 },
    bulkhead: { maxConcurrent: 4, inUse: 0, admitted: 2 },
    retries: { calls: 1, retries: 1, givenUp: 0 },
  })
})

test('health shows an open breaker, bulkhead use in flight, and services without optional policies', async (t) => {
  const { services } = setup()
  const [orders, reports] = [fresh('orders'), fresh('reports')]
  services.register(orders, { breaker: { consecutiveFailures: 1, openFor: '1m' } })
  services.register(reports, { bulkhead: { maxConcurrent: 1, maxQueue: 1 } })
  await services.call(orders, () => Promise.reject(new Error('down'))).catch(() => undefined)
  const refused = await services.call(orders, () => 'never').catch((e) => e)
  t.true(isBrokenCircuitError(refused))
  const gate = deferred()
  const running = services.call(reports, () => gate.promise)
  const waiting = services.call(reports, () => 'second', { priority: 1 })
  await turn()
  const health = services.health()
  t.deepEqual(Object.keys(health), [orders, reports].sort())
  t.like(health[orders], { state: 'open', breaker: { rejections: 1 } })
  t.false('bulkhead' in health[orders]! || 'retries' in health[orders]!)
  t.like(health[reports], { state: 'closed', bulkhead: { inUse: 1, queued: 1 } })
  gate.resolve()
  await running
  t.is(await waiting, 'second')
})

test.serial('the service timeout counts as a timeout of its breaker', async (t) => {
  await withFakeTimers(async (timers) => {
    const { services } = setup()
    const quotes = fresh('quotes')
    services.register(quotes, { breaker: { consecutiveFailures: 1 }, timeout: { after: '2s', strategy: 'aggressive' } })
    const call = services.call(quotes, () => new Promise<never>(() => {}))
    const caught = t.throwsAsync(call)
    await timers.tickAsync(2000)
    t.true(isTimeoutError(await caught))
    t.like(services.get(quotes)!.breaker.metrics(), { timeouts: 1, state: 'open' })
  })
})

test('unknown services, duplicates and bad options are refused with errors that say what is wrong', async (t) => {
  const { services } = setup()
  const name = fresh('db')
  services.register(name, {})
  t.throws(() => services.register(name), { code: 'ERR_BREAKWATER_SERVICE_EXISTS', message: `service "${name}" is registered already` })
  t.throws(() => services.register(''), { instanceOf: TypeError, message: 'a service name must be a non-empty string, but was ""' })
  t.throws(() => services.register(fresh('x'), { retries: 3 } as never), {
    instanceOf: TypeError,
    message: /^retries is not a service option \(known: breaker, retry, bulkhead, timeout\)$/,
  })
  t.throws(() => services.register(fresh('x'), { retry: { maxAttempts: 0 } }), {
    instanceOf: RangeError,
    message: 'maxAttempts must be a whole number of at least 1, but was 0',
  })
  t.throws(() => services.register(fresh('x'), { bulkhead: { maxConcurrent: 1, maxQueue: -1 } }), {
    message: 'maxQueue must be a whole number of at least 0, but was -1',
  })
  t.throws(() => services.register(fresh('x'), { breaker: { failureRate: 150 } }), { instanceOf: RangeError, message: /^failureRate must be/ })
  await t.throwsAsync(
    services.call('nobody', () => 1),
    { instanceOf: TypeError, message: `no service is registered as "nobody" (registered: ${name})` },
  )
})

test('a call priority reaches the service bulkhead: the higher priority leaves the queue first', async (t) => {
  const { services } = setup()
  const reports = fresh('reports')
  services.register(reports, { retry: { maxAttempts: 1 }, bulkhead: { maxConcurrent: 1, maxQueue: 4 } })
  const gate = deferred()
  const order: string[] = []
  const running = services.call(reports, () => gate.promise)
  await turn()
  const low = services.call(reports, () => order.push('low'), { priority: 1 })
  const high = services.call(reports, () => order.push('high'), { priority: 9 })
  await turn()
  gate.resolve()
  await Promise.all([running, low, high])
  t.deepEqual(order, ['high', 'low'])
  await t.throwsAsync(
    services.call(reports, () => 1, { priorty: 1 } as never),
    { instanceOf: TypeError, message: /^priorty is not a service call option \(known: signal, priority\)/ },
  )
})

test('a refused service creates nothing: a bad bulkhead, a bulkhead unlike the existing one, or a bad breaker option leaves no breaker behind', (t) => {
  const breakers = new Registry({ clock: new FakeClock() })
  const services = new Services(breakers)
  const taken = fresh('taken')
  services.register(taken, { bulkhead: { maxConcurrent: 2 } })
  const cases: Array<[string, Parameters<Services['register']>[1], RegExp]> = [
    [
      fresh('queue'),
      { breaker: { consecutiveFailures: 2 }, bulkhead: { maxConcurrent: 1, maxQueue: -1 } },
      /^maxQueue must be a whole number of at least 0, but was -1$/,
    ],
    [fresh('huge'), { bulkhead: { maxConcurrent: 2 ** 21 } }, /^maxConcurrent must be /],
    [fresh('rate'), { breaker: { failureRate: 150 }, bulkhead: { maxConcurrent: 1 } }, /^failureRate must be /],
  ]
  for (const [name, options, message] of cases) {
    t.throws(() => services.register(name, options), { message })
    t.false(breakers.names().includes(name), `${name} left no breaker`)
    t.is(services.get(name), undefined)
  }
  // A bulkhead is process-wide: a second service of the same name elsewhere must agree on its limits.
  const elsewhere = new Services(breakers)
  const before = breakers.names().length
  t.throws(() => elsewhere.register(taken, { bulkhead: { maxConcurrent: 3 } }), { code: 'ERR_BREAKWATER_OPTIONS_DIFFER' })
  t.is(breakers.names().length, before)
  t.true(breakers.names().includes(taken), 'the existing breaker was not removed')
})

test("a bad priority is the caller's mistake: refused before the breaker lets the call in, never counted", async (t) => {
  const { services } = setup()
  const name = fresh('prio')
  services.register(name, { breaker: { consecutiveFailures: 1 }, bulkhead: { maxConcurrent: 2 } })
  const plain = fresh('plain')
  services.register(plain, { breaker: { consecutiveFailures: 1 } })
  for (const service of [name, plain]) {
    await t.throwsAsync(
      services.call(service, () => 'ok', { priority: 'high' as never }),
      { instanceOf: TypeError, message: 'priority must be a number, but was "high"' },
    )
    await t.throwsAsync(
      services.call(service, () => 'ok', { priority: 1.5 }),
      { instanceOf: RangeError, message: /^priority must be a whole number/ },
    )
    t.like(services.get(service)!.breaker.metrics(), { calls: 0, failures: 0, state: 'closed' })
  }
})

test.serial('a polluted Object.prototype adds no layer to a service', async (t) => {
  const proto = Object.prototype as Record<string, unknown>
  const { services } = setup()
  const name = fresh('polluted')
  for (const key of ['timeout', 'retry', 'bulkhead']) proto[key] = '1s'
  try {
    services.register(name, { breaker: { consecutiveFailures: 5 } })
  } finally {
    for (const key of ['timeout', 'retry', 'bulkhead']) delete proto[key]
  }
  t.like(services.get(name), { retry: undefined, bulkhead: undefined })
  t.is(await services.call(name, () => 'plain'), 'plain')
})
