// Where the time of a call goes, in one process, interleaved rounds, median ns per call:
// the floors a breaker whose state lives in native memory cannot go below, next to the peers.
//   node bench/breakdown.mjs [rounds=9]
import { circuitBreaker as ckBreaker, ConsecutiveBreaker, handleAll } from 'cockatiel'
import { circuitBreaker } from '../dist/index.js'
import { stacklessError } from './contenders.mjs'

const rounds = Number(process.argv[2] ?? 9)
const fn = async () => 42
const syncFn = () => 42
const swallow = () => 0
const HOUR = 3_600_000

const bw = circuitBreaker('breakdown-closed')
const bwOpen = circuitBreaker('breakdown-open')
bwOpen.forceOpen()
const crossing = bw.isCallPermitted.bind(bw) // one call into the addon through a bound native function
const cockatiel = ckBreaker(handleAll, { halfOpenAfter: HOUR, breaker: new ConsecutiveBreaker(5) })
const cockatielOpen = ckBreaker(handleAll, { halfOpenAfter: HOUR, breaker: new ConsecutiveBreaker(5) })
cockatielOpen.isolate()
let failures = 0
const minimal = async (f) => {
  if (failures >= 5) throw new Error('open')
  const value = await f()
  failures = 0
  return value
}
const minimalCrossing = async (f) => {
  if (!crossing()) throw new Error('open')
  const value = await f()
  crossing() // stands for reporting the outcome
  return value
}
const premade = new Error('premade')

const cases = [
  ['async', 'bare await fn()', () => fn()],
  ['async', 'minimal JS breaker (a counter)', () => minimal(fn)],
  ['async', 'minimal JS breaker + 2 native calls', () => minimalCrossing(fn)],
  ['async', 'cockatiel ConsecutiveBreaker', () => cockatiel.execute(fn)],
  ['async', 'breakwater execute', () => bw.execute(fn)],
  ['sync', 'bare fn()', () => syncFn()],
  ['sync', 'one native call (isCallPermitted)', () => crossing()],
  ['sync', 'breakwater executeSync', () => bw.executeSync(syncFn)],
  ['reject', 'Promise.reject(premade error), caught', () => Promise.reject(premade).catch(swallow)],
  ['reject', 'new Error without a stack trace', async () => stacklessError()],
  ['reject', 'breakwater refused, caught', () => bwOpen.execute(fn).catch(swallow)],
  ['reject', 'cockatiel refused, caught', () => cockatielOpen.execute(fn).catch(swallow)],
]
const samples = cases.map(() => [])
for (let r = 0; r < rounds; r++) {
  for (const [i, [kind, , f]] of cases.entries()) {
    const n = kind === 'sync' ? 2_000_000 : kind === 'reject' ? 50_000 : 200_000
    const start = process.hrtime.bigint()
    if (kind === 'sync') for (let k = 0; k < n; k++) f()
    else for (let k = 0; k < n; k++) await f()
    samples[i].push(Number(process.hrtime.bigint() - start) / n)
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
console.log(`node ${process.version}, ${rounds} interleaved rounds (first dropped), median ns per call\n`)
for (const [i, [kind, name]] of cases.entries()) console.log(`${kind.padEnd(7)} ${name.padEnd(42)} ${median(samples[i].slice(1)).toFixed(1).padStart(8)}`)
