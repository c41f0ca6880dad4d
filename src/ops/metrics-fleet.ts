/**
 * The fleet's series (issue 12) for breakwater/prometheus and breakwater/otel, read from a
 * fleet's `status()` once per scrape or collection. Described by shape only: this module never
 * imports breakwater/fleet (nor ioredis); the user passes the fleet they made.
 */
import type { BatchObservableResult, Meter, Observable } from '@opentelemetry/api'
import type { Emit, FamilySpec, Labels } from './metrics-prometheus-families.js'
import { checkMethods } from './metrics-sources.js'

/** What the collectors read of a fleet: what `fleet()` of breakwater/fleet returns. */
export interface FleetSource {
  status(): FleetStatusView
}

/** The part of a fleet's status the series show. */
export interface FleetStatusView {
  namespace: string
  instanceId: string
  redisUp: boolean
  instancesAlive: number
  errors: number
  applied: number
  dropped: Readonly<Record<string, number>>
  breakers: Readonly<Record<string, { fleet: string; generation: number; votes: number; leaseHeld: boolean }>>
}

/** The `fleet` option, checked: something with `status()`. */
export function readFleet(value: unknown): FleetSource {
  checkMethods('fleet', value, ['status'])
  return value as FleetSource
}

/** One status per scrape: every family of one scrape reads the same one. */
function perScrape(fleet: FleetSource): () => FleetStatusView {
  let cached: FleetStatusView | undefined
  return () => {
    if (cached) return cached
    cached = fleet.status()
    queueMicrotask(() => {
      cached = undefined
    })
    return cached
  }
}

type Put = Parameters<Emit>[0]

function family(
  name: string,
  type: 'counter' | 'gauge',
  help: string,
  emit: (put: Put, s: FleetStatusView, base: Labels) => void,
  read: () => FleetStatusView,
): FamilySpec {
  return {
    name,
    type,
    help,
    aggregator: type === 'counter' ? 'sum' : 'max',
    emit: (put) => {
      const s = read()
      emit(put, s, { namespace: s.namespace, instance: s.instanceId })
    },
  }
}

/**
 * Prometheus families of a fleet (labels `namespace`, `instance`, and `name` per breaker):
 * `fleet_redis_up`, `fleet_instances_alive`, `fleet_votes{name}` (votes in the window at the last
 * vote heard), `fleet_generation{name}`, `fleet_open{name}` (1 while the fleet is open),
 * `fleet_probe_lease_held{name}`, `fleet_dropped_messages_total{reason}`,
 * `fleet_applied_messages_total`, `fleet_errors_total`.
 */
export function fleetFamilies(fleet: FleetSource): FamilySpec[] {
  const read = perScrape(fleet)
  const perBreaker = (name: string, type: 'gauge', help: string, value: (b: FleetStatusView['breakers'][string]) => number) =>
    family(
      name,
      type,
      help,
      (put, s, base) => {
        for (const [breaker, b] of Object.entries(s.breakers)) put({ ...base, name: breaker }, value(b))
      },
      read,
    )
  return [
    family(
      'fleet_redis_up',
      'gauge',
      'Whether Redis is usable by this instance (1) or it runs local-only (0).',
      (put, s, base) => put(base, s.redisUp ? 1 : 0),
      read,
    ),
    family('fleet_instances_alive', 'gauge', 'Instances of the fleet alive at the last heartbeat.', (put, s, base) => put(base, s.instancesAlive), read),
    perBreaker('fleet_votes', 'gauge', 'Votes to open in the window, at the last vote heard.', (b) => b.votes),
    perBreaker('fleet_generation', 'gauge', 'The fleet generation applied here (orders every fleet transition).', (b) => b.generation),
    perBreaker('fleet_open', 'gauge', 'Whether the fleet is open for the breaker (1) or not (0).', (b) => (b.fleet === 'open' ? 1 : 0)),
    perBreaker('fleet_probe_lease_held', 'gauge', "Whether this instance holds the fleet's probe lease.", (b) => (b.leaseHeld ? 1 : 0)),
    family(
      'fleet_dropped_messages_total',
      'counter',
      'Fleet messages dropped, by reason (malformed, oversized, foreign, unknown, stale).',
      (put, s, base) => {
        for (const [reason, count] of Object.entries(s.dropped)) put({ ...base, reason }, count)
      },
      read,
    ),
    family('fleet_applied_messages_total', 'counter', 'Fleet state messages applied here.', (put, s, base) => put(base, s.applied), read),
    family('fleet_errors_total', 'counter', 'Redis errors and refused fleet commands (never thrown into calls).', (put, s, base) => put(base, s.errors), read),
  ]
}

/**
 * OpenTelemetry instruments of a fleet, under `resilience.breakwater.fleet.` (attributes
 * `fleet.namespace`, `fleet.instance`, `breaker.name`, `reason`): `redis_up`, `instances_alive`,
 * `votes`, `generation`, `open`, `probe_lease_held` (gauges), `dropped_messages`,
 * `applied_messages`, `errors` (counters). Returns a disposer.
 */
export function fleetInstruments(meter: Meter, fleet: FleetSource, prefix: string): () => void {
  const gauge = (name: string, description: string) => meter.createObservableGauge(`${prefix}fleet.${name}`, { unit: '1', description })
  const counter = (name: string, description: string) => meter.createObservableCounter(`${prefix}fleet.${name}`, { unit: '{message}', description })
  const i = {
    up: gauge('redis_up', 'Whether Redis is usable by this instance (1) or it runs local-only (0).'),
    alive: gauge('instances_alive', 'Instances of the fleet alive at the last heartbeat.'),
    votes: gauge('votes', 'Votes to open in the window, at the last vote heard.'),
    generation: gauge('generation', 'The fleet generation applied here.'),
    open: gauge('open', 'Whether the fleet is open for the breaker.'),
    lease: gauge('probe_lease_held', "Whether this instance holds the fleet's probe lease."),
    dropped: counter('dropped_messages', 'Fleet messages dropped, by reason.'),
    applied: counter('applied_messages', 'Fleet state messages applied here.'),
    errors: counter('errors', 'Redis errors and refused fleet commands.'),
  }
  const all = Object.values(i) as Observable[]
  const callback = (result: BatchObservableResult): void => {
    const s = fleet.status()
    const base = { 'fleet.namespace': s.namespace, 'fleet.instance': s.instanceId }
    result.observe(i.up, s.redisUp ? 1 : 0, base)
    result.observe(i.alive, s.instancesAlive, base)
    for (const [name, b] of Object.entries(s.breakers)) {
      const at = { ...base, 'breaker.name': name }
      result.observe(i.votes, b.votes, at)
      result.observe(i.generation, b.generation, at)
      result.observe(i.open, b.fleet === 'open' ? 1 : 0, at)
      result.observe(i.lease, b.leaseHeld ? 1 : 0, at)
    }
    for (const [reason, count] of Object.entries(s.dropped)) result.observe(i.dropped, count, { ...base, reason })
    result.observe(i.applied, s.applied, base)
    result.observe(i.errors, s.errors, base)
  }
  meter.addBatchObservableCallback(callback, all)
  return () => meter.removeBatchObservableCallback(callback, all)
}
