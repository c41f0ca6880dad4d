// Quick side-by-side: overhead of a closed `execute` and cost of a rejected one, for breakwater,
// opossum and cockatiel, against a bare `await fn()`, in one process. Rounds are interleaved and
// the median is reported; read the ratios, not the absolute times. The full suite is `npm run bench`.
//   node bench/quick.mjs [callsPerRound=100000] [rounds=9]
import { circuitBreaker as bwBreaker } from '../dist/index.js'
import OpossumBreaker from 'opossum'
import { circuitBreaker as ckBreaker, ConsecutiveBreaker, handleAll } from 'cockatiel'

const calls = Number(process.argv[2] ?? 100_000)
const rounds = Number(process.argv[3] ?? 9)
const fn = async () => 42
const HOUR = 3_600_000

const bw = bwBreaker('quick-bench', { consecutiveFailures: 5 })
const bwOpen = bwBreaker('quick-bench-open')
bwOpen.forceOpen()
const opossum = new OpossumBreaker(fn)
const opossumNoTimeout = new OpossumBreaker(fn, { timeout: false })
const opossumOpen = new OpossumBreaker(fn, { resetTimeout: HOUR }) // must not half-open mid-run
opossumOpen.open()
const cockatiel = ckBreaker(handleAll, { halfOpenAfter: 10_000, breaker: new ConsecutiveBreaker(5) })
const cockatielOpen = ckBreaker(handleAll, { halfOpenAfter: 10_000, breaker: new ConsecutiveBreaker(5) })
cockatielOpen.isolate()

const cases = {
  bare: () => fn(),
  'breakwater execute': () => bw.execute(fn),
  'opossum fire (default)': () => opossum.fire(),
  'opossum fire (timeout: false)': () => opossumNoTimeout.fire(),
  'cockatiel execute (ConsecutiveBreaker)': () => cockatiel.execute(fn),
  'breakwater rejected': () => bwOpen.execute(fn).catch(() => 0),
  'opossum rejected': () => opossumOpen.fire().catch(() => 0),
  'cockatiel rejected': () => cockatielOpen.execute(fn).catch(() => 0),
}

const samples = Object.fromEntries(Object.keys(cases).map((k) => [k, []]))
for (let round = 0; round < rounds; round++) {
  for (const [name, call] of Object.entries(cases)) {
    const start = process.hrtime.bigint()
    for (let i = 0; i < calls; i++) await call()
    samples[name].push(Number(process.hrtime.bigint() - start) / calls)
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const ns = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v.slice(1))]))
const over = (k) => ns[k] - ns.bare
console.log(`node ${process.version}, ${calls} calls x ${rounds} rounds (first round dropped), median ns per call\n`)
for (const k of Object.keys(cases)) {
  const extra = k === 'bare' || k.includes('rejected') ? '' : `  overhead ${over(k).toFixed(0)} ns`
  console.log(`${k.padEnd(40)} ${ns[k].toFixed(0).padStart(6)} ns${extra}`)
}
const ratio = (a, b) => (a / b).toFixed(2)
console.log(`\nclosed overhead: breakwater/opossum ${ratio(over('breakwater execute'), over('opossum fire (default)'))}, ` +
  `breakwater/cockatiel ${ratio(over('breakwater execute'), over('cockatiel execute (ConsecutiveBreaker)'))}`)
console.log(`rejection: breakwater/opossum ${ratio(ns['breakwater rejected'], ns['opossum rejected'])}, ` +
  `breakwater/cockatiel ${ratio(ns['breakwater rejected'], ns['cockatiel rejected'])}`)
