/**
 * `breakwater/fleet`: breaker states shared by every instance of a service over Redis. The only
 * entry that loads ioredis.
 */
export { fleet, type Fleet, type FleetBreakerStatus, type FleetStatus, type RemoteEvent, type VoteEvent } from './fleet.js'
export type { FleetOptions, QuorumOptions } from './options.js'
export type { FleetState } from './member.js'
