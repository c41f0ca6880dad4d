// The native half, loaded once per thread; every thread of the process shares its breakers.
export { NativeBreaker, NativeBulkhead, NativeFakeClock, NativeRegistry, reasonNames, stateNames } from '../index.js'
export type { NativeBulkheadStats, NativeMetrics, NativeOptions, NativeSubscription, NativeTransition } from '../index.js'
