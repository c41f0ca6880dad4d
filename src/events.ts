import { isThenable, warn } from './callbacks.js'
import type { BrokenCircuitError } from './errors.js'
import type { StateChange } from './state.js'
import { typeError } from './validate.js'

/** Stops a subscription. */
export type Disposer = () => void

/**
 * Listeners of one event. Nothing a listener does reaches the call that triggered the event: a
 * listener that throws (anything, even a value that cannot be printed) or returns a promise that
 * rejects is reported as a process warning and never reaches the breaker or the other listeners.
 * Events emitted from inside a listener (an `onOpen` listener that calls `reset()`) are delivered
 * after the current one has reached every listener, so all listeners see events in the order
 * they happened.
 */
export class Listeners<T> {
  #list: Array<(event: T) => unknown> = []
  /** Events waiting while an earlier one is being delivered; `undefined` when none is. */
  #queue: T[] | undefined
  /** Told of each listener added (+1) and removed (-1). */
  readonly #onCount: ((delta: 1 | -1) => void) | undefined

  constructor(onCount?: (delta: 1 | -1) => void) {
    this.#onCount = onCount
  }

  /** Whether anyone listens (so callers can skip building the event). */
  get active(): boolean {
    return this.#list.length > 0
  }

  add(listener: (event: T) => unknown): Disposer {
    if (typeof listener !== 'function') {
      throw typeError(`a listener must be a function, but was ${typeof listener}`)
    }
    this.#list = [...this.#list, listener]
    this.#onCount?.(1)
    let removed = false
    return () => {
      if (removed) return
      removed = true
      this.#list = this.#list.filter((l) => l !== listener)
      this.#onCount?.(-1)
    }
  }

  emit(event: T): void {
    if (this.#queue) {
      this.#queue.push(event)
      return
    }
    const queue: T[] = (this.#queue = [event])
    try {
      for (let i = 0; i < queue.length; i++) {
        for (const listener of this.#list) deliver(listener, queue[i]!)
      }
    } finally {
      this.#queue = undefined
    }
  }
}

function deliver<T>(listener: (event: T) => unknown, event: T): void {
  try {
    const returned = listener(event)
    if (isThenable(returned)) returned.then(undefined, listenerThrew)
  } catch (error) {
    listenerThrew(error)
  }
}

function listenerThrew(error: unknown): void {
  warn('a breakwater listener threw', error, 'BREAKWATER_LISTENER')
}

/**
 * What a breaker's events need of the registry's `TransitionHub` (hub.ts). Named here, so that
 * this module does not import the hub, which imports this one.
 */
export interface EventHub {
  /** Routes the breaker's state changes to `events` again. */
  track(events: BreakerEvents): void
  /** Counts the state-change listeners of this thread. */
  counter(delta: 1 | -1): void
  /** Delivers the transitions waiting for this thread. */
  drain(): void
}

/**
 * Changes whenever a success, failure or refusal listener of any breaker is added or removed in
 * this thread: a handle keeps what it found of its breaker's listeners until it changes, so a
 * call asks no map (a module variable: the cheapest read there is, on every call).
 */
export let callListenersVersion = 0

function callListenersChanged(): void {
  callListenersVersion++
}

/**
 * The listeners of one breaker in one thread: shared by every handle a registry gives out for the
 * name, made by the hub at the first subscription (most breakers never get one). State changes
 * come from the registry's hub (made in any thread); call events are this thread's.
 */
export class BreakerEvents {
  /** The breaker's id, by which the hub routes its state changes here. */
  readonly id: number
  readonly changes: Listeners<StateChange>
  readonly successes: Listeners<CallEvent>
  readonly failures: Listeners<CallEvent>
  readonly rejections: Listeners<BrokenCircuitError>

  constructor(hub: EventHub, id: number) {
    this.id = id
    this.changes = new Listeners<StateChange>((delta) => {
      if (delta === 1) hub.track(this)
      hub.counter(delta)
    })
    this.successes = new Listeners<CallEvent>(callListenersChanged)
    this.failures = new Listeners<CallEvent>(callListenersChanged)
    this.rejections = new Listeners<BrokenCircuitError>(callListenersChanged)
  }

  /** Whether a call's end is heard (a success or failure listener). */
  get callsHeard(): boolean {
    return this.successes.active || this.failures.active
  }

  /** Whether anyone listens to anything of the breaker. */
  get heard(): boolean {
    return this.callsHeard || this.rejections.active || this.changes.active
  }
}

/** A call's end, as the success and failure events report it. */
export interface CallEvent {
  /** How long the call took, in milliseconds. */
  durationMs: number
  /** The error, for failures. */
  error?: unknown
}
