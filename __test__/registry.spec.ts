import test from 'ava'
import { circuitBreaker, Registry, registry } from '../src/index.ts'
import { failTimes, rig } from './helpers.ts'
import { withFakeTimers } from './timers.ts'

test('the same name gives handles of the same breaker', async (t) => {
  const { breakers, name } = rig()
  const a = breakers.getOrCreate(name, { consecutiveFailures: 1 })
  const b = breakers.getOrCreate(name)
  await failTimes(a, 1)
  t.is(b.state, 'open')
})

test('a private registry is isolated from the process-wide one', (t) => {
  const mine = new Registry()
  mine.getOrCreate('isolated-orders').forceOpen()
  t.is(registry.get('isolated-orders'), undefined)
  t.is(circuitBreaker('isolated-orders').state, 'closed')
})

test('get, remove, names and health describe the registry', async (t) => {
  const breakers = new Registry()
  const db = breakers.getOrCreate('db', { consecutiveFailures: 1 })
  breakers.getOrCreate('api')
  await failTimes(db, 1)
  t.deepEqual(breakers.names(), ['api', 'db'])
  const health = breakers.health()
  t.like(health.db, { state: 'open', failures: 1 })
  t.like(health.api, { state: 'closed', calls: 0 })
  t.is(breakers.get('db')?.state, 'open')
  t.true(breakers.remove('db'))
  t.false(breakers.remove('db'))
  t.is(breakers.get('db'), undefined)
  t.is(db.state, 'open', 'a removed breaker keeps working for its holders')
})

test('listeners of one handle hear transitions made through another handle of the breaker', async (t) => {
  const { breakers, name } = rig()
  const watcher = breakers.getOrCreate(name, { consecutiveFailures: 1 })
  const caller = breakers.getOrCreate(name)
  const seen: string[] = []
  watcher.onOpen(({ reason }) => seen.push(reason))
  await failTimes(caller, 1)
  t.deepEqual(seen, ['consecutive_failures'])
})

test('bad options for a name that exists are refused as for a new name', (t) => {
  const { breakers, name } = rig()
  breakers.getOrCreate(name)
  t.throws(() => breakers.getOrCreate(name, { failureRate: 150 }), {
    instanceOf: RangeError,
    code: 'ERR_BREAKWATER_INVALID_OPTION',
    message: 'failureRate must be a number above 0 and at most 100, but was 150',
  } as never)
})

test('options that differ from the existing breaker throw ERR_BREAKWATER_OPTIONS_DIFFER naming each with both values', (t) => {
  const { breakers, name } = rig()
  breakers.getOrCreate(name, { consecutiveFailures: 3, openFor: '10s' })
  const error = t.throws(() => breakers.getOrCreate(name, { consecutiveFailures: 5, openFor: '10s', timeout: '1s' }))
  t.is((error as { code?: string } | undefined)?.code, 'ERR_BREAKWATER_OPTIONS_DIFFER')
  t.is(
    error?.message,
    `breaker "${name}" exists with other options: consecutiveFailures is 3, given 5; timeout is none, given 1000; ` +
      'give the same options, or none to use it as it is, and change its rules with breaker.configure(options)',
  )
  t.notThrows(() => breakers.getOrCreate(name, { consecutiveFailures: 3, openFor: 10_000 }), 'the same options, written otherwise')
  t.throws(() => breakers.getOrCreate(name, { openFor: '10s' }), { message: /consecutiveFailures is 3, given 5/ }, 'a missing option means its default')
})

test.serial('a handle without breaker options, or with only a call policy, uses the existing breaker and its timeout', async (t) => {
  await withFakeTimers(async (timers) => {
    const { breakers, name } = rig()
    const created = breakers.getOrCreate(name, { consecutiveFailures: 1, timeout: '1s' })
    const plain = breakers.getOrCreate(name)
    const withPolicy = breakers.getOrCreate<string>(name, { fallback: () => 'cached', isFailure: () => true })
    const found = breakers.get(name)!
    for (const b of [plain, withPolicy, found]) t.like(b.metrics(), { state: 'closed' })
    let settled: unknown = 'still pending'
    plain
      .execute(() => new Promise<never>(() => {}))
      .then(
        () => (settled = 'resolved'),
        (e: unknown) => (settled = e),
      )
    await timers.tickAsync(1000)
    t.like(settled, { code: 'ERR_BREAKWATER_TIMEOUT' })
    t.is(created.state, 'open', 'the timeout of the breaker applied to a handle made without options')
    t.is(await withPolicy.execute(async () => 'live'), 'cached')
  })
})

test("names that are not well-formed UTF-16 are refused: '\\uD800x' and '\\uDBFFx' would be one breaker", (t) => {
  const breakers = new Registry()
  for (const bad of ['\uD800x', '\uDBFFx', 'x\uDC00', '\uDFFF']) {
    for (const call of [() => breakers.getOrCreate(bad), () => breakers.get(bad), () => breakers.remove(bad), () => circuitBreaker(bad)]) {
      t.throws(call, { instanceOf: RangeError, code: 'ERR_BREAKWATER_INVALID_OPTION', message: /^name must be well-formed UTF-16/ } as never)
    }
  }
  t.deepEqual(breakers.names(), [])
  t.is(breakers.getOrCreate('\uD83D\uDE00 ok').name, '\uD83D\uDE00 ok', 'a surrogate pair is fine')
})
