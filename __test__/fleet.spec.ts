// The fleet in one process: two instances on two private registries sharing a real redis-server.
// What needs separate processes (propagation times, quorum of 3, the probe lease under load,
// Redis killed) is in fleet-processes.spec.ts.
import anyTest, { type TestFn } from 'ava'
import { Redis } from 'ioredis'
import { Registry } from '../src/index.ts'
import { type Fleet, fleet, type RemoteEvent } from '../src/fleet/index.ts'
import { once } from './fixtures/fleet-rig.ts'
import { startRedis, type TestRedis, withRedis } from './servers/redis.ts'

const test = withRedis(anyTest as TestFn<{ redis: TestRedis }>)

test.before(async (t) => {
  t.context.redis = await startRedis()
})
test.after.always((t) => t.context.redis?.destroy())

let nextNs = 0
const ns = () => `spec-${process.pid}-${nextNs++}`

function pair(url: string, namespace: string, extra: object = {}) {
  const made = [new Registry(), new Registry()].map((registry, i) => {
    const b = registry.getOrCreate('exchange', { consecutiveFailures: 1, openFor: '10s', halfOpenProbes: 1, halfOpenSuccesses: 1 })
    const f = fleet(registry, { redis: url, namespace, instanceId: `i${i}`, heartbeat: 100, ...extra })
    return { registry, b, f }
  })
  return made as [(typeof made)[0], (typeof made)[0]]
}

const fail = () => Promise.reject(new Error('down'))

test.serial('an open in one instance is applied by the other as forced_open with reason remote, and refuses at once', async (t) => {
  const [a, b] = pair(t.context.redis.url, ns())
  try {
    t.deepEqual(await Promise.all([a.f.join('exchange'), b.f.join(b.b)]), [true, true])
    const applied = once<RemoteEvent>((l) => b.f.onRemote(l))
    const changed = once<{ to: string; reason: string }>(
      (l) => b.b.onStateChange(l),
      (c) => c.to === 'forced_open',
    )
    await t.throwsAsync(a.b.execute(fail))
    t.is(a.b.state, 'open')
    const remote = await applied
    t.like(remote, { name: 'exchange', state: 'open', generation: 1, reason: 'consecutive_failures', by: 'i0' })
    t.true(remote.retryAfterMs! > 9000 && remote.retryAfterMs! <= 10_000, `deadline from the opener's open duration, by Redis time: ${remote.retryAfterMs}`)
    t.like(await changed, { to: 'forced_open', reason: 'remote' })
    await t.throwsAsync(
      b.b.execute(() => 'never runs'),
      { name: 'BrokenCircuitError' },
    )
    t.like(b.f.status().breakers.exchange, { local: 'forced_open', fleet: 'open', generation: 1 })
  } finally {
    await Promise.all([a.f.close(), b.f.close()])
  }
})

test.serial('a probe round: exactly one instance probes, its success closes the fleet everywhere', async (t) => {
  const namespace = ns()
  const [a, b] = pair(t.context.redis.url, namespace)
  try {
    await Promise.all([a.f.join('exchange'), b.f.join('exchange')])
    const opened = Promise.all([once<RemoteEvent>((l) => a.f.onRemote(l)), once<RemoteEvent>((l) => b.f.onRemote(l))])
    t.true(await a.f.forceOpen('exchange', 0))
    await opened
    // Deadline 0: both race for the lease at once; one goes half-open, the other stays forced open.
    const halfOpen = await Promise.race([
      once<{ to: string }>(
        (l) => a.b.onStateChange(l),
        (c) => c.to === 'half_open',
      ).then(() => a),
      once<{ to: string }>(
        (l) => b.b.onStateChange(l),
        (c) => c.to === 'half_open',
      ).then(() => b),
    ])
    const other = halfOpen === a ? b : a
    t.is(other.b.state, 'forced_open')
    t.true(halfOpen.f.status().breakers.exchange!.leaseHeld)
    const closed = once<RemoteEvent>(
      (l) => other.f.onRemote(l),
      (e) => e.state === 'closed',
    )
    t.is(await halfOpen.b.execute(() => 'probe'), 'probe')
    t.like(await closed, { state: 'closed', generation: 2, reason: 'probe_succeeded' })
    t.is(other.b.state, 'closed')
    t.is(halfOpen.b.state, 'closed')
    t.is(t.context.redis.cli('exists', `bw:{${namespace}}:lease:exchange`), '0', 'the lease was released')
  } finally {
    await Promise.all([a.f.close(), b.f.close()])
  }
})

