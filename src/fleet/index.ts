/**
 * `breakwater/fleet`: breaker states shared by every instance of a service over Redis. The only
 * entry that loads ioredis.
 */
export { fleet } from './fleet.js'
export type { Fleet, FleetBreakerStatus, FleetStatus, RemoteEvent, VoteEvent } from './types.js'
export type { FleetOptions, QuorumOptions } from './options.js'
export type { FleetState } from './member.js'
