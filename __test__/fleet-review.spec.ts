// Adversarial review of the fleet against a real redis-server: Redis losing the fleet's keys while
// connected, forged messages ahead of the fleet, tampered keys, leaving and joining again. Each test
// pins a defect found in review; waits are on real I/O (events, Redis replies), each bounded.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import anyTest, { type TestFn } from 'ava'
import { type CircuitBreaker, Registry } from '../src/index.ts'
import { type Fleet, fleet, type RemoteEvent } from '../src/fleet/index.ts'
import { once } from './fixtures/fleet-rig.ts'
import { startRedis, type TestRedis, withRedis } from './servers/redis.ts'

const test = withRedis(anyTest as TestFn<{ redis: TestRedis }>)

let unhandled = 0
process.on('unhandledRejection', () => {
  unhandled++
})

test.before(async (t) => {
  t.context.redis = await startRedis()
})
test.after.always((t) => {
  t.context.redis?.destroy()
  t.is(unhandled, 0, 'no unhandled rejection in the whole file')
})

let nextNs = 0
const ns = () => `review-${process.pid}-${nextNs++}`

interface Instance {
  registry: Registry
  b: CircuitBreaker
  f: Fleet
}

function instances(url: string, namespace: string, n = 2): Instance[] {
  return Array.from({ length: n }, (_, i) => {
    const registry = new Registry()
    const b = registry.getOrCreate('exchange', { consecutiveFailures: 1, openFor: '10s', halfOpenProbes: 1, halfOpenSuccesses: 1 })
    const f = fleet(registry, { redis: url, namespace, instanceId: `r${i}`, heartbeat: 100 })
    return { registry, b, f }
  })
}

/** Two instances on a fresh namespace for `body`, both closed after it, whatever it does. */
async function pair(redis: TestRedis, body: (a: Instance, b: Instance, namespace: string) => Promise<void>): Promise<void> {
  const namespace = ns()
  const [a, b] = instances(redis.url, namespace) as [Instance, Instance]
  try {
    await body(a, b, namespace)
  } finally {
    await Promise.all([a.f.close(), b.f.close()])
  }
}

const fail = () => Promise.reject(new Error('down'))
const toState = (b: CircuitBreaker, to: string) =>
  once<{ to: string }>(
    (l) => b.onStateChange(l),
    (c) => c.to === to,
  )

/** Opens and closes the fleet `rounds` times from `a`, waiting for both instances to apply each. */
async function churn(a: Instance, b: Instance, rounds: number): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    for (const state of ['open', 'closed'] as const) {
      const seen = Promise.all(
        [a, b].map((x) =>
          once<RemoteEvent>(
            (l) => x.f.onRemote(l),
            (e) => e.state === state,
          ),
        ),
      )
      applied(state === 'open' ? await a.f.forceOpen('exchange', '10s') : await a.f.forceClose('exchange'))
      await seen
    }
  }
}
function applied(ok: boolean): void {
  if (!ok) throw new Error('an operator order was not applied')
}

test.serial(
  'Redis losing the fleet hash while connected (FLUSHALL): the next open still reaches every instance, above the generations they hold',
  async (t) => {
    await pair(t.context.redis, async (a, b, namespace) => {
      t.deepEqual(await Promise.all([a.f.join('exchange'), b.f.join('exchange')]), [true, true])
      await churn(a, b, 3)
      t.is(b.f.status().breakers.exchange!.generation, 6)
      t.context.redis.cli('flushall')
      // Before the fix the vote restarted at generation 1: every instance dropped it as stale, and
      // Redis stayed "open" with nobody probing, so every later vote was "already open": wedged.
      const applied = once<RemoteEvent>((l) => b.f.onRemote(l))
      await t.throwsAsync(a.b.execute(fail))
      t.like(await applied, { state: 'open', generation: 7, by: 'r0' })
      t.is(b.b.state, 'forced_open')
      t.is(t.context.redis.cli('hget', `bw:{${namespace}}:breaker:exchange`, 'gen'), '7')
    })
  },
)