test.serial('a new instance joining an open fleet refuses from the moment join resolves', async (t) => {
  const namespace = ns()
  const [a, b] = pair(t.context.redis.url, namespace)
  try {
    await a.f.join('exchange')
    const opened = once<RemoteEvent>((l) => a.f.onRemote(l))
    await t.throwsAsync(a.b.execute(fail))
    await opened
    t.true(await b.f.join('exchange'))
    t.is(b.b.state, 'forced_open')
    await t.throwsAsync(
      b.b.execute(() => 'never'),
      { name: 'BrokenCircuitError' },
    )
  } finally {
    await Promise.all([a.f.close(), b.f.close()])
  }
})

test.serial('quorum as a fraction of live instances: half of 3 live instances needs 2 votes', async (t) => {
  const namespace = ns()
  const three = [0, 1, 2].map((i) => {
    const registry = new Registry()
    const b = registry.getOrCreate('exchange', { consecutiveFailures: 1 })
    const f = fleet(registry, { redis: t.context.redis.url, namespace, instanceId: `q${i}`, quorum: { fraction: 0.5 } })
    return { b, f }
  })
  try {
    // Each instance's first heartbeat goes out before its join's sync, on the same connection.
    t.deepEqual(await Promise.all(three.map((x) => x.f.join('exchange'))), [true, true, true])
    const [a, b, c] = three as [(typeof three)[0], (typeof three)[0], (typeof three)[0]]
    const vote = once<{ votes: number; needed: number }>((l) => c.f.onVote(l))
    await t.throwsAsync(a.b.execute(fail))
    t.like(await vote, { votes: 1, needed: 2 })
    t.is(c.b.state, 'closed')
    const opened = once<RemoteEvent>((l) => c.f.onRemote(l))
    await t.throwsAsync(b.b.execute(fail))
    t.like(await opened, { state: 'open', by: 'q1' })
    t.is(c.b.state, 'forced_open')
  } finally {
    await Promise.all(three.map((x) => x.f.close()))
  }
})

test.serial('malformed, oversized, foreign and unknown messages published with redis-cli are dropped and counted, never applied', async (t) => {
  const namespace = ns()
  const [a, b] = pair(t.context.redis.url, namespace)
  await b.f.close() // one subscriber on the channel
  try {
    await a.f.join('exchange')
    const channel = `bw:{${namespace}}:events`
    const good = { v: 1, ns: namespace, t: 'state', b: 'exchange', g: 50, s: 'open', u: -1, n: 1, r: 'x', i: 'evil' }
    const sent = [
      'not json',
      '[1,2]',
      JSON.stringify({ ...good, g: -1 }),
      JSON.stringify({ ...good, s: 'half' }),
      JSON.stringify({ ...good, t: 'reboot' }),
      JSON.stringify({ ...good, g: 1.5 }),
      JSON.stringify({ ...good, pad: 'x'.repeat(5000) }),
      JSON.stringify({ ...good, ns: 'another' }),
      JSON.stringify({ ...good, b: 'not-joined' }),
    ]
    for (const message of sent) t.is(t.context.redis.cli('publish', channel, message), '1')
    // A valid message after them: once it is applied, every earlier one has been read.
    const applied = once<RemoteEvent>((l) => a.f.onRemote(l))
    t.context.redis.cli('publish', channel, JSON.stringify({ ...good, g: 7, s: 'closed', u: 0 }))
    t.like(await applied, { generation: 7, state: 'closed' })
    t.deepEqual(a.f.status().dropped, { malformed: 6, oversized: 1, foreign: 1, unknown: 1, stale: 0 })
    t.is(a.b.state, 'closed')
    t.is(a.f.status().applied, 1)
  } finally {
    await a.f.close()
  }
})

test.serial('an old or repeated generation never moves a breaker backwards', async (t) => {
  const namespace = ns()
  const [a, b] = pair(t.context.redis.url, namespace)
  await b.f.close()
  try {
    await a.f.join('exchange')
    const channel = `bw:{${namespace}}:events`
    const msg = (g: number, s: string) => JSON.stringify({ v: 1, ns: namespace, t: 'state', b: 'exchange', g, s, u: -1, n: 1, r: 'x', i: 'o' })
    const seen: RemoteEvent[] = []
    a.f.onRemote((e) => seen.push(e))
    const last = once<RemoteEvent>(
      (l) => a.f.onRemote(l),
      (e) => e.generation === 9,
    )
    t.context.redis.cli('publish', channel, msg(5, 'open'))
    t.context.redis.cli('publish', channel, msg(3, 'closed'))
    t.context.redis.cli('publish', channel, msg(5, 'closed'))
    t.context.redis.cli('publish', channel, msg(9, 'open'))
    await last
    t.deepEqual(
      seen.map((e) => [e.generation, e.state]),
      [
        [5, 'open'],
        [9, 'open'],
      ],
    )
    t.is(a.f.status().dropped.stale, 2)
    t.is(a.b.state, 'forced_open')
  } finally {
    await a.f.close()
  }
})

