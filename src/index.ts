/**
 * breakwater: fast circuit breakers shared by every thread of a Node.js process.
 *
 * @example
 * import { circuitBreaker, isBrokenCircuitError } from 'breakwater'
 * const marketData = circuitBreaker('market-data', { consecutiveFailures: 5, openFor: '30s' })
 * const quote = await marketData.execute(({ signal }) => fetch(url, { signal }), { timeout: '2s' })
 */
export { CircuitBreaker, type CallContext, type CallEvent, type ExecuteOptions } from './breaker.js'
export { type Duration } from './duration.js'
export { BrokenCircuitError, TimeoutError, isBrokenCircuitError, isTimeoutError } from './errors.js'
export { type Disposer } from './events.js'
export { type LatencyStats, type Metrics } from './metrics.js'
export { type BreakerOptions, type CallPolicy } from './options.js'
export { circuitBreaker, Registry, registry, type RegistryOptions } from './registry.js'
export { type ReasonName, type StateChange, type StateName } from './state.js'
