import test from 'ava'
import { circuitBreaker, Registry, registry } from '../src/index.ts'
import { failTimes, rig } from './helpers.ts'

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
