// Issue 11, part 3, faults: clients of a protected server leave at random points of their
// requests (before the server saw them, while the route works, while it hangs, as the answer
// goes out), many at once, on node:http, Express 5 and Fastify 5. Every call the breaker let
// through ends in exactly one outcome, no permit is left in flight, every client request ends,
// and nothing goes unhandled. PROTECT_FAULT_REQUESTS=5000 runs longer.
import test from 'ava'
import { protect } from '../src/ops/http.ts'
import { fetchPath, SERVERS, type Kit } from './fixtures/ops-protect-servers.ts'
import { rig } from './helpers.ts'
import { turn, until } from './timers.ts'

const REQUESTS = Number(process.env.PROTECT_FAULT_REQUESTS ?? 300)
const AT_ONCE = 24

let unhandled = 0
process.on('unhandledRejection', () => unhandled++)

/** A small seeded generator, so a failing run can be replayed with its seed. */
function random(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let x = Math.imul(s ^ (s >>> 15), 1 | s)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4_294_967_296
  }
}

const ROUTES = ['/ok', '/slow', '/boom', '/status/503', '/status/404', '/hang', '/downstream', '/bad-input']

for (const kind of SERVERS) {
  test(`${kind.name}: clients that leave at random points leave every call with exactly one outcome and no permit in flight`, async (t) => {
    const seed = Number(process.env.PROTECT_FAULT_SEED ?? Date.now() % 1_000_000)
    t.log(`seed ${seed}, ${REQUESTS} requests`)
    const next = random(seed)
    const { clock, breakers, name } = rig()
    // Opens now and then (three quarters of the window failing), so refusals are part of the mix too.
    const breaker = breakers.getOrCreate(name, {
      consecutiveFailures: false,
      failureRate: 75,
      minimumCalls: 20,
      windowSize: 20,
      openFor: '1s',
      openMultiplier: 1,
    })
    const downstream = breakers.getOrCreate(`${name}-quotes`)
    downstream.forceOpen()
    const kit: Kit = { downstream, hits: new Map(), onHang: () => {} }
    const running = await kind.start(protect(breaker), kit)
    let ended = 0
    let answered = 0
    try {
      const one = async () => {
        const path = ROUTES[Math.floor(next() * ROUTES.length)]!
        // A hanging route ends only when its client leaves; the others, one time in three.
        const leaveAfter = path === '/hang' || next() < 0.33 ? Math.floor(next() * 8) : -1
        const { answer, request } = fetchPath(running.url, path)
        const outcome = answer.then(
          () => answered++,
          () => undefined,
        )
        if (leaveAfter >= 0) {
          for (let i = 0; i < leaveAfter; i++) await turn()
          request.destroy()
        }
        await outcome
        ended++
        if (next() < 0.1) clock.advance('1s') // an open breaker half-opens now and then
      }
      const started = performance.now()
      for (let i = 0; i < REQUESTS; i += AT_ONCE) {
        await Promise.all(Array.from({ length: Math.min(AT_ONCE, REQUESTS - i) }, one))
      }
      await until(() => breaker.metrics().inFlight === 0, 200_000)
      const m = breaker.metrics()
      t.log(
        `${Math.round(performance.now() - started)} ms; answered ${answered}; ${JSON.stringify({ calls: m.calls, successes: m.successes, failures: m.failures, ignored: m.ignored, rejections: m.rejections })}`,
      )
      t.is(ended, REQUESTS, 'every client request ended')
      t.is(m.inFlight, 0, 'no permit left in flight')
      t.is(m.calls, m.successes + m.failures + m.ignored + m.rejections, 'every call counted exactly once')
      t.true(m.ignored > 0, 'some clients left mid-request')
      t.true(m.failures > 0 && m.successes > 0)
      t.is(unhandled, 0)
    } finally {
      await running.close()
    }
  })
}