test.serial(
  'Redis open at the generation an instance holds closed (an open written over a lost hash) is adopted by the next vote: it gets its probe round instead of swallowing every vote',
  async (t) => {
    const namespace = ns()
    const [a, b] = instances(t.context.redis.url, namespace) as [Instance, Instance]
    const hash = `bw:{${namespace}}:breaker:exchange`
    try {
      await Promise.all([a.f.join('exchange'), b.f.join('exchange')])
      await churn(a, b, 3)
      // What a voter that had not yet heard generation 6 writes after a FLUSHALL: open at 6, a
      // generation every instance holds closed, so they drop its message as stale.
      t.context.redis.cli('flushall')
      const now = Number(t.context.redis.cli('time').split('\n')[0]) * 1000
      t.context.redis.cli('hset', hash, 'gen', '6', 'state', 'open', 'until', String(now + 300), 'reason', 'consecutive_failures', 'by', 'lagging')
      // Before the fix: "already open", nothing else; the open was never enforced nor probed, and
      // every later vote got the same answer. Now the voter adopts it and the round runs.
      const halfOpen = toState(a.b, 'half_open')
      await t.throwsAsync(a.b.execute(fail))
      await halfOpen
      t.true(a.f.status().breakers.exchange!.leaseHeld)
      const closed = once<RemoteEvent>(
        (l) => b.f.onRemote(l),
        (e) => e.state === 'closed',
      )
      t.is(await a.b.execute(() => 'probe'), 'probe')
      t.like(await closed, { generation: 7, reason: 'probe_succeeded' })
      const opened = once<RemoteEvent>(
        (l) => a.f.onRemote(l),
        (e) => e.state === 'open',
      )
      await t.throwsAsync(b.b.execute(fail))
      t.like(await opened, { generation: 8, by: 'r1' })
    } finally {
      await Promise.all([a.f.close(), b.f.close()])
    }
  },
)

test.serial(
  'a probe round Redis forgot (FLUSHALL while forced open) does not leave instances forced open for good: one probes, its success closes the fleet',
  async (t) => {
    await pair(t.context.redis, async (a, b) => {
      await Promise.all([a.f.join('exchange'), b.f.join('exchange')])
      const opened = Promise.all([a, b].map((x) => once<RemoteEvent>((l) => x.f.onRemote(l))))
      t.true(await a.f.forceOpen('exchange', '300ms'))
      await opened
      t.context.redis.cli('flushall')
      // At the deadline both ask for the lease of a round Redis no longer has ({-1}): before the
      // fix they did nothing more and stayed forced open until something else moved the fleet.
      const prober = await Promise.race([toState(a.b, 'half_open').then(() => a), toState(b.b, 'half_open').then(() => b)])
      const other = prober === a ? b : a
      const closed = once<RemoteEvent>(
        (l) => other.f.onRemote(l),
        (e) => e.state === 'closed',
      )
      t.is(await prober.b.execute(() => 'probe'), 'probe')
      t.like(await closed, { state: 'closed', reason: 'probe_succeeded' })
      t.is(other.b.state, 'closed')
    })
  },
)

test.serial(
  'a forged state message ahead of the fleet (redis-cli PUBLISH) cannot wedge an instance: an operator close from another instance ends it',
  async (t) => {
    await pair(t.context.redis, async (a, b, namespace) => {
      await Promise.all([a.f.join('exchange'), b.f.join('exchange')])
      const forged = { v: 1, ns: namespace, t: 'state', b: 'exchange', g: 1_000_000, s: 'open', u: -1, n: 1, r: 'forged', i: 'intruder' }
      const applied = Promise.all([a, b].map((x) => once<RemoteEvent>((l) => x.f.onRemote(l))))
      t.context.redis.cli('publish', `bw:{${namespace}}:events`, JSON.stringify(forged))
      await applied
      t.is(b.b.state, 'forced_open')
      // Before the fix the close went out as generation 1, stale for every instance holding 1,000,000.
      const closed = Promise.all(
        [a, b].map((x) =>
          once<RemoteEvent>(
            (l) => x.f.onRemote(l),
            (e) => e.state === 'closed',
          ),
        ),
      )
      t.true(await a.f.forceClose('exchange'))
      for (const event of await closed) t.like(event, { state: 'closed', generation: 1_000_001, reason: 'operator' })
      t.is(b.b.state, 'closed')
      t.is(a.b.state, 'closed')
    })
  },
)