test.serial('zero Redis commands during 100,000 closed calls (INFO commandstats before and after)', async (t) => {
  const namespace = ns()
  const [a, b] = pair(t.context.redis.url, namespace, { heartbeat: '1m' })
  const admin = new Redis(t.context.redis.url)
  try {
    await Promise.all([a.f.join('exchange'), b.f.join('exchange')])
    const total = async () => {
      const info = await admin.info('commandstats')
      // Every command but INFO itself (the measuring).
      return [...info.matchAll(/^cmdstat_(\w+):calls=(\d+)/gm)].filter((m) => m[1] !== 'info').reduce((sum, m) => sum + Number(m[2]), 0)
    }
    const before = await total()
    for (let i = 0; i < 50_000; i++) await a.b.execute(() => i)
    for (let i = 0; i < 50_000; i++) b.b.executeSync(() => i)
    t.is(await total(), before)
    t.is(a.b.metrics().successes, 50_000)
    t.is(b.b.metrics().successes, 50_000)
  } finally {
    admin.disconnect()
    await Promise.all([a.f.close(), b.f.close()])
  }
})

test.serial(
  'Redis slow (CLIENT PAUSE WRITE): commands time out behind the Redis breaker, the instance goes local-only, calls never wait, and it syncs again after',
  async (t) => {
    const namespace = ns()
    const [a, b] = pair(t.context.redis.url, namespace, { commandTimeout: 150 })
    let unhandled = 0
    const count = () => unhandled++
    process.on('unhandledRejection', count)
    try {
      await Promise.all([a.f.join('exchange'), b.f.join('exchange')])
      const down = once<boolean>(
        (l) => a.f.onRedis(l),
        (up) => !up,
      )
      t.is(t.context.redis.cli('client', 'pause', '60000', 'WRITE'), 'OK')
      await down
      // A closed breaker's calls do not wait on the paused Redis.
      let slowest = 0
      for (let i = 0; i < 1000; i++) {
        const t0 = performance.now()
        await a.b.execute(() => i)
        slowest = Math.max(slowest, performance.now() - t0)
      }
      t.true(slowest < 50, `slowest closed call ${slowest.toFixed(2)} ms`)
      // A local open while Redis is sick: its vote is refused at once, the open stays local.
      const errors = a.f.status().errors
      await t.throwsAsync(a.b.execute(fail))
      t.is(a.b.state, 'open')
      t.is(b.b.state, 'closed')
      t.false(a.f.status().redisUp)
      const up = once<boolean>(
        (l) => a.f.onRedis(l),
        (isUp) => isUp,
      )
      t.is(t.context.redis.cli('client', 'unpause'), 'OK')
      await up
      t.true(a.f.status().errors > errors, 'the refused vote and timeouts were counted')
      t.true(a.f.status().redisUp)
      t.is(unhandled, 0)
    } finally {
      t.context.redis.cli('client', 'unpause')
      process.off('unhandledRejection', count)
      await Promise.all([a.f.close(), b.f.close()])
    }
  },
)

test.serial("a client of the user's: the fleet sends its commands on it, subscribes on a duplicate, and close() leaves it open", async (t) => {
  const namespace = ns()
  const client = new Redis(t.context.redis.url, { enableOfflineQueue: false })
  const registry = new Registry()
  const breaker = registry.getOrCreate('exchange', { consecutiveFailures: 1 })
  const [other, unused] = pair(t.context.redis.url, namespace)
  await unused.f.close()
  const mine = fleet(registry, { redis: client, namespace, instanceId: 'users-client' })
  try {
    await new Promise((resolve) => client.once('ready', resolve))
    t.true(await mine.join(breaker))
    await other.f.join('exchange')
    const applied = once<RemoteEvent>((l) => other.f.onRemote(l))
    await t.throwsAsync(breaker.execute(fail))
    t.like(await applied, { by: 'users-client', state: 'open' })
    await mine.close()
    t.is(client.status, 'ready', 'the client is still theirs, and open')
    t.is(await client.ping(), 'PONG')
    t.is(Object.hasOwn(client, 'breakwaterVote'), false, 'no command was defined on it')
  } finally {
    await Promise.all([mine.close(), other.f.close()])
    client.disconnect()
  }
})

