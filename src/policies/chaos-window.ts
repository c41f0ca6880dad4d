/**
 * Calls and failures over the last `windowMs`, in ten buckets: memory stays fixed whatever the
 * call rate, and the rate read is at most a tenth of the window stale.
 */
export class ErrorWindow {
  static readonly BUCKETS = 10
  readonly #bucketMs: number
  readonly #calls = new Array<number>(ErrorWindow.BUCKETS).fill(0)
  readonly #failures = new Array<number>(ErrorWindow.BUCKETS).fill(0)
  /** The bucket number (time / bucketMs) each slot holds. */
  readonly #slotOf = new Array<number>(ErrorWindow.BUCKETS).fill(-1)

  constructor(windowMs: number) {
    this.#bucketMs = Math.max(1, windowMs / ErrorWindow.BUCKETS)
  }

  /** Counts one call that ended at `now`. */
  record(now: number, failed: boolean): void {
    const slot = this.#slot(now)
    this.#calls[slot]! += 1
    if (failed) this.#failures[slot]! += 1
  }

  /** Calls and failures in the window ending at `now`. */
  read(now: number): { calls: number; failures: number } {
    const current = Math.floor(now / this.#bucketMs)
    let calls = 0
    let failures = 0
    for (let i = 0; i < ErrorWindow.BUCKETS; i++) {
      if (current - this.#slotOf[i]! < ErrorWindow.BUCKETS) {
        calls += this.#calls[i]!
        failures += this.#failures[i]!
      }
    }
    return { calls, failures }
  }

  /** The slot of the bucket holding `now`, emptied if it held an older bucket. */
  #slot(now: number): number {
    const bucket = Math.floor(now / this.#bucketMs)
    const slot = ((bucket % ErrorWindow.BUCKETS) + ErrorWindow.BUCKETS) % ErrorWindow.BUCKETS
    if (this.#slotOf[slot] !== bucket) {
      this.#slotOf[slot] = bucket
      this.#calls[slot] = 0
      this.#failures[slot] = 0
    }
    return slot
  }
}