test.serial('a forged open ahead of the fleet with a deadline plays one probe round and closes again, instead of refusing forever', async (t) => {
  await pair(t.context.redis, async (a, b, namespace) => {
    await Promise.all([a.f.join('exchange'), b.f.join('exchange')])
    const forged = { v: 1, ns: namespace, t: 'state', b: 'exchange', g: 50, s: 'open', u: 0, n: 0, r: 'forged', i: 'intruder' }
    const halfOpen = Promise.race([toState(a.b, 'half_open').then(() => a), toState(b.b, 'half_open').then(() => b)])
    t.context.redis.cli('publish', `bw:{${namespace}}:events`, JSON.stringify(forged))
    const prober = await halfOpen
    const other = prober === a ? b : a
    const closed = once<RemoteEvent>(
      (l) => other.f.onRemote(l),
      (e) => e.state === 'closed',
    )
    t.is(await prober.b.execute(() => 'probe'), 'probe')
    t.like(await closed, { state: 'closed', generation: 51 })
    t.is(other.b.state, 'closed')
  })
})

test.serial(
  "a tampered key (a string where a breaker's hash is: WRONGTYPE inside Lua) fails that breaker's commands only: Redis stays up for the others",
  async (t) => {
    const namespace = ns()
    const [a, b] = instances(t.context.redis.url, namespace) as [Instance, Instance]
    for (const x of [a, b]) x.registry.getOrCreate('ledger', { consecutiveFailures: 1, openFor: '10s' })
    try {
      t.deepEqual(await Promise.all([a.f.join('exchange'), a.f.join('ledger'), b.f.join('ledger')]), [true, true, true])
      const downs: boolean[] = []
      a.f.onRedis((up) => downs.push(up))
      t.context.redis.cli('set', `bw:{${namespace}}:breaker:exchange`, 'garbage')
      // Four votes fail with WRONGTYPE; before the fix the third opened the Redis breaker and took
      // every breaker of the instance local-only (redisUp false), though Redis answered each at once.
      for (let i = 0; i < 4; i++) {
        const failed = once<unknown>((l) => a.f.onError(l))
        a.b.reset()
        await t.throwsAsync(a.b.execute(fail))
        t.regex(String(await failed), /WRONGTYPE/)
      }
      t.true(a.f.status().redisUp)
      t.deepEqual(downs, [])
      const applied = once<RemoteEvent>((l) => a.f.onRemote(l))
      await t.throwsAsync(b.registry.get('ledger')!.execute(fail))
      t.like(await applied, { name: 'ledger', state: 'open' })
      t.is(a.registry.get('ledger')!.state, 'forced_open')
    } finally {
      await Promise.all([a.f.close(), b.f.close()])
    }
  },
)

test.serial('leave then join again: a breaker still forced open by the fleet is closed by the fleet closing meanwhile', async (t) => {
  await pair(t.context.redis, async (a, b) => {
    await Promise.all([a.f.join('exchange'), b.f.join('exchange')])
    const opened = once<RemoteEvent>((l) => b.f.onRemote(l))
    t.true(await a.f.forceOpen('exchange'))
    await opened
    t.true(b.f.leave('exchange'))
    t.is(b.b.state, 'forced_open', 'the open until closed goes on locally')
    t.true(await a.f.forceClose('exchange'))
    t.true(await b.f.join('exchange'))
    // Before the fix the new member did not know the open was the fleet's: forced open for good.
    t.is(b.b.state, 'closed')
    t.like(b.f.status().breakers.exchange, { local: 'closed', fleet: 'closed', generation: 2 })
  })
})

