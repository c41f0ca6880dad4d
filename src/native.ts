// The native half, loaded once per thread; every thread of the process shares its breakers.
export {
  breakerOptions,
  NativeBreaker,
  NativeBulkhead,
  NativeFakeClock,
  NativeRegistry,
  threadFunctions,
  wireFingerprint,
} from '../index.js'
export type { NativeBulkheadStats, NativeOptions, OptionShape, NativeSubscription, NativeTransition } from '../index.js'
