// The native half, loaded once per thread; every thread of the process shares its breakers.
export { NativeBreaker, NativeBulkhead, NativeFakeClock, NativeRegistry, wireFingerprint } from '../index.js'
export type { NativeBulkheadStats, NativeOptions, NativeSubscription, NativeTransition } from '../index.js'