test.serial('leave then join again does not close a breaker the user forced open after leaving', async (t) => {
  await pair(t.context.redis, async (a, b) => {
    await Promise.all([a.f.join('exchange'), b.f.join('exchange')])
    const opened = once<RemoteEvent>((l) => b.f.onRemote(l))
    t.true(await a.f.forceOpen('exchange'))
    await opened
    b.f.leave('exchange')
    b.b.reset()
    b.b.forceOpen()
    t.true(await a.f.forceClose('exchange'))
    t.true(await b.f.join('exchange'))
    t.is(b.b.state, 'forced_open', "the user's own forced open stays")
  })
})

test.serial(
  'after an outage that opened the Redis breaker, every joined breaker syncs again: refused syncs are retried after the next good heartbeat',
  async (t) => {
    const redis = await startRedis() // its own server: this test kills it
    const registry = new Registry()
    const names = ['a0', 'a1', 'a2', 'missed']
    for (const name of names) registry.getOrCreate(name, { consecutiveFailures: 1, openFor: '30s' })
    const f = fleet(registry, { redis: redis.url, namespace: ns(), instanceId: 'r0', heartbeat: 100 })
    const errors: string[] = []
    f.onError((e) => errors.push(String(e)))
    try {
      t.deepEqual(await Promise.all(names.map((n) => f.join(n))), [true, true, true, true])
      await redis.crash()
      // Three local opens while Redis is gone: their votes fail, and the Redis breaker opens.
      for (const name of ['a0', 'a1', 'a2']) await t.throwsAsync(registry.get(name)!.execute(fail))
      await redis.start()
      // The fleet opened `missed` while this instance was away; its message went to nobody, so
      // only a sync can tell. Before the fix the syncs on reconnect met the Redis breaker half-open
      // (one command through: the heartbeat), were refused, and never tried again.
      const namespace = f.status().namespace
      redis.cli('hset', `bw:{${namespace}}:breaker:missed`, 'gen', '1', 'state', 'open', 'until', '-1', 'reason', 'operator', 'by', 'elsewhere')
      const adopted = await once<RemoteEvent>((l) => f.onRemote(l), undefined, 10_000)
      t.like(adopted, { name: 'missed', state: 'open', generation: 1, by: 'elsewhere' })
      t.is(registry.get('missed')!.state, 'forced_open')
      t.true(f.status().redisUp)
    } finally {
      await f.close()
      redis.destroy()
    }
  },
)

test.serial(
  'a breaker removed from the registry and made again is shared once joined again: the fleet opens the new breaker, not the removed one',
  async (t) => {
    await pair(t.context.redis, async (a, b) => {
      await Promise.all([a.f.join('exchange'), b.f.join('exchange')])
      t.true(b.registry.remove('exchange'))
      const again = b.registry.getOrCreate('exchange', { consecutiveFailures: 1, openFor: '10s' })
      // Before the fix this answered true from the old member, and the fleet went on moving the removed breaker.
      t.true(await b.f.join(again))
      const applied = once<RemoteEvent>((l) => b.f.onRemote(l))
      await t.throwsAsync(a.b.execute(fail))
      await applied
      t.is(again.state, 'forced_open')
      t.is(b.b.state, 'closed', 'the removed breaker is left alone')
      t.like(b.f.status().breakers.exchange, { local: 'forced_open', fleet: 'open', generation: 1 })
    })
  },
)

