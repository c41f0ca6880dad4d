// Same-process A/B of the hot path: another build of breakwater (before) against this one (after),
// both loaded in one process, interleaved rounds, a loop compiled per case, median ns per call.
//   git worktree add --detach /tmp/before <commit> && (cd /tmp/before && npm install && npm run build)
//   node bench/ab.mjs /tmp/before/dist/index.js [rounds=11]
import { fileURLToPath, pathToFileURL } from 'node:url'

const [beforePath, roundsArg] = process.argv.slice(2)
if (!beforePath) throw new Error("usage: node bench/ab.mjs <path to the other build's dist/index.js> [rounds]")
const before = await import(pathToFileURL(beforePath).href)
const after = await import(fileURLToPath(new URL('../dist/index.js', import.meta.url)))
const rounds = Number(roundsArg ?? 11)
const fn = async () => 42
const syncFn = () => 42
const loop = (body) => new Function('b', 'fn', 'n', `return (async () => { for (let i = 0; i < n; i++) ${body} })()`)
const cases = [
  ['bare await fn()', loop('await fn()'), null, fn, 50_000],
  ['execute, before', loop('await b.execute(fn)'), before.circuitBreaker('ab-b'), fn, 50_000],
  ['execute, after', loop('await b.execute(fn)'), after.circuitBreaker('ab-a'), fn, 50_000],
  ['timeout 10s, before', loop('await b.execute(fn)'), before.circuitBreaker('ab-bt', { timeout: 10000 }), fn, 20_000],
  ['timeout 10s, after', loop('await b.execute(fn)'), after.circuitBreaker('ab-at', { timeout: 10000 }), fn, 20_000],
  ['per-call opts, before', loop('await b.execute(fn, { timeout: 10000 })'), before.circuitBreaker('ab-bo'), fn, 20_000],
  ['per-call opts, after', loop('await b.execute(fn, { timeout: 10000 })'), after.circuitBreaker('ab-ao'), fn, 20_000],
  ['executeSync, before', loop('b.executeSync(fn)'), before.circuitBreaker('ab-bs'), syncFn, 500_000],
  ['executeSync, after', loop('b.executeSync(fn)'), after.circuitBreaker('ab-as'), syncFn, 500_000],
]
const samples = cases.map(() => [])
for (let r = 0; r < rounds; r++) {
  for (const [i, [, run, b, f, n]] of cases.entries()) {
    const start = process.hrtime.bigint()
    await run(b, f, n)
    samples[i].push(Number(process.hrtime.bigint() - start) / n)
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const ns = samples.map((xs) => median(xs.slice(1))) // the first round warms up
for (const [i, [label]] of cases.entries()) console.log(`${label.padEnd(24)} ${ns[i].toFixed(1).padStart(8)} ns`)
const overhead = (i) => ns[i] - ns[0]
console.log(
  `after/before: execute overhead ${(overhead(2) / overhead(1)).toFixed(2)}, with a timeout ${(overhead(4) / overhead(3)).toFixed(2)}, ` +
    `per-call options ${(overhead(6) / overhead(5)).toFixed(2)}, executeSync ${(ns[8] / ns[7]).toFixed(2)}`,
)
