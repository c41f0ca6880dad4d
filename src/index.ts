/**
 * breakwater: fast circuit breakers shared by every thread of a Node.js process.
 *
 * @example
 * import { circuitBreaker, isBrokenCircuitError } from 'breakwater'
 * const marketData = circuitBreaker('market-data', { consecutiveFailures: 5, openFor: '30s' })
 * const quote = await marketData.execute(({ signal }) => fetch(url, { signal }), { timeout: '2s' })
 */
export { CircuitBreaker, type CallContext, type ExecuteOptions } from './breaker.js'
export type { Duration } from './duration.js'
export {
  BrokenCircuitError,
  BulkheadRejectedError,
  TimeoutError,
  isBrokenCircuitError,
  isBulkheadRejectedError,
  isTimeoutError,
} from './errors.js'
export type { CallEvent, Disposer } from './events.js'
export type { LatencyStats, Metrics, TransitionCount } from './metrics.js'
export type { BreakerOptions, CallPolicy } from './options.js'
export { circuitBreaker, Registry, registry, type RegistryOptions } from './registry.js'
export type { BreakerRecord, RegistrySnapshot, RestoreOptions, RestoreResult } from './snapshot.js'
export type { AdaptiveChange, AdaptiveLatency, AdaptiveOptions, Explanation, InjectionSource, WouldOpenEvent } from './adaptive.js'
export type { ReasonName, StateChange, StateName } from './state.js'
export { backoff, type Backoff, type BackoffOptions, type BackoffStrategy } from './policies/backoff.js'
export { RetryBudget, type RetryBudgetOptions } from './policies/budget.js'
export { bulkhead, Bulkhead, type BulkheadCallOptions, type BulkheadOptions, type BulkheadStats } from './policies/bulkhead.js'
export { fallback, FallbackPolicy, type FallbackOptions } from './policies/fallback.js'
export type { ContextOf, FallbackOf, Policy, PolicyCallOptions } from './policies/policy.js'
export { retry, RetryPolicy, type GiveUpEvent, type RetryContext, type RetryEvent, type RetryOptions, type RetryStats } from './policies/retry.js'
export { timeout, TimeoutPolicy, type TimeoutOptions } from './policies/timeout.js'
export {
  chaos,
  ChaosPolicy,
  type BreakerLookup,
  type ChaosContext,
  type ChaosInjectEvent,
  type ChaosKind,
  type ChaosOptions,
  type ChaosStats,
  type ChaosStopCheck,
  type ChaosStopEvent,
  type ChaosStopReason,
  type ChaosStopWhen,
  type WatchedBreaker,
} from './policies/chaos.js'
export { wrap, WrappedPolicy, type MergedContext } from './policies/wrap.js'
export {
  recoveryManager,
  RecoveryManager,
  type HealthCheck,
  type HealthCheckEvent,
  type HealthCheckResult,
  type RecoverableBreaker,
  type RecoveryOptions,
} from './presets/recovery.js'
export { services, Services, type Service, type ServiceHealth, type ServiceOptions } from './presets/services.js'
export { tradingPause, type TradingPauseOptions } from './presets/trading.js'
export { api, ApiClient, isApiFailure, type ApiOptions, type ApiRequest, type RequestOptions } from './adapters/api.js'
export { HttpError, isHttpError, isResponseTooLargeError, ResponseTooLargeError } from './adapters/http-error.js'
export {
  database,
  isTransientDatabaseError,
  PgDatabase,
  SqliteDatabase,
  type DatabaseOptions,
  type PgClientLike,
  type PgClientOf,
  type PgPoolLike,
  type PgResult,
  type QueryOptions,
  type SqliteLike,
} from './adapters/database.js'
export { CommitUnknownError, isCommitUnknownError } from './adapters/database.js'
export {
  isNonFiniteOutputError,
  neural,
  NeuralModel,
  NonFiniteOutputError,
  type FeedsOf,
  type ModelRunner,
  type NeuralOptions,
  type OutputsOf,
} from './adapters/neural.js'
export {
  isSandboxFailure,
  isSandboxStoppedError,
  sandbox,
  SandboxPool,
  SandboxStoppedError,
  type ExecutionOf,
  type SandboxStopReason,
  type SandboxCallOptions,
  type SandboxClientLike,
  type SandboxLike,
  type SandboxOptions,
} from './adapters/sandbox.js'
export { TRADING_PRESETS, tradingSystem, type TradingServiceHealth, type TradingSystem, type TradingSystemOptions } from './presets/trading-system.js'
