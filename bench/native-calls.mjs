// What one crossing into the addon costs: the bound hot-path functions that `execute` uses,
// against the same calls as napi-rs class methods. One process; read the ratio.
//   node bench/native-calls.mjs [calls=500000]
import { NativeRegistry } from '../index.js'

const calls = Number(process.argv[2] ?? 500_000)
const breaker = NativeRegistry.global().getOrCreate('native-calls-bench')
const [acquire, record, permitted] = breaker.boundFunctions()

function time(label, call) {
  for (let i = 0; i < 20_000; i++) call()
  const start = process.hrtime.bigint()
  for (let i = 0; i < calls; i++) call()
  const ns = Number(process.hrtime.bigint() - start) / calls
  console.log(`${label.padEnd(40)} ${ns.toFixed(0).padStart(5)} ns`)
  return ns
}

const method = time('methods: tryAcquire + record', () => breaker.record(breaker.tryAcquire(), 0, 0.001))
const bound = time('bound functions: acquire + record', () => record(acquire(), 0, 0.001))
time('method: isCallPermitted (one crossing)', () => breaker.isCallPermitted())
time('bound function: permitted (one crossing)', () => permitted())
console.log(`\nbound / methods: ${(bound / method).toFixed(2)}`)
const m = breaker.metrics()
console.log(`every permit reported: ${m.inFlight === 0 && m.calls === m.successes}`)