test.serial('close() ends within its bound when Redis hangs (SIGSTOP: QUIT is never answered)', async (t) => {
  const redis = await startRedis() // its own server: this test stops it
  const registry = new Registry()
  registry.getOrCreate('exchange', { consecutiveFailures: 1 })
  const f = fleet(registry, { redis: redis.url, namespace: ns(), instanceId: 'r0', commandTimeout: 300 })
  f.onError(() => undefined)
  const pid = Number(readFileSync(join(redis.dir, 'redis.pid'), 'utf8'))
  try {
    t.true(await f.join('exchange'))
    process.kill(pid, 'SIGSTOP')
    // Before the fix close() awaited QUIT's reply, which never comes: it never resolved.
    const started = performance.now()
    const outcome = await Promise.race([f.close().then(() => 'closed'), new Promise((resolve) => setTimeout(resolve, 5000, 'still waiting'))])
    t.is(outcome, 'closed')
    t.true(performance.now() - started < 2000, `the last words and QUIT are each bounded by the command timeout: ${performance.now() - started} ms`)
  } finally {
    process.kill(pid, 'SIGCONT')
    redis.destroy()
  }
})

test.serial('close() called twice: the second resolves only once the first has closed the connections', async (t) => {
  const registry = new Registry()
  registry.getOrCreate('exchange', { consecutiveFailures: 1 })
  const f = fleet(registry, { redis: t.context.redis.url, namespace: ns(), instanceId: 'r0' })
  t.true(await f.join('exchange'))
  const order: string[] = []
  const first = f.close().then(() => order.push('first'))
  // Before the fix the second call resolved at once, while the first was still sending its last words.
  const second = f.close().then(() => order.push('second'))
  await Promise.all([first, second])
  t.deepEqual(order, ['first', 'second'])
  t.false(f.status().redisUp)
})

test.serial('forceOpen refuses a duration above the 30 days a breaker can be open, with our code', async (t) => {
  const registry = new Registry()
  registry.getOrCreate('exchange', { consecutiveFailures: 1 })
  const f = fleet(registry, { redis: t.context.redis.url, namespace: ns(), instanceId: 'r0' })
  try {
    t.true(await f.join('exchange'))
    // Before the fix it was accepted and published: every instance then threw from inside a Redis
    // event (an uncaught exception) as soon as Redis went away and the open went local.
    t.throws(() => f.forceOpen('exchange', '1000h'), {
      name: 'RangeError',
      code: 'ERR_BREAKWATER_INVALID_OPTION',
      message: /forceOpen duration.*30 days.*3600000000/,
    })
    t.true(await f.forceOpen('exchange', '720h'))
  } finally {
    await f.close()
  }
})

test.serial(
  'a fleet open with more than 30 days left (published by another writer) goes local when Redis dies, without throwing: the breaker stays forced open',
  async (t) => {
    const redis = await startRedis() // its own server: this test kills it
    const registry = new Registry()
    const b = registry.getOrCreate('exchange', { consecutiveFailures: 1 })
    const namespace = ns()
    const f = fleet(registry, { redis: redis.url, namespace, instanceId: 'r0', heartbeat: 100 })
    try {
      t.true(await f.join('exchange'))
      const applied = once<RemoteEvent>((l) => f.onRemote(l))
      const longOpen = { v: 1, ns: namespace, t: 'state', b: 'exchange', g: 1, s: 'open', u: 40 * 86_400_000, n: 0, r: 'operator', i: 'elsewhere' }
      redis.cli('publish', `bw:{${namespace}}:events`, JSON.stringify(longOpen))
      t.like(await applied, { state: 'open', retryAfterMs: 40 * 86_400_000 })
      const down = once<boolean>(
        (l) => f.onRedis(l),
        (up) => !up,
      )
      // Before the fix: RangeError 'remoteOpen duration must be at most ... (30 days)', thrown from
      // the connection's close event, uncaught.
      await redis.crash()
      await down
      t.is(b.state, 'forced_open')
      await t.throwsAsync(
        b.execute(() => 'never'),
        { name: 'BrokenCircuitError' },
      )
    } finally {
      await f.close()
      redis.destroy()
    }
  },
)
