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
  t.throws(() => services.register(name), { message: `service ${name} is registered already` })
  t.throws(() => services.register(''), { instanceOf: TypeError, message: 'a service name must be a non-empty string, but was ""' })
  t.throws(() => services.register(fresh('x'), { retries: 3 } as never), { instanceOf: TypeError, message: /^retries is not a service option \(known: breaker, retry, bulkhead, timeout\)$/ })
  t.throws(() => services.register(fresh('x'), { retry: { maxAttempts: 0 } }), { instanceOf: RangeError, message: 'maxAttempts must be a whole number of at least 1, but was 0' })
  t.throws(() => services.register(fresh('x'), { bulkhead: { maxConcurrent: 1, maxQueue: -1 } }), { message: 'maxQueue must be a whole number of at least 0, but was -1' })
  t.throws(() => services.register(fresh('x'), { breaker: { failureRate: 150 } }), { instanceOf: RangeError, message: /^failureRate must be/ })
  await t.throwsAsync(services.call('nobody', () => 1), { instanceOf: TypeError, message: `no service is registered as "nobody" (registered: ${name})` })
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
  await t.throwsAsync(services.call(reports, () => 1, { priorty: 1 } as never), { instanceOf: TypeError, message: /^priorty is not a service call option \(known: signal, priority\)/ })
})
