// Bytes per breaker and idle CPU, one library per process (run with --expose-gc):
//   node --expose-gc bench/memory.mjs <breakwater|breakwater-native|opossum|cockatiel> <count> <idleMs>
// Prints one JSON line. RSS includes native memory (breakwater's breakers live in Rust).
// RSS is read twice: right after the breakers are made, and settled: once V8's memory reducer has
// given back the young generation that the burst of allocations grew (up to 32 MB, whatever the
// library: a process's cost, not a breaker's), which it does at a full collection after a few idle seconds.
// `breakwater-native` keeps only the native half of each breaker (the core's breaker in the
// process-wide registry and the binding's NativeBreaker object), without the TypeScript handle:
// the difference from `breakwater` is what the facade adds.
import { circuitBreaker as bwBreaker } from '../dist/index.js'
import { NativeRegistry } from '../index.js'
import { getHeapSpaceStatistics } from 'node:v8'
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

const newSpace = () => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0
const grownNewSpace = newSpace()
const settleStart = Date.now()
// A full collection gives the young generation back once allocation has been low for a while
// (V8 reads the allocation rate); bounded: a library whose timers keep allocating may never settle.
while (newSpace() > 4 * 2 ** 20 && Date.now() - settleStart < 30_000) {
  await new Promise((resolve) => setTimeout(resolve, 1000))
  globalThis.gc()
}
const settled = settle()

console.log(
  JSON.stringify({
    library,
    count: kept.length,
    heapBytesPerBreaker: (after.heapUsed - before.heapUsed) / count,
    rssBytesPerBreaker: (after.rss - before.rss) / count,
    settledRssBytesPerBreaker: (settled.rss - before.rss) / count,
    newSpaceBytes: { grown: grownNewSpace, settled: newSpace() },
    settleMs: Date.now() - settleStart,
    idleCpuPercent: ((cpu.user + cpu.system) / 1e3 / wallMs) * 100,
  }),
)
process.exit(0) // opossum keeps a timer per breaker; end here instead of waiting for them
