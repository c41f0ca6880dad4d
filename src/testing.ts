import { type Duration, toMillis } from './duration.js'
import { NativeFakeClock } from './native.js'

/**
 * A clock for tests: breakers of a `new Registry({ clock })` read it instead of real time, so a
 * test moves time by hand and never sleeps.
 *
 * @example
 * const clock = new FakeClock()
 * const breakers = new Registry({ clock })
 * clock.advance('30s')
 */
export class FakeClock {
  /** @internal The native clock the registry reads. */
  readonly native = new NativeFakeClock()

  /**
   * Moves time forward, by at most 30 days at a time.
   *
   * @throws TypeError or RangeError (code `ERR_BREAKWATER_INVALID_OPTION`) for anything but a
   * duration from 0 to 30 days.
   */
  advance(duration: Duration): void {
    this.native.advance(toMillis('advance', duration))
  }

  /** Milliseconds since the clock was made. */
  get now(): number {
    return this.native.nowMs
  }
}
