import { BreakerEvents, Listeners } from './events.js'
import type { NativeRegistry, NativeSubscription, NativeTransition } from './native.js'
import type { StateChange } from './state.js'
import { decodeTransition } from './wire.js'
import { warn } from './callbacks.js'

/**
 * One thread's delivery of a registry's transitions, made in any thread (or module copy): the
 * native core queues each one for every subscribed thread and wakes it. While this thread has no
 * state-change listener it is not subscribed, and transitions cost nothing more than without it.
 * A transition this thread makes is delivered before the call that made it returns (`drain()`
 * right after it), others when the core wakes the thread; all in the order they happened.
 */
export class TransitionHub {
  readonly #registry: NativeRegistry
  /**
   * This thread's listeners per breaker, by the breaker's id (not its name: a breaker removed
   * from the registry keeps its listeners, apart from a new breaker of the same name).
   */
  readonly #breakers = new Map<number, BreakerEvents>()
  /** Listeners of every breaker of the registry. */
  readonly all: Listeners<StateChange>
  /** Counts the state-change listeners of this thread: subscribed while there is one. */
  readonly counter = (delta: 1 | -1): void => this.#count(delta)
  #listeners = 0
  #subscription: NativeSubscription | undefined
  #draining = false
  #warnedDropped = false

  constructor(registry: NativeRegistry) {
    this.#registry = registry
    this.all = new Listeners<StateChange>(this.counter)
  }

  /** The listeners of the breaker with id `id`, shared by all its handles in this thread; made on first need. */
  eventsOf(id: number): BreakerEvents {
    let events = this.#breakers.get(id)
    if (!events) this.#breakers.set(id, (events = new BreakerEvents(this, id)))
    return events
  }

  /** The listeners of the breaker with id `id`, if any were ever made in this thread. */
  peek(id: number): BreakerEvents | undefined {
    return this.#breakers.get(id)
  }

  /** Routes the breaker's state changes to `events` again (a removed breaker's handle listening anew). */
  track(events: BreakerEvents): void {
    this.#breakers.set(events.id, events)
  }

  /**
   * Forgets a removed breaker's listeners unless someone listens to it: its handles, which look
   * their listeners up here, still find the ones they subscribed.
   */
  forget(id: number): void {
    if (this.#breakers.get(id)?.heard === false) this.#breakers.delete(id)
  }

  /**
   * Delivers the transitions waiting for this thread. Called again from a listener (one that
   * moves a breaker), it leaves the new ones to the delivery under way, which keeps the order.
   */
  drain(): void {
    if (this.#subscription === undefined || this.#draining) return
    this.#draining = true
    try {
      for (let batch = this.#take(); batch.length > 0; batch = this.#take()) {
        for (const t of batch) this.#deliver(t)
      }
    } finally {
      this.#draining = false
    }
  }

  #take(): NativeTransition[] {
    const subscription = this.#subscription
    if (subscription === undefined) return []
    if (subscription.dropped > 0 && !this.#warnedDropped) {
      this.#warnedDropped = true
      const error = new Error(`${subscription.dropped} state changes were dropped: this thread did not take them in time`)
      warn('breakwater could not deliver every state change', error, 'BREAKWATER_EVENTS_DROPPED')
    }
    return subscription.drain()
  }

  #deliver(t: NativeTransition): void {
    const change: StateChange = { name: t.name, ...decodeTransition(t.code), at: t.at }
    if (t.retryAfterMs !== undefined) change.retryAfterMs = Math.ceil(t.retryAfterMs)
    this.#breakers.get(t.breaker)?.changes.emit(change)
    this.all.emit(change)
  }

  #count(delta: 1 | -1): void {
    this.#listeners += delta
    if (this.#listeners === 1 && delta === 1) {
      // The core wakes this thread through a function that does not keep it alive.
      this.#subscription = this.#registry.subscribe(() => this.drain())
    } else if (this.#listeners === 0) {
      const subscription = this.#subscription
      this.#subscription = undefined
      subscription?.close()
    }
  }
}
