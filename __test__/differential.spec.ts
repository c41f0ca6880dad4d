// Seeded random sequences of calls, controls and clock moves on one breaker, checked against the
// invariants every build must keep. The comparison of two builds (before and after a change) is
// `__test__/fixtures/differential.mjs`; it runs here when BREAKWATER_DIFF_OLD names a built
// checkout to compare this one with (`npx tsup` and `npm run build:native` in both).
import test from 'ava'
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { Registry, type StateChange } from '../src/index.ts'
import { FakeClock } from '../src/testing.ts'
import { withFakeTimers } from './timers.ts'

function prng(seed: number) {
  let a = seed >>> 0 || 1
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve))

test.serial('random sequences keep every call counted once, the state and metrics agreeing, and transitions chained and counted', async (t) => {
  await withFakeTimers(async (timers) => {
    let steps = 0
    for (let seed = 1; seed <= 60; seed++) {
      const random = prng(seed)
      const int = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1))
      const clock = new FakeClock()
      const breakers = new Registry({ clock })
      const changes: StateChange[] = []
      breakers.onStateChange((change) => changes.push(change))
      const timeout = random() < 0.3 ? int(5, 60) : undefined
      const breaker = breakers.getOrCreate(`seq-${seed}`, {
        consecutiveFailures: int(1, 3),
        minimumCalls: int(1, 4),
        openFor: int(1, 50),
        halfOpenProbes: int(1, 3),
        halfOpenSuccesses: int(1, 3),
        maxProbeTime: int(5, 100),
        ...(random() < 0.5 ? { slowCallDuration: int(1, 30), slowCallRate: 50 } : {}),
        ...(timeout === undefined ? {} : { timeout }),
      })
      let settled = 0
      let started = 0
      const isolations: { dispose(): void }[] = []
      const call = (p: Promise<unknown>) => {
        started++
        p.then(
          () => settled++,
          () => settled++,
        )
      }
      for (let step = 0; step < 80; step++, steps++) {
        const r = random()
        const delay = int(0, 40)
        if (r < 0.45) {
          const fail = random() < 0.4
          const controller = random() < 0.15 ? new AbortController() : undefined
          call(
            breaker.execute(
              ({ signal }) =>
                new Promise((resolve, reject) => {
                  const timer = setTimeout(() => (fail ? reject(new Error('down')) : resolve(1)), delay)
                  // Without a timeout or a caller signal, the signal is one that never aborts: no listener.
                  if (controller || timeout !== undefined) signal.addEventListener('abort', () => (clearTimeout(timer), reject(signal.reason)))
                }),
              controller ? { signal: controller.signal } : undefined,
            ),
          )
          if (controller && random() < 0.5) controller.abort()
        } else if (r < 0.6) {
          try {
            breaker.executeSync(() => {
              if (random() < 0.4) throw new Error('down')
            })
          } catch {}
        } else if (r < 0.8) {
          const ms = int(0, 60)
          clock.advance(ms)
          await timers.tickAsync(ms)
        } else {
          const c = int(0, 6)
          if (c === 0) breaker.forceOpen(random() < 0.5 ? int(1, 50) : undefined)
          else if (c === 1) breaker.reset()
          else if (c === 2) breaker.halfOpen()
          else if (c === 3) breaker.holdOff(int(0, 50))
          else if (c === 4) isolations.push(breaker.isolate())
          else if (c === 5) isolations.shift()?.dispose()
          else breaker.disable()
        }
        await turn()
        const m = breaker.metrics()
        const where = `seed ${seed} step ${step}`
        t.is(m.calls, m.successes + m.failures + m.ignored + m.rejections + m.inFlight, `${where}: calls conserved`)
        t.true(m.inFlight >= 0, where)
        t.is(m.state, breaker.state, `${where}: metrics and state agree`)
        t.is(
          m.transitions.reduce((n, x) => n + x.count, 0),
          changes.length,
          `${where}: every transition heard once`,
        )
        if (changes.length > 0) t.is(changes.at(-1)!.to, breaker.state, `${where}: the last change ends at the state`)
        for (let i = 1; i < changes.length; i++) if (changes[i]!.from !== changes[i - 1]!.to) t.fail(`${where}: change ${i} not chained`)
      }
      await timers.tickAsync(10_000)
      for (let i = 0; i < 5; i++) await turn()
      t.is(settled, started, `seed ${seed}: every call settled`)
      t.is(breaker.metrics().inFlight, 0, `seed ${seed}: nothing left in flight`)
    }
    t.is(steps, 60 * 80)
  })
})

const old = process.env.BREAKWATER_DIFF_OLD
;(old ? test : test.skip)('this build behaves as the build in BREAKWATER_DIFF_OLD on seeded random sequences (set it to run)', (t) => {
  const harness = fileURLToPath(new URL('./fixtures/differential.mjs', import.meta.url))
  const root = fileURLToPath(new URL('..', import.meta.url))
  const out = execFileSync(process.execPath, [harness, old!, root, '300', '80'], { encoding: 'utf8', timeout: 120_000 })
  t.regex(out, /300 sequences, 24000 operations compared, 0 diverged/)
})
