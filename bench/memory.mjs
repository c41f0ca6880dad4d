// Bytes per breaker and idle CPU, one library per process (run with --expose-gc):
//   node --expose-gc bench/memory.mjs <breakwater|breakwater-native|opossum|cockatiel> <count> <idleMs>
// Prints one JSON line. RSS includes native memory (breakwater's breakers live in Rust).
// `breakwater-native` keeps only the native half of each breaker (the core's breaker in the
// process-wide registry and the binding's NativeBreaker object), without the TypeScript handle:
// the difference from `breakwater` is what the facade adds.
import { circuitBreaker as bwBreaker } from '../dist/index.js'
import { NativeRegistry } from '../index.js'
import { ck, OpossumBreaker } from './peers.mjs'

const [library, countArg, idleArg] = process.argv.slice(2)
const count = Number(countArg)
const idleMs = Number(idleArg)
const fn = async () => 42
const nativeRegistry = NativeRegistry.global()
const make = {
  breakwater: (i) => bwBreaker(`memory-${i}`),
  'breakwater-native': (i) => nativeRegistry.getOrCreate(`memory-${i}`),
  opossum: () => new OpossumBreaker(fn),
  cockatiel: () => ck.circuitBreaker(ck.handleAll, { halfOpenAfter: 10_000, breaker: new ck.ConsecutiveBreaker(5) }),
}[library]

const settle = () => {
  for (let i = 0; i < 4; i++) globalThis.gc()
  return process.memoryUsage()
}
const before = settle()
const kept = []
for (let i = 0; i < count; i++) kept.push(make(i))
const after = settle()

const cpuBefore = process.cpuUsage()
const wallBefore = process.hrtime.bigint()
await new Promise((resolve) => setTimeout(resolve, idleMs))
const cpu = process.cpuUsage(cpuBefore)
const wallMs = Number(process.hrtime.bigint() - wallBefore) / 1e6

console.log(
  JSON.stringify({
    library,
    count: kept.length,
    heapBytesPerBreaker: (after.heapUsed - before.heapUsed) / count,
    rssBytesPerBreaker: (after.rss - before.rss) / count,
    idleCpuPercent: ((cpu.user + cpu.system) / 1e3 / wallMs) * 100,
  }),
)
process.exit(0) // opossum keeps a timer per breaker; end here instead of waiting for them
