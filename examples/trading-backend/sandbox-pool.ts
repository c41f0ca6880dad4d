// A warm pool of two sandboxes, oldest (the one in use) first: when the one in use crashes, the
// spare takes over at once instead of the strategy waiting for a process to start.
import type { Backend } from './backend.ts'
import type { Report } from './counts.ts'

/** A sandbox of the pool: its id once it has started. */
interface Slot {
  ready: Promise<string | undefined>
  id?: string
}

export function sandboxPool(sandboxes: Backend['system']['sandbox'], report: Report) {
  const pool: Slot[] = []

  /** Tops the pool up to two; a failed creation (counted by the create breaker) leaves a gap, filled next time. */
  const fill = () => {
    while (pool.length < 2) {
      const slot: Slot = { ready: Promise.resolve(undefined) }
      slot.ready = sandboxes.create('strategy').then(
        (box) => {
          report({ type: 'sandbox', id: box.sandboxId, pid: box.pid })
          slot.id = box.sandboxId
          return box.sandboxId
        },
        () => {
          if (pool.includes(slot)) pool.splice(pool.indexOf(slot), 1)
          return undefined
        },
      )
      pool.push(slot)
    }
  }

  return {
    /** The sandbox in use (its id, once started; undefined if it could not be made). */
    inUse(): Promise<string | undefined> {
      fill()
      return pool[0]!.ready
    },
    /** Drops sandbox `id` (it crashed): the spare becomes the one in use. */
    discard(id: string): void {
      if (pool[0]?.id === id) pool.shift()
    },
  }
}
