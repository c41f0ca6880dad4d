// `npm start`: a breaker opens on failures, rejects, probes and closes, with its metrics.
import { circuitBreaker, isBrokenCircuitError } from '../src/index.ts'

const quotes = circuitBreaker('quick-start-quotes', {
  consecutiveFailures: 3,
  openFor: '200ms',
  halfOpenSuccesses: 2,
  timeout: '1s',
  trackLatency: true,
})
quotes.onStateChange(({ from, to, reason }) => console.log(`  state: ${from} -> ${to} (${reason})`))

let healthy = false
const fetchQuote = async () => {
  if (!healthy) throw new Error('market data feed is down')
  return 101.25
}
const attempt = async (label: string) => {
  try {
    console.log(`${label}: quote ${await quotes.execute(fetchQuote)}`)
  } catch (e) {
    const why = isBrokenCircuitError(e) ? `rejected, retry in ${e.retryAfterMs} ms` : (e as Error).message
    console.log(`${label}: ${why}`)
  }
}

console.log('The feed fails three times in a row:')
for (let i = 1; i <= 3; i++) await attempt(`call ${i}`)
console.log('The breaker is open, so calls are refused without touching the feed:')
await attempt('call 4')
console.log('The feed recovers; after the open duration the next calls probe it:')
healthy = true
await new Promise((resolve) => setTimeout(resolve, 250))
await attempt('probe 1')
await attempt('probe 2')
await attempt('call 7')

const m = quotes.metrics()
console.log('\nMetrics:', {
  state: m.state,
  calls: m.calls,
  successes: m.successes,
  failures: m.failures,
  rejections: m.rejections,
  timesOpened: m.timesOpened,
  p99Ms: m.latency?.p99.toFixed(3),
})
