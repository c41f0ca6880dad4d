import { toTimeoutMillis } from '../duration.js'
import type { StateName } from '../state.js'
import { describe, ownOptions, rangeError, typeError } from '../validate.js'

/** What an operator can make a breaker do over HTTP. */
export type AdminAction = 'close' | 'force_open' | 'isolate' | 'disable' | 'half_open'

const ACTIONS: readonly AdminAction[] = ['close', 'force_open', 'isolate', 'disable', 'half_open']
/** The actions that take a `duration`. */
const TIMED: readonly AdminAction[] = ['force_open', 'isolate']
const MAX_REASON = 500
const MAX_NAMES = 1000

/** An admin request's body, checked. */
export interface AdminCommand {
  action: AdminAction
  /** The `duration` as sent, for the log. */
  duration: string | number | undefined
  durationMs: number | undefined
  reason: string | undefined
  /** For `POST /breakers/state`: the names (deduplicated, in order) or `'all'`. */
  targets: string[] | 'all' | undefined
  /** `'fleet'`: the action is for every instance of the fleet (`"scope": "fleet"` in the body). */
  scope?: 'fleet'
}

/** What an admin route needs of a breaker: the control methods of a breakwater `CircuitBreaker`. */
export interface ControlledBreaker {
  readonly state: StateName
  reset(): void
  forceOpen(duration?: number): void
  disable(): void
  halfOpen(): boolean
  isolate(): { dispose(): void }
}

/**
 * Reads an admin body: `{ action, duration?, reason? }`, plus exactly one of `names` or
 * `all: true` when `bulk`. Throws a `TypeError` or `RangeError` naming the field for anything
 * else (unknown keys included).
 */
export function readCommand(body: unknown, bulk: boolean): AdminCommand {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw typeError(`the request body must be a JSON object, but was ${describe(body)}`)
  }
  const keys = bulk ? (['action', 'duration', 'reason', 'names', 'all'] as const) : (['action', 'duration', 'reason'] as const)
  const o = ownOptions<{ action: unknown; duration: unknown; reason: unknown; names: unknown; all: unknown }>('admin request', body, keys)
  const action = readAction(o.action)
  if (o.duration !== undefined && !TIMED.includes(action)) {
    throw rangeError(`duration applies only to ${TIMED.join(' and ')}, but action is ${action}`)
  }
  const durationMs = o.duration === undefined ? undefined : toTimeoutMillis('duration', o.duration)
  if (o.reason !== undefined && (typeof o.reason !== 'string' || o.reason.length > MAX_REASON)) {
    throw typeError(`reason must be a string of at most ${MAX_REASON} characters, but was ${describe(o.reason)}`)
  }
  return {
    action,
    duration: o.duration as string | number | undefined,
    durationMs,
    reason: o.reason as string | undefined,
    targets: bulk ? readTargets(o.names, o.all) : undefined,
  }
}

function readAction(action: unknown): AdminAction {
  if (action === undefined) throw typeError(`action is required: one of ${ACTIONS.join(', ')}`)
  if (typeof action !== 'string' || !(ACTIONS as readonly string[]).includes(action)) {
    throw rangeError(`action must be one of ${ACTIONS.join(', ')}, but was ${describe(action)}`)
  }
  return action as AdminAction
}

function readTargets(names: unknown, all: unknown): string[] | 'all' {
  if ((names === undefined) === (all === undefined)) throw typeError('give exactly one of names (an array of breaker names) or all: true')
  if (all !== undefined) {
    if (all !== true) throw typeError(`all must be true, but was ${describe(all)}`)
    return 'all'
  }
  if (!Array.isArray(names) || names.length === 0 || names.length > MAX_NAMES) {
    throw typeError(`names must be an array of 1 to ${MAX_NAMES} breaker names, but was ${describe(names)}`)
  }
  names.forEach((name, i) => {
    if (typeof name !== 'string' || name === '') throw typeError(`names[${i}] must be a breaker name (a non-empty string), but was ${describe(name)}`)
  })
  return [...new Set(names as string[])]
}

/** One breaker's answer to an action. */
export interface ActionResult {
  name: string
  /** 200 when done; 404 for an unknown breaker; 409 when the action does not apply to its state. */
  status: number
  from?: StateName
  to?: StateName
  message?: string
}

