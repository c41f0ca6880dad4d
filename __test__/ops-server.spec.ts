// examples/ops-server.ts as a user runs it: a real child process on a free port, every surface
// answered over real HTTP, and a clean exit on SIGTERM.
import test from 'ava'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'

const example = fileURLToPath(new URL('../examples/ops-server.ts', import.meta.url))

test('examples/ops-server.ts serves the routes, the ops routes, the admin route and /metrics, and exits cleanly on SIGTERM', async (t) => {
  const child = spawn(process.execPath, ['--import=tsx', example], {
    env: { ...process.env, PORT: '0', OPS_TOKEN: 'drill-token', FEED_FAILURE_RATE: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  child.stderr.on('data', (d: Buffer) => (err += d))
  const base = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)
      if (m) resolve(m[1]!)
    })
    child.once('exit', (code) => reject(new Error(`exited with ${code}: ${err}`)))
  })
  try {
    for (let i = 0; i < 3; i++) t.is((await fetch(`${base}/quote`)).status, 502, 'the feed fails (FEED_FAILURE_RATE=1)')
    const refused = await fetch(`${base}/quote`)
    t.is(refused.status, 503, 'three failures opened market-data')

    const health = await fetch(`${base}/ops/health`)
    t.is(health.status, 503)
    t.is(health.headers.get('retry-after'), '10')
    t.like(await health.json(), { status: 'down', failing: ['market-data'] })

    const one = await fetch(`${base}/ops/breakers/market-data`)
    t.is(one.status, 503)
    t.like(await one.json(), { name: 'market-data', state: 'open' })

    t.is((await fetch(`${base}/orders`)).status, 200)
    const noToken = await fetch(`${base}/ops/breakers/orders-api/state`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"action":"force_open"}',
    })
    t.is(noToken.status, 401)
    const forced = await fetch(`${base}/ops/breakers/orders-api/state`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer drill-token', 'x-actor': 'alice' },
      body: JSON.stringify({ action: 'force_open', duration: '1m', reason: 'drill' }),
    })
    t.is(forced.status, 200)
    const shed = await fetch(`${base}/orders`)
    t.is(shed.status, 503)
    t.is(shed.headers.get('retry-after'), '60')
    t.like(await shed.json(), { error: 'CircuitBreakerOpen', breaker: 'orders-api' })

    const scrape = await (await fetch(`${base}/metrics`)).text()
    t.regex(scrape, /^breakwater_circuitbreaker_state\{name="market-data",state="open"\} 1$/m)
    t.regex(scrape, /^breakwater_circuitbreaker_state\{name="orders-api",state="forced_open"\} 1$/m)
    t.regex(scrape, /^breakwater_circuitbreaker_transitions_total\{name="market-data",from="closed",to="open"\} 1$/m)

    const all = (await (await fetch(`${base}/ops/breakers`)).json()) as { breakers: Array<{ name: string }> }
    t.deepEqual(
      all.breakers.map((b) => b.name),
      ['market-data', 'orders-api'],
    )
  } finally {
    child.kill('SIGTERM')
  }
  const [code, signal] = await once(child, 'exit')
  t.is(signal, null, 'it ended by itself after SIGTERM: nothing held it open')
  t.is(code, 0, err)
  const lines = out
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
  t.like(
    lines.find((l) => l.breaker === 'market-data'),
    { level: 40, from: 'closed', to: 'open', reason: 'consecutive_failures' },
  )
  t.like(
    lines.find((l) => l.action === 'force_open'),
    { actor: 'alice', result: 'done', breakers: ['orders-api'] },
  )
})
