import { typeError } from './validate.js'
/** Stops a subscription. */
export type Disposer = () => void

/**
 * Listeners of one event. A listener that throws is reported as a process warning and never
 * reaches the breaker or the other listeners.
 */
export class Listeners<T> {
  #list: Array<(event: T) => void> = []

  /** Whether anyone listens (so callers can skip building the event). */
  get active(): boolean {
    return this.#list.length > 0
  }

  add(listener: (event: T) => void): Disposer {
    if (typeof listener !== 'function') {
      throw typeError(`a listener must be a function, but was ${typeof listener}`)
    }
    this.#list = [...this.#list, listener]
    return () => {
      this.#list = this.#list.filter((l) => l !== listener)
    }
  }

  emit(event: T): void {
    for (const listener of this.#list) {
      try {
        listener(event)
      } catch (error) {
        process.emitWarning(`a breakwater listener threw: ${String(error)}`, { code: 'BREAKWATER_LISTENER' })
      }
    }
  }
}
