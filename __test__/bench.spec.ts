// The benchmark cases still load and do what they claim (one batch each); no timing here.
import test from 'ava'

test('every benchmark case runs, and the breakwater cases go through the breaker', async (t) => {
  // @ts-expect-error: a plain .mjs module without types
  const { BATCH, contenders } = await import('../bench/contenders.mjs')
  const cases = contenders() as Array<{ suite: string; library: string; run: () => unknown }>
  t.true(cases.length >= 12)
  for (const c of cases) await c.run()
  const { circuitBreaker } = await import('../src/index.ts')
  t.like(circuitBreaker('bench-closed').metrics(), { calls: 2 * BATCH, successes: 2 * BATCH })
  t.like(circuitBreaker('bench-open').metrics(), { rejections: BATCH, state: 'forced_open' })
  t.like(circuitBreaker('bench-closed-timed').metrics(), { calls: BATCH, successes: BATCH })
  t.like(circuitBreaker('bench-composed').metrics(), { calls: BATCH, successes: BATCH })
})
