// The fleet's two numbers, in one run (`node --import=tsx bench/fleet.mjs`, after `npm run build`), as JSON:
// - propagation: from a breaker opening in instance A to instance B applying the fleet's open,
//   over a real redis-server on loopback (p50/p99 over ROUNDS transitions; two instances with
//   their own connections, in one process so one clock times both ends);
// - the closed `execute` with the breaker in a fleet and without, interleaved rounds in one
//   process, each case with its own compiled loop (equal within noise is the target: a closed
//   call never touches Redis).
// Without redis-server it prints { skipped } and exits 0. Runs under tsx (`node --import=tsx`):
// the server is the specs' own (`__test__/servers/redis.ts`).
import { hasRedis, startRedis } from '../__test__/servers/redis.ts'

const ROUNDS = Number(process.env.FLEET_BENCH_ROUNDS ?? 200)
const CALLS = Number(process.env.FLEET_BENCH_CALLS ?? 100_000)
const CALL_ROUNDS = Number(process.env.FLEET_BENCH_CALL_ROUNDS ?? 20)

if (!hasRedis()) {
  console.log(JSON.stringify({ bench: 'fleet', skipped: 'redis-server or redis-cli not found (apt-get install -y redis-server)' }))
  process.exit(0)
}

const { Registry } = await import('../dist/index.js')
const { fleet } = await import('../dist/fleet.js')

const redis = await startRedis()
const url = redis.url

const percentile = (values, p) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]
}
const nextRemote = (f, match) =>
  new Promise((resolve) => {
    const stop = f.onRemote((e) => {
      if (!match(e)) return
      stop()
      resolve(performance.now())
    })
  })

const made = []
try {
  // ---- propagation ----
  const instance = (id) => {
    const registry = new Registry()
    registry.getOrCreate('closed-calls', { consecutiveFailures: 5 })
    const breaker = registry.getOrCreate('exchange', { consecutiveFailures: 1, openFor: '30s' })
    const f = fleet(registry, { redis: url, namespace: 'bench', instanceId: id })
    made.push(f)
    return { registry, breaker, f }
  }
  const a = instance('a')
  const b = instance('b')
  await Promise.all([a.f.join('exchange'), b.f.join('exchange')])
  // ---- closed execute, fleet on vs off ----
  // Two breakers alike but for the fleet: same options, each the only one of its kind in its registry.
  const off = new Registry().getOrCreate('closed-calls', { consecutiveFailures: 5 })
  await a.f.join('closed-calls')
  const on = a.registry.get('closed-calls')
  const loop = () =>
    new Function(
      'breaker',
      'calls',
      `return (async () => { const fn = () => 1; const t0 = performance.now(); for (let i = 0; i < calls; i++) await breaker.execute(fn); return (performance.now() - t0) * 1e6 / calls })()`,
    )
  const runOff = loop()
  const runOn = loop()
  await runOff(off, CALLS / 10) // warm-up, both
  await runOn(on, CALLS / 10)
  const offNs = []
  const onNs = []
  for (let r = 0; r < CALL_ROUNDS; r++) {
    // Alternate which goes first, so drift favours neither.
    if (r % 2 === 0) {
      offNs.push(await runOff(off, CALLS))
      onNs.push(await runOn(on, CALLS))
    } else {
      onNs.push(await runOn(on, CALLS))
      offNs.push(await runOff(off, CALLS))
    }
  }

  // ---- propagation (after the calls: its garbage and timers must not weigh on them) ----
  const delays = []
  for (let round = 0; round < ROUNDS; round++) {
    const applied = nextRemote(b.f, (e) => e.state === 'open')
    const opened = new Promise((resolve) => {
      const stop = a.breaker.onOpen(() => {
        stop()
        resolve(performance.now())
      })
    })
    await a.breaker.execute(() => Promise.reject(new Error('down'))).catch(() => undefined)
    delays.push((await applied) - (await opened))
    const closed = Promise.all([nextRemote(a.f, (e) => e.state === 'closed'), nextRemote(b.f, (e) => e.state === 'closed')])
    await a.f.forceClose('exchange')
    await closed
  }

  const median = (v) => percentile(v, 0.5)
  const spread = (v) => (Math.max(...v) - Math.min(...v)) / median(v)
  console.log(
    JSON.stringify(
      {
        bench: 'fleet',
        redis: redis.cli('info', 'server').match(/redis_version:(\S+)/)?.[1] ?? null,
        propagation: { transitions: delays.length, p50Ms: median(delays), p99Ms: percentile(delays, 0.99), maxMs: Math.max(...delays), targetP99Ms: 10 },
        closedExecute: {
          calls: CALLS,
          rounds: CALL_ROUNDS,
          fleetOffNsPerCall: median(offNs),
          fleetOnNsPerCall: median(onNs),
          ratioOnOff: median(onNs) / median(offNs),
          spreadOff: spread(offNs),
          spreadOn: spread(onNs),
        },
      },
      null,
      2,
    ),
  )
} finally {
  await Promise.all(made.map((f) => f.close()))
  redis.destroy()
}
