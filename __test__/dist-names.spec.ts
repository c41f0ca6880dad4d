// The built package keeps the names classes were written with: `util.inspect`, logs and
// `error.constructor.name` show `BrokenCircuitError`, never a bundler's `_BrokenCircuitError`.
import test from 'ava'
import { createRequire } from 'node:module'
import { inspect } from 'node:util'

// Built by `npm test` before the specs run; named at run time so type-checking needs no build.
const esm = new URL('../dist/index.js', import.meta.url).href

const require = createRequire(import.meta.url)

for (const [format, load] of [
  ['ESM', () => import(esm) as Promise<Record<string, unknown>>],
  ['CommonJS', async () => require('../dist/index.js') as Record<string, unknown>],
] as const) {
  test(`every exported class of the ${format} build has its own name, and util.inspect shows it`, async (t) => {
    const api = (await load()) as Record<string, unknown>
    const classes = Object.entries(api).filter(([, v]) => typeof v === 'function' && /^class\b/.test(Function.prototype.toString.call(v)))
    t.true(classes.length >= 10, `found ${classes.length} classes`)
    for (const [exported, value] of classes) t.is((value as { name: string }).name, exported)
    const { BrokenCircuitError, BulkheadRejectedError } = api as {
      BrokenCircuitError: { create(b: string, s: string, r: number): Error }
      BulkheadRejectedError: { create(b: string, c: number, q: number): Error }
    }
    t.regex(inspect(BrokenCircuitError.create('orders', 'open', 5)), /^\[BrokenCircuitError: circuit breaker orders is open\]/)
    t.regex(inspect(BulkheadRejectedError.create('pool', 1, 0)), /^\[BulkheadRejectedError: bulkhead pool is full/)
  })
}
