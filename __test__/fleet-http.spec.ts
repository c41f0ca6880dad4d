// The admin route's "scope": "fleet": an operator's close or force_open sent through Redis to
// every instance, over a real node:http server and a real redis-server.
import anyTest, { type TestFn } from 'ava'
import { Registry } from '../src/index.ts'
import { fleet, type RemoteEvent } from '../src/fleet/index.ts'
import { breakwaterHttp } from '../src/ops/http.ts'
import { post, serve, TOKEN } from './fixtures/ops-http-rig.ts'
import { startRedis, type TestRedis, withRedis } from './servers/redis.ts'

const test = withRedis(anyTest as TestFn<{ redis: TestRedis }>)
test.before(async (t) => {
  t.context.redis = await startRedis()
})
test.after.always((t) => t.context.redis?.destroy())

let unhandled = 0
const onUnhandled = () => unhandled++
test.before(() => process.on('unhandledRejection', onUnhandled))
test.after.always(() => process.off('unhandledRejection', onUnhandled))
test.after('no fleet admin request left an unhandled rejection', (t) => t.is(unhandled, 0))

function instance(url: string, namespace: string, id: string) {
  const registry = new Registry()
  const breaker = registry.getOrCreate('exchange')
  const f = fleet(registry, { redis: url, namespace, instanceId: id })
  return { registry, breaker, f }
}

const next = (f: { onRemote(l: (e: RemoteEvent) => void): () => void }) =>
  new Promise<RemoteEvent>((resolve) => {
    const stop = f.onRemote((e) => {
      stop()
      resolve(e)
    })
  })

test.serial('POST /breakers/:name/state with scope fleet force-opens and closes the breaker on every instance', async (t) => {
  const here = instance(t.context.redis.url, 'http-fleet', 'here')
  const there = instance(t.context.redis.url, 'http-fleet', 'there')
  const logged: Record<string, unknown>[] = []
  const server = await serve('node:http', breakwaterHttp(here.registry, { token: TOKEN, fleet: here.f, log: (e) => logged.push(e as never) }))
  try {
    await Promise.all([here.f.join('exchange'), there.f.join('exchange')])
    const url = `${server.base}/breakers/exchange/state`
    const opened = next(there.f)
    const open = await post(url, { action: 'force_open', scope: 'fleet', duration: '30s', reason: 'exchange maintenance' })
    t.is(open.status, 200)
    t.like(open.json, { action: 'force_open', scope: 'fleet', name: 'exchange', status: 200 })
    t.like(await opened, { state: 'open', reason: 'operator', by: 'here' })
    t.is(there.breaker.state, 'forced_open')
    const closed = next(there.f)
    t.is((await post(url, { action: 'close', scope: 'fleet' })).status, 200)
    t.like(await closed, { state: 'closed', reason: 'operator' })
    t.is(there.breaker.state, 'closed')
    t.like(logged.at(-1), { action: 'close', scope: 'fleet', status: 200 })

    const many = await post(`${server.base}/breakers/state`, { action: 'force_open', scope: 'fleet', names: ['exchange'] })
    t.is(many.status, 200)
    t.deepEqual(many.json.results, [{ name: 'exchange', status: 200 }])

    for (const [body, message] of [
      [{ action: 'disable', scope: 'fleet' }, /^scope "fleet" takes the actions close and force_open, but action is disable/],
      [{ action: 'close', scope: 'planet' }, /^scope must be "local" or "fleet", but was "planet"/],
      [{ action: 'close', scope: 'fleet', tmeout: 1 }, /^tmeout is not an admin request option/],
    ] as const) {
      const reply = await post(url, body)
      t.is(reply.status, 400)
      t.regex(reply.json.message, message)
    }
    const local = await post(url, { action: 'close', scope: 'local' })
    t.is(local.status, 200, 'scope local is this process, as without a scope')
  } finally {
    server.close()
    await Promise.all([here.f.close(), there.f.close()])
  }
})

test.serial('scope fleet without a fleet is a 400; with Redis unreachable a 503, and nothing is thrown', async (t) => {
  const registry = new Registry()
  registry.getOrCreate('exchange')
  const plain = await serve('node:http', breakwaterHttp(registry, { token: TOKEN, log: false }))
  const unreachable = fleet(registry, { redis: 'redis://127.0.0.1:1', namespace: 'nowhere', commandTimeout: 200 })
  const down = await serve('node:http', breakwaterHttp(registry, { token: TOKEN, log: false, fleet: unreachable }))
  try {
    const none = await post(`${plain.base}/breakers/exchange/state`, { action: 'close', scope: 'fleet' })
    t.is(none.status, 400)
    t.regex(none.json.message, /needs a fleet: pass breakwaterHttp the fleet option/)
    const failed = await post(`${down.base}/breakers/exchange/state`, { action: 'force_open', scope: 'fleet' })
    t.is(failed.status, 503)
    t.like(failed.json, { error: 'ServiceUnavailable', scope: 'fleet', status: 503 })
    t.throws(() => breakwaterHttp(registry, { fleet: {} as never }), {
      code: 'ERR_BREAKWATER_INVALID_OPTION',
      message: /fleet must be a fleet from breakwater\/fleet/,
    })
  } finally {
    plain.close()
    down.close()
    await unreachable.close()
  }
})