test.serial('join resolves false when Redis cannot be reached in time; the breaker goes on locally', async (t) => {
  const registry = new Registry()
  const breaker = registry.getOrCreate('exchange')
  const f = fleet(registry, { redis: 'redis://127.0.0.1:1', namespace: ns(), commandTimeout: 100 })
  try {
    t.false(await f.join('exchange'))
    t.false(await f.join(breaker), 'joined again: still not synced')
    t.is(await breaker.execute(() => 'local'), 'local')
    t.like(f.status(), { redisUp: false, lastSyncAt: null })
    t.like(f.status().breakers.exchange, { fleet: 'unknown', local: 'closed' })
  } finally {
    await f.close()
  }
})

test('fleet options are checked before anything connects: unknown keys, bad values, each naming the field', (t) => {
  const registry = new Registry()
  const bad: [unknown, RegExp][] = [
    [undefined, /fleet options must be an object/],
    [null, /fleet options must be an object/],
    [{ namespace: 'a' }, /redis is required/],
    [{ redis: 'http://x', namespace: 'a' }, /redis must be a redis:\/\/ or rediss:\/\/ URL/],
    [{ redis: {}, namespace: 'a' }, /redis must be an ioredis client/],
    [{ redis: 'redis://x' }, /namespace is required/],
    [{ redis: 'redis://x', namespace: 'a b' }, /namespace must be letters/],
    [{ redis: 'redis://x', namespace: 'a', qourum: 2 }, /qourum is not a fleet option/],
    [{ redis: 'redis://x', namespace: 'a', quorum: 0 }, /quorum must be a whole number from 1/],
    [{ redis: 'redis://x', namespace: 'a', quorum: { fraction: 1.5 } }, /quorum.fraction must be above 0 and at most 1, but was 1.5/],
    [{ redis: 'redis://x', namespace: 'a', quorum: {} }, /quorum needs count, fraction or both/],
    [{ redis: 'redis://x', namespace: 'a', heartbeat: 10 }, /heartbeat must be at least 50 ms, but was 10/],
    [{ redis: 'redis://x', namespace: 'a', voteWindow: -1 }, /voteWindow must be a finite number/],
    [{ redis: 'redis://x', namespace: 'a', instanceId: 'has space' }, /instanceId must be printable ASCII/],
  ]
  for (const [options, message] of bad) {
    const e = t.throws(() => fleet(registry, options as never), { message })
    t.is((e as { code?: string }).code, 'ERR_BREAKWATER_INVALID_OPTION')
    t.true(e instanceof TypeError || e instanceof RangeError)
  }
  t.throws(() => fleet({} as Registry, { redis: 'redis://x', namespace: 'a' }), {
    code: 'ERR_BREAKWATER_INVALID_OPTION',
    message: /registry must be a breakwater Registry/,
  })
  const polluted = Object.prototype as Record<string, unknown>
  polluted.quorum = 'bad'
  try {
    const f: Fleet = fleet(registry, { redis: 'redis://127.0.0.1:1', namespace: 'a', commandTimeout: 100 })
    t.is(f.status().redisUp, false, 'a polluted prototype changes nothing')
    void f.close()
  } finally {
    delete polluted.quorum
  }
})

test.serial('join, leave, forceOpen and forceClose refuse bad arguments: a name no breaker has, a breaker of another registry, a bad duration', async (t) => {
  const registry = new Registry()
  registry.getOrCreate('mine')
  const f = fleet(registry, { redis: t.context.redis.url, namespace: ns() })
  try {
    t.throws(() => f.join('absent'), { instanceOf: RangeError, code: 'ERR_BREAKWATER_INVALID_OPTION', message: /there is none called "absent"/ })
    t.throws(() => f.join(new Registry().getOrCreate('mine')), { instanceOf: TypeError, code: 'ERR_BREAKWATER_INVALID_OPTION' })
    t.throws(() => f.join(42 as never), { instanceOf: TypeError })
    t.throws(() => f.forceOpen('mine', -5), {
      instanceOf: RangeError,
      code: 'ERR_BREAKWATER_INVALID_OPTION',
      message: /forceOpen duration must be a finite number/,
    })
    t.throws(() => f.forceClose(7 as never), { instanceOf: TypeError, code: 'ERR_BREAKWATER_INVALID_OPTION' })
    t.throws(() => f.leave({} as never), { instanceOf: TypeError, code: 'ERR_BREAKWATER_INVALID_OPTION' })
    t.true(await f.join('mine'))
    t.true(await f.join('mine'), 'joined again: synced')
    t.true(f.leave('mine'))
    t.false(f.leave('mine'))
  } finally {
    await f.close()
  }
})