/**
 * The isolations taken over HTTP, one per breaker name. An isolation ends with a later `close`
 * (or any `force_open` / `disable`, which end every isolation of the breaker), or after its
 * `duration` when one was given: then the handle is disposed, which closes the breaker unless
 * something else changed it since. Their timers never keep the process alive.
 */
export class Isolations {
  readonly #held = new Map<string, { dispose(): void; timer: NodeJS.Timeout | undefined }>()

  /** Isolates `breaker` (again: a new `durationMs` counts from now; none means until `close`). */
  hold(name: string, breaker: ControlledBreaker, durationMs: number | undefined): void {
    // A new isolation first, then the old one let go: the breaker stays isolated throughout, and
    // an old handle that a reset by someone else made stale is replaced by one that counts.
    const { dispose } = breaker.isolate()
    this.release(name)
    const timer = durationMs === undefined ? undefined : setTimeout(() => this.release(name), durationMs).unref()
    this.#held.set(name, { dispose, timer })
  }

  /** Lets go of the isolation held for `name`, if any. */
  release(name: string): void {
    const held = this.#held.get(name)
    if (!held) return
    this.#held.delete(name)
    clearTimeout(held.timer)
    held.dispose()
  }
}

/** Does `command` to `breaker`; its answer. */
export function act(name: string, breaker: ControlledBreaker, command: AdminCommand, isolations: Isolations): ActionResult {
  const from = breaker.state
  switch (command.action) {
    case 'close':
      breaker.reset()
      isolations.release(name) // after the reset, which ended the isolation: the release changes nothing
      break
    case 'force_open':
      breaker.forceOpen(command.durationMs)
      isolations.release(name)
      break
    case 'disable':
      breaker.disable()
      isolations.release(name)
      break
    case 'isolate':
      isolations.hold(name, breaker, command.durationMs)
      break
    case 'half_open':
      if (!breaker.halfOpen()) {
        return {
          name,
          status: 409,
          from,
          to: from,
          message: `half_open moves only an open or forced-open breaker that is not isolated, but ${name} is ${from}`,
        }
      }
      break
  }
  return { name, status: 200, from, to: breaker.state }
}

// ---- fleet scope (issue 12) ----

/** What the admin routes need of a fleet (what `fleet()` of breakwater/fleet returns). */
export interface FleetControl {
  forceOpen(name: string, durationMs?: number): Promise<boolean>
  forceClose(name: string): Promise<boolean>
}

/** The actions the fleet scope takes: what can be done to every instance at once. */
const FLEET_ACTIONS: readonly AdminAction[] = ['close', 'force_open']

/**
 * Takes `scope` out of an admin body: `'fleet'` (the action goes to every instance of the fleet),
 * `'local'` or absent (this process, as without it). The rest of the body is read by
 * `readCommand` as before. Throws a `TypeError` or `RangeError` naming the field.
 */
export function takeScope(body: unknown): { scope: 'fleet' | 'local'; rest: unknown } {
  if (typeof body !== 'object' || body === null || Array.isArray(body) || !Object.hasOwn(body, 'scope')) return { scope: 'local', rest: body }
  const { scope, ...rest } = body as { scope: unknown }
  if (scope !== 'fleet' && scope !== 'local') throw rangeError(`scope must be "local" or "fleet", but was ${describe(scope)}`)
  return { scope, rest }
}

/** Checks that a command can go to the fleet. */
export function checkFleetCommand(command: AdminCommand, fleet: FleetControl | undefined): void {
  if (!fleet) throw rangeError('scope "fleet" needs a fleet: pass breakwaterHttp the fleet option (what fleet() of breakwater/fleet returns)')
  if (!FLEET_ACTIONS.includes(command.action)) {
    throw rangeError(`scope "fleet" takes the actions ${FLEET_ACTIONS.join(' and ')}, but action is ${command.action}`)
  }
}

/** Sends a checked fleet command for `name`: 200 once Redis took it, 503 when it could not. */
export async function actFleet(name: string, fleet: FleetControl, command: AdminCommand): Promise<ActionResult> {
  const sent = command.action === 'close' ? await fleet.forceClose(name) : await fleet.forceOpen(name, command.durationMs)
  return sent
    ? { name, status: 200 }
    : { name, status: 503, message: 'the fleet could not reach Redis: the order was not sent (the breaker can still be steered locally)' }
}
